//! The shapes of the API's own small answers (reports and batch reports are `palisade_model`
//! types): one struct each, so a field's name and type are fixed in one place.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// Every error answer: `{"err":"<message>"}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorAnswer<'a> {
    pub err: &'a str,
}

/// `POST /file`: exactly `{"data_id":"..."}` (never `rest_ip`: a CI plugin redirects to it).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DataIdAnswer<'a> {
    pub data_id: &'a str,
}

/// `POST /file/batch`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchIdAnswer<'a> {
    pub batch_id: &'a str,
}

/// `POST /login`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginAnswer {
    #[serde(rename = "oms-csrf-token")]
    pub csrf_token: String,
    pub session_id: String,
}

/// `POST /logout`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogoutAnswer {
    pub response: &'static str,
}

/// `GET /version`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionAnswer {
    pub product_id: &'static str,
    pub version: &'static str,
}

/// `GET /readyz` and `/admin/config/healthcheck`: `{"status":"ready"}`, or 503 with `err`,
/// `status` and the problems.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub err: Option<String>,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// One entry of `GET /file/rules`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RuleEntry {
    pub max_file_size: u64,
    pub name: String,
}

/// `{"<id>": "<status>"}`: an unknown report (`Not Found`) or a cancelled file or batch
/// (`cancelled`), keyed by the id the client sent.
#[derive(Debug)]
pub struct IdStatus<'a> {
    pub id: &'a str,
    pub status: &'static str,
}

impl utoipa::PartialSchema for IdStatus<'_> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let status = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["Not Found", "cancelled"]));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(status))
            .min_properties(Some(1))
            .max_properties(Some(1))
            .description(Some(
                "`{\"<id>\": \"Not Found\"}` for an unknown id, `{\"<id>\": \"cancelled\"}` after a cancel",
            ))
            .into()
    }
}

impl utoipa::ToSchema for IdStatus<'_> {
    fn name() -> std::borrow::Cow<'static, str> {
        "IdStatus".into()
    }
}

/// `POST /login`'s body.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

/// A report, or `{"<id>":"Not Found"}` when there is none.
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ReportOrNotFound {
    Report(Box<palisade_model::FileReport>),
    NotFound(IdStatus<'static>),
}

/// The bytes of a file (a request or answer body of any media type).
pub struct RawFile;

impl utoipa::PartialSchema for RawFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl utoipa::ToSchema for RawFile {}

/// An uploaded file's bytes: at least one (an empty file is refused with 422).
pub struct FileBody;

impl utoipa::PartialSchema for FileBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .min_length(Some(1))
            .into()
    }
}

impl utoipa::ToSchema for FileBody {}

/// A text answer (`/metrics`, the batch certificate).
pub struct Text;

impl utoipa::PartialSchema for Text {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .into()
    }
}

impl utoipa::ToSchema for Text {}

impl Serialize for IdStatus<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.id, self.status)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &impl Serialize) -> String {
        serde_json::to_string(value).unwrap()
    }

    #[test]
    fn answers_have_the_documented_field_names() {
        assert_eq!(
            text(&LoginAnswer {
                csrf_token: "c".into(),
                session_id: "s".into()
            }),
            r#"{"oms-csrf-token":"c","session_id":"s"}"#
        );
        assert_eq!(
            text(&IdStatus {
                id: "ab12",
                status: "cancelled"
            }),
            r#"{"ab12":"cancelled"}"#
        );
        assert_eq!(
            text(&Readiness {
                err: None,
                status: "ready",
                problems: Vec::new()
            }),
            r#"{"status":"ready"}"#
        );
        assert_eq!(text(&DataIdAnswer { data_id: "d" }), r#"{"data_id":"d"}"#);
    }
}
