//! `cargo xtask bench-archive`: one zip of N small members (10,000 by default) through the
//! default rule: objects analysed per second (members plus the archive) and the server's peak RSS.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

fn members(args: &[String]) -> anyhow::Result<usize> {
    let mut members = 10_000;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--members" => members = iter.next().context("--members N")?.parse()?,
            other => bail!("unknown option {other}"),
        }
    }
    Ok(members)
}

/// Peak resident set size of a process, in KiB (VmHWM).
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

pub fn bench(args: &[String]) -> anyhow::Result<()> {
    let count = members(args)?;
    let binary = crate::release_binary()?;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for index in 0..count {
        zip.start_file(format!("docs/{index:05}.txt"), options)?;
        // Distinct members, so every one is stored and analysed.
        write!(
            zip,
            "member {index} of the benchmark archive\n{}",
            "text ".repeat(50)
        )?;
    }
    let archive = zip.finish()?.into_inner();
    println!(
        "archive: {count} members, {:.1} MiB",
        archive.len() as f64 / (1 << 20) as f64
    );
    let config = format!(
        "[[rules]]\nname = \"Default\"\narchive_max_members = {}\n",
        count.max(10_000)
    );
    let server = crate::start_server(&binary, &config)?;
    let pid = server.child.id();
    let before = peak_rss_kib(pid);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (elapsed, report) = runtime.block_on(async {
        let client = reqwest::Client::new();
        let started = Instant::now();
        let response = client
            .post(format!("{}/file", server.base))
            .header("apikey", crate::api_key())
            .header("filename", "bench.zip")
            .body(archive)
            .send()
            .await?;
        let json: serde_json::Value = response.json().await?;
        let data_id = json["data_id"].as_str().context("data_id")?.to_string();
        loop {
            let report: serde_json::Value = client
                .get(format!("{}/file/{data_id}", server.base))
                .header("apikey", crate::api_key())
                .send()
                .await?
                .json()
                .await?;
            if report["scan_results"]["progress_percentage"] == 100 {
                return Ok::<_, anyhow::Error>((started.elapsed(), report));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })?;
    let extracted = report["extracted_files"]["files_extracted_count"]
        .as_u64()
        .unwrap_or(0);
    if extracted != count as u64 {
        bail!("expected {count} members, the report lists {extracted}: {report}");
    }
    let objects = count + 1;
    println!(
        "analysed {objects} objects in {:.2} s => {:.0} objects/s; result {}",
        elapsed.as_secs_f64(),
        objects as f64 / elapsed.as_secs_f64(),
        report["scan_results"]["scan_all_result_a"]
    );
    println!(
        "server peak RSS: {} MiB before, {} MiB after",
        before / 1024,
        peak_rss_kib(pid) / 1024
    );
    Ok(())
}
