//! The Deep CDR engine on documents built at runtime, judged by qpdf where the output's
//! structure matters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use palisade_engine_cdr::CdrEngine;
use palisade_model::{
    ActiveObject, CdrPolicy, CdrVerdict, FailureCategory, FileHashes, SanitizationDetails,
    SanitizationResult, ScanResult, SignedDocuments,
};
use palisade_pipeline::{Engine, Finding, Limits, Sample, ScanContext, Section};
use palisade_test_support::pdf;

mod archives;
mod html;
mod images;
mod ole;
mod ooxml;

struct Run {
    finding: Finding,
    output: Option<Vec<u8>>,
    _dir: tempfile::TempDir,
}

impl Run {
    fn details(&self) -> &SanitizationDetails {
        match &self.finding.section {
            Section::Sanitization(details) => details,
            other => panic!("no sanitization details: {other:?}"),
        }
    }

    /// Count per object name.
    fn counts(&self) -> BTreeMap<String, u64> {
        self.details()
            .details
            .iter()
            .map(|item| (item.object_name.clone(), item.count))
            .collect()
    }

    fn output(&self) -> &[u8] {
        self.output.as_deref().expect("a sanitized copy")
    }
}

fn sanitize(name: &str, bytes: &[u8], policy: CdrPolicy) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample");
    std::fs::write(&path, bytes).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let hashes = FileHashes::default();
    let sample = Sample {
        path: &path,
        size: bytes.len() as u64,
        display_name: name,
        hashes: &hashes,
    };
    let context = ScanContext::with_output_dir(Limits::default(), &out).with_cdr(policy);
    let finding = CdrEngine::default()
        .scan(&sample, &context)
        .expect("the engine answers");
    let output = finding
        .outputs
        .first()
        .map(|output| std::fs::read(&output.path).unwrap());
    Run {
        finding,
        output,
        _dir: dir,
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `qpdf --check` passes, and the uncompressed copy qpdf writes.
fn qpdf_expanded(bytes: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.pdf", bytes);
    let check = Command::new("qpdf")
        .arg("--check")
        .arg(&input)
        .output()
        .expect("qpdf is installed (scripts/test.sh installs it)");
    assert!(
        check.status.success(),
        "qpdf --check: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let expanded = dir.path().join("qdf.pdf");
    let status = Command::new("qpdf")
        .args(["--qdf", "--object-streams=disable"])
        .arg(&input)
        .arg(&expanded)
        .status()
        .unwrap();
    assert!(status.success(), "qpdf --qdf");
    std::fs::read(expanded).unwrap()
}

fn pages(bytes: &[u8]) -> u32 {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.pdf", bytes);
    let out = Command::new("qpdf")
        .arg("--show-npages")
        .arg(&input)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn every_kind_of_active_content_is_counted_and_gone_from_a_valid_rebuilt_pdf() {
    let run = sanitize("active.pdf", &pdf::active(), CdrPolicy::default());
    let details = run.details();
    assert_eq!(details.result, SanitizationResult::Sanitized, "{details:?}");
    assert_eq!(run.finding.result, ScanResult::NoThreatDetected);
    let expected: BTreeMap<String, u64> = pdf::ACTIVE_REMOVALS
        .into_iter()
        .map(|(name, count)| (name.to_string(), count))
        .collect();
    assert_eq!(run.counts(), expected, "{details:#?}");
    let scripts = &details
        .details
        .iter()
        .find(|item| item.object_name == "JavaScript")
        .unwrap()
        .object_details;
    assert!(
        scripts.iter().any(|d| d.contains("open_action_js")),
        "a script's first line is shown: {scripts:?}"
    );

    let output = run.output();
    assert_eq!(run.finding.outputs[0].name, "active_sanitized.pdf");
    let info = details.sanitized_file_info.as_ref().unwrap();
    assert_eq!(info.file_size, output.len() as u64);
    for marker in pdf::ACTIVE_MARKERS {
        assert!(!contains(output, marker), "{marker} is still in the copy");
    }
    let expanded = qpdf_expanded(output);
    for key in pdf::ACTIVE_KEYS {
        assert!(!contains(&expanded, key), "{key} is still in the copy");
    }
    assert!(contains(&expanded, "(Hello)"), "the page's text stays");
    assert!(
        contains(&expanded, "https://example.com/"),
        "hyperlinks stay by default"
    );
    assert_eq!(pages(output), 1);
}

#[test]
fn the_same_input_gives_the_same_bytes_and_a_copy_sanitized_again_loses_nothing() {
    let first = sanitize("a.pdf", &pdf::active(), CdrPolicy::default());
    let second = sanitize("a.pdf", &pdf::active(), CdrPolicy::default());
    assert_eq!(first.output(), second.output());
    let again = sanitize("a.pdf", first.output(), CdrPolicy::default());
    assert_eq!(again.details().result, SanitizationResult::Sanitized);
    assert!(
        again.details().details.is_empty(),
        "{:?}",
        again.details().details
    );
    assert_eq!(again.output(), first.output(), "a rebuild is a fixed point");
}

#[test]
fn rule_settings_keep_or_remove_object_kinds_and_block_on_them() {
    let mut policy = CdrPolicy::default();
    policy.remove.insert(ActiveObject::Hyperlink, true);
    policy.remove.insert(ActiveObject::Metadata, false);
    let run = sanitize("a.pdf", &pdf::active(), policy);
    let counts = run.counts();
    assert_eq!(counts.get("Hyperlink"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("Metadata"), None, "{counts:?}");
    assert!(!contains(run.output(), "https://example.com/"));
    assert!(contains(run.output(), "author_marker"), "metadata kept");
    assert!(contains(run.output(), "metadata_marker"), "XMP kept");

    let policy = CdrPolicy {
        block_on: vec![ActiveObject::Javascript],
        ..CdrPolicy::default()
    };
    let run = sanitize("a.pdf", &pdf::active(), policy);
    assert_eq!(run.finding.result, ScanResult::BlockedVerdictByDeepCdr);
    assert_eq!(run.details().verdict, CdrVerdict::Blocked);
    assert_eq!(run.details().verdict_explanations, ["Contains JavaScript"]);
    assert!(run.output.is_none(), "a blocked file gets no copy");
    let plain = sanitize(
        "p.pdf",
        &pdf::plain("fine"),
        CdrPolicy {
            block_on: vec![ActiveObject::Javascript],
            ..CdrPolicy::default()
        },
    );
    assert_eq!(plain.finding.result, ScanResult::NoThreatDetected);
    assert_eq!(plain.details().verdict, CdrVerdict::Allowed);

    let run = sanitize(
        "a.pdf",
        &pdf::active(),
        CdrPolicy {
            analysis_only: true,
            ..CdrPolicy::default()
        },
    );
    assert_eq!(run.details().result, SanitizationResult::Skipped);
    assert_eq!(run.counts().get("JavaScript"), Some(&6));
    assert!(run.output.is_none(), "analysis only writes nothing");

    let run = sanitize(
        "a.pdf",
        &pdf::active(),
        CdrPolicy {
            formats: vec!["docx".into()],
            ..CdrPolicy::default()
        },
    );
    assert_eq!(run.details().result, SanitizationResult::Skipped);
    assert!(run.output.is_none());
}

#[test]
fn signed_documents_are_skipped_blocked_or_sanitized_as_the_rule_says() {
    let run = sanitize("s.pdf", &pdf::signed(), CdrPolicy::default());
    assert_eq!(run.details().result, SanitizationResult::Skipped);
    assert!(run.details().description.contains("digitally signed"));
    assert!(run.output.is_none());

    let block = CdrPolicy {
        signed: SignedDocuments::Block,
        ..CdrPolicy::default()
    };
    let run = sanitize("s.pdf", &pdf::signed(), block);
    assert_eq!(run.finding.result, ScanResult::BlockedVerdictByDeepCdr);
    assert_eq!(run.details().verdict, CdrVerdict::Blocked);

    let anyway = CdrPolicy {
        signed: SignedDocuments::Sanitize,
        ..CdrPolicy::default()
    };
    let run = sanitize("s.pdf", &pdf::signed(), anyway);
    assert_eq!(run.details().result, SanitizationResult::Sanitized);
    assert!(!contains(run.output(), "signed_js"));
}

#[test]
fn files_that_cannot_be_sanitized_say_why_and_are_never_called_sanitized() {
    let run = sanitize("notes.txt", b"just some text", CdrPolicy::default());
    assert_eq!(run.details().result, SanitizationResult::Skipped);
    assert!(run.output.is_none());

    let run = sanitize(
        "broken.pdf",
        b"%PDF-1.7\nthis is not a pdf",
        CdrPolicy::default(),
    );
    assert_eq!(run.details().result, SanitizationResult::Failed);
    assert_eq!(
        run.details().failure_category,
        Some(FailureCategory::InvalidStructure),
        "{:?}",
        run.details()
    );
    assert!(run.output.is_none());

    let small = CdrPolicy {
        max_file_size: 100,
        ..CdrPolicy::default()
    };
    let run = sanitize("big.pdf", &pdf::active(), small);
    assert_eq!(
        run.details().failure_category,
        Some(FailureCategory::ExceededFileSize)
    );

    let encrypted = pdf::build(
        &[
            pdf::dict("<< /Type /Catalog /Pages 2 0 R >>"),
            pdf::dict("<< /Type /Pages /Kids [] /Count 0 >>"),
            pdf::dict(
                "<< /Filter /Standard /V 2 /R 3 /Length 128 /P -4 \
                 /O <0000000000000000000000000000000000000000000000000000000000000000> \
                 /U <0000000000000000000000000000000000000000000000000000000000000000> >>",
            ),
        ],
        "/Encrypt 3 0 R /ID [<00112233445566778899aabbccddeeff> <00112233445566778899aabbccddeeff>]",
    );
    let run = sanitize("locked.pdf", &encrypted, CdrPolicy::default());
    assert_eq!(
        run.details().failure_category,
        Some(FailureCategory::PasswordProtected),
        "{:?}",
        run.details()
    );
    assert!(run.output.is_none());
}

#[test]
fn clamav_test_pdf_loses_its_embedded_program() {
    let original = std::fs::read("/usr/share/clamav-testfiles/clam.pdf")
        .expect("clamav-testfiles is installed (scripts/test.sh installs it)");
    let run = sanitize("clam.pdf", &original, CdrPolicy::default());
    assert_eq!(run.details().result, SanitizationResult::Sanitized);
    assert!(run.counts().get("Embedded file").is_some_and(|n| *n >= 1));
    qpdf_expanded(run.output());
    // clam.exe starts with MZ and carries ClamAV's test string; neither survives.
    assert!(
        !contains(run.output(), "CLAMAV"),
        "the embedded program is gone"
    );
}

/// oletools' rtfobj: how many OLE objects it finds.
fn rtfobj_objects(bytes: &[u8]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "doc.rtf", bytes);
    let out = Command::new("rtfobj")
        .arg(&file)
        .output()
        .expect("rtfobj (oletools) is installed (scripts/test.sh installs it)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| {
            // A table row per object: its number, then `|`.
            let id = line.split('|').next().unwrap_or_default().trim();
            !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
        })
        .count()
}

#[test]
fn rtf_objects_and_fields_that_run_or_fetch_are_removed_and_the_text_stays() {
    use palisade_test_support::rtf;
    let original = rtf::active();
    assert_eq!(rtfobj_objects(&original), 1, "rtfobj sees the object");
    let run = sanitize("letter.rtf", &original, CdrPolicy::default());
    assert_eq!(run.details().result, SanitizationResult::Sanitized);
    let expected: BTreeMap<String, u64> = rtf::ACTIVE_REMOVALS
        .into_iter()
        .map(|(name, count)| (name.to_string(), count))
        .collect();
    assert_eq!(run.counts(), expected, "{:#?}", run.details());
    let copy = run.output();
    assert_eq!(run.finding.outputs[0].name, "letter_sanitized.rtf");
    for marker in rtf::ACTIVE_MARKERS {
        assert!(!contains(copy, marker), "{marker} is still in the copy");
    }
    for kept in ["Hello RTF", "dde result", "https://example.com/", "a link"] {
        assert!(contains(copy, kept), "{kept} stays");
    }
    assert_eq!(
        rtfobj_objects(copy),
        0,
        "rtfobj finds no object in the copy"
    );
    let again = sanitize("letter.rtf", copy, CdrPolicy::default());
    assert!(again.details().details.is_empty(), "{:?}", again.details());
    assert_eq!(again.output(), copy);

    let mut links = CdrPolicy::default();
    links.remove.insert(ActiveObject::Hyperlink, true);
    let run = sanitize("letter.rtf", &original, links);
    assert!(!contains(run.output(), "https://example.com/"));
    assert!(contains(run.output(), "a link"), "the link's text stays");

    let run = sanitize(
        "clam.exe.rtf",
        &std::fs::read("/usr/share/clamav-testfiles/clam.exe.rtf").unwrap(),
        CdrPolicy::default(),
    );
    assert_eq!(
        run.counts().get("Embedded OLE object"),
        Some(&1),
        "{:?}",
        run.details()
    );
    assert_eq!(rtfobj_objects(run.output()), 0);

    for broken in [
        &b"{\\rtf1 never closed"[..],
        b"{\\rtf1 {\\object never closed",
    ] {
        let run = sanitize("broken.rtf", broken, CdrPolicy::default());
        assert_eq!(
            run.details().result,
            SanitizationResult::Failed,
            "{:?}",
            run.details()
        );
        assert_eq!(
            run.details().failure_category,
            Some(FailureCategory::InvalidStructure)
        );
    }
    let deep = format!("{{\\rtf1 {}x{}}}", "{".repeat(200_000), "}".repeat(200_000));
    let run = sanitize("deep.rtf", deep.as_bytes(), CdrPolicy::default());
    assert_eq!(
        run.details().failure_category,
        Some(FailureCategory::InvalidStructure)
    );
}

#[test]
fn a_file_past_the_time_limit_is_a_time_out_and_gets_no_copy() {
    let hurried = CdrPolicy {
        time_limit_ms: 0,
        ..CdrPolicy::default()
    };
    let run = sanitize("slow.pdf", &pdf::pages(50, 1_000), hurried);
    let details = run.details();
    assert_eq!(
        details.failure_category,
        Some(FailureCategory::TimedOut),
        "{details:?}"
    );
    assert_eq!(details.action(), ("Sanitization Timed Out", true));
    assert!(run.output.is_none());
}

#[test]
fn svg_comes_back_as_static_drawing_that_renders_and_reaches_nothing_outside() {
    use palisade_test_support::svg;
    let run = sanitize("drawing.svg", &svg::active(), CdrPolicy::default());
    assert_eq!(
        run.details().result,
        SanitizationResult::Sanitized,
        "{:?}",
        run.details()
    );
    let expected: BTreeMap<String, u64> = svg::ACTIVE_REMOVALS
        .into_iter()
        .map(|(name, count)| (name.to_string(), count))
        .collect();
    assert_eq!(run.counts(), expected, "{:#?}", run.details());
    let copy = run.output();
    for marker in svg::ACTIVE_MARKERS {
        assert!(!contains(copy, marker), "{marker} is still in the copy");
    }
    for kept in [
        "Hello SVG",
        "https://example.com/",
        "url(#g)",
        "data:image/png",
    ] {
        assert!(contains(copy, kept), "{kept} stays");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "copy.svg", copy);
    let rendered = dir.path().join("copy.png");
    let status = Command::new("rsvg-convert")
        .arg("-o")
        .arg(&rendered)
        .arg(&file)
        .status()
        .expect("rsvg-convert (librsvg2-bin) is installed (scripts/test.sh installs it)");
    assert!(status.success(), "librsvg renders the copy");
    let checked = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as ET\n\
             root = ET.parse(sys.argv[1]).getroot()\n\
             bad = [e.tag for e in root.iter() if e.tag.split('}')[-1] in \
             ('script', 'foreignObject', 'animate', 'set')]\n\
             bad += [k for e in root.iter() for k in e.attrib if k.split('}')[-1].startswith('on')]\n\
             print(root.get('width'), root.get('height'), bad)",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&checked.stdout).trim(), "120 80 []");
    let again = sanitize("drawing.svg", copy, CdrPolicy::default());
    assert!(again.details().details.is_empty(), "{:?}", again.details());
    assert_eq!(again.output(), copy);

    let run = sanitize(
        "x.svg",
        b"<svg xmlns=\"http://www.w3.org/2000/svg\"><g></svg>",
        CdrPolicy::default(),
    );
    assert_eq!(
        run.details().failure_category,
        Some(FailureCategory::InvalidStructure)
    );
    let html = sanitize(
        "page.html",
        b"<!DOCTYPE html><html><svg></svg></html>",
        CdrPolicy::default(),
    );
    assert!(
        html.details().description.starts_with("HTML rebuilt"),
        "HTML is not taken for SVG: {:?}",
        html.details()
    );
}

/// The benign test documents of oletools' source distribution (`tests/test-data`), which
/// scripts/test.sh downloads into `target/test-data`.
fn oletools_data(relative: &str) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-data/oletools-0.60.2/tests/test-data");
    std::fs::read(root.join(relative)).unwrap_or_else(|e| {
        panic!(
            "{relative}: {e} (scripts/test.sh downloads the oletools sdist into target/test-data)"
        )
    })
}

#[test]
fn the_oletools_rtf_samples_lose_their_objects_and_keep_their_text() {
    let sample = oletools_data("rtfobj/issue_251.rtf");
    assert_eq!(rtfobj_objects(&sample), 1);
    let run = sanitize("issue_251.rtf", &sample, CdrPolicy::default());
    assert_eq!(
        run.counts().get("Embedded OLE object"),
        Some(&1),
        "{:?}",
        run.details()
    );
    assert_eq!(rtfobj_objects(run.output()), 0);

    // The RTF specification itself (2 MB of real Word output): nothing active, so the copy
    // keeps all of its text.
    let spec = oletools_data("msodde/RTF-Spec-1.7.rtf");
    let run = sanitize("spec.rtf", &spec, CdrPolicy::default());
    assert_eq!(
        run.details().result,
        SanitizationResult::Sanitized,
        "{:?}",
        run.details()
    );
    let removed: Vec<&str> = run
        .details()
        .details
        .iter()
        .map(|i| i.object_name.as_str())
        .collect();
    assert!(
        removed.iter().all(|name| *name == "Metadata"),
        "only the document information goes: {removed:?}"
    );
    assert!(contains(
        run.output(),
        "Rich Text Format (RTF) Specification"
    ));
    assert!(run.output().len() > spec.len() * 9 / 10, "the text stays");
}
