//! Judges answers by the OpenAPI document with independent tools
//! (`scripts/openapi_check.py`: openapi-spec-validator and jsonschema from PyPI; scripts/test.sh
//! installs them).

use std::path::Path;
use std::process::Command;

/// One answer as a client saw it.
#[derive(Debug, serde::Serialize)]
pub struct Answer {
    pub method: String,
    /// The route's template (`/file/{data_id}`), as the document names it.
    pub path: String,
    pub status: u16,
    pub content_type: String,
    /// The JSON body (`null` when it is not JSON).
    pub body: serde_json::Value,
}

/// Panics with every failure unless `document` is a valid OpenAPI document and every answer is
/// documented (path, method, status, content type) and matches its documented schema.
pub fn check(document: &str, answers: &[Answer]) {
    let dir = tempfile::tempdir().unwrap();
    let document_path = dir.path().join("openapi.json");
    let answers_path = dir.path().join("answers.json");
    std::fs::write(&document_path, document).unwrap();
    std::fs::write(&answers_path, serde_json::to_vec(answers).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/openapi_check.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(&document_path)
        .arg(&answers_path)
        .output()
        .expect("python3 with openapi-spec-validator (scripts/test.sh)");
    assert!(
        output.status.success(),
        "answers that do not fit the OpenAPI document:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
