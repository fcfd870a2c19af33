//! The router in process (`oneshot`, no listener): status codes and bodies of every kind of
//! answer, and where credentials may come from. The tests through the binary
//! (`crates/palisade/tests`) cover the same routes over real HTTP.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use palisade_blobstore::BlobStore;
use palisade_metastore::Metastore;
use palisade_pipeline::Roster;
use palisade_service::{ApiKey, BatchSigner, Service, ServiceSettings, hash_password};
use serde_json::{Value, json};
use tower::ServiceExt;

const KEY: &str = "router-test-key-0123456789";
const PASSWORD: &str = "router-test-password";

struct Fixture {
    router: axum::Router,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let metastore = Metastore::open(&format!("sqlite://{}", dir.path().join("m.db").display()))
        .await
        .unwrap();
    let blobs = BlobStore::open(dir.path().join("blobs").to_str().unwrap()).unwrap();
    let settings = ServiceSettings {
        api_keys: vec![ApiKey {
            key: KEY.into(),
            username: "admin".into(),
            role: "admin".into(),
        }],
        ..ServiceSettings::default()
    };
    let service = Service::new(
        metastore,
        blobs,
        settings,
        Roster::default(),
        BatchSigner::in_data_dir(dir.path()),
        Arc::new(tokio::sync::Notify::new()),
    );
    service
        .put_user("alice", &hash_password(PASSWORD).unwrap(), "user")
        .await
        .unwrap();
    Fixture {
        router: palisade_api::router(service),
        _dir: dir,
    }
}

/// A request as the listener hands it to the router (with the client's address).
fn request(method: &str, uri: &str) -> axum::http::request::Builder {
    Request::builder().method(method).uri(uri)
}

async fn send(
    fixture: &Fixture,
    builder: axum::http::request::Builder,
    body: Body,
) -> (StatusCode, Value) {
    let mut request = builder.body(body).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40_000,
        ))));
    let response = fixture.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.to_str().unwrap().starts_with("application/json"));
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = if is_json {
        serde_json::from_slice(&bytes).unwrap()
    } else {
        Value::String(String::from_utf8_lossy(&bytes).into_owned())
    };
    (status, body)
}

async fn get(fixture: &Fixture, uri: &str) -> (StatusCode, Value) {
    send(
        fixture,
        request("GET", uri).header("apikey", KEY),
        Body::empty(),
    )
    .await
}

fn err(message: &str) -> Value {
    json!({ "err": message })
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let fixture = fixture().await;
    assert_eq!(
        get(&fixture, "/no/such/route").await,
        (StatusCode::NOT_FOUND, err("Endpoint not found"))
    );
    assert_eq!(
        send(
            &fixture,
            request("DELETE", "/file/rules").header("apikey", KEY),
            Body::empty()
        )
        .await,
        (StatusCode::METHOD_NOT_ALLOWED, err("Method not allowed"))
    );
}

#[tokio::test]
async fn credentials_come_from_the_header_the_query_or_nowhere() {
    let fixture = fixture().await;
    let refused = send(&fixture, request("GET", "/file/rules"), Body::empty()).await;
    assert_eq!(refused, (StatusCode::FORBIDDEN, err("Access denied")));
    let wrong = send(
        &fixture,
        request("GET", "/file/rules").header("apikey", "not-the-key"),
        Body::empty(),
    )
    .await;
    assert_eq!(wrong, (StatusCode::FORBIDDEN, err("Access denied")));

    let by_header = get(&fixture, "/file/rules").await;
    assert_eq!(
        by_header,
        (
            StatusCode::OK,
            json!([{ "max_file_size": 2_147_483_648u64, "name": "Default" }])
        )
    );
    let by_query = send(
        &fixture,
        request("GET", &format!("/file/rules?apikey={KEY}")),
        Body::empty(),
    )
    .await;
    assert_eq!(by_query, by_header);
}

#[tokio::test]
async fn files_answer_their_documented_shapes() {
    let fixture = fixture().await;
    let unknown = "0123456789abcdef0123456789abcdef";
    assert_eq!(
        get(&fixture, &format!("/file/{unknown}")).await,
        (StatusCode::OK, json!({ unknown: "Not Found" }))
    );
    assert_eq!(
        send(
            &fixture,
            request("POST", &format!("/file/{unknown}/cancel")).header("apikey", KEY),
            Body::empty()
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&fixture, &format!("/file/converted/{unknown}")).await,
        (StatusCode::NOT_FOUND, err("File could not be found"))
    );

    let no_length = send(
        &fixture,
        request("POST", "/file").header("apikey", KEY),
        Body::from("abc"),
    )
    .await;
    assert_eq!(
        no_length,
        (
            StatusCode::LENGTH_REQUIRED,
            err("Missing Content-Length header.")
        )
    );
    let empty = send(
        &fixture,
        request("POST", "/file")
            .header("apikey", KEY)
            .header(header::CONTENT_LENGTH, "0"),
        Body::empty(),
    )
    .await;
    assert_eq!(
        empty,
        (StatusCode::UNPROCESSABLE_ENTITY, err("File is empty."))
    );

    let (status, body) = send(
        &fixture,
        request("POST", "/file")
            .header("apikey", KEY)
            .header("filename", "a.txt")
            .header(header::CONTENT_LENGTH, "5"),
        Body::from("hello"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let object = body.as_object().unwrap();
    assert_eq!(object.len(), 1, "exactly data_id: {body}");
    let data_id = object["data_id"].as_str().unwrap();
    assert_eq!(data_id.len(), 32);
    assert!(
        data_id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );

    // Queued (no workers here): in progress, and no copy to download yet.
    let (status, report) = get(&fixture, &format!("/file/{data_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["scan_results"]["scan_all_result_i"], 255);
    assert_eq!(report["process_info"]["result"], "Processing");
    assert_eq!(
        get(&fixture, &format!("/file/download/{data_id}")).await,
        (StatusCode::NOT_FOUND, err("File could not be found"))
    );
    let (status, cancelled) = send(
        &fixture,
        request("POST", &format!("/file/{}/cancel", data_id.to_uppercase())).header("apikey", KEY),
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cancelled, json!({ data_id: "cancelled" }));
}

#[tokio::test]
async fn a_session_cookie_needs_its_csrf_token_to_change_anything() {
    let fixture = fixture().await;
    let login = |body: &'static str| {
        send(
            &fixture,
            request("POST", "/login").header(header::CONTENT_TYPE, "application/json"),
            Body::from(body),
        )
    };
    assert_eq!(
        login("not json").await,
        (StatusCode::FORBIDDEN, err("Invalid credentials"))
    );
    let (status, session) = login(r#"{"user":"alice","password":"router-test-password"}"#).await;
    assert_eq!(status, StatusCode::OK);
    let mut keys: Vec<&String> = session.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["oms-csrf-token", "session_id"]);
    let session_id = session["session_id"].as_str().unwrap();
    let csrf = session["oms-csrf-token"].as_str().unwrap();
    let cookie = format!("theme=dark; palisade_session={session_id}");

    let read = send(
        &fixture,
        request("GET", "/file/rules").header(header::COOKIE, &cookie),
        Body::empty(),
    )
    .await;
    assert_eq!(read.0, StatusCode::OK, "a cookie reads: {read:?}");

    let forged = send(
        &fixture,
        request("POST", "/file/batch").header(header::COOKIE, &cookie),
        Body::empty(),
    )
    .await;
    assert_eq!(forged, (StatusCode::FORBIDDEN, err("Access denied")));
    let wrong_token = send(
        &fixture,
        request("POST", "/file/batch")
            .header(header::COOKIE, &cookie)
            .header("oms-csrf-token", "0".repeat(csrf.len())),
        Body::empty(),
    )
    .await;
    assert_eq!(wrong_token.0, StatusCode::FORBIDDEN);
    let (status, batch) = send(
        &fixture,
        request("POST", "/file/batch")
            .header(header::COOKIE, &cookie)
            .header("oms-csrf-token", csrf),
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(batch["batch_id"].as_str().unwrap().len(), 32);

    // The session id also works as an apikey, and logging out ends it everywhere.
    let logout = send(
        &fixture,
        request("POST", "/logout").header("apikey", session_id),
        Body::empty(),
    )
    .await;
    assert_eq!(
        logout,
        (StatusCode::OK, json!({ "response": "Logout success" }))
    );
    let after = send(
        &fixture,
        request("GET", "/file/rules").header(header::COOKIE, &cookie),
        Body::empty(),
    )
    .await;
    assert_eq!(after, (StatusCode::FORBIDDEN, err("Access denied")));
}

#[tokio::test]
async fn version_and_readiness_answer_without_credentials() {
    let fixture = fixture().await;
    let (status, version) = send(&fixture, request("GET", "/version"), Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version["product_id"], "palisade");
    assert_eq!(version.as_object().unwrap().len(), 2);
    assert_eq!(
        send(&fixture, request("GET", "/readyz"), Body::empty()).await,
        (StatusCode::OK, json!({ "status": "ready" }))
    );
}
