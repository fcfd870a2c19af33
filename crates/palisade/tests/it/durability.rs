//! Heavy end-to-end tests: crash recovery, concurrent clients, memory on a 1 GiB upload, and
//! memory while 20 large files are scanned at once.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::support::{Server, memory_kib};

#[tokio::test]
async fn heavy_every_accepted_file_gets_a_final_report_after_kill_9_and_restart() {
    let config =
        "[queue]\nworkers = 1\nclaim_batch = 4\nlease_seconds = 2\nheartbeat_seconds = 0.5\n";
    // A deliberately slow YARA rule keeps the single worker behind the uploads, so that files are
    // queued and running when the kill lands.
    let data_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data_dir.path().join("yara-rules")).unwrap();
    std::fs::write(
        data_dir.path().join("yara-rules/slow.yar"),
        "rule Slow_Walk { condition: for any i in (0..filesize - 2) : (uint8(i) == 0xFF and uint8(i + 1) == 0xFE) \
         or for any j in (0..filesize - 2) : (uint8(j) == 0xFD and uint8(j + 1) == 0xFC) }",
    )
    .unwrap();
    let mut server = Server::launch("serve", data_dir.path(), config);

    // Submit from 4 clients while the server is killed midway; only answered uploads count as accepted.
    let mut accepted = Vec::new();
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..4 {
        let base = server.base.clone();
        let http = server.client.clone();
        clients.spawn(async move {
            let mut ids = Vec::new();
            for index in 0..150 {
                // Larger files keep the worker busy so that some are running when the kill lands.
                let body = vec![(client * 7 + index) as u8 % 200; 256 * 1024 + index];
                let sent = http
                    .post(format!("{base}/file"))
                    .header("apikey", crate::support::API_KEY)
                    .body(body)
                    .send()
                    .await;
                let Ok(response) = sent else { break };
                if response.status() != 200 {
                    break;
                }
                let Ok(json) = response.json::<serde_json::Value>().await else {
                    break;
                };
                ids.push(json["data_id"].as_str().unwrap().to_string());
            }
            ids
        });
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.kill9();
    while let Some(ids) = clients.join_next().await {
        accepted.extend(ids.unwrap());
    }
    assert!(
        accepted.len() > 20,
        "only {} accepted before the kill",
        accepted.len()
    );

    let restarted = Server::launch("serve", data_dir.path(), config);
    let mut unfinished_at_restart = 0;
    for data_id in &accepted {
        let report = restarted.report(data_id).await;
        assert_ne!(
            report.get(data_id.as_str()).and_then(|v| v.as_str()),
            Some("Not Found"),
            "accepted file {data_id} was lost"
        );
        if report["scan_results"]["progress_percentage"] != 100 {
            unfinished_at_restart += 1;
        }
    }
    eprintln!(
        "kill -9: {} files accepted, {unfinished_at_restart} not final at restart",
        accepted.len()
    );
    assert!(
        unfinished_at_restart > 0,
        "the kill should leave queued or running files"
    );
    for data_id in &accepted {
        let report = restarted.wait_final(data_id).await;
        assert_eq!(report["scan_results"]["scan_all_result_i"], 0, "{data_id}");
        assert_eq!(report["process_info"]["result"], "Allowed");
    }
    drop(restarted);
    drop(data_dir);
}

#[tokio::test]
async fn heavy_two_hundred_submissions_from_sixteen_clients_are_all_answered() {
    let server = Server::start("");
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..16u32 {
        let base = server.base.clone();
        let http = server.client.clone();
        clients.spawn(async move {
            let mut ids = Vec::new();
            for index in 0..13u32 {
                if client * 13 + index >= 200 {
                    break;
                }
                let body = format!("client {client} file {index}").into_bytes();
                let response = http
                    .post(format!("{base}/file"))
                    .header("apikey", crate::support::API_KEY)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                let json: serde_json::Value = response.json().await.unwrap();
                ids.push((json["data_id"].as_str().unwrap().to_string(), client, index));
            }
            ids
        });
    }
    let mut all = Vec::new();
    while let Some(ids) = clients.join_next().await {
        all.extend(ids.unwrap());
    }
    assert_eq!(all.len(), 200);
    let unique: std::collections::HashSet<_> = all.iter().map(|(id, _, _)| id.clone()).collect();
    assert_eq!(unique.len(), 200);
    for (data_id, client, index) in &all {
        let report = server.wait_final(data_id).await;
        assert_eq!(
            report["file_info"]["file_size"],
            format!("client {client} file {index}").len()
        );
        assert_eq!(report["scan_results"]["scan_all_result_i"], 0);
    }
}

#[tokio::test]
async fn heavy_a_1_gib_upload_streams_without_growing_memory() {
    // Only the file type engine runs, so that YARA's memory map of the file does not count here.
    let server = Server::start("[[rules]]\nname = \"Default\"\nengines = [\"filetype\"]\n");
    let pid = server.pid();
    // Warm up (threads, allocator arenas, the upload path) so that the baseline is a running server.
    for index in 0..4 {
        let warm = server.submit("warm.bin", vec![index as u8; 4 << 20]).await;
        server.wait_final(&warm).await;
    }
    let (baseline_peak, baseline) = memory_kib(pid);
    const CHUNK: usize = 1 << 20;
    const CHUNKS: usize = 1024;
    let chunk = Bytes::from(vec![0x5au8; CHUNK]);
    let started = Instant::now();
    let response = server.upload_repeated("big.bin", chunk, CHUNKS).await;
    assert_eq!(response.status(), 200);
    let elapsed = started.elapsed();
    let data_id = response.json::<serde_json::Value>().await.unwrap()["data_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (peak, _) = memory_kib(pid);
    let growth_mib = peak.saturating_sub(baseline_peak.max(baseline)) / 1024;
    eprintln!(
        "1 GiB upload: {:.1} s ({:.0} MiB/s); RSS before {} MiB (peak after 4 MiB uploads {} MiB), peak after 1 GiB {} MiB",
        elapsed.as_secs_f64(),
        1024.0 / elapsed.as_secs_f64(),
        baseline / 1024,
        baseline_peak / 1024,
        peak / 1024
    );
    assert!(
        growth_mib < 32,
        "RSS grew by {growth_mib} MiB during a 1 GiB upload"
    );
    let report = server.wait_final(&data_id).await;
    assert_eq!(report["file_info"]["file_size"], 1u64 << 30);
    assert_eq!(report["file_info"]["sha256"], expected_sha256());
}

/// SHA-256 of 1 GiB of 0x5a bytes, computed with the system's sha256sum as an independent check.
fn expected_sha256() -> String {
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        let chunk = vec![0x5au8; 1 << 20];
        for _ in 0..1024 {
            stdin.write_all(&chunk).unwrap();
        }
    }
    let output = child.wait_with_output().unwrap();
    String::from_utf8(output.stdout).unwrap()[..64].to_string()
}

#[tokio::test]
async fn heavy_twenty_concurrent_200_mib_files_are_scanned_within_the_memory_budget() {
    const BUDGET_MIB: u64 = 256;
    const FILES: u8 = 20;
    const CHUNKS: usize = 200;
    let data_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data_dir.path().join("yara-rules")).unwrap();
    std::fs::write(
        data_dir.path().join("yara-rules/marker.yar"),
        "rule Tail_Marker { meta: verdict = \"infected\" strings: $m = \"palisade-tail-marker\" condition: $m }",
    )
    .unwrap();
    let server = Server::launch(
        "serve",
        data_dir.path(),
        &format!(
            "[queue]\nscan_memory_mib = {BUDGET_MIB}\n\n\
             [[rules]]\nname = \"Default\"\nengines = [\"filetype\", \"yara\"]\n"
        ),
    );
    let pid = server.pid();
    for index in 0..4 {
        let warm = server.submit("warm.bin", vec![index as u8; 4 << 20]).await;
        server.wait_final(&warm).await;
    }
    let (baseline_peak, _) = memory_kib(pid);

    // 20 different files of 200 MiB at once; the odd ones end with the marker, so that a scan
    // that skipped or cut the file would miss it.
    let started = Instant::now();
    let mut uploads = tokio::task::JoinSet::new();
    for file in 0..FILES {
        let request = server
            .post("/file")
            .header("filename", format!("large-{file}.bin"));
        uploads.spawn(async move {
            let mut last = vec![file; 1 << 20];
            if file % 2 == 1 {
                let marker = b"palisade-tail-marker";
                let at = last.len() - marker.len();
                last[at..].copy_from_slice(marker);
            }
            let chunk = Bytes::from(vec![file; 1 << 20]);
            let last = Bytes::from(last);
            let body = futures_util::stream::iter((0..CHUNKS).map(move |index| {
                Ok::<_, std::io::Error>(if index + 1 == CHUNKS {
                    last.clone()
                } else {
                    chunk.clone()
                })
            }));
            let response = request
                .header(reqwest::header::CONTENT_LENGTH, (CHUNKS << 20).to_string())
                .body(reqwest::Body::wrap_stream(body))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let json: serde_json::Value = response.json().await.unwrap();
            (file, json["data_id"].as_str().unwrap().to_string())
        });
    }
    let mut ids = Vec::new();
    while let Some(joined) = uploads.join_next().await {
        ids.push(joined.unwrap());
    }
    eprintln!(
        "uploaded in {:.1} s; peak RSS {} MiB",
        started.elapsed().as_secs_f64(),
        memory_kib(pid).0 / 1024
    );
    for (file, data_id) in &ids {
        let report = server.wait_final(data_id).await;
        let yara = &report["scan_results"]["scan_details"]["YARA"];
        let expected = if file % 2 == 1 { 1 } else { 0 };
        assert_eq!(yara["scan_result_i"], expected, "file {file}: {yara}");
        assert_eq!(report["scan_results"]["scan_all_result_i"], expected);
    }
    let (peak, _) = memory_kib(pid);
    eprintln!(
        "20 x 200 MiB with YARA: {:.1} s; peak RSS {} MiB before, {} MiB after (budget {BUDGET_MIB} MiB)",
        started.elapsed().as_secs_f64(),
        baseline_peak / 1024,
        peak / 1024
    );
    // The bound the README states: the budget plus what the server itself needs, which is about
    // 150 MiB while 20 uploads stream in (the same uploads with only the file type engine).
    assert!(
        peak / 1024 < BUDGET_MIB + 192,
        "peak RSS {} MiB is over the {BUDGET_MIB} MiB scan memory budget plus 192 MiB",
        peak / 1024
    );
}

#[test]
fn a_rule_accepting_files_over_the_scan_memory_budget_is_named_at_start() {
    use std::io::BufRead;
    let data_dir = tempfile::tempdir().unwrap();
    let config = data_dir.path().join("test-config.toml");
    std::fs::write(
        &config,
        "[queue]\nscan_memory_mib = 64\n\n[autodetect]\nclamd = false\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .arg("--config")
        .arg(&config)
        .env("PALISADE_API_KEY", crate::support::API_KEY)
        .env("PALISADE_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("scan memory budget") {
                let _ = sender.send(line);
            }
        }
    });
    let warning = receiver.recv_timeout(Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    let warning = warning.expect("a warning names the rule whose files YARA would not scan");
    // The default rule accepts 2 GiB; YARA would need that much memory for its largest file.
    assert!(warning.contains("Default"), "{warning}");
    assert!(warning.contains("yara"), "{warning}");
    assert!(warning.contains("queue.scan_memory_mib"), "{warning}");
}

/// One system call from an `strace -f -y` log: where it started and finished in the log (a call
/// that blocked shows as `<unfinished ...>` and later `<... resumed>`).
#[derive(Debug)]
struct Call {
    name: String,
    args: String,
    started: usize,
    finished: usize,
}

fn parse_trace(text: &str) -> Vec<Call> {
    let mut calls: Vec<Call> = Vec::new();
    let mut pending = std::collections::HashMap::new();
    for (index, line) in text.lines().enumerate() {
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(resumed) = rest.strip_prefix("<... ") {
            if let Some(position) = pending.remove(pid) {
                let call: &mut Call = &mut calls[position];
                call.finished = index;
                call.args.push_str(resumed);
            }
            continue;
        }
        let Some((name, args)) = rest.split_once('(') else {
            continue;
        };
        let unfinished = args.ends_with("<unfinished ...>");
        if unfinished {
            pending.insert(pid.to_string(), calls.len());
        }
        calls.push(Call {
            name: name.to_string(),
            args: args.to_string(),
            started: index,
            finished: if unfinished { usize::MAX } else { index },
        });
    }
    calls
}

fn is_sync(call: &Call) -> bool {
    call.name == "fsync" || call.name == "fdatasync"
}

/// How one blob reached the store in a trace: the rename that named it, the name it was staged
/// under, and its shard directory.
struct BlobTrace<'a> {
    calls: &'a [Call],
    rename: &'a Call,
    staged: String,
    shard_dir: String,
}

impl<'a> BlobTrace<'a> {
    fn find(calls: &'a [Call], data_dir: &std::path::Path, sha256: &str) -> Self {
        let rename = calls
            .iter()
            .find(|c| c.name.starts_with("rename") && c.args.contains(sha256))
            .unwrap_or_else(|| panic!("no rename names the blob {sha256}"));
        let staged = rename.args.split('"').nth(1).unwrap().to_string();
        let shard_dir = data_dir
            .join("blobs/blobs")
            .join(&sha256[0..2])
            .join(&sha256[2..4]);
        BlobTrace {
            calls,
            rename,
            staged,
            shard_dir: shard_dir.display().to_string(),
        }
    }

    /// Syncs of a file descriptor open on `path` (exactly), in log order.
    fn syncs_of(&self, path: &str) -> Vec<&'a Call> {
        let fd_path = format!("<{path}>");
        self.calls
            .iter()
            .filter(|c| is_sync(c) && c.args.contains(&fd_path))
            .collect()
    }

    /// Where in the log the blob is durable: its bytes were synced before the rename, and its
    /// directory after it. Panics, with the log, when either is missing.
    fn durable_at(&self, text: &str) -> usize {
        let data_syncs = self.syncs_of(&self.staged);
        assert!(
            data_syncs
                .iter()
                .any(|sync| sync.finished < self.rename.started),
            "the blob's bytes are synced before it is renamed into place: {data_syncs:?}\n{text}"
        );
        self.syncs_of(&self.shard_dir)
            .iter()
            .filter(|sync| sync.started > self.rename.finished)
            .map(|sync| sync.finished)
            .min()
            .unwrap_or_else(|| panic!("the blob's directory is synced after the rename\n{text}"))
    }
}

/// The first write or send that carries `needle` (the server's answer naming a `data_id`).
fn response_with<'a>(calls: &'a [Call], needle: &str) -> &'a Call {
    calls
        .iter()
        .find(|c| {
            (c.name.starts_with("write") || c.name.starts_with("send")) && c.args.contains(needle)
        })
        .unwrap_or_else(|| panic!("no response carries {needle}"))
}

/// Syncs of the metastore's log that started after `after` and finished before `before`.
fn log_syncs_between(calls: &[Call], after: usize, before: usize) -> usize {
    calls
        .iter()
        .filter(|c| is_sync(c) && c.args.contains("palisade.db-wal>"))
        .filter(|c| c.started > after && c.finished < before)
        .count()
}

/// Uploads `body` and returns its `data_id`, with the trace log read once the response is in it.
async fn traced_upload(
    server: &Server,
    trace: &std::path::Path,
    body: Vec<u8>,
) -> (String, String) {
    let response = server
        .post("/file")
        .header("filename", "traced.bin")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let json: serde_json::Value = response.json().await.unwrap();
    let data_id = json["data_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(trace).unwrap_or_default();
        if text.contains(&data_id) {
            return (data_id, text);
        }
        assert!(
            Instant::now() < deadline,
            "the trace never showed the response"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const SYNC_SYSCALLS: &str = "fsync,fdatasync,rename,renameat,renameat2,write,writev,sendto,sendmsg";

#[tokio::test]
async fn an_answered_upload_has_its_blob_its_directory_and_its_job_synced_first() {
    let trace_dir = tempfile::tempdir().unwrap();
    let trace = trace_dir.path().join("strace.log");
    let server = Server::start_traced("", SYNC_SYSCALLS, &trace);
    let data_dir = server.data_dir.canonicalize().unwrap();
    // A small upload (stored from memory) and a streamed one take different paths to the store.
    for body in [vec![7u8; 4096], vec![9u8; 3 * 1024 * 1024 + 5]] {
        let sha256 = palisade_blobstore::hash_all(&body).sha256;
        let (data_id, text) = traced_upload(&server, &trace, body).await;
        let calls = parse_trace(&text);
        let blob = BlobTrace::find(&calls, &data_dir, &sha256);
        let durable = blob.durable_at(&text);
        let response = response_with(&calls, &data_id);
        assert!(
            durable < response.started,
            "the blob is durable before the answer\n{text}"
        );
        assert!(
            log_syncs_between(&calls, blob.rename.finished, response.started) > 0,
            "the metastore's commit of the job is synced before the answer\n{text}"
        );
    }

    // Archive members are stored together, and each is synced into place the same way.
    let members: Vec<Vec<u8>> = (0..3)
        .map(|i| format!("member {i} of a traced zip").into_bytes())
        .collect();
    let zip = {
        let sources = trace_dir.path().join("zip");
        std::fs::create_dir_all(&sources).unwrap();
        let mut command = std::process::Command::new("zip");
        command.current_dir(&sources).arg("-q").arg("../traced.zip");
        for (i, bytes) in members.iter().enumerate() {
            std::fs::write(sources.join(format!("m{i}.txt")), bytes).unwrap();
            command.arg(format!("m{i}.txt"));
        }
        assert!(command.status().unwrap().success());
        std::fs::read(trace_dir.path().join("traced.zip")).unwrap()
    };
    let (data_id, _) = traced_upload(&server, &trace, zip).await;
    let report = server.wait_final(&data_id).await;
    assert_eq!(
        report["extracted_files"]["files_extracted_count"], 3,
        "{report}"
    );
    let text = std::fs::read_to_string(&trace).unwrap();
    let calls = parse_trace(&text);
    for bytes in &members {
        let sha256 = palisade_blobstore::hash_all(bytes).sha256;
        BlobTrace::find(&calls, &data_dir, &sha256).durable_at(&text);
    }
}

#[tokio::test]
async fn relaxed_durability_answers_uploads_without_syncing() {
    let trace_dir = tempfile::tempdir().unwrap();
    let trace = trace_dir.path().join("strace.log");
    let server = Server::start_traced(
        "[storage]\ndurability = \"relaxed\"\n",
        SYNC_SYSCALLS,
        &trace,
    );
    let data_dir = server.data_dir.canonicalize().unwrap();
    let body = vec![5u8; 4096];
    let sha256 = palisade_blobstore::hash_all(&body).sha256;
    let (data_id, text) = traced_upload(&server, &trace, body).await;
    let calls = parse_trace(&text);
    let blob = BlobTrace::find(&calls, &data_dir, &sha256);
    assert!(blob.syncs_of(&blob.staged).is_empty(), "{text}");
    assert!(blob.syncs_of(&blob.shard_dir).is_empty(), "{text}");
    let blob_syncs: Vec<_> = calls
        .iter()
        .filter(|c| is_sync(c) && c.args.contains("/blobs/"))
        // The readiness check's write probe syncs a file of its own.
        .filter(|c| !c.args.contains("/probe-"))
        .collect();
    assert!(blob_syncs.is_empty(), "no blob is synced: {blob_syncs:?}");
    let response = response_with(&calls, &data_id);
    assert_eq!(
        log_syncs_between(&calls, blob.rename.finished, response.started),
        0,
        "the job's commit is not synced\n{text}"
    );
}
