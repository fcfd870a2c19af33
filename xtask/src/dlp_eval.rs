//! `cargo xtask eval-dlp`: precision and recall of Proactive DLP's recognizers on a labelled
//! corpus (`xtask/dlp_corpus.py`: Faker at a fixed seed, sentences in text, CSV, Word, Excel,
//! e-mail and PDF files), per kind and per certainty word, the throughput of extraction and
//! recognition in MB of extracted text per second on one core, and the time redaction takes
//! per format (the values at High masked, the copy read again).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use palisade_engine_dlp::report::assess;
use palisade_engine_dlp::{Format, Recognizers, extract};
use palisade_model::{Certainty, DlpPolicy};

struct Options {
    seed: u64,
    per_kind: usize,
    keep: Option<String>,
}

fn options(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        seed: 42,
        per_kind: 2500,
        keep: None,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--seed" => options.seed = iter.next().context("--seed N")?.parse()?,
            "--per-kind" => options.per_kind = iter.next().context("--per-kind N")?.parse()?,
            "--keep" => options.keep = Some(iter.next().context("--keep DIR")?.clone()),
            other => bail!("unknown option {other}"),
        }
    }
    Ok(options)
}

/// A value as compared with a label: letters and digits (and an address's dots), upper case.
fn normal(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '/')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Counts per kind: hits by certainty that match a label or not, and each label's best
/// certainty (None: not found).
#[derive(Default)]
struct Tally {
    true_hits: BTreeMap<Certainty, usize>,
    false_hits: BTreeMap<Certainty, usize>,
    found: Vec<Option<Certainty>>,
    /// Each label's value, by the index of `found`, and the context it was found in.
    values: Vec<String>,
    contexts: Vec<String>,
    /// A few false hits to show.
    examples: Vec<String>,
}

pub fn eval(args: &[String]) -> anyhow::Result<()> {
    let options = options(args)?;
    let temp = tempfile::tempdir()?;
    let dir = match &options.keep {
        Some(keep) => Path::new(keep).to_path_buf(),
        None => temp.path().to_path_buf(),
    };
    if Command::new("python3")
        .args(["-c", "import faker, docx, openpyxl"])
        .status()
        .map(|status| !status.success())
        .unwrap_or(true)
    {
        eprintln!("installing faker, python-docx and openpyxl with pip");
        let status = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "faker",
                "python-docx",
                "openpyxl",
            ])
            .status()?;
        anyhow::ensure!(status.success(), "pip install failed");
    }
    let script = crate::workspace_root().join("xtask/dlp_corpus.py");
    let started = Instant::now();
    let status = Command::new("python3")
        .arg(&script)
        .arg(&dir)
        .args(["--seed", &options.seed.to_string()])
        .args(["--per-kind", &options.per_kind.to_string()])
        .status()?;
    anyhow::ensure!(status.success(), "{} failed", script.display());
    eprintln!("corpus built in {:.0?}", started.elapsed());
    let labels: HashMap<String, Vec<(String, String)>> =
        serde_json::from_slice(&std::fs::read(dir.join("labels.json"))?)?;

    let policy = DlpPolicy {
        show_values: true,
        recognizers: palisade_model::Recognizer::ALL
            .into_iter()
            .map(|recognizer| (recognizer, Certainty::VeryLow))
            .collect(),
        ..DlpPolicy::default()
    };
    let recognizers = Recognizers::new(&policy).map_err(anyhow::Error::msg)?;
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut names: Vec<&String> = labels.keys().collect();
    names.sort();
    let mut text_bytes = 0usize;
    // Every piece read, to time the recognizers on their own afterwards.
    let mut all_pieces = Vec::new();
    let mut busy = Duration::ZERO;
    let mut by_format: BTreeMap<&str, usize> = BTreeMap::new();
    // Per format: files, bytes of text, time extracting, time recognizing.
    let mut timing: BTreeMap<&str, (usize, usize, Duration, Duration)> = BTreeMap::new();
    let mut to_redact: Vec<(std::path::PathBuf, Format, Vec<String>)> = Vec::new();
    for name in names {
        let path = dir.join(name);
        let started = Instant::now();
        let format = Format::detect(&path)?.with_context(|| format!("{name}: not read"))?;
        let extraction = extract(
            &path,
            format,
            policy.max_text_bytes,
            Instant::now() + Duration::from_secs(60),
        );
        if let Some(failure) = &extraction.failure {
            bail!("{name}: {failure}");
        }
        let extracted = started.elapsed();
        let assessment = assess(
            &extraction.pieces,
            &recognizers,
            &policy,
            Default::default(),
        );
        busy += started.elapsed();
        let secrets = assessment.secrets(&extraction.pieces);
        let info = assessment.info;
        let bytes = extraction
            .pieces
            .iter()
            .map(|p| p.text.len())
            .sum::<usize>();
        text_bytes += bytes;
        all_pieces.extend(extraction.pieces.iter().cloned());
        let entry = timing.entry(format.name()).or_default();
        entry.0 += 1;
        entry.1 += bytes;
        entry.2 += extracted;
        entry.3 += started.elapsed() - extracted;
        *by_format.entry(format.name()).or_default() += 1;
        let redactable = matches!(
            format,
            Format::Text | Format::Word | Format::Excel | Format::PowerPoint | Format::Pdf
        );
        if redactable && !secrets.is_empty() {
            // Redacted after the reading is timed, apart.
            to_redact.push((
                path.clone(),
                format,
                secrets.into_iter().map(str::to_string).collect(),
            ));
        }

        // Labels of this file by kind, each matched at most once.
        let mut open: HashMap<&str, Vec<(String, usize)>> = HashMap::new();
        for (kind, value) in &labels[name] {
            let tally = tallies.entry(kind.clone()).or_default();
            tally.found.push(None);
            tally.values.push(value.clone());
            tally.contexts.push(String::new());
            open.entry(kind.as_str())
                .or_default()
                .push((normal(value), tally.found.len() - 1));
        }
        for (kind, hits) in &info.hits {
            for hit in &hits.hits {
                let tally = tallies.entry(kind.clone()).or_default();
                let value = normal(&hit.hit);
                let matched = open.get_mut(kind.as_str()).and_then(|labels| {
                    let at = labels.iter().position(|(label, _)| *label == value)?;
                    Some(labels.swap_remove(at).1)
                });
                match matched {
                    Some(index) => {
                        *tally.true_hits.entry(hit.certainty).or_default() += 1;
                        tally.found[index] = Some(hit.certainty);
                        tally.contexts[index] = format!("{}[{}]{}", hit.before, hit.hit, hit.after);
                    }
                    None => {
                        *tally.false_hits.entry(hit.certainty).or_default() += 1;
                        if tally.examples.len() < 3 && hit.certainty >= Certainty::Medium {
                            tally.examples.push(format!(
                                "{} ({}) in \"{}{}{}\"",
                                hit.hit, hit.certainty_score, hit.before, hit.hit, hit.after
                            ));
                        }
                    }
                }
            }
        }
    }

    println!(
        "corpus: seed {}, {} files {by_format:?}",
        options.seed,
        labels.len()
    );
    println!();
    println!("| kind | labelled | at least | hits | precision | recall |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut results: BTreeMap<(String, Certainty), (f64, f64)> = BTreeMap::new();
    for (kind, tally) in &tallies {
        for level in Certainty::ALL {
            let at_least = |counts: &BTreeMap<Certainty, usize>| -> usize {
                counts.range(level..).map(|(_, n)| n).sum()
            };
            let true_hits = at_least(&tally.true_hits);
            let false_hits = at_least(&tally.false_hits);
            let found = tally
                .found
                .iter()
                .filter(|best| best.is_some_and(|best| best >= level))
                .count();
            let precision = if true_hits + false_hits == 0 {
                1.0
            } else {
                true_hits as f64 / (true_hits + false_hits) as f64
            };
            let recall = if tally.found.is_empty() {
                1.0
            } else {
                found as f64 / tally.found.len() as f64
            };
            results.insert((kind.clone(), level), (precision, recall));
            println!(
                "| {kind} | {} | {} | {} | {precision:.3} | {recall:.3} |",
                tally.found.len(),
                level.word(),
                true_hits + false_hits,
            );
        }
    }
    for (kind, tally) in &tallies {
        for example in &tally.examples {
            println!("false {kind} hit: {example}");
        }
        let missed: Vec<String> = tally
            .found
            .iter()
            .zip(tally.values.iter().zip(&tally.contexts))
            .filter(|(best, _)| best.is_none_or(|best| best < Certainty::High))
            .take(8)
            .map(|(best, (value, context))| {
                format!(
                    "{value} ({}) {context:?}",
                    best.map_or("not found", Certainty::word)
                )
            })
            .collect();
        for missed in missed {
            println!("{kind} below High: {missed}");
        }
    }
    let megabytes = text_bytes as f64 / 1e6;
    println!();
    println!("| format | files | text MB | extraction s | recognition s | MB/s |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (format, (files, bytes, extracting, recognizing)) in &timing {
        let seconds = (*extracting + *recognizing).as_secs_f64();
        println!(
            "| {format} | {files} | {:.2} | {:.3} | {:.3} | {:.1} |",
            *bytes as f64 / 1e6,
            extracting.as_secs_f64(),
            recognizing.as_secs_f64(),
            *bytes as f64 / 1e6 / seconds
        );
    }
    println!();
    println!(
        "throughput, files to report: {megabytes:.1} MB of extracted text in {:.2} s on one core: \
         {:.1} MB/s",
        busy.as_secs_f64(),
        megabytes / busy.as_secs_f64()
    );
    // The recognizers and the report alone, over the same text, repeated for a second.
    let started = Instant::now();
    let mut rounds = 0u32;
    while started.elapsed() < Duration::from_secs(1) {
        std::hint::black_box(assess(
            &all_pieces,
            &recognizers,
            &policy,
            Default::default(),
        ));
        rounds += 1;
    }
    let recognizing = started.elapsed().as_secs_f64() / f64::from(rounds);
    println!(
        "throughput, recognizers on extracted text: {:.1} MB/s on one core (goal 20)",
        megabytes / recognizing
    );
    let mut redaction: BTreeMap<&str, Redacted> = BTreeMap::new();
    for (path, format, secrets) in &to_redact {
        let row = redaction.entry(format.name()).or_default();
        redact_file(path, *format, secrets, &dir, row)?;
    }
    println!();
    println!(
        "| redaction (values at High, metadata kept) | files | MB | s | MB/s | p95 ms | not redacted |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (format, row) in &redaction {
        let seconds: f64 = row.times.iter().map(Duration::as_secs_f64).sum();
        let mut times = row.times.clone();
        times.sort();
        let p95 = times
            .get((times.len() * 95).div_ceil(100).saturating_sub(1))
            .copied()
            .unwrap_or_default();
        println!(
            "| {format} | {} | {:.2} | {seconds:.3} | {:.1} | {} | {} |",
            row.times.len(),
            row.bytes as f64 / 1e6,
            row.bytes as f64 / 1e6 / seconds.max(1e-9),
            p95.as_millis(),
            row.refused.len()
        );
        for why in row.refused.iter().take(3) {
            println!("not redacted: {why}");
        }
    }
    println!();
    let get = |kind: &str, level| results.get(&(kind.to_string(), level)).copied();
    let targets = [
        ("ccn", Certainty::High, "recall", 0.99, 1),
        ("ccn", Certainty::High, "precision", 0.98, 0),
        ("ssn", Certainty::High, "precision", 0.95, 0),
        ("ssn", Certainty::Low, "recall", 0.95, 1),
        ("iban", Certainty::Low, "precision", 0.99, 0),
    ];
    for (kind, level, what, goal, which) in targets {
        let Some((precision, recall)) = get(kind, level) else {
            println!("{kind}: no figures");
            continue;
        };
        let value = if which == 0 { precision } else { recall };
        let verdict = if value >= goal { "met" } else { "MISSED" };
        println!(
            "target {kind} {what} at {} >= {goal}: {value:.3} {verdict}",
            level.word()
        );
    }
    Ok(())
}

/// The redaction of one format's files: each file's time, the bytes of the files, and why
/// some were not redacted.
#[derive(Default)]
struct Redacted {
    times: Vec<Duration>,
    bytes: u64,
    refused: Vec<String>,
}

/// Times redacting `path`'s values at High (as the engine does, the copy read again), into a
/// scratch copy in `dir`.
fn redact_file(
    path: &Path,
    format: Format,
    secrets: &[String],
    dir: &Path,
    row: &mut Redacted,
) -> anyhow::Result<()> {
    use palisade_engine_dlp::redact::{Redaction, Targets, redact};
    let copy = dir.join("redacted-copy");
    let started = Instant::now();
    let targets = Targets::new(secrets.iter().map(String::as_str));
    let deadline = started + Duration::from_secs(60);
    let outcome = redact(path, format, &targets, false, &copy, deadline);
    match outcome {
        Redaction::Redacted { .. } => {
            row.times.push(started.elapsed());
            row.bytes += std::fs::metadata(path)?.len();
            std::fs::remove_file(&copy)?;
        }
        Redaction::NotRedacted(why) | Redaction::Failed(why) => {
            row.refused.push(format!("{}: {why}", path.display()));
        }
    }
    Ok(())
}
