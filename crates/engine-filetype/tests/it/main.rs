//! Password-protected documents made by real tools (qpdf, msoffcrypto-tool from PyPI) are recognised as
//! Password Protected Document (15); their unprotected originals are not.

use std::path::Path;
use std::process::Command;

use palisade_engine_filetype::{FileTypeEngine, protected_document};
use palisade_model::{FileHashes, ScanResult};
use palisade_pipeline::{Engine, Limits, Sample, ScanContext};

fn run(dir: &Path, program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| panic!("{program} is installed (scripts/test.sh installs it): {e}"));
    assert!(status.success(), "{program} {args:?}");
}

fn scan(path: &Path) -> ScanResult {
    let hashes = FileHashes::default();
    let sample = Sample {
        path,
        size: std::fs::metadata(path).unwrap().len(),
        display_name: "doc",
        hashes: &hashes,
    };
    FileTypeEngine::default()
        .scan(&sample, &ScanContext::new(Limits::default()))
        .unwrap()
        .result
}

#[test]
fn encrypted_pdf_and_office_files_are_password_protected_documents() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A small valid PDF and a minimal Office Open XML package.
    let pdf = "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n\
               2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n\
               3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 100 100]>>endobj\n\
               trailer<</Root 1 0 R>>\n%%EOF\n";
    std::fs::write(d.join("plain.pdf"), pdf).unwrap();
    run(
        d,
        "qpdf",
        &[
            "--warning-exit-0",
            "--encrypt",
            "user",
            "owner",
            "256",
            "--",
            "plain.pdf",
            "locked.pdf",
        ],
    );
    {
        let file = std::fs::File::create(d.join("plain.docx")).unwrap();
        let mut zip = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("[Content_Types].xml", options).unwrap();
        std::io::Write::write_all(
            &mut zip,
            b"<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
              <Default Extension=\"xml\" ContentType=\"application/xml\"/></Types>",
        )
        .unwrap();
        zip.start_file("word/document.xml", options).unwrap();
        std::io::Write::write_all(
            &mut zip,
            b"<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"/>",
        )
        .unwrap();
        zip.finish().unwrap();
    }
    run(
        d,
        "python3",
        &[
            "-m",
            "msoffcrypto",
            "-e",
            "-p",
            "pw",
            "plain.docx",
            "locked.docx",
        ],
    );

    assert_eq!(
        scan(&d.join("locked.pdf")),
        ScanResult::PasswordProtectedDocument
    );
    assert_eq!(
        scan(&d.join("locked.docx")),
        ScanResult::PasswordProtectedDocument
    );
    assert_eq!(scan(&d.join("plain.pdf")), ScanResult::NoThreatDetected);
    assert_eq!(scan(&d.join("plain.docx")), ScanResult::NoThreatDetected);
    assert_eq!(
        protected_document(&d.join("locked.pdf")).unwrap(),
        Some("password-protected PDF")
    );
}
