//! The OpenAPI 3.1 document served at `/openapi.json`. Its paths come from the routes the router
//! serves (each handler's `#[utoipa::path]`, registered with `utoipa_axum::routes!` where the
//! route is added), and its schemas from the types the answers are made of.

use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};

/// What the document says before the routes add their paths.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Palisade",
        description = "File analysis with a MetaDefender Cluster compatible API: submit files, \
                       poll reports, look up hashes, batches, sanitized and redacted copies."
    ),
    modifiers(&Credentials),
    // Every route needs an apikey unless it says otherwise.
    security(("apikey" = []), ("apikey_query" = [])),
    tags(
        (name = "files", description = "Submitting files, their reports and copies"),
        (name = "batches", description = "Files grouped for one verdict and a signed certificate"),
        (name = "auth", description = "Sessions"),
        (name = "status", description = "Health, version, engines, nodes and metrics"),
    )
)]
pub(crate) struct Document;

/// The two ways an apikey is sent: the `apikey` header, or `?apikey=` (download links).
struct Credentials;

impl utoipa::Modify for Credentials {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apikey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "apikey",
                "An API key, or the session_id of a login",
            ))),
        );
        components.add_security_scheme(
            "apikey_query",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "apikey",
                "The same, as a query parameter",
            ))),
        );
    }
}

/// `/openapi.json`.
#[utoipa::path(get, path = "/openapi.json", tag = "status",
    security(()),
    responses((status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json")))]
pub(crate) async fn document(
    axum::Extension(text): axum::Extension<std::sync::Arc<String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text.as_str().to_owned(),
    )
        .into_response()
}
