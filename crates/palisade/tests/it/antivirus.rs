//! ClamAV through Palisade, against a real clamd.

use serde_json::Value;

use crate::support::{Server, eicar};
use palisade_test_support::Clamd;

fn config(clamd: &Clamd) -> String {
    format!(
        "[[engines]]\nkind = \"clamav\"\naddress = \"unix:{}\"\ntimeout_seconds = 5\n\n\
         [[rules]]\nname = \"Default\"\n\n[[rules]]\nname = \"ClamAV only\"\nengines = [\"clamav\"]\n",
        clamd.socket().display()
    )
}

#[tokio::test]
async fn clamav_detections_appear_in_scan_details_and_stat_engines() {
    let clamd = Clamd::start("");
    let server = Server::start(&config(&clamd));
    let data_id = server
        .submit_with(server.post("/file").header("rule", "ClamAV only"), eicar())
        .await;
    let report = server.wait_final(&data_id).await;
    let clamav = &report["scan_results"]["scan_details"]["ClamAV"];
    assert_eq!(clamav["scan_result_i"], 1);
    assert_eq!(clamav["threat_found"], "Test.EICAR.HDB.UNOFFICIAL");
    assert_eq!(report["scan_results"]["total_avs"], 1);
    assert_eq!(report["process_info"]["blocked_reason"], "Infected");

    let both = server.submit("e.com", eicar()).await;
    let report = server.wait_final(&both).await;
    assert_eq!(report["scan_results"]["total_avs"], 2);
    assert_eq!(
        report["scan_results"]["scan_details"]["ClamAV"]["scan_result_i"],
        1
    );
    assert_eq!(
        report["scan_results"]["scan_details"]["YARA"]["scan_result_i"],
        1
    );

    let engines: Value = server.get_json("/stat/engines").await;
    let clamav = engines
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["eng_id"] == "clamav")
        .expect("clamav listed");
    assert_eq!(clamav["state"], "production");
    assert_eq!(clamav["engine_type"], "av");
    assert!(!clamav["eng_ver"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn files_scanned_while_clamd_is_down_fail_and_never_read_clean() {
    let mut clamd = Clamd::start("");
    let server = Server::start(&config(&clamd));
    clamd.kill();
    let data_id = server
        .submit_with(
            server.post("/file").header("rule", "ClamAV only"),
            b"an innocent file".to_vec(),
        )
        .await;
    let report = server.wait_final(&data_id).await;
    let clamav = &report["scan_results"]["scan_details"]["ClamAV"];
    assert_eq!(clamav["scan_result_i"], 3);
    assert!(
        clamav["threat_found"]
            .as_str()
            .unwrap()
            .contains("unreachable")
    );
    assert_eq!(report["scan_results"]["scan_all_result_i"], 3);
    assert_eq!(report["process_info"]["result"], "Blocked");

    clamd.restart();
    let again = server
        .submit_with(
            server.post("/file").header("rule", "ClamAV only"),
            b"an innocent file".to_vec(),
        )
        .await;
    let report = server.wait_final(&again).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 0);
}

/// Submits `count` files (every fourth one EICAR) through the ClamAV-only rule, 8 at a time;
/// returns (data_id, is_eicar) in submission order.
async fn submit_mix(server: &Server, tag: &str, count: usize) -> Vec<(String, bool)> {
    use futures_util::StreamExt;
    futures_util::stream::iter(0..count)
        .map(|i| async move {
            let infected = i % 4 == 0;
            let bytes = if infected {
                eicar()
            } else {
                // Large enough that some streams are in flight when clamd dies.
                let mut bytes = format!("clean file {tag} {i}").into_bytes();
                bytes.resize(1 << 20, b'.');
                bytes
            };
            let request = server.post("/file").header("rule", "ClamAV only");
            (server.submit_with(request, bytes).await, infected)
        })
        .buffered(8)
        .collect()
        .await
}

#[tokio::test]
async fn clamd_killed_mid_run_fails_affected_files_and_scanning_resumes() {
    let mut clamd = Clamd::start("");
    let server = Server::start(&config(&clamd));
    let (before, during) = tokio::join!(submit_mix(&server, "a", 120), async {
        // Kill the daemon while the first wave is still being submitted and scanned.
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        clamd.kill();
        submit_mix(&server, "b", 40).await
    });
    let mut failed = 0;
    for (data_id, infected) in before.iter().chain(&during) {
        let report = server.wait_final(data_id).await;
        let clamav = &report["scan_results"]["scan_details"]["ClamAV"];
        let code = clamav["scan_result_i"].as_i64().unwrap();
        match code {
            1 => assert!(infected, "{data_id}: clean file reported infected"),
            0 => assert!(!infected, "{data_id}: EICAR reported clean"),
            3 => {
                failed += 1;
                assert!(!clamav["threat_found"].as_str().unwrap().is_empty());
                assert_eq!(report["process_info"]["result"], "Blocked");
            }
            other => panic!("{data_id}: unexpected ClamAV result {other}"),
        }
        assert_eq!(report["scan_results"]["scan_all_result_i"], code);
    }
    assert!(
        failed >= 40,
        "every file sent after the kill failed ({failed})"
    );

    clamd.restart();
    for (data_id, infected) in submit_mix(&server, "c", 40).await {
        let report = server.wait_final(&data_id).await;
        let expected = if infected { 1 } else { 0 };
        assert_eq!(
            report["scan_results"]["scan_all_result_i"], expected,
            "{data_id} after clamd came back"
        );
    }
}

#[tokio::test]
async fn every_engine_kind_and_instance_reports_separately() {
    use palisade_test_support::IcapServer;
    let first = Clamd::start("");
    let second = Clamd::start("");
    let icap = IcapServer::start(&first);
    let config = format!(
        "[[engines]]\nkind = \"clamav\"\naddress = \"unix:{first}\"\n\n\
         [[engines]]\nkind = \"clamav\"\nid = \"clamav-2\"\nname = \"ClamAV 2\"\naddress = \"{second}\"\n\n\
         [[engines]]\nkind = \"icap\"\nurl = \"{url}\"\nname = \"c-icap\"\n\n\
         [[engines]]\nkind = \"command\"\nid = \"clamscan\"\nname = \"clamscan\"\n\
         command = [\"clamscan\", \"--no-summary\", \"-d\", \"{db}\", \"{{path}}\"]\n\
         threat_pattern = '(?m): (.+) FOUND$'\nversion_command = [\"clamscan\", \"--version\"]\n\n\
         [[rules]]\nname = \"AV\"\nengines = [\"clamav\", \"clamav-2\", \"icap\", \"clamscan\"]\n",
        first = first.socket().display(),
        second = second.socket().display(),
        url = icap.url(),
        db = first.database_dir().display(),
    );
    let server = Server::start(&config);
    let names = ["ClamAV", "ClamAV 2", "c-icap", "clamscan"];

    let infected = server.submit("eicar.com", eicar()).await;
    let report = server.wait_final(&infected).await;
    assert_eq!(report["scan_results"]["total_avs"], 4);
    for name in names {
        let detail = &report["scan_results"]["scan_details"][name];
        assert_eq!(detail["scan_result_i"], 1, "{name}: {detail}");
        assert_eq!(
            detail["threat_found"], "Test.EICAR.HDB.UNOFFICIAL",
            "{name}"
        );
    }
    assert_eq!(report["process_info"]["result"], "Blocked");

    let clean = server.submit("notes.txt", b"nothing to see".to_vec()).await;
    let report = server.wait_final(&clean).await;
    for name in names {
        assert_eq!(
            report["scan_results"]["scan_details"][name]["scan_result_i"], 0,
            "{name}"
        );
    }
    assert_eq!(report["process_info"]["result"], "Allowed");

    let engines: Value = server.get_json("/stat/engines").await;
    for id in ["clamav", "clamav-2", "icap", "clamscan"] {
        let engine = engines
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["eng_id"] == id)
            .unwrap_or_else(|| panic!("{id} listed in {engines}"));
        assert_eq!(engine["state"], "production", "{engine}");
        assert_eq!(engine["engine_type"], "av");
    }
}
