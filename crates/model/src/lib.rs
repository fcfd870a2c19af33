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
    FileReport, FileTypeDetails, FileTypeInfo, PostProcessing, ProcessInfo, ProcessingTimeDetails,
    ScanResults, YaraHit, YaraSection, format_timestamp,
};
pub use result::ScanResult;

/// Milliseconds since the Unix epoch, the one time unit stored everywhere.
pub type Millis = i64;

/// The current wall-clock time in milliseconds since the Unix epoch.
pub fn now_millis() -> Millis {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}
