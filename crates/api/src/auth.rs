//! Who is calling: the one place a request's apikey is read and checked.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use palisade_service::{Caller, Service};

use crate::ApiError;
use crate::decode::apikey;

/// The authenticated caller of a request. The apikey (or session id) comes from the `apikey`
/// header or, as download links send it, the `apikey` query parameter; a request without a
/// valid one is refused with 403 `{"err":...}` before its handler runs.
pub struct Authenticated(pub Caller);

impl FromRequestParts<Service> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, service: &Service) -> Result<Self, ApiError> {
        let params = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .map(|Query(params)| params)
            .unwrap_or_default();
        let caller = service
            .authenticate(apikey(&parts.headers, &params))
            .await?;
        Ok(Self(caller))
    }
}
