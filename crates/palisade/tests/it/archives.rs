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

    // Once the archive is final, its passwords are kept nowhere: not on its row, not on its members'.
    let kept = std::process::Command::new("sqlite3")
        .arg(server.data_dir.join("palisade.db"))
        .arg("SELECT COUNT(*) || '/' || (SELECT COUNT(*) FROM jobs) FROM jobs WHERE archive_passwords LIKE '%s3cret%'")
        .output()
        .expect("sqlite3 runs");
    assert_eq!(
        String::from_utf8_lossy(&kept.stdout).trim(),
        "0/3",
        "{kept:?}"
    );
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

/// Writes `count` small distinct files `<prefix>0000.txt`, ... into `dir`; returns their names.
fn write_members(dir: &Path, prefix: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            let name = format!("{prefix}{i:04}.txt");
            write(dir, &name, format!("{prefix} member {i}").as_bytes());
            name
        })
        .collect()
}

/// Zips `files` (names in `dir`) into `name`, storing (not compressing) when `store`.
fn zip_files(dir: &Path, name: &str, files: &[String], store: bool) {
    let mut args: Vec<&str> = vec!["-q"];
    if store {
        args.push("-0");
    }
    args.push(name);
    args.extend(files.iter().map(String::as_str));
    run(dir, "zip", &args);
}

/// The server's peak RSS in KiB after a first small archive, so that the baseline is a running
/// server.
async fn warm_baseline(server: &Server, d: &Path) -> u64 {
    write(d, "warm.txt", b"warm");
    zip_files(d, "warm.zip", &["warm.txt".into()], false);
    submit_file(server, &d.join("warm.zip"), &[]).await;
    crate::support::memory_kib(server.pid()).0
}

#[tokio::test]
async fn heavy_archive_bombs_end_as_exceeded_size_with_bounded_memory() {
    let server =
        Server::start("[[rules]]\nname = \"Default\"\narchive_max_total_bytes = 268435456\n");
    let pid = server.pid();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let baseline = warm_baseline(&server, d).await;

    // Overlapping entries: 1,000 entries over one 16 MiB member (16 GiB in all).
    palisade_test_support::overlapping_zip_bomb(&d.join("overlap.zip"), 16 << 20, 1000);
    let report = submit_file(&server, &d.join("overlap.zip"), &[]).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 13, "{report}");
    assert_eq!(report["process_info"]["result"], "Blocked");
    let (after_overlap, _) = crate::support::memory_kib(pid);

    // 42.zip-style recursion: 16 zips of 16 zips of 16 members of 1 MiB zeros (4 GiB in all).
    write(d, "zeros.bin", &vec![0u8; 1 << 20]);
    let mut level: Vec<String> = (0..16)
        .map(|i| {
            let name = format!("z{i}.bin");
            std::fs::copy(d.join("zeros.bin"), d.join(&name)).unwrap();
            name
        })
        .collect();
    for depth in 1..=3 {
        let name = format!("r{depth}.zip");
        zip_files(d, &name, &level, depth > 1);
        level = (0..16)
            .map(|i| {
                let copy = format!("r{depth}-{i}.zip");
                std::fs::copy(d.join(&name), d.join(&copy)).unwrap();
                copy
            })
            .collect();
    }
    let report = submit_file(&server, &d.join("r3.zip"), &[]).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 13, "{report}");
    assert_eq!(report["process_info"]["result"], "Blocked");

    // The bound is the server's whole peak RSS, whatever the bombs expand to (16 GiB and 4 GiB):
    // SQLite page caches (up to 16 MiB per connection), buffers of the jobs running at once, and
    // apart from it each parser process that decodes archives. Measured here: 49 MiB before, 50
    // MiB after the overlap bomb, 114 to 132 MiB after the recursive one, whose 4,368 members
    // are jobs of their own; each parser process peaked at N MiB.
    let (peak, _) = crate::support::memory_kib(pid);
    let children = crate::support::children_peaks_kib(pid);
    println!(
        "peak RSS {} MiB before the bombs, {} MiB after the overlap bomb, {} MiB after both; \
         parser processes {:?} MiB",
        baseline / 1024,
        after_overlap / 1024,
        peak / 1024,
        children.iter().map(|kib| kib / 1024).collect::<Vec<_>>()
    );
    assert!(
        after_overlap < baseline + 16 * 1024,
        "the overlap bomb grew peak RSS from {baseline} KiB to {after_overlap} KiB"
    );
    assert!(peak < 256 * 1024, "peak RSS reached {peak} KiB");
    assert!(
        !children.is_empty(),
        "archives are opened in parser processes"
    );
    for child in children {
        assert!(child < 64 * 1024, "a parser process reached {child} KiB");
    }
}

/// A 42.zip-style recursion of `levels` levels, every one deflated (Python's zipfile: the
/// `zip` tool stores zips): 16 zips of 16 zips... of 16 members of 1 MiB zeros (3 levels: about
/// 20 KiB, 4 GiB in all).
fn recursive_bomb(path: &Path, levels: u32) {
    let script = "import io, sys, zipfile\n\
        def pack(members):\n\
        \x20   out = io.BytesIO()\n\
        \x20   with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:\n\
        \x20       for name, data in members: z.writestr(name, data)\n\
        \x20   return out.getvalue()\n\
        data = pack([(f'z{i}.bin', bytes(1 << 20)) for i in range(16)])\n\
        for level in range(2, int(sys.argv[2]) + 1):\n\
        \x20   data = pack([(f'r{level - 1}-{i}.zip', data) for i in range(16)])\n\
        open(sys.argv[1], 'wb').write(data)\n";
    python(script, path, levels);
}

/// Runs a Python `script` that writes `path`, with `count` as its second argument.
fn python(script: &str, path: &Path, count: u32) {
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .arg(count.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// A zip of `members` members of 8 MiB, each compressed about 840 times (zeros with a random
/// byte every 16 KiB): under the per-member ratio limit, 90 members are 0.9 MiB and 720 MiB.
fn ratio_bomb(path: &Path, members: u32) {
    let script = "import random, sys, zipfile\n\
        random.seed(1)\n\
        block = bytearray(8 << 20)\n\
        for i in range(0, len(block), 16384): block[i] = random.randrange(256)\n\
        with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:\n\
        \x20   for n in range(int(sys.argv[2])): z.writestr(f'part{n:03}.bin', bytes(block))\n";
    python(script, path, members);
}

#[tokio::test]
async fn heavy_bombs_of_a_mebibyte_or_less_end_within_five_seconds() {
    // The default rule: the expansion account (100 bytes per byte submitted, at least 64 MiB)
    // ends them, not the 4 GiB total.
    let server = Server::start("");
    let pid = server.pid();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let baseline = warm_baseline(&server, d).await;

    let recursive = d.join("recursive.zip");
    recursive_bomb(&recursive, 3);
    let overlap = d.join("overlap.zip");
    palisade_test_support::overlapping_zip_bomb(&overlap, 16 << 20, 1000);
    let ratio = d.join("ratio.zip");
    ratio_bomb(&ratio, 90);
    for (kind, path) in [
        ("recursive", &recursive),
        ("overlapping entries", &overlap),
        ("ratio", &ratio),
    ] {
        let size = std::fs::metadata(path).unwrap().len();
        assert!(size <= 1 << 20, "the {kind} bomb is {size} bytes");
        let started = std::time::Instant::now();
        let report = submit_file(&server, path, &[]).await;
        let took = started.elapsed();
        let (peak, _) = crate::support::memory_kib(pid);
        println!(
            "{kind} bomb of {} KiB: {} in {took:.2?}; peak RSS {} MiB (from {} MiB)",
            size >> 10,
            report["scan_results"]["scan_all_result_a"],
            peak >> 10,
            baseline >> 10
        );
        assert_eq!(
            report["scan_results"]["scan_all_result_i"], 13,
            "{kind}: {report}"
        );
        // The archive whose extraction the account stopped: this one, or along the worst
        // members of a nested one.
        let mut stopped = report.clone();
        for _ in 0..3 {
            if stopped["extraction_info"]["err_details"].is_string() {
                break;
            }
            let worst = stopped["extracted_files"]["worst_data_id"]
                .as_str()
                .unwrap();
            stopped = server.report(worst).await;
        }
        assert!(
            stopped["extraction_info"]["err_details"]
                .as_str()
                .unwrap_or_default()
                .contains(&format!(
                    "may take {} bytes in all",
                    (size * 100).max(64 << 20)
                )),
            "{kind}: {stopped}"
        );
        assert!(
            took < std::time::Duration::from_secs(5),
            "the {kind} bomb took {took:?}"
        );
    }

    // A quine: every level holds the same file again, until the depth limit ends it.
    let quine = d.join("quine.gz");
    palisade_test_support::gzip_quine(&quine);
    let started = std::time::Instant::now();
    let report = submit_file(&server, &quine, &[]).await;
    let took = started.elapsed();
    let (peak, _) = crate::support::memory_kib(pid);
    println!(
        "quine bomb of {} bytes: {} in {took:.2?}; peak RSS {} MiB (from {} MiB)",
        std::fs::metadata(&quine).unwrap().len(),
        report["scan_results"]["scan_all_result_a"],
        peak >> 10,
        baseline >> 10
    );
    assert_eq!(report["scan_results"]["scan_all_result_i"], 9, "{report}");
    assert_eq!(report["process_info"]["result"], "Blocked");
    assert!(
        took < std::time::Duration::from_secs(5),
        "the quine bomb took {took:?}"
    );
    assert!(
        peak < baseline + 128 * 1024,
        "peak RSS grew from {baseline} KiB to {peak} KiB"
    );
}

#[tokio::test]
async fn heavy_a_thousand_members_page_and_twenty_levels_are_followed_when_allowed() {
    let server = Server::start(
        "[[rules]]\nname = \"Default\"\n\n[[rules]]\nname = \"Deep\"\narchive_max_depth = 25\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let names = write_members(d, "m", 1000);
    zip_files(d, "many.zip", &names, false);
    let report = submit_file(&server, &d.join("many.zip"), &[]).await;
    assert_eq!(report["extracted_files"]["files_extracted_count"], 1000);
    assert_eq!(report["scan_results"]["scan_all_result_i"], 0);
    assert_eq!(members(&report).len(), 50);
    let id = report["data_id"].as_str().unwrap();
    let tail: Value = server
        .get_json(&format!("/file/{id}?first=990&size=50"))
        .await;
    let listed = members(&tail);
    assert_eq!(listed.len(), 10);
    assert_eq!(listed[9]["display_name"], "m0999.txt");
    assert!(listed.iter().all(|m| m["progress_percentage"] == 100));

    write(d, "eicar.com", &eicar());
    let mut inner = "eicar.com".to_string();
    for level in 1..=20 {
        let name = format!("n{level}.zip");
        zip_files(d, &name, &[inner], false);
        inner = name;
    }
    let deep = submit_file(&server, &d.join("n20.zip"), &[("rule", "Deep")]).await;
    assert_eq!(deep["scan_results"]["scan_all_result_i"], 1, "{deep}");
    let worst = deep["extracted_files"]["worst_data_id"].as_str().unwrap();
    assert_eq!(
        server.report(worst).await["file_info"]["display_name"],
        "eicar.com"
    );
    let capped = submit_file(&server, &d.join("n20.zip"), &[]).await;
    assert_eq!(capped["scan_results"]["scan_all_result_i"], 9, "{capped}");
}

#[tokio::test]
async fn encrypted_7z_and_rar_need_the_password() {
    let server = Server::start("");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "eicar.com", &eicar());
    run(
        d,
        "7zz",
        &[
            "a",
            "-bd",
            "-bso0",
            "-pbear",
            "-mhe=on",
            "s.7z",
            "eicar.com",
        ],
    );
    run(d, "rar", &["a", "-idq", "-pbear", "s.rar", "eicar.com"]);
    for name in ["s.7z", "s.rar"] {
        let locked = submit_file(&server, &d.join(name), &[("archivepwd", "fox")]).await;
        assert_eq!(
            locked["scan_results"]["scan_all_result_i"], 12,
            "{name}: {locked}"
        );
        let opened = submit_file(&server, &d.join(name), &[("archivepwd", "bear")]).await;
        assert_eq!(
            opened["scan_results"]["scan_all_result_i"], 1,
            "{name}: {opened}"
        );
        assert_eq!(opened["extraction_info"]["decrypted_status"], "Success");
    }
}

fn md5_of(path: &Path) -> String {
    let output = Command::new("md5sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn heavy_member_and_time_limits_hold_across_jobs_and_rules_decide_whether_they_block() {
    let server = Server::start(
        "[[rules]]\nname = \"Default\"\narchive_max_members = 100\n\n\
         [[rules]]\nname = \"Quick\"\narchive_max_seconds = 0.001\n\n\
         [[rules]]\nname = \"Lenient\"\narchive_max_members = 100\nallowed_results = [0, 14]\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 4 inner zips of 40 members: each under the limit, 160 together.
    let mut inner = Vec::new();
    for z in 0..4 {
        let names = write_members(d, &format!("z{z}-"), 40);
        let name = format!("part{z}.zip");
        zip_files(d, &name, &names, false);
        inner.push(name);
    }
    zip_files(d, "parts.zip", &inner, false);

    let capped = submit_file(&server, &d.join("parts.zip"), &[]).await;
    assert_eq!(capped["scan_results"]["scan_all_result_i"], 14, "{capped}");
    assert_eq!(capped["process_info"]["result"], "Blocked");
    let lenient = submit_file(&server, &d.join("parts.zip"), &[("rule", "Lenient")]).await;
    assert_eq!(lenient["scan_results"]["scan_all_result_i"], 14);
    assert_eq!(lenient["process_info"]["result"], "Allowed");
    let late = submit_file(&server, &d.join("parts.zip"), &[("rule", "Quick")]).await;
    assert_eq!(late["scan_results"]["scan_all_result_i"], 16, "{late}");
}

#[tokio::test]
async fn heavy_cancelling_an_archive_cancels_its_queued_members() {
    // One job at a time, so most members are still queued when the cancel lands.
    let server = Server::start("[queue]\nworkers = 1\nclaim_batch = 1\n");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let names = write_members(d, "c", 400);
    zip_files(d, "cancel.zip", &names, false);
    let last = md5_of(&d.join("c0399.txt"));
    let data_id = server
        .submit_with(
            server.post("/file").header("filename", "cancel.zip"),
            std::fs::read(d.join("cancel.zip")).unwrap(),
        )
        .await;
    // Wait until the members exist (the last one is then queued), then cancel the archive.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let member = loop {
        let found = server
            .get(&format!("/hash/{last}"))
            .header("include-inprogress", "true")
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        if let Some(id) = found["data_id"].as_str() {
            break id.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "members never appeared"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let response = server
        .post(&format!("/file/{data_id}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let archive = server.wait_final(&data_id).await;
    assert_eq!(archive["scan_results"]["scan_all_result_i"], 19);
    let member = server.wait_final(&member).await;
    assert_eq!(member["scan_results"]["scan_all_result_i"], 19, "{member}");
}

#[tokio::test]
async fn office_documents_are_not_opened_as_archives() {
    let server = Server::start("");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("word")).unwrap();
    write(
        d,
        "[Content_Types].xml",
        b"<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
          <Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>",
    );
    write(d, "word/document.xml", b"<w:document/>");
    run(
        d,
        "zip",
        &["-q", "-r", "report.docx", "[Content_Types].xml", "word"],
    );
    let report = submit_file(&server, &d.join("report.docx"), &[]).await;
    assert!(
        report["file_info"]["file_type"]
            .as_str()
            .unwrap()
            .contains("officedocument"),
        "{}",
        report["file_info"]
    );
    assert!(report.get("extracted_files").is_none(), "{report}");
}
