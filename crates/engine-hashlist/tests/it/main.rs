//! Hash lists loaded from files, matched by every digest, and reloaded when they change.

use palisade_engine_hashlist::{HashListEngine, HashListSettings, ListKind};
use palisade_model::{FileHashes, ScanResult};
use palisade_pipeline::{Engine, EngineError, Finding, Limits, Sample, ScanContext};

fn hashes(md5: &str, sha256: &str) -> FileHashes {
    FileHashes {
        md5: md5.into(),
        sha1: "0".repeat(40),
        sha256: sha256.into(),
        sha512: "0".repeat(128),
    }
}

fn check(engine: &HashListEngine, hashes: &FileHashes) -> Result<Finding, EngineError> {
    engine.scan(
        &Sample {
            path: std::path::Path::new("/nonexistent"),
            size: 0,
            display_name: "x",
            hashes,
        },
        &ScanContext::new(Limits::default()),
    )
}

const BAD_MD5: &str = "44d88612fea8a8f36de82e1278abb02f";
const GOOD_SHA256: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

#[test]
fn reputation_says_known_bad_known_good_or_unknown_and_follows_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.hdb");
    let good = dir.path().join("good.txt");
    std::fs::write(&bad, format!("{BAD_MD5}:68:Eicar.Test\n")).unwrap();
    std::fs::write(&good, format!("{}  vendor installer\n", "A".repeat(64))).unwrap();
    let engine = HashListEngine::new(HashListSettings {
        id: "reputation".into(),
        name: "Hash reputation".into(),
        kind: ListKind::Reputation,
        bad: vec![bad.clone()],
        good: vec![good.clone()],
    });
    assert_eq!(engine.counts(), (1, 1));

    let known_bad = check(&engine, &hashes(&BAD_MD5.to_uppercase(), "")).unwrap();
    assert_eq!(known_bad.result, ScanResult::KnownBad);
    assert_eq!(known_bad.threat_found, "Eicar.Test");
    let known_good = check(&engine, &hashes("1".repeat(32).as_str(), GOOD_SHA256)).unwrap();
    assert_eq!(known_good.result, ScanResult::KnownGood);
    // Listed as both: bad wins.
    assert_eq!(
        check(&engine, &hashes(BAD_MD5, GOOD_SHA256))
            .unwrap()
            .result,
        ScanResult::KnownBad
    );
    let unknown = check(&engine, &hashes(&"2".repeat(32), &"3".repeat(64))).unwrap();
    assert_eq!(unknown.result, ScanResult::Unknown);

    // A new entry is picked up at the next refresh; a deleted file keeps its last contents.
    std::fs::write(
        &bad,
        format!("{BAD_MD5}:68:Eicar.Test\n{}:12:Another\n", "2".repeat(32)),
    )
    .unwrap();
    assert_eq!(
        engine.refresh().state,
        palisade_model::EngineState::Production
    );
    assert_eq!(
        check(&engine, &hashes(&"2".repeat(32), "")).unwrap().result,
        ScanResult::KnownBad
    );
    std::fs::remove_file(&good).unwrap();
    let status = engine.refresh();
    assert_eq!(status.state, palisade_model::EngineState::TemporaryFailed);
    assert!(status.problems[0].contains("good.txt"), "{status:?}");
    assert_eq!(
        check(&engine, &hashes("1".repeat(32).as_str(), GOOD_SHA256))
            .unwrap()
            .result,
        ScanResult::KnownGood
    );
}

#[test]
fn operator_lists_block_and_allow_and_a_missing_list_fails_unknown_files() {
    let dir = tempfile::tempdir().unwrap();
    let block = dir.path().join("block.txt");
    std::fs::write(&block, format!("{BAD_MD5}\n")).unwrap();
    let engine = HashListEngine::new(HashListSettings {
        id: "lists".into(),
        name: "Block and allow lists".into(),
        kind: ListKind::Operator,
        bad: vec![block],
        good: vec![dir.path().join("missing-allow.txt")],
    });
    assert_eq!(
        engine.status().state,
        palisade_model::EngineState::TemporaryFailed
    );
    assert_eq!(
        check(&engine, &hashes(BAD_MD5, "")).unwrap().result,
        ScanResult::Blacklisted
    );
    assert!(matches!(
        check(&engine, &hashes(&"5".repeat(32), "")),
        Err(EngineError::Failed(_))
    ));
}
