//! Background duties of a running process, each one named function spawned into `serve`'s task
//! set and stopped by its shutdown signal: the signing key, engine health (which also re-reads
//! hash lists and YARA rules that changed, in the engines' own `refresh`),
//! storage readiness, the node registry heartbeat and the expiry of outputs.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use palisade_metastore::NodeRecord;
use palisade_pipeline::Roster;
use palisade_service::{BatchSigner, Service};
use tokio::sync::watch;

/// How long start-up waits for the first health check of every engine before serving anyway.
pub const FIRST_HEALTH_CHECK_WAIT: Duration = Duration::from_secs(5);

/// Runs `tick` every `interval` until `stop` changes; the first run is at once when `at_once`,
/// otherwise after one interval.
async fn every<F, Fut>(
    interval: Duration,
    mut stop: watch::Receiver<bool>,
    at_once: bool,
    mut tick: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    if !at_once {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
    loop {
        tick().await;
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Generates or loads the batch signing key, in the background: RSA-4096 generation takes
/// seconds. Scanning nodes sign nothing and do not run this.
pub async fn load_signing_key(signer: BatchSigner) {
    if let Err(error) = signer.keys().await {
        tracing::error!(%error, "batch signing key unavailable");
    }
}

/// Checks every engine's health now (blocking I/O), warning about the unhealthy ones.
fn check_engine_health(roster: &Roster) {
    for engine in roster.all() {
        let status = engine.refresh();
        if !status.state.is_production() {
            tracing::warn!(engine = %engine.descriptor().id, state = %status.state,
                problems = ?status.problems, "engine unhealthy");
        }
    }
}

/// The first health check of every engine, on the blocking pool, awaited before the listener
/// serves (at most [`FIRST_HEALTH_CHECK_WAIT`]; a slower check goes on in the background).
/// Until an engine's first check ends, `Engine::status` reads "not checked yet".
pub async fn first_health_check(roster: Roster) {
    let first = tokio::task::spawn_blocking(move || check_engine_health(&roster));
    let _ = tokio::time::timeout(FIRST_HEALTH_CHECK_WAIT, first).await;
}

/// Checks engine health every `interval`, so a failed engine shows as failed, and recovers,
/// without waiting for a scan to notice. Checks do I/O, so they run on the blocking pool;
/// `Engine::status` only reads their results.
pub async fn check_engines(roster: Roster, interval: Duration, stop: watch::Receiver<bool>) {
    every(interval, stop, false, || {
        let engines = roster.clone();
        async move {
            let _ = tokio::task::spawn_blocking(move || check_engine_health(&engines)).await;
        }
    })
    .await;
}

/// Readiness: the stores must accept writes and the disks must have room. Probed in the
/// background every `interval`, so `/readyz` stays cheap.
pub async fn probe_storage(
    service: Service,
    disks: Vec<PathBuf>,
    min_free: u64,
    interval: Duration,
    stop: watch::Receiver<bool>,
) {
    every(interval, stop, true, || async {
        let problems = storage_problems(&service, &disks, min_free).await;
        if !problems.is_empty() {
            tracing::warn!(?problems, "storage is not ready");
        }
        service.set_storage_problems(problems);
    })
    .await;
}

async fn storage_problems(service: &Service, disks: &[PathBuf], min_free: u64) -> Vec<String> {
    let mut problems = Vec::new();
    let now = palisade_model::now_millis();
    let metastore = service.metastore().probe_write(now);
    problems.extend(palisade_service::probe("metastore cannot write", metastore).await);
    let blobs = service.blobs().probe_write();
    problems.extend(palisade_service::probe("blob store cannot write", blobs).await);
    for disk in disks {
        if let Ok(stat) = rustix::fs::statvfs(disk) {
            let free = stat.f_bavail.saturating_mul(stat.f_frsize);
            if free < min_free {
                problems.push(format!(
                    "disk nearly full: {} MiB free for {}, below readiness.min_free_mib = {}",
                    free >> 20,
                    disk.display(),
                    min_free >> 20
                ));
            }
        }
    }
    problems
}

/// The node registry: this process (`record`), its load and engines, every `interval`; nodes
/// not seen for `forget_ms` are forgotten.
pub async fn heartbeat_node(
    service: Service,
    record: NodeRecord,
    forget_ms: i64,
    interval: Duration,
    stop: watch::Receiver<bool>,
) {
    every(interval, stop, true, || async {
        let beat = NodeRecord {
            last_seen: palisade_model::now_millis(),
            engines: service.engine_summary(),
            ..record.clone()
        };
        if let Err(error) = service.metastore().node_heartbeat(&beat).await {
            tracing::warn!(%error, "node heartbeat failed");
        }
        let _ = service
            .metastore()
            .forget_nodes(beat.last_seen - forget_ms)
            .await;
    })
    .await;
}

/// Deletes expired outputs (past `outputs.retention_hours`) and the blobs nothing else refers
/// to. Every process that runs workers sweeps: a pass is one transaction, so sweeps of several
/// nodes at once only share the work.
pub async fn sweep_outputs(service: Service, interval: Duration, stop: watch::Receiver<bool>) {
    every(interval, stop, true, || {
        let service = service.clone();
        async move {
            match service.expire_outputs(palisade_model::now_millis()).await {
                Ok((0, _)) => {}
                Ok((rows, blobs)) => tracing::info!(rows, blobs, "expired outputs deleted"),
                Err(error) => tracing::warn!(%error, "deleting expired outputs failed; retrying"),
            }
        }
    })
    .await;
}
