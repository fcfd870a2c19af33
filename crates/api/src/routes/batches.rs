//! `POST /file/batch`, `GET /file/batch/{id}`, its `close`, `cancel` and `certificate`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use palisade_service::Service;

use super::{ApiResult, Params, json_response};
use crate::auth::Authenticated;
use crate::decode::{header_text, number};
use crate::responses::{BatchIdAnswer, IdStatus};

#[utoipa::path(post, path = "/file/batch", tag = "batches",
    params(
        ("rule" = Option<String>, Header, description = "The rule of the batch's files"),
        ("workflow" = Option<String>, Header, description = "Older name of `rule`"),
        ("user_agent" = Option<String>, Header, description = "Selects among rules restricted to user agents"),
        ("user-data" = Option<String>, Header, description = "Up to 1024 bytes kept with the batch"),
    ),
    responses(
        (status = 200, description = "A new open batch", body = BatchIdAnswer),
        (status = 400, description = "An unknown rule, or user-data too long", body = crate::responses::ErrorAnswer),
        (status = 403, description = "No valid apikey (header, `?apikey=` or session cookie)", body = crate::responses::ErrorAnswer),
    ))]
pub(super) async fn create_batch(
    State(service): State<Service>,
    headers: HeaderMap,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    let rule = super::named_rule(&service, &headers)?;
    let user_agent = header_text(&headers, "user_agent").unwrap_or_default();
    let user_data = header_text(&headers, "user-data").unwrap_or_default();
    let batch_id = service
        .create_batch(&caller, rule.as_deref(), &user_agent, &user_data)
        .await?;
    Ok(json_response(BatchIdAnswer {
        batch_id: batch_id.as_str(),
    }))
}

#[utoipa::path(get, path = "/file/batch/{batch_id}", tag = "batches",
    params(
        ("batch_id" = String, Path, description = "The id `POST /file/batch` answered"),
        super::Page,
    ),
    responses(
        (status = 200, description = "The batch and a page of its files", body = palisade_model::BatchReport),
        (status = 400, description = "`first` or `size` is not a number", body = crate::responses::ErrorAnswer),
        (status = 403, description = "No valid apikey (header, `?apikey=` or session cookie)", body = crate::responses::ErrorAnswer),
        (status = 404, description = "No such batch", body = crate::responses::ErrorAnswer),
    ))]
pub(super) async fn batch_status(
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

#[utoipa::path(post, path = "/file/batch/{batch_id}/close", tag = "batches",
    params(("batch_id" = String, Path, description = "The id `POST /file/batch` answered")),
    responses(
        (status = 200, description = "The closed batch", body = palisade_model::BatchReport),
        (status = 403, description = "No valid apikey (header, `?apikey=` or session cookie)", body = crate::responses::ErrorAnswer),
        (status = 404, description = "No such batch", body = crate::responses::ErrorAnswer),
    ))]
pub(super) async fn close_batch(
    State(service): State<Service>,
    Path(batch_id): Path<String>,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    Ok(json_response(
        service.close_batch(&caller, &batch_id).await?,
    ))
}

#[utoipa::path(post, path = "/file/batch/{batch_id}/cancel", tag = "batches",
    params(("batch_id" = String, Path, description = "The id `POST /file/batch` answered")),
    responses(
        (status = 200, description = "`{\"<batch_id>\":\"cancelled\"}`: its unfinished files are cancelled and it is closed (again, if it was)", body = IdStatus),
        (status = 403, description = "No valid apikey (header, `?apikey=` or session cookie)", body = crate::responses::ErrorAnswer),
        (status = 404, description = "No such batch", body = crate::responses::ErrorAnswer),
    ))]
pub(super) async fn cancel_batch(
    State(service): State<Service>,
    Path(batch_id): Path<String>,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    service.cancel_batch(&caller, &batch_id).await?;
    Ok(json_response(IdStatus {
        id: &batch_id.to_ascii_lowercase(),
        status: "cancelled",
    }))
}

#[utoipa::path(get, path = "/file/batch/{batch_id}/certificate", tag = "batches",
    params(("batch_id" = String, Path, description = "The id `POST /file/batch` answered")),
    responses(
        (status = 200, description = "The signed batch report (YAML)", body = crate::responses::Text,
            content_type = "text/plain; charset=utf-8"),
        (status = 400, description = "A member is not final yet", body = crate::responses::ErrorAnswer),
        (status = 403, description = "No valid apikey (header, `?apikey=` or session cookie)", body = crate::responses::ErrorAnswer),
        (status = 404, description = "No such batch", body = crate::responses::ErrorAnswer),
    ))]
pub(super) async fn batch_certificate(
    State(service): State<Service>,
    Path(batch_id): Path<String>,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    let body = service.batch_certificate(&caller, &batch_id).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response())
}
