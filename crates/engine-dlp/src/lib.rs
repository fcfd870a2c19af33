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
pub mod report;
pub mod text;

use std::collections::BTreeMap;
use std::time::Instant;

use palisade_model::{DlpInfo, DlpVerdict, EngineKind, ScanResult};
use palisade_pipeline::{
    Engine, EngineDescriptor, EngineError, EngineStatus, Finding, Sample, ScanContext, Section,
    Stage,
};

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
                produces: None,
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
        let deadline = Instant::now() + context.limits.timeout.mul_f64(0.8);
        let mut pieces = vec![text::Piece::new("file name", sample.display_name)];
        let mut notes = Vec::new();
        let mut failed = false;
        let mut read = false;
        match Format::detect(sample.path)? {
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
        let mut errors = BTreeMap::new();
        if !notes.is_empty() {
            errors.insert("scan".to_string(), notes.join("; "));
        }
        let mut info = report::assess(&pieces, &recognizers, policy, errors);
        if info.verdict != DlpVerdict::Found {
            if failed {
                info.verdict = DlpVerdict::Failed;
            } else if !read && info.verdict == DlpVerdict::Clean {
                info.verdict = DlpVerdict::NotScanned;
            }
        }
        Ok(finding(info))
    }
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
