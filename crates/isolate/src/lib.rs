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
//! This is the only module that starts children for engines (the command-line engine starts its
//! scanner program, which is the engine itself).

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

use crate::wire::{Answer, Request, read_frame, write_frame};

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

/// The child's side: limits itself, enters its sandbox, then runs `engine` on each request from
/// stdin and answers on stdout until stdin closes. Engines must log to stderr only (stdout
/// carries the frames).
pub fn serve_child(
    engine: &dyn Engine,
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
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    while let Some(request) = read_frame::<Request>(&mut input)? {
        allow_cpu_seconds(limits.cpu_seconds)?;
        let scan_limits = Limits {
            timeout: Duration::from_millis(request.timeout_ms),
            max_bytes: request.max_bytes,
        };
        let context = match &request.output_dir {
            Some(dir) => ScanContext::with_output_dir(scan_limits, dir),
            None => ScanContext::new(scan_limits),
        };
        let sample = Sample {
            path: &request.path,
            size: request.size,
            display_name: &request.display_name,
            hashes: &request.hashes,
        };
        let answer = Answer::of(engine.scan(&sample, &context));
        write_frame(&mut output, &answer)?;
    }
    Ok(())
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

    /// Sends one request and waits for the answer until `deadline`.
    fn call(&mut self, request: &Request, deadline: Instant) -> Result<Answer, Ended> {
        if write_frame(&mut self.stdin, request).is_err() {
            return Err(Ended::Died);
        }
        let mut len = [0u8; 4];
        self.read_by(&mut len, deadline)?;
        let len = u32::from_be_bytes(len) as usize;
        if len > 16 << 20 {
            return Err(Ended::Garbled);
        }
        let mut frame = vec![0u8; len + 4];
        frame[..4].copy_from_slice(&(len as u32).to_be_bytes());
        self.read_by(&mut frame[4..], deadline)?;
        match read_frame::<Answer>(&mut frame.as_slice()) {
            Ok(Some(answer)) => Ok(answer),
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
    fn run(&self, request: &Request, timeout: Duration) -> Result<Finding, EngineError> {
        let taken = self.idle().pop();
        let mut worker = match taken {
            Some(worker) => worker,
            None => Worker::start(&self.command).map_err(|e| {
                EngineError::Failed(format!("cannot start the parser process: {e}"))
            })?,
        };
        let deadline = Instant::now() + timeout;
        match worker.call(request, deadline) {
            Ok(answer) => {
                let mut idle = self.idle();
                if idle.len() < MAX_IDLE {
                    idle.push(worker);
                }
                answer.into_result()
            }
            Err(Ended::TimedOut) => {
                worker.kill();
                Err(EngineError::NotScanned(format!(
                    "parser timed out after {} s and was killed",
                    timeout.as_secs_f64()
                )))
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
                tracing::warn!(engine = %request.display_name, %reason, "parser process failed");
                Err(EngineError::Failed(reason))
            }
        }
    }
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
        let request = Request {
            path: sample.path.to_path_buf(),
            size: sample.size,
            display_name: sample.display_name.to_string(),
            hashes: sample.hashes.clone(),
            timeout_ms: u64::try_from(context.limits.timeout.as_millis()).unwrap_or(u64::MAX),
            max_bytes: context.limits.max_bytes,
            output_dir: context.output_dir().ok().map(|p| p.to_path_buf()),
        };
        // The child's own limit ends before the worker's, so the reason is the child's.
        let timeout = self
            .pool
            .limits
            .timeout
            .min(context.limits.timeout.mul_f64(0.9));
        self.pool.run(&request, timeout)
    }
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
