//! Route handlers by resource: decode the request, call the service, encode the answer.
//! Answers are typed (`crate::responses`, or `palisade_model`'s reports); errors are `ApiError`.

mod batches;
mod downloads;
mod files;
mod session;
mod status;

use std::collections::HashMap;

use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use palisade_service::Service;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiError;

type Params = Query<HashMap<String, String>>;

/// The rule a request names: `rule`, else the older `workflow`. A `workflow` that names no rule
/// is refused even beside a `rule`, since both headers name a rule.
fn named_rule(
    service: &Service,
    headers: &axum::http::HeaderMap,
) -> Result<Option<String>, ApiError> {
    let rule = crate::decode::header_text(headers, "rule");
    let workflow = crate::decode::header_text(headers, "workflow");
    if let (Some(_), Some(workflow)) = (&rule, &workflow) {
        let workflow = workflow.trim();
        if !workflow.is_empty() && service.settings().rule(workflow).is_none() {
            return Err(ApiError::bad_request(format!("Rule not found: {workflow}")));
        }
    }
    Ok(rule.or(workflow))
}

/// The paging of a list in an answer (an archive's members, a batch's files), for the document;
/// handlers read them with `decode::number`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct Page {
    /// The first entry of the page (from 0).
    #[param(minimum = 0)]
    first: Option<i64>,
    /// Entries per page.
    #[param(minimum = 0)]
    size: Option<i64>,
}
type ApiResult = Result<Response, ApiError>;

/// All routes of the API document plus `/version`, `/stat/engines`, `/stat/nodes`, `/readyz`,
/// `/admin/config/healthcheck` (the same answer as `/readyz`; middleware uses that path),
/// `/metrics` (unless it has a listener of its own) and `/openapi.json`, the OpenAPI document
/// of exactly these routes.
pub fn router(service: Service) -> Router {
    let mut routes = OpenApiRouter::with_openapi(crate::openapi::Document::openapi())
        .routes(routes!(session::login))
        .routes(routes!(session::logout))
        .routes(routes!(status::version))
        .routes(routes!(status::readyz))
        .routes(routes!(status::healthcheck))
        .routes(routes!(status::engines))
        .routes(routes!(status::nodes))
        .routes(unlimited_body(routes!(files::submit)))
        .routes(routes!(files::rules))
        .routes(routes!(batches::create_batch))
        .routes(routes!(batches::batch_status))
        .routes(routes!(batches::close_batch))
        .routes(routes!(batches::cancel_batch))
        .routes(routes!(batches::batch_certificate))
        .routes(routes!(downloads::converted))
        .routes(routes!(downloads::download))
        .routes(routes!(files::report))
        .routes(routes!(files::cancel))
        .routes(routes!(files::hash_lookup))
        .routes(routes!(crate::openapi::document));
    if service.settings().metrics.on_api_listener {
        routes = routes.routes(routes!(status::metrics));
    }
    let (routes, mut document) = routes.split_for_parts();
    crate::openapi::complete(&mut document, service.settings());
    let document = document
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    let mut routes = routes.layer(axum::Extension(std::sync::Arc::new(document)));
    if service.settings().console {
        routes = routes.merge(crate::console::router());
    }
    let routes = routes.method_not_allowed_fallback(|| async {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
    });
    finish(routes, service)
}

/// `POST /file` streams bodies of any size (the rule's `max_file_size` is its limit).
fn unlimited_body(
    (schemas, paths, method): utoipa_axum::router::UtoipaMethodRouter<Service>,
) -> utoipa_axum::router::UtoipaMethodRouter<Service> {
    (
        schemas,
        paths,
        method.layer(axum::extract::DefaultBodyLimit::disable()),
    )
}

/// The routes of a scanning node: readiness, version and (unless it has a listener of its
/// own) metrics.
pub fn health_router(service: Service) -> Router {
    let routes = Router::new()
        .route("/readyz", get(status::readyz))
        .route("/version", get(status::version));
    finish(with_metrics(routes, &service), service)
}

/// Only `/metrics`, for the listener `metrics.listen` gives it.
pub fn metrics_router(service: Service) -> Router {
    finish(
        Router::new().route("/metrics", get(status::metrics)),
        service,
    )
}

fn with_metrics(routes: Router<Service>, service: &Service) -> Router<Service> {
    if service.settings().metrics.on_api_listener {
        routes.route("/metrics", get(status::metrics))
    } else {
        routes
    }
}

/// What every router ends with: the JSON 404, the JSON error bodies, and the request metrics.
fn finish(routes: Router<Service>, service: Service) -> Router {
    routes
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "Endpoint not found") })
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::middleware::from_fn_with_state(
            service.clone(),
            count_request,
        ))
        .with_state(service)
}

/// Counts each answered request by its route's pattern (never the path a client sent: that
/// would name files), method and status, and its time to the answer's headers.
async fn count_request(
    axum::extract::State(service): axum::extract::State<Service>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |path| path.as_str())
        .to_string();
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    service.metrics().http_request(
        &route,
        method.as_str(),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Turns error answers that are not JSON (axum's own rejections: a body over its limit is 413
/// `text/plain`, for example) into `{"err":...}` with the same status and their text. The
/// console's HTML pages stay pages.
///
/// Error answers also close the connection: many are given before the request body was read
/// (too large, queue full, no Content-Length), and the connection cannot carry another request
/// after an unread body, so the client is told not to reuse it.
async fn json_errors(response: Response) -> Response {
    let mut response = json_error_body(response).await;
    if response.status().is_client_error() || response.status().is_server_error() {
        response.headers_mut().insert(
            header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

async fn json_error_body(response: Response) -> Response {
    let is_json_or_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json_or_page {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 8 * 1024)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_string()
    } else {
        text
    };
    ApiError::new(status, message).into_response()
}

pub(crate) fn json_response(value: impl serde::Serialize) -> Response {
    Json(value).into_response()
}
