//! Isolated engines through the binary: engines that abort, overflow the stack, allocate 8 GiB,
//! spin forever, read outside their directories or write 10 GiB run in parser processes
//! (`[isolation]`), and each failure becomes that engine's outcome with its reason while the
//! job, the worker and the server go on. Archives are opened in parser processes too: an
//! archive whose decoder crashes or hangs ends as that archive's outcome, and the next archives
//! open normally. Needs the binary's `fault-engines` feature (scripts/test.sh builds with it).

use std::time::Instant;

use serde_json::Value;

use crate::support::{Server, eicar};

const FAULTS: [(&str, &str); 6] = [
    ("abort", "Abort"),
    ("stack-overflow", "Stack"),
    ("allocate-8gib", "Allocate"),
    ("spin", "Spin"),
    ("read-outside", "Reader"),
    ("write-10gib", "Writer"),
];

fn config() -> String {
    let mut config = String::from(
        "[queue]\nengine_timeout_seconds = 20\n\n\
         [isolation]\nengines = [\"abort\", \"stack-overflow\", \"allocate-8gib\", \"spin\", \"read-outside\", \"write-10gib\"]\n\
         memory_mib = 1024\noutput_mib = 64\ntimeout_seconds = 4\npool = 1\n\n",
    );
    for (id, name) in FAULTS {
        config.push_str(&format!(
            "[[engines]]\nkind = \"fault\"\nid = \"{id}\"\nname = \"{name}\"\nfault = \"{id}\"\n\n\
             [[rules]]\nname = \"{id}\"\nengines = [\"filetype\", \"yara\", \"{id}\"]\n\n"
        ));
    }
    let all: Vec<String> = FAULTS.iter().map(|(id, _)| format!("\"{id}\"")).collect();
    config.push_str(&format!(
        "[[rules]]\nname = \"all\"\nengines = [\"filetype\", \"yara\", {}]\npost_process = \"always\"\n",
        all.join(", ")
    ));
    config
}

async fn scan(server: &Server, rule: &str, bytes: Vec<u8>) -> Value {
    let request = server
        .post("/file")
        .header("filename", "doc.bin")
        .header("rule", rule);
    let data_id = server.submit_with(request, bytes).await;
    server.wait_final(&data_id).await
}

fn with_marker(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes.extend_from_slice(b"\nFAULT-NOW\n");
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_parser_crashes_are_outcomes_and_the_next_files_scan_normally() {
    let server = Server::start(&config());
    let expected = [
        ("abort", "Abort", 3, "parser crashed: signal 6"),
        (
            "stack-overflow",
            "Stack",
            3,
            "parser crashed: stack overflow",
        ),
        (
            "allocate-8gib",
            "Allocate",
            3,
            "parser crashed: memory limit (1024 MiB)",
        ),
        (
            "spin",
            "Spin",
            10,
            "parser timed out after 4 s and was killed",
        ),
        // Landlock: the parser process reads only samples and writes only its outputs.
        (
            "read-outside",
            "Reader",
            3,
            "cannot read /etc/hostname: Permission denied",
        ),
    ];
    for (rule, name, code, reason) in expected {
        // EICAR too: the in-process YARA engine's detection is kept beside the crash.
        let report = scan(&server, rule, with_marker(eicar())).await;
        let detail = &report["scan_results"]["scan_details"][name];
        assert_eq!(detail["scan_result_i"], code, "{rule}: {report}");
        assert!(
            detail["threat_found"].as_str().unwrap().contains(reason),
            "{rule}: {detail}"
        );
        let yara = &report["scan_results"]["scan_details"]["YARA"];
        assert_eq!(
            yara["scan_result_i"], 1,
            "{rule}: YARA's result is kept: {report}"
        );
        assert_eq!(report["scan_results"]["scan_all_result_i"], 1, "{rule}");
        assert_eq!(report["process_info"]["result"], "Blocked");
    }

    // The writer is a post-processing step: its copy is cut off at the output limit.
    let report = scan(&server, "write-10gib", with_marker(b"a document".to_vec())).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 3, "{report}");
    assert_eq!(
        report["process_info"]["post_processing"]["actions_failed"],
        "Sanitization Failed"
    );
    let verdicts = report["process_info"]["verdicts"].to_string();
    assert!(
        verdicts.contains(
            "Sanitization failed: engine error: parser crashed: output size limit (64 MiB)"
        ),
        "{verdicts}"
    );
    assert_eq!(
        std::fs::read_dir(server.data_dir.join("work-serve"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("out-"))
            .count(),
        0,
        "the cut-off copy is removed"
    );

    // Every fault engine scans clean files normally afterwards, in fresh or warm children.
    let started = Instant::now();
    let mut isolated_ms = Vec::new();
    for i in 0..100 {
        let report = scan(&server, "all", format!("ordinary file {i}").into_bytes()).await;
        assert_eq!(report["scan_results"]["scan_all_result_i"], 0, "{report}");
        for (_, name) in &FAULTS[..5] {
            let detail = &report["scan_results"]["scan_details"][name];
            assert_eq!(detail["scan_result_i"], 0, "{name}: {report}");
            isolated_ms.push(detail["scan_time"].as_i64().unwrap());
        }
        assert_eq!(
            report["process_info"]["post_processing"]["actions_ran"], "Sanitized",
            "the writer copies files without the marker: {report}"
        );
    }
    isolated_ms.sort_unstable();
    eprintln!(
        "100 files through 6 isolated engines in {:.1} s; per isolated call: median {} ms, p90 {} ms",
        started.elapsed().as_secs_f64(),
        isolated_ms[isolated_ms.len() / 2],
        isolated_ms[isolated_ms.len() * 9 / 10],
    );
    let ready = server.get("/readyz").send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// A zip holding `files` (name, bytes), stored uncompressed so a `FAULT-NOW` inside shows in
/// the archive's own bytes.
fn stored_zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["-q".to_string(), "-0".into(), "out.zip".into()];
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        args.push(name.to_string());
    }
    let status = std::process::Command::new("zip")
        .args(&args)
        .current_dir(dir.path())
        .status()
        .expect("zip is installed (scripts/test.sh installs it)");
    assert!(status.success());
    std::fs::read(dir.path().join("out.zip")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_archive_decoders_that_crash_or_hang_end_that_archive_and_the_next_ones_open() {
    let expected = [
        ("abort", 24, "parser crashed: signal 6"),
        ("stack-overflow", 24, "parser crashed: stack overflow"),
        (
            "allocate-8gib",
            24,
            "parser crashed: memory limit (1024 MiB)",
        ),
        // Killed 5 s past the archive's own time limit (2 s): Exceeded Archive Timeout.
        ("spin", 16, "Exceeded Archive Timeout"),
    ];
    let config = "[isolation]\nmemory_mib = 1024\npool = 1\n\n\
                  [[rules]]\nname = \"Default\"\narchive_max_seconds = 2\n";
    for (fault, code, reason) in expected {
        let variable = format!("PALISADE_TEST_ARCHIVE_FAULT={fault}");
        let server = Server::start_with_env(config, &[&variable]);
        let crafted = stored_zip(&[("a.txt", b"FAULT-NOW"), ("b.txt", b"second member")]);
        let started = Instant::now();
        let report = scan(&server, "Default", crafted).await;
        assert_eq!(
            report["scan_results"]["scan_all_result_i"], code,
            "{fault}: {report}"
        );
        assert_eq!(report["process_info"]["result"], "Blocked", "{fault}");
        let details = report["extraction_info"]["err_details"]
            .as_str()
            .unwrap_or_default();
        assert!(details.contains(reason), "{fault}: {report}");
        if fault == "spin" {
            assert!(
                started.elapsed().as_secs_f64() < 20.0,
                "the hung decoder is killed: {:?}",
                started.elapsed()
            );
        }
        // The same server opens the next archives normally, in a fresh or warm child.
        for i in 0..3 {
            let body = format!("ordinary member {i}");
            let ordinary = stored_zip(&[("one.txt", body.as_bytes()), ("two.txt", b"two")]);
            let report = scan(&server, "Default", ordinary).await;
            assert_eq!(
                report["scan_results"]["scan_all_result_i"], 0,
                "{fault}: {report}"
            );
            assert_eq!(
                report["extracted_files"]["files_extracted_count"], 2,
                "{fault}: {report}"
            );
        }
    }
}
