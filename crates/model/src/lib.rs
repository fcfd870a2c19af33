//! Shared vocabulary of Palisade: identifiers, hashes, result codes and the report shapes of the API document.

mod engines;
mod ids;
mod report;
mod result;

pub use engines::{EngineKind, EngineOnNode, EngineStat, EngineState, EngineType};
pub use ids::{BatchId, DataId, FileHashes, HashKind, InvalidId, random_hex};
pub use report::{
    ArchiveMember, BatchFileEntry, BatchFiles, BatchMemberProcessInfo, BatchProcessInfo,
    BatchReport, BatchScanResults, EngineDetail, ExtractedFiles, ExtractionInfo, FileInfo,
    FileReport, FileTypeDetails, FileTypeInfo, PostProcessing, ProcessInfo, ProcessResult,
    ProcessingTimeDetails, ScanResults, YaraHit, YaraSection, format_timestamp,
};
pub use result::ScanResult;

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

/// Milliseconds since the Unix epoch, the one time unit stored everywhere.
pub type Millis = i64;

/// The current wall-clock time in milliseconds since the Unix epoch.
pub fn now_millis() -> Millis {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}
