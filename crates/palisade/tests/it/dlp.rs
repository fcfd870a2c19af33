//! Proactive DLP through the binary: text files with card numbers, social security numbers and
//! a rule's own patterns are Sensitive Data Found, with their hits in `dlp_info`, masked in the
//! stored report; hard negatives are not; a file DLP does not read is not called clean; and a
//! parser crash is DLP verdict 3 while the server goes on.

use serde_json::Value;

use crate::support::Server;

fn config() -> String {
    "[dlp]\nenabled = true\n\n\
     [[rules]]\nname = \"Default\"\n\n\
     [[rules]]\nname = \"Shown\"\n[rules.dlp]\nshow_values = true\ncontext_chars = 10\n\n\
     [[rules]]\nname = \"Employees\"\n[rules.dlp]\nrecognizers = []\n\
     [[rules.dlp.patterns]]\ndisplay_name = \"Employee id\"\npattern = 'EMP-\\d{6}'\n\
     keywords = [\"employee\"]\ncertainty = \"very-high\"\n\n\
     [[rules]]\nname = \"Allowed\"\nallowed_results = [0, 20]\n"
        .into()
}

async fn scan(server: &Server, rule: &str, name: &str, bytes: &[u8]) -> Value {
    let request = server
        .post("/file")
        .header("filename", name)
        .header("rule", rule);
    let data_id = server.submit_with(request, bytes.to_vec()).await;
    let report = server.wait_final(&data_id).await;
    crate::schema::assert_fits(&report, &crate::schema::file_report(), &data_id);
    report
}

/// Every hit of the report: (kind, hit, certainty, location).
fn hits(report: &Value) -> Vec<(String, String, String, String)> {
    let mut found = Vec::new();
    for (kind, entry) in report["dlp_info"]["hits"].as_object().unwrap() {
        for hit in entry["hits"].as_array().unwrap() {
            found.push((
                kind.clone(),
                hit["hit"].as_str().unwrap().to_string(),
                hit["certainty"].as_str().unwrap().to_string(),
                hit["location"].as_str().unwrap().to_string(),
            ));
        }
    }
    found
}

const CUSTOMERS: &str = "name,card,note\n\
    Ada Lovelace,4556 7375 8689 9855,paid by Visa\n\
    Grace Hopper,,SSN 536-22-8726 on the W-4\n\
    Alan Turing,,wire to IBAN GB82 WEST 1234 5698 7654 32\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_with_card_and_social_security_numbers_is_sensitive_data_found_and_masked() {
    let server = Server::start(&config());
    let report = scan(&server, "Default", "customers.csv", CUSTOMERS.as_bytes()).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 20, "{report}");
    assert_eq!(
        report["scan_results"]["scan_all_result_a"],
        "Sensitive Data Found"
    );
    assert_eq!(report["process_info"]["result"], "Blocked");
    assert_eq!(
        report["process_info"]["blocked_reason"],
        "Sensitive Data Found"
    );
    let dlp = &report["dlp_info"];
    assert_eq!(dlp["verdict"], 1);
    assert_eq!(dlp["certainty"], "Very High");
    assert_eq!(dlp["hits"]["ccn"]["display_name"], "Credit Card Number");
    assert_eq!(dlp["hits"]["ssn"]["display_name"], "Social Security Number");
    let expected = |kind: &str, hit: &str, line: u32| {
        (
            kind.to_string(),
            hit.to_string(),
            "Very High".to_string(),
            format!("line {line}"),
        )
    };
    assert_eq!(
        hits(&report),
        vec![
            expected("ccn", "4556 **** **** 9855", 2),
            expected("iban", "**** **** **** **** **54 32", 4),
            expected("ssn", "***-**-8726", 3),
        ]
    );
    // The stored report holds none of the values, nor the digits around them.
    let text = report.to_string();
    for value in [
        "4556 7375 8689 9855",
        "536-22-8726",
        "GB82 WEST",
        "7375",
        "22-87",
    ] {
        assert!(!text.contains(value), "{value} leaked: {text}");
    }
    assert_eq!(dlp["hits"]["ccn"]["hits"][0]["severity"], 0);
    assert_eq!(dlp["hits"]["ccn"]["hits"][0]["tryRedact"], false);
    assert_eq!(dlp["redact"]["result"], "not redacted");
    assert!(
        report["process_info"]["verdicts"]
            .as_array()
            .unwrap()
            .contains(&Value::from("Sensitive Data Found"))
    );

    // The rule's allowed_results let the same file through, still reported.
    let allowed = scan(&server, "Allowed", "customers.csv", CUSTOMERS.as_bytes()).await;
    assert_eq!(allowed["scan_results"]["scan_all_result_i"], 20);
    assert_eq!(allowed["process_info"]["result"], "Allowed");

    // A rule that shows values shows them, with its context length.
    let shown = scan(&server, "Shown", "customers.csv", CUSTOMERS.as_bytes()).await;
    let card = &shown["dlp_info"]["hits"]["ccn"]["hits"][0];
    assert_eq!(card["hit"], "4556 7375 8689 9855");
    assert_eq!(card["before"], " Lovelace,");
    assert_eq!(card["after"], ",paid by V");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_negatives_give_no_hit_at_high() {
    let server = Server::start(&config());
    let negatives = "\
        sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
        md5 d41d8cd98f00b204e9800998ecf8427e, build 20240315123456\n\
        request 550e8400-e29b-41d4-a716-446655440000 from 123e4567-e89b-12d3-a456-426614174000\n\
        call +1 415-555-0132, fax (212) 555-0199, mobile 415 555 0175\n\
        Order #4556737586899855 and order number 5425233430109903 shipped\n\
        ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2\n\
        on 2024-03-15 at 10:30:00, due 15/04/2024\n\
        version 10.2.1.15 of the agent, see section 1.2.3.4\n\
        Stripe test card 4242 4242 4242 4242 and 4111 1111 1111 1111 in the sandbox\n\
        invoice 078-05-1120 sample, tracking 1Z999AA10123456784\n";
    let report = scan(&server, "Default", "negatives.txt", negatives.as_bytes()).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 0, "{report}");
    assert_eq!(report["process_info"]["result"], "Allowed");
    for (kind, hit, certainty, location) in hits(&report) {
        assert!(
            !certainty.contains("High"),
            "{kind} {hit} at {location} is {certainty}"
        );
    }
    assert_ne!(report["dlp_info"]["verdict"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_name_and_a_rules_own_patterns_are_examined() {
    let server = Server::start(&config());
    let report = scan(&server, "Default", "ssn 536-22-8726.txt", b"nothing here").await;
    assert_eq!(
        hits(&report),
        vec![(
            "ssn".to_string(),
            "***-**-8726".to_string(),
            "Very High".to_string(),
            "file name".to_string()
        )]
    );
    let text = "Badge of employee EMP-204913 renewed.\nShelf EMP-555555 in the store.\n";
    let report = scan(&server, "Employees", "badges.txt", text.as_bytes()).await;
    assert_eq!(
        report["dlp_info"]["hits"]["regex_0"]["display_name"],
        "Employee id"
    );
    assert_eq!(
        hits(&report),
        vec![(
            "regex_0".to_string(),
            "***-**4913".to_string(),
            "Very High".to_string(),
            "line 1".to_string()
        )]
    );
    assert_eq!(report["scan_results"]["scan_all_result_i"], 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_dlp_does_not_read_is_not_scanned_rather_than_clean() {
    let server = Server::start(&config());
    let report = scan(
        &server,
        "Default",
        "image.bin",
        b"\x00\x01\x02\x03binary\x00",
    )
    .await;
    let dlp = &report["dlp_info"];
    assert_eq!(dlp["verdict"], 4, "{report}");
    assert!(
        dlp["errors"]["scan"]
            .as_str()
            .unwrap()
            .contains("not examined"),
        "{dlp}"
    );
    assert_eq!(report["scan_results"]["scan_all_result_i"], 0);
}

#[cfg(feature = "fault-engines")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_crashes_the_parser_is_dlp_verdict_failed_and_the_server_goes_on() {
    let config = format!("{}\n[isolation]\npool = 1\n", config());
    let server = Server::start_with_env(&config, &["PALISADE_TEST_DLP_FAULT=abort"]);
    let report = scan(
        &server,
        "Default",
        "crafted.txt",
        b"FAULT-NOW 4556 7375 8689 9855",
    )
    .await;
    let dlp = &report["dlp_info"];
    assert_eq!(dlp["verdict"], 3, "{report}");
    assert!(
        dlp["errors"]["scan"].as_str().unwrap().contains("crash"),
        "{dlp}"
    );
    assert_ne!(
        report["scan_results"]["scan_all_result_i"], 0,
        "never clean"
    );
    for _ in 0..3 {
        let report = scan(&server, "Default", "customers.csv", CUSTOMERS.as_bytes()).await;
        assert_eq!(report["dlp_info"]["verdict"], 1, "{report}");
    }
}
