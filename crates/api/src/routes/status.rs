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

#[utoipa::path(get, path = "/version", tag = "status",
    security(()),
    responses((status = 200, description = "Product and version", body = VersionAnswer)))]
pub(super) async fn version() -> Response {
    json_response(VersionAnswer {
        product_id: "palisade",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// `/admin/config/healthcheck`: the same answer as `/readyz` (middleware uses this path).
#[utoipa::path(get, path = "/admin/config/healthcheck", tag = "status",
    security(()),
    responses(
        (status = 200, description = "The metastore and the blob store answer", body = Readiness),
        (status = 503, description = "Not ready, with the problems", body = Readiness),
    ))]
pub(super) async fn healthcheck(state: State<Service>) -> Response {
    readyz(state).await
}

/// Ready when the metastore and the blob store answer; otherwise 503 with the problems, so a
/// load balancer or orchestrator routes around a process that cannot reach its storage.
#[utoipa::path(get, path = "/readyz", tag = "status",
    security(()),
    responses(
        (status = 200, description = "The metastore and the blob store answer", body = Readiness),
        (status = 503, description = "Not ready, with the problems", body = Readiness),
    ))]
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

#[utoipa::path(get, path = "/stat/nodes", tag = "status",
    responses(
        (status = 200, description = "Gateways and scanning nodes", body = Vec<palisade_model::NodeStat>),
        (status = 403, description = "No valid apikey (header, `?apikey=` or session cookie)", body = crate::responses::ErrorAnswer),
    ))]
pub(super) async fn nodes(State(service): State<Service>, _: Authenticated) -> ApiResult {
    Ok(json_response(service.node_stats().await?))
}

#[utoipa::path(get, path = "/stat/engines", tag = "status",
    responses(
        (status = 200, description = "Engines and their states", body = Vec<palisade_model::EngineStat>),
        (status = 403, description = "No valid apikey (header, `?apikey=` or session cookie)", body = crate::responses::ErrorAnswer),
    ))]
pub(super) async fn engines(State(service): State<Service>, _: Authenticated) -> ApiResult {
    Ok(json_response(service.engine_stats().await?))
}

/// Prometheus metrics in the OpenMetrics text format; an API key is asked for when the
/// operator set `metrics.require_apikey`.
#[utoipa::path(get, path = "/metrics", tag = "status",
    security(()),
    responses(
        (status = 200, description = "Prometheus metrics (OpenMetrics text)", body = crate::responses::Text,
            content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        (status = 403, description = "An apikey is required (`metrics.require_apikey`) and none was valid", body = crate::responses::ErrorAnswer),
    ))]
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
