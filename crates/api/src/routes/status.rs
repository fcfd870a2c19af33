//! `GET /version`, `/readyz` (and `/admin/config/healthcheck`), `/stat/engines`, `/stat/nodes`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use palisade_service::Service;

use super::{ApiResult, json_response};
use crate::auth::Authenticated;
use crate::responses::{Readiness, VersionAnswer};

pub(super) async fn version() -> Response {
    json_response(VersionAnswer {
        product_id: "palisade",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Ready when the metastore and the blob store answer; otherwise 503 with the problems, so a
/// load balancer or orchestrator routes around a process that cannot reach its storage.
pub(super) async fn readyz(State(service): State<Service>) -> Response {
    let problems = service.readiness().await;
    if problems.is_empty() {
        return json_response(Readiness {
            err: None,
            status: "ready",
            problems: Vec::new(),
        });
    }
    let mut response = json_response(Readiness {
        err: Some(format!("not ready: {}", problems.join("; "))),
        status: "not ready",
        problems,
    });
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
}

pub(super) async fn nodes(State(service): State<Service>, _: Authenticated) -> ApiResult {
    Ok(json_response(service.node_stats().await?))
}

pub(super) async fn engines(State(service): State<Service>, _: Authenticated) -> ApiResult {
    Ok(json_response(service.engine_stats().await?))
}
