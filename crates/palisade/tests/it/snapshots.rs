//! Whole reports, as clients receive them, compared with the snapshots in `snapshots/`: any
//! change to any field shows up in review. Ids, times and durations are normalised, since they
//! differ on every run; everything else is compared as served. After an intended change, run
//! the tests with `UPDATE_EXPECT=1` and review the diff of the snapshot files.

use std::path::Path;

use serde_json::Value;

use crate::support::{Server, eicar};

/// Keys whose values differ on every run: ids, timestamps and durations.
const IDS: &[&str] = &["data_id", "worst_data_id", "batch_id"];
const TIMES: &[&str] = &[
    "upload_timestamp",
    "receive_data_timestamp",
    "start_time",
    "def_time",
];
const DURATIONS: &[&str] = &[
    "upload_time",
    "hash_time",
    "queue_time",
    "processing_time",
    "total_time",
    "scan_time",
    "wait_time",
    "av_scan_time",
    "cdr_time",
    "dlp_time",
    "extraction_time",
    "filetype_time",
    "opswatfilescan_time",
    "others_time",
    "parse_dgsg_time",
    "vul_time",
    "yara_time",
];

/// The report with what changes from run to run replaced by placeholders (empty values stay
/// empty, so a field that should be filled and is not still shows).
fn normalised(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let stable = match value {
                        Value::String(s) if s.is_empty() => value.clone(),
                        Value::String(_) if IDS.contains(&key.as_str()) => "<id>".into(),
                        Value::String(_) if TIMES.contains(&key.as_str()) => "<time>".into(),
                        Value::Number(_) if DURATIONS.contains(&key.as_str()) => "<ms>".into(),
                        other => normalised(other),
                    };
                    (key.clone(), stable)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalised).collect()),
        other => other.clone(),
    }
}

fn check(report: &Value, snapshot: expect_test::ExpectFile) {
    let text = serde_json::to_string_pretty(&normalised(report)).unwrap();
    snapshot.assert_eq(&format!("{text}\n"));
}

/// A zip of two text members with fixed times, so its bytes (and digests) are the same on
/// every run.
fn fixed_zip(dir: &Path) -> Vec<u8> {
    for (name, text) in [("a.txt", "first member"), ("b.txt", "second member")] {
        std::fs::write(dir.join(name), text).unwrap();
        let status = std::process::Command::new("touch")
            .args(["-t", "202601010000", name])
            .current_dir(dir)
            .env("TZ", "UTC")
            .status()
            .unwrap();
        assert!(status.success());
    }
    let status = std::process::Command::new("zip")
        .args(["-q", "-X", "two.zip", "a.txt", "b.txt"])
        .current_dir(dir)
        .env("TZ", "UTC")
        .status()
        .expect("zip is installed (scripts/test.sh installs it)");
    assert!(status.success());
    std::fs::read(dir.join("two.zip")).unwrap()
}

fn config(dir: &Path) -> String {
    let sanitizer = palisade_test_support::write_sanitizer(dir);
    format!(
        "[dlp]\nenabled = true\n\n{engines}\
         [[engines]]\nkind = \"command\"\nid = \"broken\"\nname = \"Broken scanner\"\n\
         command = [\"sh\", \"-c\", \"echo 'database missing' >&2; exit 5\", \"{{path}}\"]\n\n\
         [[engines]]\nkind = \"command\"\nid = \"slow\"\nname = \"Slow scanner\"\n\
         command = [\"sleep\", \"30\"]\ntimeout_seconds = 0.5\n\n\
         [[rules]]\nname = \"Default\"\nengines = [\"filetype\", \"yara\"]\n\n\
         [[rules]]\nname = \"Broken\"\nengines = [\"filetype\", \"yara\", \"broken\"]\n\n\
         [[rules]]\nname = \"Slow\"\nengines = [\"filetype\", \"yara\", \"slow\"]\n\n\
         [[rules]]\nname = \"Sanitize\"\nengines = [\"filetype\", \"yara\", \"sanitizer\"]\n\n\
         [[rules]]\nname = \"Dlp\"\nengines = [\"filetype\", \"yara\", \"dlp\"]\n\n\
         [[rules]]\nname = \"Redact\"\nengines = [\"filetype\", \"yara\", \"dlp\"]\n\
         [rules.dlp]\nredact = true\n",
        engines = palisade_test_support::sanitizer_engines(&sanitizer),
    )
}

async fn final_report(server: &Server, rule: &str, name: &str, bytes: Vec<u8>) -> Value {
    let request = server
        .post("/file")
        .header("filename", name)
        .header("rule", rule);
    let data_id = server.submit_with(request, bytes).await;
    server.wait_final(&data_id).await
}

#[tokio::test]
async fn final_reports_match_their_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&config(dir.path()));

    let clean = final_report(&server, "Default", "notes.txt", b"plain notes".to_vec()).await;
    check(&clean, expect_test::expect_file!["snapshots/clean.json"]);

    let infected = final_report(&server, "Default", "eicar.com", eicar()).await;
    check(&infected, expect_test::expect_file!["snapshots/eicar.json"]);

    let failed = final_report(&server, "Broken", "notes.txt", b"plain notes".to_vec()).await;
    check(
        &failed,
        expect_test::expect_file!["snapshots/failed_engine.json"],
    );

    let slow = final_report(&server, "Slow", "notes.txt", b"plain notes".to_vec()).await;
    check(
        &slow,
        expect_test::expect_file!["snapshots/timed_out_engine.json"],
    );

    let archive = final_report(&server, "Default", "two.zip", fixed_zip(dir.path())).await;
    check(
        &archive,
        expect_test::expect_file!["snapshots/archive.json"],
    );

    let sanitized = final_report(
        &server,
        "Sanitize",
        "report.pdf",
        b"%PDF-1.4 a document".to_vec(),
    )
    .await;
    check(
        &sanitized,
        expect_test::expect_file!["snapshots/sanitized.json"],
    );

    let sensitive = final_report(
        &server,
        "Dlp",
        "customers.csv",
        b"name,card\nAda Lovelace,4556 7375 8689 9855\n".to_vec(),
    )
    .await;
    check(
        &sensitive,
        expect_test::expect_file!["snapshots/sensitive_data.json"],
    );

    let redacted = final_report(
        &server,
        "Redact",
        "customers.csv",
        b"name,card\nAda Lovelace,4556 7375 8689 9855\n".to_vec(),
    )
    .await;
    check(
        &redacted,
        expect_test::expect_file!["snapshots/redacted.json"],
    );
}

#[tokio::test]
async fn a_report_in_progress_matches_its_snapshot() {
    // A gateway runs no workers: the file stays queued.
    let server = Server::start_gateway("");
    let data_id = server.submit("queued.txt", b"waiting".to_vec()).await;
    let report = server.report(&data_id).await;
    crate::schema::assert_fits(&report, &crate::schema::file_report(), &data_id);
    check(
        &report,
        expect_test::expect_file!["snapshots/in_progress.json"],
    );
}
