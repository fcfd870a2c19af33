//! Outputs end to end: a post-processing engine (test-support's command-line sanitizer) writes a
//! copy of the file; `/file/converted` and `/file/download` serve it with its headers and byte
//! ranges; the copy expires after the retention and the report then says so.

use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::Digest;

use crate::support::{API_KEY, Server};

/// Bytes with no repeats in any short window, so a wrong slice cannot pass for the right one.
fn document(len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    let mut state: u32 = 0x1234_5678;
    while bytes.len() < len {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        bytes.push(b'a' + (state >> 24) as u8 % 26);
    }
    bytes
}

fn rebuilt(original: &[u8]) -> Vec<u8> {
    let mut expected = b"REBUILT\n".to_vec();
    expected.extend_from_slice(original);
    expected
}

fn config(dir: &std::path::Path, extra: &str) -> String {
    let sanitizer = palisade_test_support::write_sanitizer(dir);
    format!(
        "{}{extra}",
        palisade_test_support::sanitizer_engines(&sanitizer)
    )
}

/// `filename` header of a name, URL-encoded as clients send it.
fn encoded(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'.' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn submit_named(server: &Server, name: &str, bytes: Vec<u8>) -> String {
    server
        .submit_with(
            server.post("/file").header("filename", encoded(name)),
            bytes,
        )
        .await
}

async fn get(server: &Server, path: &str, range: Option<&str>) -> reqwest::Response {
    let mut request = server.get(path);
    if let Some(range) = range {
        request = request.header("range", range);
    }
    request.send().await.unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

async fn assert_not_found(server: &Server, path: &str) {
    let response = get(server, path, None).await;
    assert_eq!(response.status(), 404, "{path}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"err": "File could not be found"}));
}

/// Checks both download routes serve `expected` as `name`, whole and in ranges.
async fn assert_downloads(server: &Server, data_id: &str, name: &str, expected: &[u8]) {
    for route in ["converted", "download"] {
        let path = format!("/file/{route}/{data_id}");
        let whole = get(server, &path, None).await;
        assert_eq!(whole.status(), 200, "{path}");
        assert_eq!(header(&whole, "content-type"), "application/pdf");
        assert_eq!(header(&whole, "content-length"), expected.len().to_string());
        assert_eq!(header(&whole, "accept-ranges"), "bytes");
        let disposition = header(&whole, "content-disposition").to_string();
        assert!(
            disposition.starts_with("attachment; filename=\""),
            "{disposition}"
        );
        assert!(
            disposition.ends_with(&format!("filename*=UTF-8''{}", encoded(name))),
            "{disposition}"
        );
        assert_eq!(whole.bytes().await.unwrap(), expected, "{path}");

        // One client probes with the first byte before downloading.
        let probe = get(server, &path, Some("bytes=0-0")).await;
        assert_eq!(probe.status(), 206);
        assert_eq!(
            header(&probe, "content-range"),
            format!("bytes 0-0/{}", expected.len())
        );
        assert_eq!(header(&probe, "content-length"), "1");
        assert_eq!(probe.bytes().await.unwrap(), &expected[..1]);

        let slice = get(server, &path, Some("bytes=70000-70999")).await;
        assert_eq!(slice.status(), 206);
        assert_eq!(
            header(&slice, "content-range"),
            format!("bytes 70000-70999/{}", expected.len())
        );
        assert_eq!(slice.bytes().await.unwrap(), &expected[70_000..71_000]);

        let tail = get(server, &path, Some("bytes=-10")).await;
        assert_eq!(tail.status(), 206);
        assert_eq!(
            tail.bytes().await.unwrap(),
            &expected[expected.len() - 10..]
        );

        let past = get(server, &path, Some(&format!("bytes={}-", expected.len()))).await;
        assert_eq!(past.status(), 416);
        assert_eq!(
            header(&past, "content-range"),
            format!("bytes */{}", expected.len())
        );
        let body: Value = past.json().await.unwrap();
        assert!(body["err"].as_str().unwrap().contains("Range"), "{body}");
    }
}

#[tokio::test]
async fn a_sanitized_copy_is_downloaded_whole_or_by_range_with_its_headers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&config(dir.path(), ""));
    let name = "rapport été.pdf";
    let original = document(100_000);
    let data_id = submit_named(&server, name, original.clone()).await;
    let report = server.wait_final(&data_id).await;
    let post = &report["process_info"]["post_processing"];
    assert_eq!(post["actions_ran"], "Sanitized", "{report}");
    assert_eq!(post["actions_failed"], "");
    assert_eq!(post["converted_destination"], name);
    assert_eq!(post["converted_to"], "pdf");
    assert_eq!(report["process_info"]["result"], "Allowed");
    assert_eq!(
        report["process_info"]["outdated_data"],
        serde_json::json!([])
    );
    // A sanitizer is not an antivirus engine: not in scan_details, not counted.
    let details = report["scan_results"]["scan_details"].as_object().unwrap();
    assert!(details.contains_key("Marker AV"), "{report}");
    assert!(!details.contains_key("Test Sanitizer"), "{report}");
    assert_eq!(report["scan_results"]["total_avs"], details.len());

    assert_downloads(&server, &data_id, name, &rebuilt(&original)).await;

    // Download links carry the key in the query, without a header.
    let linked = server
        .client
        .get(server.url(&format!("/file/converted/{data_id}?apikey={API_KEY}")))
        .send()
        .await
        .unwrap();
    assert_eq!(linked.status(), 200);
    assert_eq!(linked.bytes().await.unwrap(), rebuilt(&original));
    let anonymous = server
        .client
        .get(server.url(&format!("/file/converted/{data_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 403);

    // The original is what was scanned; the copy is stored apart from it.
    let original_report = server.report(&data_id).await;
    assert_eq!(
        original_report["file_info"]["sha256"],
        hex::encode(sha2::Sha256::digest(&original))
    );

    // No copy: a blocked file (not sanitized), a step that wrote nothing, a step that failed,
    // an unknown id, a malformed one.
    let blocked = submit_named(&server, "blocked.pdf", b"%PDF BLOCK-ME".to_vec()).await;
    let report = server.wait_final(&blocked).await;
    assert_eq!(report["process_info"]["result"], "Blocked");
    assert_eq!(report["process_info"]["post_processing"]["actions_ran"], "");
    assert_not_found(&server, &format!("/file/converted/{blocked}")).await;
    assert_not_found(&server, &format!("/file/download/{blocked}")).await;

    let empty_handed = submit_named(&server, "x.pdf", b"%PDF CANNOT-SANITIZE".to_vec()).await;
    let report = server.wait_final(&empty_handed).await;
    let post = &report["process_info"]["post_processing"];
    assert_eq!(
        post["actions_ran"], "",
        "never reported sanitized: {report}"
    );
    assert_eq!(post["actions_failed"], "Sanitization Failed");
    assert_eq!(report["scan_results"]["scan_all_result_i"], 3);
    assert!(
        report["process_info"]["verdicts"]
            .as_array()
            .unwrap()
            .contains(&Value::from("Failed"))
    );
    assert_not_found(&server, &format!("/file/converted/{empty_handed}")).await;

    let crashed = submit_named(&server, "y.pdf", b"%PDF SANITIZER-CRASH".to_vec()).await;
    let report = server.wait_final(&crashed).await;
    assert_eq!(
        report["process_info"]["post_processing"]["actions_failed"],
        "Sanitization Failed"
    );
    assert_not_found(&server, &format!("/file/download/{crashed}")).await;

    assert_not_found(&server, "/file/converted/0123456789abcdef0123456789abcdef").await;
    assert_not_found(&server, "/file/download/not-an-id").await;
}

#[tokio::test]
async fn an_expired_copy_is_deleted_and_the_report_says_it_is_outdated() {
    let dir = tempfile::tempdir().unwrap();
    // Copies live 1.8 s; the sweep runs every 0.2 s.
    let server = Server::start(&config(
        dir.path(),
        "[outputs]\nretention_hours = 0.0005\nsweep_seconds = 0.2\n",
    ));
    let original = document(5_000);
    let expected = rebuilt(&original);
    let data_id = submit_named(&server, "short-lived.pdf", original).await;
    let report = server.wait_final(&data_id).await;
    assert_eq!(
        report["process_info"]["post_processing"]["actions_ran"],
        "Sanitized"
    );
    let sha256 = hex::encode(sha2::Sha256::digest(&expected));
    let blob = server
        .data_dir
        .join("blobs/blobs")
        .join(&sha256[..2])
        .join(&sha256[2..4])
        .join(&sha256);
    assert!(blob.exists(), "the copy is stored under its digest");

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = get(&server, &format!("/file/converted/{data_id}"), None).await;
        if response.status() == 404 {
            break;
        }
        assert_eq!(response.status(), 200);
        assert!(Instant::now() < deadline, "the copy never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_not_found(&server, &format!("/file/download/{data_id}")).await;
    let report = server.report(&data_id).await;
    assert_eq!(
        report["process_info"]["outdated_data"],
        serde_json::json!(["sanitization"])
    );
    assert_eq!(
        report["process_info"]["post_processing"]["converted_destination"], "short-lived.pdf",
        "the report still says what was done"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while blob.exists() {
        assert!(
            Instant::now() < deadline,
            "the expired copy's blob was kept"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows = std::process::Command::new("sqlite3")
        .arg(server.data_dir.join("palisade.db"))
        .arg("SELECT count(*) FROM outputs")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&rows.stdout).trim(), "0");
}

/// Whether a file named `name` is anywhere below `dir`.
fn stored_below(dir: &std::path::Path, name: &str) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| {
            let path = entry.path();
            if path.is_dir() {
                stored_below(&path, name)
            } else {
                entry.file_name().to_string_lossy().contains(name)
            }
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_made_on_a_node_is_downloaded_from_a_gateway_over_postgres_and_s3() {
    let (postgres, s3) = crate::cluster::cluster_services().await;
    let dir = tempfile::tempdir().unwrap();
    let engines = config(dir.path(), "");
    let config = crate::cluster::cluster_config(&postgres, &s3, &engines);
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let gateway = Server::launch("gateway", dirs[0].path(), &config);
    let mut node = Server::launch("node", dirs[1].path(), &config);

    let name = "Überweisung.pdf";
    let original = document(100_000);
    let expected = rebuilt(&original);
    let data_id = submit_named(&gateway, name, original).await;
    let report = gateway.wait_final(&data_id).await;
    assert_eq!(
        report["process_info"]["post_processing"]["actions_ran"], "Sanitized",
        "{report}"
    );
    assert_downloads(&gateway, &data_id, name, &expected).await;
    let sha256 = hex::encode(sha2::Sha256::digest(&expected));
    assert!(
        stored_below(&s3.bucket_dir(), &sha256),
        "the copy is in the bucket"
    );

    // A node whose retention is shorter forgets the copy and deletes its object; the gateway
    // then answers 404 and says the sanitization data is outdated.
    node.terminate(Duration::from_secs(30));
    let short = format!("{config}[outputs]\nretention_hours = 0.0001\nsweep_seconds = 0.2\n");
    let _sweeper = Server::launch("node", dirs[2].path(), &short);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = get(&gateway, &format!("/file/download/{data_id}"), None).await;
        if response.status() == 404 {
            break;
        }
        assert!(Instant::now() < deadline, "the copy never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = gateway.report(&data_id).await;
    assert_eq!(
        report["process_info"]["outdated_data"],
        serde_json::json!(["sanitization"])
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while stored_below(&s3.bucket_dir(), &sha256) {
        assert!(
            Instant::now() < deadline,
            "the expired copy's object was kept"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
