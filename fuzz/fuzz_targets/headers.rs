//! Header and query decoding of uploads: arbitrary header lines (`name: value`) and a query
//! string, decoded the way the routes decode them.
#![no_main]

use std::collections::HashMap;

use axum::extract::Query;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};
use palisade_api::decode;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let query = lines.next().unwrap_or_default();
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(&line[colon + 1..]),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    let passwords = headers
        .keys()
        .filter(|name| name.as_str().starts_with("archivepwd"))
        .count();
    match decode::submit_request(&headers) {
        Ok(request) => {
            assert!(request.archive_passwords.len() <= passwords);
            assert!(request.global_timeout.is_none_or(|t| !t.is_zero()));
            assert!(
                request
                    .local_path
                    .as_deref()
                    .is_none_or(|p| !p.trim().is_empty())
            );
        }
        Err(error) => assert_eq!(error.status.as_u16(), 400, "{}", error.message),
    }
    for name in headers.keys() {
        let _ = decode::header_text(&headers, name.as_str());
        let _ = decode::header_flag(&headers, name.as_str());
    }
    let _ = decode::is_multipart(&headers);
    let Ok(uri) = format!("/file?{}", String::from_utf8_lossy(query)).parse::<Uri>() else {
        return;
    };
    let Ok(Query(params)) = Query::<HashMap<String, String>>::try_from_uri(&uri) else {
        return;
    };
    for name in ["page", "size", "limit", "page_size"] {
        if let Ok(Some(number)) = decode::number(&params, name) {
            // An int64 that is not negative, as the OpenAPI document says.
            let int64 = params[name].trim().parse::<i64>().ok();
            assert_eq!(int64.and_then(|n| u64::try_from(n).ok()), Some(number));
        }
    }
    let _ = decode::apikey(&headers, &params);
});
