//! `POST /login` and `POST /logout`.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use palisade_service::Service;

use super::{ApiResult, Params, json_response};
use crate::decode::apikey;
use crate::responses::{Credentials, LoginAnswer, LogoutAnswer};

#[utoipa::path(post, path = "/login", tag = "auth",
    security(()),
    request_body = crate::responses::Credentials,
    responses(
        (status = 200, description = "A session; its id works as an apikey", body = LoginAnswer),
        (status = 403, description = "Wrong credentials, a body that is not credentials, or too many failed logins", body = crate::responses::ErrorAnswer),
    ))]
pub(super) async fn login(
    State(service): State<Service>,
    // Set for every connection by the listener.
    axum::extract::ConnectInfo(client): axum::extract::ConnectInfo<std::net::SocketAddr>,
    body: Bytes,
) -> ApiResult {
    // The document allows only 200, 403 and 500 here, so a body that is not credentials is
    // refused like wrong credentials.
    let credentials: Credentials = serde_json::from_slice(&body)
        .map_err(|_| palisade_service::ServiceError::BadCredentials)?;
    let (session_id, csrf) = service
        .login(&credentials.user, &credentials.password, Some(client.ip()))
        .await?;
    Ok(json_response(LoginAnswer {
        csrf_token: csrf,
        session_id,
    }))
}

#[utoipa::path(post, path = "/logout", tag = "auth",
    security(()),
    params(("apikey" = Option<String>, Header, description = "The session to end")),
    responses(
        (status = 200, description = "The session ended", body = LogoutAnswer),
        (status = 403, description = "No session with that id", body = crate::responses::ErrorAnswer),
    ))]
pub(super) async fn logout(
    State(service): State<Service>,
    Query(params): Params,
    headers: HeaderMap,
) -> ApiResult {
    service.logout(apikey(&headers, &params)).await?;
    Ok(json_response(LogoutAnswer {
        response: "Logout success",
    }))
}
