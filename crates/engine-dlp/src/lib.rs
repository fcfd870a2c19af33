//! Proactive DLP (data-loss prevention), the built-in engine (id `dlp`): finds card numbers,
//! social security numbers, IBANs, IPv4 addresses and a rule's own patterns in a file's text
//! and in its name, each hit with a certainty score from 0 to 100 (`recognize.rs`), masked for
//! stored reports (`mask.rs`), in text decoded and located piece by piece (`text.rs`);
//! `report.rs` turns the hits into the report's `dlp_info`.
//!
//! Formats read so far: plain text (and CSV, JSON, XML, HTML, Markdown, logs). The content of
//! any other file is not examined, and `dlp_info` says so (verdict 4, Not scanned, unless its
//! name holds a hit) rather than calling it clean. The binary runs the engine in parser
//! processes.

pub mod mask;
mod recognize;
pub mod report;
pub mod text;

use std::collections::BTreeMap;
use std::io::Read;

use palisade_model::{DlpInfo, DlpVerdict, EngineKind, ScanResult};
use palisade_pipeline::{
    Engine, EngineDescriptor, EngineError, EngineStatus, Finding, Sample, ScanContext, Section,
    Stage,
};

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
        let mut bytes = Vec::new();
        std::fs::File::open(sample.path)?
            .take(policy.max_text_bytes)
            .read_to_end(&mut bytes)?;
        let mut errors = BTreeMap::new();
        let mut pieces = vec![text::Piece {
            location: "file name".into(),
            text: sample.display_name.to_string(),
        }];
        let content = text::plain(&bytes);
        let read = content.is_some();
        match content {
            Some(content) => {
                pieces.extend(text::lines(&content));
                if sample.size > policy.max_text_bytes {
                    errors.insert(
                        "scan".to_string(),
                        format!(
                            "only the first {} of {} bytes were examined (the rule's max_text_bytes)",
                            policy.max_text_bytes, sample.size
                        ),
                    );
                }
            }
            None => {
                errors.insert(
                    "scan".to_string(),
                    "the content was not examined: DLP reads plain text files so far (only the \
                     file name was examined)"
                        .to_string(),
                );
            }
        }
        let mut info = report::assess(&pieces, &recognizers, policy, errors);
        if !read && info.verdict == DlpVerdict::Clean {
            info.verdict = DlpVerdict::NotScanned;
        }
        Ok(finding(info))
    }
}

/// The finding of a DLP run: Sensitive Data Found (20) when a hit reaches the rule's certainty.
fn finding(info: DlpInfo) -> Finding {
    let result = if info.verdict == DlpVerdict::Found {
        ScanResult::SensitiveDataFound
    } else {
        ScanResult::NoThreatDetected
    };
    Finding {
        result,
        threat_found: String::new(),
        section: Section::Dlp(Box::new(info)),
        outputs: Vec::new(),
    }
}
