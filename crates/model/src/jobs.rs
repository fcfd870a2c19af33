//! Jobs as the queue stores them: the submission, its progress and, once final, its report.
//! Plain data (the metastore reads and writes them; the pipeline derives report parts from them).

use crate::{FileHashes, Millis};

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    /// An archive whose own analysis is done, waiting for its members' results.
    Waiting,
    Done,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Waiting => "waiting",
            JobState::Done => "done",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "waiting" => JobState::Waiting,
            "done" => JobState::Done,
            "cancelled" => JobState::Cancelled,
            _ => return None,
        })
    }

    pub fn is_final(self) -> bool {
        matches!(self, JobState::Done | JobState::Cancelled)
    }
}

/// Everything known about a file when it is accepted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewJob {
    pub data_id: String,
    pub hashes: FileHashes,
    pub size: u64,
    pub display_name: String,
    /// MIME type, description and category letters found at upload (complete from the first poll).
    pub file_type: String,
    pub file_type_description: String,
    pub type_category: Vec<String>,
    pub rule: String,
    pub user_agent: String,
    pub username: String,
    pub metadata: String,
    pub batch_id: Option<String>,
    pub parent_id: Option<String>,
    /// The top-level submission an archive member belongs to (`None` for submitted files).
    pub root_id: Option<String>,
    /// Nesting depth: 0 for submitted files, 1 for their members, ...
    pub depth: u32,
    /// Position among its parent's members.
    pub archive_index: Option<u32>,
    pub archive_passwords: Vec<String>,
    pub callback_url: String,
    /// The submitter's `global-timeout`, overriding the rule's.
    pub global_timeout_ms: Option<i64>,
    pub receive_ts: Millis,
    pub upload_ts: Millis,
    pub hash_time: i64,
}

/// A job as stored: the submission plus its progress and, once final, its report.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRecord {
    pub job: NewJob,
    pub state: JobState,
    pub attempts: u32,
    pub lease_owner: Option<String>,
    pub lease_expires: Option<Millis>,
    pub start_ts: Option<Millis>,
    pub finish_ts: Option<Millis>,
    pub result_i: Option<i32>,
    /// The final report as JSON text (present once the job is final).
    pub report: Option<String>,
    /// Members not final yet (archives in state Waiting).
    pub pending_children: u32,
    /// An archive's own analysis, kept while its members run.
    pub partial: Option<String>,
    /// The lease owner (`<node_id>/<start>/w<n>`) whose result was stored: which node scanned it.
    pub finished_by: Option<String>,
}
