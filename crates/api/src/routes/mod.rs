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
use axum::routing::{get, post};
use axum::{Json, Router};
use palisade_service::Service;

use crate::ApiError;

type Params = Query<HashMap<String, String>>;
type ApiResult = Result<Response, ApiError>;

/// All routes of the API document plus `/version`, `/stat/engines`, `/stat/nodes`, `/readyz` and
/// `/admin/config/healthcheck` (the same answer as `/readyz`; middleware uses that path).
pub fn router(service: Service) -> Router {
    Router::new()
        .route("/login", post(session::login))
        .route("/logout", post(session::logout))
        .route("/version", get(status::version))
        .route("/readyz", get(status::readyz))
        .route("/admin/config/healthcheck", get(status::readyz))
        .route("/stat/engines", get(status::engines))
        .route("/stat/nodes", get(status::nodes))
        .route(
            "/file",
            post(files::submit).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/file/rules", get(files::rules))
        .route("/file/batch", post(batches::create_batch))
        .route("/file/batch/{batch_id}", get(batches::batch_status))
        .route("/file/batch/{batch_id}/close", post(batches::close_batch))
        .route("/file/batch/{batch_id}/cancel", post(batches::cancel_batch))
        .route(
            "/file/batch/{batch_id}/certificate",
            get(batches::batch_certificate),
        )
        .route("/file/converted/{data_id}", get(downloads::converted))
        .route("/file/download/{data_id}", get(downloads::download))
        .route("/file/{data_id}", get(files::report))
        .route("/file/{data_id}/cancel", post(files::cancel))
        .route("/hash/{hash}", get(files::hash_lookup))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "Endpoint not found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
        })
        .layer(axum::middleware::map_response(json_errors))
        .with_state(service)
}

/// The routes of a scanning node: readiness and version only.
pub fn health_router(service: Service) -> Router {
    Router::new()
        .route("/readyz", get(status::readyz))
        .route("/version", get(status::version))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "Endpoint not found") })
        .layer(axum::middleware::map_response(json_errors))
        .with_state(service)
}

/// Turns error answers that are not JSON (axum's own rejections: a body over its limit is 413
/// `text/plain`, for example) into `{"err":...}` with the same status and their text.
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
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json {
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
