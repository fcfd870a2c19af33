//! `GET /version`, `/readyz` (and `/admin/config/healthcheck`), `/stat/engines`, `/stat/nodes`,
//! `/metrics`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use palisade_service::Service;

use super::{ApiResult, json_response};
use crate::ApiError;
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

/// Prometheus metrics in the OpenMetrics text format; an API key is asked for when the
/// operator set `metrics.require_apikey`.
pub(super) async fn metrics(
    State(service): State<Service>,
    caller: Result<Authenticated, ApiError>,
) -> ApiResult {
    if service.settings().metrics.require_apikey {
        caller?;
    }
    let text = service.metrics_text().await?;
    Ok((
        [(header::CONTENT_TYPE, palisade_service::METRICS_CONTENT_TYPE)],
        text,
    )
        .into_response())
}
