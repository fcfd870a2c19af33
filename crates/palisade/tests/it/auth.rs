//! Login, logout, sessions as API keys, API keys, anonymous access and rule visibility.

use serde_json::{Value, json};

use crate::support::{ADMIN_PASSWORD, API_KEY, Server};

const RULES: &str = r#"
[[rules]]
name = "Default"

[[rules]]
name = "Admins only"
roles = ["admin"]
max_file_size = 1000

[[rules]]
name = "Portal"
user_agents = ["portal"]
"#;

#[tokio::test]
async fn sessions_work_as_api_keys_until_logout() {
    let server = Server::start(RULES);
    let client = &server.client;

    let bad = client
        .post(server.url("/login"))
        .json(&json!({"user": "admin", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 403);
    let body: Value = bad.json().await.unwrap();
    assert!(body["err"].is_string());

    // The document allows only 200, 403 and 500 for /login (more bodies in clients.rs).
    let malformed = client
        .post(server.url("/login"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 403);

    let login: Value = client
        .post(server.url("/login"))
        .json(&json!({"user": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = login["session_id"].as_str().unwrap().to_string();
    assert!(!login["oms-csrf-token"].as_str().unwrap().is_empty());

    let rules = client
        .get(server.url("/file/rules"))
        .header("apikey", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(rules.status(), 200);

    // The query parameter form that download links use.
    let by_query = client
        .get(server.url(&format!("/stat/engines?apikey={session}")))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);
    let engines: Value = by_query.json().await.unwrap();
    let ids: Vec<&str> = engines
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eng_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["filetype", "yara", "archive"]);
    assert!(engines[1]["active"].as_bool().unwrap());
    assert_eq!(engines[1]["state"], "production");

    let logout = client
        .post(server.url("/logout"))
        .header("apikey", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);
    let body: Value = logout.json().await.unwrap();
    assert_eq!(body, json!({"response": "Logout success"}));

    let after = client
        .get(server.url("/file/rules"))
        .header("apikey", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 403);
    let body: Value = after.json().await.unwrap();
    assert_eq!(body["err"], "Access denied");
}

#[tokio::test]
async fn every_protected_endpoint_needs_a_key_but_health_and_version_do_not() {
    let server = Server::start(RULES);
    let client = &server.client;
    for path in [
        "/file/rules",
        "/stat/engines",
        "/file/0123456789abcdef0123456789abcdef",
        "/hash/44d88612fea8a8f36de82e1278abb02f",
        "/file/batch/0123456789abcdef0123456789abcdef",
    ] {
        let response = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 403, "{path}");
        let wrong = client
            .get(server.url(path))
            .header("apikey", "nope")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 403, "{path}");
    }
    let upload = client
        .post(server.url("/file"))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 403);

    let version: Value = client
        .get(server.url("/version"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(version["product_id"], "palisade");
    assert!(version["version"].as_str().unwrap().contains('.'));
    let ready = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn anonymous_scanning_is_the_operators_choice() {
    let server = Server::start("[auth]\nallow_anonymous = true\n");
    let response = server
        .client
        .post(server.url("/file"))
        .body("anonymous upload")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let data_id = response.json::<Value>().await.unwrap()["data_id"]
        .as_str()
        .unwrap()
        .to_string();
    let report = server.wait_final(&data_id).await;
    assert_eq!(report["process_info"]["username"], "anonymous");
}

#[tokio::test]
async fn rules_are_filtered_by_role_and_user_agent() {
    let server = Server::start(RULES);
    // A `user` account made with the CLI.
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["user", "add", "alice", "--role", "user", "--data-dir"])
        .arg(&server.data_dir)
        .env("PALISADE_USER_PASSWORD", "alice-password")
        .status()
        .unwrap();
    assert!(status.success());
    let alice = server.login("alice", "alice-password").await;

    let names = |rules: Value| -> Vec<String> {
        rules
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    let admin_rules: Value = server.get_json("/file/rules").await;
    assert_eq!(names(admin_rules.clone()), ["Default", "Admins only"]);
    assert_eq!(admin_rules[1]["max_file_size"], 1000);

    let alice_rules: Value = server
        .client
        .get(server.url("/file/rules"))
        .header("apikey", &alice)
        .header("user_agent", "portal")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(names(alice_rules), ["Default", "Portal"]);

    // A rule the caller may not use is refused, an unknown one is a bad request.
    let denied = server
        .client
        .post(server.url("/file"))
        .header("apikey", &alice)
        .header("rule", "Admins%20only")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let unknown = server
        .post("/file")
        .header("rule", "No such rule")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    assert!(
        unknown.json::<Value>().await.unwrap()["err"]
            .as_str()
            .unwrap()
            .contains("No such rule")
    );
    let _ = API_KEY;
}

#[tokio::test]
async fn users_from_the_config_file_can_log_in() {
    let example = include_str!("../../../../palisade.example.toml");
    let server = Server::start(example);
    let session = server.login("portal", "portal-password").await;
    // `portal` has role user: the admin-only rule of the example is not offered.
    let rules: Value = server
        .client
        .get(server.url("/file/rules"))
        .header("apikey", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Default", "Archives", "Two engines agree"]);
}
