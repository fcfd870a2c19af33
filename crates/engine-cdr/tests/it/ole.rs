//! Legacy Office (OLE2 doc, xls, ppt): the clamav-testfiles documents and oletools' samples
//! lose their objects and macros by oletools' judgement, and headless LibreOffice still
//! converts the copies.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use palisade_model::{
    CdrAction, CdrPolicy, CdrVerdict, FailureCategory, SanitizationResult, ScanResult,
};

use crate::ooxml::{libreoffice_pages, oleobj_extracts, olevba_finds_macros};
use crate::{Run, oletools_data, sanitize};

fn removed(run: &Run, name: &str) -> u64 {
    run.details()
        .details
        .iter()
        .filter(|item| item.action == CdrAction::Removed && item.object_name == name)
        .map(|item| item.count)
        .sum()
}

/// The stream and storage paths of a compound file.
fn entries(bytes: &[u8]) -> Vec<String> {
    let file = cfb::CompoundFile::open(Cursor::new(bytes)).expect("a compound file");
    file.walk()
        .map(|entry| entry.path().display().to_string())
        .collect()
}

/// `document` with the VBA project of oletools' `oleform-PR314.docm` grafted in as the
/// storage `at` (`/Macros` in Word, `/_VBA_PROJECT_CUR` in Excel), stream for stream.
fn with_vba(document: &[u8], at: &str) -> Vec<u8> {
    let package = oletools_data("oleform/oleform-PR314.docm");
    let project = palisade_test_support::ooxml::parts(&package)
        .into_iter()
        .find(|(name, _)| name == "word/vbaProject.bin")
        .unwrap()
        .1;
    let source = cfb::CompoundFile::open(Cursor::new(project.clone())).unwrap();
    let paths: Vec<(PathBuf, bool)> = source
        .walk()
        .map(|entry| (entry.path().to_path_buf(), entry.is_stream()))
        .collect();
    let mut source = cfb::CompoundFile::open(Cursor::new(project)).unwrap();
    let mut target = cfb::CompoundFile::open(Cursor::new(document.to_vec())).unwrap();
    target.create_storage(at).unwrap();
    for (path, stream) in paths {
        let relative = path.strip_prefix("/").unwrap();
        if relative.as_os_str().is_empty() {
            continue;
        }
        let destination = Path::new(at).join(relative);
        if stream {
            let mut data = Vec::new();
            source
                .open_stream(&path)
                .unwrap()
                .read_to_end(&mut data)
                .unwrap();
            target
                .create_stream(&destination)
                .unwrap()
                .write_all(&data)
                .unwrap();
        } else {
            target.create_storage(&destination).unwrap();
        }
    }
    target.flush().unwrap();
    target.into_inner().into_inner()
}

/// Sanitizing the copy again removes nothing, and the same input gives the same bytes.
fn assert_stable(name: &str, original: &[u8], run: &Run) {
    let again = sanitize(name, run.output(), CdrPolicy::default());
    assert!(
        again
            .details()
            .details
            .iter()
            .all(|item| item.action != CdrAction::Removed),
        "{name}: {:?}",
        again.details()
    );
    let twice = sanitize(name, original, CdrPolicy::default());
    assert_eq!(twice.output(), run.output(), "{name}: the same bytes");
}

#[test]
fn legacy_office_documents_lose_their_objects_and_macros_and_still_open() {
    let dir = tempfile::tempdir().unwrap();
    let clam = |name: &str| {
        std::fs::read(format!("/usr/share/clamav-testfiles/{name}"))
            .expect("clamav-testfiles is installed (scripts/test.sh installs it)")
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("clam.ole.doc", clam("clam.ole.doc"), "Embedded OLE object"),
        ("clam.ppt", clam("clam.ppt"), "Embedded OLE object"),
        (
            "embedded-simple-2007.doc",
            oletools_data("oleobj/embedded-simple-2007.doc"),
            "Embedded OLE object",
        ),
        (
            "embedded-simple-2007.xls",
            oletools_data("oleobj/embedded-simple-2007.xls"),
            "Embedded OLE object",
        ),
        (
            "embedded-simple-2007.ppt",
            oletools_data("oleobj/embedded-simple-2007.ppt"),
            "Embedded OLE object",
        ),
        (
            "sample_with_vba.ppt",
            oletools_data("olevba/sample_with_vba.ppt"),
            "Macro",
        ),
        (
            "macros.doc",
            with_vba(&oletools_data("msodde/harmless-clean.doc"), "/Macros"),
            "Macro",
        ),
        (
            "macros.xls",
            with_vba(
                &oletools_data("oleobj/embedded-simple-2007.xls"),
                "/_VBA_PROJECT_CUR",
            ),
            "Macro",
        ),
    ];
    let mut copies = Vec::new();
    let dde = oletools_data("msodde/dde-test-from-office2016.doc");
    let run = sanitize("dde.doc", &dde, CdrPolicy::default());
    assert!(removed(&run, "DDE field") >= 3, "{:?}", run.details());
    let original_file = dir.path().join("original-dde.doc");
    std::fs::write(&original_file, &dde).unwrap();
    let file = dir.path().join("dde.doc");
    std::fs::write(&file, run.output()).unwrap();
    assert!(!crate::ooxml::msodde_links(&original_file).is_empty());
    assert_eq!(crate::ooxml::msodde_links(&file), Vec::<String>::new());
    assert_stable("dde.doc", &dde, &run);
    copies.push(file);
    for (name, original, kind) in &cases {
        let run = sanitize(name, original, CdrPolicy::default());
        let details = run.details();
        assert_eq!(
            details.result,
            SanitizationResult::Sanitized,
            "{name}: {details:#?}"
        );
        assert!(removed(&run, kind) >= 1, "{name}: {kind}: {details:#?}");
        let extension = name.rsplit('.').next().unwrap();
        assert!(
            run.finding.outputs[0]
                .name
                .ends_with(&format!("_sanitized.{extension}")),
            "{name}: {}",
            run.finding.outputs[0].name
        );
        let original_file = dir.path().join(format!("original-{name}"));
        std::fs::write(&original_file, original).unwrap();
        let file = dir.path().join(name);
        std::fs::write(&file, run.output()).unwrap();
        let paths = entries(run.output());
        assert!(
            !paths.iter().any(|path| path.contains("ObjectPool/")
                || path.contains("/MBD")
                || path.contains("Macros")
                || path.contains("_VBA_PROJECT_CUR")
                || path.contains("SummaryInformation")),
            "{name}: {paths:?}"
        );
        if *kind == "Macro" {
            assert!(olevba_finds_macros(&original_file), "{name}");
            assert!(!olevba_finds_macros(&file), "{name}");
            assert!(
                details.details.iter().any(|item| item
                    .object_details
                    .iter()
                    .any(|detail| detail.contains("modules"))),
                "{name}: the modules are named: {details:?}"
            );
            crate::ooxml::assert_macro_lines_match_olevba(&run, &original_file);
        } else if !name.ends_with(".ppt") {
            assert!(oleobj_extracts(&original_file) > 0, "{name}");
            assert_eq!(oleobj_extracts(&file), 0, "{name}");
        }
        assert_stable(name, original, &run);
        copies.push(file);
    }
    let pages = libreoffice_pages(&copies);
    for (file, pages) in copies.iter().zip(pages) {
        assert!(pages >= 1, "LibreOffice converts {}", file.display());
    }
}

#[test]
fn excel_4_macro_sheets_block_a_legacy_workbook_and_encrypted_documents_say_so() {
    let run = sanitize(
        "excel4.xls",
        &oletools_data("excel4-macros/excel4_sample_macro.xls"),
        CdrPolicy::default(),
    );
    assert_eq!(run.finding.result, ScanResult::BlockedVerdictByDeepCdr);
    let details = run.details();
    assert_eq!(details.verdict, CdrVerdict::Blocked, "{details:?}");
    assert!(
        details.verdict_explanations[0].contains("Excel 4 macro sheet"),
        "{details:?}"
    );
    assert!(run.output.is_none());

    for encrypted in [
        "encrypted/encrypted.doc",
        "encrypted/encrypted.xls",
        "encrypted/encrypted.ppt",
        "encrypted/encrypted.docx",
        "encrypted/encrypted.xlsm",
    ] {
        let run = sanitize(
            encrypted.rsplit('/').next().unwrap(),
            &oletools_data(encrypted),
            CdrPolicy::default(),
        );
        assert_eq!(
            run.details().failure_category,
            Some(FailureCategory::PasswordProtected),
            "{encrypted}: {:?}",
            run.details()
        );
        assert!(run.output.is_none());
    }
}
