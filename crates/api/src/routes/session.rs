//! `POST /login` and `POST /logout`.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use palisade_service::Service;

use super::{ApiResult, Params, json_response};
use crate::decode::apikey;
use crate::responses::{LoginAnswer, LogoutAnswer};

pub(super) async fn login(
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
    Ok(json_response(LoginAnswer {
        csrf_token: csrf,
        session_id,
    }))
}

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
