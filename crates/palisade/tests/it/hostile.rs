//! Hostile clients: connections that never finish a request, trickled bodies, floods of
//! half-open connections, and requests too large or malformed for the parser.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{API_KEY, Server, blob_count, raw_request};

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection; returns what it sent and how long that took.
fn read_until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let start = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
    (
        String::from_utf8_lossy(&received).into_owned(),
        start.elapsed(),
    )
}

#[tokio::test]
async fn silent_and_half_sent_requests_are_closed_at_the_header_timeout() {
    let server = Server::start("[http]\nheader_timeout_seconds = 1\nidle_timeout_seconds = 2\n");
    let mut silent = connect(&server);
    let mut half = connect(&server);
    half.write_all(b"POST /file HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let (_, waited) = read_until_closed(&mut silent);
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(3),
        "a silent connection was closed after {waited:?}"
    );
    let (_, waited) = read_until_closed(&mut half);
    assert!(
        waited < Duration::from_secs(3),
        "half a request head: {waited:?}"
    );

    // A keep-alive connection is served, then closed after the idle timeout.
    let mut kept = connect(&server);
    kept.write_all(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (answer, waited) = read_until_closed(&mut kept);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        waited >= Duration::from_millis(1800) && waited < Duration::from_secs(5),
        "an idle keep-alive connection was closed after {waited:?}"
    );
}

#[tokio::test]
async fn a_trickled_upload_is_cut_off_and_nothing_is_stored() {
    let server = Server::start(
        "[http]\nbody_grace_seconds = 1\nbody_min_bytes_per_second = 1024\nbody_idle_seconds = 5\n",
    );
    let mut stream = connect(&server);
    stream
        .write_all(
            format!(
                "POST /file HTTP/1.1\r\nHost: x\r\napikey: {API_KEY}\r\nfilename: slow.bin\r\n\
                 Content-Length: 100\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
    let start = Instant::now();
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..100 {
                if stream.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let (answer, _) = read_until_closed(&mut stream);
    let waited = start.elapsed();
    assert!(waited < Duration::from_secs(5), "cut off after {waited:?}");
    assert!(!answer.contains("data_id"), "{answer}");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let body = answer.split_once("\r\n\r\n").unwrap().1;
    let body: Value = serde_json::from_str(body).unwrap();
    assert!(body["err"].as_str().unwrap().contains("stalled"), "{body}");
    let _ = writer.join();
    assert_eq!(blob_count(&server.data_dir), 0, "nothing is stored");

    // A normal upload on the same server is unaffected.
    let id = server.submit("fast.bin", vec![b'y'; 200_000]).await;
    server.wait_final(&id).await;
}

/// The status and parsed JSON body of a raw request.
fn send_raw(server: &Server, request: &[u8]) -> (u16, Value) {
    let mut stream = connect(server);
    let _ = stream.write_all(request);
    let (answer, _) = read_until_closed(&mut stream);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let head = answer.split("\r\n\r\n").next().unwrap_or_default();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let body = serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON body: {answer}"));
    (status, body)
}

#[tokio::test]
async fn oversize_and_malformed_requests_get_json_errors() {
    let server = Server::start("");
    let host = server.base.trim_start_matches("http://").to_string();

    let big_login = vec![b'x'; 3 << 20];
    let response = server
        .client
        .post(server.url("/login"))
        .body(big_login)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    // The body was not read, so the connection is not offered for reuse.
    assert_eq!(response.headers()["connection"], "close");
    assert!(response.json::<Value>().await.unwrap()["err"].is_string());

    let long_url = format!(
        "GET /file/{} HTTP/1.1\r\nHost: {host}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let (status, body) = send_raw(&server, long_url.as_bytes());
    assert_eq!(status, 414, "{body}");
    assert!(body["err"].is_string());

    let many: String = (0..600).map(|i| format!("x-h{i}: v\r\n")).collect();
    let (status, body) = send_raw(
        &server,
        format!("GET /version HTTP/1.1\r\nHost: {host}\r\n{many}\r\n").as_bytes(),
    );
    assert_eq!(status, 431, "{body}");
    assert!(body["err"].as_str().unwrap().contains("headers"));

    for head in [
        "POST /file HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\nxyz".to_string(),
        "POST /file HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nxyz"
            .to_string(),
        "GET /version HTTP/1.1\r\nHost: h\r\nx-bad: a\0b\r\n\r\n".to_string(),
        "GET /version HTTP/1.1\r\nHost: h\r\nx-bad: a\rb\r\n\r\n".to_string(),
    ] {
        let (status, body) = send_raw(&server, head.as_bytes());
        assert_eq!(status, 400, "{head:?}: {body}");
        assert!(body["err"].is_string());
    }

    // The incumbent's clients send many archivepwdN headers: 96 of them are fine.
    let mut request = server.post("/file").header("filename", "p.txt");
    for n in 1..=96 {
        request = request.header(format!("archivepwd{n}"), format!("guess{n}"));
    }
    let id = server
        .submit_with(request, b"many passwords".to_vec())
        .await;
    server.wait_final(&id).await;
}

#[tokio::test]
async fn a_flood_of_half_open_connections_leaves_other_clients_served() {
    let server = Server::start_with_open_files("", 256);
    let address = server.base.trim_start_matches("http://").to_string();
    // 300 connections that each send half a request head, and hold on.
    let mut flood = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(&address).unwrap();
        let _ = stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\n");
        flood.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let start = Instant::now();
        let (status, body) = raw_request(
            &server.base,
            &format!("GET /version HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"),
        );
        slowest = slowest.max(start.elapsed());
        assert_eq!(status, 200, "{body}");
    }
    assert!(
        slowest < Duration::from_millis(100),
        "the slowest request took {slowest:?}"
    );
    // Uploads still work too (they need file descriptors for storage).
    let id = server
        .submit("during-flood.txt", b"still served".to_vec())
        .await;
    let report = server.wait_final(&id).await;
    assert_eq!(report["scan_results"]["scan_all_result_i"], 0);
    drop(flood);
}

#[tokio::test]
async fn a_burst_of_uploads_never_overruns_the_queue_limit() {
    let data = tempfile::tempdir().unwrap();
    let config = "[queue]\nmax_queued = 50\n";
    // A gateway has no workers, so nothing leaves the queue during the burst.
    let gateway = Server::launch("gateway", data.path(), config);
    let mut uploads = tokio::task::JoinSet::new();
    for n in 0..1000 {
        let request = gateway
            .post("/file")
            .header("filename", format!("burst-{n}.txt"))
            .body(format!("burst file {n}"));
        uploads.spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, body)
        });
    }
    let mut accepted = Vec::new();
    for (status, body) in uploads.join_all().await {
        match status {
            200 => accepted.push(body["data_id"].as_str().unwrap().to_string()),
            503 => assert_eq!(body["err"], "Server is too busy. Try again later."),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(accepted.len(), 50, "exactly the queue limit is admitted");

    // Every accepted file reaches a final report once a node works the queue.
    let node = Server::launch("node", data.path(), config);
    for id in &accepted {
        let report = gateway.wait_final(id).await;
        assert_eq!(report["scan_results"]["scan_all_result_i"], 0);
    }
    drop(node);
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.push(path.clone());
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[tokio::test]
async fn everything_palisade_creates_is_private_and_scratch_is_swept_at_start() {
    let data = tempfile::tempdir().unwrap();
    // What a scan killed mid-way left behind.
    let leftover = data.path().join("work-serve/scan-left-behind");
    std::fs::create_dir_all(&leftover).unwrap();
    std::fs::write(leftover.join("copy.bin"), b"stale copy").unwrap();
    let config = "[[engines]]\nkind = \"command\"\nid = \"slow\"\nname = \"Slow\"\n\
                  command = [\"sh\", \"-c\", \"sleep 1\", \"{path}\"]\n";
    let server = Server::launch("serve", data.path(), config);
    assert!(
        !leftover.exists(),
        "scratch left by a dead process is swept"
    );

    let id = server
        .submit("private.txt", b"for my eyes only".to_vec())
        .await;
    // While the scanner runs, its copy is in the data directory's private scratch.
    let deadline = Instant::now() + Duration::from_secs(10);
    let copy = loop {
        let copies: Vec<_> = files_under(&data.path().join("work-serve"))
            .into_iter()
            .filter(|p| p.is_file())
            .collect();
        if let Some(copy) = copies.first() {
            break copy.clone();
        }
        assert!(Instant::now() < deadline, "no scratch copy seen");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(mode(&copy), 0o600, "{}", copy.display());
    assert_eq!(mode(copy.parent().unwrap()), 0o700);
    server.wait_final(&id).await;

    for path in files_under(data.path()) {
        let expected = if path.is_dir() { 0o700 } else { 0o600 };
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name == "test-config.toml" {
            continue; // written by the test
        }
        assert_eq!(mode(&path), expected, "{}", path.display());
    }
}

#[tokio::test]
async fn a_data_directory_open_to_others_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().unwrap();
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = data.path().join("c.toml");
    std::fs::write(&config, "[autodetect]\nclamd = false\n").unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .arg("--config")
        .arg(&config)
        .env("PALISADE_LOG", "warn")
        .env("PALISADE_ADMIN_PASSWORD", "x")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert!(line.starts_with("listening on"), "{line}");
    let _ = child.kill();
    let _ = child.wait();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("chmod 700"), "{stderr}");
}
