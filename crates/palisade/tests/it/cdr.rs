//! Deep CDR through the binary: PDFs built at runtime come back rebuilt, their removals
//! reported in `post_processing.sanitization_details`, the copy served by `/file/converted`,
//! and the copy judged by independent tools (qpdf, pdfid, pdfinfo).

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use sha2::Digest;

use crate::support::Server;
use palisade_test_support::{ooxml, pdf};

fn config() -> String {
    "[cdr]\nenabled = true\n\n\
     [[rules]]\nname = \"Default\"\n\n\
     [[rules]]\nname = \"Analysis\"\n[rules.cdr]\nanalysis_only = true\n\n\
     [[rules]]\nname = \"No signatures\"\n[rules.cdr]\nsigned = \"block\"\n\n\
     [[rules]]\nname = \"No scripts\"\n[rules.cdr]\nblock_on = [\"javascript\"]\n\n\
     [[rules]]\nname = \"No macros\"\n[rules.cdr]\nblock_on = [\"macro\"]\n\n\
     [[rules]]\nname = \"Links too\"\n[rules.cdr]\nremove = [\"hyperlink\"]\nkeep = [\"metadata\"]\n\
     output_name = \"clean-{stem}.{ext}\"\n"
        .into()
}

async fn sanitize(server: &Server, rule: &str, name: &str, bytes: Vec<u8>) -> (String, Value) {
    let request = server
        .post("/file")
        .header("filename", name)
        .header("rule", rule);
    let data_id = server.submit_with(request, bytes).await;
    let report = server.wait_final(&data_id).await;
    (data_id, report)
}

async fn converted(server: &Server, data_id: &str) -> Option<Vec<u8>> {
    server.output("converted", data_id).await
}

fn run(program: &str, args: &[&str], file: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("{program} (scripts/test.sh installs it): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// pdfid's count of each keyword.
fn pdfid(file: &Path) -> Vec<(String, u64)> {
    run("python3", &["-m", "pdfid"], file)
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let key = words.next()?;
            let count = words.next()?.parse().ok()?;
            key.starts_with('/').then(|| (key.to_string(), count))
        })
        .collect()
}

fn counts(report: &Value) -> Vec<(String, u64)> {
    report["process_info"]["post_processing"]["sanitization_details"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["object_name"].as_str().unwrap().to_string(),
                item["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdf_with_active_content_comes_back_rebuilt_and_the_tools_find_none_left() {
    let server = Server::start(&config());
    let (data_id, report) = sanitize(&server, "Default", "active.pdf", pdf::active()).await;
    let post = &report["process_info"]["post_processing"];
    assert_eq!(post["actions_ran"], "Sanitized", "{report}");
    assert_eq!(post["actions_failed"], "");
    assert_eq!(post["converted_to"], "pdf");
    assert_eq!(post["converted_destination"], "active_sanitized.pdf");
    let details = &post["sanitization_details"];
    assert_eq!(details["result"], "Sanitized");
    assert_eq!(details["verdict"], "allowed");
    assert_eq!(report["scan_results"]["scan_all_result_i"], 0);
    assert_eq!(report["process_info"]["result"], "Allowed");
    assert_eq!(report["process_info"]["progress_percentage"], 100);
    assert!(
        report["process_info"]["processing_time_details"]["cdr_time"].is_i64(),
        "{report}"
    );
    assert_eq!(
        counts(&report),
        pdf::ACTIVE_REMOVALS.map(|(name, count)| (name.to_string(), count))
    );
    assert!(
        report["scan_results"]["scan_details"]
            .get("Deep CDR")
            .is_none(),
        "Deep CDR is a post-processing step, not a scan engine"
    );

    let copy = converted(&server, &data_id)
        .await
        .expect("a sanitized copy");
    let info = &details["sanitized_file_info"];
    assert_eq!(info["file_size"], copy.len());
    assert_eq!(info["sha256"], hex::encode(sha2::Sha256::digest(&copy)));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("copy.pdf");
    std::fs::write(&file, &copy).unwrap();
    run("qpdf", &["--check"], &file);
    let expanded = dir.path().join("qdf.pdf");
    let status = Command::new("qpdf")
        .args(["--qdf", "--object-streams=disable"])
        .arg(&file)
        .arg(&expanded)
        .status()
        .unwrap();
    assert!(status.success());
    let text = String::from_utf8_lossy(&std::fs::read(&expanded).unwrap()).into_owned();
    for key in pdf::ACTIVE_KEYS {
        assert!(!text.contains(key), "{key} is still in the sanitized copy");
    }
    for marker in pdf::ACTIVE_MARKERS {
        assert!(
            !text.contains(marker),
            "{marker} is still in the sanitized copy"
        );
    }
    for (key, count) in pdfid(&file) {
        if [
            "/JS",
            "/JavaScript",
            "/AA",
            "/OpenAction",
            "/Launch",
            "/EmbeddedFile",
            "/XFA",
            "/RichMedia",
        ]
        .contains(&key.as_str())
        {
            assert_eq!(count, 0, "pdfid counts {key} in the sanitized copy");
        }
    }
    let pages = run("pdfinfo", &[], &file);
    assert!(
        pages
            .lines()
            .any(|l| l.starts_with("Pages:") && l.ends_with(" 1")),
        "{pages}"
    );
    // pdfid sees what was there in the original.
    let original = dir.path().join("original.pdf");
    std::fs::write(&original, pdf::active()).unwrap();
    let before: Vec<(String, u64)> = pdfid(&original);
    assert!(
        before.iter().any(|(k, c)| k == "/JS" && *c > 0),
        "{before:?}"
    );

    // The same file again: the same bytes. The copy sanitized again: nothing removed.
    let (again_id, again) = sanitize(&server, "Default", "active.pdf", pdf::active()).await;
    assert_eq!(
        again["process_info"]["post_processing"]["sanitization_details"]["sanitized_file_info"]["sha256"],
        info["sha256"]
    );
    assert_eq!(converted(&server, &again_id).await.unwrap(), copy);
    let (_, twice) = sanitize(&server, "Default", "copy.pdf", copy.clone()).await;
    assert_eq!(counts(&twice), [], "{twice}");
    assert_eq!(
        twice["process_info"]["post_processing"]["actions_ran"],
        "Sanitized"
    );

    // A rule that removes hyperlinks, keeps metadata and names copies its own way.
    let (links_id, links) = sanitize(&server, "Links too", "active.pdf", pdf::active()).await;
    assert_eq!(
        links["process_info"]["post_processing"]["converted_destination"],
        "clean-active.pdf"
    );
    let names: Vec<String> = counts(&links).into_iter().map(|(n, _)| n).collect();
    assert!(names.contains(&"Hyperlink".to_string()), "{names:?}");
    assert!(!names.contains(&"Metadata".to_string()), "{names:?}");
    let copy = converted(&server, &links_id).await.unwrap();
    assert!(!String::from_utf8_lossy(&copy).contains("https://example.com/"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_skip_block_or_only_analyse_and_never_call_an_untouched_file_sanitized() {
    let server = Server::start(&config());

    let (id, report) = sanitize(&server, "Default", "signed.pdf", pdf::signed()).await;
    let post = &report["process_info"]["post_processing"];
    assert_eq!(post["actions_ran"], "Sanitization Skipped", "{report}");
    assert_eq!(post["sanitization_details"]["result"], "Sanitized skipped");
    assert!(
        post["sanitization_details"]["description"]
            .as_str()
            .unwrap()
            .contains("digitally signed")
    );
    assert_eq!(post["converted_destination"], "");
    assert_eq!(converted(&server, &id).await, None);
    assert_eq!(report["process_info"]["result"], "Allowed");

    let (_, report) = sanitize(&server, "No signatures", "signed.pdf", pdf::signed()).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 30, "{report}");
    assert_eq!(
        report["scan_results"]["scan_all_result_a"],
        "Blocked Verdict by Deep CDR"
    );
    assert_eq!(report["process_info"]["result"], "Blocked");
    let details = &report["process_info"]["post_processing"]["sanitization_details"];
    assert_eq!(details["verdict"], "blocked");
    assert_eq!(
        details["verdict_explanations"],
        serde_json::json!(["Digitally signed document"])
    );

    let (_, report) = sanitize(&server, "No scripts", "active.pdf", pdf::active()).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 30, "{report}");
    assert_eq!(
        report["process_info"]["post_processing"]["sanitization_details"]["verdict_explanations"],
        serde_json::json!(["Contains JavaScript"])
    );

    let (id, report) = sanitize(&server, "Analysis", "active.pdf", pdf::active()).await;
    let post = &report["process_info"]["post_processing"];
    assert_eq!(post["actions_ran"], "Sanitization Skipped", "{report}");
    assert!(counts(&report).contains(&("JavaScript".into(), 6)));
    assert_eq!(
        converted(&server, &id).await,
        None,
        "analysis writes nothing"
    );

    let (id, report) = sanitize(&server, "Default", "notes.txt", b"plain text".to_vec()).await;
    let post = &report["process_info"]["post_processing"];
    assert_eq!(post["actions_ran"], "Sanitization Skipped", "{report}");
    assert_eq!(post["sanitization_details"]["result"], "Sanitized skipped");
    assert_eq!(converted(&server, &id).await, None);

    let (id, report) = sanitize(
        &server,
        "Default",
        "broken.pdf",
        b"%PDF-1.7\nnot really".to_vec(),
    )
    .await;
    let post = &report["process_info"]["post_processing"];
    assert_eq!(post["actions_failed"], "Sanitization Failed", "{report}");
    assert_eq!(post["actions_ran"], "");
    assert_eq!(
        post["sanitization_details"]["failure_category"],
        "invalid file structure"
    );
    assert_eq!(converted(&server, &id).await, None);
}

#[cfg(feature = "fault-engines")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdf_that_crashes_the_parser_fails_sanitization_and_the_server_goes_on() {
    let config = format!("{}\n[isolation]\npool = 1\n", config());
    let server = Server::start_with_env(&config, &["PALISADE_TEST_CDR_FAULT=stack-overflow"]);
    let mut crafted = pdf::active();
    crafted.extend_from_slice(b"% FAULT-NOW\n");
    let (id, report) = sanitize(&server, "Default", "crafted.pdf", crafted).await;
    let post = &report["process_info"]["post_processing"];
    assert_eq!(post["actions_failed"], "Sanitization Failed", "{report}");
    let details = &post["sanitization_details"];
    assert_eq!(details["result"], "Sanitized failed");
    assert_eq!(details["failure_category"], "failed to sanitize");
    assert!(
        details["description"]
            .as_str()
            .unwrap()
            .contains("stack overflow"),
        "{details}"
    );
    assert_eq!(converted(&server, &id).await, None);
    for i in 0..3 {
        let (id, report) = sanitize(
            &server,
            "Default",
            "next.pdf",
            pdf::plain(&format!("page {i}")),
        )
        .await;
        assert_eq!(
            report["process_info"]["post_processing"]["actions_ran"], "Sanitized",
            "{report}"
        );
        assert!(converted(&server, &id).await.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clamav_test_documents_are_sanitized_and_clamd_no_longer_detects_the_copies() {
    let clamd = palisade_test_support::Clamd::start("");
    let config = format!(
        "[[engines]]\nkind = \"clamav\"\naddress = \"unix:{}\"\n\n[cdr]\nenabled = true\n\n\
         [[rules]]\nname = \"Default\"\npost_process = \"always\"\n",
        clamd.socket().display()
    );
    let server = Server::start(&config);
    // clam.pdf carries clam.exe as an unreferenced embedded file, clam.exe.rtf as an OLE
    // Package object, clam.ole.doc in its ObjectPool, clam.ppt in a compressed object record.
    for (name, removed) in [
        ("clam.pdf", "Embedded file"),
        ("clam.exe.rtf", "Embedded OLE object"),
        ("clam.ole.doc", "Embedded OLE object"),
        ("clam.ppt", "Embedded OLE object"),
        // clam.exe as a data: link of an HTML page.
        ("clam.exe.html", "Embedded file"),
        // clam.exe zipped: a program is no document Deep CDR rebuilds, so the rebuilt archive
        // holds a note in its place.
        ("clam.zip", "Embedded file"),
        ("clam.bz2.zip", "Embedded file"),
    ] {
        let original = std::fs::read(format!("/usr/share/clamav-testfiles/{name}"))
            .expect("clamav-testfiles is installed (scripts/test.sh installs it)");
        let (id, report) = sanitize(&server, "Default", name, original).await;
        assert_eq!(report["scan_results"]["scan_all_result_i"], 1, "{report}");
        let post = &report["process_info"]["post_processing"];
        let ran = if name.ends_with(".zip") {
            "Sanitized Partially"
        } else {
            "Sanitized"
        };
        assert_eq!(post["actions_ran"], ran, "{report}");
        assert!(
            counts(&report)
                .iter()
                .any(|(object, count)| object == removed && *count >= 1),
            "{name}: {report}"
        );
        let copy = converted(&server, &id).await.expect("a sanitized copy");
        let (_, rescanned) = sanitize(&server, "Default", name, copy).await;
        assert_eq!(
            rescanned["scan_results"]["scan_all_result_i"], 0,
            "clamd finds nothing in the copy of {name}: {rescanned}"
        );
        assert_eq!(
            rescanned["scan_results"]["scan_details"]["ClamAV"]["scan_result_i"],
            0
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_comes_back_re_encoded_without_its_location() {
    let server = Server::start(&config());
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("photo.jpg");
    let made = Command::new("python3")
        .args([
            "-c",
            "import sys; from PIL import Image; \
             Image.new('RGB', (64, 48), (200, 30, 90)).save(sys.argv[1], quality=90)",
        ])
        .arg(&photo)
        .status()
        .expect("python3 with Pillow (scripts/test.sh installs it)");
    assert!(made.success());
    run(
        "exiftool",
        &[
            "-q",
            "-overwrite_original",
            "-GPSLatitude=51.5007",
            "-GPSLatitudeRef=N",
            "-GPSLongitude=0.1246",
            "-GPSLongitudeRef=W",
            "-Make=secret_camera",
        ],
        &photo,
    );
    let (id, report) = sanitize(
        &server,
        "Default",
        "photo.jpg",
        std::fs::read(&photo).unwrap(),
    )
    .await;
    let post = &report["process_info"]["post_processing"];
    assert_eq!(post["actions_ran"], "Sanitized", "{report}");
    assert_eq!(post["converted_destination"], "photo_sanitized.jpg");
    let items = post["sanitization_details"]["details"].to_string();
    assert!(items.contains("EXIF (with GPS location)"), "{items}");
    assert!(items.contains("\"action\":\"sanitized\""), "{items}");
    let copy = converted(&server, &id).await.unwrap();
    let file = dir.path().join("copy.jpg");
    std::fs::write(&file, &copy).unwrap();
    let tags = run("exiftool", &["-j", "-G"], &file);
    assert!(!tags.contains("GPS"), "{tags}");
    assert!(!tags.contains("secret_camera"), "{tags}");
    assert!(tags.contains("\"File:ImageWidth\": 64"), "{tags}");
    assert!(tags.contains("\"File:ImageHeight\": 48"), "{tags}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_macro_enabled_word_document_comes_back_as_a_docx_without_its_objects() {
    let server = Server::start(&config());
    let (id, report) = sanitize(&server, "Default", "report.docm", ooxml::word_active()).await;
    let post = &report["process_info"]["post_processing"];
    assert_eq!(post["actions_ran"], "Sanitized", "{report}");
    assert_eq!(post["converted_to"], "docx");
    assert_eq!(post["converted_destination"], "report_sanitized.docx");
    assert_eq!(report["process_info"]["progress_percentage"], 100);
    let found = counts(&report);
    for (name, count) in ooxml::ACTIVE_REMOVALS {
        assert!(
            found.contains(&(name.to_string(), count)),
            "{name} x{count}: {found:?}"
        );
    }
    let nested = post["sanitization_details"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["object_name"] == "Embedded document")
        .expect("the embedded document is a nested item");
    assert_eq!(
        nested["file_name"],
        "word/embeddings/Microsoft_Word_Document.docx"
    );
    assert_eq!(nested["details"][0]["object_name"], "DDE field", "{nested}");

    let copy = converted(&server, &id).await.expect("a sanitized copy");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.docx");
    std::fs::write(&file, &copy).unwrap();
    let checked = run(
        "python3",
        &[
            "-c",
            "import sys, docx\nfrom oletools.olevba import VBA_Parser\n\
             d = docx.Document(sys.argv[1])\n\
             print(VBA_Parser(sys.argv[1]).detect_vba_macros(), d.paragraphs[0].text)",
        ],
        &file,
    );
    assert_eq!(checked.trim(), "False Hello OOXML");
    for (part, data) in ooxml::parts(&copy) {
        for marker in ooxml::ACTIVE_MARKERS {
            assert!(
                !String::from_utf8_lossy(&data).contains(marker) && !part.contains(marker),
                "{marker} is left in {part}"
            );
        }
    }

    let (blocked_id, blocked) =
        sanitize(&server, "No macros", "report.docm", ooxml::word_active()).await;
    assert_eq!(
        blocked["scan_results"]["scan_all_result_i"], 30,
        "{blocked}"
    );
    let details = &blocked["process_info"]["post_processing"]["sanitization_details"];
    assert_eq!(details["verdict"], "blocked");
    assert_eq!(details["verdict_explanations"][0], "Contains Macro");
    assert_eq!(converted(&server, &blocked_id).await, None);
}
