//! The analysis pipeline's pure core: the [`Engine`] trait, [`Limits`], and how engine outcomes
//! become one report and one verdict.
//!
//! Nothing here touches HTTP, SQL, storage or an async runtime; the worker runs engines on the
//! blocking pool under timeouts and hands their outcomes to [`assemble_report`].

mod assemble;
mod plan;
mod rows;

use std::path::{Path, PathBuf};
use std::time::Duration;

use palisade_model::{
    CdrPolicy, DlpInfo, DlpPolicy, EngineKind, EngineState, FileHashes, FileTypeInfo, OutputKind,
    SanitizationDetails, ScanResult, YaraSection,
};

pub use assemble::{
    ArchiveOutcome, ReportContext, VerdictPolicy, archive_report, archive_result, assemble_report,
    in_progress_report, terminal_report, verdict_blocks, withhold_copies,
};
pub use plan::{Phase, Plan, PlanRules, PostProcessWhen};
pub use rows::{archive_member, report_context};

/// The steps of the flow, in the order that decides the main result: the earliest step with a finding wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    Extraction,
    FileType,
    Lists,
    Reputation,
    Vulnerability,
    Yara,
    Antivirus,
    Dlp,
    Cdr,
}

/// What an engine is, for reports and `/stat/engines`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineDescriptor {
    /// Stable identifier (`eng_id`), unique among configured engines.
    pub id: String,
    /// Display name, the key of `scan_details`.
    pub name: String,
    pub stage: Stage,
    /// Whether the engine is listed in `scan_details` and counted in `total_avs`.
    pub in_scan_details: bool,
    /// What kind of engine it is: `eng_type` of `/stat/engines`, and through
    /// [`EngineKind::engine_type`] its `engine_type`.
    pub kind: EngineKind,
    /// The kind of copy the engine makes of a file (sanitized, redacted); `None` for an engine
    /// that makes none. See [`EngineDescriptor::post_processing`] for when it runs.
    pub produces: Option<OutputKind>,
}

impl EngineDescriptor {
    /// Whether the engine is a post-processing step, run after the engines that decide the
    /// verdict (and on the redacted copy when there is one): an engine that makes a copy,
    /// except Proactive DLP, whose hits are part of the verdict and which writes its redacted
    /// copy from the same reading of the file.
    pub fn post_processing(&self) -> bool {
        self.produces.is_some() && self.stage != Stage::Dlp
    }
}

/// An engine's health, as `/stat/engines` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineStatus {
    pub state: EngineState,
    pub version: String,
    /// Definition time, ISO-8601, or `""` when the engine has no definitions.
    pub def_time: String,
    /// Problems worth showing (rule files that failed to compile, for example).
    pub problems: Vec<String>,
}

impl EngineStatus {
    /// A working engine.
    pub fn production(version: impl Into<String>, def_time: impl Into<String>) -> Self {
        Self {
            state: EngineState::Production,
            version: version.into(),
            def_time: def_time.into(),
            problems: Vec::new(),
        }
    }

    /// A configured engine that is down for now (temporary failed), with why.
    pub fn failed(problem: impl Into<String>) -> Self {
        Self {
            state: EngineState::TemporaryFailed,
            version: String::new(),
            def_time: String::new(),
            problems: vec![problem.into()],
        }
    }

    /// An engine whose health has not been checked yet (it reads as down until it is).
    pub fn not_checked() -> Self {
        Self::failed("not checked yet")
    }

    /// An engine that cannot work on this machine (permanently failed), with why.
    pub fn unavailable(problem: impl Into<String>) -> Self {
        Self {
            state: EngineState::PermanentlyFailed,
            ..Self::failed(problem)
        }
    }
}

/// The last health check of an engine whose checks do I/O: `Engine::status` reads it,
/// `Engine::refresh` writes it.
#[derive(Debug, Default)]
pub struct StatusCell(std::sync::Mutex<Option<EngineStatus>>);

impl StatusCell {
    pub fn get(&self) -> Option<EngineStatus> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records a check's result and returns it.
    pub fn set(&self, status: EngineStatus) -> EngineStatus {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(status.clone());
        status
    }

    /// The last check's result, or [`EngineStatus::not_checked`] before the first: never does
    /// the check itself, since callers may be on an async thread.
    pub fn current(&self) -> EngineStatus {
        self.get().unwrap_or_else(EngineStatus::not_checked)
    }
}

/// The file an engine looks at. Engines read it; they never execute or modify it.
#[derive(Clone, Copy, Debug)]
pub struct Sample<'a> {
    pub path: &'a Path,
    pub size: u64,
    pub display_name: &'a str,
    pub hashes: &'a FileHashes,
}

/// Bounds every engine runs under.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub timeout: Duration,
    /// Most bytes an engine may read from the sample.
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            max_bytes: 1 << 40,
        }
    }
}

/// A rule's settings for the engines that read them: Deep CDR's and Proactive DLP's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policies {
    pub cdr: CdrPolicy,
    pub dlp: DlpPolicy,
}

/// What an engine is given besides the sample: its bounds, the rule's sanitization settings,
/// and for an engine that produces copies ([`EngineDescriptor::produces`]) a private, empty
/// directory to write them in, which the worker made (owner-only) and removes after storing
/// what the finding names from it.
#[derive(Debug)]
pub struct ScanContext {
    pub limits: Limits,
    /// The rule's Deep CDR settings (read by the sanitization engine).
    pub cdr: CdrPolicy,
    /// The rule's Proactive DLP settings (read by the DLP engine).
    pub dlp: DlpPolicy,
    output_dir: Option<PathBuf>,
}

impl ScanContext {
    /// The context of an engine that produces nothing.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            cdr: CdrPolicy::default(),
            dlp: DlpPolicy::default(),
            output_dir: None,
        }
    }

    /// The context of an engine that writes its copies in `output_dir` (existing, empty).
    pub fn with_output_dir(limits: Limits, output_dir: impl Into<PathBuf>) -> Self {
        Self {
            output_dir: Some(output_dir.into()),
            ..Self::new(limits)
        }
    }

    /// The same context under a rule's sanitization settings.
    pub fn with_cdr(self, cdr: CdrPolicy) -> Self {
        Self { cdr, ..self }
    }

    /// The same context under a rule's DLP settings.
    pub fn with_dlp(self, dlp: DlpPolicy) -> Self {
        Self { dlp, ..self }
    }

    /// The same context under all of a rule's engine settings.
    pub fn with_policies(self, policies: Policies) -> Self {
        self.with_cdr(policies.cdr).with_dlp(policies.dlp)
    }

    /// The engine's private output directory; an error for an engine that does not declare
    /// that it produces copies.
    pub fn output_dir(&self) -> std::io::Result<&Path> {
        self.output_dir.as_deref().ok_or_else(|| {
            std::io::Error::other("no output directory: the engine does not declare outputs")
        })
    }
}

/// A file an engine produced from the sample, inside its [`ScanContext::output_dir`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputFile {
    pub kind: OutputKind,
    /// The name a download offers.
    pub name: String,
    pub path: PathBuf,
}

/// What an engine found about a sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub result: ScanResult,
    /// Threat name for detections; otherwise empty.
    pub threat_found: String,
    pub section: Section,
    /// Files the engine produced (a sanitized or redacted copy).
    pub outputs: Vec<OutputFile>,
}

impl Finding {
    pub fn clean() -> Self {
        Self {
            result: ScanResult::NoThreatDetected,
            threat_found: String::new(),
            section: Section::None,
            outputs: Vec::new(),
        }
    }

    /// A finding of `result` with a threat name and nothing else.
    pub fn of(result: ScanResult, threat_found: impl Into<String>) -> Self {
        Self {
            result,
            threat_found: threat_found.into(),
            ..Self::clean()
        }
    }
}

/// The part of the report only one kind of engine fills.
#[derive(Clone, Debug, PartialEq)]
pub enum Section {
    None,
    FileType(Box<FileTypeFinding>),
    Yara(YaraSection),
    /// What sanitization did (`post_processing.sanitization_details`).
    Sanitization(Box<SanitizationDetails>),
    /// What Proactive DLP found (`dlp_info`).
    Dlp(Box<DlpInfo>),
}

/// What the file type engine determined.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileTypeFinding {
    pub mime_type: String,
    pub description: String,
    pub type_category: Vec<String>,
    pub info: FileTypeInfo,
}

/// Errors an engine reports for one sample; recorded in the report, never fatal to the job.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Failed(String),
    #[error("not scanned: {0}")]
    NotScanned(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// One analysis engine. Synchronous: the worker calls it on a blocking thread under a timeout.
pub trait Engine: Send + Sync + 'static {
    fn descriptor(&self) -> &EngineDescriptor;
    /// The engine's health as last checked. Cheap: callers may be on an async thread.
    fn status(&self) -> EngineStatus;
    /// Checks the engine's health now (may block on I/O) and returns the new status. Called
    /// periodically; engines without external state keep the default.
    fn refresh(&self) -> EngineStatus {
        self.status()
    }
    /// Bytes this engine holds in the server's memory at once while scanning `sample` (a
    /// whole-file read or memory map counts its size). The worker reserves them from the scan
    /// memory budget before the scan starts, so big files wait for each other instead of adding
    /// up. Engines that stream the file, or hand it to another process, keep the default 0.
    fn memory_for(&self, _sample: &Sample<'_>) -> u64 {
        0
    }
    fn scan(&self, sample: &Sample<'_>, context: &ScanContext) -> Result<Finding, EngineError>;
}

/// How one engine's run on one sample ended.
#[derive(Clone, Debug, PartialEq)]
pub enum RunOutcome {
    Finished(Finding),
    Errored(String),
    NotScanned(String),
    Panicked(String),
    TimedOut(Duration),
}

/// One engine's run on one sample, as the worker observed it.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineRun {
    pub descriptor: EngineDescriptor,
    pub def_time: String,
    pub scan_time_ms: i64,
    pub outcome: RunOutcome,
}

impl EngineRun {
    /// The result this run contributes: a failure is never clean.
    pub fn result(&self) -> ScanResult {
        match &self.outcome {
            RunOutcome::Finished(finding) => finding.result,
            RunOutcome::Errored(_) | RunOutcome::Panicked(_) => ScanResult::Failed,
            RunOutcome::NotScanned(_) | RunOutcome::TimedOut(_) => ScanResult::NotScanned,
        }
    }

    /// `threat_found`: the threat name, or the reason the engine did not finish.
    pub fn threat_found(&self) -> String {
        match &self.outcome {
            RunOutcome::Finished(finding) => finding.threat_found.clone(),
            RunOutcome::Errored(reason) => format!("engine error: {reason}"),
            RunOutcome::NotScanned(reason) => format!("not scanned: {reason}"),
            RunOutcome::Panicked(reason) => format!("engine crashed: {reason}"),
            RunOutcome::TimedOut(limit) => {
                format!("engine timed out after {} ms", limit.as_millis())
            }
        }
    }

    /// Turns an engine's return value into an outcome.
    pub fn outcome_of(result: Result<Finding, EngineError>) -> RunOutcome {
        match result {
            Ok(finding) => RunOutcome::Finished(finding),
            Err(EngineError::NotScanned(reason)) => RunOutcome::NotScanned(reason),
            Err(other) => RunOutcome::Errored(other.to_string()),
        }
    }
}

/// The configured engines, shared by workers (to run them) and the gateway (to describe them).
#[derive(Clone, Default)]
pub struct Roster {
    engines: Vec<std::sync::Arc<dyn Engine>>,
}

impl Roster {
    pub fn new(engines: Vec<std::sync::Arc<dyn Engine>>) -> Self {
        Self { engines }
    }

    pub fn all(&self) -> &[std::sync::Arc<dyn Engine>] {
        &self.engines
    }

    /// The engines a rule runs: all of them, or those whose ids the rule names.
    pub fn for_rule(&self, selected: Option<&[String]>) -> Vec<std::sync::Arc<dyn Engine>> {
        self.engines
            .iter()
            .filter(|engine| selected.is_none_or(|ids| ids.contains(&engine.descriptor().id)))
            .cloned()
            .collect()
    }

    /// A rule's engines and the plan that runs them (which also counts `total_avs`).
    pub fn plan(
        &self,
        selected: Option<&[String]>,
        rules: PlanRules,
    ) -> (Vec<std::sync::Arc<dyn Engine>>, Plan) {
        let engines = self.for_rule(selected);
        let descriptors = engines.iter().map(|e| e.descriptor().clone()).collect();
        (engines, Plan::new(descriptors, rules))
    }
}
