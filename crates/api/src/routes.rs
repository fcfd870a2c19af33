//! Route handlers: decode the request, call the service, encode the answer.

use std::collections::HashMap;

use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use futures_util::StreamExt;
use palisade_metastore::HashQuery;
use palisade_model::now_millis;
use palisade_service::{ReportBody, Service, UploadLength};
use serde_json::json;

use crate::ApiError;
use crate::auth::Authenticated;
use crate::decode::{
    apikey, header_flag, header_text, is_file_field, is_multipart, number, submit_request,
};
use crate::downloads;

type Params = Query<HashMap<String, String>>;
type ApiResult = Result<Response, ApiError>;

/// All routes of the API document plus `/version`, `/stat/engines`, `/stat/nodes`, `/readyz` and
/// `/admin/config/healthcheck` (the same answer as `/readyz`; middleware uses that path).
pub fn router(service: Service) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/version", get(version))
        .route("/readyz", get(readyz))
        .route("/admin/config/healthcheck", get(readyz))
        .route("/stat/engines", get(engines))
        .route("/stat/nodes", get(nodes))
        .route(
            "/file",
            post(submit).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/file/rules", get(rules))
        .route("/file/batch", post(create_batch))
        .route("/file/batch/{batch_id}", get(batch_status))
        .route("/file/batch/{batch_id}/close", post(close_batch))
        .route("/file/batch/{batch_id}/cancel", post(cancel_batch))
        .route("/file/batch/{batch_id}/certificate", get(batch_certificate))
        .route("/file/converted/{data_id}", get(downloads::converted))
        .route("/file/download/{data_id}", get(downloads::download))
        .route("/file/{data_id}", get(report))
        .route("/file/{data_id}/cancel", post(cancel))
        .route("/hash/{hash}", get(hash_lookup))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "Endpoint not found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
        })
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

fn json_response(value: impl serde::Serialize) -> Response {
    Json(value).into_response()
}

async fn login(
    State(service): State<Service>,
    // Set for every connection by the listener.
    axum::extract::ConnectInfo(client): axum::extract::ConnectInfo<std::net::SocketAddr>,
    body: Bytes,
) -> ApiResult {
    #[derive(serde::Deserialize)]
    struct Credentials {
        user: String,
        password: String,
    }
    // The document allows only 200, 403 and 500 here, so a body that is not credentials is
    // refused like wrong credentials.
    let credentials: Credentials = serde_json::from_slice(&body)
        .map_err(|_| palisade_service::ServiceError::BadCredentials)?;
    let (session_id, csrf) = service
        .login(&credentials.user, &credentials.password, Some(client.ip()))
        .await?;
    Ok(json_response(
        json!({ "oms-csrf-token": csrf, "session_id": session_id }),
    ))
}

async fn logout(
    State(service): State<Service>,
    Query(params): Params,
    headers: HeaderMap,
) -> ApiResult {
    service.logout(apikey(&headers, &params)).await?;
    Ok(json_response(json!({ "response": "Logout success" })))
}

async fn version() -> Response {
    json_response(json!({
        "product_id": "palisade",
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// Ready when the metastore and the blob store answer; otherwise 503 with the problems, so a
/// load balancer or orchestrator routes around a process that cannot reach its storage.
async fn readyz(State(service): State<Service>) -> Response {
    let problems = service.readiness().await;
    if problems.is_empty() {
        return json_response(json!({ "status": "ready" }));
    }
    let mut response = json_response(json!({
        "err": format!("not ready: {}", problems.join("; ")),
        "status": "not ready",
        "problems": problems,
    }));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
}

/// The routes of a scanning node: readiness and version only.
pub fn health_router(service: Service) -> Router {
    Router::new()
        .route("/readyz", get(readyz))
        .route("/version", get(version))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "Endpoint not found") })
        .layer(axum::middleware::map_response(json_errors))
        .with_state(service)
}

async fn nodes(State(service): State<Service>, _: Authenticated) -> ApiResult {
    Ok(json_response(service.node_stats().await?))
}

async fn engines(State(service): State<Service>, _: Authenticated) -> ApiResult {
    Ok(json_response(service.engine_stats().await?))
}

async fn rules(
    State(service): State<Service>,
    headers: HeaderMap,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    let user_agent = header_text(&headers, "user_agent").unwrap_or_default();
    let list: Vec<_> = service
        .rules_for(&caller, &user_agent)
        .into_iter()
        .map(|rule| json!({ "max_file_size": rule.max_file_size, "name": rule.name }))
        .collect();
    Ok(json_response(list))
}

async fn submit(
    State(service): State<Service>,
    Authenticated(caller): Authenticated,
    request: Request,
) -> ApiResult {
    let headers = request.headers().clone();
    let mut submit = submit_request(&headers)?;
    let data_id =
        if is_multipart(&headers) && matches!(submit.length, UploadLength::Known(n) if n > 0) {
            let mut form = Multipart::from_request(request, &())
                .await
                .map_err(|e| ApiError::bad_request(format!("Invalid multipart body: {e}")))?;
            let field = loop {
                match form.next_field().await {
                    Ok(Some(field)) if is_file_field(&field) => break field,
                    Ok(Some(_)) => continue,
                    Ok(None) => return Err(palisade_service::ServiceError::EmptyFile.into()),
                    Err(e) => {
                        return Err(ApiError::bad_request(format!(
                            "Invalid multipart body: {e}"
                        )));
                    }
                }
            };
            if submit.filename.is_empty() {
                submit.filename = field.file_name().unwrap_or_default().to_string();
            }
            let field = std::sync::Arc::new(tokio::sync::Mutex::new(field));
            service
                .submit(&caller, submit, move || {
                    let field = field.clone();
                    async move { field.lock().await.chunk().await }
                })
                .await?
        } else {
            let stream = std::sync::Arc::new(tokio::sync::Mutex::new(
                request.into_body().into_data_stream(),
            ));
            service
                .submit(&caller, submit, move || {
                    let stream = stream.clone();
                    async move { stream.lock().await.next().await.transpose() }
                })
                .await?
        };
    Ok(json_response(json!({ "data_id": data_id.as_str() })))
}

fn report_response(body: ReportBody) -> Response {
    match body {
        ReportBody::Stored(text) => {
            ([(header::CONTENT_TYPE, "application/json")], text).into_response()
        }
        ReportBody::Built(report) => json_response(report),
    }
}

fn not_found_body(id: &str) -> Response {
    let mut map = serde_json::Map::new();
    map.insert(id.to_string(), json!("Not Found"));
    json_response(serde_json::Value::Object(map))
}

async fn report(
    State(service): State<Service>,
    Path(data_id): Path<String>,
    Query(params): Params,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    let first = number(&params, "first")?;
    let size = number(&params, "size")?;
    match service.report_body(&caller, &data_id, first, size).await? {
        Some(body) => Ok(report_response(body)),
        None => Ok(not_found_body(&data_id)),
    }
}

async fn hash_lookup(
    State(service): State<Service>,
    Path(hash): Path<String>,
    headers: HeaderMap,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    let hours = match header_text(&headers, "timerange") {
        Some(text) if !text.trim().is_empty() => text
            .trim()
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request("Invalid timerange header"))?,
        _ => 0,
    };
    let query = HashQuery {
        rule: header_text(&headers, "rule").filter(|r| !r.is_empty()),
        since: (hours > 0).then(|| now_millis() - hours * 3_600_000),
        include_in_progress: header_flag(&headers, "include-inprogress"),
        self_only: header_flag(&headers, "selfonly"),
        username: None,
    };
    match service.report_by_hash(&caller, &hash, &query).await? {
        Some(body) => Ok(report_response(body)),
        None => Ok(not_found_body(&hash)),
    }
}

async fn cancel(
    State(service): State<Service>,
    Path(data_id): Path<String>,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    service.cancel(&caller, &data_id).await?;
    let mut map = serde_json::Map::new();
    map.insert(data_id.to_ascii_lowercase(), json!("cancelled"));
    Ok(json_response(serde_json::Value::Object(map)))
}

async fn create_batch(
    State(service): State<Service>,
    headers: HeaderMap,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    let rule = header_text(&headers, "rule").or_else(|| header_text(&headers, "workflow"));
    let user_agent = header_text(&headers, "user_agent").unwrap_or_default();
    let user_data = header_text(&headers, "user-data").unwrap_or_default();
    let batch_id = service
        .create_batch(&caller, rule.as_deref(), &user_agent, &user_data)
        .await?;
    Ok(json_response(json!({ "batch_id": batch_id.as_str() })))
}

async fn batch_status(
    State(service): State<Service>,
    Path(batch_id): Path<String>,
    Query(params): Params,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    let report = service
        .batch_status(
            &caller,
            &batch_id,
            number(&params, "first")?,
            number(&params, "size")?,
        )
        .await?;
    Ok(json_response(report))
}

async fn close_batch(
    State(service): State<Service>,
    Path(batch_id): Path<String>,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    Ok(json_response(
        service.close_batch(&caller, &batch_id).await?,
    ))
}

async fn cancel_batch(
    State(service): State<Service>,
    Path(batch_id): Path<String>,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    service.cancel_batch(&caller, &batch_id).await?;
    let mut map = serde_json::Map::new();
    map.insert(batch_id.to_ascii_lowercase(), json!("cancelled"));
    Ok(json_response(serde_json::Value::Object(map)))
}

async fn batch_certificate(
    State(service): State<Service>,
    Path(batch_id): Path<String>,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    let body = service.batch_certificate(&caller, &batch_id).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response())
}
