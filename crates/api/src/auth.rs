//! Who is calling: the one place a request's apikey is read and checked.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use palisade_service::{Caller, Service};

use crate::ApiError;
use crate::decode::apikey;

/// The cookie a browser session (the web console) carries its session id in.
pub const SESSION_COOKIE: &str = "palisade_session";

/// The authenticated caller of a request. The apikey (or session id) comes from the `apikey`
/// header or, as download links send it, the `apikey` query parameter; without either, a
/// session id may come in the [`SESSION_COOKIE`] cookie, and then a request that changes
/// something must also carry the session's `oms-csrf-token` header. A request without valid
/// credentials is refused with 403 `{"err":...}` before its handler runs.
pub struct Authenticated(pub Caller);

/// The value of cookie `name` among the request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

impl FromRequestParts<Service> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, service: &Service) -> Result<Self, ApiError> {
        let params = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .map(|Query(params)| params)
            .unwrap_or_default();
        let key = apikey(&parts.headers, &params);
        if key.is_none()
            && let Some(session_id) = cookie(&parts.headers, SESSION_COOKIE)
        {
            let csrf = parts
                .headers
                .get("oms-csrf-token")
                .and_then(|v| v.to_str().ok());
            let changes_state = !matches!(
                parts.method,
                axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
            );
            let caller = service
                .authenticate_cookie(session_id, csrf, changes_state)
                .await?;
            return Ok(Self(caller));
        }
        Ok(Self(service.authenticate(key).await?))
    }
}
