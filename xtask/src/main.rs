//! Project tasks: `cargo xtask bench` runs the load generator against a release build and prints figures.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;

mod archive_bench;
mod cdr_bench;
mod clamav_bench;
mod cluster_bench;
mod console_bench;
mod dlp_eval;

const API_KEY: &str = "bench-key-0123456789";

fn api_key() -> String {
    std::env::var("PALISADE_API_KEY").unwrap_or_else(|_| API_KEY.to_string())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bench") => bench(&args[1..]),
        Some("bench-clamav") => clamav_bench::bench(&args[1..]),
        Some("bench-archive") => archive_bench::bench(&args[1..]),
        Some("bench-cluster") => cluster_bench::bench(&args[1..]),
        Some("bench-cdr") => cdr_bench::bench(&args[1..]),
        Some("bench-console") => console_bench::bench(&args[1..]),
        Some("eval-dlp") => dlp_eval::eval(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask bench [--files N] [--seconds S] [--clients N] [--skip-upload] [--url URL]\n       cargo xtask bench-clamav [--files N] [--clients N] [--signatures N]\n       cargo xtask bench-archive [--members N]\n       cargo xtask bench-cluster [--files N] [--clients N]\n       cargo xtask bench-cdr [--reps N]\n       cargo xtask bench-console [--rows N] [--requests N]\n       cargo xtask eval-dlp [--seed N] [--per-kind N] [--keep DIR]"
            );
            bail!("unknown task")
        }
    }
}

struct Options {
    files: usize,
    latency_seconds: u64,
    clients: usize,
    upload: bool,
    /// Run against an already running server (its API key in PALISADE_API_KEY) instead of starting one.
    url: Option<String>,
}

fn options(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        files: 20_000,
        latency_seconds: 10,
        clients: 32,
        upload: true,
        url: None,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--files" => options.files = iter.next().context("--files N")?.parse()?,
            "--seconds" => options.latency_seconds = iter.next().context("--seconds S")?.parse()?,
            "--clients" => options.clients = iter.next().context("--clients N")?.parse()?,
            "--skip-upload" => options.upload = false,
            "--url" => options.url = Some(iter.next().context("--url URL")?.clone()),
            other => bail!("unknown option {other}"),
        }
    }
    Ok(options)
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

struct Server {
    child: Child,
    base: String,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds the release binary and returns its path.
/// The server binary benchmarked: `PALISADE_BINARY` when set (to compare builds side by side),
/// otherwise a fresh release build of this tree.
fn release_binary() -> anyhow::Result<PathBuf> {
    if let Some(binary) = std::env::var_os("PALISADE_BINARY") {
        eprintln!("benchmarking {}", PathBuf::from(&binary).display());
        return Ok(PathBuf::from(binary));
    }
    let root = workspace_root();
    eprintln!("building the release binary ...");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "-p", "palisade"])
        .current_dir(&root)
        .status()?;
    if !status.success() {
        bail!("release build failed");
    }
    Ok(root.join("target/release/palisade"))
}

fn start_server(binary: &PathBuf, config: &str) -> anyhow::Result<Server> {
    start_role(binary, "serve", config)
}

/// Starts `palisade <role>` on a fresh data directory with `config`.
fn start_role(binary: &PathBuf, role: &str, config: &str) -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let mut server = start_in(binary, role, dir.path(), config)?;
    server._dir = Some(dir);
    Ok(server)
}

/// Starts `palisade <role>` on the data directory `dir` (kept by the caller) with `config`.
fn start_in(binary: &PathBuf, role: &str, dir: &Path, config: &str) -> anyhow::Result<Server> {
    use std::io::{BufRead, BufReader};
    let config_path = dir.join("bench.toml");
    std::fs::write(&config_path, config)?;
    let mut child = Command::new(binary)
        .args([role, "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .arg("--config")
        .arg(&config_path)
        .env("PALISADE_API_KEY", API_KEY)
        .env("PALISADE_ADMIN_PASSWORD", "bench-admin")
        .env("PALISADE_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = lines.next().context("server printed nothing")??;
    std::thread::spawn(move || for _ in lines {});
    let base = line
        .strip_prefix("listening on ")
        .context("unexpected first line")?
        .to_string();
    // The batch signing key is generated in the background on first start (seconds of CPU):
    // let it finish so it does not count against the measurements.
    // Scanning nodes sign nothing.
    let deadline = Instant::now() + Duration::from_secs(120);
    while role != "node" && !dir.join("batch-signing-cert.pem").exists() {
        if Instant::now() > deadline {
            bail!("the server did not finish generating its signing key");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Server {
        child,
        base,
        _dir: None,
    })
}

/// User plus system CPU time of a process, in seconds (from /proc).
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    ticks / 100.0
}

fn bench(args: &[String]) -> anyhow::Result<()> {
    let options = options(args)?;
    if let Some(url) = &options.url {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        return runtime.block_on(async {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()?;
            let rate = throughput(&client, url, options.files, options.clients).await?;
            latency(&client, url, rate / 2.0, options.latency_seconds).await
        });
    }
    let binary = release_binary()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let config = "[queue]\nmax_queued = 1000000\n";
        let server = start_server(&binary, config)?;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        let cpu_before = cpu_seconds(server.child.id());
        let rate = throughput(&client, &server.base, options.files, options.clients).await?;
        let cpu = cpu_seconds(server.child.id()) - cpu_before;
        println!(
            "server CPU during the throughput run: {:.2} s, {:.0} µs per file",
            cpu,
            cpu * 1e6 / options.files as f64
        );
        latency(&client, &server.base, rate / 2.0, options.latency_seconds).await?;
        drop(server);
        if options.upload {
            let server = start_server(
                &binary,
                "[[rules]]\nname = \"Default\"\nengines = [\"filetype\"]\n",
            )?;
            upload(&client, &server.base).await?;
        }
        Ok(())
    })
}

async fn submit(client: &reqwest::Client, base: &str, body: Bytes) -> anyhow::Result<String> {
    let response = client
        .post(format!("{base}/file"))
        .header("apikey", api_key())
        .body(body)
        .send()
        .await?;
    if response.status() != 200 {
        bail!("submit answered {}", response.status());
    }
    let json: serde_json::Value = response.json().await?;
    Ok(json["data_id"].as_str().context("data_id")?.to_string())
}

async fn is_final(client: &reqwest::Client, base: &str, data_id: &str) -> anyhow::Result<bool> {
    let json: serde_json::Value = client
        .get(format!("{base}/file/{data_id}"))
        .header("apikey", api_key())
        .send()
        .await?
        .json()
        .await?;
    Ok(json["scan_results"]["progress_percentage"] == 100)
}

fn small_file(index: usize) -> Bytes {
    let mut body = vec![0u8; 4096];
    let tag = format!("palisade bench file {index} ");
    for (i, byte) in body.iter_mut().enumerate() {
        *byte = tag.as_bytes()[i % tag.len()];
    }
    Bytes::from(body)
}

/// Closed loop: `clients` submitters push `files` 4 KiB files; the rate counts files fully analysed.
async fn throughput(
    client: &reqwest::Client,
    base: &str,
    files: usize,
    clients: usize,
) -> anyhow::Result<f64> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let client = client.clone();
        let base = base.to_string();
        let next = next.clone();
        tasks.spawn(async move {
            let mut ids = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= files {
                    return Ok::<_, anyhow::Error>(ids);
                }
                ids.push(submit(&client, &base, small_file(index)).await?);
            }
        });
    }
    let mut ids = Vec::with_capacity(files);
    while let Some(result) = tasks.join_next().await {
        ids.extend(result??);
    }
    let submitted = started.elapsed();
    // Wait for the queue to drain: the newest files finish last.
    for data_id in ids.iter().rev().take(64) {
        while !is_final(client, base, data_id).await? {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let finished = started.elapsed();
    let mut unfinished = 0;
    for data_id in &ids {
        if !is_final(client, base, data_id).await? {
            unfinished += 1;
        }
    }
    let rate = files as f64 / finished.as_secs_f64();
    println!(
        "throughput: {files} files of 4 KiB from {clients} clients: accepted in {:.2} s ({:.0}/s), analysed in {:.2} s => {rate:.0} files/s ({unfinished} not final at the end)",
        submitted.as_secs_f64(),
        files as f64 / submitted.as_secs_f64(),
        finished.as_secs_f64(),
    );
    Ok(rate)
}

/// Open loop at `rate` files/s for `seconds`: the time from submit to a final report, per file.
async fn latency(
    client: &reqwest::Client,
    base: &str,
    rate: f64,
    seconds: u64,
) -> anyhow::Result<()> {
    let total = (rate * seconds as f64) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for index in 0..total {
        let due = started + interval.mul_f64(index as f64);
        tokio::time::sleep_until(due.into()).await;
        let client = client.clone();
        let base = base.to_string();
        tasks.spawn(async move {
            let submitted = Instant::now();
            let data_id = submit(&client, &base, small_file(1_000_000 + index)).await?;
            // Every tenth file is timed, so that the polling itself adds little load.
            if index % 10 != 0 {
                return Ok::<_, anyhow::Error>(None);
            }
            loop {
                if is_final(&client, &base, &data_id).await? {
                    return Ok(Some(submitted.elapsed()));
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
    }
    let mut samples = Vec::with_capacity(total);
    while let Some(result) = tasks.join_next().await {
        if let Some(sample) = result?? {
            samples.push(sample);
        }
    }
    samples.sort();
    let percentile = |p: f64| {
        let index = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[index].as_secs_f64() * 1000.0
    };
    println!(
        "latency at {rate:.0} files/s for {seconds} s ({total} files, {} timed by polling every 2 ms): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        samples.len(),
        percentile(0.50),
        percentile(0.99),
        percentile(1.0)
    );
    Ok(())
}

/// A 1 GiB streamed upload against the rate of hashing the same bytes with all four digests in one pass.
async fn upload(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    const CHUNK: usize = 1 << 20;
    const CHUNKS: usize = 1024;
    let chunk = Bytes::from(
        (0..CHUNK)
            .map(|i| (i * 31 % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    let reference = {
        let chunk = chunk.clone();
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let mut hashers = palisade_blobstore::Hashers::new();
            for _ in 0..CHUNKS {
                hashers.update(&chunk);
            }
            let _ = hashers.finish();
            started.elapsed()
        })
        .await?
    };
    let body = futures_util::stream::iter(
        (0..CHUNKS).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    );
    let started = Instant::now();
    let response = client
        .post(format!("{base}/file"))
        .header("apikey", API_KEY)
        .header(
            reqwest::header::CONTENT_LENGTH,
            (CHUNK * CHUNKS).to_string(),
        )
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await?;
    if response.status() != 200 {
        bail!("upload answered {}", response.status());
    }
    let elapsed = started.elapsed();
    let mib = (CHUNK * CHUNKS) as f64 / (1024.0 * 1024.0);
    let hash_rate = mib / reference.as_secs_f64();
    let ingest_rate = mib / elapsed.as_secs_f64();
    println!(
        "1 GiB upload: ingested at {ingest_rate:.0} MiB/s; md5+sha1+sha256+sha512 in one pass: {hash_rate:.0} MiB/s; ratio {:.2}",
        ingest_rate / hash_rate
    );
    Ok(())
}

#[cfg(test)]
mod architecture {
    //! Dependency direction between the workspace crates (see ARCHITECTURE.md).

    use std::collections::BTreeSet;

    fn dependencies(crate_dir: &str) -> BTreeSet<String> {
        let path = super::workspace_root()
            .join("crates")
            .join(crate_dir)
            .join("Cargo.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let manifest: toml::Table = toml::from_str(&text).unwrap();
        manifest
            .get("dependencies")
            .and_then(|d| d.as_table())
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn internal(deps: &BTreeSet<String>) -> BTreeSet<String> {
        deps.iter()
            .filter_map(|d| d.strip_prefix("palisade-").map(str::to_string))
            .collect()
    }

    #[test]
    fn crates_depend_only_on_the_layers_below_them() {
        let allowed: &[(&str, &[&str])] = &[
            ("model", &[]),
            ("blobstore", &["model"]),
            ("metastore", &["model"]),
            ("pipeline", &["model"]),
            // Type identification asks extraction which containers it opens.
            ("engine-filetype", &["model", "pipeline", "extract"]),
            ("engine-yara", &["model", "pipeline"]),
            ("engine-clamav", &["model", "pipeline"]),
            ("engine-icap", &["model", "pipeline"]),
            ("engine-command", &["model", "pipeline"]),
            ("engine-hashlist", &["model", "pipeline"]),
            ("engine-cdr", &["model", "pipeline"]),
            // DLP asks extraction whether text is an e-mail message.
            ("engine-dlp", &["model", "pipeline", "extract"]),
            ("isolate", &["model", "pipeline", "extract"]),
            ("extract", &[]),
            (
                "service",
                &[
                    "model",
                    "metastore",
                    "blobstore",
                    "pipeline",
                    "engine-filetype",
                    "extract",
                ],
            ),
            (
                "worker",
                &[
                    "model",
                    "metastore",
                    "blobstore",
                    "pipeline",
                    "service",
                    "extract",
                    "engine-filetype",
                ],
            ),
            ("api", &["model", "metastore", "service"]),
        ];
        for (crate_dir, permitted) in allowed {
            let used = internal(&dependencies(crate_dir));
            let permitted: BTreeSet<String> = permitted.iter().map(|s| s.to_string()).collect();
            let extra: Vec<_> = used.difference(&permitted).collect();
            assert!(extra.is_empty(), "{crate_dir} must not depend on {extra:?}");
        }
    }

    #[test]
    fn frameworks_stay_in_their_crates() {
        let dirs = [
            "model",
            "blobstore",
            "metastore",
            "pipeline",
            "engine-filetype",
            "engine-yara",
            "engine-clamav",
            "engine-icap",
            "engine-command",
            "engine-hashlist",
            "engine-cdr",
            "engine-dlp",
            "isolate",
            "extract",
            "service",
            "worker",
            "api",
            "palisade",
        ];
        let owners: &[(&str, &[&str])] = &[
            ("axum", &["api"]),
            ("sqlx", &["metastore"]),
            ("yara-x", &["engine-yara"]),
            ("lopdf", &["engine-cdr", "engine-dlp", "extract"]),
            ("quick-xml", &["engine-cdr", "engine-dlp"]),
            ("image", &["engine-cdr"]),
            ("cfb", &["engine-cdr", "engine-dlp", "extract"]),
            ("mail-parser", &["engine-dlp", "extract"]),
            ("ammonia", &["engine-cdr"]),
            ("html5ever", &["engine-cdr"]),
            ("clap", &["palisade"]),
            ("prometheus-client", &["service"]),
            ("utoipa", &["model", "api"]),
            ("utoipa-axum", &["api"]),
            ("askama", &["api"]),
        ];
        for (framework, owners) in owners {
            for dir in dirs {
                if dependencies(dir).contains(*framework) {
                    assert!(owners.contains(&dir), "{dir} must not use {framework}");
                }
            }
        }
        for pure in [
            "model",
            "pipeline",
            "engine-filetype",
            "engine-yara",
            "engine-clamav",
            "engine-icap",
            "engine-command",
            "engine-hashlist",
            "engine-cdr",
            "engine-dlp",
            "isolate",
            "extract",
        ] {
            assert!(
                !dependencies(pure).contains("tokio"),
                "{pure} is pure core and must not use tokio"
            );
        }
    }

    /// Children are started in known places only: parser processes for engines in
    /// `crates/isolate`, the scanner program of the command-line engine, the archive helpers
    /// (`unar`, `7zz`) of extraction, and
    /// test services and the DLP test documents in test-support. Any other engine that wants a child goes through
    /// `palisade_isolate`.
    #[test]
    fn only_known_modules_start_child_processes() {
        let allowed = [
            "crates/isolate/src/lib.rs",
            "crates/engine-command/src/lib.rs",
            "crates/extract/src/tools.rs",
            "crates/extract/src/sevenzz.rs",
            "crates/test-support/src/lib.rs",
            "crates/test-support/src/services.rs",
            "crates/test-support/src/dlp.rs",
            "crates/test-support/src/metrics.rs",
            "crates/test-support/src/openapi.rs",
            "crates/test-support/src/schemathesis.rs",
            "crates/test-support/src/console.rs",
        ];
        let root = crate::workspace_root();
        let mut starters = Vec::new();
        for crate_dir in std::fs::read_dir(root.join("crates")).unwrap() {
            let src = crate_dir.unwrap().path().join("src");
            let mut stack = vec![src];
            while let Some(dir) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries {
                    let path = entry.unwrap().path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if path.extension().is_some_and(|e| e == "rs") {
                        let text = std::fs::read_to_string(&path).unwrap();
                        if text.contains("Command::new") || text.contains("process::Command") {
                            let relative = path.strip_prefix(&root).unwrap();
                            starters.push(relative.display().to_string());
                        }
                    }
                }
            }
        }
        starters.sort();
        assert!(
            starters.contains(&"crates/isolate/src/lib.rs".to_string()),
            "the scan found the parser pool: {starters:?}"
        );
        for starter in &starters {
            assert!(
                allowed.contains(&starter.as_str()),
                "{starter} starts a child process: engines isolate through crates/isolate"
            );
        }
    }

    /// The pipeline decides (plans, verdicts, reports) and does no I/O: no files, sockets,
    /// processes, clocks or threads. Its tests build inputs in memory.
    #[test]
    fn the_pipeline_does_no_io() {
        let forbidden = [
            "std::fs",
            "std::net",
            "std::process",
            "std::thread",
            "std::time::SystemTime",
            "std::time::Instant",
            "File::",
            "OpenOptions",
            "DirBuilder",
        ];
        let dir = crate::workspace_root().join("crates/pipeline/src");
        let mut sources = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                sources.push(path);
            }
        }
        assert!(sources.len() >= 3, "pipeline sources found: {sources:?}");
        for path in sources {
            let text = std::fs::read_to_string(&path).unwrap();
            for word in forbidden {
                assert!(
                    !text.contains(word),
                    "{} uses {word}: the pipeline must stay free of I/O",
                    path.display()
                );
            }
        }
    }
}
