//! The command-line scanner engine running the real clamscan, and misbehaving programs.

use std::path::Path;
use std::time::{Duration, Instant};

use palisade_engine_command::{CommandEngine, CommandSettings};
use palisade_model::{FileHashes, ScanResult};
use palisade_pipeline::{Engine, EngineError, Finding, Limits, Sample, ScanContext};
use palisade_test_support::{Clamd, eicar};

fn settings(command: &[&str]) -> CommandSettings {
    CommandSettings {
        id: "clamscan".into(),
        name: "ClamScan".into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        clean_codes: vec![0],
        infected_codes: vec![1],
        suspicious_codes: Vec::new(),
        threat_pattern: Some(regex::Regex::new(r"(?m): (.+) FOUND$").unwrap()),
        timeout: Duration::from_secs(30),
        scratch_dir: None,
        version_command: None,
        definitions: None,
        max_output: 64 * 1024,
        produces: None,
    }
}

/// clamscan on the signature database a test clamd uses (the daemon itself is not involved).
fn clamscan(db: &Path) -> CommandSettings {
    let db = db.to_string_lossy().into_owned();
    let mut settings = settings(&["clamscan", "--no-summary", "-d", &db, "{path}"]);
    settings.version_command = Some(vec!["clamscan".into(), "--version".into()]);
    settings.definitions = Some(db.into());
    settings
}

fn scan(engine: &CommandEngine, name: &str, bytes: &[u8]) -> Result<Finding, EngineError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample");
    std::fs::write(&path, bytes).unwrap();
    let outputs = dir.path().join("outputs");
    std::fs::create_dir(&outputs).unwrap();
    let hashes = FileHashes::default();
    let result = engine.scan(
        &Sample {
            path: &path,
            size: bytes.len() as u64,
            display_name: name,
            hashes: &hashes,
        },
        &ScanContext::with_output_dir(Limits::default(), &outputs),
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the stored sample is untouched"
    );
    result
}

#[test]
fn clamscan_detections_are_named_and_clean_files_pass() {
    let clamd = Clamd::start("");
    let engine = CommandEngine::new(clamscan(&clamd.database_dir()));
    // Until its first check (on the blocking pool at start), an engine is not known to work.
    assert_eq!(
        engine.status(),
        palisade_pipeline::EngineStatus::not_checked()
    );
    let status = engine.refresh();
    assert_eq!(engine.status(), status, "status() answers the last check");
    assert_eq!(
        status.state,
        palisade_model::EngineState::Production,
        "{status:?}"
    );
    assert!(status.version.starts_with("ClamAV"), "{status:?}");
    assert!(!status.def_time.is_empty());

    let finding = scan(&engine, "../../invoice; rm -rf ~.com", &eicar()).unwrap();
    assert_eq!(finding.result, ScanResult::Infected);
    assert_eq!(finding.threat_found, "Test.EICAR.HDB.UNOFFICIAL");
    let clean = scan(&engine, "notes.txt", b"meeting at ten").unwrap();
    assert_eq!(clean.result, ScanResult::NoThreatDetected);
}

#[test]
fn unlisted_exit_codes_and_missing_programs_fail() {
    // clamscan exits 2 when its database is missing.
    let engine = CommandEngine::new(clamscan(Path::new("/nonexistent/db")));
    let error = scan(&engine, "a", b"x").unwrap_err();
    assert!(
        matches!(error, EngineError::Failed(ref r) if r.contains("code 2")),
        "{error:?}"
    );

    let missing = CommandEngine::new(settings(&["/nonexistent/scanner", "{path}"]));
    assert_eq!(
        missing.refresh().state,
        palisade_model::EngineState::PermanentlyFailed
    );
    assert!(matches!(
        scan(&missing, "a", b"x"),
        Err(EngineError::Failed(_))
    ));

    let crashing = CommandEngine::new(settings(&["sh", "-c", "kill -SEGV $$"]));
    assert!(matches!(
        scan(&crashing, "a", b"x"),
        Err(EngineError::Failed(ref r)) if r.contains("signal")
    ));
}

#[test]
fn a_hanging_scanner_is_killed_with_its_children_at_the_timeout() {
    let marker = format!("sleep 3{}", std::process::id() % 1000);
    let script = format!("{marker} & {marker}; true");
    let mut hanging = settings(&["sh", "-c", &script]);
    hanging.timeout = Duration::from_millis(300);
    let engine = CommandEngine::new(hanging);
    let started = Instant::now();
    let error = scan(&engine, "a", b"x").unwrap_err();
    assert!(
        matches!(error, EngineError::NotScanned(ref r) if r.contains("timed out")),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(100));
    let left = std::process::Command::new("pgrep")
        .args(["-f", &marker])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "left running: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

#[test]
fn output_is_bounded_and_scanners_get_a_private_copy() {
    // 50 MB of output, then "infected" with no recognisable name.
    let noisy = CommandEngine::new(settings(&[
        "sh",
        "-c",
        "head -c 50000000 /dev/zero | tr '\\0' 'a'; exit 1",
    ]));
    let finding = scan(&noisy, "a", b"x").unwrap();
    assert_eq!(finding.result, ScanResult::Infected);
    assert_eq!(finding.threat_found, "detected by ClamScan");

    // A scanner that deletes what it scans (quarantine) must not touch the stored file;
    // `scan` asserts the original is unchanged.
    let deleting = CommandEngine::new(settings(&["rm", "-f", "{path}"]));
    assert_eq!(
        scan(&deleting, "a", b"keep me").unwrap().result,
        ScanResult::NoThreatDetected
    );
}

#[test]
fn a_sanitizer_program_returns_its_copy_and_one_that_writes_none_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input");
    std::fs::write(&path, b"%PDF-1.4 original").unwrap();
    let outputs = dir.path().join("outputs");
    std::fs::create_dir(&outputs).unwrap();
    let hashes = FileHashes::default();
    let sample = Sample {
        path: &path,
        size: 17,
        display_name: "dir/Report 1.pdf",
        hashes: &hashes,
    };
    let context = ScanContext::with_output_dir(Limits::default(), &outputs);
    let sanitizer = |script: &str| {
        CommandEngine::new(CommandSettings {
            produces: Some(palisade_model::OutputKind::Sanitized),
            ..settings(&["sh", "-c", script, "{path}", "{output}"])
        })
    };

    let copying = sanitizer("tr a-z A-Z < \"$0\" > \"$1\"");
    assert_eq!(copying.descriptor().stage, palisade_pipeline::Stage::Cdr);
    assert!(!copying.descriptor().in_scan_details);
    let finding = copying.scan(&sample, &context).unwrap();
    assert_eq!(finding.result, ScanResult::NoThreatDetected);
    let [output] = finding.outputs.as_slice() else {
        panic!("one output: {finding:?}");
    };
    assert_eq!(output.kind, palisade_model::OutputKind::Sanitized);
    assert_eq!(output.name, "Report 1.pdf", "the name a download offers");
    assert_eq!(output.path.parent(), Some(outputs.as_path()));
    assert_eq!(std::fs::read(&output.path).unwrap(), b"%PDF-1.4 ORIGINAL");

    let idle = sanitizer("exit 0");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let error = idle
        .scan(
            &sample,
            &ScanContext::with_output_dir(Limits::default(), &empty),
        )
        .unwrap_err();
    assert!(
        error.to_string().contains("wrote no sanitized copy"),
        "{error}"
    );

    // Without an output directory (an engine the worker was not told produces copies).
    let error = copying
        .scan(&sample, &ScanContext::new(Limits::default()))
        .unwrap_err();
    assert!(error.to_string().contains("no output directory"), "{error}");
}
