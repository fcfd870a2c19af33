//! The command-line client: `palisade scan`, `lookup` and `download` against a Palisade (or a
//! MetaDefender Cluster: the API is the same) over HTTP. It speaks only the documented API:
//! `POST /file`, `GET /file/{data_id}`, `GET /hash/{hash}`, `GET /file/download/{data_id}`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::task::JoinSet;

/// Exit status when every file is allowed (or, for `lookup`, every known hash).
const ALL_ALLOWED: u8 = 0;
/// Exit status when at least one file is blocked and nothing failed.
const SOME_BLOCKED: u8 = 1;
/// Exit status when something could not be done (an upload refused, a server unreachable).
pub const ERRORS: u8 = 2;

/// Where the server is and who the client is, shared by every client command.
#[derive(clap::Args, Clone, Debug)]
pub struct Connection {
    /// The server's base URL.
    #[arg(long, env = "PALISADE_URL", default_value = "http://127.0.0.1:8899")]
    url: String,
    /// API key (or a login's session id), sent in the `apikey` header.
    #[arg(long, env = "PALISADE_API_KEY", hide_env_values = true)]
    apikey: Option<String>,
    /// A PEM file of CA certificates to trust besides the system's (for HTTPS servers with a
    /// private CA).
    #[arg(long)]
    ca_file: Option<PathBuf>,
}

/// `palisade scan`'s options.
#[derive(clap::Args, Clone, Debug)]
pub struct ScanArgs {
    #[command(flatten)]
    connection: Connection,
    /// Files and directories (directories are walked recursively).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The rule (workflow) to scan with; the server's default when absent.
    #[arg(long)]
    rule: Option<String>,
    /// Files uploaded and awaited at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Seconds to wait for each file's final report.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `palisade lookup`'s options.
#[derive(clap::Args, Clone, Debug)]
pub struct LookupArgs {
    #[command(flatten)]
    connection: Connection,
    /// MD5, SHA-1, SHA-256 or SHA-512 digests.
    #[arg(required = true)]
    hashes: Vec<String>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `palisade download`'s options.
#[derive(clap::Args, Clone, Debug)]
pub struct DownloadArgs {
    #[command(flatten)]
    connection: Connection,
    /// The file's data_id.
    data_id: String,
    /// Where to write the copy; by default the name the server gives, in the current directory.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Only the sanitized copy (`/file/converted`), not a redacted one.
    #[arg(long)]
    sanitized: bool,
    /// Replace the output file if it exists.
    #[arg(long)]
    force: bool,
}

/// An HTTP client of one server.
struct Api {
    client: reqwest::Client,
    base: String,
    apikey: Option<String>,
}

impl Api {
    fn new(connection: &Connection) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(path) = &connection.ca_file {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            for certificate in reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("reading certificates from {}", path.display()))?
            {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let base = connection.url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("--url must start with http:// or https://, not {base:?}");
        }
        Ok(Self {
            client: builder.build()?,
            base,
            apikey: connection.apikey.clone().filter(|key| !key.is_empty()),
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match &self.apikey {
            Some(key) => request.header("apikey", key),
            None => request,
        }
    }

    /// Sends `request` and reads a JSON answer; a non-2xx status is an error with the server's
    /// `err` text.
    async fn json(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request.send().await.map_err(unreachable_server)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable_server)?;
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{}", server_error(status, &value, &body));
        }
        Ok(value)
    }
}

fn unreachable_server(error: reqwest::Error) -> anyhow::Error {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    anyhow::anyhow!(text)
}

fn server_error(status: reqwest::StatusCode, value: &Value, body: &[u8]) -> String {
    match value["err"].as_str() {
        Some(err) => format!("{status}: {err}"),
        None => format!("{status}: {}", String::from_utf8_lossy(body).trim()),
    }
}

/// What became of one file.
#[derive(Debug, serde::Serialize)]
struct Outcome {
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_id: Option<String>,
    /// `Allowed` or `Blocked` (`process_info.result`).
    #[serde(skip_serializing_if = "Option::is_none")]
    verdict: Option<String>,
    /// `scan_results.scan_all_result_a`.
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    blocked_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Outcome {
    /// Nothing known yet about `path`.
    fn blank(path: String) -> Self {
        Self {
            path,
            data_id: None,
            verdict: None,
            result: None,
            result_code: None,
            blocked_reason: None,
            error: None,
        }
    }

    fn failed(path: String, data_id: Option<String>, error: String) -> Self {
        Self {
            data_id,
            error: Some(error),
            ..Self::blank(path)
        }
    }

    fn of_report(path: String, data_id: Option<String>, report: &Value) -> Self {
        let text = |value: &Value| value.as_str().map(str::to_string);
        Self {
            path,
            data_id,
            verdict: text(&report["process_info"]["result"]),
            result: text(&report["scan_results"]["scan_all_result_a"]),
            result_code: report["scan_results"]["scan_all_result_i"].as_i64(),
            blocked_reason: text(&report["process_info"]["blocked_reason"])
                .filter(|reason| !reason.is_empty()),
            error: None,
        }
    }

    fn is_blocked(&self) -> bool {
        self.verdict.as_deref() == Some("Blocked")
    }
}

/// The exit status for a set of outcomes: errors first, then blocked files.
fn exit_status(outcomes: &[Outcome]) -> u8 {
    if outcomes.iter().any(|o| o.error.is_some()) {
        ERRORS
    } else if outcomes.iter().any(Outcome::is_blocked) {
        SOME_BLOCKED
    } else {
        ALL_ALLOWED
    }
}

/// Every regular file under `paths`, in a stable order; what cannot be read becomes an error
/// outcome.
fn collect_files(paths: &[PathBuf], errors: &mut Vec<Outcome>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending: Vec<PathBuf> = paths.iter().rev().cloned().collect();
    while let Some(path) = pending.pop() {
        match read_entry(&path) {
            Ok(Entry::File) => files.push(path),
            Ok(Entry::Folder(children)) => pending.extend(children.into_iter().rev()),
            Ok(Entry::Other) => {}
            Err(error) => {
                let shown = path.display().to_string();
                errors.push(Outcome::failed(shown, None, error.to_string()));
            }
        }
    }
    files
}

/// What a path given to `scan` (or found below one) is.
enum Entry {
    File,
    /// A folder and what it holds, sorted.
    Folder(Vec<PathBuf>),
    /// A device, socket or pipe: not scanned.
    Other,
}

fn read_entry(path: &Path) -> std::io::Result<Entry> {
    let metadata = std::fs::metadata(path)?;
    if metadata.is_file() {
        return Ok(Entry::File);
    }
    if !metadata.is_dir() {
        return Ok(Entry::Other);
    }
    let mut children = std::fs::read_dir(path)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    children.sort();
    Ok(Entry::Folder(children))
}

/// Progress on standard error: one updating line on a terminal, else a line per file.
struct Progress {
    total: usize,
    done: usize,
    blocked: usize,
    errors: usize,
    terminal: bool,
}

impl Progress {
    fn new(total: usize) -> Self {
        Self {
            total,
            done: 0,
            blocked: 0,
            errors: 0,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn finished(&mut self, outcome: &Outcome) {
        self.done += 1;
        self.blocked += usize::from(outcome.is_blocked());
        self.errors += usize::from(outcome.error.is_some());
        let width = self.total.to_string().len();
        let mut stderr = std::io::stderr().lock();
        if self.terminal {
            let filled = (self.done * 30).checked_div(self.total).unwrap_or(30);
            let _ = write!(
                stderr,
                "\r[{}{}] {:>width$}/{} scanned, {} blocked, {} errors",
                "#".repeat(filled),
                " ".repeat(30 - filled),
                self.done,
                self.total,
                self.blocked,
                self.errors,
            );
            if self.done == self.total {
                let _ = writeln!(stderr);
            }
        } else {
            let status = outcome
                .error
                .as_deref()
                .map(|error| format!("error: {error}"))
                .or_else(|| outcome.result.clone())
                .unwrap_or_default();
            let _ = writeln!(
                stderr,
                "[{:>width$}/{}] {} {}",
                self.done, self.total, outcome.path, status
            );
        }
    }
}

/// `palisade scan`: uploads every file, waits for each final report, prints the results.
pub async fn scan(args: ScanArgs) -> anyhow::Result<u8> {
    let api = Arc::new(Api::new(&args.connection)?);
    let mut outcomes = Vec::new();
    let files = collect_files(&args.paths, &mut outcomes);
    let total = files.len() + outcomes.len();
    let mut progress = Progress::new(total);
    for outcome in &outcomes {
        progress.finished(outcome);
    }
    let limit = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
    let timeout = Duration::from_secs(args.timeout);
    let mut running = JoinSet::new();
    for (index, path) in files.into_iter().enumerate() {
        let api = api.clone();
        let limit = limit.clone();
        let rule = args.rule.clone();
        running.spawn(async move {
            let _slot = limit.acquire_owned().await;
            (index, scan_one(&api, &path, rule.as_deref(), timeout).await)
        });
    }
    let mut scanned = Vec::new();
    while let Some(joined) = running.join_next().await {
        let (index, outcome) = joined?;
        progress.finished(&outcome);
        scanned.push((index, outcome));
    }
    scanned.sort_by_key(|(index, _)| *index);
    outcomes.extend(scanned.into_iter().map(|(_, outcome)| outcome));
    print_outcomes(&outcomes, args.json)?;
    Ok(exit_status(&outcomes))
}

/// Uploads one file and polls its report until it is final.
async fn scan_one(api: &Api, path: &Path, rule: Option<&str>, timeout: Duration) -> Outcome {
    let shown = path.display().to_string();
    let data_id = match upload(api, path, rule).await {
        Ok(data_id) => data_id,
        Err(error) => return Outcome::failed(shown, None, format!("{error:#}")),
    };
    match wait_final(api, &data_id, timeout).await {
        Ok(report) => Outcome::of_report(shown, Some(data_id), &report),
        Err(error) => Outcome::failed(shown, Some(data_id), format!("{error:#}")),
    }
}

/// `POST /file` with the file as the body (streamed, with its length) and its name in the
/// `filename` header (percent-encoded: the server decodes header values).
async fn upload(api: &Api, path: &Path, rule: Option<&str>) -> anyhow::Result<String> {
    let file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let length = file.metadata().await?.len();
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let encoded = percent_encoding::utf8_percent_encode(&name, HEADER_VALUE).to_string();
    let mut request = api
        .request(reqwest::Method::POST, "/file")
        .header("filename", encoded)
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .header(reqwest::header::CONTENT_LENGTH, length)
        .body(reqwest::Body::from(file));
    if let Some(rule) = rule {
        let rule = percent_encoding::utf8_percent_encode(rule, HEADER_VALUE).to_string();
        request = request.header("rule", rule);
    }
    let answer = api.json(request).await?;
    match answer["data_id"].as_str() {
        Some(data_id) => Ok(data_id.to_string()),
        None => bail!("the server answered no data_id: {answer}"),
    }
}

/// Characters a header value carries percent-encoded: controls, non-ASCII and `%` itself.
const HEADER_VALUE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%');

/// Polls `GET /file/{data_id}` (from 50 ms apart up to 1 s apart) until the report is final.
async fn wait_final(api: &Api, data_id: &str, timeout: Duration) -> anyhow::Result<Value> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(50);
    loop {
        let report = api
            .json(api.request(reqwest::Method::GET, &format!("/file/{data_id}")))
            .await?;
        if report[data_id] == "Not Found" {
            bail!("the server no longer knows data_id {data_id}");
        }
        let progress = report["process_info"]["progress_percentage"].as_i64();
        if progress == Some(100) && report["scan_results"]["scan_all_result_i"] != 255 {
            return Ok(report);
        }
        if Instant::now() + pause > deadline {
            bail!(
                "no final report within {} s (data_id {data_id})",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

fn print_outcomes(outcomes: &[Outcome], json: bool) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut stdout, outcomes)?;
        writeln!(stdout)?;
        return Ok(());
    }
    let rows: Vec<[String; 4]> = outcomes
        .iter()
        .map(|outcome| {
            let verdict = match &outcome.error {
                Some(_) => "Error".to_string(),
                None => outcome.verdict.clone().unwrap_or_default(),
            };
            let result = match &outcome.error {
                Some(error) => error.clone(),
                None => outcome.result.clone().unwrap_or_default(),
            };
            [
                verdict,
                outcome.data_id.clone().unwrap_or_else(|| "-".into()),
                outcome.path.clone(),
                result,
            ]
        })
        .collect();
    write_table(&mut stdout, ["VERDICT", "DATA_ID", "FILE", "RESULT"], &rows)?;
    let blocked = outcomes.iter().filter(|o| o.is_blocked()).count();
    let errors = outcomes.iter().filter(|o| o.error.is_some()).count();
    writeln!(
        stdout,
        "{} files: {} allowed, {blocked} blocked, {errors} errors",
        outcomes.len(),
        outcomes.len() - blocked - errors
    )?;
    Ok(())
}

/// Writes left-aligned columns, each as wide as its widest cell; the last is not padded.
fn write_table<const N: usize>(
    out: &mut impl Write,
    header: [&str; N],
    rows: &[[String; N]],
) -> std::io::Result<()> {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header = header.map(str::to_string);
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (index, cell) in row.iter().enumerate() {
            if index + 1 == N {
                line.push_str(cell);
            } else {
                let pad = widths[index] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// `palisade lookup`: the latest report of each hash.
pub async fn lookup(args: LookupArgs) -> anyhow::Result<u8> {
    let api = Api::new(&args.connection)?;
    let mut outcomes = Vec::new();
    for hash in &args.hashes {
        let answer = api
            .json(api.request(reqwest::Method::GET, &format!("/hash/{hash}")))
            .await;
        let outcome = match answer {
            Err(error) => Outcome::failed(hash.clone(), None, format!("{error:#}")),
            Ok(answer) if answer.get(hash.as_str()).is_some_and(|v| v == "Not Found") => Outcome {
                result: Some("Not Found".into()),
                ..Outcome::blank(hash.clone())
            },
            Ok(report) => {
                let data_id = report["data_id"].as_str().map(str::to_string);
                Outcome::of_report(hash.clone(), data_id, &report)
            }
        };
        outcomes.push(outcome);
    }
    if args.json {
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, &outcomes)?;
        writeln!(stdout)?;
    } else {
        let rows: Vec<[String; 4]> = outcomes
            .iter()
            .map(|outcome| {
                [
                    outcome.path.clone(),
                    match &outcome.error {
                        Some(_) => "Error".into(),
                        None => outcome.verdict.clone().unwrap_or_else(|| "-".into()),
                    },
                    outcome.data_id.clone().unwrap_or_else(|| "-".into()),
                    outcome
                        .error
                        .clone()
                        .or_else(|| outcome.result.clone())
                        .unwrap_or_default(),
                ]
            })
            .collect();
        write_table(
            &mut std::io::stdout().lock(),
            ["HASH", "VERDICT", "DATA_ID", "RESULT"],
            &rows,
        )?;
    }
    Ok(exit_status(&outcomes))
}

/// `palisade download`: the file's sanitized (or redacted) copy, streamed to a file.
pub async fn download(args: DownloadArgs) -> anyhow::Result<u8> {
    let api = Api::new(&args.connection)?;
    let route = if args.sanitized {
        "converted"
    } else {
        "download"
    };
    let response = api
        .request(
            reqwest::Method::GET,
            &format!("/file/{route}/{}", args.data_id),
        )
        .send()
        .await
        .map_err(unreachable_server)?;
    let status = response.status();
    if !status.is_success() {
        let body = response.bytes().await.unwrap_or_default();
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        bail!(
            "no copy of {} to download ({})",
            args.data_id,
            server_error(status, &value, &body)
        );
    }
    let target = match &args.output {
        Some(path) => path.clone(),
        None => PathBuf::from(
            attachment_name(response.headers()).unwrap_or_else(|| format!("{}.bin", args.data_id)),
        ),
    };
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options
        .open(&target)
        .await
        .with_context(|| format!("creating {} (--force replaces it)", target.display()))?;
    let mut response = response;
    let mut written: u64 = 0;
    while let Some(chunk) = response.chunk().await.map_err(unreachable_server)? {
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk).await?;
        written += chunk.len() as u64;
    }
    tokio::io::AsyncWriteExt::flush(&mut file).await?;
    eprintln!("{} bytes written to {}", written, target.display());
    Ok(ALL_ALLOWED)
}

/// The file name a `Content-Disposition: attachment` header gives, reduced to a plain name (no
/// directories, no leading dots), so a server cannot make the client write elsewhere.
fn attachment_name(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let value = headers
        .get(reqwest::header::CONTENT_DISPOSITION)?
        .to_str()
        .ok()?;
    let mut plain = None;
    let mut extended = None;
    for part in value.split(';').map(str::trim) {
        if let Some(encoded) = part.strip_prefix("filename*=") {
            let encoded = encoded.strip_prefix("UTF-8''").unwrap_or(encoded);
            extended = percent_encoding::percent_decode_str(encoded)
                .decode_utf8()
                .ok()
                .map(|name| name.into_owned());
        } else if let Some(name) = part.strip_prefix("filename=") {
            plain = Some(name.trim_matches('"').to_string());
        }
    }
    let name = extended.or(plain)?;
    let base = name.rsplit(['/', '\\']).next()?.trim_start_matches('.');
    let safe: String = base.chars().filter(|c| !c.is_control()).collect();
    (!safe.is_empty()).then_some(safe)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(verdict: Option<&str>, error: Option<&str>) -> Outcome {
        Outcome {
            verdict: verdict.map(str::to_string),
            error: error.map(str::to_string),
            ..Outcome::blank("f".into())
        }
    }

    #[test]
    fn errors_outrank_blocked_files_which_outrank_allowed_ones() {
        let allowed = || outcome(Some("Allowed"), None);
        assert_eq!(exit_status(&[allowed(), allowed()]), 0);
        assert_eq!(exit_status(&[allowed(), outcome(Some("Blocked"), None)]), 1);
        let failed = outcome(None, Some("refused"));
        assert_eq!(exit_status(&[outcome(Some("Blocked"), None), failed]), 2);
    }

    #[test]
    fn a_download_name_cannot_leave_the_current_directory() {
        let mut headers = reqwest::header::HeaderMap::new();
        let mut name = |value: &str| {
            headers.insert(reqwest::header::CONTENT_DISPOSITION, value.parse().unwrap());
            attachment_name(&headers)
        };
        assert_eq!(
            name("attachment; filename=\"report.pdf\"").as_deref(),
            Some("report.pdf")
        );
        assert_eq!(
            name("attachment; filename=\"../../etc/passwd\"").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            name("attachment; filename=\"x\"; filename*=UTF-8''r%C3%A9sum%C3%A9.docx").as_deref(),
            Some("résumé.docx")
        );
        assert_eq!(name("attachment; filename=\"..\"").as_deref(), None);
        assert_eq!(
            name("attachment; filename=\".bashrc\"").as_deref(),
            Some("bashrc")
        );
    }
}
