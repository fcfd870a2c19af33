//! Proactive DLP (data-loss prevention), the built-in engine (id `dlp`): finds card numbers,
//! social security numbers, IBANs, IPv4 addresses and a rule's own patterns in a file's text
//! and in its name, each hit with a certainty score from 0 to 100 (`recognize.rs`), masked for
//! stored reports (`mask.rs`), in text decoded and located piece by piece (`text.rs`);
//! `report.rs` turns the hits into the report's `dlp_info`.
//!
//! Formats read (`extract/`): plain text (and CSV, JSON, XML, HTML, Markdown, logs), PDF,
//! Word, Excel and PowerPoint (Office Open XML), OpenDocument, RTF, e-mail messages and
//! Excel 97-2003 workbooks. The content of any other file is not examined, and `dlp_info`
//! says so (verdict 4, Not scanned, unless its name holds a hit) rather than calling it
//! clean; a file that cannot be read as its format is verdict 3, Failed. The binary runs the
//! engine in parser processes.

pub mod extract;
pub mod mask;
mod recognize;
pub mod redact;
pub mod report;
pub mod text;

use std::collections::BTreeMap;
use std::time::Instant;

use palisade_model::{
    DlpInfo, DlpVerdict, EngineKind, MetadataRemovalResult, OutputKind, RedactResult, ScanResult,
};
use palisade_pipeline::{
    Engine, EngineDescriptor, EngineError, EngineStatus, Finding, OutputFile, Sample, ScanContext,
    Section, Stage,
};
use redact::{Redaction, Targets};

pub use extract::{Format, extract};
pub use recognize::{Kind, Match, Recognizers};

/// The engine's id in rules and reports.
pub const ENGINE_ID: &str = "dlp";

/// The Proactive DLP engine.
pub struct DlpEngine {
    descriptor: EngineDescriptor,
}

impl Default for DlpEngine {
    fn default() -> Self {
        Self {
            descriptor: EngineDescriptor {
                id: ENGINE_ID.into(),
                name: "Proactive DLP".into(),
                stage: Stage::Dlp,
                in_scan_details: false,
                kind: EngineKind::Dlp,
                produces: Some(OutputKind::Redacted),
            },
        }
    }
}

impl Engine for DlpEngine {
    fn descriptor(&self) -> &EngineDescriptor {
        &self.descriptor
    }

    fn status(&self) -> EngineStatus {
        EngineStatus::production(env!("CARGO_PKG_VERSION"), "")
    }

    fn scan(&self, sample: &Sample<'_>, context: &ScanContext) -> Result<Finding, EngineError> {
        let policy = &context.dlp;
        let recognizers = Recognizers::new(policy).map_err(EngineError::Failed)?;
        // Stop reading with time to spare, so that what was read is reported rather than the
        // run being ended from outside.
        let started = Instant::now();
        let deadline = started + context.limits.timeout.mul_f64(0.8);
        let mut pieces = vec![text::Piece::new("file name", sample.display_name)];
        let mut notes = Vec::new();
        let mut failed = false;
        let mut read = false;
        let format = Format::detect(sample.path)?;
        match format {
            None => notes.push(
                "the content was not examined: DLP does not read this type of file (only the \
                 file name was examined)"
                    .to_string(),
            ),
            Some(format) => {
                let extraction = extract(sample.path, format, policy.max_text_bytes, deadline);
                // Said of a file of which some text was read nevertheless.
                let whole = if extraction.pieces.is_empty() {
                    ""
                } else {
                    " whole"
                };
                if let Some(failure) = extraction.failure {
                    failed = true;
                    notes.push(format!(
                        "the {} could not be read{whole}: {failure}",
                        format.name()
                    ));
                } else if let Some(why) = extraction.unread {
                    notes.push(format!("the content was not examined{whole}: {why}"));
                } else {
                    read = true;
                }
                notes.extend(extraction.notes);
                pieces.extend(extraction.pieces);
            }
        }
        let read_whole = read && notes.is_empty();
        let mut errors = BTreeMap::new();
        if !notes.is_empty() {
            errors.insert("scan".to_string(), notes.join("; "));
        }
        let assessment = report::assess(&pieces, &recognizers, policy, errors);
        let secrets = if policy.redact || policy.remove_metadata {
            assessment.secrets(&pieces)
        } else {
            Default::default()
        };
        let mut info = assessment.info;
        if info.verdict != DlpVerdict::Found {
            if failed {
                info.verdict = DlpVerdict::Failed;
            } else if !read && info.verdict == DlpVerdict::Clean {
                info.verdict = DlpVerdict::NotScanned;
            }
        }
        let mut outputs = Vec::new();
        if policy.redact || policy.remove_metadata {
            let targets = Targets::new(secrets);
            let asked = Asked {
                sample,
                format,
                read_whole,
                targets: &targets,
                deadline: started + context.limits.timeout.mul_f64(0.9),
                read_took: started.elapsed(),
            };
            outputs.extend(asked.redact(&mut info, policy, context)?);
        }
        let mut finding = finding(info);
        finding.outputs = outputs;
        Ok(finding)
    }
}

/// A redacted copy asked of a file by its rule.
struct Asked<'a> {
    sample: &'a Sample<'a>,
    /// The file's format, when DLP reads it.
    format: Option<Format>,
    /// Whether all of the file was read (nothing else can be redacted).
    read_whole: bool,
    targets: &'a Targets,
    /// When redacting, the check of the copy included, must end.
    deadline: Instant,
    /// How long reading the file took: redacting takes about twice as long (writing the copy,
    /// reading it again).
    read_took: std::time::Duration,
}

impl Asked<'_> {
    /// Writes the copy when there is something to take out of the file (a value at the
    /// rule's certainty, or with metadata removal its metadata), and says in the report what
    /// was done: `redact`, `metadata_removal`, `filename`, each hit's `tryRedact`, and in
    /// `errors` why something was not.
    fn redact(
        &self,
        info: &mut DlpInfo,
        policy: &palisade_model::DlpPolicy,
        context: &ScanContext,
    ) -> Result<Option<OutputFile>, EngineError> {
        let values = policy.redact && !self.targets.values().is_empty();
        if !values && !policy.remove_metadata {
            return Ok(None);
        }
        let format = match (self.format, self.read_whole) {
            (Some(format), true) => format,
            (None, _) => {
                return Ok(self.not_done(info, "DLP does not redact this type of file"));
            }
            (Some(_), false) => {
                return Ok(self.not_done(
                    info,
                    "the file was not examined whole (see errors.scan), so a copy could still \
                     hold sensitive data",
                ));
            }
        };
        if !values
            && !matches!(
                format,
                Format::Pdf | Format::Word | Format::Excel | Format::PowerPoint
            )
        {
            return Ok(None);
        }
        if Instant::now() + self.read_took * 2 > self.deadline {
            return Ok(self.not_done(
                info,
                &format!(
                    "too little of the engine's time limit was left to redact the file (reading \
                     it took {} ms)",
                    self.read_took.as_millis()
                ),
            ));
        }
        let name = copy_name(self.sample.display_name, self.targets);
        let path = context.output_dir()?.join("copy");
        let removal = |removed: bool| {
            if removed {
                MetadataRemovalResult::Removed
            } else {
                MetadataRemovalResult::NotRemoved
            }
        };
        match redact::redact(
            self.sample.path,
            format,
            self.targets,
            policy.remove_metadata,
            &path,
            self.deadline,
        ) {
            Redaction::Redacted { metadata_removed } => {
                if values {
                    info.redact.result = RedactResult::Redacted;
                    for hit in info.hits.values_mut().flat_map(|kind| kind.hits.iter_mut()) {
                        hit.try_redact = hit.certainty >= policy.min_certainty;
                    }
                }
                info.metadata_removal.result = removal(metadata_removed);
                if policy.remove_metadata && !metadata_removed {
                    info.errors.insert(
                        "metadata_removal".into(),
                        format!("the {} has no document metadata to remove", format.name()),
                    );
                }
                info.filename = name.clone();
                Ok(Some(OutputFile {
                    kind: OutputKind::Redacted,
                    name,
                    path,
                }))
            }
            Redaction::NotRedacted(why) => Ok(self.not_done(info, &why)),
            Redaction::Failed(why) => {
                if values {
                    info.redact.result = RedactResult::FailedToRedact;
                    info.errors.insert("redact".into(), why.clone());
                }
                if policy.remove_metadata {
                    info.metadata_removal.result = MetadataRemovalResult::FailedToRemove;
                    info.errors.insert("metadata_removal".into(), why);
                }
                Ok(None)
            }
        }
    }

    /// No copy, and why, in the report.
    fn not_done(&self, info: &mut DlpInfo, why: &str) -> Option<OutputFile> {
        if !self.targets.values().is_empty() {
            info.redact.result = RedactResult::NotRedacted;
            info.errors.insert("redact".into(), why.to_string());
        }
        info.metadata_removal.result = MetadataRemovalResult::NotRemoved;
        info.errors
            .insert("metadata_removal".into(), why.to_string());
        None
    }
}

/// The copy's name: the file's own (without folders), with any value in it masked.
fn copy_name(display_name: &str, targets: &Targets) -> String {
    let base = display_name
        .rsplit(['/', '\\'])
        .next()
        .filter(|base| !base.is_empty())
        .unwrap_or("file");
    targets
        .mask(base, redact::MASK)
        .unwrap_or_else(|| base.to_string())
}

/// The finding of a DLP run: Sensitive Data Found (20) when a hit reaches the rule's
/// certainty, Failed (3) when the file could not be read as its format (as when a parser
/// crashes on it), else no threat.
fn finding(info: DlpInfo) -> Finding {
    let (result, threat_found) = match info.verdict {
        DlpVerdict::Found => (ScanResult::SensitiveDataFound, String::new()),
        DlpVerdict::Failed => (
            ScanResult::Failed,
            info.errors.get("scan").cloned().unwrap_or_default(),
        ),
        _ => (ScanResult::NoThreatDetected, String::new()),
    };
    Finding {
        result,
        threat_found,
        section: Section::Dlp(Box::new(info)),
        outputs: Vec::new(),
    }
}
