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

/// A two-page PDF for redaction, in the base-14 Helvetica (no widths in the file). Page 1
/// shows a card number in one string and a social security number split over a `TJ` array and
/// a next-line `'`; an annotation comment, a form field, a bookmark, the document information,
/// XMP metadata and the text a marked-content span gives for its words (`/ActualText`, which
/// text extractors read) repeat them. Page 2 shows none. The values: `4556 7375 8689 9855` and
/// `536-22-8726`. With `in_form`, page 1 draws its text through a form XObject.
pub fn labelled_pdf(in_form: bool) -> Vec<u8> {
    use crate::pdf::{build, dict, stream};
    const VISA: &str = "4556 7375 8689 9855";
    let text = format!(
        "BT /F1 12 Tf 72 720 Td (Card number {VISA} on file) Tj 0 -20 Td 14 TL \
         [(SSN 536-) -10 (22-)] TJ (8726 for payroll) ' ET \
         /Span << /ActualText (card {VISA}) >> BDC BT /F1 12 Tf 72 600 Td (the card) Tj ET EMC"
    );
    let (page_content, form) = if in_form {
        (
            "q /Fm1 Do Q".to_string(),
            stream(
                "/Type /XObject /Subtype /Form /BBox [0 0 612 792] \
                 /Resources << /Font << /F1 5 0 R >> >>",
                text.as_bytes(),
            ),
        )
    } else {
        (text, dict("<< /Type /Note >>"))
    };
    let xmp = format!(
        "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><dc:title>Card {VISA}</dc:title></x:xmpmeta>"
    );
    build(
        &[
            dict(
                "<< /Type /Catalog /Pages 2 0 R /Outlines 11 0 R /AcroForm << /Fields [9 0 R] >> \
                 /Metadata 10 0 R >>",
            ),
            dict("<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>"),
            dict(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
                 /Resources << /Font << /F1 5 0 R >> /XObject << /Fm1 13 0 R >> >> \
                 /Annots [8 0 R 9 0 R] >>",
            ),
            stream("", page_content.as_bytes()),
            dict(
                "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
            ),
            dict(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 7 0 R \
                 /Resources << /Font << /F1 5 0 R >> >> >>",
            ),
            stream(
                "",
                b"BT /F1 12 Tf 72 720 Td (Second page, nothing to hide) Tj ET",
            ),
            dict(
                "<< /Type /Annot /Subtype /Text /Rect [10 10 30 30] \
                 /Contents (Her SSN is 536-22-8726) /AP << /N 12 0 R >> >>",
            ),
            dict(&format!(
                "<< /Type /Annot /Subtype /Widget /FT /Tx /T (card) /V ({VISA}) \
                 /Rect [100 100 300 120] >>"
            )),
            stream("/Type /Metadata /Subtype /XML", xmp.as_bytes()),
            dict("<< /Type /Outlines /First 14 0 R /Last 14 0 R /Count 1 >>"),
            stream(
                "/Type /XObject /Subtype /Form /BBox [0 0 20 20]",
                b"0 g 0 0 20 20 re f",
            ),
            form,
            dict(&format!("<< /Title (Card {VISA}) /Parent 11 0 R >>")),
            dict(&format!("<< /Title (Payments) /Keywords (card {VISA}) >>")),
        ],
        "/Info 15 0 R",
    )
}
