//! Batches: create, add, status pages, close, cancel and the signed certificate.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Server, eicar};

pub async fn create_batch(server: &Server, user_data: &str) -> String {
    let response = server
        .post("/file/batch")
        .header("user-data", user_data)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["batch_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_batch_reports_its_worst_member_in_pages_and_refuses_files_once_closed() {
    let server = Server::start("");
    let batch = create_batch(&server, "nightly%20run%20%E2%9C%93").await;
    let mut ids = Vec::new();
    for index in 0..5 {
        let id = server
            .submit_with(
                server
                    .post("/file")
                    .header("batch", &batch)
                    .header("filename", format!("f{index}.txt")),
                format!("clean file number {index}").into_bytes(),
            )
            .await;
        ids.push(id);
    }
    let bad = server
        .submit_with(server.post("/file").header("batch", &batch), eicar())
        .await;
    for id in ids.iter().chain([&bad]) {
        server.wait_final(id).await;
    }

    let closed = server
        .post(&format!("/file/batch/{batch}/close"))
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 200);
    let closed: Value = closed.json().await.unwrap();
    crate::schema::assert_fits(&closed, &crate::schema::batch(), "a closed batch");
    assert_eq!(closed["is_closed"], true);
    assert_eq!(closed["user_data"], "nightly run ✓");
    assert_eq!(closed["batch_files"]["batch_count"], 6);
    assert_eq!(closed["scan_results"]["scan_all_result_i"], 1);
    assert_eq!(closed["scan_results"]["scan_all_result_a"], "Infected");
    assert_eq!(closed["scan_results"]["total_avs"], 0);
    assert_eq!(closed["process_info"]["result"], "Blocked");
    assert_eq!(closed["process_info"]["blocked_reason"], "Infected");

    let page: Value = server
        .get_json(&format!("/file/batch/{batch}?first=2&size=3"))
        .await;
    crate::schema::assert_fits(&page, &crate::schema::batch(), "a batch page");
    assert_eq!(page["batch_files"]["first_index"], 2);
    assert_eq!(page["batch_files"]["page_size"], 3);
    let listed: Vec<&str> = page["batch_files"]["files_in_batch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["data_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        ids[2..5].iter().map(String::as_str).collect::<Vec<_>>()
    );
    let member = &page["batch_files"]["files_in_batch"][0];
    assert_eq!(member["display_name"], "f2.txt");
    assert_eq!(member["scan_all_result_i"], 0);
    assert_eq!(member["process_info"]["result"], "Allowed");

    let late = server
        .post("/file")
        .header("batch", &batch)
        .body("too late")
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), 400);
    assert!(late.json::<Value>().await.unwrap()["err"].is_string());

    let too_long = server
        .post("/file/batch")
        .header("user-data", "x".repeat(1025))
        .send()
        .await
        .unwrap();
    assert_eq!(too_long.status(), 400);
    let unknown = server
        .get("/file/batch/0123456789abcdef0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(unknown.json::<Value>().await.unwrap()["err"].is_string());
}

#[tokio::test]
async fn cancelling_a_batch_cancels_its_unfinished_files_and_closes_it() {
    let gateway = Server::start_gateway("");
    let batch = create_batch(&gateway, "to cancel").await;
    let first = gateway
        .submit_with(
            gateway.post("/file").header("batch", &batch),
            b"one".to_vec(),
        )
        .await;
    let second = gateway
        .submit_with(
            gateway.post("/file").header("batch", &batch),
            b"two".to_vec(),
        )
        .await;
    let status: Value = gateway.get_json(&format!("/file/batch/{batch}")).await;
    assert_eq!(status["process_info"]["result"], "Processing");
    assert_eq!(status["scan_results"]["scan_all_result_i"], 255);
    assert_eq!(status["is_closed"], false);

    let cancel = gateway
        .post(&format!("/file/batch/{batch}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 200);
    assert_eq!(
        cancel.json::<Value>().await.unwrap(),
        json!({ batch.clone(): "cancelled" })
    );
    for id in [&first, &second] {
        assert_eq!(
            gateway.report(id).await["scan_results"]["scan_all_result_i"],
            19
        );
    }
    let status: Value = gateway.get_json(&format!("/file/batch/{batch}")).await;
    assert_eq!(status["is_closed"], true);
    assert_eq!(status["scan_results"]["scan_all_result_i"], 19);
    let unknown = gateway
        .post("/file/batch/0123456789abcdef0123456789abcdef/cancel")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

/// Splits a certificate body into (signed bytes, signature hex, certificate PEM).
fn split_certificate(body: &str) -> (String, String, String) {
    let end = body.find("\n...\n").expect("first document ends with ...") + 5;
    let (signed, rest) = body.split_at(end);
    let signature = rest
        .lines()
        .find_map(|l| l.strip_prefix("signature: "))
        .unwrap()
        .trim_matches('"')
        .to_string();
    let mut pem = String::new();
    let mut inside = false;
    for line in rest.lines() {
        if line.starts_with("certificate: |") {
            inside = true;
            continue;
        }
        if inside {
            match line.strip_prefix("  ") {
                Some(text) => {
                    pem.push_str(text);
                    pem.push('\n');
                }
                None => break,
            }
        }
    }
    (signed.to_string(), signature, pem)
}

#[tokio::test]
async fn batch_certificates_verify_with_an_independent_rsa_implementation() {
    let server = Server::start("");
    let batch = create_batch(&server, "signed").await;
    let clean = server
        .submit_with(
            server
                .post("/file")
                .header("batch", &batch)
                .header("filename", "ok.txt"),
            b"clean".to_vec(),
        )
        .await;
    let bad = server
        .submit_with(server.post("/file").header("batch", &batch), eicar())
        .await;
    server.wait_final(&clean).await;
    server.wait_final(&bad).await;
    server
        .post(&format!("/file/batch/{batch}/close"))
        .send()
        .await
        .unwrap();

    let response = server
        .get(&format!("/file/batch/{batch}/certificate"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let body = response.text().await.unwrap();
    assert!(body.starts_with("---\n"));
    assert!(body.contains(&format!("batch_id: \"{batch}\"")));
    assert!(body.contains(&format!("data_id: \"{clean}\"")));
    assert!(body.contains("scan_all_result_i: 1"));
    let (signed, signature, pem) = split_certificate(&body);
    assert_eq!(signature.len(), 1024, "RSA-4096 signature in hex");

    assert!(verify_with_openssl(&signed, &signature, &pem));
    let fingerprint = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(pem.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let fingerprint = String::from_utf8(fingerprint.stdout).unwrap();
    let fingerprint = fingerprint.trim().split('=').nth(1).unwrap().to_string();
    assert!(signed.contains(&format!("cert_sha1_fingerprint: \"{fingerprint}\"")));

    // A single changed byte in the document no longer verifies.
    assert!(!verify_with_openssl(
        &signed.replace("signed", "signeD"),
        &signature,
        &pem
    ));
}

/// Whether OpenSSL verifies `signature` (hex) over `signed` with the key of certificate `pem`.
fn verify_with_openssl(signed: &str, signature: &str, pem: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("doc"), signed).unwrap();
    std::fs::write(dir.path().join("sig"), hex_decode(signature)).unwrap();
    std::fs::write(dir.path().join("cert.pem"), pem).unwrap();
    let openssl = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("openssl runs")
    };
    let pubkey = openssl(&["x509", "-in", "cert.pem", "-pubkey", "-noout"]);
    assert!(pubkey.status.success());
    std::fs::write(dir.path().join("pub.pem"), &pubkey.stdout).unwrap();
    openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        "pub.pem",
        "-signature",
        "sig",
        "doc",
    ])
    .status
    .success()
}

fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test]
async fn an_operator_supplied_key_and_certificate_sign_the_certificates() {
    let keys = tempfile::tempdir().unwrap();
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Operator signing",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
        ])
        .current_dir(keys.path())
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let config = format!(
        "[signing]\nkey_file = {:?}\ncert_file = {:?}\n",
        keys.path().join("key.pem"),
        keys.path().join("cert.pem")
    );
    let server = Server::start(&config);
    let batch = create_batch(&server, "operator").await;
    let body = server
        .get(&format!("/file/batch/{batch}/certificate"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (_, signature, pem) = split_certificate(&body);
    assert_eq!(signature.len(), 512, "RSA-2048 signature in hex");
    let expected = std::fs::read_to_string(keys.path().join("cert.pem")).unwrap();
    assert_eq!(pem.trim(), expected.trim());
    assert!(!server.data_dir.join("batch-signing-key.pem").exists());
}

fn fingerprint(body: &str) -> String {
    body.lines()
        .find_map(|l| l.trim().strip_prefix("cert_sha1_fingerprint: "))
        .expect("fingerprint line")
        .trim_matches('"')
        .to_string()
}

async fn certificate(server: &Server) -> String {
    let batch = create_batch(server, "keys").await;
    let response = server
        .get(&format!("/file/batch/{batch}/certificate"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn a_truncated_generated_key_is_regenerated_and_a_bad_supplied_key_stops_the_start() {
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::launch("serve", data.path(), "");
    let first = fingerprint(&certificate(&server).await);
    let key = data.path().join("batch-signing-key.pem");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(server.terminate(Duration::from_secs(30)).success());

    // A disk that filled while the key was written left it empty.
    std::fs::write(&key, b"").unwrap();
    let server = Server::launch("serve", data.path(), "");
    let body = certificate(&server).await;
    let (document, signature, pem) = split_certificate(&body);
    assert_ne!(fingerprint(&body), first, "a new key and certificate");
    assert!(std::fs::metadata(&key).unwrap().len() > 0);
    assert!(
        std::fs::read_dir(data.path())
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains(".damaged-")),
        "the damaged key is kept aside"
    );
    assert!(verify_with_openssl(&document, &signature, &pem));
    drop(server);

    // An operator's key that does not load stops the start, naming the file.
    let keys = tempfile::tempdir().unwrap();
    std::fs::write(keys.path().join("key.pem"), b"").unwrap();
    std::fs::write(keys.path().join("cert.pem"), b"not a certificate").unwrap();
    let config = format!(
        "[signing]\nkey_file = {:?}\ncert_file = {:?}\n",
        keys.path().join("key.pem"),
        keys.path().join("cert.pem")
    );
    let fresh = tempfile::tempdir().unwrap();
    let stderr = crate::support::start_refused(fresh.path(), &config);
    assert!(
        stderr.contains("batch signing key") && stderr.contains("key.pem"),
        "{stderr}"
    );
}
