//! The OpenAPI 3.1 document served at `/openapi.json`. Its paths come from the routes the router
//! serves (each handler's `#[utoipa::path]`, registered with `utoipa_axum::routes!` where the
//! route is added), and its schemas from the types the answers are made of.

use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr};

/// What the document says before the routes add their paths.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Palisade",
        description = "File analysis with a MetaDefender Cluster compatible API: submit files, \
                       poll reports, look up hashes, batches, sanitized and redacted copies."
    ),
    modifiers(&Credentials),
    components(schemas(crate::responses::RawFile, crate::responses::FileBody)),
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

/// What the router knows only at start: the configured rules are the values of the `rule` and
/// `workflow` headers of the operations that pick one (`POST /file`, `POST /file/batch`; another
/// name is refused), and `content-encoding` of an upload is one Palisade decodes. Optional
/// parameters are left out when not sent, never `null`, so their schemas do not allow it; an
/// empty header counts as not sent, so number headers allow `""` too.
pub(crate) fn complete(document: &mut OpenApi, settings: &palisade_service::ServiceSettings) {
    // An empty name is the caller's default rule, as no header is.
    let rules: Vec<&str> = std::iter::once("")
        .chain(settings.rules.iter().map(|rule| rule.name.as_str()))
        .collect();
    let encodings = ["", "identity", "binary", "gzip", "x-gzip", "base64"];
    for (path, item) in document.paths.paths.iter_mut() {
        let operations = [
            item.get.as_mut(),
            item.post.as_mut(),
            item.put.as_mut(),
            item.delete.as_mut(),
        ];
        for operation in operations.into_iter().flatten() {
            let picks_rule = path == "/file" || path == "/file/batch";
            for parameter in operation.parameters.iter_mut().flatten() {
                let RefOr::T(parameter) = parameter else {
                    continue;
                };
                let values: Option<Vec<&str>> = match parameter.name.as_str() {
                    "rule" | "workflow" if picks_rule => Some(rules.clone()),
                    "content-encoding" => Some(encodings.to_vec()),
                    _ => None,
                };
                if let Some(values) = values {
                    let schema = ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(values));
                    parameter.schema = Some(schema.into());
                }
                if let Some(RefOr::T(Schema::Object(object))) = parameter.schema.as_mut() {
                    drop_null(&mut object.schema_type);
                }
                let header = matches!(parameter.parameter_in, ParameterIn::Header);
                if header
                    && let Some(RefOr::T(Schema::Object(number))) = &parameter.schema
                    && number.schema_type == SchemaType::Type(Type::Integer)
                {
                    // An empty header is taken as not sent, like every header here.
                    let empty = ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([""]));
                    let either = AnyOfBuilder::new().item(number.clone()).item(empty);
                    parameter.schema = Some(either.into());
                }
            }
        }
    }
}

/// `["integer", "null"]` becomes `"integer"`.
fn drop_null(schema_type: &mut SchemaType) {
    if let SchemaType::Array(types) = schema_type {
        types.retain(|kind| *kind != Type::Null);
        if let [only] = types.as_slice() {
            *schema_type = SchemaType::Type(only.clone());
        }
    }
}
