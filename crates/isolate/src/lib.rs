//! Engines that parse hostile bytes, run in child processes so that their crash is an outcome,
//! not a dead worker.
//!
//! The child is the server's own binary re-executed as a hidden subcommand with one engine. It
//! first limits itself (address space, CPU seconds per file, size of files it writes, open
//! files, no core dumps) with `setrlimit`, so no `unsafe` code is needed, then answers requests
//! over its stdin and stdout ([`wire`]: length-prefixed JSON). The parent ([`ParserPool`])
//! keeps warm children, kills a child's process group at the wall-clock limit, and turns a
//! crash, an abort, a signal, the memory limit or the time limit into that engine's Failed or
//! Not Scanned outcome with the reason; a dead child is replaced by the next call.
//!
//! Archives are opened the same way ([`IsolatedExtractor`]): the child decodes the archive into
//! the worker's scratch folder and asks the parent to charge every member and every few MiB to
//! the submission's shared budget, so a decoder that crashes on a crafted archive ends that
//! archive as Extraction Failed with the reason, not the worker.
//!
//! This is the only module that starts children for engines (the command-line engine starts its
//! scanner program, which is the engine itself, and RAR is decoded by `unar`, a process of its
//! own).

mod wire;

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use palisade_pipeline::{
    Engine, EngineDescriptor, EngineError, EngineStatus, Finding, Limits, Sample, ScanContext,
};

use palisade_extract::{
    Allowance, Budget, ExtractError, Extractor, Format, Limit, Opener, Outcome,
};

use crate::wire::{
    Answer, ExtractRequest, Reply, Request, ScanRequest, Take, read_frame, write_frame,
};

/// What a child may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildLimits {
    /// Address space of the child (`RLIMIT_AS`); an allocation past it fails and the child dies.
    pub memory_bytes: u64,
    /// CPU seconds one file may take (`RLIMIT_CPU`, moved forward before each file).
    pub cpu_seconds: u64,
    /// Largest file the child may write (`RLIMIT_FSIZE`): its outputs.
    pub output_bytes: u64,
    /// Open files (`RLIMIT_NOFILE`).
    pub open_files: u64,
    /// Wall-clock time one file may take; then the child's process group is killed.
    pub timeout: Duration,
}

impl Default for ChildLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 2 << 30,
            cpu_seconds: 60,
            output_bytes: 1 << 30,
            open_files: 64,
            timeout: Duration::from_secs(60),
        }
    }
}

impl ChildLimits {
    /// As arguments of the hidden subcommand.
    pub fn to_args(&self) -> Vec<String> {
        vec![
            format!("--memory-bytes={}", self.memory_bytes),
            format!("--cpu-seconds={}", self.cpu_seconds),
            format!("--output-bytes={}", self.output_bytes),
            format!("--open-files={}", self.open_files),
        ]
    }
}

fn limit(resource: rustix::process::Resource, value: u64) -> std::io::Result<()> {
    rustix::process::setrlimit(
        resource,
        rustix::process::Rlimit {
            current: Some(value),
            maximum: Some(value),
        },
    )
    .map_err(std::io::Error::from)
}

/// Lets the child use `seconds` more CPU seconds from now (the soft limit; the hard limit stays
/// open so the next file can move it again). Past it the kernel sends SIGXCPU, which kills.
fn allow_cpu_seconds(seconds: u64) -> std::io::Result<()> {
    let used = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    let used = u64::try_from(used.tv_sec).unwrap_or(0) + 1;
    rustix::process::setrlimit(
        rustix::process::Resource::Cpu,
        rustix::process::Rlimit {
            current: Some(used + seconds),
            maximum: None,
        },
    )
    .map_err(std::io::Error::from)
}

/// Where a child may touch the filesystem once it is running: it reads samples and writes its
/// outputs there, and nothing else (not the database, the keys, or the rest of the machine).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sandbox {
    /// Directories it may read beneath (the blob store, scratch copies).
    pub read: Vec<PathBuf>,
    /// Directories it may read and write beneath (its output directories).
    pub write: Vec<PathBuf>,
}

impl Sandbox {
    /// As arguments of the hidden subcommand.
    pub fn to_args(&self) -> Vec<String> {
        let read = self
            .read
            .iter()
            .map(|d| format!("--read-dir={}", d.display()));
        let write = self
            .write
            .iter()
            .map(|d| format!("--write-dir={}", d.display()));
        read.chain(write).collect()
    }

    /// Drops every other filesystem access with landlock, where the kernel has it. Returns
    /// whether the kernel enforces it (an older kernel leaves the rlimits as the only bounds).
    fn enter(&self) -> Result<bool, String> {
        use landlock::{
            ABI, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
            path_beneath_rules,
        };
        let abi = ABI::V5;
        let existing = |dirs: &[PathBuf]| -> Vec<PathBuf> {
            dirs.iter().filter(|d| d.is_dir()).cloned().collect()
        };
        let status = Ruleset::default()
            .handle_access(AccessFs::from_all(abi))
            .and_then(|r| r.create())
            .and_then(|r| {
                r.add_rules(path_beneath_rules(
                    existing(&self.read),
                    AccessFs::from_read(abi),
                ))
            })
            .and_then(|r| {
                r.add_rules(path_beneath_rules(
                    existing(&self.write),
                    AccessFs::from_all(abi),
                ))
            })
            .and_then(|r| r.restrict_self())
            .map_err(|e| e.to_string())?;
        Ok(status.ruleset != RulesetStatus::NotEnforced)
    }
}

/// What a child does with its requests.
#[derive(Clone, Copy)]
pub enum ChildRole<'a> {
    /// Scans with this engine.
    Engine(&'a dyn Engine),
    /// Opens archives with this opener (in a release, [`palisade_extract::InProcess`]).
    Archives(&'a dyn Opener),
}

/// The child's side: limits itself, enters its sandbox, then answers each request from stdin
/// on stdout until stdin closes. Engines must log to stderr only (stdout carries the frames).
pub fn serve_child(
    role: ChildRole<'_>,
    limits: &ChildLimits,
    sandbox: &Sandbox,
) -> std::io::Result<()> {
    use rustix::process::Resource;
    match sandbox.enter() {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            "landlock is not available: the parser process keeps its filesystem access"
        ),
        Err(error) => return Err(std::io::Error::other(format!("landlock: {error}"))),
    }
    limit(Resource::Core, 0)?;
    limit(Resource::As, limits.memory_bytes)?;
    limit(Resource::Fsize, limits.output_bytes)?;
    limit(Resource::Nofile, limits.open_files)?;
    let mut input = std::io::stdin();
    let mut output = std::io::stdout();
    while let Some(request) = read_frame::<Request>(&mut input)? {
        let reply = match (request, role) {
            (Request::Scan(request), ChildRole::Engine(engine)) => {
                allow_cpu_seconds(limits.cpu_seconds)?;
                Reply::Scanned(scan_in_child(engine, &request))
            }
            (Request::Extract(request), ChildRole::Archives(opener)) => {
                // An archive may take as long as its submission's time limit allows.
                let seconds = limits
                    .cpu_seconds
                    .max(request.terms.time_left().as_secs() + 1);
                allow_cpu_seconds(seconds)?;
                Reply::Extracted(extract_in_child(opener, &request))
            }
            (Request::Scan(_), ChildRole::Archives(_)) => {
                Reply::Scanned(Answer::Failed("this parser process runs no engine".into()))
            }
            (Request::Extract(_), ChildRole::Engine(_)) => {
                Reply::Extracted(Err("this parser process does not open archives".into()))
            }
        };
        write_frame(&mut output, &reply)?;
    }
    Ok(())
}

fn scan_in_child(engine: &dyn Engine, request: &ScanRequest) -> Answer {
    let scan_limits = Limits {
        timeout: Duration::from_millis(request.timeout_ms),
        max_bytes: request.max_bytes,
    };
    let context = match &request.output_dir {
        Some(dir) => ScanContext::with_output_dir(scan_limits, dir),
        None => ScanContext::new(scan_limits),
    }
    .with_cdr(request.cdr.clone())
    .with_dlp(request.dlp.clone());
    let sample = Sample {
        path: &request.path,
        size: request.size,
        display_name: &request.display_name,
        hashes: &request.hashes,
    };
    Answer::of(engine.scan(&sample, &context))
}

fn extract_in_child(opener: &dyn Opener, request: &ExtractRequest) -> Result<Outcome, String> {
    let budget = ParentBudget {
        terms: request.terms,
        allowance: Allowance::new(ASK_BYTES),
        pipes: Mutex::new((std::io::stdin(), std::io::stdout())),
    };
    let extractor = Extractor {
        out_dir: &request.out_dir,
        passwords: &request.passwords,
        budget: &budget,
        display_name: &request.display_name,
    };
    opener
        .open(&extractor, &request.archive, request.format)
        .map_err(|e| e.to_string())
}

/// Bytes a child asks the parent's budget for at a time.
const ASK_BYTES: u64 = 1 << 20;

/// The child's view of the submission's budget: deadline and ratio checked here, members and
/// bytes charged by asking the parent, which holds the shared account.
struct ParentBudget {
    terms: palisade_extract::Terms,
    allowance: Allowance,
    pipes: Mutex<(std::io::Stdin, std::io::Stdout)>,
}

impl ParentBudget {
    /// Asks the parent; a parent that is gone refuses.
    fn ask(&self, take: Take) -> bool {
        let mut pipes = self.pipes.lock().unwrap_or_else(|e| e.into_inner());
        let (input, output) = &mut *pipes;
        write_frame(output, &Reply::Take(take)).is_ok()
            && matches!(read_frame::<bool>(input), Ok(Some(true)))
    }
}

impl Budget for ParentBudget {
    fn take_member(&self) -> Result<(), Limit> {
        if self.ask(Take::Member) {
            Ok(())
        } else {
            Err(Limit::FileNumber)
        }
    }

    fn take_bytes(&self, bytes: u64) -> Result<(), Limit> {
        if self
            .allowance
            .take(bytes, |ahead| self.ask(Take::Bytes(ahead)))
        {
            Ok(())
        } else {
            Err(Limit::Size)
        }
    }

    fn terms(&self) -> palisade_extract::Terms {
        self.terms
    }
}

/// How to start a child: the program and its arguments (the hidden subcommand and the engine).
#[derive(Clone, Debug)]
pub struct ChildCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Where the children's stderr files are kept (one per child, removed with it).
    pub scratch: PathBuf,
}

/// One running child.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    stderr: PathBuf,
}

impl Worker {
    fn start(command: &ChildCommand) -> std::io::Result<Self> {
        let stderr = command
            .scratch
            .join(format!("parser-{}.log", palisade_model::random_hex(8)));
        let log = std::fs::File::create(&stderr)?;
        let mut child = Command::new(&command.program)
            .args(&command.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .process_group(0)
            .spawn()
            .inspect_err(|_| {
                let _ = std::fs::remove_file(&stderr);
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(std::io::Error::other("child without pipes"));
        };
        Ok(Self {
            child,
            stdin,
            stdout,
            stderr,
        })
    }

    fn kill(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The last lines the child wrote to stderr.
    fn stderr_tail(&self) -> String {
        let text = std::fs::read(&self.stderr).unwrap_or_default();
        let tail = &text[text.len().saturating_sub(4096)..];
        String::from_utf8_lossy(tail).into_owned()
    }

    /// Sends one request and waits for its reply until `deadline`, answering the child's
    /// budget asks with `on_take` on the way.
    fn call(
        &mut self,
        request: &Request,
        deadline: Instant,
        on_take: &mut dyn FnMut(Take) -> bool,
    ) -> Result<Reply, Ended> {
        if write_frame(&mut self.stdin, request).is_err() {
            return Err(Ended::Died);
        }
        loop {
            match self.read_reply(deadline)? {
                Reply::Take(take) => {
                    let granted = on_take(take);
                    if write_frame(&mut self.stdin, &granted).is_err() {
                        return Err(Ended::Died);
                    }
                }
                reply => return Ok(reply),
            }
        }
    }

    fn read_reply(&mut self, deadline: Instant) -> Result<Reply, Ended> {
        let mut len = [0u8; 4];
        self.read_by(&mut len, deadline)?;
        let len = u32::from_be_bytes(len) as usize;
        if len > 16 << 20 {
            return Err(Ended::Garbled);
        }
        let mut frame = vec![0u8; len + 4];
        frame[..4].copy_from_slice(&(len as u32).to_be_bytes());
        self.read_by(&mut frame[4..], deadline)?;
        match read_frame::<Reply>(&mut frame.as_slice()) {
            Ok(Some(reply)) => Ok(reply),
            _ => Err(Ended::Garbled),
        }
    }

    /// Fills `buf` from the child's stdout, waiting at most until `deadline`.
    fn read_by(&mut self, buf: &mut [u8], deadline: Instant) -> Result<(), Ended> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let mut filled = 0;
        while filled < buf.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Ended::TimedOut);
            }
            let timeout = Timespec {
                tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            let mut fds = [PollFd::new(&self.stdout, PollFlags::IN)];
            match poll(&mut fds, Some(&timeout)) {
                Ok(0) => continue,
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return Err(Ended::Died),
            }
            match self.stdout.read(&mut buf[filled..]) {
                Ok(0) => return Err(Ended::Died),
                Ok(n) => filled += n,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Ended::Died),
            }
        }
        Ok(())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.stderr);
    }
}

/// How a call to a child ended without an answer.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    TimedOut,
    Died,
    Garbled,
}

/// Why a child died, from its exit status and the end of its stderr (Rust's runtime says why
/// before it aborts: a failed allocation, a stack overflow).
fn crash_reason(
    status: Option<std::process::ExitStatus>,
    stderr: &str,
    limits: &ChildLimits,
) -> String {
    if stderr.contains("memory allocation of") {
        return format!(
            "parser crashed: memory limit ({} MiB)",
            limits.memory_bytes >> 20
        );
    }
    if stderr.contains("has overflowed its stack") {
        return "parser crashed: stack overflow".into();
    }
    match status.and_then(|s| s.signal()) {
        Some(24) => format!(
            "parser crashed: CPU time limit ({} s per file)",
            limits.cpu_seconds
        ),
        Some(25) => format!(
            "parser crashed: output size limit ({} MiB)",
            limits.output_bytes >> 20
        ),
        Some(signal) => format!("parser crashed: signal {signal}"),
        None => {
            let said = stderr
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or_default()
                .trim();
            match status.and_then(|s| s.code()) {
                Some(code) if said.is_empty() => format!("parser exited with code {code}"),
                Some(code) => format!("parser exited with code {code}: {said}"),
                None => "parser ended without answering".into(),
            }
        }
    }
}

/// Idle children kept at most per engine (the pool grows to the scans that run at once, which
/// the worker's engine slots bound well below this).
const MAX_IDLE: usize = 256;

/// Warm children for one engine. Each call takes an idle child (or starts one), and gives it
/// back when it answered, so the pool grows to the number of scans that run at once and no
/// scan pays a process start after that; a child that died, hung or garbled its answer is
/// discarded.
pub struct ParserPool {
    command: ChildCommand,
    limits: ChildLimits,
    idle: Mutex<Vec<Worker>>,
    /// Children started ahead by [`ParserPool::warm_up`].
    keep: usize,
}

impl ParserPool {
    pub fn new(command: ChildCommand, limits: ChildLimits, keep: usize) -> Self {
        Self {
            command,
            limits,
            idle: Mutex::new(Vec::new()),
            keep: keep.max(1),
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Worker>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts children until `keep` are idle, so scans do not pay a process start.
    pub fn warm_up(&self) -> std::io::Result<()> {
        while self.idle().len() < self.keep {
            let worker = Worker::start(&self.command)?;
            self.idle().push(worker);
        }
        Ok(())
    }

    /// Runs one request in a child, within `timeout` of wall-clock time.
    fn call(
        &self,
        request: &Request,
        timeout: Duration,
        on_take: &mut dyn FnMut(Take) -> bool,
    ) -> Result<Reply, Failure> {
        let taken = self.idle().pop();
        let mut worker = match taken {
            Some(worker) => worker,
            None => Worker::start(&self.command)
                .map_err(|e| Failure::Crashed(format!("cannot start the parser process: {e}")))?,
        };
        let deadline = Instant::now() + timeout;
        match worker.call(request, deadline, on_take) {
            Ok(reply) => {
                let mut idle = self.idle();
                if idle.len() < MAX_IDLE {
                    idle.push(worker);
                }
                Ok(reply)
            }
            Err(Ended::TimedOut) => {
                worker.kill();
                Err(Failure::TimedOut(timeout))
            }
            Err(ended) => {
                // The child is gone or unusable: collect its status (killing it if it lingers).
                let status = match worker.child.try_wait() {
                    Ok(Some(status)) => Some(status),
                    _ => {
                        std::thread::sleep(Duration::from_millis(20));
                        worker.child.try_wait().ok().flatten()
                    }
                };
                let reason = match ended {
                    Ended::Garbled => "parser answered garbage".to_string(),
                    _ => crash_reason(status, &worker.stderr_tail(), &self.limits),
                };
                tracing::warn!(file = %request.display_name(), %reason, "parser process failed");
                Err(Failure::Crashed(reason))
            }
        }
    }
}

/// How a call to a child failed.
enum Failure {
    /// The child was killed at the wall-clock limit.
    TimedOut(Duration),
    /// It died, could not start, or answered garbage; the text says which.
    Crashed(String),
}

/// An engine whose scans run in a [`ParserPool`]; its descriptor, status and health checks are
/// those of the same engine in this process (which never scans).
pub struct IsolatedEngine {
    inner: Arc<dyn Engine>,
    pool: ParserPool,
}

impl IsolatedEngine {
    pub fn new(inner: Arc<dyn Engine>, pool: ParserPool) -> Self {
        Self { inner, pool }
    }
}

impl Engine for IsolatedEngine {
    fn descriptor(&self) -> &EngineDescriptor {
        self.inner.descriptor()
    }

    fn status(&self) -> EngineStatus {
        self.inner.status()
    }

    fn refresh(&self) -> EngineStatus {
        if let Err(error) = self.pool.warm_up() {
            return EngineStatus::failed(format!("cannot start the parser process: {error}"));
        }
        self.inner.refresh()
    }

    fn scan(&self, sample: &Sample<'_>, context: &ScanContext) -> Result<Finding, EngineError> {
        let request = Request::Scan(Box::new(ScanRequest {
            path: sample.path.to_path_buf(),
            size: sample.size,
            display_name: sample.display_name.to_string(),
            hashes: sample.hashes.clone(),
            timeout_ms: u64::try_from(context.limits.timeout.as_millis()).unwrap_or(u64::MAX),
            max_bytes: context.limits.max_bytes,
            output_dir: context.output_dir().ok().map(|p| p.to_path_buf()),
            cdr: context.cdr.clone(),
            dlp: context.dlp.clone(),
        }));
        // The child's own limit ends before the worker's, so the reason is the child's.
        let timeout = self
            .pool
            .limits
            .timeout
            .min(context.limits.timeout.mul_f64(0.9));
        match self.pool.call(&request, timeout, &mut |_| false) {
            Ok(Reply::Scanned(answer)) => answer.into_result(),
            Ok(_) => Err(EngineError::Failed("parser answered garbage".into())),
            Err(Failure::TimedOut(timeout)) => Err(EngineError::NotScanned(format!(
                "parser timed out after {} s and was killed",
                timeout.as_secs_f64()
            ))),
            Err(Failure::Crashed(reason)) => Err(EngineError::Failed(reason)),
        }
    }
}

/// How long past the extraction deadline a child that has not stopped by itself is killed.
const EXTRACTION_GRACE: Duration = Duration::from_secs(5);

/// Opens archives in a [`ParserPool`] of children started for archives. RAR, which `unar`
/// decodes in a process of its own, is opened in the caller.
pub struct IsolatedExtractor {
    pool: ParserPool,
}

impl IsolatedExtractor {
    pub fn new(pool: ParserPool) -> Self {
        Self { pool }
    }

    /// Starts the pool's warm children (at start, so a broken set-up is found then).
    pub fn warm_up(&self) -> std::io::Result<()> {
        self.pool.warm_up()
    }
}

impl std::fmt::Debug for IsolatedExtractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IsolatedExtractor")
            .field("limits", &self.pool.limits)
            .finish_non_exhaustive()
    }
}

impl Opener for IsolatedExtractor {
    fn open(
        &self,
        extractor: &Extractor<'_>,
        archive: &std::path::Path,
        format: Format,
    ) -> Result<Outcome, ExtractError> {
        if !format.decodes_in_process() {
            return palisade_extract::InProcess.open(extractor, archive, format);
        }
        let terms = extractor.budget.terms();
        let request = Request::Extract(ExtractRequest {
            archive: archive.to_path_buf(),
            format,
            out_dir: extractor.out_dir.to_path_buf(),
            passwords: extractor.passwords.to_vec(),
            display_name: extractor.display_name.to_string(),
            terms,
        });
        // The child stops itself at the deadline; the wall clock is for a child that cannot.
        let timeout = terms.time_left() + EXTRACTION_GRACE;
        let budget = extractor.budget;
        let mut on_take = |take| match take {
            Take::Member => budget.take_member().is_ok(),
            Take::Bytes(bytes) => budget.take_bytes(bytes).is_ok(),
        };
        match self.pool.call(&request, timeout, &mut on_take) {
            Ok(Reply::Extracted(Ok(outcome))) => checked(outcome, extractor.out_dir),
            Ok(Reply::Extracted(Err(error))) => Err(ExtractError::Parser(error)),
            Ok(_) => Err(ExtractError::Parser("parser answered garbage".into())),
            // Whatever it wrote is dropped with the scratch folder: the archive is over time.
            Err(Failure::TimedOut(_)) => Ok(Outcome {
                stopped: Some(Limit::Timeout),
                ..Outcome::default()
            }),
            Err(Failure::Crashed(reason)) => Err(ExtractError::Parser(reason)),
        }
    }
}

/// A child's outcome, trusted only as far as its members are regular files directly inside
/// `out_dir` (a child that was subverted must not point the worker at other files).
fn checked(outcome: Outcome, out_dir: &std::path::Path) -> Result<Outcome, ExtractError> {
    for member in &outcome.members {
        let inside = member.path.parent() == Some(out_dir)
            && std::fs::symlink_metadata(&member.path).is_ok_and(|m| m.file_type().is_file());
        if !inside {
            return Err(ExtractError::Parser(format!(
                "parser named a member outside its folder: {}",
                member.path.display()
            )));
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(raw: i32) -> Option<std::process::ExitStatus> {
        Some(std::process::ExitStatus::from_raw(raw))
    }

    #[test]
    fn a_dead_child_is_described_by_why_it_died() {
        let limits = ChildLimits {
            memory_bytes: 512 << 20,
            ..ChildLimits::default()
        };
        assert_eq!(
            crash_reason(
                status(6),
                "memory allocation of 8589934592 bytes failed\n",
                &limits
            ),
            "parser crashed: memory limit (512 MiB)"
        );
        assert_eq!(
            crash_reason(
                status(6),
                "thread 'main' has overflowed its stack\nfatal runtime error: stack overflow",
                &limits
            ),
            "parser crashed: stack overflow"
        );
        assert_eq!(
            crash_reason(status(6), "", &limits),
            "parser crashed: signal 6"
        );
        assert_eq!(
            crash_reason(status(24), "", &limits),
            "parser crashed: CPU time limit (60 s per file)"
        );
        assert_eq!(
            crash_reason(status(25), "", &limits),
            "parser crashed: output size limit (1024 MiB)"
        );
        assert_eq!(
            crash_reason(status(3 << 8), "bad input\n", &limits),
            "parser exited with code 3: bad input"
        );
    }
}
