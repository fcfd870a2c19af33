//! `POST /file/batch`, `GET /file/batch/{id}`, its `close`, `cancel` and `certificate`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use palisade_service::Service;

use super::{ApiResult, Params, json_response};
use crate::auth::Authenticated;
use crate::decode::{header_text, number};
use crate::responses::{BatchIdAnswer, IdStatus};

pub(super) async fn create_batch(
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
    Ok(json_response(BatchIdAnswer {
        batch_id: batch_id.as_str(),
    }))
}

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

pub(super) async fn close_batch(
    State(service): State<Service>,
    Path(batch_id): Path<String>,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    Ok(json_response(
        service.close_batch(&caller, &batch_id).await?,
    ))
}

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

pub(super) async fn batch_certificate(
    State(service): State<Service>,
    Path(batch_id): Path<String>,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    let body = service.batch_certificate(&caller, &batch_id).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response())
}
