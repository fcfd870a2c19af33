//! What real MetaDefender clients do, reproduced through the binary: middleware that indexes
//! `post_processing`, SDKs that parse `/stat/engines` into enums, clients that poll a batch,
//! health checks, odd login bodies, local-file and callback headers, and clients that read only
//! `scan_all_result_i`.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::schema::{self, assert_fits};
use crate::support::{Server, blob_count, eicar};
use palisade_test_support::Clamd;

/// A marker the slow scanner below calls infected.
const SLOW_MARKER: &str = "PALISADE-SLOW-SCANNER-DETECTS-THIS";

/// A command-line scanner that takes `seconds` per file and detects [`SLOW_MARKER`].
fn slow_scanner(seconds: f64) -> String {
    format!(
        "[[engines]]\nkind = \"command\"\nid = \"slow\"\nname = \"Slow scanner\"\n\
         command = [\"sh\", \"-c\", \"sleep {seconds}; if grep -q {SLOW_MARKER} \\\"$0\\\"; then echo 'found Slow.Test'; exit 1; fi\", \"{{path}}\"]\n\
         threat_pattern = 'found (.+)'\n"
    )
}

fn engine<'a>(engines: &'a Value, id: &str) -> &'a Value {
    engines
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["eng_id"] == id)
        .unwrap_or_else(|| panic!("{id} is listed in {engines}"))
}

#[tokio::test]
async fn stat_engines_parses_with_the_published_enums() {
    let lists = tempfile::tempdir().unwrap();
    let block = lists.path().join("block.txt");
    std::fs::write(&block, "# nothing blocked yet\n").unwrap();
    let config = format!(
        "[[engines]]\nkind = \"clamav\"\nid = \"clamav-down\"\nname = \"ClamAV down\"\n\
         address = \"unix:{missing}/clamd.sock\"\n\n\
         [[engines]]\nkind = \"command\"\nid = \"absent\"\nname = \"Absent scanner\"\n\
         command = [\"/nonexistent/palisade-absent-scanner\", \"{{path}}\"]\n\n\
         [lists]\nblock = [\"{block}\"]\n",
        missing = lists.path().display(),
        block = block.display(),
    );
    let server = Server::start(&config);
    let engines = server.get_json("/stat/engines").await;
    assert_fits(&engines, &schema::engines(), "/stat/engines");

    // (eng_id, engine_type, eng_type, state)
    let expected = [
        ("filetype", "filetype", "filetype", "production"),
        ("yara", "av", "yara", "production"),
        ("lists", "av", "lists", "production"),
        ("clamav-down", "av", "clamav", "temporary failed"),
        ("absent", "av", "command", "permanently failed"),
        ("archive", "archive", "archive", "production"),
    ];
    for (id, engine_type, eng_type, state) in expected {
        let entry = engine(&engines, id);
        assert_eq!(entry["engine_type"], engine_type, "{entry}");
        assert_eq!(entry["eng_type"], eng_type, "{entry}");
        assert_eq!(entry["state"], state, "{entry}");
        assert_eq!(entry["active"], state == "production", "{entry}");
        assert_eq!(entry["type"], "engine");
    }
    assert!(
        engine(&engines, "clamav-down")["problems"][0]
            .as_str()
            .unwrap()
            .contains("clamd.sock"),
        "a down engine says why"
    );
}

/// Submits the file at `path` and waits for its final report.
async fn scan_file(server: &Server, path: &Path, rule: &str) -> Value {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let id = server
        .submit_with(
            server
                .post("/file")
                .header("filename", name)
                .header("rule", rule),
            std::fs::read(path).unwrap(),
        )
        .await;
    server.wait_final(&id).await
}

/// A zip of `members` in that order, built by Info-ZIP's `zip`.
fn zip(dir: &Path, name: &str, members: &[(&str, &[u8])]) -> std::path::PathBuf {
    let sources = dir.join(format!("{name}.d"));
    std::fs::create_dir_all(&sources).unwrap();
    let mut command = std::process::Command::new("zip");
    command.current_dir(&sources).arg("-q").arg(dir.join(name));
    for (member, bytes) in members {
        std::fs::write(sources.join(member), bytes).unwrap();
        command.arg(member);
    }
    assert!(command.status().unwrap().success(), "zip {name}");
    dir.join(name)
}

fn verdicts(report: &Value, field: &str) -> Vec<String> {
    report["process_info"][field]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn every_report_carries_post_processing_and_fits_the_published_shape() {
    let clamd = Clamd::start("");
    let server = Server::start(&format!(
        "[[engines]]\nkind = \"clamav\"\naddress = \"unix:{}\"\n",
        clamd.socket().display()
    ));
    let dir = tempfile::tempdir().unwrap();
    let archive = zip(
        dir.path(),
        "mixed.zip",
        &[("readme.txt", b"hello"), ("eicar.com", &eicar())],
    );
    let clean = dir.path().join("notes.txt");
    std::fs::write(&clean, "nothing to see").unwrap();
    let infected = dir.path().join("eicar.com");
    std::fs::write(&infected, eicar()).unwrap();

    for path in [&clean, &infected, &archive] {
        let report = scan_file(&server, path, "Default").await;
        assert_fits(&report, &schema::file_report(), &path.display().to_string());
        // What Assemblyline's service and Menlo's middleware read on every result.
        let post = &report["process_info"]["post_processing"];
        assert_eq!(
            post,
            &json!({"actions_failed": "", "actions_ran": "", "converted_destination": "",
                    "converted_to": "", "copy_move_destination": ""})
        );
        for member in report["extracted_files"]["files_in_archive"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let id = member["data_id"].as_str().unwrap();
            let member_report = server.report(id).await;
            assert_fits(&member_report, &schema::file_report(), id);
        }
    }

    // A file that is still queued fits too, post_processing included.
    let gateway = Server::start_gateway("");
    let queued = gateway.submit("queued.txt", b"waits".to_vec()).await;
    let report = gateway.report(&queued).await;
    assert_eq!(report["process_info"]["result"], "Processing");
    assert_fits(&report, &schema::file_report(), "a queued file");
    assert_eq!(
        report["process_info"]["post_processing"]["actions_failed"],
        ""
    );
    // And so does a cancelled one.
    let cancel = gateway
        .post(&format!("/file/{queued}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 200);
    let report = gateway.report(&queued).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 19);
    assert_fits(&report, &schema::file_report(), "a cancelled file");
}

#[tokio::test]
async fn a_detection_outranks_an_extraction_problem_in_the_main_result() {
    let clamd = Clamd::start("");
    let server = Server::start(&format!(
        "[[engines]]\nkind = \"clamav\"\naddress = \"unix:{}\"\n\n\
         [[rules]]\nname = \"Default\"\narchive_max_members = 2\n\n\
         [[rules]]\nname = \"Lenient\"\nallowed_results = [0, 14, 24]\narchive_max_members = 2\n",
        clamd.socket().display()
    ));

    // A zip whose one member uses compression method 19 (IBM LZ77), which nothing here
    // decodes, stored around the test clamd's body signature: clamd finds the archive itself
    // infected while its member cannot be extracted.
    let dir = tempfile::tempdir().unwrap();
    let mut stored = zip(
        dir.path(),
        "stored.zip",
        &[("marker.txt", palisade_test_support::BODY_MARKER)],
    );
    let mut bytes = std::fs::read(&stored).unwrap();
    // `zip` stores a member this short; its method is at 8 in the local header and at 10 in
    // the central directory entry.
    for (signature, offset) in [(&b"PK\x03\x04"[..], 8), (&b"PK\x01\x02"[..], 10)] {
        let at = bytes.windows(4).position(|w| w == signature).unwrap();
        assert_eq!(bytes[at + offset..at + offset + 2], [0, 0], "stored");
        bytes[at + offset] = 19;
    }
    stored = dir.path().join("method19.zip");
    std::fs::write(&stored, bytes).unwrap();
    for rule in ["Default", "Lenient"] {
        let report = scan_file(&server, &stored, rule).await;
        assert_fits(&report, &schema::file_report(), "method19.zip");
        assert_eq!(report["scan_results"]["scan_all_result_i"], 1, "{report}");
        assert_eq!(report["scan_results"]["scan_all_result_a"], "Infected");
        assert_eq!(report["process_info"]["result"], "Blocked");
        assert_eq!(report["process_info"]["blocked_reason"], "Infected");
        let listed = verdicts(&report, "verdicts");
        assert!(listed.contains(&"Infected".to_string()), "{listed:?}");
        assert!(
            listed.contains(&"Extraction Failed".to_string()),
            "{listed:?}"
        );
        let blocking = verdicts(&report, "blocked_reasons");
        // The extraction problem still blocks unless the rule allows it.
        assert_eq!(
            blocking.contains(&"Extraction Failed".to_string()),
            rule == "Default",
            "{rule}: {blocking:?}"
        );
        assert!(
            !report["extraction_info"]["err_category"]
                .as_str()
                .unwrap()
                .is_empty(),
            "{report}"
        );
    }

    // A member found infected before the member limit stopped extraction.
    let capped = zip(
        dir.path(),
        "capped.zip",
        &[
            ("eicar.com", &eicar()),
            ("a.txt", b"a"),
            ("b.txt", b"b"),
            ("c.txt", b"c"),
        ],
    );
    let report = scan_file(&server, &capped, "Default").await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 1, "{report}");
    assert_eq!(report["process_info"]["result"], "Blocked");
    let listed = verdicts(&report, "verdicts");
    assert!(
        listed.contains(&"Exceeded Archive File Number".to_string()),
        "{listed:?}"
    );
    assert!(
        verdicts(&report, "blocked_reasons").contains(&"Exceeded Archive File Number".to_string())
    );
    let worst = report["extracted_files"]["worst_data_id"].as_str().unwrap();
    let member = server.report(worst).await;
    assert_eq!(member["file_info"]["display_name"], "eicar.com");

    // Without a detection the extraction problem is still the main result.
    let clean = zip(
        dir.path(),
        "clean.zip",
        &[("a.txt", b"a"), ("b.txt", b"b"), ("c.txt", b"c")],
    );
    let report = scan_file(&server, &clean, "Default").await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 14, "{report}");
}

/// Asserts that a batch status never runs ahead of its members; returns whether it is final.
fn check_batch(status: &Value) -> bool {
    assert_fits(status, &schema::batch(), "batch status");
    let members = status["batch_files"]["files_in_batch"].as_array().unwrap();
    let unfinished = members
        .iter()
        .filter(|m| m["progress_percentage"] != 100 || m["process_info"]["result"] == "Processing")
        .count();
    let batch_final = status["process_info"]["result"] != "Processing";
    let progress = status["process_info"]["progress_percentage"]
        .as_u64()
        .unwrap();
    if batch_final {
        assert_eq!(
            unfinished, 0,
            "the batch is final before its members: {status}"
        );
        assert_eq!(progress, 100, "{status}");
        assert_ne!(status["scan_results"]["scan_all_result_i"], 255);
    } else {
        assert_eq!(status["scan_results"]["scan_all_result_i"], 255, "{status}");
        assert_eq!(status["scan_results"]["scan_all_result_a"], "In Progress");
        assert_eq!(status["process_info"]["blocked_reason"], "", "{status}");
        let finished = (members.len() - unfinished) as u64;
        let count = status["batch_files"]["batch_count"].as_u64().unwrap();
        assert!(progress < 100, "{status}");
        assert!(
            progress <= finished * 100 / count.max(1),
            "progress counts final members only: {status}"
        );
    }
    batch_final
}

#[tokio::test]
async fn a_batch_reads_in_progress_until_every_member_is_final() {
    let server = Server::start(&format!("{}\n[queue]\nworkers = 2\n", slow_scanner(0.3)));
    let batch = crate::batches::create_batch(&server, "").await;
    let mut ids = Vec::new();
    for (index, body) in [
        format!("bad {SLOW_MARKER}"),
        "clean one".to_string(),
        "clean two".to_string(),
    ]
    .into_iter()
    .enumerate()
    {
        ids.push(
            server
                .submit_with(
                    server
                        .post("/file")
                        .header("batch", &batch)
                        .header("filename", format!("f{index}.txt")),
                    body.into_bytes(),
                )
                .await,
        );
    }

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut polls_in_progress = 0;
    loop {
        let status = server.get_json(&format!("/file/batch/{batch}")).await;
        if check_batch(&status) {
            break;
        }
        polls_in_progress += 1;
        if polls_in_progress == 1 {
            let early = server
                .get(&format!("/file/batch/{batch}/certificate"))
                .send()
                .await
                .unwrap();
            assert_eq!(early.status(), 400, "no certificate while files run");
            let body: Value = early.json().await.unwrap();
            assert!(body["err"].as_str().unwrap().contains("in progress"));
        }
        assert!(Instant::now() < deadline, "batch never finished");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(polls_in_progress > 0, "the batch was seen while it ran");

    let status = server.get_json(&format!("/file/batch/{batch}")).await;
    assert_eq!(status["scan_results"]["scan_all_result_i"], 1, "{status}");
    assert_eq!(status["process_info"]["result"], "Blocked");
    assert_eq!(status["process_info"]["blocked_reason"], "Infected");
    let certificate = server
        .get(&format!("/file/batch/{batch}/certificate"))
        .send()
        .await
        .unwrap();
    assert_eq!(certificate.status(), 200);
    for id in &ids {
        assert_eq!(
            server.report(id).await["scan_results"]["progress_percentage"],
            100
        );
    }

    // A cancelled batch gets its certificate at once.
    let gateway = Server::start_gateway("");
    let batch = crate::batches::create_batch(&gateway, "").await;
    gateway
        .submit_with(
            gateway.post("/file").header("batch", &batch),
            b"queued".to_vec(),
        )
        .await;
    let status = gateway.get_json(&format!("/file/batch/{batch}")).await;
    assert!(!check_batch(&status));
    assert_eq!(status["process_info"]["progress_percentage"], 0);
    let early = gateway
        .get(&format!("/file/batch/{batch}/certificate"))
        .send()
        .await
        .unwrap();
    assert_eq!(early.status(), 400);
    let cancel = gateway
        .post(&format!("/file/batch/{batch}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 200);
    assert!(check_batch(
        &gateway.get_json(&format!("/file/batch/{batch}")).await
    ));
    let certificate = gateway
        .get(&format!("/file/batch/{batch}/certificate"))
        .send()
        .await
        .unwrap();
    assert_eq!(certificate.status(), 200);
}

#[tokio::test]
async fn health_checks_logins_local_files_and_callbacks_answer_as_clients_expect() {
    let server = Server::start("");

    // Middleware's health check: the same answer as /readyz, without an apikey.
    let health = server
        .client
        .get(server.url("/admin/config/healthcheck"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready: Value = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health.json::<Value>().await.unwrap(), ready);

    // Bodies that are not credentials are refused like wrong credentials: 403.
    for body in [
        "",
        "not json",
        "[]",
        r#"{"username":"admin","pass":"x"}"#,
        r#"{"user":"admin"}"#,
        r#"{"user":1,"password":2}"#,
    ] {
        let response = server
            .client
            .post(server.url("/login"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{body:?}");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"err": "Invalid credentials"})
        );
    }

    // A local-file scan request says that local-file scanning is not enabled.
    for body in [&b""[..], b"some bytes too"] {
        let response = server
            .post("/file")
            .header("filepath", "/etc/passwd")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let err = response.json::<Value>().await.unwrap()["err"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(err.contains("Local file scanning is not enabled"), "{err}");
    }

    // Callback URLs must be absolute http(s) URLs.
    for bad in [
        "not a url",
        "/hook",
        "ftp://example.com/hook",
        "http://",
        "file:///etc/passwd",
    ] {
        let response = server
            .post("/file")
            .header("callbackurl", bad)
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"err": "Callback url is invalid."})
        );
    }
    assert_eq!(
        blob_count(&server.data_dir),
        0,
        "refused uploads store nothing"
    );
    for good in [
        "http://127.0.0.1:9/hook?id=a%20b",
        "https%3A%2F%2Fsoar.example.com%2Fhook",
    ] {
        let id = server
            .submit_with(
                server.post("/file").header("callbackurl", good),
                b"with a callback".to_vec(),
            )
            .await;
        server.wait_final(&id).await;
    }
}
