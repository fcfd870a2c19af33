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
