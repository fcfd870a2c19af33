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
