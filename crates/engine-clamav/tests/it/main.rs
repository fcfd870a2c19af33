//! The ClamAV engine against a real clamd.

use std::time::Duration;

use palisade_engine_clamav::{ClamavEngine, ClamavSettings, ClamdAddress};
use palisade_model::ScanResult;
use palisade_pipeline::{Engine, EngineError, Finding};
use palisade_test_support::{Clamd, eicar};

fn engine(clamd: &Clamd) -> ClamavEngine {
    ClamavEngine::new(ClamavSettings {
        id: "clamav".into(),
        name: "ClamAV".into(),
        address: ClamdAddress::Unix(clamd.socket()),
        timeout: Duration::from_secs(10),
    })
}

fn scan(engine: &dyn Engine, bytes: &[u8]) -> Result<Finding, EngineError> {
    palisade_test_support::scan_bytes(engine, "sample", bytes)
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
    assert_eq!(status.state, palisade_model::EngineState::Production);
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
    assert_eq!(
        engine.status().state,
        palisade_model::EngineState::TemporaryFailed
    );
    clamd.restart();
    assert_eq!(
        scan(&engine, &eicar()).unwrap().result,
        ScanResult::Infected
    );
    assert_eq!(
        engine.status().state,
        palisade_model::EngineState::Production
    );
}

#[test]
fn sessions_are_reused_and_replaced_when_clamd_restarts() {
    let mut clamd = Clamd::start("");
    let engine = engine(&clamd);
    for _ in 0..5 {
        assert_eq!(
            scan(&engine, &eicar()).unwrap().result,
            ScanResult::Infected
        );
    }
    assert_eq!(engine.idle_sessions(), 1, "one session served five scans");
    // The pooled session dies with the daemon; the next scan must not fail because of it.
    clamd.restart();
    assert_eq!(
        scan(&engine, b"clean after restart").unwrap().result,
        ScanResult::NoThreatDetected
    );
    assert_eq!(
        scan(&engine, &eicar()).unwrap().result,
        ScanResult::Infected
    );
    assert_eq!(engine.idle_sessions(), 1);
}

/// What clamd answers for a file through its own client, clamdscan: `Some(name)` or `None`.
fn clamdscan(clamd: &Clamd, path: &std::path::Path) -> Option<String> {
    let output = std::process::Command::new("clamdscan")
        .arg("-c")
        .arg(clamd.config_path())
        .args(["--no-summary", "--stream"])
        .arg(path)
        .output()
        .expect("clamdscan is installed with clamav-daemon");
    let text = String::from_utf8_lossy(&output.stdout);
    match output.status.code() {
        Some(0) => None,
        Some(1) => Some(
            text.trim()
                .rsplit_once(": ")
                .and_then(|(_, rest)| rest.strip_suffix(" FOUND"))
                .expect("clamdscan names the threat")
                .to_string(),
        ),
        other => panic!("clamdscan failed ({other:?}): {text}"),
    }
}

#[test]
fn verdicts_match_clamd_alone_on_test_files_and_clean_files() {
    let clamd = Clamd::start("");
    let engine = engine(&clamd);
    let corpus = tempfile::tempdir().unwrap();
    let mut files: Vec<_> = std::fs::read_dir("/usr/share/clamav-testfiles")
        .expect("clamav-testfiles is installed (scripts/test.sh installs it)")
        .flatten()
        .map(|e| e.path())
        .collect();
    // Clean files of the same kinds: programs, text, random bytes, an empty file.
    for (name, bytes) in [
        ("ls", std::fs::read("/bin/ls").unwrap()),
        ("text.txt", b"quarterly report\n".repeat(1000)),
        (
            "random.bin",
            (0..100_000u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
        ),
        ("empty", Vec::new()),
        ("eicar-prefix", eicar()[..40].to_vec()),
    ] {
        let path = corpus.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        files.push(path);
    }
    let mut detected = 0;
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let finding = scan(&engine, &bytes).unwrap();
        let ours = (finding.result == ScanResult::Infected).then(|| finding.threat_found.clone());
        assert_eq!(ours, clamdscan(&clamd, path), "{}", path.display());
        if ours.is_some() {
            detected += 1;
        } else {
            assert_eq!(finding.result, ScanResult::NoThreatDetected);
        }
    }
    assert_eq!(
        detected, 44,
        "every test file, and no clean file, is detected"
    );
}

#[test]
fn clamd_over_tcp_scans_the_same() {
    let port = palisade_test_support::free_port();
    let clamd = Clamd::start(&format!("TCPSocket {port}\nTCPAddr 127.0.0.1"));
    let engine = ClamavEngine::new(ClamavSettings {
        id: "clamav-tcp".into(),
        name: "ClamAV TCP".into(),
        address: ClamdAddress::parse(&format!("tcp:127.0.0.1:{port}")).unwrap(),
        timeout: Duration::from_secs(10),
    });
    // clamd opens its TCP port right after its unix socket.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "clamd TCP port");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        engine.refresh().state,
        palisade_model::EngineState::Production
    );
    let finding = scan(&engine, &eicar()).unwrap();
    assert_eq!(finding.threat_found, "Test.EICAR.HDB.UNOFFICIAL");
    assert_eq!(
        scan(&engine, b"clean over tcp").unwrap().result,
        ScanResult::NoThreatDetected
    );
    drop(clamd);
}
