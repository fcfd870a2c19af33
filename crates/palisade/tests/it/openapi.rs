//! `/openapi.json`: a valid OpenAPI 3.1 document of every route the server serves, and the
//! server's real answers (reports of every kind, errors, batches, copies) fit it, as judged by
//! openapi-spec-validator and jsonschema.

use palisade_test_support::openapi::{Answer, check};
use palisade_test_support::{ooxml, pdf};
use serde_json::Value;
use sha2::Digest;

use crate::support::{ADMIN_PASSWORD, API_KEY, Server, eicar};

const CONFIG: &str = "[dlp]\nenabled = true\n\n[cdr]\nenabled = true\n\n\
                      [[rules]]\nname = \"Default\"\n";

/// Sends requests and keeps each answer for the judge.
struct Recorder<'a> {
    server: &'a Server,
    answers: Vec<Answer>,
}

/// The server's `/openapi.json`, read without an apikey as integrators read it.
async fn document_of(server: &Server) -> String {
    let response = server
        .client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    response.text().await.unwrap()
}

impl<'a> Recorder<'a> {
    fn new(server: &'a Server) -> Self {
        Self {
            server,
            answers: Vec::new(),
        }
    }

    /// Sends `request` (to the route `template`) and records the answer; returns its status
    /// and JSON body (`null` when not JSON).
    async fn send(
        &mut self,
        method: &str,
        template: &str,
        request: reqwest::RequestBuilder,
    ) -> (u16, Value) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = response.bytes().await.unwrap();
        let body = if content_type.starts_with("application/json") {
            serde_json::from_slice(&bytes).unwrap()
        } else {
            Value::Null
        };
        self.answers.push(Answer {
            method: method.into(),
            path: template.into(),
            status,
            content_type,
            body: body.clone(),
        });
        (status, body)
    }

    /// GETs `path` (of route `template`) with the admin key, expecting `status`.
    async fn expect_get(&mut self, template: &str, path: &str, status: u16) -> Value {
        let (got, body) = self.get(template, path).await;
        assert_eq!(got, status, "GET {path}: {body}");
        body
    }

    /// POSTs to `path` (of route `template`) with the admin key, expecting `status`.
    async fn expect_post(&mut self, template: &str, path: &str, status: u16) -> Value {
        let (got, body) = self.post(template, path).await;
        assert_eq!(got, status, "POST {path}: {body}");
        body
    }

    async fn get(&mut self, template: &str, path: &str) -> (u16, Value) {
        let request = self.server.get(path);
        self.send("get", template, request).await
    }

    async fn post(&mut self, template: &str, path: &str) -> (u16, Value) {
        let request = self.server.post(path);
        self.send("post", template, request).await
    }

    /// Submits a file and records the final report.
    async fn scan(&mut self, name: &str, bytes: Vec<u8>, extra: &[(&str, &str)]) -> String {
        let mut request = self.server.post("/file").header("filename", name);
        for (key, value) in extra {
            request = request.header(*key, *value);
        }
        let (status, answer) = self.send("post", "/file", request.body(bytes)).await;
        assert_eq!(status, 200, "{answer}");
        let data_id = answer["data_id"].as_str().unwrap().to_string();
        self.server.wait_final(&data_id).await;
        let (status, _) = self
            .get("/file/{data_id}", &format!("/file/{data_id}"))
            .await;
        assert_eq!(status, 200);
        data_id
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_documented_and_real_answers_fit_the_document() {
    let server = Server::start(CONFIG);
    let document = document_of(&server).await;
    let parsed: Value = serde_json::from_str(&document).unwrap();
    assert_eq!(parsed["openapi"], "3.1.0");
    let paths: Vec<&str> = parsed["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for route in [
        "/file",
        "/file/{data_id}",
        "/hash/{hash}",
        "/file/batch/{batch_id}/certificate",
        "/file/download/{data_id}",
        "/stat/nodes",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(paths.contains(&route), "{route} missing from {paths:?}");
    }
    // The processing results are the API document's enum, texts and numbers.
    let results = &parsed["components"]["schemas"]["ScanResults"]["properties"];
    let texts = results["scan_all_result_a"]["enum"].as_array().unwrap();
    for text in [
        "No Threat Detected",
        "Infected",
        "Sensitive Data Found",
        "In Progress",
    ] {
        assert!(texts.contains(&Value::from(text)), "{text}: {texts:?}");
    }
    let codes = results["scan_all_result_i"]["enum"].as_array().unwrap();
    assert!(codes.contains(&Value::from(255)) && codes.contains(&Value::from(20)));
    let mut recorder = Recorder::new(&server);

    // Status, sessions and the service's own lists.
    for (template, path) in [
        ("/version", "/version"),
        ("/readyz", "/readyz"),
        ("/admin/config/healthcheck", "/admin/config/healthcheck"),
        ("/stat/engines", "/stat/engines"),
        ("/stat/nodes", "/stat/nodes"),
        ("/file/rules", "/file/rules"),
        ("/metrics", "/metrics"),
        ("/openapi.json", "/openapi.json"),
    ] {
        let (status, _) = recorder.get(template, path).await;
        assert_eq!(status, 200, "{path}");
    }
    let unauthenticated = server.client.get(server.url("/stat/engines"));
    assert_eq!(
        recorder
            .send("get", "/stat/engines", unauthenticated)
            .await
            .0,
        403
    );
    let login = server
        .client
        .post(server.url("/login"))
        .json(&serde_json::json!({"user": "admin", "password": ADMIN_PASSWORD}));
    let (status, session) = recorder.send("post", "/login", login).await;
    assert_eq!(status, 200);
    let wrong = server
        .client
        .post(server.url("/login"))
        .json(&serde_json::json!({"user": "admin", "password": "wrong"}));
    assert_eq!(recorder.send("post", "/login", wrong).await.0, 403);
    let session_id = session["session_id"].as_str().unwrap();
    let logout = server
        .client
        .post(server.url("/logout"))
        .header("apikey", session_id);
    assert_eq!(recorder.send("post", "/logout", logout).await.0, 200);

    // Reports of every kind: clean, infected, sensitive data, sanitized, an archive.
    let clean = recorder
        .scan("notes.txt", b"nothing here".to_vec(), &[])
        .await;
    let infected = recorder.scan("eicar.com", eicar(), &[]).await;
    let customers = "name,card\nAda,4556 7375 8689 9855\n".as_bytes().to_vec();
    recorder.scan("customers.csv", customers, &[]).await;
    let sanitized = recorder.scan("active.pdf", pdf::active(), &[]).await;
    let archive = ooxml::zip_of(&[
        ("a.txt", b"first".to_vec()),
        ("b.com", eicar()),
        ("c.txt", b"third".to_vec()),
    ]);
    let zip_id = recorder.scan("bundle.zip", archive, &[]).await;
    let page = format!("/file/{zip_id}?first=1&size=1");
    recorder.expect_get("/file/{data_id}", &page, 200).await;
    let bad_page = format!("/file/{zip_id}?first=x");
    recorder.expect_get("/file/{data_id}", &bad_page, 400).await;
    let unknown = "0123456789abcdef0123456789abcdef";
    let (status, body) = recorder
        .get("/file/{data_id}", &format!("/file/{unknown}"))
        .await;
    assert_eq!((status, body[unknown].as_str()), (200, Some("Not Found")));

    // Uploads refused.
    let unsized_body = server.post("/file").body(Vec::new());
    assert_eq!(recorder.send("post", "/file", unsized_body).await.0, 411);
    let empty = server.post("/file").header("content-length", "0");
    assert_eq!(recorder.send("post", "/file", empty).await.0, 422);
    let local = server.post("/file").header("filepath", "/etc/passwd");
    assert_eq!(recorder.send("post", "/file", local.body("x")).await.0, 400);

    // Hash lookups.
    let sha256 = hex::encode(sha2::Sha256::digest(eicar()));
    let found = recorder
        .expect_get("/hash/{hash}", &format!("/hash/{sha256}"), 200)
        .await;
    assert_eq!(found["scan_results"]["scan_all_result_a"], "Infected");
    let zeros = "0".repeat(64);
    let unknown_hash = recorder
        .expect_get("/hash/{hash}", &format!("/hash/{zeros}"), 200)
        .await;
    assert_eq!(unknown_hash[&zeros], "Not Found");
    recorder
        .expect_get("/hash/{hash}", "/hash/not-a-hash", 404)
        .await;

    // Numbers past a 64-bit signed integer are refused, as the document's int64 says; a time
    // range of the largest number of hours is any time.
    let too_big = format!("/file/{zip_id}?size=9223372036854775808");
    recorder.expect_get("/file/{data_id}", &too_big, 400).await;
    let forever = server
        .get(&format!("/hash/{sha256}"))
        .header("timerange", i64::MAX.to_string());
    let (status, old) = recorder.send("get", "/hash/{hash}", forever).await;
    assert_eq!(
        (status, &old["scan_results"]["scan_all_result_a"]),
        (200, &Value::from("Infected"))
    );
    // Both headers name a rule: an unknown `workflow` is refused even beside a good `rule`.
    let conflicting = server
        .post("/file/batch")
        .header("rule", "Default")
        .header("workflow", "No such rule");
    let (status, refused) = recorder.send("post", "/file/batch", conflicting).await;
    assert_eq!(status, 400, "{refused}");

    // Cancels of what cannot be cancelled.
    let done = format!("/file/{clean}/cancel");
    recorder
        .expect_post("/file/{data_id}/cancel", &done, 400)
        .await;
    let missing = format!("/file/{unknown}/cancel");
    recorder
        .expect_post("/file/{data_id}/cancel", &missing, 404)
        .await;

    // Copies: the sanitized PDF whole and in part; none for a plain file.
    let converted = format!("/file/converted/{sanitized}");
    recorder
        .expect_get("/file/converted/{data_id}", &converted, 200)
        .await;
    let ranged = server
        .get(&format!("/file/download/{sanitized}"))
        .header("range", "bytes=0-9");
    assert_eq!(
        recorder
            .send("get", "/file/download/{data_id}", ranged)
            .await
            .0,
        206
    );
    let past_the_end = server
        .get(&format!("/file/converted/{sanitized}"))
        .header("range", "bytes=100000000-");
    let (status, _) = recorder
        .send("get", "/file/converted/{data_id}", past_the_end)
        .await;
    assert_eq!(status, 416);
    let none = format!("/file/download/{infected}");
    recorder
        .expect_get("/file/download/{data_id}", &none, 404)
        .await;

    // A batch from creation to its certificate.
    let batch = recorder
        .expect_post("/file/batch", "/file/batch", 200)
        .await;
    let batch_id = batch["batch_id"].as_str().unwrap().to_string();
    recorder
        .scan(
            "member.txt",
            b"in a batch".to_vec(),
            &[("batch", &batch_id)],
        )
        .await;
    let status_path = format!("/file/batch/{batch_id}");
    recorder
        .expect_get("/file/batch/{batch_id}", &status_path, 200)
        .await;
    let close = format!("/file/batch/{batch_id}/close");
    recorder
        .expect_post("/file/batch/{batch_id}/close", &close, 200)
        .await;
    let certificate = format!("/file/batch/{batch_id}/certificate");
    recorder
        .expect_get("/file/batch/{batch_id}/certificate", &certificate, 200)
        .await;
    let cancel = format!("/file/batch/{batch_id}/cancel");
    recorder
        .expect_post("/file/batch/{batch_id}/cancel", &cancel, 200)
        .await;
    let nobody = format!("/file/batch/{unknown}");
    recorder
        .expect_get("/file/batch/{batch_id}", &nobody, 404)
        .await;

    check(&document, &recorder.answers);
    // The key is not in the document.
    assert!(!document.contains(API_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure_against_the_document() {
    let server = Server::start(CONFIG);
    // Files for the generated requests to find: a report and a sanitized copy.
    for (name, bytes) in [
        ("notes.txt", b"plain".to_vec()),
        ("active.pdf", pdf::active()),
    ] {
        let data_id = server.submit(name, bytes).await;
        server.wait_final(&data_id).await;
    }
    let base = server.base.clone();
    tokio::task::spawn_blocking(move || {
        palisade_test_support::schemathesis::run(&base, API_KEY, 25)
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn refusals_for_size_a_full_queue_and_unfinished_work_fit_the_document() {
    // A gateway (nothing is scanned, so files stay queued and the queue fills) with a small
    // rule, and metrics for API users only.
    let config = "[queue]\nmax_queued = 2\n\n[metrics]\nrequire_apikey = true\n\n\
                  [[rules]]\nname = \"Default\"\n\n\
                  [[rules]]\nname = \"Tiny\"\nmax_file_size = 10\n";
    let server = Server::start_gateway(config);
    let document = document_of(&server).await;
    let mut recorder = Recorder::new(&server);
    let anonymous = server.client.get(server.url("/metrics"));
    assert_eq!(recorder.send("get", "/metrics", anonymous).await.0, 403);
    let no_session = server
        .client
        .post(server.url("/logout"))
        .header("apikey", "0".repeat(32));
    assert_eq!(recorder.send("post", "/logout", no_session).await.0, 403);
    // A closed batch whose file is still queued has no certificate yet.
    let batch = recorder
        .expect_post("/file/batch", "/file/batch", 200)
        .await;
    let batch_id = batch["batch_id"].as_str().unwrap().to_string();
    let member = server
        .post("/file")
        .header("batch", &batch_id)
        .body("waits");
    assert_eq!(recorder.send("post", "/file", member).await.0, 200);
    let close = format!("/file/batch/{batch_id}/close");
    recorder
        .expect_post("/file/batch/{batch_id}/close", &close, 200)
        .await;
    let certificate = format!("/file/batch/{batch_id}/certificate");
    recorder
        .expect_get("/file/batch/{batch_id}/certificate", &certificate, 400)
        .await;
    let too_big = server
        .post("/file")
        .header("rule", "Tiny")
        .body(vec![b'x'; 20]);
    assert_eq!(recorder.send("post", "/file", too_big).await.0, 500);
    let first = server.post("/file").body("queued");
    assert_eq!(recorder.send("post", "/file", first).await.0, 200);
    let second = server.post("/file").body("refused");
    assert_eq!(recorder.send("post", "/file", second).await.0, 503);
    check(&document, &recorder.answers);
}
