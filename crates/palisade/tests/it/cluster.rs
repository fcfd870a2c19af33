//! Roles as separate processes: a gateway that only accepts, a node that only scans, the node
//! registry, and a node draining on SIGTERM.

use std::time::Duration;

use serde_json::Value;

use crate::support::Server;

const CONFIG: &str = "[cluster]\nheartbeat_seconds = 0.2\n";

async fn submit_many(server: &Server, tag: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..count {
        ids.push(
            server
                .submit(
                    &format!("{tag}{i}.txt"),
                    format!("{tag} file {i}").into_bytes(),
                )
                .await,
        );
    }
    ids
}

#[tokio::test]
async fn a_gateway_and_a_node_share_the_work_and_the_node_drains_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let gateway = Server::launch("gateway", data.path(), CONFIG);
    let mut node = Server::launch("node", data.path(), CONFIG);

    // The node answers health checks only.
    let ready = node.client.get(node.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let api = node
        .client
        .get(node.url("/stat/engines"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 404);

    for data_id in submit_many(&gateway, "a", 30).await {
        let report = gateway.wait_final(&data_id).await;
        assert_eq!(report["scan_results"]["scan_all_result_i"], 0);
    }

    let nodes: Value = gateway.get_json("/stat/nodes").await;
    let list = nodes.as_array().unwrap();
    assert_eq!(list.len(), 2, "{nodes}");
    let role = |r: &str| list.iter().find(|n| n["role"] == r).unwrap().clone();
    assert_eq!(role("gateway")["online"], true);
    assert_eq!(role("gateway")["workers"], 0);
    let scanner = role("node");
    assert_eq!(scanner["online"], true);
    assert!(scanner["workers"].as_u64().unwrap() >= 1);
    assert!(
        scanner["engines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["eng_id"] == "yara" && e["state"] == "production"),
        "{scanner}"
    );
    // The gateway lists the node's engines in the published shape, archive extraction included.
    let engines = gateway.get_json("/stat/engines").await;
    crate::schema::assert_fits(&engines, &crate::schema::engines(), "a gateway's engines");
    let archive = engines
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["eng_id"] == "archive")
        .unwrap_or_else(|| panic!("archive extraction listed: {engines}"));
    assert_eq!(archive["engine_type"], "archive");
    assert_eq!(archive["nodes"][0]["node_id"], scanner["node_id"]);

    // Each process counts its own part: the node the files it finished (on its health
    // listener), the gateway the files it took in; the gateway's engines are the node's.
    let metrics = |server: &Server| {
        let url = server.url("/metrics");
        let client = server.client.clone();
        async move {
            let text = client.get(url).send().await.unwrap().text().await.unwrap();
            palisade_test_support::metrics::parse(&text)
        }
    };
    use palisade_test_support::metrics::value;
    let scanned = metrics(&node).await;
    let finished = [("result", "No Threat Detected"), ("origin", "submitted")];
    assert_eq!(
        value(&scanned, "palisade_files_finished_total", &finished),
        30.0
    );
    assert_eq!(value(&scanned, "palisade_ingested_bytes_total", &[]), 0.0);
    let accepted = metrics(&gateway).await;
    assert_eq!(value(&accepted, "palisade_files_finished_total", &[]), 0.0);
    assert!(value(&accepted, "palisade_ingested_bytes_total", &[]) > 0.0);
    assert_eq!(
        value(&accepted, "palisade_engine_up", &[("engine", "yara")]),
        1.0
    );

    // SIGTERM: the node finishes what it holds, leaves the registry and exits cleanly.
    let pending = submit_many(&gateway, "b", 40).await;
    let status = node.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status}");
    let nodes: Value = gateway.get_json("/stat/nodes").await;
    assert!(
        nodes
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["role"] != "node"),
        "{nodes}"
    );
    // Nothing it held is stuck: a new node finishes everything at once, without lease expiry.
    let restarted = std::time::Instant::now();
    let _replacement = Server::launch("node", data.path(), CONFIG);
    for data_id in pending {
        let report = gateway.wait_final(&data_id).await;
        assert_eq!(report["scan_results"]["scan_all_result_i"], 0);
    }
    assert!(
        restarted.elapsed() < Duration::from_secs(20),
        "finished without waiting for a 30 s lease to expire"
    );
}

/// A real PostgreSQL and a real S3 server (s3s-fs) for a cluster's processes to share.
pub(crate) async fn cluster_services() -> (
    palisade_test_support::Postgres,
    palisade_test_support::S3Server,
) {
    tokio::task::spawn_blocking(|| {
        (
            palisade_test_support::Postgres::start(),
            palisade_test_support::S3Server::start(),
        )
    })
    .await
    .unwrap()
}

/// A configuration pointing at both services, followed by `extra`.
pub(crate) fn cluster_config(
    postgres: &palisade_test_support::Postgres,
    s3: &palisade_test_support::S3Server,
    extra: &str,
) -> String {
    format!(
        "[storage]\nmetastore_url = \"{}\"\nblobstore_url = \"{}\"\n{extra}",
        postgres.url(),
        s3.url()
    )
}

/// What a file of the big cluster run is and what its final result must be.
struct Submitted {
    data_id: String,
    gateway: usize,
    expected: i64,
    md5: String,
}

/// A zip of `count` text members (one of them EICAR when `infected`), built with the zip tool.
fn zip_of(dir: &std::path::Path, name: &str, count: usize, infected: bool) -> Vec<u8> {
    let work = dir.join(name);
    std::fs::create_dir_all(&work).unwrap();
    let mut members = Vec::new();
    for i in 0..count {
        let member = format!("m{i}.txt");
        let bytes = if infected && i == count / 2 {
            crate::support::eicar()
        } else {
            format!("{name} member {i}").into_bytes()
        };
        std::fs::write(work.join(&member), bytes).unwrap();
        members.push(member);
    }
    let status = std::process::Command::new("zip")
        .arg("-q")
        .arg("archive.zip")
        .args(&members)
        .current_dir(&work)
        .status()
        .expect("zip is installed (scripts/test.sh installs it)");
    assert!(status.success());
    std::fs::read(work.join("archive.zip")).unwrap()
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(bytes))
}

async fn submit_to(
    gateways: &[Server],
    index: usize,
    scratch: &std::path::Path,
    batch: Option<&str>,
) -> Submitted {
    let gateway = index % gateways.len();
    let (name, bytes, expected) = if index % 100 == 50 {
        let infected = index % 200 == 50;
        let name = format!("archive{index}.zip");
        (
            name.clone(),
            zip_of(scratch, &name, 10, infected),
            i64::from(infected),
        )
    } else if index % 10 == 3 {
        (format!("eicar{index}.com"), crate::support::eicar(), 1)
    } else {
        let text = format!("cluster file {index}: {}", "x".repeat(index % 97));
        (format!("file{index}.txt"), text.into_bytes(), 0)
    };
    let md5 = md5_hex(&bytes);
    let server = &gateways[gateway];
    let mut request = server.post("/file").header("filename", name);
    if let Some(batch) = batch {
        request = request.header("batch", batch);
    }
    let data_id = server.submit_with(request, bytes).await;
    Submitted {
        data_id,
        gateway,
        expected,
        md5,
    }
}

async fn node_entry(gateway: &Server, node_id: &str) -> Option<Value> {
    let nodes: Value = gateway.get_json("/stat/nodes").await;
    nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node_id"] == node_id)
        .cloned()
}

/// The cluster of issue 5: a real PostgreSQL and S3 server, two gateways and two scanning nodes
/// as separate processes with data directories of their own. One node is killed with SIGKILL
/// while it holds jobs; every file still gets exactly one final, correct report, the same from
/// either gateway, and the killed node restarts and rejoins under its old name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_two_gateways_and_two_nodes_over_postgres_and_s3_lose_nothing_when_a_node_dies() {
    use futures_util::StreamExt;
    let (postgres, s3) = cluster_services().await;
    let config = cluster_config(
        &postgres,
        &s3,
        "[cluster]\nheartbeat_seconds = 0.2\n\
         [queue]\nworkers = 2\nclaim_batch = 8\nlease_seconds = 3\nheartbeat_seconds = 1\n",
    );
    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let scratch = tempfile::tempdir().unwrap();
    let gateways = [
        Server::launch("gateway", dirs[0].path(), &config),
        Server::launch("gateway", dirs[1].path(), &config),
    ];
    let mut doomed = Server::launch("node", dirs[2].path(), &config);
    let mut survivor = Server::launch("node", dirs[3].path(), &config);
    let doomed_id = std::fs::read_to_string(dirs[2].path().join("node-id-node"))
        .unwrap()
        .trim()
        .to_string();

    let first_start = loop {
        if let Some(entry) = node_entry(&gateways[0], &doomed_id).await {
            break entry["started"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // A gateway's /stat/engines shows the scanning nodes' engines, node by node.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let engines: Value = gateways[1].get_json("/stat/engines").await;
        let yara = engines
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["eng_id"] == "yara")
            .cloned();
        if let Some(yara) = yara.filter(|y| y["nodes"].as_array().map(Vec::len) == Some(2)) {
            assert_eq!(yara["active"], true, "{yara}");
            assert!(
                yara["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|n| n["state"] == "production")
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "both nodes' engines never showed: {engines}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A batch opened on one gateway takes files through both.
    let batch: Value = gateways[0]
        .post("/file/batch")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let batch = batch["batch_id"].as_str().unwrap().to_string();

    // 500 files round-robin over both gateways, 8 uploads at a time. Once 100 are in, the node
    // is frozen (SIGSTOP) until it is seen holding leases in the database, then killed (SIGKILL):
    // it dies with jobs in hand, whatever the timing.
    let submitted = std::sync::atomic::AtomicUsize::new(0);
    let submit = |range: std::ops::Range<usize>| {
        let gateways = &gateways;
        let scratch = scratch.path();
        let batch = batch.as_str();
        let submitted = &submitted;
        futures_util::stream::iter(range)
            .map(move |i| async move {
                let file = submit_to(gateways, i, scratch, (i < 20).then_some(batch)).await;
                submitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                file
            })
            .buffered(8)
            .collect::<Vec<_>>()
    };
    let signal = |name: &str, pid: u32| {
        let status = std::process::Command::new("kill")
            .args([name, &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {name}");
    };
    let held_by_doomed = format!(
        "SELECT COUNT(*) FROM jobs WHERE state = 'running' AND lease_owner LIKE '{doomed_id}/%'"
    );
    let kill = async {
        while submitted.load(std::sync::atomic::Ordering::Relaxed) < 100 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let pid = doomed.pid();
        loop {
            signal("-STOP", pid);
            let held: u64 = tokio::task::block_in_place(|| postgres.query(&held_by_doomed))
                .parse()
                .unwrap();
            if held > 0 {
                doomed.kill9();
                return held;
            }
            signal("-CONT", pid);
            assert!(
                std::time::Instant::now() < deadline,
                "the node never held a job"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (files, held) = tokio::join!(submit(0..500), kill);
    assert!(held > 0);

    for file in &files {
        let other = &gateways[(file.gateway + 1) % 2];
        let report = other.wait_final(&file.data_id).await;
        assert_eq!(
            report["scan_results"]["scan_all_result_i"], file.expected,
            "{}: {report}",
            file.data_id
        );
        let accepted_by = gateways[file.gateway].report(&file.data_id).await;
        assert_eq!(accepted_by["scan_results"], report["scan_results"]);
        assert_eq!(accepted_by["process_info"], report["process_info"]);
    }
    // Exactly one final result per file: every job (archive members included) is done once;
    // the killed node's jobs were claimed again after its leases expired.
    assert_eq!(
        postgres.query("SELECT COUNT(*) FROM jobs WHERE parent_id IS NULL"),
        "500"
    );
    assert_eq!(
        postgres.query("SELECT COUNT(*) FROM jobs WHERE state <> 'done'"),
        "0"
    );
    assert_eq!(
        postgres.query("SELECT COUNT(*) FROM jobs WHERE parent_id IS NOT NULL"),
        "50",
        "five archives of ten members"
    );
    let retried: u64 = postgres
        .query("SELECT COUNT(*) FROM jobs WHERE attempts > 1")
        .parse()
        .unwrap();
    assert!(retried > 0, "the killed node held jobs that ran again");

    // Hash lookup and the batch read the same from both gateways.
    let unique = files.iter().find(|f| f.expected == 0).unwrap();
    for gateway in &gateways {
        let found = gateway.get_json(&format!("/hash/{}", unique.md5)).await;
        assert_eq!(found["data_id"], unique.data_id.as_str());
        let status = gateway.get_json(&format!("/file/batch/{batch}")).await;
        assert_eq!(status["batch_files"]["batch_count"], 20, "{status}");
        assert_eq!(status["scan_results"]["scan_all_result_i"], 1);
    }

    // A session opened on one gateway works on the other, and ends on both at logout.
    let session = gateways[0]
        .login("admin", crate::support::ADMIN_PASSWORD)
        .await;
    let with_session = |gateway: &Server| {
        gateway
            .client
            .get(gateway.url("/file/rules"))
            .header("apikey", session.clone())
            .send()
    };
    assert_eq!(with_session(&gateways[1]).await.unwrap().status(), 200);
    let logout = gateways[1]
        .client
        .post(gateways[1].url("/logout"))
        .header("apikey", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);
    assert_eq!(with_session(&gateways[0]).await.unwrap().status(), 403);

    // The killed node restarts under its old name and, once the other node has drained, scans
    // new files alone.
    let _doomed = Server::launch("node", dirs[2].path(), &config);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let entry = node_entry(&gateways[1], &doomed_id).await;
        if entry.is_some_and(|n| n["online"] == true && n["started"] != first_start) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the node never rejoined"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // One archive's members spread over both nodes.
    let spread = gateways[0]
        .submit("spread.zip", zip_of(scratch.path(), "spread", 200, false))
        .await;
    let report = gateways[1].wait_final(&spread).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 0);
    assert_eq!(report["extracted_files"]["files_extracted_count"], 200);
    let scanners = postgres.query(&format!(
        "SELECT COUNT(DISTINCT split_part(finished_by, '/', 1)) FROM jobs WHERE parent_id = '{spread}'"
    ));
    assert_eq!(scanners, "2", "the members ran on both nodes");

    assert!(survivor.terminate(Duration::from_secs(30)).success());
    let later = submit(500..520).await;
    for file in &later {
        let report = gateways[file.gateway].wait_final(&file.data_id).await;
        assert_eq!(report["scan_results"]["scan_all_result_i"], file.expected);
    }
    let nodes: Value = gateways[0].get_json("/stat/nodes").await;
    let scanners: Vec<&Value> = nodes
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["role"] == "node")
        .collect();
    assert_eq!(scanners.len(), 1, "one node entry, rejoined: {nodes}");
    assert_eq!(scanners[0]["node_id"], doomed_id.as_str());
}

/// An upload answered 500 with an `err`: nothing was accepted.
async fn assert_upload_refused(gateway: &Server, bytes: &[u8]) {
    let refused = gateway
        .post("/file")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 500);
    let body: Value = refused.json().await.unwrap();
    assert!(body["err"].is_string(), "{body}");
}

/// `/readyz` answers 200 again within a few write probes.
async fn assert_ready_soon(server: &Server) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ready = server.get("/readyz").send().await.unwrap();
        if ready.status() == 200 {
            return;
        }
        let body: Value = ready.json().await.unwrap();
        assert!(
            std::time::Instant::now() < deadline,
            "still not ready: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `/readyz` answers 503 and names `problem`.
async fn assert_not_ready(server: &Server, problem: &str) {
    let ready = server.get("/readyz").send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert!(body["err"].as_str().unwrap().contains(problem), "{body}");
}

/// When the blob store or the metastore is down, uploads are refused with an error (nothing is
/// accepted that is not stored) and queued files wait: they are neither failed nor lost, and
/// finish with their right results once the store is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_storage_outages_delay_files_but_never_fail_or_lose_them() {
    let (postgres, mut s3) = cluster_services().await;
    let config = cluster_config(
        &postgres,
        &s3,
        "[cluster]\nheartbeat_seconds = 0.2\n[readiness]\nprobe_seconds = 0.2\n\
         [queue]\nworkers = 1\nlease_seconds = 1\nheartbeat_seconds = 0.3\nmax_attempts = 50\npoll_interval_ms = 100\n",
    );
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let gateway = Server::launch("gateway", dirs[0].path(), &config);
    let mut queued = Vec::new();
    for i in 0..20 {
        let (bytes, expected) = if i % 5 == 0 {
            (crate::support::eicar(), 1)
        } else {
            (format!("outage file {i}").into_bytes(), 0)
        };
        queued.push((gateway.submit(&format!("f{i}"), bytes).await, expected));
    }

    // The blob store goes down before any node has scanned them.
    tokio::task::block_in_place(|| s3.stop());
    assert_upload_refused(&gateway, b"not stored anywhere").await;
    let node = Server::launch("node", dirs[1].path(), &config);
    // Both report themselves not ready, and why.
    for server in [&gateway, &node] {
        assert_not_ready(server, "blob store unreachable").await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    for (data_id, _) in &queued {
        let report = gateway.report(data_id).await;
        assert_ne!(
            report["scan_results"]["progress_percentage"], 100,
            "a file was finished while its bytes were unreachable: {report}"
        );
    }
    tokio::task::block_in_place(|| s3.restart());
    for server in [&gateway, &node] {
        assert_ready_soon(server).await;
    }
    for (data_id, expected) in &queued {
        let report = gateway.wait_final(data_id).await;
        assert_eq!(
            report["scan_results"]["scan_all_result_i"], *expected,
            "{report}"
        );
    }
    let retried: u64 = postgres
        .query("SELECT COUNT(*) FROM jobs WHERE attempts > 1")
        .parse()
        .unwrap();
    assert!(
        retried > 0,
        "jobs were claimed during the outage and ran again"
    );

    // The metastore goes down: uploads and reads answer errors, then work again once it is back.
    tokio::task::block_in_place(|| postgres.stop());
    assert_upload_refused(&gateway, b"no metastore").await;
    let read = gateway
        .get(&format!("/file/{}", queued[0].0))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 500);
    assert_not_ready(&gateway, "metastore unreachable").await;
    tokio::task::block_in_place(|| postgres.restart());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let after = loop {
        let response = gateway
            .post("/file")
            .header("filename", "after.com")
            .body(crate::support::eicar())
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            let body: Value = response.json().await.unwrap();
            break body["data_id"].as_str().unwrap().to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway did not recover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let report = gateway.wait_final(&after).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 1);
    assert_ready_soon(&gateway).await;
    assert_ready_soon(&node).await;
    // Delayed, not lost: it ends too (the node may take it after the newer file).
    let earlier = gateway.wait_final(&queued[1].0).await;
    assert_eq!(earlier["scan_results"]["scan_all_result_i"], 0);
}

/// A large file through a cluster: the gateway stages it and sends it to S3 in parts, the node
/// streams it back for its engines; neither holds it in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_a_256_mib_upload_crosses_s3_in_bounded_memory() {
    use crate::support::memory_kib;
    let (postgres, s3) = cluster_services().await;
    // Only the file type engine, so that YARA's memory map of the file does not count here.
    let config = cluster_config(
        &postgres,
        &s3,
        "[[rules]]\nname = \"Default\"\nengines = [\"filetype\"]\n",
    );
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let gateway = Server::launch("gateway", dirs[0].path(), &config);
    let node = Server::launch("node", dirs[1].path(), &config);
    // Warm both up (threads, allocator arenas, both paths) so the baselines are running processes.
    for index in 0..4u8 {
        let warm = gateway.submit("warm.bin", vec![index; 4 << 20]).await;
        gateway.wait_final(&warm).await;
    }
    let (gateway_before, _) = memory_kib(gateway.pid());
    let (node_before, _) = memory_kib(node.pid());

    const CHUNK: usize = 1 << 20;
    const CHUNKS: usize = 256;
    let mut pattern = vec![0u8; CHUNK];
    for (i, byte) in pattern.iter_mut().enumerate() {
        *byte = (i % 251) as u8;
    }
    let chunk = bytes::Bytes::from(pattern);
    let mut expected = <sha2::Sha256 as sha2::Digest>::new();
    for _ in 0..CHUNKS {
        sha2::Digest::update(&mut expected, &chunk);
    }
    let expected = hex::encode(sha2::Digest::finalize(expected));
    let response = gateway.upload_repeated("large.bin", chunk, CHUNKS).await;
    assert_eq!(response.status(), 200);
    let data_id = response.json::<Value>().await.unwrap()["data_id"]
        .as_str()
        .unwrap()
        .to_string();
    let report = gateway.wait_final(&data_id).await;
    assert_eq!(report["file_info"]["file_size"], (CHUNK * CHUNKS) as u64);
    assert_eq!(report["file_info"]["sha256"], expected.as_str());
    assert_eq!(report["scan_results"]["scan_all_result_i"], 0, "{report}");
    let (gateway_after, _) = memory_kib(gateway.pid());
    let (node_after, _) = memory_kib(node.pid());
    let growth = |before: u64, after: u64| after.saturating_sub(before) / 1024;
    eprintln!(
        "256 MiB through S3: gateway peak {} -> {} MiB, node peak {} -> {} MiB",
        gateway_before / 1024,
        gateway_after / 1024,
        node_before / 1024,
        node_after / 1024
    );
    assert!(
        growth(gateway_before, gateway_after) < 48,
        "the gateway's peak RSS grew by {} MiB",
        growth(gateway_before, gateway_after)
    );
    assert!(
        growth(node_before, node_after) < 48,
        "the node's peak RSS grew by {} MiB",
        growth(node_before, node_after)
    );
}
