//! Multipart upload bodies: the first line is the boundary, the rest the body. Every field is
//! read to its end the way the upload route reads the file field.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use palisade_api::decode;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let boundary = String::from_utf8_lossy(&data[..split]).into_owned();
    let body = data.get(split + 1..).unwrap_or_default().to_vec();
    let length = body.len();
    let Ok(request) = Request::builder()
        .method("POST")
        .uri("/file")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("content-length", length.to_string())
        .body(Body::from(body))
    else {
        return;
    };
    if !decode::is_multipart(request.headers()) {
        // A content type that is not visible ASCII: the route stores the body as the file.
        return;
    }
    runtime().block_on(async move {
        let Ok(mut form) = Multipart::from_request(request, &()).await else {
            return;
        };
        let mut total = 0usize;
        while let Ok(Some(mut field)) = form.next_field().await {
            let _ = decode::is_file_field(&field);
            let _ = (field.name(), field.file_name(), field.content_type());
            while let Ok(Some(chunk)) = field.chunk().await {
                total += chunk.len();
            }
        }
        assert!(
            total <= length,
            "fields hold {total} bytes of a {length}-byte body"
        );
    });
});
