//! `/metrics`: read by the Prometheus project's own parser, counters that move as files are
//! scanned, and the ways an operator restricts who reads them.

use std::collections::BTreeMap;

use palisade_test_support::metrics::{Sample, parse, value};
use palisade_test_support::pdf;
use serde_json::Value;

use crate::support::{API_KEY, Server, eicar};

const CONFIG: &str = "[dlp]\nenabled = true\n\n[cdr]\nenabled = true\n\n\
                      [[rules]]\nname = \"Default\"\n";

const CUSTOMERS: &str = "name,card,note\n\
    Ada Lovelace,4556 7375 8689 9855,paid by Visa\n\
    Grace Hopper,,SSN 536-22-8726 on the W-4\n";

/// `/metrics` read without an API key, as Prometheus reads it by default.
async fn scrape(server: &Server) -> Vec<Sample> {
    let response = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text; version=1.0.0"),
        "{content_type}"
    );
    parse(&response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_move_as_files_are_scanned_and_a_prometheus_parser_reads_them() {
    let server = Server::start(CONFIG);
    let before = scrape(&server).await;
    let version = before
        .iter()
        .find(|s| s.name == "palisade_build_info")
        .expect("build info");
    assert_eq!(version.labels["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(value(&before, "palisade_ingested_bytes_total", &[]), 0.0);

    let files: Vec<(&str, Vec<u8>)> = vec![
        ("notes.txt", b"nothing to see here".to_vec()),
        ("eicar.com", eicar()),
        ("customers.csv", CUSTOMERS.as_bytes().to_vec()),
        ("active.pdf", pdf::active()),
    ];
    let mut reports: Vec<Value> = Vec::new();
    let mut data_ids = Vec::new();
    for (name, bytes) in &files {
        let data_id = server.submit(name, bytes.clone()).await;
        reports.push(server.wait_final(&data_id).await);
        data_ids.push(data_id);
    }
    let after = scrape(&server).await;

    // Files finished, by the result each report gives.
    let mut expected: BTreeMap<String, f64> = BTreeMap::new();
    for report in &reports {
        let result = report["scan_results"]["scan_all_result_a"]
            .as_str()
            .unwrap();
        *expected.entry(result.to_string()).or_default() += 1.0;
    }
    assert!(expected.contains_key("Infected"), "{expected:?}");
    assert!(
        expected.contains_key("Sensitive Data Found"),
        "{expected:?}"
    );
    for (result, count) in &expected {
        let labels = [("result", result.as_str()), ("origin", "submitted")];
        assert_eq!(
            value(&after, "palisade_files_finished_total", &labels),
            *count,
            "{result}"
        );
    }
    let total: usize = files.iter().map(|(_, bytes)| bytes.len()).sum();
    assert_eq!(
        value(&after, "palisade_ingested_bytes_total", &[]),
        total as f64
    );

    // Requests by route pattern: the uploads and the polls, never a file's own path.
    let uploads = [("route", "/file"), ("method", "POST"), ("status", "200")];
    assert_eq!(value(&after, "palisade_http_requests_total", &uploads), 4.0);
    let polls = [("route", "/file/{data_id}"), ("method", "GET")];
    assert!(value(&after, "palisade_http_requests_total", &polls) >= 4.0);
    assert!(
        value(
            &after,
            "palisade_http_request_duration_seconds_count",
            &polls
        ) >= 4.0
    );
    for sample in &after {
        for label in sample.labels.values() {
            assert!(
                data_ids.iter().all(|id| !label.contains(id.as_str())),
                "a label names a file: {sample:?}"
            );
        }
    }

    // Every engine that reads production is up, and each engine's scans were timed.
    let engines: Value = server.get_json("/stat/engines").await;
    for engine in engines.as_array().unwrap() {
        let id = engine["eng_id"].as_str().unwrap();
        let up = if engine["state"] == "production" {
            1.0
        } else {
            0.0
        };
        assert_eq!(
            value(&after, "palisade_engine_up", &[("engine", id)]),
            up,
            "{id}"
        );
    }
    let yara = [("engine", "yara")];
    assert_eq!(
        value(&after, "palisade_engine_scan_duration_seconds_count", &yara),
        4.0
    );
    assert_eq!(value(&after, "palisade_engine_errors_total", &[]), 0.0);

    // Proactive DLP's hits and Deep CDR's work, as the reports tell them.
    let dlp = &reports[2]["dlp_info"]["hits"];
    for kind in ["ccn", "ssn"] {
        let hits = dlp[kind]["hits"].as_array().unwrap().len() as f64;
        assert!(hits >= 1.0, "{dlp}");
        assert_eq!(
            value(&after, "palisade_dlp_hits_total", &[("kind", kind)]),
            hits,
            "{kind}"
        );
    }
    let sanitization = &reports[3]["process_info"]["post_processing"]["sanitization_details"];
    assert_eq!(sanitization["result"], "Sanitized", "{sanitization}");
    let removed: u64 = sanitization["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|object| object["count"].as_u64().unwrap())
        .sum();
    assert!(removed > 0);
    assert_eq!(
        value(
            &after,
            "palisade_cdr_files_total",
            &[("result", "sanitized")]
        ),
        1.0
    );
    assert_eq!(
        value(&after, "palisade_cdr_objects_total", &[]),
        removed as f64
    );

    // Nothing is left waiting.
    assert_eq!(value(&after, "palisade_queue_depth", &[]), 0.0);
    assert_eq!(value(&after, "palisade_queue_oldest_age_seconds", &[]), 0.0);
}

#[tokio::test]
async fn the_queue_gauges_show_what_waits_on_a_gateway_without_nodes() {
    let gateway = Server::start_gateway("");
    for i in 0..3 {
        gateway
            .submit(&format!("q{i}.txt"), format!("queued {i}").into_bytes())
            .await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let samples = scrape(&gateway).await;
    assert_eq!(value(&samples, "palisade_queue_depth", &[]), 3.0);
    assert!(value(&samples, "palisade_queue_oldest_age_seconds", &[]) >= 1.0);
    assert_eq!(value(&samples, "palisade_files_finished_total", &[]), 0.0);
}

#[tokio::test]
async fn metrics_can_ask_for_an_api_key() {
    let server = Server::start("[metrics]\nrequire_apikey = true\n");
    let refused = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert!(body["err"].is_string(), "{body}");
    let allowed = server
        .client
        .get(server.url("/metrics"))
        .header("apikey", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    parse(&allowed.text().await.unwrap());
    let by_query = server
        .client
        .get(server.url(&format!("/metrics?apikey={API_KEY}")))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);
}

#[tokio::test]
async fn metrics_can_have_a_listener_of_their_own() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let server = Server::start(&format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"));
    let on_api = server.get("/metrics").send().await.unwrap();
    assert_eq!(on_api.status(), 404);
    let own = server
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    let samples = parse(&own.text().await.unwrap());
    assert!(samples.iter().any(|s| s.name == "palisade_build_info"));
    // The API is not on that listener.
    let api = server
        .client
        .get(format!("http://127.0.0.1:{port}/stat/engines"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 404);
}
