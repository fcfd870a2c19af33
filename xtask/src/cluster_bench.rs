//! `cargo xtask bench-cluster`: throughput of a cluster on this machine, with one scanning node
//! and then two, behind one gateway, over a real PostgreSQL and a real S3-compatible server
//! (s3s-fs). Each run gets a database and a bucket prefix of its own. Prints files per second and
//! where the CPU went, since every process shares this machine's cores.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};

struct Options {
    files: usize,
    clients: usize,
}

fn options(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        files: 3_000,
        clients: 8,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--files" => options.files = iter.next().context("--files N")?.parse()?,
            "--clients" => options.clients = iter.next().context("--clients N")?.parse()?,
            other => bail!("unknown option {other}"),
        }
    }
    Ok(options)
}

/// Busy and total CPU time of the whole machine, in clock ticks (from /proc/stat).
fn machine_ticks() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let values: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = values.iter().sum();
    // idle and iowait
    let idle = values.get(3).copied().unwrap_or(0.0) + values.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

pub fn bench(args: &[String]) -> anyhow::Result<()> {
    let options = options(args)?;
    let binary = crate::release_binary()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    eprintln!("starting PostgreSQL and s3s-fs ...");
    let postgres = palisade_test_support::Postgres::start();
    let s3 = palisade_test_support::S3Server::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "cluster: 1 gateway + N nodes (2 workers each), PostgreSQL {}, s3s-fs; {} files of 4 KiB from {} clients; {cores} cores shared by everything",
        postgres.url(),
        options.files,
        options.clients
    );
    let mut rates = Vec::new();
    for nodes in [1usize, 2] {
        let database = postgres.create_database(&format!("bench_{nodes}_nodes"));
        let bucket = s3.url().replacen(
            &format!("s3://{}?", palisade_test_support::S3_BUCKET),
            &format!("s3://{}/run{nodes}?", palisade_test_support::S3_BUCKET),
            1,
        );
        let config = format!(
            "[storage]\nmetastore_url = \"{database}\"\nblobstore_url = \"{bucket}\"\n\
             [queue]\nmax_queued = 1000000\nworkers = 2\n"
        );
        let gateway = crate::start_role(&binary, "gateway", &config)?;
        let scanners: Vec<crate::Server> = (0..nodes)
            .map(|_| crate::start_role(&binary, "node", &config))
            .collect::<anyhow::Result<_>>()?;
        // Let every node register and connect before the clock starts.
        std::thread::sleep(Duration::from_millis(500));
        let gateway_cpu = crate::cpu_seconds(gateway.child.id());
        let node_cpu: Vec<f64> = scanners
            .iter()
            .map(|s| crate::cpu_seconds(s.child.id()))
            .collect();
        let s3_cpu = crate::cpu_seconds(s3.pid());
        let own_cpu = crate::cpu_seconds(std::process::id());
        let (busy, total) = machine_ticks();
        let started = Instant::now();
        let rate = runtime.block_on(async {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()?;
            crate::throughput(&client, &gateway.base, options.files, options.clients).await
        })?;
        let elapsed = started.elapsed().as_secs_f64();
        let (busy_after, total_after) = machine_ticks();
        let utilisation = (busy_after - busy) / (total_after - total).max(1.0);
        let gateway_cpu = crate::cpu_seconds(gateway.child.id()) - gateway_cpu;
        let node_cpu: f64 = scanners
            .iter()
            .zip(&node_cpu)
            .map(|(s, before)| crate::cpu_seconds(s.child.id()) - before)
            .sum();
        let s3_cpu = crate::cpu_seconds(s3.pid()) - s3_cpu;
        let own_cpu = crate::cpu_seconds(std::process::id()) - own_cpu;
        let all = utilisation * cores as f64 * elapsed;
        let per_file = |seconds: f64| seconds * 1e6 / options.files as f64;
        println!(
            "{nodes} node(s): {rate:.0} files/s; machine {:.0}% busy; CPU per file: gateway {:.0} µs, nodes {:.0} µs, s3s-fs {:.0} µs, load generator {:.0} µs, the rest (PostgreSQL) {:.0} µs",
            utilisation * 100.0,
            per_file(gateway_cpu),
            per_file(node_cpu),
            per_file(s3_cpu),
            per_file(own_cpu),
            per_file((all - gateway_cpu - node_cpu - s3_cpu - own_cpu).max(0.0)),
        );
        rates.push(rate);
    }
    println!(
        "2 nodes / 1 node: {:.2}x. On {cores} shared cores the second node adds workers but no CPU: \
         the figure shows how much the cluster machinery costs, not how it scales across machines.",
        rates[1] / rates[0]
    );
    Ok(())
}
