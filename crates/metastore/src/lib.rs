//! The metadata store: files and their reports, the job queue with leases, batches, sessions and users.
//!
//! One trait ([`MetaBackend`]) with one implementation per database (SQLite today, PostgreSQL in
//! cluster mode), chosen once at startup from a URL and held behind the concrete [`Metastore`] handle.
//! Time is always an input (`now`), so lease expiry is deterministic under test.

mod common;
mod group;
mod postgres;
mod rows;
mod sqlite;

use std::sync::Arc;

use palisade_model::{Durability, HashKind, Millis, OutputRecord};

pub use postgres::PostgresBackend;
pub use sqlite::SqliteBackend;

/// Errors of the metastore, grouped by what the caller does next.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A database error reported to several waiting callers (group commit).
    #[error("database error: {0}")]
    Shared(String),
    #[error("corrupt record: {0}")]
    Corrupt(String),
    #[error("unsupported metastore URL: {0}")]
    BadUrl(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

pub use palisade_model::{JobRecord, JobState, NewJob};

/// Reads a stored job state.
pub(crate) fn parse_state(text: &str) -> StoreResult<JobState> {
    JobState::parse(text).ok_or_else(|| StoreError::Corrupt(format!("job state {text:?}")))
}

/// Filters of a hash lookup (`GET /hash/{hash}` headers).
#[derive(Clone, Debug, Default)]
pub struct HashQuery {
    pub rule: Option<String>,
    pub since: Option<Millis>,
    pub include_in_progress: bool,
    pub self_only: bool,
    /// Only files submitted by this user (per-user isolation).
    pub username: Option<String>,
}

/// A final report to store (a completion, or a cancellation).
#[derive(Clone, Debug, PartialEq)]
pub struct FinishedJob {
    pub data_id: String,
    /// `scan_all_result_i`.
    pub result_i: i32,
    /// Whether the report's `process_info.result` is `Blocked`.
    pub blocked: bool,
    /// The report's JSON.
    pub report: String,
}

/// What the console's submission list asks for: filters (each optional) and a keyset page
/// (newest upload first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubmissionQuery {
    pub result_i: Option<i32>,
    pub blocked: Option<bool>,
    pub rule: Option<String>,
    pub file_type: Option<String>,
    pub username: Option<String>,
    /// Uploaded at or after this time.
    pub since: Option<Millis>,
    /// Uploaded before this time.
    pub until: Option<Millis>,
    /// A digest (MD5, SHA-1, SHA-256 or SHA-512, in hex) or a data id when it has the length of
    /// one; otherwise a part of the file's name (case-insensitive for ASCII letters).
    pub text: Option<String>,
    /// The page after the row with this (`upload_ts`, `seq`): older rows.
    pub before: Option<(Millis, i64)>,
    /// The page before the row with this (`upload_ts`, `seq`): newer rows.
    pub after: Option<(Millis, i64)>,
    pub limit: u32,
}

/// One submitted file in the submission list.
#[derive(Clone, Debug, PartialEq)]
pub struct SubmissionRow {
    /// Its place in submission order (with `upload_ts`, the page key).
    pub seq: i64,
    pub data_id: String,
    pub display_name: String,
    pub file_type: String,
    pub size: u64,
    pub sha256: String,
    pub rule: String,
    pub username: String,
    pub upload_ts: Millis,
    pub finish_ts: Option<Millis>,
    pub state: JobState,
    /// `scan_all_result_i` once final.
    pub result_i: Option<i32>,
    /// Whether it was blocked, once final.
    pub blocked: Option<bool>,
}

/// The statement a page of the submission list runs for `query` on SQLite (its values as `$n`
/// parameters): the console benchmark shows the database's plan for it.
pub fn submissions_statement(query: &SubmissionQuery) -> String {
    common::submissions_sql(query, "LIKE").0
}

/// What a cancel request did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    Cancelled,
    AlreadyFinal,
    NotFound,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BatchRecord {
    pub batch_id: String,
    pub rule: String,
    pub user_agent: String,
    pub username: String,
    pub user_data: String,
    pub created_ts: Millis,
    pub closed_ts: Option<Millis>,
    pub cancelled: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SessionRecord {
    pub session_id: String,
    pub username: String,
    pub role: String,
    pub csrf_token: String,
    pub last_seen: Millis,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UserRecord {
    pub username: String,
    pub password_hash: String,
    pub role: String,
}

/// Result of adding a file to a batch.
/// One gateway or scanning node, as it last reported itself.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeRecord {
    pub node_id: String,
    /// `serve`, `gateway` or `node`.
    pub role: String,
    pub hostname: String,
    pub version: String,
    pub started_ts: Millis,
    pub last_seen: Millis,
    /// Worker loops (0 for a gateway).
    pub workers: u32,
    /// Jobs it holds leases on.
    pub running: u64,
    /// Its engines and their states, as JSON.
    pub engines: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitOutcome {
    Accepted,
    BatchNotFound,
    BatchClosed,
    /// The queue already held its limit of submitted files when the job would have been stored.
    QueueFull,
}

/// The queue as a whole (files and archive members), for monitoring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueState {
    /// Jobs queued and not claimed.
    pub depth: u64,
    /// When the job at the head of the queue was uploaded, if any is queued.
    pub oldest_upload: Option<Millis>,
}

/// What one retention pass over the outputs did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpiredOutputs {
    /// Output rows forgotten.
    pub rows: u64,
    /// Digests of blobs that no output and no submitted file refers to any more: the caller
    /// deletes them from the blob store.
    pub unreferenced_blobs: Vec<String>,
}

/// One database implementation of the metastore. Every method is one transaction.
#[async_trait::async_trait]
pub trait MetaBackend: Send + Sync + 'static {
    /// Records an accepted file as a queued job (and its content's digests); fails when its batch is closed.
    async fn submit(&self, job: &NewJob) -> StoreResult<SubmitOutcome>;
    /// Like [`MetaBackend::submit`], admitted only while fewer than `max_queued` submitted files
    /// are queued: counted in the transaction that stores the job, under a lock every process
    /// of the cluster takes, so bursts from any number of gateways never overrun it.
    async fn submit_within(&self, job: &NewJob, max_queued: u64) -> StoreResult<SubmitOutcome>;
    async fn job(&self, data_id: &str) -> StoreResult<Option<JobRecord>>;
    /// Submitted files (not archive members) waiting to run.
    async fn queue_depth(&self) -> StoreResult<u64>;
    /// Every queued job, members included, and the upload time of the one queued first.
    async fn queue_state(&self) -> StoreResult<QueueState>;

    /// Leases up to `limit` jobs to `owner` in submission order: queued ones, and running ones
    /// whose lease expired. Each claim counts one attempt. Archive members are leased only while
    /// fewer than `member_cap` of them run under `owner`'s process (the owners sharing its text
    /// up to the last `/`, see [`owner_group`]), so archives never take every worker of a node,
    /// and one archive's members spread over all nodes.
    async fn claim(
        &self,
        owner: &str,
        now: Millis,
        lease_ms: i64,
        limit: u32,
        member_cap: u32,
    ) -> StoreResult<Vec<JobRecord>>;
    /// Extends `owner`'s leases on `data_ids`; returns how many it still holds.
    async fn heartbeat(
        &self,
        owner: &str,
        data_ids: &[String],
        now: Millis,
        lease_ms: i64,
    ) -> StoreResult<u64>;
    /// Stores final reports for jobs `owner` still holds, in one transaction. Returns which ids were completed;
    /// a job whose lease was lost or that was cancelled meanwhile keeps its existing outcome.
    /// The outputs of those jobs (a sanitized or redacted copy, already in the blob store) are
    /// recorded in the same transaction, for the jobs that were completed.
    async fn complete(
        &self,
        owner: &str,
        reports: &[FinishedJob],
        outputs: &[OutputRecord],
        now: Millis,
    ) -> StoreResult<Vec<String>>;
    /// A file's outputs that have not expired, the one `GET /file/download` serves first.
    async fn outputs(&self, data_id: &str) -> StoreResult<Vec<OutputRecord>>;
    /// Forgets up to `limit` outputs created before `before` (retention), and says which of
    /// their blobs nothing refers to any more.
    async fn expire_outputs(&self, before: Millis, limit: u32) -> StoreResult<ExpiredOutputs>;
    /// Gives the leases back without finishing (graceful drain); the jobs run again elsewhere.
    async fn release(&self, owner: &str, data_ids: &[String]) -> StoreResult<()>;
    /// Turns a running archive into a waiting parent of `children` (queued in the same
    /// transaction), keeping `partial`. Only the current lease owner may; `false` otherwise.
    /// A parent whose children are all final is queued again (with its `partial`) to be finished.
    async fn expand(
        &self,
        owner: &str,
        parent_id: &str,
        partial: &str,
        children: &[NewJob],
        now: Millis,
    ) -> StoreResult<bool>;
    /// An archive's members in order, a page at a time; and how many there are.
    async fn children(
        &self,
        parent_id: &str,
        first: u64,
        size: u64,
    ) -> StoreResult<(u64, Vec<JobRecord>)>;
    /// Charges extracted bytes and members to a submission's account (kept on its root job);
    /// refused, charging nothing, when either total would pass its maximum.
    async fn charge_extraction(
        &self,
        root_id: &str,
        bytes: u64,
        members: u64,
        max_bytes: u64,
        max_members: u64,
    ) -> StoreResult<bool>;
    /// Gives back to a submission's account bytes charged ahead and not used (never below
    /// zero).
    async fn refund_extraction(&self, root_id: &str, bytes: u64) -> StoreResult<()>;
    /// Cancels an unfinished job (and its unfinished members), storing `report` as their final
    /// report.
    async fn cancel(&self, cancelled: &FinishedJob, now: Millis) -> StoreResult<CancelOutcome>;

    /// The newest matching job for a digest (final ones first unless none exists and `include_in_progress`).
    async fn latest_by_hash(
        &self,
        kind: HashKind,
        hash: &str,
        query: &HashQuery,
    ) -> StoreResult<Option<JobRecord>>;

    async fn create_batch(&self, batch: &BatchRecord) -> StoreResult<()>;
    async fn batch(&self, batch_id: &str) -> StoreResult<Option<BatchRecord>>;
    /// Closes a batch (idempotent); `cancelled` marks it cancelled as well.
    async fn close_batch(&self, batch_id: &str, now: Millis, cancelled: bool) -> StoreResult<bool>;
    /// Member count and one page of members in submission order.
    async fn batch_members(
        &self,
        batch_id: &str,
        first: u64,
        size: u64,
    ) -> StoreResult<(u64, Vec<JobRecord>)>;
    /// Data ids of the batch members that are not final yet.
    async fn unfinished_batch_members(&self, batch_id: &str) -> StoreResult<Vec<String>>;
    /// The newest batches (of `username` only, when given), newest first.
    async fn recent_batches(
        &self,
        username: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<BatchRecord>>;

    /// One page of submitted files (not archive members) matching `query`, newest first.
    async fn submissions(&self, query: &SubmissionQuery) -> StoreResult<Vec<SubmissionRow>>;

    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()>;
    /// The session if it was seen within `idle_ms` of `now`; touches it.
    async fn session(
        &self,
        session_id: &str,
        now: Millis,
        idle_ms: i64,
    ) -> StoreResult<Option<SessionRecord>>;
    async fn delete_session(&self, session_id: &str) -> StoreResult<bool>;

    /// Records a node's heartbeat (inserting it the first time); `running` is counted from the
    /// leases its workers (owners `<node_id>/...`) hold.
    async fn node_heartbeat(&self, node: &NodeRecord) -> StoreResult<()>;
    async fn nodes(&self) -> StoreResult<Vec<NodeRecord>>;
    /// A node that stops cleanly leaves the registry.
    async fn remove_node(&self, node_id: &str) -> StoreResult<()>;
    /// Forgets nodes last seen before `seen_before` (dead ones that never came back); returns
    /// how many.
    async fn forget_nodes(&self, seen_before: Millis) -> StoreResult<u64>;

    async fn put_user(&self, user: &UserRecord) -> StoreResult<()>;
    async fn user(&self, username: &str) -> StoreResult<Option<UserRecord>>;
    async fn user_count(&self) -> StoreResult<u64>;

    /// Answers when the database does (readiness checks).
    async fn ping(&self) -> StoreResult<()>;

    /// The database's identity, set once when it was first used (`None`: a new database).
    async fn instance_id(&self) -> StoreResult<Option<String>>;
    /// Sets the identity to `id` unless it has one; returns the identity it has.
    async fn claim_instance(&self, id: &str, now: Millis) -> StoreResult<String>;
    /// A cheap write (readiness probes: the database accepts writes).
    async fn probe_write(&self, now: Millis) -> StoreResult<()>;
    /// What a quick structural check of the database finds wrong (empty when nothing).
    async fn integrity_problems(&self) -> StoreResult<Vec<String>>;
    /// Closes the connections at a clean stop; SQLite first checkpoints its write-ahead log
    /// into the database file, so the database file alone holds everything.
    async fn close(&self);

    /// Wakes `wake` (one waiter at a time) whenever work may have become claimable anywhere in
    /// the cluster: a submission, queued archive members, an archive ready to finish, a release.
    /// Workers still poll now and then, so a lost wake-up only delays.
    async fn watch_for_work(&self, wake: Arc<tokio::sync::Notify>) -> StoreResult<()>;
}

/// The lease owners counted together for the archive member cap: `node/start/w3` belongs to
/// `node/start/` (one process); an owner without `/` is a group of its own.
pub fn owner_group(owner: &str) -> Option<&str> {
    owner.rfind('/').map(|slash| &owner[..=slash])
}

/// How a metastore is opened.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// PostgreSQL connections this process keeps at most (SQLite has one writer and four readers).
    pub max_connections: u32,
    /// With [`Durability::Full`], a commit returns once it is on stable storage: SQLite syncs its
    /// log on every commit, and PostgreSQL commits under the server's own `synchronous_commit`.
    /// With [`Durability::Relaxed`], SQLite syncs only at checkpoints and PostgreSQL sessions set
    /// `synchronous_commit = off`.
    pub durability: Durability,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            durability: Durability::Full,
        }
    }
}

/// The metastore handle used throughout the program.
#[derive(Clone)]
pub struct Metastore(Arc<dyn MetaBackend>);

impl Metastore {
    pub fn new(backend: impl MetaBackend) -> Self {
        Self(Arc::new(backend))
    }

    /// Opens the store named by `url`, applying migrations: `sqlite:///path/to/palisade.db`, or
    /// `postgres://user:password@host:port/database` (also `postgresql://`) for a cluster.
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::open_with(url, &OpenOptions::default()).await
    }

    /// Like [`Metastore::open`], with the pool size and durability chosen.
    pub async fn open_with(url: &str, options: &OpenOptions) -> StoreResult<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::new(
                PostgresBackend::open(url, options.max_connections.max(2), options.durability)
                    .await?,
            ));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            return Ok(Self::new(
                SqliteBackend::open(std::path::Path::new(path), options.durability).await?,
            ));
        }
        Err(StoreError::BadUrl(url.to_string()))
    }
}

impl std::ops::Deref for Metastore {
    type Target = dyn MetaBackend;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}
