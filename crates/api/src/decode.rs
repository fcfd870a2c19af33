//! Decoding of what clients send: headers (percent-encoded text, flags, archive passwords,
//! encodings, timeouts), query numbers and the file field of a multipart body. Everything here
//! reads untrusted bytes, so it is public for the fuzz targets in `fuzz/`.

use std::collections::HashMap;

use axum::extract::multipart::Field;
use axum::http::{HeaderMap, header};
use palisade_service::{ContentEncoding, SubmitRequest, UploadLength};

use crate::ApiError;

/// A header's value, URL-decoded as UTF-8 (clients percent-encode names, rules and metadata).
pub fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    let raw = headers.get(name)?;
    let text = match raw.to_str() {
        Ok(text) => text.to_string(),
        Err(_) => String::from_utf8_lossy(raw.as_bytes()).into_owned(),
    };
    Some(
        percent_encoding::percent_decode_str(&text)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

pub fn header_flag(headers: &HeaderMap, name: &str) -> bool {
    header_text(headers, name)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1")
}

pub fn apikey<'a>(headers: &'a HeaderMap, params: &'a HashMap<String, String>) -> Option<&'a str> {
    headers
        .get("apikey")
        .and_then(|v| v.to_str().ok())
        .or_else(|| params.get("apikey").map(String::as_str))
}

/// A numeric query parameter; `None` when absent, 400 when it is not a number.
pub fn number(params: &HashMap<String, String>, name: &str) -> Result<Option<u64>, ApiError> {
    let Some(text) = params.get(name) else {
        return Ok(None);
    };
    // A 64-bit signed integer at most, as the OpenAPI document says (int64, minimum 0).
    match text.trim().parse::<i64>().map(u64::try_from) {
        Ok(Ok(value)) => Ok(Some(value)),
        _ => Err(ApiError::bad_request(format!("Invalid {name} parameter"))),
    }
}

/// The upload's settings from its headers, or 400 for a header that cannot be honoured.
pub fn submit_request(headers: &HeaderMap) -> Result<SubmitRequest, ApiError> {
    let chunked = headers
        .get(header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = match headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        _ if chunked => UploadLength::Chunked,
        Some(length) => UploadLength::Known(length),
        None => UploadLength::Missing,
    };
    let mut passwords: Vec<(u32, String)> = Vec::new();
    for name in headers.keys() {
        let Some(suffix) = name.as_str().strip_prefix("archivepwd") else {
            continue;
        };
        let order = if suffix.is_empty() {
            0
        } else {
            match suffix.parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => continue,
            }
        };
        if let Some(value) = header_text(headers, name.as_str()) {
            passwords.push((order, value));
        }
    }
    passwords.sort();
    let encoding = header_text(headers, "content-encoding").unwrap_or_default();
    let encoding = ContentEncoding::parse(&encoding).ok_or_else(|| {
        ApiError::bad_request(format!("Unsupported content-encoding: {encoding}"))
    })?;
    let global_timeout = match header_text(headers, "global-timeout") {
        Some(text) if !text.trim().is_empty() => match text.trim().parse::<i64>() {
            Ok(seconds) if seconds > 0 => {
                Some(std::time::Duration::from_secs(seconds.unsigned_abs()))
            }
            _ => return Err(ApiError::bad_request("Invalid global-timeout header")),
        },
        _ => None,
    };
    Ok(SubmitRequest {
        length,
        filename: header_text(headers, "filename").unwrap_or_default(),
        rule: header_text(headers, "rule").or_else(|| header_text(headers, "workflow")),
        user_agent: header_text(headers, "user_agent").unwrap_or_default(),
        batch_id: header_text(headers, "batch"),
        archive_passwords: passwords.into_iter().map(|(_, p)| p).collect(),
        metadata: header_text(headers, "metadata").unwrap_or_default(),
        callback_url: callback_url(headers),
        local_path: header_text(headers, "filepath").filter(|p| !p.trim().is_empty()),
        encoding,
        global_timeout,
    })
}

/// The `callbackurl` header: taken as sent when it already is a URL (decoding would corrupt its
/// own percent-escapes), URL-decoded when the client encoded the whole value.
fn callback_url(headers: &HeaderMap) -> String {
    let Some(raw) = headers.get("callbackurl") else {
        return String::new();
    };
    let text = String::from_utf8_lossy(raw.as_bytes()).trim().to_string();
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return text;
    }
    header_text(headers, "callbackurl").unwrap_or_default()
}

/// Whether the body is `multipart/form-data` (browser forms); otherwise it is the file itself.
pub fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// Whether a multipart field is the file: it has a file name, or is named `file`.
pub fn is_file_field(field: &Field<'_>) -> bool {
    field.file_name().is_some() || field.name() == Some("file")
}
