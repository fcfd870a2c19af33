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
