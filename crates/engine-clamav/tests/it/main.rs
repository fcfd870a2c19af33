//! The ClamAV engine against a real clamd.

use std::time::Duration;

use palisade_engine_clamav::{ClamavEngine, ClamavSettings, ClamdAddress};
use palisade_model::{FileHashes, ScanResult};
use palisade_pipeline::{Engine, EngineError, Limits, Sample};
use palisade_test_support::{Clamd, eicar};

fn engine(clamd: &Clamd) -> ClamavEngine {
    ClamavEngine::new(ClamavSettings {
        id: "clamav".into(),
        name: "ClamAV".into(),
        address: ClamdAddress::Unix(clamd.socket()),
        timeout: Duration::from_secs(10),
    })
}

fn scan(engine: &ClamavEngine, bytes: &[u8]) -> Result<palisade_pipeline::Finding, EngineError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample");
    std::fs::write(&path, bytes).unwrap();
    let hashes = FileHashes::default();
    engine.scan(
        &Sample {
            path: &path,
            size: bytes.len() as u64,
            display_name: "sample",
            hashes: &hashes,
        },
        &Limits::default(),
    )
}

#[test]
fn detects_eicar_with_its_signature_name_and_passes_clean_files() {
    let clamd = Clamd::start("");
    let engine = engine(&clamd);
    let finding = scan(&engine, &eicar()).unwrap();
    assert_eq!(finding.result, ScanResult::Infected);
    assert_eq!(finding.threat_found, "Test.EICAR.HDB.UNOFFICIAL");
    let clean = scan(&engine, b"nothing to see here").unwrap();
    assert_eq!(clean.result, ScanResult::NoThreatDetected);
    let status = engine.status();
    assert_eq!(status.state, "production");
    assert!(status.version.starts_with(char::is_numeric), "{status:?}");
}

#[test]
fn files_over_stream_max_length_are_not_scanned_never_clean() {
    let clamd = Clamd::start("StreamMaxLength 1K");
    let engine = engine(&clamd);
    let error = scan(&engine, &vec![b'a'; 64 * 1024]).unwrap_err();
    assert!(
        matches!(error, EngineError::NotScanned(ref r) if r.contains("StreamMaxLength")),
        "{error:?}"
    );
}

#[test]
fn a_dead_clamd_fails_the_scan_and_recovery_is_automatic() {
    let mut clamd = Clamd::start("");
    let engine = engine(&clamd);
    clamd.kill();
    let error = scan(&engine, &eicar()).unwrap_err();
    assert!(
        matches!(error, EngineError::Failed(ref r) if r.contains("unreachable")),
        "{error:?}"
    );
    assert_eq!(engine.status().state, "failed");
    clamd.restart();
    assert_eq!(
        scan(&engine, &eicar()).unwrap().result,
        ScanResult::Infected
    );
    assert_eq!(engine.status().state, "production");
}

#[test]
fn every_clamav_test_file_is_detected() {
    let clamd = Clamd::start("");
    let engine = engine(&clamd);
    let dir = std::path::Path::new("/usr/share/clamav-testfiles");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("clamav-testfiles is installed (scripts/test.sh installs it)")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 44);
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let finding = scan(&engine, &bytes).unwrap();
        assert_eq!(finding.result, ScanResult::Infected, "{}", path.display());
        assert!(
            finding.threat_found.starts_with("Test.ClamExe"),
            "{}",
            finding.threat_found
        );
    }
}
