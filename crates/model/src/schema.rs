//! Schemas of the OpenAPI document for the types whose JSON is written by hand (text and number
//! enums); the others derive theirs.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// A string that is one of `values`.
pub(crate) fn string_enum<const N: usize>(values: [&str; N]) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .into()
}

/// An integer that is one of `values`, described by `meaning`.
pub(crate) fn integer_enum<const N: usize>(values: [u8; N], meaning: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some(values))
        .description(Some(meaning))
        .into()
}

/// `scan_all_result_a`: one of the processing results' texts.
pub(crate) fn result_texts() -> utoipa::openapi::schema::Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(crate::ScanResult::table().map(|(_, text)| text)))
        .build()
}

/// `scan_all_result_i` and `scan_result_i`: one of the processing results' numbers.
pub(crate) fn result_codes() -> utoipa::openapi::schema::Object {
    let meanings: Vec<String> = crate::ScanResult::table()
        .map(|(code, text)| format!("{code} {text}"))
        .collect();
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some(crate::ScanResult::table().map(|(code, _)| code)))
        .description(Some(meanings.join(", ")))
        .build()
}
