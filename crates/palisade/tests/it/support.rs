//! Starting and stopping real servers, and small HTTP helpers.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const API_KEY: &str = "test-admin-key-0123456789";
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

pub use palisade_test_support::eicar;

/// A running `palisade` process with its own data directory.
pub struct Server {
    child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    pub client: reqwest::Client,
    /// The server's own pid when `child` is a tracer around it (killed first: a killed tracer
    /// leaves its tracee running).
    tracee: Option<u32>,
}

impl Server {
    /// `palisade serve` on a fresh data directory with `config` as its configuration file.
    pub fn start(config: &str) -> Server {
        let temp = tempfile::tempdir().unwrap();
        let data_dir = temp.path().to_path_buf();
        let mut server = Self::launch("serve", &data_dir, config);
        server._temp = Some(temp);
        server
    }

    /// `palisade gateway` (no workers): files stay queued.
    pub fn start_gateway(config: &str) -> Server {
        let temp = tempfile::tempdir().unwrap();
        let data_dir = temp.path().to_path_buf();
        let mut server = Self::launch("gateway", &data_dir, config);
        server._temp = Some(temp);
        server
    }

    /// `palisade serve` on a fresh data directory with `assignments` (`NAME=value`) added to its
    /// environment (the parser-process tests set the archive fault this way).
    #[cfg(feature = "fault-engines")]
    pub fn start_with_env(config: &str, assignments: &[&str]) -> Server {
        let temp = tempfile::tempdir().unwrap();
        let data_dir = temp.path().to_path_buf();
        let mut wrapper = vec!["env"];
        wrapper.extend_from_slice(assignments);
        let mut server = Self::launch_with("serve", &data_dir, config, &wrapper);
        server._temp = Some(temp);
        server
    }

    /// `palisade serve` on a fresh data directory, with at most `open_files` file descriptors.
    pub fn start_with_open_files(config: &str, open_files: u32) -> Server {
        let temp = tempfile::tempdir().unwrap();
        let data_dir = temp.path().to_path_buf();
        let limit = format!("--nofile={open_files}:{open_files}");
        let mut server = Self::launch_with("serve", &data_dir, config, &["prlimit", &limit, "--"]);
        server._temp = Some(temp);
        server
    }

    /// `palisade serve` on a fresh data directory, run under `strace -f` with the system calls
    /// `syscalls` (a comma-separated list) written to `trace`, each with its file descriptors'
    /// paths and up to 512 bytes of the data it passes.
    pub fn start_traced(config: &str, syscalls: &str, trace: &Path) -> Server {
        let temp = tempfile::tempdir().unwrap();
        let data_dir = temp.path().to_path_buf();
        let filter = format!("trace={syscalls}");
        let output = trace.to_str().unwrap();
        let wrapper = [
            "strace",
            "-f",
            "-y",
            "-qq",
            "-s",
            "512",
            "-e",
            "signal=none",
            "-e",
            &filter,
            "-o",
            output,
        ];
        let mut server = Self::launch_with("serve", &data_dir, config, &wrapper);
        server._temp = Some(temp);
        let strace = server.child.id();
        let children = std::fs::read_to_string(format!("/proc/{strace}/task/{strace}/children"))
            .unwrap_or_default();
        server.tracee = children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok());
        assert!(server.tracee.is_some(), "strace runs palisade as its child");
        server
    }

    /// Starts `role` on an existing data directory (kept by the caller).
    pub fn launch(role: &str, data_dir: &Path, config: &str) -> Server {
        Self::launch_with(role, data_dir, config, &[])
    }

    /// Like [`Server::launch`], with more arguments after the role's own.
    pub fn launch_args(role: &str, data_dir: &Path, config: &str, args: &[&str]) -> Server {
        Self::launch_full(role, data_dir, config, &[], args)
    }

    /// Like [`Server::launch`], with the binary run through `wrapper` (a program and its
    /// arguments, the binary's command line after them).
    fn launch_with(role: &str, data_dir: &Path, config: &str, wrapper: &[&str]) -> Server {
        Self::launch_full(role, data_dir, config, wrapper, &[])
    }

    fn launch_full(
        role: &str,
        data_dir: &Path,
        config: &str,
        wrapper: &[&str],
        args: &[&str],
    ) -> Server {
        let config_path = data_dir.join("test-config.toml");
        // A clamd that the machine happens to run must not join the engines tests expect.
        let config = if config.contains("[autodetect]") {
            config.to_string()
        } else {
            format!("{config}\n[autodetect]\nclamd = false\n")
        };
        std::fs::write(&config_path, config).unwrap();
        let binary = env!("CARGO_BIN_EXE_palisade");
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        let mut child = command
            .arg(role)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--config")
            .arg(&config_path)
            .args(args)
            .env("PALISADE_API_KEY", API_KEY)
            .env("PALISADE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("PALISADE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("palisade binary starts");
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = sender.send(line);
            }
            for _ in lines {}
        });
        let line = receiver
            .recv_timeout(Duration::from_secs(60))
            .expect("server prints its address");
        let base = line
            .strip_prefix("listening on ")
            .expect("listening line")
            .to_string();
        Server {
            child,
            base,
            data_dir: data_dir.to_path_buf(),
            _temp: None,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
            tracee: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits for the process to exit on its own (at most `limit`).
    pub fn terminate(&mut self, limit: Duration) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).header("apikey", API_KEY)
    }

    /// GET with the admin key, expecting 200 and JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// Logs in (expecting success) and returns the session id.
    pub async fn login(&self, user: &str, password: &str) -> String {
        let response = self
            .client
            .post(self.url("/login"))
            .json(&serde_json::json!({"user": user, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "login of {user}");
        let body: Value = response.json().await.unwrap();
        body["session_id"].as_str().unwrap().to_string()
    }

    /// `POST /file` written by hand, for requests a normal client will not send
    /// (no Content-Length, chunked): `headers` are extra `Name: value\r\n` lines, then the body.
    pub fn raw_upload(&self, headers: &str, body: &str) -> (u16, String) {
        let host = self.base.trim_start_matches("http://");
        raw_request(
            &self.base,
            &format!(
                "POST /file HTTP/1.1\r\nHost: {host}\r\napikey: {API_KEY}\r\n{headers}Connection: close\r\n\r\n{body}"
            ),
        )
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path)).header("apikey", API_KEY)
    }

    /// Submits `bytes` and returns the data id.
    pub async fn submit(&self, name: &str, bytes: Vec<u8>) -> String {
        self.submit_with(self.post("/file").header("filename", name), bytes)
            .await
    }

    pub async fn submit_with(&self, request: reqwest::RequestBuilder, bytes: Vec<u8>) -> String {
        let response = request.body(bytes).send().await.unwrap();
        assert_eq!(response.status(), 200, "submit failed");
        let body: Value = response.json().await.unwrap();
        body["data_id"].as_str().unwrap().to_string()
    }

    /// `POST /file` of `count` copies of `chunk`, streamed with its Content-Length, so the test
    /// never holds the file in memory either.
    pub async fn upload_repeated(
        &self,
        name: &str,
        chunk: bytes::Bytes,
        count: usize,
    ) -> reqwest::Response {
        let length = chunk.len() * count;
        let body = futures_util::stream::iter(
            (0..count).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
        );
        self.post("/file")
            .header("filename", name)
            .header(reqwest::header::CONTENT_LENGTH, length.to_string())
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
            .unwrap()
    }

    /// What `/file/{route}/{data_id}` (`converted` or `download`) serves: the copy's bytes, or
    /// `None` for 404.
    pub async fn output(&self, route: &str, data_id: &str) -> Option<Vec<u8>> {
        let response = self
            .get(&format!("/file/{route}/{data_id}"))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => Some(response.bytes().await.unwrap().to_vec()),
            404 => None,
            other => panic!("/file/{route} answered {other}"),
        }
    }

    pub async fn report(&self, data_id: &str) -> Value {
        let response = self.get(&format!("/file/{data_id}")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Polls until the report is final (both progress fields 100). Every report it sees must fit
    /// the published shape, as typed clients parse it.
    pub async fn wait_final(&self, data_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let report = self.report(data_id).await;
            crate::schema::assert_fits(&report, &crate::schema::file_report(), data_id);
            if report["scan_results"]["progress_percentage"] == 100 {
                assert_eq!(report["process_info"]["progress_percentage"], 100);
                return report;
            }
            assert!(Instant::now() < deadline, "no final report for {data_id}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(pid) = self.tracee {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `palisade serve` on `data_dir` with `config`, expecting it to refuse to start: returns
/// what it printed on standard error.
pub fn start_refused(data_dir: &Path, config: &str) -> String {
    start_refused_with(data_dir, config, &[])
}

/// Like [`start_refused`], with more arguments for `palisade serve`.
pub fn start_refused_with(data_dir: &Path, config: &str, args: &[&str]) -> String {
    let config_path = data_dir.join("refused-config.toml");
    std::fs::write(
        &config_path,
        format!("{config}\n[autodetect]\nclamd = false\n"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .arg("--config")
        .arg(&config_path)
        .args(args)
        .env("PALISADE_API_KEY", API_KEY)
        .env("PALISADE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success(), "the start was expected to fail");
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            return stderr;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("palisade started although it should have refused to");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Peak and current resident set size of a process, in KiB (VmHWM, VmRSS).
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// The peak resident set sizes (VmHWM, KiB) of the living children of `pid` (its parser
/// processes).
pub fn children_peaks_kib(pid: u32) -> Vec<u64> {
    let mut peaks = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After the command name (in parentheses): state, then the parent's pid.
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if parent == Some(pid)
            && let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>()
            && std::fs::metadata(format!("/proc/{child}/status")).is_ok()
        {
            peaks.push(memory_kib(child).0);
        }
    }
    peaks
}

/// Sends a raw HTTP/1.1 request and returns (status, body).
pub fn raw_request(base: &str, request: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                response.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&response);
                if let Some(split) = text.find("\r\n\r\n") {
                    let head = &text[..split];
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if response.len() >= split + 4 + length {
                        break;
                    }
                }
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Number of stored blobs under the data directory.
pub fn blob_count(data_dir: &Path) -> usize {
    fn walk(path: &Path) -> usize {
        let Ok(entries) = std::fs::read_dir(path) else {
            return 0;
        };
        entries
            .flatten()
            .map(|e| {
                if e.file_type().unwrap().is_dir() {
                    walk(&e.path())
                } else {
                    1
                }
            })
            .sum()
    }
    walk(&data_dir.join("blobs").join("blobs"))
}
