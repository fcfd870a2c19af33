//! Zip archives: each member is sanitized as the file it is, a member that cannot be is
//! replaced by a note (or fails the archive), and the archive is written anew.

use std::io::{Cursor, Write};
use std::process::Command;

use palisade_model::{CdrAction, CdrPolicy, FailedMembers, FailureCategory, SanitizationResult};
use palisade_test_support::{ooxml, pdf};
use zip::write::SimpleFileOptions;

use crate::sanitize;

fn zip(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in members {
        zip.start_file(*name, SimpleFileOptions::default()).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn member<'a>(parts: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &parts
        .iter()
        .find(|(member, _)| member == name)
        .unwrap_or_else(|| {
            let names: Vec<&String> = parts.iter().map(|(n, _)| n).collect();
            panic!("no {name} in {names:?}")
        })
        .1
}

#[test]
fn an_archive_comes_back_rebuilt_from_its_sanitized_members_with_notes_for_the_rest() {
    let inner = zip(&[("deep/active.pdf", pdf::active())]);
    let original = zip(&[
        ("docs/active.pdf", pdf::active()),
        ("docs/report.docm", ooxml::word_active()),
        ("notes.txt", b"plain text".to_vec()),
        ("broken.pdf", b"%PDF-1.7\nnot really".to_vec()),
        ("inner.zip", inner),
    ]);
    let run = sanitize("bundle.zip", &original, CdrPolicy::default());
    let details = run.details();
    assert_eq!(
        details.result,
        SanitizationResult::Sanitized,
        "{details:#?}"
    );
    assert_eq!(
        details.action(),
        ("Sanitized Partially", false),
        "{details:#?}"
    );
    assert!(
        details.description.contains("notes.txt") && details.description.contains("broken.pdf"),
        "{}",
        details.description
    );
    let nested: Vec<&str> = details
        .details
        .iter()
        .filter(|item| item.object_name == "Embedded document")
        .map(|item| item.file_name.as_str())
        .collect();
    assert_eq!(nested, ["docs/active.pdf", "docs/report.docm", "inner.zip"]);
    let pdf_item = details
        .details
        .iter()
        .find(|item| item.file_name == "docs/active.pdf")
        .unwrap();
    assert!(
        pdf_item
            .details
            .iter()
            .any(|item| item.object_name == "JavaScript" && item.action == CdrAction::Removed),
        "{pdf_item:?}"
    );
    let notes = details
        .details
        .iter()
        .find(|item| item.object_name == "Embedded file")
        .expect("the members left out are reported");
    assert_eq!(notes.count, 2, "{notes:?}");

    let parts = ooxml::parts(run.output());
    let names: Vec<&str> = parts.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "docs/active.pdf",
            "docs/report.docx",
            "notes.txt.removed.txt",
            "broken.pdf.removed.txt",
            "inner.zip"
        ]
    );
    let note = String::from_utf8_lossy(member(&parts, "notes.txt.removed.txt")).into_owned();
    assert!(
        note.contains("notes.txt") && note.contains("does not rebuild"),
        "{note}"
    );
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in [
        ("outer.pdf", member(&parts, "docs/active.pdf").to_vec()),
        (
            "inner.pdf",
            member(
                &ooxml::parts(member(&parts, "inner.zip")),
                "deep/active.pdf",
            )
            .to_vec(),
        ),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, &data).unwrap();
        let check = Command::new("qpdf")
            .arg("--check")
            .arg(&file)
            .status()
            .unwrap();
        assert!(check.success(), "{name} passes qpdf --check");
        let ids = Command::new("python3")
            .args(["-m", "pdfid"])
            .arg(&file)
            .output()
            .unwrap();
        let ids = String::from_utf8_lossy(&ids.stdout).into_owned();
        let js = ids
            .lines()
            .find(|line| line.trim_start().starts_with("/JS "))
            .unwrap_or_default();
        assert!(js.trim_end().ends_with(" 0"), "{name}: {js}");
    }
    // The archive tool of the platform lists it (a well-formed zip).
    let copy = dir.path().join("copy.zip");
    std::fs::write(&copy, run.output()).unwrap();
    let listed = Command::new("7zz").arg("t").arg(&copy).output().unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stdout)
    );

    let twice = sanitize("bundle.zip", &original, CdrPolicy::default());
    assert_eq!(twice.output(), run.output(), "the same bytes every time");

    let strict = CdrPolicy {
        failed_members: FailedMembers::Fail,
        ..CdrPolicy::default()
    };
    let run = sanitize("bundle.zip", &original, strict);
    assert_eq!(
        run.details().failure_category,
        Some(FailureCategory::FailedToSanitize),
        "{:?}",
        run.details()
    );
    assert!(
        run.details().description.contains("notes.txt"),
        "{:?}",
        run.details()
    );
    assert!(run.output.is_none());
}
