//! `POST /file`, `GET /file/rules`, `GET /file/{data_id}`, `GET /hash/{hash}`,
//! `POST /file/{data_id}/cancel`.

use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use palisade_metastore::HashQuery;
use palisade_model::now_millis;
use palisade_service::{ReportBody, Service, UploadLength};

use super::{ApiResult, Params, json_response};
use crate::ApiError;
use crate::auth::Authenticated;
use crate::decode::{
    header_flag, header_text, is_file_field, is_multipart, number, submit_request,
};
use crate::responses::{DataIdAnswer, IdStatus, RuleEntry};

#[utoipa::path(get, path = "/file/rules", tag = "files",
    params(("user_agent" = Option<String>, Header, description = "Rules restricted to user agents")),
    responses(
        (status = 200, description = "The rules the caller may use", body = Vec<RuleEntry>),
        (status = 403, description = "No valid apikey (header, `?apikey=` or session cookie)", body = crate::responses::ErrorAnswer),
    ))]
pub(super) async fn rules(
    State(service): State<Service>,
    headers: HeaderMap,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    let user_agent = header_text(&headers, "user_agent").unwrap_or_default();
    let list: Vec<_> = service
        .rules_for(&caller, &user_agent)
        .into_iter()
        .map(|rule| RuleEntry {
            max_file_size: rule.max_file_size,
            name: rule.name.clone(),
        })
        .collect();
    Ok(json_response(list))
}

#[utoipa::path(post, path = "/file", tag = "files",
    params(
        ("filename" = Option<String>, Header, description = "The file's name (URL-encoded)"),
        ("rule" = Option<String>, Header, description = "The rule to analyse it with"),
        ("workflow" = Option<String>, Header, description = "Older name of `rule`"),
        ("user_agent" = Option<String>, Header, description = "Selects among rules restricted to user agents"),
        ("batch" = Option<String>, Header, description = "Adds the file to an open batch"),
        ("archivepwd" = Option<String>, Header, description = "A password to try on encrypted archives (also `archivepwd1`..`archivepwdN`)"),
        ("metadata" = Option<String>, Header, description = "Echoed in the report"),
        ("callbackurl" = Option<String>, Header, description = "An absolute http(s) URL, stored with the job"),
        ("content-encoding" = Option<String>, Header, description = "`gzip` or `base64`: the decoded bytes are analysed"),
        ("global-timeout" = Option<i64>, Header, minimum = 1, description = "Seconds for the whole analysis"),
        ("engines-metadata" = Option<String>, Header, description = "Accepted, not read"),
        ("filepath" = Option<String>, Header, description = "Local-file scanning: always refused with 400"),
    ),
    request_body(content = crate::responses::FileBody, content_type = "application/octet-stream",
        description = "The file's bytes (or `multipart/form-data` with one file part)"),
    responses(
        (status = 200, description = "Accepted and queued", body = DataIdAnswer),
        (status = 400, description = "A header is invalid, or the body stalled", body = crate::responses::ErrorAnswer),
        (status = 403, description = "No valid apikey (header, `?apikey=` or session cookie)", body = crate::responses::ErrorAnswer),
        (status = 411, description = "No Content-Length", body = crate::responses::ErrorAnswer),
        (status = 422, description = "The file is empty", body = crate::responses::ErrorAnswer),
        (status = 500, description = "The file is larger than the rule's max_file_size", body = crate::responses::ErrorAnswer),
        (status = 503, description = "The queue is full", body = crate::responses::ErrorAnswer),
    ))]
pub(super) async fn submit(
    State(service): State<Service>,
    Authenticated(caller): Authenticated,
    request: Request,
) -> ApiResult {
    let headers = request.headers().clone();
    let mut submit = submit_request(&headers)?;
    submit.rule = super::named_rule(&service, &headers)?;
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
    Ok(json_response(DataIdAnswer {
        data_id: data_id.as_str(),
    }))
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
    json_response(IdStatus {
        id,
        status: "Not Found",
    })
}

#[utoipa::path(get, path = "/file/{data_id}", tag = "files",
    params(
        ("data_id" = String, Path, description = "The id `POST /file` answered"),
        super::Page,
    ),
    responses(
        (status = 200, description = "The report, or `{\"<data_id>\":\"Not Found\"}`", body = crate::responses::ReportOrNotFound),
        (status = 400, description = "`first` or `size` is not a number", body = crate::responses::ErrorAnswer),
        (status = 403, description = "No valid apikey (header, `?apikey=` or session cookie)", body = crate::responses::ErrorAnswer),
    ))]
pub(super) async fn report(
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

#[utoipa::path(get, path = "/hash/{hash}", tag = "files",
    params(
        ("hash" = String, Path, description = "An MD5, SHA-1, SHA-256 or SHA-512 digest in hex"),
        ("rule" = Option<String>, Header, description = "Only reports of this rule"),
        ("selfonly" = Option<String>, Header, description = "`1`: only the caller's own files"),
        ("timerange" = Option<i64>, Header, description = "Only reports of the last N hours (0 or less: any time)"),
        ("include-inprogress" = Option<String>, Header, description = "`1`: files still being analysed too"),
    ),
    responses(
        (status = 200, description = "The latest report, or `{\"<hash>\":\"Not Found\"}`", body = crate::responses::ReportOrNotFound),
        (status = 400, description = "`timerange` is not a number", body = crate::responses::ErrorAnswer),
        (status = 403, description = "No valid apikey (header, `?apikey=` or session cookie)", body = crate::responses::ErrorAnswer),
        (status = 404, description = "Not a digest", body = crate::responses::ErrorAnswer),
    ))]
pub(super) async fn hash_lookup(
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
        since: (hours > 0).then(|| now_millis().saturating_sub(hours.saturating_mul(3_600_000))),
        include_in_progress: header_flag(&headers, "include-inprogress"),
        self_only: header_flag(&headers, "selfonly"),
        username: None,
    };
    match service.report_by_hash(&caller, &hash, &query).await? {
        Some(body) => Ok(report_response(body)),
        None => Ok(not_found_body(&hash)),
    }
}

#[utoipa::path(post, path = "/file/{data_id}/cancel", tag = "files",
    params(("data_id" = String, Path, description = "The id `POST /file` answered")),
    responses(
        (status = 200, description = "`{\"<data_id>\":\"cancelled\"}`", body = IdStatus),
        (status = 400, description = "The file is already final", body = crate::responses::ErrorAnswer),
        (status = 403, description = "No valid apikey (header, `?apikey=` or session cookie)", body = crate::responses::ErrorAnswer),
        (status = 404, description = "No such file", body = crate::responses::ErrorAnswer),
    ))]
pub(super) async fn cancel(
    State(service): State<Service>,
    Path(data_id): Path<String>,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    service.cancel(&caller, &data_id).await?;
    Ok(json_response(IdStatus {
        id: &data_id.to_ascii_lowercase(),
        status: "cancelled",
    }))
}
