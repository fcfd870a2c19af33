//! Shared vocabulary of Palisade: identifiers, hashes, result codes and the report shapes of the API document.

mod dlp;
mod engines;
mod ids;
mod jobs;
mod report;
mod result;
mod sanitization;
mod schema;

pub use dlp::{
    Certainty, CustomPattern, DlpHit, DlpInfo, DlpKindHits, DlpPolicy, DlpVerdict,
    MetadataRemovalResult, Outcome, Recognizer, RedactResult, WatermarkResult,
};
pub use engines::{EngineKind, EngineOnNode, EngineStat, EngineState, EngineType, NodeStat};
pub use ids::{BatchId, DataId, FileHashes, HashKind, InvalidId, random_hex};
pub use jobs::{JobRecord, JobState, NewJob};
pub use report::{
    ArchiveMember, BatchFileEntry, BatchFiles, BatchMemberProcessInfo, BatchProcessInfo,
    BatchReport, BatchScanResults, EngineDetail, ExtractedFiles, ExtractionInfo, FileInfo,
    FileReport, FileTypeDetails, FileTypeInfo, PostProcessing, ProcessInfo, ProcessResult,
    ProcessingTimeDetails, ScanResults, YaraHit, YaraSection, format_timestamp, parse_timestamp,
};
pub use result::ScanResult;
pub use sanitization::{
    ActiveObject, CdrAction, CdrPolicy, CdrVerdict, FailedMembers, FailureCategory,
    SanitizationDetails, SanitizationResult, SanitizedFileInfo, SanitizedObject, SignedDocuments,
};

/// What an answered upload survives, chosen once for the blob store and the metastore.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Durability {
    /// A `data_id` is answered only once the file and its job are on stable storage (synced),
    /// so both survive a power cut or a kernel crash.
    #[default]
    Full,
    /// Nothing is synced: an answered file survives the process being killed, but not a power
    /// cut, which may lose what was accepted in the seconds before it.
    Relaxed,
}

impl Durability {
    /// Whether writes are synced to stable storage before they count as done.
    pub fn syncs(self) -> bool {
        self == Durability::Full
    }
}

/// What an output file of an analysis is: the two kinds of copy a client can download.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputKind {
    /// A rebuilt copy without active content (Deep CDR), served by `GET /file/converted/{id}`.
    Sanitized,
    /// A copy with sensitive data blacked out (DLP).
    Redacted,
}

impl OutputKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutputKind::Sanitized => "sanitized",
            OutputKind::Redacted => "redacted",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "sanitized" => Some(OutputKind::Sanitized),
            "redacted" => Some(OutputKind::Redacted),
            _ => None,
        }
    }

    /// The action `process_info.post_processing.actions_ran` (or `actions_failed`) names.
    pub fn action(self) -> &'static str {
        match self {
            OutputKind::Sanitized => "Sanitized",
            OutputKind::Redacted => "Redacted",
        }
    }

    /// The step that makes this kind of copy, as reports name it.
    pub fn step(self) -> &'static str {
        match self {
            OutputKind::Sanitized => "Sanitization",
            OutputKind::Redacted => "Redaction",
        }
    }

    /// The action `actions_failed` names when the step made no copy.
    pub fn step_failed(self) -> &'static str {
        match self {
            OutputKind::Sanitized => "Sanitization Failed",
            OutputKind::Redacted => "Redaction Failed",
        }
    }

    /// Which of a file's outputs `GET /file/download/{id}` serves: the sanitized copy when there
    /// is one, else the redacted one, as the API document says. Sanitization is the last step
    /// of the flow, so this is also the last step's output.
    pub fn download_preference(self) -> u8 {
        match self {
            OutputKind::Sanitized => 0,
            OutputKind::Redacted => 1,
        }
    }
}

/// One stored output of an analysis (a row of the `outputs` table).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct OutputRecord {
    pub data_id: String,
    pub kind: OutputKind,
    pub sha256: String,
    pub size: u64,
    /// The file name a download offers (`Content-Disposition`).
    pub name: String,
    pub created_ts: Millis,
}

/// Milliseconds since the Unix epoch, the one time unit stored everywhere.
pub type Millis = i64;

/// The current wall-clock time in milliseconds since the Unix epoch.
pub fn now_millis() -> Millis {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}
