//! `cargo xtask bench-clamav`: the same corpus through clamd alone (INSTREAM on one session per
//! client) and through a ClamAV-only rule in Palisade, and the ratio of the two throughputs.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use palisade_test_support::{BODY_MARKER, Clamd};

struct Options {
    files: usize,
    clients: usize,
    signatures: usize,
}

fn options(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        files: 2_000,
        clients: 8,
        signatures: 50_000,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--files" => options.files = iter.next().context("--files N")?.parse()?,
            "--clients" => options.clients = iter.next().context("--clients N")?.parse()?,
            "--signatures" => {
                options.signatures = iter.next().context("--signatures N")?.parse()?
            }
            other => bail!("unknown option {other}"),
        }
    }
    Ok(options)
}

/// A small deterministic generator, so every run scans the same bytes.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `count` body signatures of 20 random bytes each: the pattern matcher does real work per
/// byte, as with a production database (whose hash signatures cost a lookup per file).
fn signature_database(count: usize) -> String {
    let mut rng = XorShift(0x5eed_1234_abcd_ef01);
    let mut text = String::with_capacity(count * 64);
    for index in 0..count {
        let hex: String = (0..20)
            .map(|_| format!("{:02x}", rng.next() as u8))
            .collect();
        text.push_str(&format!("Bench.Sig{index}:0:*:{hex}\n"));
    }
    text
}

/// The corpus: Debian's ClamAV test files plus generated files from 4 KiB to 1 MiB (text-like
/// and binary), one in ten carrying the test body signature.
fn corpus(files: usize) -> Vec<Bytes> {
    let mut list: Vec<Bytes> = std::fs::read_dir("/usr/share/clamav-testfiles")
        .map(|dir| {
            let mut paths: Vec<_> = dir.flatten().map(|e| e.path()).collect();
            paths.sort();
            paths
                .iter()
                .filter_map(|p| std::fs::read(p).ok())
                .map(Bytes::from)
                .collect()
        })
        .unwrap_or_default();
    let sizes = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20];
    let mut rng = XorShift(42);
    let mut index = 0;
    while list.len() < files {
        let size = sizes[index % sizes.len()];
        let mut body: Vec<u8> = if index % 2 == 0 {
            let words = ["invoice ", "total ", "payment ", "account ", "report\n"];
            words
                .iter()
                .cycle()
                .skip((rng.next() % 5) as usize)
                .flat_map(|w| w.bytes())
                .take(size)
                .collect()
        } else {
            (0..size).map(|_| rng.next() as u8).collect()
        };
        if index % 10 == 0 {
            let at = body.len() / 2;
            body[at..at + BODY_MARKER.len()].copy_from_slice(BODY_MARKER);
        }
        list.push(Bytes::from(body));
        index += 1;
    }
    list.truncate(files);
    list
}

/// Scans every file with clamd directly, `clients` sessions in parallel; returns (files/s, detections).
fn clamd_alone(
    socket: &Path,
    corpus: &Arc<Vec<Bytes>>,
    clients: usize,
) -> anyhow::Result<(f64, usize)> {
    let next = Arc::new(AtomicUsize::new(0));
    let detections = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (corpus, next, detections) = (corpus.clone(), next.clone(), detections.clone());
            let socket = socket.to_path_buf();
            std::thread::spawn(move || -> anyhow::Result<()> {
                let mut stream = UnixStream::connect(&socket)?;
                stream.write_all(b"zIDSESSION\0")?;
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = corpus.get(index) else {
                        return Ok(());
                    };
                    stream.write_all(b"zINSTREAM\0")?;
                    for chunk in file.chunks(64 * 1024) {
                        stream.write_all(&(chunk.len() as u32).to_be_bytes())?;
                        stream.write_all(chunk)?;
                    }
                    stream.write_all(&0u32.to_be_bytes())?;
                    let mut reply = Vec::new();
                    let mut byte = [0u8; 256];
                    while !reply.contains(&0) {
                        let n = stream.read(&mut byte)?;
                        if n == 0 {
                            bail!("clamd closed the session");
                        }
                        reply.extend_from_slice(&byte[..n]);
                    }
                    let text = String::from_utf8_lossy(&reply);
                    if text.contains("FOUND") {
                        detections.fetch_add(1, Ordering::Relaxed);
                    } else if !text.contains("OK") {
                        bail!("clamd answered {text}");
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("client panicked"))??;
    }
    let rate = corpus.len() as f64 / started.elapsed().as_secs_f64();
    Ok((rate, detections.load(Ordering::Relaxed)))
}

/// Submits every file through the ClamAV-only rule from `clients` closed-loop submitters, then
/// reads every report; returns (files/s until the last report was final, detections).
async fn through_palisade(
    client: &reqwest::Client,
    base: &str,
    corpus: &Arc<Vec<Bytes>>,
    clients: usize,
) -> anyhow::Result<(f64, usize)> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (client, base, corpus, next) = (
            client.clone(),
            base.to_string(),
            corpus.clone(),
            next.clone(),
        );
        tasks.spawn(async move {
            let mut ids = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(file) = corpus.get(index) else {
                    return Ok::<_, anyhow::Error>(ids);
                };
                let response = client
                    .post(format!("{base}/file"))
                    .header("apikey", crate::api_key())
                    .header("rule", "ClamAV only")
                    .body(file.clone())
                    .send()
                    .await?;
                if response.status() != 200 {
                    bail!("submit answered {}", response.status());
                }
                let json: serde_json::Value = response.json().await?;
                ids.push(json["data_id"].as_str().context("data_id")?.to_string());
            }
        });
    }
    let mut ids = Vec::with_capacity(corpus.len());
    while let Some(result) = tasks.join_next().await {
        ids.extend(result??);
    }
    let mut detections = 0;
    for data_id in &ids {
        loop {
            let report: serde_json::Value = client
                .get(format!("{base}/file/{data_id}"))
                .header("apikey", crate::api_key())
                .send()
                .await?
                .json()
                .await?;
            if report["scan_results"]["progress_percentage"] == 100 {
                match report["scan_results"]["scan_details"]["ClamAV"]["scan_result_i"].as_i64() {
                    Some(1) => detections += 1,
                    Some(0) => {}
                    other => bail!("unexpected ClamAV result {other:?}: {report}"),
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let rate = corpus.len() as f64 / started.elapsed().as_secs_f64();
    Ok((rate, detections))
}

/// Restricts every thread of a process to the given CPUs (`taskset`, from util-linux).
fn pin(pid: u32, cpus: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .context("taskset (util-linux) is needed")?;
    if !status.success() {
        bail!("taskset failed for {pid}");
    }
    Ok(())
}

/// Where the processes run for one measurement.
#[derive(Clone, Copy)]
enum Placement {
    /// Everything shares every core: Palisade's own work competes with clamd for CPU.
    Shared,
    /// clamd on CPU 0; Palisade and the load generator on CPU 1, as when the engine has its own
    /// cores or machine.
    EngineOwnCore,
}

pub fn bench(args: &[String]) -> anyhow::Result<()> {
    let options = options(args)?;
    let binary = crate::release_binary()?;
    eprintln!(
        "starting clamd with {} generated body signatures ...",
        options.signatures
    );
    let database = signature_database(options.signatures);
    let clamd = Clamd::start_with_databases(
        // No result cache: each pass must really scan, or the second would only look up hashes.
        "MaxThreads 16\nDisableCache yes\n",
        &[("bench.ndb", &database)],
    );
    let corpus = Arc::new(corpus(options.files));
    let bytes: usize = corpus.iter().map(Bytes::len).sum();
    println!(
        "corpus: {} files, {:.1} MiB (ClamAV test files plus generated 4 KiB - 1 MiB files), {} clients",
        corpus.len(),
        bytes as f64 / (1 << 20) as f64,
        options.clients
    );
    let config = format!(
        "[yara]\nenabled = false\n[autodetect]\nclamd = false\n\
         [[engines]]\nkind = \"clamav\"\naddress = \"{}\"\n\
         [[rules]]\nname = \"ClamAV only\"\nengines = [\"clamav\"]\n",
        clamd.socket().display()
    );
    let server = crate::start_server(&binary, &config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let per_file = |cpu: f64| cpu * 1e3 / corpus.len() as f64;
    let warm = Arc::new(corpus[..corpus.len().min(50)].to_vec());
    // Warm up both paths (first scans fill caches, the server opens its connections).
    clamd_alone(&clamd.socket(), &warm, 2)?;
    runtime.block_on(through_palisade(&client, &server.base, &warm, 2))?;

    for placement in [Placement::Shared, Placement::EngineOwnCore] {
        let me = std::process::id();
        match placement {
            Placement::Shared => {
                println!("-- all processes share both cores");
                for pid in [clamd.pid(), server.child.id(), me] {
                    pin(pid, "0,1")?;
                }
            }
            Placement::EngineOwnCore => {
                println!("-- clamd on CPU 0; Palisade and the load generator on CPU 1");
                pin(clamd.pid(), "0")?;
                pin(server.child.id(), "1")?;
                pin(me, "1")?;
            }
        }
        let clamd_cpu = crate::cpu_seconds(clamd.pid());
        let (alone, alone_found) = clamd_alone(&clamd.socket(), &corpus, options.clients)?;
        println!(
            "clamd INSTREAM alone: {alone:.0} files/s, {alone_found} detections; clamd CPU {:.2} ms/file",
            per_file(crate::cpu_seconds(clamd.pid()) - clamd_cpu)
        );
        let before = (
            crate::cpu_seconds(clamd.pid()),
            crate::cpu_seconds(server.child.id()),
            crate::cpu_seconds(me),
        );
        if let Ok(hook) = std::env::var("PALISADE_BENCH_PROFILE") {
            // Lets a profiler attach to the server for the measured pass.
            let _ = std::process::Command::new("sh")
                .args(["-c", &hook.replace("{pid}", &server.child.id().to_string())])
                .spawn();
        }
        let (through, through_found) = runtime.block_on(through_palisade(
            &client,
            &server.base,
            &corpus,
            options.clients,
        ))?;
        println!(
            "through Palisade (ClamAV-only rule): {through:.0} files/s, {through_found} detections; \
             CPU per file: clamd {:.2} ms, Palisade {:.2} ms, load generator {:.2} ms",
            per_file(crate::cpu_seconds(clamd.pid()) - before.0),
            per_file(crate::cpu_seconds(server.child.id()) - before.1),
            per_file(crate::cpu_seconds(me) - before.2),
        );
        if through_found != alone_found {
            bail!("detections differ: clamd alone {alone_found}, through Palisade {through_found}");
        }
        println!(
            "ratio Palisade / clamd alone: {:.2} (goal >= 0.90)",
            through / alone
        );
    }
    Ok(())
}
