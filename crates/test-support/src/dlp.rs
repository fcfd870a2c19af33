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

/// Judges a redacted copy with independent tools (`scripts/dlp_judge.py`: pdftotext,
/// `qpdf --qdf`, python-docx, openpyxl, python-pptx, `strings`, `qpdf --check` and a
/// LibreOffice conversion): none of `values` can be read from it, `keep` still can, and it
/// still opens. `kind` is txt, pdf, docx, xlsx or pptx. Panics with the judge's reason.
pub fn judge(copy: &Path, kind: &str, keep: &str, values: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/dlp_judge.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(copy)
        .args([kind, keep])
        .args(values)
        .output()
        .expect("python3 with python-docx, openpyxl and python-pptx (scripts/test.sh)");
    assert!(
        output.status.success(),
        "the redacted {kind} fails its judge: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
