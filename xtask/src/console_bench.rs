//! `cargo xtask bench-console`: the console's submission list over a SQLite metastore holding a
//! million finished files. The rows are written straight into the database (by the `sqlite3`
//! shell, after the server created its schema), then the real server answers the page with
//! each filter; the figures are the times to the whole HTML page, and the database's plan for
//! each statement is printed beside them.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use palisade_metastore::{SubmissionQuery, submissions_statement};

const CONFIG: &str = "[[rules]]\nname = \"Default\"\n\n[[rules]]\nname = \"Strict\"\n\n\
                      [autodetect]\nclamd = false\n";

struct Options {
    rows: u64,
    requests: usize,
}

fn options(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        rows: 1_000_000,
        requests: 20,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let value = iter.next().context("a value after each option")?;
        match arg.as_str() {
            "--rows" => options.rows = value.parse()?,
            "--requests" => options.requests = value.parse()?,
            other => bail!("unknown option {other}"),
        }
    }
    Ok(options)
}

/// `rows` finished submissions, one content each, uploaded 2.5 s apart up to now: a tenth under
/// the rule Strict, users alice (30 %), bob (10 %), rare (0.1 %) and admin, six file types, 2 %
/// infected and a few sensitive or CDR-blocked (all blocked), each with a 2 KB report.
fn fill_sql(rows: u64, now_ms: i64) -> String {
    let start = now_ms - i64::try_from(rows).unwrap_or(0) * 2_500;
    format!(
        "PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
INSERT INTO blobs (sha256, md5, sha1, sha512, size)
SELECT printf('%064x', i), printf('%032x', i), printf('%040x', i), printf('%0128x', i),
       1000 + i % 100000 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}),
f(i, kind, result_i) AS (SELECT i, i % 6,
    CASE WHEN i % 50 = 0 THEN 1 WHEN i % 200 = 1 THEN 20 WHEN i % 1000 = 2 THEN 30 ELSE 0 END
    FROM n)
INSERT INTO jobs (data_id, sha256, display_name, file_type, file_type_description,
    type_category, rule, user_agent, username, metadata, archive_passwords, callback_url,
    receive_ts, upload_ts, hash_time, state, attempts, start_ts, finish_ts, result_i, report,
    blocked)
SELECT printf('dada%028x', i), printf('%064x', i),
    'report-' || i || '.' || CASE kind WHEN 0 THEN 'pdf' WHEN 1 THEN 'docx' WHEN 2 THEN 'zip'
        WHEN 3 THEN 'exe' WHEN 4 THEN 'txt' ELSE 'png' END,
    CASE kind WHEN 0 THEN 'pdf' WHEN 1 THEN 'docx' WHEN 2 THEN 'zip' WHEN 3 THEN 'exe'
        WHEN 4 THEN 'txt' ELSE 'png' END,
    'A file', 'D',
    CASE WHEN i % 10 = 0 THEN 'Strict' ELSE 'Default' END, 'bench',
    CASE WHEN i % 1000 = 7 THEN 'rare' WHEN i % 10 < 3 THEN 'alice' WHEN i % 10 = 3 THEN 'bob'
        ELSE 'admin' END,
    '', '[]', '', {start} + i * 2500, {start} + i * 2500, 1, 'done', 1,
    {start} + i * 2500 + 10, {start} + i * 2500 + 400, result_i,
    '{{\"pad\":\"' || hex(randomblob(1000)) || '\"}}', result_i != 0
FROM f;
COMMIT;
"
    )
}

fn sqlite(db: &Path, script: &str) -> anyhow::Result<String> {
    use std::io::Write;
    let mut child = Command::new("sqlite3")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("the sqlite3 shell (Debian's sqlite3)")?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(script.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("sqlite3 failed");
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The page's filters (as its query string) and the same as the metastore's query.
fn cases(now_ms: i64, rows: u64) -> Vec<(&'static str, String, SubmissionQuery)> {
    let day = 86_400_000;
    let start = now_ms - i64::try_from(rows).unwrap_or(0) * 2_500;
    let middle = start + 500_000 * 2_500;
    let from = now_ms - 15 * day;
    let week = now_ms - 7 * day;
    let to = from + day;
    let time = |ms: i64| {
        palisade_model::format_timestamp(ms)
            .get(..16)
            .unwrap_or_default()
            .to_string()
    };
    let query = |q: SubmissionQuery| SubmissionQuery { limit: 50, ..q };
    vec![
        ("newest", String::new(), query(SubmissionQuery::default())),
        (
            "verdict=blocked",
            "verdict=blocked".into(),
            query(SubmissionQuery {
                blocked: Some(true),
                ..Default::default()
            }),
        ),
        (
            "result=30 (0.1 %)",
            "result=30".into(),
            query(SubmissionQuery {
                result_i: Some(30),
                ..Default::default()
            }),
        ),
        (
            "rule=Strict",
            "rule=Strict".into(),
            query(SubmissionQuery {
                rule: Some("Strict".into()),
                ..Default::default()
            }),
        ),
        (
            "type=exe",
            "type=exe".into(),
            query(SubmissionQuery {
                file_type: Some("exe".into()),
                ..Default::default()
            }),
        ),
        (
            "user=rare (0.1 %)",
            "user=rare".into(),
            query(SubmissionQuery {
                username: Some("rare".into()),
                ..Default::default()
            }),
        ),
        (
            "one day, 15 days ago",
            format!("from={}&to={}", time(from), time(to)),
            query(SubmissionQuery {
                since: Some(from),
                until: Some(to),
                ..Default::default()
            }),
        ),
        (
            "last 7 days",
            format!("from={}", time(week)),
            query(SubmissionQuery {
                since: Some(week),
                ..Default::default()
            }),
        ),
        (
            "blocked+Strict+alice",
            "verdict=blocked&rule=Strict&user=alice".into(),
            query(SubmissionQuery {
                blocked: Some(true),
                rule: Some("Strict".into()),
                username: Some("alice".into()),
                ..Default::default()
            }),
        ),
        (
            "search SHA-256",
            format!("q={:064x}", 123_457),
            query(SubmissionQuery {
                text: Some(format!("{:064x}", 123_457)),
                ..Default::default()
            }),
        ),
        (
            "search MD5",
            format!("q={:032x}", 123_457),
            query(SubmissionQuery {
                text: Some(format!("{:032x}", 123_457)),
                ..Default::default()
            }),
        ),
        (
            "search name, 1 match",
            "q=report-123457.".into(),
            query(SubmissionQuery {
                text: Some("report-123457.".into()),
                ..Default::default()
            }),
        ),
        (
            "search name, common",
            "q=.pdf".into(),
            query(SubmissionQuery {
                text: Some(".pdf".into()),
                ..Default::default()
            }),
        ),
        (
            "search name, no match",
            "q=nothing-like-it".into(),
            query(SubmissionQuery {
                text: Some("nothing-like-it".into()),
                ..Default::default()
            }),
        ),
        (
            "page at row 500,000",
            format!("before={}.500000", middle),
            query(SubmissionQuery {
                before: Some((middle, 500_000)),
                ..Default::default()
            }),
        ),
    ]
}

pub fn bench(args: &[String]) -> anyhow::Result<()> {
    let options = options(args)?;
    let binary = super::release_binary()?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("palisade.db");
    // The server creates the schema; it stops before the rows go in.
    drop(super::start_in(&binary, "serve", dir.path(), CONFIG)?);
    let now_ms = palisade_model::now_millis();
    let started = Instant::now();
    sqlite(&db, &fill_sql(options.rows, now_ms))?;
    let size = std::fs::metadata(&db)?.len();
    eprintln!(
        "wrote {} rows in {:.0} s ({} MiB)",
        options.rows,
        started.elapsed().as_secs_f64(),
        size >> 20
    );
    let server = super::start_in(&binary, "serve", dir.path(), CONFIG)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let cookie = runtime.block_on(login(&server.base))?;
    println!(
        "console submission list, {} files in SQLite; {} requests each, time to the whole page",
        options.rows, options.requests
    );
    println!(
        "{:<24} {:>8} {:>8} {:>5}  plan",
        "filter", "median", "max", "rows"
    );
    for (name, query_string, query) in cases(now_ms, options.rows) {
        let url = format!("{}/console/submissions?{query_string}", server.base);
        let (times, rows) = runtime.block_on(measure(&url, &cookie, options.requests))?;
        let plan = sqlite(
            &db,
            &format!("EXPLAIN QUERY PLAN {};\n", submissions_statement(&query)),
        )?;
        let plan: Vec<&str> = plan
            .lines()
            .filter(|line| !line.starts_with("QUERY PLAN"))
            .map(|line| line.trim_start_matches(['|', '`', '-', ' ']))
            .collect();
        println!(
            "{name:<24} {:>6.1}ms {:>6.1}ms {rows:>5}  {}",
            times[times.len() / 2].as_secs_f64() * 1000.0,
            times[times.len() - 1].as_secs_f64() * 1000.0,
            plan.join("; ")
        );
    }
    Ok(())
}

/// Logs in through the console's form; returns the session cookie.
async fn login(base: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = client
        .post(format!("{base}/console/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("user=admin&password=bench-admin")
        .send()
        .await?;
    let cookie = response
        .headers()
        .get("set-cookie")
        .context("no session cookie")?
        .to_str()?;
    Ok(cookie.split(';').next().unwrap_or_default().to_string())
}

/// `requests` sequential GETs of `url`: their times, sorted, and the rows the page listed.
async fn measure(
    url: &str,
    cookie: &str,
    requests: usize,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let client = reqwest::Client::new();
    let mut times = Vec::with_capacity(requests);
    let mut rows = 0;
    for _ in 0..requests.max(1) {
        let started = Instant::now();
        let response = client.get(url).header("cookie", cookie).send().await?;
        if !response.status().is_success() {
            bail!("{url}: {}", response.status());
        }
        let page = response.text().await?;
        times.push(started.elapsed());
        rows = page.matches("<tr data-id=").count();
    }
    times.sort();
    Ok((times, rows))
}
