//! The ICAP engine against a real c-icap server scanning with a real clamd.

use std::time::Duration;

use palisade_engine_icap::{IcapEngine, IcapSettings, IcapUrl};
use palisade_model::ScanResult;
use palisade_pipeline::{Engine, EngineError, Finding};
use palisade_test_support::{BODY_MARKER, Clamd, IcapServer, eicar};

fn icap_engine(url: &str) -> IcapEngine {
    IcapEngine::new(IcapSettings {
        id: "icap".into(),
        name: "ICAP AV".into(),
        url: IcapUrl::parse(url).unwrap(),
        timeout: Duration::from_secs(10),
    })
}

fn scan(engine: &dyn Engine, bytes: &[u8]) -> Result<Finding, EngineError> {
    palisade_test_support::scan_bytes(engine, "report Q3.bin", bytes)
}

#[test]
fn infections_are_named_and_clean_files_pass_small_or_beyond_the_preview() {
    let clamd = Clamd::start("");
    let icap = IcapServer::start(&clamd);
    let engine = icap_engine(&icap.url());

    assert_eq!(
        engine.status(),
        palisade_pipeline::EngineStatus::not_checked()
    );
    let status = engine.refresh();
    assert_eq!(
        status.state,
        palisade_model::EngineState::Production,
        "{status:?}"
    );
    assert!(status.version.contains("C-ICAP"), "{status:?}");
    assert!(!status.def_time.is_empty());

    let finding = scan(&engine, &eicar()).unwrap();
    assert_eq!(finding.result, ScanResult::Infected);
    assert_eq!(finding.threat_found, "Test.EICAR.HDB.UNOFFICIAL");

    // A body signature at the end of a file much larger than the preview (c-icap asks for
    // 1024 bytes), so the rest must be sent after "100 Continue".
    let mut padded = vec![b' '; 300 * 1024];
    padded.extend_from_slice(BODY_MARKER);
    let finding = scan(&engine, &padded).unwrap();
    assert_eq!(finding.result, ScanResult::Infected);
    assert_eq!(finding.threat_found, "Test.Palisade.Body.UNOFFICIAL");

    for clean in [
        b"".to_vec(),
        b"short".to_vec(),
        vec![b'x'; 1024],
        vec![b'y'; 2 * 1024 * 1024],
    ] {
        let finding = scan(&engine, &clean).unwrap();
        assert_eq!(
            finding.result,
            ScanResult::NoThreatDetected,
            "{} bytes",
            clean.len()
        );
    }
}

#[test]
fn an_unreachable_or_failing_service_is_failed_never_clean() {
    let clamd = Clamd::start("");
    let mut icap = IcapServer::start(&clamd);
    let engine = icap_engine(&icap.url());
    assert_eq!(
        engine.refresh().state,
        palisade_model::EngineState::Production
    );
    icap.stop();
    let error = scan(&engine, b"innocent").unwrap_err();
    assert!(matches!(error, EngineError::Failed(_)), "{error:?}");
    assert_eq!(
        engine.status().state,
        palisade_model::EngineState::TemporaryFailed
    );

    // A service name the server does not have.
    let clamd_only = IcapServer::start(&clamd);
    let missing = icap_engine(&clamd_only.url().replace("/avscan", "/nosuchservice"));
    assert_eq!(
        missing.refresh().state,
        palisade_model::EngineState::TemporaryFailed
    );
    assert!(matches!(
        scan(&missing, b"innocent"),
        Err(EngineError::Failed(_))
    ));

    // The ICAP server is up but its antivirus (clamd) is not.
    let mut clamd = clamd;
    clamd.kill();
    let working = icap_engine(&clamd_only.url());
    let outcome = scan(&working, &eicar());
    assert!(
        !matches!(outcome, Ok(ref f) if f.result == ScanResult::NoThreatDetected),
        "{outcome:?}"
    );
}
