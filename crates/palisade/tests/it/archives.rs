//! Archives through the binary: members become files of their own, the worst decides, limits
//! and encryption are never clean. Archives are built at runtime with the real tools.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{Server, eicar};

/// Runs a tool in `dir`, failing the test if it is missing or fails.
fn run(dir: &Path, program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| panic!("{program} is installed (scripts/test.sh installs it): {e}"));
    assert!(status.success(), "{program} {args:?}");
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

async fn submit_file(server: &Server, path: &Path, headers: &[(&str, &str)]) -> Value {
    let mut request = server
        .post("/file")
        .header("filename", path.file_name().unwrap().to_str().unwrap());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let data_id = server
        .submit_with(request, std::fs::read(path).unwrap())
        .await;
    server.wait_final(&data_id).await
}

fn members(report: &Value) -> Vec<Value> {
    report["extracted_files"]["files_in_archive"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn members_are_files_of_their_own_and_the_worst_one_blocks_the_archive() {
    let server = Server::start("");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "notes.txt", b"meeting notes");
    write(d, "eicar.com", &eicar());
    run(d, "zip", &["-q", "inner.zip", "eicar.com"]);
    run(d, "zip", &["-q", "outer.zip", "notes.txt", "inner.zip"]);

    let report = submit_file(&server, &d.join("outer.zip"), &[]).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 1, "{report}");
    assert_eq!(report["process_info"]["result"], "Blocked");
    let files = &report["extracted_files"];
    assert_eq!(files["files_extracted_count"], 2);
    let listed = members(&report);
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["display_name"], "notes.txt");
    assert_eq!(listed[0]["scan_all_result_i"], 0);
    assert_eq!(listed[1]["display_name"], "inner.zip");
    assert_eq!(listed[1]["scan_all_result_i"], 1);
    assert_eq!(listed[1]["progress_percentage"], 100);

    // worst_data_id leads through the nested archive to the file itself.
    let worst = files["worst_data_id"].as_str().unwrap().to_string();
    let culprit = server.report(&worst).await;
    assert_eq!(culprit["file_info"]["display_name"], "eicar.com");
    assert_eq!(culprit["scan_results"]["scan_all_result_i"], 1);
    assert_eq!(
        culprit["file_info"]["md5"],
        "44d88612fea8a8f36de82e1278abb02f"
    );

    // Pages of members.
    let outer_id = report["data_id"].as_str().unwrap();
    let page: Value = server
        .get_json(&format!("/file/{outer_id}?first=1&size=1"))
        .await;
    let page_files = &page["extracted_files"];
    assert_eq!(page_files["first_index"], 1);
    assert_eq!(page_files["page_size"], 1);
    assert_eq!(members(&page).len(), 1);
    assert_eq!(members(&page)[0]["display_name"], "inner.zip");

    // Hash lookup finds members, unless only submitted files are wanted.
    let by_hash: Value = server
        .get_json("/hash/44d88612fea8a8f36de82e1278abb02f")
        .await;
    assert_eq!(by_hash["data_id"], culprit["data_id"]);
    let self_only = server
        .get("/hash/44d88612fea8a8f36de82e1278abb02f")
        .header("selfonly", "true")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(self_only["44d88612fea8a8f36de82e1278abb02f"], "Not Found");
}

#[tokio::test]
async fn encrypted_archives_need_the_password_and_are_never_clean_without_it() {
    let server = Server::start("");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "eicar.com", &eicar());
    run(d, "zip", &["-q", "-P", "s3cret", "locked.zip", "eicar.com"]);

    let locked = submit_file(&server, &d.join("locked.zip"), &[]).await;
    assert_eq!(locked["scan_results"]["scan_all_result_i"], 12, "{locked}");
    assert_eq!(
        locked["scan_results"]["scan_all_result_a"],
        "Encrypted Archive"
    );
    assert_eq!(locked["process_info"]["result"], "Blocked");
    assert_eq!(locked["extraction_info"]["is_encrypted_file"], true);
    assert_eq!(locked["extraction_info"]["decrypted_status"], "Failed");

    let opened = submit_file(
        &server,
        &d.join("locked.zip"),
        &[("archivepwd1", "wrong"), ("archivepwd2", "s3cret")],
    )
    .await;
    assert_eq!(opened["extraction_info"]["decrypted_status"], "Success");
    assert_eq!(opened["scan_results"]["scan_all_result_i"], 1, "{opened}");
    assert_eq!(members(&opened)[0]["display_name"], "eicar.com");
}

#[tokio::test]
async fn eicar_five_levels_deep_in_five_formats_is_found() {
    let server = Server::start("");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "eicar.com", &eicar());
    // zip in 7z in tar.gz in rar in zip.
    run(d, "zip", &["-q", "l1.zip", "eicar.com"]);
    run(d, "7zz", &["a", "-bd", "-bso0", "l2.7z", "l1.zip"]);
    run(d, "tar", &["czf", "l3.tar.gz", "l2.7z"]);
    run(d, "rar", &["a", "-idq", "l4.rar", "l3.tar.gz"]);
    run(d, "zip", &["-q", "l5.zip", "l4.rar"]);

    let report = submit_file(&server, &d.join("l5.zip"), &[]).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 1, "{report}");
    assert_eq!(report["process_info"]["result"], "Blocked");
    let worst = report["extracted_files"]["worst_data_id"].as_str().unwrap();
    let culprit = server.report(worst).await;
    assert_eq!(culprit["file_info"]["display_name"], "eicar.com");
    assert_eq!(culprit["scan_results"]["scan_all_result_i"], 1);
}

#[tokio::test]
async fn archives_deeper_than_the_limit_are_not_opened_and_not_clean() {
    let server = Server::start("[[rules]]\nname = \"Default\"\narchive_max_depth = 2\n");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "a.txt", b"harmless");
    run(d, "zip", &["-q", "d1.zip", "a.txt"]);
    run(d, "zip", &["-q", "d2.zip", "d1.zip"]);
    run(d, "zip", &["-q", "d3.zip", "d2.zip"]);
    let report = submit_file(&server, &d.join("d3.zip"), &[]).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 9, "{report}");
    assert_eq!(report["process_info"]["result"], "Blocked");
}
