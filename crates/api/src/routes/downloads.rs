//! `GET /file/converted/{data_id}` and `GET /file/download/{data_id}`: a file's sanitized or
//! redacted copy, streamed from the blob store, whole or one byte range.

use std::ops::Range;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use palisade_model::OutputRecord;
use palisade_service::{Service, Wanted};

use super::ApiResult;
use crate::ApiError;
use crate::auth::Authenticated;

#[utoipa::path(get, path = "/file/converted/{data_id}", tag = "files",
    params(("data_id" = String, Path, description = "The id `POST /file` answered"), CopyRange),
    responses(CopyAnswers))]
pub(super) async fn converted(
    State(service): State<Service>,
    Path(data_id): Path<String>,
    headers: HeaderMap,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    let output = service.output(&caller, &data_id, Wanted::Sanitized).await?;
    serve(&service, &output, &headers).await
}

#[utoipa::path(get, path = "/file/download/{data_id}", tag = "files",
    params(("data_id" = String, Path, description = "The id `POST /file` answered"), CopyRange),
    responses(CopyAnswers))]
pub(super) async fn download(
    State(service): State<Service>,
    Path(data_id): Path<String>,
    headers: HeaderMap,
    Authenticated(caller): Authenticated,
) -> ApiResult {
    let output = service.output(&caller, &data_id, Wanted::Preferred).await?;
    serve(&service, &output, &headers).await
}

/// The `Range` header of a download.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
struct CopyRange {
    /// One range: `bytes=a-b`, `a-` or `-n` (several ranges get the whole file).
    #[param(rename = "Range")]
    range: Option<String>,
}

/// The answers of `/file/converted` and `/file/download`.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum CopyAnswers {
    /// The whole copy.
    #[response(status = 200, content_type = "*/*", headers(
        ("Content-Disposition" = String, description = "attachment; filename=... (and filename*= for other names)"),
        ("Accept-Ranges" = String, description = "bytes"),
    ))]
    Whole(crate::responses::RawFile),
    /// One byte range of it.
    #[response(status = 206, content_type = "*/*", headers(
        ("Content-Range" = String, description = "bytes a-b/size"),
    ))]
    Part(crate::responses::RawFile),
    /// No valid apikey (header, `?apikey=` or session cookie).
    #[response(status = 403)]
    Refused(crate::responses::ErrorAnswer<'static>),
    /// No copy: an unknown or unfinished file, a blocked one, a step that failed, an expired copy.
    #[response(status = 404)]
    NoCopy(crate::responses::ErrorAnswer<'static>),
    /// The range starts past the end.
    #[response(status = 416)]
    OutOfRange(crate::responses::ErrorAnswer<'static>),
}

/// What a `Range` header asks of a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Requested {
    /// No range, or one this server ignores (several ranges, a unit other than bytes, a
    /// malformed value), as RFC 9110 allows: the whole file.
    Whole,
    /// One satisfiable range.
    Part(Range<u64>),
    /// A range entirely past the end of the file.
    Unsatisfiable,
}

/// Reads a `Range` header value (RFC 9110 section 14.1.2) for a file of `size` bytes.
fn requested_range(value: Option<&str>, size: u64) -> Requested {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return Requested::Whole;
    };
    if spec.contains(',') {
        return Requested::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Requested::Whole;
    };
    let parse = |text: &str| -> Option<u64> {
        let text = text.trim();
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    match (first.trim().is_empty(), parse(first), parse(last)) {
        // `bytes=-N`: the last N bytes.
        (true, _, Some(suffix)) => {
            if suffix == 0 || size == 0 {
                Requested::Unsatisfiable
            } else {
                Requested::Part(size.saturating_sub(suffix)..size)
            }
        }
        (false, Some(start), end) if last.trim().is_empty() || end.is_some() => {
            if end.is_some_and(|end| end < start) {
                return Requested::Whole;
            }
            if start >= size {
                return Requested::Unsatisfiable;
            }
            let end = end.map_or(size, |end| end.saturating_add(1).min(size));
            Requested::Part(start..end)
        }
        _ => Requested::Whole,
    }
}

/// `Content-Disposition` for a download named `name` (RFC 6266): an ASCII `filename` every
/// client reads, and `filename*` in UTF-8 when the name is not plain ASCII.
fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let fallback = if fallback.trim().is_empty() {
        "file".to_string()
    } else {
        fallback
    };
    if fallback == name {
        return format!("attachment; filename=\"{fallback}\"");
    }
    // RFC 8187 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"; everything else percent-encoded.
    const NOT_ATTR_CHAR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let encoded = percent_encoding::utf8_percent_encode(name, NOT_ATTR_CHAR);
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// The media type of a download, from its name's extension.
fn content_type(name: &str) -> &'static str {
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "pdf" => "application/pdf",
        "doc" | "dot" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docm" => "application/vnd.ms-word.document.macroEnabled.12",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "rtf" => "application/rtf",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "odp" => "application/vnd.oasis.opendocument.presentation",
        "zip" => "application/zip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "tif" | "tiff" => "image/tiff",
        "svg" => "image/svg+xml",
        "txt" | "csv" | "log" => "text/plain",
        "html" | "htm" => "text/html",
        "xml" => "application/xml",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

async fn serve(service: &Service, output: &OutputRecord, headers: &HeaderMap) -> ApiResult {
    let size = output.size;
    let range = headers
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok());
    let (status, range) = match requested_range(range, size) {
        Requested::Whole => (StatusCode::OK, 0..size),
        Requested::Part(range) => (StatusCode::PARTIAL_CONTENT, range),
        Requested::Unsatisfiable => {
            let mut response = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                format!("Range not satisfiable: the file has {size} bytes"),
            )
            .into_response();
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{size}")),
            );
            return Ok(response);
        }
    };
    let length = range.end - range.start;
    let stream = service.output_bytes(output, range.clone()).await?;
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&output.name)),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        header_value(&content_disposition(&output.name)),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        headers.insert(
            header::CONTENT_RANGE,
            header_value(&format!(
                "bytes {}-{}/{size}",
                range.start,
                range.end.saturating_sub(1)
            )),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_byte_ranges_are_read_as_rfc_9110_says() {
        assert_eq!(requested_range(None, 10), Requested::Whole);
        assert_eq!(
            requested_range(Some("bytes=0-0"), 10),
            Requested::Part(0..1)
        );
        assert_eq!(
            requested_range(Some("bytes=2-5"), 10),
            Requested::Part(2..6)
        );
        assert_eq!(
            requested_range(Some("bytes=4-"), 10),
            Requested::Part(4..10)
        );
        assert_eq!(
            requested_range(Some("bytes=4-99"), 10),
            Requested::Part(4..10)
        );
        assert_eq!(
            requested_range(Some("bytes=-3"), 10),
            Requested::Part(7..10)
        );
        assert_eq!(
            requested_range(Some("bytes=-30"), 10),
            Requested::Part(0..10)
        );
        assert_eq!(
            requested_range(Some("bytes=10-"), 10),
            Requested::Unsatisfiable
        );
        assert_eq!(
            requested_range(Some("bytes=-0"), 10),
            Requested::Unsatisfiable
        );
        assert_eq!(
            requested_range(Some("bytes=0-0"), 0),
            Requested::Unsatisfiable
        );
        // Ignored: several ranges, another unit, nonsense, a reversed range.
        assert_eq!(requested_range(Some("bytes=0-1,4-5"), 10), Requested::Whole);
        assert_eq!(requested_range(Some("items=0-1"), 10), Requested::Whole);
        assert_eq!(requested_range(Some("bytes=a-b"), 10), Requested::Whole);
        assert_eq!(requested_range(Some("bytes=5-2"), 10), Requested::Whole);
        assert_eq!(requested_range(Some("bytes=+1-2"), 10), Requested::Whole);
    }

    #[test]
    fn non_ascii_names_get_an_rfc_6266_filename_star() {
        assert_eq!(
            content_disposition("report.pdf"),
            "attachment; filename=\"report.pdf\""
        );
        assert_eq!(
            content_disposition("rapport été.pdf"),
            "attachment; filename=\"rapport _t_.pdf\"; filename*=UTF-8''rapport%20%C3%A9t%C3%A9.pdf"
        );
        assert_eq!(
            content_disposition("a\"b\\c.txt"),
            "attachment; filename=\"a_b_c.txt\"; filename*=UTF-8''a%22b%5Cc.txt"
        );
        assert_eq!(content_type("X.PDF"), "application/pdf");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }
}
