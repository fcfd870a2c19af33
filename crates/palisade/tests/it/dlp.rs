//! Proactive DLP through the binary: text files and documents of every format DLP reads
//! (built at runtime by `crates/test-support/scripts/dlp_documents.py`) with card numbers,
//! social security numbers and a rule's own patterns are Sensitive Data Found, with their
//! hits in `dlp_info`, masked in the stored report; hard negatives are not; a file DLP does
//! not read is not called clean; and a damaged document or a parser crash is DLP verdict 3
//! while the server goes on.

use std::collections::BTreeSet;

use palisade_test_support::dlp::documents;
use serde_json::Value;

use crate::support::Server;

fn config() -> String {
    "[dlp]\nenabled = true\n\n\
     [[rules]]\nname = \"Default\"\n\n\
     [[rules]]\nname = \"Shown\"\n[rules.dlp]\nshow_values = true\ncontext_chars = 10\n\n\
     [[rules]]\nname = \"Employees\"\n[rules.dlp]\nrecognizers = []\n\
     [[rules.dlp.patterns]]\ndisplay_name = \"Employee id\"\npattern = 'EMP-\\d{6}'\n\
     keywords = [\"employee\"]\ncertainty = \"very-high\"\n\n\
     [[rules]]\nname = \"Allowed\"\nallowed_results = [0, 20]\n\n\
     [[rules]]\nname = \"Redact\"\n[rules.dlp]\nredact = true\nremove_metadata = true\n\n\
     [[rules]]\nname = \"Redact first bytes\"\n[rules.dlp]\nredact = true\nmax_text_bytes = 80\n"
        .into()
}

/// DLP that redacts, beside a command engine that calls files holding `FLAGGED` infected.
fn flagged_config() -> String {
    "[dlp]\nenabled = true\n\n\
     [[engines]]\nkind = \"command\"\nid = \"flagger\"\nname = \"Flagger\"\n\
     command = [\"sh\", \"-c\", \"! grep -q FLAGGED \\\"$0\\\"\", \"{path}\"]\n\n\
     [[rules]]\nname = \"Redact flagged\"\n[rules.dlp]\nredact = true\n"
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

/// The hits at High or above: (kind, masked hit).
fn high(report: &Value) -> BTreeSet<(String, String)> {
    hits(report)
        .into_iter()
        .filter(|(_, _, certainty, _)| certainty.contains("High"))
        .map(|(kind, hit, _, _)| (kind, hit))
        .collect()
}

/// Each labelled value of a format's positives document, as a stored report shows it.
fn labelled(ext: &str) -> BTreeSet<(String, String)> {
    let visa = ("ccn", "4556 **** **** 9855");
    let mastercard = ("ccn", "5167 **** **** 4477");
    let discover = ("ccn", "6011 **** **** 5308");
    let iban = ("iban", "**** **** **** **** **54 32");
    let ssn = ("ssn", "***-**-8726");
    let comment = ("ssn", "***-**-1942");
    let keywords = ("ssn", "***-**-6789");
    let values: &[(&str, &str)] = match ext {
        "docx" | "xlsx" | "rtf" => &[visa, mastercard, discover, iban, ssn, comment, keywords],
        "pptx" => &[visa, iban, ssn, keywords],
        "eml" | "odp" => &[visa, iban, ssn],
        "pdf" => &[visa, mastercard, discover, iban, ssn, keywords],
        "odt" | "ods" | "xls" => &[visa, mastercard, discover, iban, ssn, comment],
        other => panic!("no labels for {other}"),
    };
    values
        .iter()
        .map(|(kind, hit)| (kind.to_string(), hit.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_of_every_format_are_read_for_hits_and_their_hard_negatives_are_not_high() {
    let dir = documents(&[]);
    let server = Server::start(&config());
    for ext in [
        "docx", "xlsx", "pptx", "eml", "pdf", "odt", "rtf", "ods", "xls", "odp",
    ] {
        let bytes = std::fs::read(dir.path().join(format!("positives.{ext}"))).unwrap();
        let report = scan(&server, "Default", &format!("review.{ext}"), &bytes).await;
        assert_eq!(
            report["scan_results"]["scan_all_result_i"], 20,
            "{ext}: {report}"
        );
        assert_eq!(report["dlp_info"]["verdict"], 1, "{ext}");
        assert_eq!(high(&report), labelled(ext), "{ext}: {report}");
        let text = report.to_string();
        for value in ["4556 7375 8689 9855", "536-22-8726", "GB82 WEST"] {
            assert!(!text.contains(value), "{ext}: {value} leaked");
        }

        let bytes = std::fs::read(dir.path().join(format!("negatives.{ext}"))).unwrap();
        let report = scan(&server, "Default", &format!("log.{ext}"), &bytes).await;
        assert_eq!(
            report["scan_results"]["scan_all_result_i"], 0,
            "{ext}: {report}"
        );
        assert!(high(&report).is_empty(), "{ext}: {report}");
        assert!(
            report["dlp_info"].get("errors").is_none_or(|errors| errors
                .as_object()
                .is_none_or(|errors| !errors.contains_key("scan"))),
            "{ext}: the whole file is read: {report}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hits_in_documents_are_located_where_a_reader_finds_them() {
    let dir = documents(&["docx", "xlsx", "eml"]);
    let server = Server::start(&config());
    let located = |report: &Value| -> BTreeSet<(String, String)> {
        hits(report)
            .into_iter()
            .map(|(_, hit, _, location)| (hit, location))
            .collect()
    };
    let docx = std::fs::read(dir.path().join("positives.docx")).unwrap();
    let report = scan(&server, "Default", "review.docx", &docx).await;
    let found = located(&report);
    for (hit, location) in [
        // Split across two runs in the body; a tracked deletion; a header; a comment.
        ("4556 **** **** 9855", "body paragraph 2"),
        ("5167 **** **** 4477", "body paragraph 7"),
        ("**** **** **** **** **54 32", "header 1 paragraph 1"),
        ("***-**-1942", "comments paragraph 1"),
    ] {
        assert!(
            found.contains(&(hit.to_string(), location.to_string())),
            "{hit} at {location}: {found:?}"
        );
    }
    let xlsx = std::fs::read(dir.path().join("positives.xlsx")).unwrap();
    let report = scan(&server, "Default", "customers.xlsx", &xlsx).await;
    let found = located(&report);
    assert!(
        found.contains(&("***-**-8726".into(), "Customers!C2".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&("5167 **** **** 4477".into(), "Travel!B2".into())),
        "{found:?}"
    );
    // The SSN's column header is its keyword: Very High, with the header in its context.
    let ssn = &report["dlp_info"]["hits"]["ssn"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|hit| hit["location"] == "Customers!C2")
        .unwrap()
        .clone();
    assert_eq!(ssn["certainty"], "Very High", "{ssn}");
    let eml = std::fs::read(dir.path().join("positives.eml")).unwrap();
    let report = scan(&server, "Default", "refund.eml", &eml).await;
    let found = located(&report);
    assert!(found.contains(&(
        "**** **** **** **** **54 32".into(),
        "header Subject".into()
    )));
    assert!(found.contains(&("***-**-8726".into(), "attachment staff.txt line 1".into())));
    assert_eq!(
        report["dlp_info"]["errors"]["scan"],
        "1 attachments that are not text were not examined: logo.png"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_document_is_dlp_verdict_failed_never_clean() {
    let server = Server::start(&config());
    // A Word package whose body is not well-formed XML.
    let damaged = palisade_test_support::ooxml::zip_of(&[
        (
            "[Content_Types].xml",
            br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#.to_vec(),
        ),
        (
            "_rels/.rels",
            br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#.to_vec(),
        ),
        (
            "word/document.xml",
            b"<w:document xmlns:w=\"w\"><w:body><w:p><w:r><w:t>card".to_vec(),
        ),
    ]);
    let report = scan(&server, "Default", "broken.docx", &damaged).await;
    let dlp = &report["dlp_info"];
    assert_eq!(dlp["verdict"], 3, "{report}");
    let reason = dlp["errors"]["scan"].as_str().unwrap();
    assert!(
        reason.starts_with("the Word document could not be read: word/document.xml"),
        "{reason}"
    );
    assert_ne!(
        report["scan_results"]["scan_all_result_i"], 0,
        "never clean"
    );
}

#[cfg(feature = "fault-engines")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdf_that_crashes_the_parser_is_dlp_verdict_failed_and_documents_go_on() {
    let config = format!("{}\n[isolation]\npool = 1\n", config());
    let server = Server::start_with_env(&config, &["PALISADE_TEST_DLP_FAULT=stack-overflow"]);
    let mut crafted = palisade_test_support::pdf::plain("Card 4556 7375 8689 9855");
    crafted.extend_from_slice(b"%FAULT-NOW\n");
    let report = scan(&server, "Default", "crafted.pdf", &crafted).await;
    let dlp = &report["dlp_info"];
    assert_eq!(dlp["verdict"], 3, "{report}");
    assert!(
        dlp["errors"]["scan"].as_str().unwrap().contains("stack"),
        "{dlp}"
    );
    assert_ne!(
        report["scan_results"]["scan_all_result_i"], 0,
        "never clean"
    );
    let dir = documents(&["docx"]);
    let docx = std::fs::read(dir.path().join("positives.docx")).unwrap();
    let report = scan(&server, "Default", "review.docx", &docx).await;
    assert_eq!(report["dlp_info"]["verdict"], 1, "{report}");
}

/// The labelled values of a format's positives document, in full.
fn values(ext: &str) -> Vec<&'static str> {
    let all = [
        "4556 7375 8689 9855",
        "5167 3492 1860 4477",
        "6011 4321 8876 5308",
        "GB82 WEST 1234 5698 7654 32",
        "536-22-8726",
        "672-34-1942",
        "219-45-6789",
    ];
    match ext {
        "docx" | "xlsx" => all.to_vec(),
        "pptx" => vec![all[0], all[3], all[4], all[6]],
        "pdf" => vec![all[0], all[1], all[2], all[3], all[4], all[6]],
        other => panic!("no values for {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redacted_copies_are_downloaded_and_independent_readers_find_no_value_in_them() {
    let dir = documents(&[]);
    let server = Server::start(&config());
    let mut cases: Vec<(&str, &str, Vec<u8>, Vec<&str>)> = ["docx", "xlsx", "pptx", "pdf"]
        .into_iter()
        .map(|ext| {
            let keep = match ext {
                "xlsx" => "Ada Lovelace",
                "pptx" => "Payments",
                _ => "Ada paid with her Visa card",
            };
            let bytes = std::fs::read(dir.path().join(format!("positives.{ext}"))).unwrap();
            (ext, keep, bytes, values(ext))
        })
        .collect();
    cases.push((
        "txt",
        "Ada Lovelace",
        CUSTOMERS.as_bytes().to_vec(),
        vec![
            "4556 7375 8689 9855",
            "536-22-8726",
            "GB82 WEST 1234 5698 7654 32",
        ],
    ));
    for (ext, keep, bytes, labelled) in cases {
        let name = format!("review.{ext}");
        let request = server
            .post("/file")
            .header("filename", &name)
            .header("rule", "Redact");
        let data_id = server.submit_with(request, bytes).await;
        let report = server.wait_final(&data_id).await;
        crate::schema::assert_fits(&report, &crate::schema::file_report(), &data_id);
        let dlp = &report["dlp_info"];
        assert_eq!(dlp["redact"]["result"], "redacted", "{ext}: {report}");
        let metadata = if ext == "txt" {
            "not removed"
        } else {
            "removed"
        };
        assert_eq!(dlp["metadata_removal"]["result"], metadata, "{ext}");
        assert_eq!(dlp["filename"], name.as_str());
        for (kind, hit, certainty, _) in hits(&report) {
            let high = certainty.contains("High");
            let entry = dlp["hits"][&kind]["hits"]
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h["hit"] == hit.as_str())
                .unwrap();
            assert_eq!(entry["tryRedact"], high, "{ext}: {hit} ({certainty})");
        }
        assert_eq!(
            report["process_info"]["post_processing"]["actions_ran"], "Redacted",
            "{ext}"
        );
        // Still Sensitive Data Found (the original holds the data), and blocked.
        assert_eq!(report["scan_results"]["scan_all_result_i"], 20);
        let copy = server
            .output("download", &data_id)
            .await
            .unwrap_or_else(|| panic!("{ext}: no redacted copy"));
        assert_eq!(server.output("converted", &data_id).await, None);
        let path = dir.path().join(format!("copy-{name}"));
        std::fs::write(&path, &copy).unwrap();
        palisade_test_support::dlp::judge(&path, ext, keep, &labelled);
    }

    // OpenDocument is read, not redacted: no copy, and the report says why.
    let bytes = std::fs::read(dir.path().join("positives.odt")).unwrap();
    let request = server
        .post("/file")
        .header("filename", "review.odt")
        .header("rule", "Redact");
    let data_id = server.submit_with(request, bytes).await;
    let report = server.wait_final(&data_id).await;
    let dlp = &report["dlp_info"];
    assert_eq!(dlp["verdict"], 1);
    assert_eq!(dlp["redact"]["result"], "not redacted");
    assert_eq!(
        dlp["errors"]["redact"],
        "DLP does not redact the OpenDocument file"
    );
    assert_eq!(dlp["metadata_removal"]["result"], "not removed");
    assert_eq!(
        report["process_info"]["post_processing"]["actions_failed"],
        ""
    );
    assert_eq!(server.output("download", &data_id).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_another_engine_blocks_keeps_no_redacted_copy_and_the_report_says_why() {
    let server = Server::start(&flagged_config());
    let flagged = format!("FLAGGED\n{CUSTOMERS}");
    let request = server
        .post("/file")
        .header("filename", "flagged.csv")
        .header("rule", "Redact flagged");
    let data_id = server.submit_with(request, flagged.into_bytes()).await;
    let report = server.wait_final(&data_id).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 1, "{report}");
    let dlp = &report["dlp_info"];
    assert_eq!(dlp["verdict"], 1);
    assert_eq!(dlp["redact"]["result"], "not redacted");
    assert_eq!(
        dlp["errors"]["redact"],
        "the redacted copy was not kept: the file is blocked for another verdict"
    );
    assert_eq!(dlp["filename"], "");
    assert_eq!(server.output("download", &data_id).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_deep_cdr_the_redacted_copy_is_sanitized_and_both_routes_serve_it() {
    let dir = documents(&["docx"]);
    let server = Server::start(
        "[dlp]\nenabled = true\n\n[cdr]\nenabled = true\n\n\
         [[rules]]\nname = \"Both\"\n[rules.dlp]\nredact = true\n",
    );
    let bytes = std::fs::read(dir.path().join("positives.docx")).unwrap();
    let request = server
        .post("/file")
        .header("filename", "review.docx")
        .header("rule", "Both");
    let data_id = server.submit_with(request, bytes).await;
    let report = server.wait_final(&data_id).await;
    let post = &report["process_info"]["post_processing"];
    assert_eq!(post["actions_ran"], "Redacted|Sanitized", "{report}");
    assert_eq!(report["dlp_info"]["redact"]["result"], "redacted");
    let sanitized = server.output("converted", &data_id).await.unwrap();
    assert_eq!(
        server.output("download", &data_id).await.unwrap(),
        sanitized,
        "the later step's copy is what both routes serve"
    );
    let path = dir.path().join("copy.docx");
    std::fs::write(&path, &sanitized).unwrap();
    palisade_test_support::dlp::judge(
        &path,
        "docx",
        "Ada paid with her Visa card",
        &values("docx"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_not_examined_whole_is_not_redacted_and_the_report_says_why() {
    let server = Server::start(&config());
    let request = server
        .post("/file")
        .header("filename", "customers.csv")
        .header("rule", "Redact first bytes");
    let data_id = server
        .submit_with(request, CUSTOMERS.as_bytes().to_vec())
        .await;
    let report = server.wait_final(&data_id).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 20, "{report}");
    let dlp = &report["dlp_info"];
    assert_eq!(dlp["hits"]["ccn"]["hits"][0]["tryRedact"], false);
    assert_eq!(dlp["redact"]["result"], "not redacted");
    assert_eq!(
        dlp["errors"]["redact"],
        "the file was not examined whole (see errors.scan), so a copy could still hold \
         sensitive data"
    );
    assert!(
        dlp["errors"]["scan"]
            .as_str()
            .unwrap()
            .contains("only the first 80 bytes of text were examined")
    );
    assert_eq!(dlp["filename"], "");
    let post = &report["process_info"]["post_processing"];
    assert_eq!(post["actions_ran"], "");
    assert_eq!(post["actions_failed"], "");
    assert_eq!(server.output("download", &data_id).await, None);
}
