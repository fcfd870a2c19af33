//! The command-line client (`palisade scan`, `lookup`, `download`), run as the binary against a
//! real server: its output, its progress and its exit status.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use sha2::Digest;

use crate::support::{API_KEY, Server, eicar};
use palisade_test_support::pdf;

/// Runs `palisade <args>` as a client of `server` (URL and key from the environment).
async fn client(server: &Server, key: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_palisade"));
    command
        .args(args)
        .env("PALISADE_URL", &server.base)
        .env("PALISADE_API_KEY", key)
        .env("PALISADE_LOG", "warn");
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write_tree(root: &Path, count: usize) {
    for i in 0..count {
        // Half the files in a sub-folder, to walk directories recursively.
        let dir = if i % 2 == 0 {
            root.to_path_buf()
        } else {
            root.join("nested")
        };
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("file-{i:03}.txt")),
            format!("clean text {i}"),
        )
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_of_a_directory_shows_progress_prints_every_result_and_exits_by_verdict() {
    let server = Server::start("");
    let folder = tempfile::tempdir().unwrap();
    write_tree(folder.path(), 200);
    let root = folder.path().to_str().unwrap();

    let clean = client(&server, API_KEY, &["scan", "--concurrency", "16", root]).await;
    let stdout = text(&clean.stdout);
    let stderr = text(&clean.stderr);
    assert_eq!(clean.status.code(), Some(0), "{stdout}\n{stderr}");
    // A progress line per file when standard error is not a terminal, the last one 200/200.
    let progress: Vec<&str> = stderr.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(progress.len(), 200, "{stderr}");
    assert!(progress[199].starts_with("[200/200] "), "{stderr}");
    // The table: a header, a row per file, the summary.
    let rows: Vec<&str> = stdout.lines().filter(|l| l.contains("file-")).collect();
    assert_eq!(rows.len(), 200, "{stdout}");
    assert!(
        rows.iter().all(|row| row.starts_with("Allowed")),
        "{stdout}"
    );
    assert!(rows.iter().all(|row| row.ends_with("No Threat Detected")));
    assert!(stdout.starts_with("VERDICT"), "{stdout}");
    assert!(
        stdout.contains("200 files: 200 allowed, 0 blocked, 0 errors"),
        "{stdout}"
    );

    // One infected file makes it 1, and --json says which.
    std::fs::write(folder.path().join("nested/eicar.com"), eicar()).unwrap();
    let blocked = client(&server, API_KEY, &["scan", "--json", root]).await;
    assert_eq!(blocked.status.code(), Some(1), "{}", text(&blocked.stderr));
    let results: Value = serde_json::from_slice(&blocked.stdout).unwrap();
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 201);
    let eicar_entry = results
        .iter()
        .find(|r| r["path"].as_str().unwrap().ends_with("eicar.com"))
        .unwrap();
    assert_eq!(eicar_entry["verdict"], "Blocked", "{eicar_entry}");
    assert_eq!(eicar_entry["result"], "Infected");
    assert_eq!(eicar_entry["result_code"], 1);
    let data_id = eicar_entry["data_id"].as_str().unwrap();
    let report = server.report(data_id).await;
    assert_eq!(report["scan_results"]["scan_all_result_a"], "Infected");
    assert_eq!(
        results.iter().filter(|r| r["verdict"] == "Allowed").count(),
        200
    );

    // A refused key, and a path that does not exist, are errors: 2.
    let refused = client(&server, "wrong-key", &["scan", root]).await;
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stdout).contains("Access denied"),
        "{}",
        text(&refused.stdout)
    );
    let missing = folder.path().join("no-such-file");
    let missing = client(
        &server,
        API_KEY,
        &[
            "scan",
            missing.to_str().unwrap(),
            &format!("{root}/file-000.txt"),
        ],
    )
    .await;
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stdout).contains("1 allowed, 0 blocked, 1 errors"));
}

#[tokio::test]
async fn lookup_finds_reports_by_hash_and_says_what_it_does_not_know() {
    let server = Server::start("");
    let data_id = server.submit("eicar.com", eicar()).await;
    server.wait_final(&data_id).await;
    let sha256 = hex::encode(sha2::Sha256::digest(eicar()));
    let unknown = "0".repeat(64);

    let found = client(&server, API_KEY, &["lookup", &sha256, &unknown]).await;
    let stdout = text(&found.stdout);
    assert_eq!(found.status.code(), Some(1), "{stdout}");
    let row = stdout.lines().find(|l| l.starts_with(&sha256)).unwrap();
    assert!(
        row.contains("Blocked") && row.contains(&data_id) && row.ends_with("Infected"),
        "{row}"
    );
    let row = stdout.lines().find(|l| l.starts_with(&unknown)).unwrap();
    assert!(row.ends_with("Not Found"), "{row}");

    let json = client(&server, API_KEY, &["lookup", "--json", &unknown]).await;
    assert_eq!(json.status.code(), Some(0));
    let answer: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(answer[0]["result"], "Not Found");
}

#[tokio::test]
async fn download_writes_the_sanitized_copy_and_never_overwrites_by_accident() {
    let server = Server::start("[cdr]\nenabled = true\n\n[[rules]]\nname = \"Default\"\n");
    let data_id = server.submit("active.pdf", pdf::active()).await;
    let report = server.wait_final(&data_id).await;
    assert_eq!(
        report["process_info"]["post_processing"]["actions_ran"],
        "Sanitized"
    );
    let expected = server.output("converted", &data_id).await.unwrap();
    let folder = tempfile::tempdir().unwrap();
    let target = folder.path().join("copy.pdf");
    let target_text = target.to_str().unwrap();

    let done = client(&server, API_KEY, &["download", &data_id, "-o", target_text]).await;
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    assert_eq!(std::fs::read(&target).unwrap(), expected);

    let again = client(&server, API_KEY, &["download", &data_id, "-o", target_text]).await;
    assert_ne!(again.status.code(), Some(0));
    assert!(
        text(&again.stderr).contains("--force"),
        "{}",
        text(&again.stderr)
    );
    let forced = client(
        &server,
        API_KEY,
        &["download", &data_id, "-o", target_text, "--force"],
    )
    .await;
    assert_eq!(forced.status.code(), Some(0));

    // A file without a copy: an error naming the server's answer.
    let plain = server.submit("plain.txt", b"no copy here".to_vec()).await;
    server.wait_final(&plain).await;
    let other = folder.path().join("none.bin");
    let none = client(
        &server,
        API_KEY,
        &["download", &plain, "-o", other.to_str().unwrap()],
    )
    .await;
    assert_eq!(none.status.code(), Some(2));
    assert!(
        text(&none.stderr).contains("File could not be found"),
        "{}",
        text(&none.stderr)
    );
    assert!(!other.exists());
}
