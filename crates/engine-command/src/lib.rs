//! Command-line scanner engine: runs a scanner program on a copy of the sample in a scratch
//! directory, under a timeout, and reads the verdict from its exit code and the threat name from
//! its output. A program that makes a copy of the file (a sanitizer or a redactor) writes it to
//! `{output}`, a path in the scan's private output directory, and is a post-processing step.
//!
//! The program gets a private copy (scanners may quarantine or delete what they detect) under a
//! sanitised file name. Its output is kept up to a bound and the rest is discarded. On timeout the
//! program and everything it started are killed. An exit code the settings do not list, a crash
//! or a missing program is Failed; a timeout is Not Scanned. Neither reads as clean.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use palisade_model::{OutputKind, ScanResult};
use palisade_pipeline::{
    Engine, EngineDescriptor, EngineError, EngineStatus, Finding, OutputFile, Sample, ScanContext,
    Stage, StatusCell,
};
use regex::Regex;

/// One configured command-line scanner.
#[derive(Clone, Debug)]
pub struct CommandSettings {
    pub id: String,
    pub name: String,
    /// Program and arguments. `{path}` is replaced by the sample copy's path, `{dir}` by the
    /// scratch directory, `{name}` by the sanitised file name.
    pub command: Vec<String>,
    pub clean_codes: Vec<i32>,
    pub infected_codes: Vec<i32>,
    pub suspicious_codes: Vec<i32>,
    /// Finds the threat name in the output (stdout, then stderr): the first capture group, or
    /// the whole match.
    pub threat_pattern: Option<Regex>,
    pub timeout: Duration,
    /// Where per-scan scratch directories are made (the system's temporary directory if unset).
    pub scratch_dir: Option<PathBuf>,
    /// Program and arguments whose first output line is the scanner's version.
    pub version_command: Option<Vec<String>>,
    /// A file or directory whose newest modification time is the definitions' date.
    pub definitions: Option<PathBuf>,
    /// Bytes of stdout and of stderr kept; the rest is read and dropped.
    pub max_output: usize,
    /// Set for a program that makes a copy of the file (a sanitizer or a redactor) instead of
    /// scanning it: it writes the copy to `{output}` and exits with a clean code. It runs as a
    /// post-processing step, after the engines that decide the verdict.
    pub produces: Option<OutputKind>,
}

/// What one run of a program produced.
#[derive(Debug)]
struct Ran {
    /// `None` when a signal ended it.
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// A command-line scanner as an engine.
pub struct CommandEngine {
    descriptor: EngineDescriptor,
    settings: CommandSettings,
    status: StatusCell,
}

/// Characters kept in a file name given to the scanner; the rest become `_`.
fn sanitised_name(display_name: &str) -> String {
    let base = display_name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    // No hidden files, and nothing a program could take for an option.
    let clean = clean.trim_start_matches(['.', '-']);
    if clean.is_empty() {
        "sample".into()
    } else {
        clean.to_string()
    }
}

/// Reads everything from `source`, keeping the first `limit` bytes.
fn read_bounded(mut source: impl Read, limit: usize) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match source.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = limit.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// Kills a program started in its own process group, with everything it started.
fn kill_group(child: &mut Child) {
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
}

/// Runs `argv` in `dir` with bounded output; `Err` when it cannot start, `Ok(None)` on timeout.
fn run(
    argv: &[String],
    dir: Option<&Path>,
    timeout: Duration,
    max_output: usize,
) -> std::io::Result<Option<Ran>> {
    use std::os::unix::process::CommandExt;
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command"))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let mut child = command.spawn()?;
    let stdout = child
        .stdout
        .take()
        .map(|out| std::thread::spawn(move || read_bounded(out, max_output)));
    let stderr = child
        .stderr
        .take()
        .map(|err| std::thread::spawn(move || read_bounded(err, max_output)));
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(200);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            kill_group(&mut child);
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_millis(10));
    };
    // Anything the program left running in its group holds the pipes open: end it too.
    kill_group(&mut child);
    let collect = |handle: Option<std::thread::JoinHandle<String>>| {
        handle.and_then(|h| h.join().ok()).unwrap_or_default()
    };
    let (stdout, stderr) = (collect(stdout), collect(stderr));
    Ok(status.map(|status| Ran {
        code: status.code(),
        stdout,
        stderr,
    }))
}

/// Newest modification time under `path` (the path itself, or the files directly in it).
fn newest_mtime(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .flatten()
        .filter_map(|entry| entry.metadata().ok()?.modified().ok())
        .max()
}

impl CommandEngine {
    pub fn new(settings: CommandSettings) -> Self {
        Self {
            descriptor: EngineDescriptor {
                id: settings.id.clone(),
                name: settings.name.clone(),
                stage: match settings.produces {
                    None => Stage::Antivirus,
                    Some(OutputKind::Sanitized) => Stage::Cdr,
                    Some(OutputKind::Redacted) => Stage::Dlp,
                },
                // A post-processing step is not an antivirus engine.
                in_scan_details: settings.produces.is_none(),
                kind: palisade_model::EngineKind::Command,
                produces: settings.produces,
            },
            settings,
            status: StatusCell::default(),
        }
    }

    fn probe(&self) -> EngineStatus {
        let version = match &self.settings.version_command {
            Some(argv) => match run(argv, None, Duration::from_secs(30), 4096) {
                Ok(Some(ran)) if ran.code == Some(0) => ran
                    .stdout
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                Ok(Some(ran)) => {
                    return EngineStatus::failed(format!(
                        "version command exited with {:?}: {}",
                        ran.code,
                        ran.stderr.trim()
                    ));
                }
                Ok(None) => return EngineStatus::failed("version command timed out"),
                Err(error) => {
                    return EngineStatus::failed(format!(
                        "cannot run the version command: {error}"
                    ));
                }
            },
            None => {
                let program = self.settings.command.first().cloned().unwrap_or_default();
                if !program_exists(&program) {
                    return EngineStatus::unavailable(format!("program {program:?} not found"));
                }
                String::new()
            }
        };
        let def_time = self
            .settings
            .definitions
            .as_deref()
            .and_then(newest_mtime)
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| palisade_model::format_timestamp(i64::try_from(d.as_millis()).unwrap_or(0)))
            .unwrap_or_default();
        EngineStatus::production(version, def_time)
    }

    fn threat(&self, ran: &Ran) -> String {
        let found = self.settings.threat_pattern.as_ref().and_then(|pattern| {
            [&ran.stdout, &ran.stderr].into_iter().find_map(|text| {
                let captures = pattern.captures(text)?;
                let name = captures.get(1).or_else(|| captures.get(0))?;
                Some(name.as_str().trim().to_string())
            })
        });
        found
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| format!("detected by {}", self.settings.name))
    }
}

/// The finding of a program that exited clean after writing its copy of the file to `output`;
/// Failed when it wrote none (a step that did not produce its copy is never reported as done).
fn produced(kind: OutputKind, display_name: &str, output: PathBuf) -> Result<Finding, EngineError> {
    match std::fs::symlink_metadata(&output) {
        Ok(meta) if meta.file_type().is_file() => {}
        _ => {
            return Err(EngineError::Failed(format!(
                "the program exited clean but wrote no {} copy to {{output}}",
                kind.as_str()
            )));
        }
    }
    let name = display_name
        .rsplit(['/', '\\'])
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("file");
    Ok(Finding {
        outputs: vec![OutputFile {
            kind,
            name: name.to_string(),
            path: output,
        }],
        ..Finding::clean()
    })
}

fn program_exists(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

impl Engine for CommandEngine {
    fn descriptor(&self) -> &EngineDescriptor {
        &self.descriptor
    }

    fn status(&self) -> EngineStatus {
        self.status.current()
    }

    fn refresh(&self) -> EngineStatus {
        self.status.set(self.probe())
    }

    fn scan(&self, sample: &Sample<'_>, context: &ScanContext) -> Result<Finding, EngineError> {
        let limits = &context.limits;
        let settings = &self.settings;
        let scratch = match &settings.scratch_dir {
            Some(parent) => tempfile::Builder::new().prefix("scan-").tempdir_in(parent),
            None => tempfile::Builder::new().prefix("palisade-scan-").tempdir(),
        }?;
        let name = sanitised_name(sample.display_name);
        let copy = scratch.path().join(&name);
        std::fs::copy(sample.path, &copy)?;
        let output = match settings.produces {
            Some(_) => Some(context.output_dir()?.join(&name)),
            None => None,
        };
        let argv: Vec<String> = settings
            .command
            .iter()
            .map(|arg| {
                let arg = arg
                    .replace("{path}", &copy.to_string_lossy())
                    .replace("{dir}", &scratch.path().to_string_lossy())
                    .replace("{name}", &name);
                match &output {
                    Some(output) => arg.replace("{output}", &output.to_string_lossy()),
                    None => arg,
                }
            })
            .collect();
        let timeout = settings.timeout.min(limits.timeout);
        let ran = run(&argv, Some(scratch.path()), timeout, settings.max_output)
            .map_err(|e| EngineError::Failed(format!("cannot run {:?}: {e}", argv[0])))?;
        let Some(ran) = ran else {
            return Err(EngineError::NotScanned(format!(
                "scanner timed out after {} s and was killed",
                timeout.as_secs_f64()
            )));
        };
        let Some(code) = ran.code else {
            return Err(EngineError::Failed("scanner was killed by a signal".into()));
        };
        if settings.clean_codes.contains(&code) {
            match (settings.produces, output) {
                (Some(kind), Some(output)) => produced(kind, sample.display_name, output),
                _ => Ok(Finding::clean()),
            }
        } else if settings.infected_codes.contains(&code) {
            Ok(Finding {
                result: ScanResult::Infected,
                threat_found: self.threat(&ran),
                ..Finding::clean()
            })
        } else if settings.suspicious_codes.contains(&code) {
            Ok(Finding {
                result: ScanResult::Suspicious,
                threat_found: self.threat(&ran),
                ..Finding::clean()
            })
        } else {
            let said = ran
                .stderr
                .lines()
                .chain(ran.stdout.lines())
                .rfind(|line| !line.trim().is_empty())
                .unwrap_or_default()
                .trim()
                .to_string();
            Err(EngineError::Failed(format!(
                "scanner exited with code {code}: {said}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_given_to_scanners_are_sanitised() {
        assert_eq!(sanitised_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitised_name("C:\\temp\\a b.exe"), "a_b.exe");
        assert_eq!(sanitised_name("..."), "sample");
        assert_eq!(sanitised_name(""), "sample");
        assert_eq!(sanitised_name("-rf"), "rf");
        assert_eq!(sanitised_name("rapport été.pdf"), "rapport__t_.pdf");
    }

    #[test]
    fn output_is_bounded_but_drained() {
        let text = read_bounded(&b"abcdefgh"[..], 3);
        assert_eq!(text, "abc");
    }
}
