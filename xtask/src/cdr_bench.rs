//! `cargo xtask bench-cdr`: a mixed corpus (PDFs from 4 KiB to 10 MB, JPEG, PNG, GIF and WebP
//! images) through Deep CDR, two files at a time: per format the sanitization time per file
//! (p50, p95, max of `cdr_time`, which includes the parser-process round trip) and MB/s, then
//! the whole run's throughput.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use image::ImageFormat;
use palisade_test_support::{images, ooxml, pdf};

struct Sample {
    format: &'static str,
    name: &'static str,
    bytes: Vec<u8>,
}

fn corpus() -> Vec<Sample> {
    let sample = |format, name, bytes| Sample {
        format,
        name,
        bytes,
    };
    vec![
        sample("pdf", "active.pdf", pdf::active()),
        sample("pdf", "report-100k.pdf", pdf::pages(10, 10_000)),
        sample("pdf", "report-1m.pdf", pdf::pages(100, 10_000)),
        sample("pdf", "manual-10m.pdf", pdf::pages(1_000, 9_700)),
        sample(
            "jpeg",
            "photo-1mp.jpg",
            images::photo(ImageFormat::Jpeg, 1280, 800),
        ),
        sample(
            "jpeg",
            "photo-12mp.jpg",
            images::photo(ImageFormat::Jpeg, 4000, 3000),
        ),
        sample(
            "png",
            "screen.png",
            images::photo(ImageFormat::Png, 1280, 800),
        ),
        sample(
            "gif",
            "banner.gif",
            images::photo(ImageFormat::Gif, 600, 200),
        ),
        sample(
            "webp",
            "photo.webp",
            images::photo(ImageFormat::WebP, 800, 600),
        ),
        sample("docm", "active.docm", ooxml::word_active()),
        sample(
            "docx",
            "report-1m.docx",
            ooxml::word_report(2_000, 2, 1024, 768),
        ),
        sample(
            "docx",
            "report-10m.docx",
            ooxml::word_report(20_000, 8, 1600, 1200),
        ),
        sample("html", "page-1m.html", html_page(4_000)),
        sample(
            "zip",
            "bundle.zip",
            ooxml::zip_of(&[
                ("a.pdf", pdf::pages(10, 10_000)),
                ("b.docm", ooxml::word_active()),
                ("c.jpg", images::photo(ImageFormat::Jpeg, 1280, 800)),
                ("d.pdf", pdf::active()),
            ]),
        ),
    ]
}

/// A page of `rows` table rows with links, styles and a script to remove.
fn html_page(rows: usize) -> Vec<u8> {
    let mut page = String::from(
        "<!DOCTYPE html><html><head><title>Report</title>\
         <script>track()</script></head><body onload=\"track()\"><table>",
    );
    for row in 0..rows {
        page.push_str(&format!(
            "<tr><td style=\"color: #333\">Row {row}</td><td><a href=\"https://example.com/{row}\">\
             details</a></td><td onclick=\"track()\">figures for the quarter</td></tr>"
        ));
    }
    page.push_str("</table></body></html>");
    page.into_bytes()
}

fn repetitions(args: &[String]) -> anyhow::Result<usize> {
    let mut reps = 10;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--reps" => reps = iter.next().context("--reps N")?.parse()?,
            other => bail!("unknown option {other}"),
        }
    }
    Ok(reps.max(1))
}

/// One sanitized file: its format, size and `cdr_time`.
struct Timed {
    format: &'static str,
    size: usize,
    cdr_ms: i64,
}

async fn sanitize(client: &reqwest::Client, base: &str, sample: &Sample) -> anyhow::Result<Timed> {
    let response = client
        .post(format!("{base}/file"))
        .header("apikey", crate::api_key())
        .header("filename", sample.name)
        .body(sample.bytes.clone())
        .send()
        .await?;
    let json: serde_json::Value = response.json().await?;
    let data_id = json["data_id"].as_str().context("data_id")?.to_string();
    loop {
        let report: serde_json::Value = client
            .get(format!("{base}/file/{data_id}"))
            .header("apikey", crate::api_key())
            .send()
            .await?
            .json()
            .await?;
        if report["scan_results"]["progress_percentage"] == 100 {
            let post = &report["process_info"]["post_processing"];
            if post["actions_ran"] != "Sanitized" {
                bail!("{} was not sanitized: {post}", sample.name);
            }
            let cdr_ms = report["process_info"]["processing_time_details"]["cdr_time"]
                .as_i64()
                .context("cdr_time")?;
            return Ok(Timed {
                format: sample.format,
                size: sample.bytes.len(),
                cdr_ms,
            });
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn bench(args: &[String]) -> anyhow::Result<()> {
    let reps = repetitions(args)?;
    let binary = crate::release_binary()?;
    let corpus = Arc::new(corpus());
    for sample in corpus.iter() {
        println!(
            "corpus: {:<16} {:>5} {:>9.1} KiB",
            sample.name,
            sample.format,
            sample.bytes.len() as f64 / 1024.0
        );
    }
    let server = crate::start_server(&binary, "[cdr]\nenabled = true\n")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let base = server.base.clone();
    let (elapsed, timed) = runtime.block_on(async {
        let client = reqwest::Client::new();
        // One warm-up pass: parser processes started, caches filled.
        for sample in corpus.iter() {
            sanitize(&client, &base, sample).await?;
        }
        let started = Instant::now();
        let mut tasks = Vec::new();
        for lane in 0..2 {
            let client = client.clone();
            let base = base.clone();
            let corpus = corpus.clone();
            tasks.push(tokio::spawn(async move {
                let mut timed = Vec::new();
                for rep in 0..reps {
                    for (index, sample) in corpus.iter().enumerate() {
                        if (rep * corpus.len() + index) % 2 == lane {
                            timed.push(sanitize(&client, &base, sample).await?);
                        }
                    }
                }
                Ok::<_, anyhow::Error>(timed)
            }));
        }
        let mut timed = Vec::new();
        for task in tasks {
            timed.extend(task.await??);
        }
        Ok::<_, anyhow::Error>((started.elapsed(), timed))
    })?;
    let mut by_format: BTreeMap<&str, (usize, Vec<i64>)> = BTreeMap::new();
    for file in &timed {
        let entry = by_format.entry(file.format).or_default();
        entry.0 += file.size;
        entry.1.push(file.cdr_ms);
    }
    println!(
        "format  files        MB    p50 ms    p95 ms    max ms   MB/s (bytes / summed cdr_time)"
    );
    for (format, (bytes, mut times)) in by_format {
        times.sort_unstable();
        let total_ms: i64 = times.iter().sum();
        println!(
            "{format:<6} {:>6} {:>9.1} {:>9} {:>9} {:>9} {:>8.1}",
            times.len(),
            bytes as f64 / 1e6,
            percentile(&times, 0.50),
            percentile(&times, 0.95),
            times.last().copied().unwrap_or(0),
            bytes as f64 / 1e6 / (total_ms.max(1) as f64 / 1000.0),
        );
    }
    let mut big: Vec<i64> = timed
        .iter()
        .filter(|file| file.size <= 10_000_000)
        .map(|file| file.cdr_ms)
        .collect();
    big.sort_unstable();
    let bytes: usize = timed.iter().map(|file| file.size).sum();
    println!(
        "all files up to 10 MB: p95 {} ms; {} files, {:.1} MB in {:.2} s => {:.1} MB/s, {:.1} files/s with 2 clients",
        percentile(&big, 0.95),
        timed.len(),
        bytes as f64 / 1e6,
        elapsed.as_secs_f64(),
        bytes as f64 / 1e6 / elapsed.as_secs_f64(),
        timed.len() as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
