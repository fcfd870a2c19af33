//! Palisade's use cases over the two stores: accepting files, reports, hash lookup, cancel,
//! batches and their signed certificates, sessions and users. The only crate the HTTP layer calls.

mod auth;
mod batches;
mod files;
mod files_on_disk;
mod metrics;
mod outputs;
mod settings;
mod signing;
mod throttle;
pub mod yaml;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use palisade_blobstore::BlobStore;
use palisade_metastore::{Metastore, StoreError};
use palisade_model::{EngineKind, EngineOnNode, EngineStat, NodeStat};
use palisade_pipeline::{EngineStatus, Roster};

pub use auth::{Caller, CookieSession, hash_password};
pub use files::{ReportBody, SubmitRequest, UploadLength, report_context};
pub use files_on_disk::write_atomically;
pub use metrics::{EngineErrorKind, FinishedTally, METRICS_CONTENT_TYPE, Metrics};
pub use outputs::{OUTDATED_SANITIZATION, Wanted};
pub use palisade_blobstore::ContentEncoding;
pub use settings::{
    ApiKey, ArchiveSettings, MetricsSettings, RuleSettings, ServiceSettings, UserSettings,
};
pub use signing::BatchSigner;
pub use throttle::ThrottleSettings;

/// Errors of the use cases, grouped by the answer the client gets.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("Access denied")]
    AccessDenied,
    #[error("Invalid credentials")]
    BadCredentials,
    /// Too many failed logins from this client: refused without looking at the password.
    #[error("Invalid credentials: too many failed logins from this address, try again in {0} s")]
    LoginThrottled(u64),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("Missing Content-Length header.")]
    LengthRequired,
    #[error("File is empty.")]
    EmptyFile,
    #[error(
        "Failed to request scan. File size exceeded the maximum size permitted by your configuration."
    )]
    TooLarge,
    #[error("Server is too busy. Try again later.")]
    Busy,
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "metastore failure");
        ServiceError::Internal("Unexpected event on server".into())
    }
}

impl From<palisade_blobstore::BlobError> for ServiceError {
    fn from(error: palisade_blobstore::BlobError) -> Self {
        match error {
            palisade_blobstore::BlobError::NotFound(_) => {
                ServiceError::NotFound("File could not be found".into())
            }
            other => {
                tracing::error!(error = %other, "blob store failure");
                ServiceError::Internal("Unexpected event on server".into())
            }
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// What a storage check found wrong, as `"<what>: <reason>"`; a check gets 3 s to answer.
pub async fn probe<E: std::fmt::Display>(
    what: &str,
    check: impl Future<Output = Result<(), E>>,
) -> Option<String> {
    match tokio::time::timeout(std::time::Duration::from_secs(3), check).await {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(format!("{what}: {error}")),
        Err(_) => Some(format!("{what}: no answer within 3 s")),
    }
}

/// The service handle shared by every request handler.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    metastore: Metastore,
    blobs: BlobStore,
    settings: ServiceSettings,
    roster: Roster,
    signer: BatchSigner,
    wake_workers: Arc<tokio::sync::Notify>,
    queue_depth: Mutex<(Option<Instant>, u64)>,
    throttle: throttle::LoginThrottle,
    /// What the last storage write probe found wrong (see [`Service::set_storage_problems`]).
    storage_problems: Mutex<Vec<String>>,
    metrics: Metrics,
}

impl Service {
    pub fn new(
        metastore: Metastore,
        blobs: BlobStore,
        settings: ServiceSettings,
        roster: Roster,
        signer: BatchSigner,
        wake_workers: Arc<tokio::sync::Notify>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                metastore,
                blobs,
                roster,
                signer,
                wake_workers,
                queue_depth: Mutex::new((None, 0)),
                throttle: throttle::LoginThrottle::new(settings.login_throttle.clone()),
                storage_problems: Mutex::new(Vec::new()),
                metrics: Metrics::new(),
                settings,
            }),
        }
    }

    pub fn settings(&self) -> &ServiceSettings {
        &self.inner.settings
    }

    pub fn metastore(&self) -> &Metastore {
        &self.inner.metastore
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }

    pub fn roster(&self) -> &Roster {
        &self.inner.roster
    }

    /// This process's counters, for the worker and the HTTP layer to move.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// `/metrics`: the counters, with the engines' states and the queue read now.
    pub async fn metrics_text(&self) -> ServiceResult<String> {
        let engines = self.engine_stats().await?;
        let queue = self.metastore().queue_state().await?;
        let metrics = self.metrics();
        metrics.set_scraped(&engines, queue, palisade_model::now_millis());
        Ok(metrics.encode())
    }

    /// `/readyz`: whether the metastore and the blob store answer (within 3 s each). The
    /// problems, when there are any.
    pub async fn readiness(&self) -> Vec<String> {
        let mut problems = Vec::new();
        problems.extend(probe("metastore unreachable", self.metastore().ping()).await);
        problems.extend(probe("blob store unreachable", self.blobs().check()).await);
        problems.extend(
            self.inner
                .storage_problems
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .cloned(),
        );
        problems
    }

    /// Records what the periodic storage write probe found (cannot write, disk nearly full);
    /// `/readyz` reports them until a later probe finds none.
    pub fn set_storage_problems(&self, problems: Vec<String>) {
        *self
            .inner
            .storage_problems
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = problems;
    }

    /// `/stat/nodes`: every gateway and scanning node, whether it is heartbeating, its load and
    /// its engines. A node is `online` while its last heartbeat is within `stale_after`.
    pub async fn node_stats(&self) -> ServiceResult<Vec<NodeStat>> {
        let now = palisade_model::now_millis();
        let stale =
            i64::try_from(self.inner.settings.node_stale_after.as_millis()).unwrap_or(i64::MAX);
        let nodes = self.metastore().nodes().await?;
        Ok(nodes
            .into_iter()
            .map(|node| NodeStat {
                // Read through the typed shape, so entries of older nodes come out in today's.
                engines: serde_json::from_str(&node.engines).unwrap_or_default(),
                hostname: node.hostname,
                last_seen: palisade_model::format_timestamp(node.last_seen),
                node_id: node.node_id,
                online: now - node.last_seen <= stale,
                role: node.role,
                running: node.running,
                started: palisade_model::format_timestamp(node.started_ts),
                version: node.version,
                workers: node.workers,
            })
            .collect())
    }

    /// The engines of this process with their states, as a node reports them to the registry
    /// (the `/stat/engines` entries, as JSON text).
    pub fn engine_summary(&self) -> String {
        serde_json::to_string(&self.local_engine_stats()).unwrap_or_else(|_| "[]".into())
    }

    /// `/stat/engines`: every engine with its state and definition time. A gateway lists the
    /// engines of the online scanning nodes: an engine is active when it is in production on at
    /// least one of them, and `nodes` tells each node's state of it. With no scanning node
    /// online the list is empty, since nothing can scan.
    pub async fn engine_stats(&self) -> ServiceResult<Vec<EngineStat>> {
        if !self.inner.settings.engines_from_registry {
            return Ok(self.local_engine_stats());
        }
        let now = palisade_model::now_millis();
        let stale =
            i64::try_from(self.inner.settings.node_stale_after.as_millis()).unwrap_or(i64::MAX);
        let mut merged: Vec<EngineStat> = Vec::new();
        for node in self.metastore().nodes().await? {
            if node.workers == 0 || now - node.last_seen > stale {
                continue;
            }
            // Read through the typed shape, so entries of older nodes come out in today's.
            let engines: Vec<EngineStat> = serde_json::from_str(&node.engines).unwrap_or_default();
            for mut engine in engines {
                let on_node = EngineOnNode {
                    node_id: node.node_id.clone(),
                    state: engine.state,
                };
                match merged.iter_mut().find(|e| e.eng_id == engine.eng_id) {
                    None => {
                        engine.nodes = Some(vec![on_node]);
                        merged.push(engine);
                    }
                    Some(entry) => {
                        let mut nodes = entry.nodes.take().unwrap_or_default();
                        nodes.push(on_node);
                        // The entry shown is a node where the engine works, if any.
                        if !entry.active && engine.active {
                            *entry = engine;
                        }
                        entry.nodes = Some(nodes);
                    }
                }
            }
        }
        Ok(merged)
    }

    /// This process's own engines, and its archive extraction, in the `/stat/engines` shape.
    fn local_engine_stats(&self) -> Vec<EngineStat> {
        let mut list: Vec<EngineStat> = self
            .inner
            .roster
            .all()
            .iter()
            .map(|engine| {
                let descriptor = engine.descriptor();
                engine_stat(
                    &descriptor.id,
                    &descriptor.name,
                    descriptor.kind,
                    engine.status(),
                )
            })
            .collect();
        // Extraction always works; formats whose helper program is missing are its problems.
        let mut extraction =
            EngineStatus::production(concat!("palisade ", env!("CARGO_PKG_VERSION")), "");
        extraction.problems = palisade_extract::unavailable_formats();
        list.push(engine_stat(
            "archive",
            "Archive",
            EngineKind::Archive,
            extraction,
        ));
        list
    }
}

fn engine_stat(id: &str, name: &str, kind: EngineKind, status: EngineStatus) -> EngineStat {
    EngineStat {
        active: status.state.is_production(),
        def_time: status.def_time.clone(),
        download_progress: 100,
        download_time: status.def_time,
        eng_id: id.to_string(),
        eng_name: name.to_string(),
        eng_type: kind.as_str().to_string(),
        eng_ver: status.version,
        engine_type: kind.engine_type(),
        state: status.state,
        entry_type: "engine".into(),
        problems: status.problems,
        nodes: None,
    }
}
