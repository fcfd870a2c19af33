//! `POST /file`, reports, hash lookup, cancel and downloads.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{API_KEY, Server, blob_count, eicar};

#[tokio::test]
async fn eicar_is_blocked_and_a_clean_file_is_allowed_with_complete_reports() {
    let server = Server::start("");
    let infected = server.submit("eicar.com", eicar()).await;
    assert_eq!(infected.len(), 32);
    let report = server.wait_final(&infected).await;
    assert_eq!(report["data_id"], infected.as_str());
    assert_eq!(report["scan_results"]["scan_all_result_i"], 1);
    assert_eq!(report["scan_results"]["scan_all_result_a"], "Infected");
    assert_eq!(report["process_info"]["result"], "Blocked");
    assert_eq!(report["process_info"]["blocked_reason"], "Infected");
    assert_eq!(
        report["process_info"]["blocked_reasons"],
        json!(["Infected"])
    );
    assert_eq!(
        report["scan_results"]["scan_details"]["YARA"]["threat_found"],
        "EICAR_Test_File"
    );
    assert_eq!(report["scan_results"]["total_avs"], 1);
    assert_eq!(
        report["yara"]["hits"]["EICAR_Test_File"]["description"],
        "EICAR anti-malware test file"
    );
    assert_eq!(
        report["file_info"]["md5"],
        "44d88612fea8a8f36de82e1278abb02f"
    );
    assert_eq!(report["file_info"]["file_size"], 68);

    let clean = server
        .submit("notes.txt", b"just some harmless words\n".to_vec())
        .await;
    let report = server.wait_final(&clean).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 0);
    assert_eq!(
        report["scan_results"]["scan_all_result_a"],
        "No Threat Detected"
    );
    assert_eq!(report["process_info"]["result"], "Allowed");
    assert_eq!(report["process_info"]["blocked_reason"], "");
    assert_eq!(report["file_info"]["file_type"], "text/plain");
    assert_eq!(report["file_info"]["type_category"], json!(["T"]));
    assert_eq!(report["filetype_info"]["file_info"]["type"], "text/plain");
    for detail in report["scan_results"]["scan_details"]
        .as_object()
        .unwrap()
        .values()
    {
        for field in ["scan_result_i", "threat_found", "scan_time", "def_time"] {
            assert!(!detail[field].is_null(), "{field}");
        }
    }
}

#[tokio::test]
async fn headers_are_decoded_and_metadata_comes_back() {
    let server = Server::start("");
    let data_id = server
        .submit_with(
            server
                .post("/file")
                .header("filename", "r%C3%A9sum%C3%A9%20final.pdf")
                .header("metadata", "%7B%22ticket%22%3A%22T-42%22%7D")
                .header("user_agent", "mail-gateway")
                .header("workflow", "Default")
                .header("archivepwd", "first")
                .header("archivepwd2", "second")
                .header("content-type", "application/json"),
            b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n".to_vec(),
        )
        .await;
    let report = server.wait_final(&data_id).await;
    assert_eq!(report["file_info"]["display_name"], "résumé final.pdf");
    assert_eq!(report["metadata"], "{\"ticket\":\"T-42\"}");
    assert_eq!(report["process_info"]["user_agent"], "mail-gateway");
    assert_eq!(report["process_info"]["profile"], "Default");
    assert_eq!(report["file_info"]["file_type"], "application/pdf");
    assert_eq!(report["file_info"]["type_category"], json!(["P"]));
}

#[tokio::test]
async fn multipart_uploads_with_one_file_part_are_accepted() {
    let server = Server::start("");
    let boundary = "XyZ-palisade-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"e.com\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&eicar());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let data_id = server
        .submit_with(
            server.post("/file").header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            ),
            body,
        )
        .await;
    let report = server.wait_final(&data_id).await;
    assert_eq!(report["file_info"]["display_name"], "e.com");
    assert_eq!(report["file_info"]["file_size"], 68);
    assert_eq!(report["scan_results"]["scan_all_result_i"], 1);
}

#[tokio::test]
async fn upload_errors_answer_with_the_documented_codes_and_store_nothing() {
    let server = Server::start("[[rules]]\nname = \"Default\"\nmax_file_size = 100\n");
    let (status, body) =
        server.raw_upload("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n");
    assert_eq!(status, 411, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"err": "Missing Content-Length header."})
    );

    let (status, body) = server.raw_upload("", "");
    assert_eq!(status, 411, "{body}");

    let (status, body) = server.raw_upload("Content-Length: 0\r\n", "");
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"err": "File is empty."})
    );

    let large = server
        .post("/file")
        .body(vec![b'a'; 101])
        .send()
        .await
        .unwrap();
    assert_eq!(large.status(), 500);
    assert!(
        large.json::<Value>().await.unwrap()["err"]
            .as_str()
            .unwrap()
            .contains("maximum size")
    );
    assert_eq!(
        blob_count(&server.data_dir),
        0,
        "nothing is stored for refused uploads"
    );

    let fits = server.submit("fits", vec![b'a'; 100]).await;
    server.wait_final(&fits).await;
    assert_eq!(blob_count(&server.data_dir), 1);

    let unknown_route = server.get("/nowhere").send().await.unwrap();
    assert_eq!(unknown_route.status(), 404);
    assert!(unknown_route.json::<Value>().await.unwrap()["err"].is_string());
}

#[tokio::test]
async fn identical_uploads_are_stored_once_but_reported_separately() {
    let server = Server::start("");
    let first = server.submit("a", b"same bytes".to_vec()).await;
    let second = server.submit("b", b"same bytes".to_vec()).await;
    assert_ne!(first, second);
    server.wait_final(&first).await;
    let report = server.wait_final(&second).await;
    assert_eq!(report["file_info"]["display_name"], "b");
    assert_eq!(blob_count(&server.data_dir), 1);
}

#[tokio::test]
async fn unknown_ids_are_200_not_found_and_reports_are_compact() {
    let server = Server::start("");
    let response = server
        .get("/file/0123456789ABCDEF0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        "{\"0123456789ABCDEF0123456789abcdef\":\"Not Found\"}"
    );
    let odd = server.get("/file/not-an-id").send().await.unwrap();
    assert_eq!(odd.status(), 200);
    assert_eq!(odd.text().await.unwrap(), "{\"not-an-id\":\"Not Found\"}");

    let data_id = server.submit("x", b"compact".to_vec()).await;
    server.wait_final(&data_id).await;
    let text = server
        .get(&format!("/file/{data_id}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains(": ") && !text.contains(", "), "compact JSON");
    assert!(!text.contains("null"), "no nulls: {text}");
}

#[tokio::test]
async fn queued_files_report_progress_and_can_be_cancelled() {
    let gateway = Server::start_gateway("");
    let data_id = gateway
        .submit("waiting.txt", b"waits in the queue".to_vec())
        .await;
    let text = gateway
        .get(&format!("/file/{data_id}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("\"result\":\"Processing\""), "{text}");
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["process_info"]["progress_percentage"], 0);
    assert_eq!(report["scan_results"]["progress_percentage"], 0);
    assert_eq!(report["scan_results"]["scan_all_result_i"], 255);
    assert_eq!(report["scan_results"]["scan_all_result_a"], "In Progress");
    assert_eq!(report["scan_results"]["total_avs"], 1);
    assert_eq!(report["file_info"]["file_size"], 18);
    assert_eq!(report["file_info"]["file_type"], "text/plain");
    assert_eq!(report["file_info"]["display_name"], "waiting.txt");
    assert!(
        !report["file_info"]["upload_timestamp"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    assert_eq!(report["file_info"]["sha1"].as_str().unwrap().len(), 40);

    let cancel = gateway
        .post(&format!("/file/{data_id}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 200);
    assert_eq!(
        cancel.json::<Value>().await.unwrap(),
        json!({ data_id.clone(): "cancelled" })
    );
    let report = gateway.report(&data_id).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 19);
    assert_eq!(report["scan_results"]["scan_all_result_a"], "Cancelled");
    assert_eq!(report["scan_results"]["progress_percentage"], 100);

    let again = gateway
        .post(&format!("/file/{data_id}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.json::<Value>().await.unwrap()["err"].is_string());
    let unknown = gateway
        .post("/file/0123456789abcdef0123456789abcdef/cancel")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(unknown.json::<Value>().await.unwrap()["err"].is_string());
}

#[tokio::test]
async fn a_full_queue_answers_503_and_stores_nothing() {
    let gateway = Server::start_gateway("[queue]\nmax_queued = 2\n");
    gateway.submit("1", b"one".to_vec()).await;
    gateway.submit("2", b"two".to_vec()).await;
    // The queue depth is cached for up to 100 ms.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let busy = gateway.post("/file").body("three").send().await.unwrap();
    assert_eq!(busy.status(), 503);
    assert_eq!(
        busy.json::<Value>().await.unwrap(),
        json!({"err": "Server is too busy. Try again later."})
    );
    assert_eq!(blob_count(&gateway.data_dir), 2);
}

#[tokio::test]
async fn hash_lookup_finds_the_latest_result_by_any_digest() {
    let server = Server::start("[[rules]]\nname = \"Default\"\n\n[[rules]]\nname = \"Other\"\n");
    let data_id = server.submit("e.com", eicar()).await;
    let report = server.wait_final(&data_id).await;
    let hashes: Vec<String> = ["md5", "sha1", "sha256", "sha512"]
        .iter()
        .map(|k| report["file_info"][k].as_str().unwrap().to_string())
        .collect();
    for hash in &hashes {
        for text in [hash.clone(), hash.to_uppercase()] {
            let found: Value = server.get_json(&format!("/hash/{text}")).await;
            assert_eq!(found["data_id"], data_id.as_str(), "{text}");
            assert_eq!(found["scan_results"]["scan_all_result_i"], 1);
        }
    }
    // A newer scan of the same content under another rule is what an unscoped lookup returns.
    let newer = server
        .submit_with(server.post("/file").header("rule", "Other"), eicar())
        .await;
    server.wait_final(&newer).await;
    let latest: Value = server.get_json(&format!("/hash/{}", hashes[0])).await;
    assert_eq!(latest["data_id"], newer.as_str());
    let scoped: Value = server
        .get(&format!("/hash/{}", hashes[0]))
        .header("rule", "Default")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(scoped["data_id"], data_id.as_str());
    let within: Value = server
        .get(&format!("/hash/{}", hashes[2]))
        .header("timerange", "1")
        .header("selfonly", "true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(within["data_id"], newer.as_str());

    let unknown_hash = "00000000000000000000000000000000";
    let missing = server
        .get(&format!("/hash/{unknown_hash}"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 200);
    assert_eq!(
        missing.json::<Value>().await.unwrap(),
        json!({ unknown_hash: "Not Found" })
    );
    let malformed = server.get("/hash/xyz123").send().await.unwrap();
    assert_eq!(malformed.status(), 404);
    assert_eq!(
        malformed.json::<Value>().await.unwrap(),
        json!({"err": "Invalid hash format"})
    );
}

#[tokio::test]
async fn hash_lookup_sees_in_progress_files_only_when_asked() {
    let gateway = Server::start_gateway("");
    let data_id = gateway
        .submit("q", b"queued content for hashing".to_vec())
        .await;
    let report = gateway.report(&data_id).await;
    let md5 = report["file_info"]["md5"].as_str().unwrap().to_string();
    let hidden: Value = gateway.get_json(&format!("/hash/{md5}")).await;
    assert_eq!(hidden, json!({ md5.clone(): "Not Found" }));
    let shown: Value = gateway
        .get(&format!("/hash/{md5}"))
        .header("include-inprogress", "true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["data_id"], data_id.as_str());
    assert_eq!(shown["scan_results"]["scan_all_result_i"], 255);
}

#[tokio::test]
async fn downloads_without_an_output_are_404_with_err() {
    let server = Server::start("");
    let data_id = server
        .submit("plain.txt", b"no sanitized copy".to_vec())
        .await;
    server.wait_final(&data_id).await;
    for path in ["converted", "download"] {
        let response = server
            .client
            .get(server.url(&format!("/file/{path}/{data_id}?apikey={API_KEY}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"err": "File could not be found"})
        );
    }
}

#[tokio::test]
async fn yara_rules_reload_without_a_restart_and_broken_files_are_reported() {
    let server = Server::start("[health]\ncheck_seconds = 0.5\n");
    let rules_dir = server.data_dir.join("yara-rules");
    std::fs::write(
        rules_dir.join("custom.yar"),
        "rule Custom_Marker { meta: description = \"our marker\" strings: $m = \"palisade-marker-77\" condition: $m }",
    )
    .unwrap();
    std::fs::write(
        rules_dir.join("broken.yar"),
        "rule Broken { condition: oops( }",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let data_id = server
        .submit("m.txt", b"xx palisade-marker-77 xx".to_vec())
        .await;
    let report = server.wait_final(&data_id).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 21);
    assert_eq!(
        report["scan_results"]["scan_all_result_a"],
        "Yara Rule Matched"
    );
    assert_eq!(
        report["yara"]["hits"]["Custom_Marker"]["description"],
        "our marker"
    );

    let engines: Value = server.get_json("/stat/engines").await;
    let yara = engines
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["eng_id"] == "yara")
        .unwrap();
    let problems = yara["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].as_str().unwrap().contains("broken.yar"));
    // The built-in EICAR rule still works beside the broken file.
    let eicar_id = server.submit("e", eicar()).await;
    assert_eq!(
        server.wait_final(&eicar_id).await["scan_results"]["scan_all_result_i"],
        1
    );
}

#[tokio::test]
async fn gzip_and_base64_bodies_are_analysed_decoded() {
    let server = Server::start("");
    let gzipped = {
        let mut child = std::process::Command::new("gzip")
            .arg("-c")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&eicar()).unwrap();
        child.wait_with_output().unwrap().stdout
    };
    let data_id = server
        .submit_with(
            server.post("/file").header("content-encoding", "gzip"),
            gzipped,
        )
        .await;
    let report = server.wait_final(&data_id).await;
    assert_eq!(report["file_info"]["file_size"], 68);
    assert_eq!(
        report["file_info"]["md5"],
        "44d88612fea8a8f36de82e1278abb02f"
    );
    assert_eq!(report["scan_results"]["scan_all_result_i"], 1);

    let encoded = {
        let output = std::process::Command::new("base64")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut child = output;
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&eicar()).unwrap();
        child.wait_with_output().unwrap().stdout
    };
    let data_id = server
        .submit_with(
            server.post("/file").header("content-encoding", "base64"),
            encoded,
        )
        .await;
    let report = server.wait_final(&data_id).await;
    assert_eq!(
        report["file_info"]["md5"],
        "44d88612fea8a8f36de82e1278abb02f"
    );

    let unsupported = server
        .post("/file")
        .header("content-encoding", "br")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(unsupported.status(), 400);
    let broken = server
        .post("/file")
        .header("content-encoding", "gzip")
        .body("not gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    assert!(
        broken.json::<Value>().await.unwrap()["err"]
            .as_str()
            .unwrap()
            .contains("decoded")
    );
    let bad_timeout = server
        .post("/file")
        .header("global-timeout", "soon")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_timeout.status(), 400);
    let with_timeout = server
        .submit_with(
            server.post("/file").header("global-timeout", "30"),
            b"fine".to_vec(),
        )
        .await;
    assert_eq!(
        server.wait_final(&with_timeout).await["scan_results"]["scan_all_result_i"],
        0
    );
}
