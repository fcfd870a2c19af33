//! The documents of the Proactive DLP tests, in every format DLP reads, built at runtime by
//! `scripts/dlp_documents.py` (python-docx, openpyxl, python-pptx, Python's email package and
//! headless LibreOffice; scripts/test.sh installs them).

use std::path::Path;
use std::process::Command;

/// Builds `positives.<ext>` and `negatives.<ext>` of every format into a new folder, or of
/// `only` (docx, xlsx, pptx, eml) without LibreOffice's copies.
pub fn documents(only: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/dlp_documents.py");
    let status = Command::new("python3")
        .arg(&script)
        .arg(dir.path())
        .args(only)
        .status()
        .expect("python3 with python-docx, openpyxl and python-pptx (scripts/test.sh)");
    assert!(status.success(), "{} failed", script.display());
    dir
}
