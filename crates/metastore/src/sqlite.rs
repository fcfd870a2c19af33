//! The SQLite metastore: WAL mode, one writer connection and a pool of readers.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use palisade_model::{Durability, HashKind, Millis, OutputRecord};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Executor, QueryBuilder, Row};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::common::Common;
use crate::group::{GroupCommit, Submission};
use crate::rows::{JOB_COLUMNS, job_from_row, to_i64};
use crate::{
    BatchRecord, CancelOutcome, ExpiredOutputs, FinishedJob, HashQuery, JobRecord, MetaBackend,
    NewJob, NodeRecord, QueueState, SessionRecord, StoreError, StoreResult, SubmissionQuery,
    SubmissionRow, SubmitOutcome, UserRecord,
};

/// Versioned schema migrations, applied in order and recorded in `schema_version`.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_initial.sql")),
    (2, include_str!("../migrations/sqlite/0002_archives.sql")),
    (3, include_str!("../migrations/sqlite/0003_nodes.sql")),
    (4, include_str!("../migrations/sqlite/0004_finished_by.sql")),
    (
        5,
        include_str!("../migrations/sqlite/0005_hashed_sessions.sql"),
    ),
    (6, include_str!("../migrations/sqlite/0006_instance.sql")),
    (7, include_str!("../migrations/sqlite/0007_outputs.sql")),
    (
        8,
        include_str!("../migrations/sqlite/0008_claim_indexes.sql"),
    ),
    (9, include_str!("../migrations/sqlite/0009_console.sql")),
];

/// The claim: each candidate set (queued and lease-expired, submitted files and archive members)
/// taken in submission order up to the limit (queued files in the order of the state index,
/// queued members from their own index), so that a claim reads the rows it takes rather than
/// sorting the whole queue. Archive members get only the running slots the member cap leaves
/// the claimer's group.
const CLAIM: &str = "WITH room(n) AS (SELECT MAX(0, MIN(?4, ?5 - (SELECT COUNT(*) FROM jobs \
       WHERE state = 'running' AND parent_id IS NOT NULL AND lease_expires >= ?2 \
       AND CASE WHEN ?6 IS NULL THEN lease_owner = ?1 \
         ELSE substr(lease_owner, 1, length(?6)) = ?6 END)))) \
     UPDATE jobs SET state = 'running', lease_owner = ?1, lease_expires = ?2 + ?3, \
     attempts = attempts + 1, start_ts = COALESCE(start_ts, ?2) \
     WHERE seq IN ( \
       SELECT seq FROM ( \
         SELECT seq FROM (SELECT seq FROM jobs INDEXED BY jobs_queue \
           WHERE state = 'queued' AND parent_id IS NULL ORDER BY seq LIMIT ?4) \
         UNION ALL \
         SELECT seq FROM (SELECT seq FROM jobs WHERE state = 'running' AND lease_expires < ?2 \
           AND parent_id IS NULL ORDER BY seq LIMIT ?4) \
         UNION ALL \
         SELECT seq FROM ( \
           SELECT seq FROM (SELECT seq FROM jobs INDEXED BY jobs_queued_members \
             WHERE state = 'queued' AND parent_id IS NOT NULL \
             ORDER BY seq LIMIT (SELECT n FROM room)) \
           UNION ALL \
           SELECT seq FROM (SELECT seq FROM jobs WHERE state = 'running' AND lease_expires < ?2 \
             AND parent_id IS NOT NULL ORDER BY seq LIMIT (SELECT n FROM room)) \
           ORDER BY seq LIMIT (SELECT n FROM room))) \
       ORDER BY seq LIMIT ?4) \
     RETURNING data_id";

/// A metastore in one SQLite file.
pub struct SqliteBackend {
    /// One writer connection, a pool of readers.
    common: Common<sqlx::Sqlite>,
    submissions: GroupCommit,
    watchers: Watchers,
}

/// Workers of this process to wake when work becomes claimable (other processes poll).
#[derive(Clone, Default)]
struct Watchers(Arc<std::sync::Mutex<Vec<Arc<Notify>>>>);

impl Watchers {
    fn wake(&self) {
        for wake in self.0.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            wake.notify_one();
        }
    }
}

/// Inserts jobs (and their contents' digests) in one transaction; files of missing or closed batches are refused.
async fn insert_jobs(
    writer: &SqlitePool,
    submissions: &[Submission],
) -> StoreResult<Vec<SubmitOutcome>> {
    // Write transactions begin IMMEDIATE: they take SQLite's write lock first, so another
    // process on the same file (a gateway and a node sharing a data directory) cannot commit
    // between the count below and the insert, and no read-then-write upgrade fails as busy.
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let jobs: Vec<&NewJob> = submissions.iter().map(|s| &s.job).collect();
    let batch_ids: Vec<&String> = jobs.iter().filter_map(|j| j.batch_id.as_ref()).collect();
    let mut batches: std::collections::HashMap<String, Option<i64>> = Default::default();
    if !batch_ids.is_empty() {
        let mut query =
            QueryBuilder::new("SELECT batch_id, closed_ts FROM batches WHERE batch_id IN (");
        let mut list = query.separated(", ");
        for batch_id in &batch_ids {
            list.push_bind(*batch_id);
        }
        query.push(")");
        for row in query.build().fetch_all(&mut *tx).await? {
            batches.insert(row.try_get("batch_id")?, row.try_get("closed_ts")?);
        }
    }
    let queued: i64 = if crate::group::any_limited(submissions) {
        sqlx::query_scalar(crate::group::QUEUED_SUBMISSIONS)
            .fetch_one(&mut *tx)
            .await?
    } else {
        0
    };
    let outcomes =
        crate::group::outcomes(submissions, &batches, u64::try_from(queued).unwrap_or(0));
    let accepted: Vec<&NewJob> = jobs
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| **outcome == SubmitOutcome::Accepted)
        .map(|(job, _)| *job)
        .collect();
    insert_job_rows(&mut tx, &accepted, "queued").await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// Inserts job rows (and their contents' digests) in `state`.
async fn insert_job_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    jobs: &[&NewJob],
    state: &str,
) -> StoreResult<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let mut blobs =
        QueryBuilder::new("INSERT OR IGNORE INTO blobs (sha256, md5, sha1, sha512, size) ");
    blobs.push_values(jobs, |mut row, job| {
        row.push_bind(&job.hashes.sha256)
            .push_bind(&job.hashes.md5)
            .push_bind(&job.hashes.sha1)
            .push_bind(&job.hashes.sha512)
            .push_bind(to_i64(job.size));
    });
    blobs.build().execute(&mut **tx).await?;
    let mut rows = QueryBuilder::new(
        "INSERT INTO jobs (data_id, sha256, display_name, file_type, file_type_description, type_category, \
         rule, user_agent, username, metadata, batch_id, parent_id, archive_passwords, callback_url, \
         global_timeout_ms, receive_ts, upload_ts, hash_time, root_id, depth, archive_index, state) ",
    );
    let mut passwords = Vec::with_capacity(jobs.len());
    for job in jobs {
        passwords.push(
            serde_json::to_string(&job.archive_passwords)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        );
    }
    rows.push_values(jobs.iter().zip(&passwords), |mut row, (job, passwords)| {
        row.push_bind(&job.data_id)
            .push_bind(&job.hashes.sha256)
            .push_bind(&job.display_name)
            .push_bind(&job.file_type)
            .push_bind(&job.file_type_description)
            .push_bind(job.type_category.join(","))
            .push_bind(&job.rule)
            .push_bind(&job.user_agent)
            .push_bind(&job.username)
            .push_bind(&job.metadata)
            .push_bind(&job.batch_id)
            .push_bind(&job.parent_id)
            .push_bind(passwords)
            .push_bind(&job.callback_url)
            .push_bind(job.global_timeout_ms)
            .push_bind(job.receive_ts)
            .push_bind(job.upload_ts)
            .push_bind(job.hash_time)
            .push_bind(&job.root_id)
            .push_bind(i64::from(job.depth))
            .push_bind(job.archive_index.map(i64::from))
            .push_bind(state);
    });
    rows.build().execute(&mut **tx).await?;
    Ok(())
}

impl SqliteBackend {
    /// Opens (creating) the database at `path`. Under [`Durability::Full`] every commit syncs the
    /// write-ahead log (`synchronous = FULL`); under `Relaxed` only checkpoints sync (`NORMAL`),
    /// which keeps commits safe from a killed process but not from a power cut.
    pub async fn open(path: &Path, durability: Durability) -> StoreResult<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Corrupt(format!("cannot create {parent:?}: {e}")))?;
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if durability.syncs() {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-16000");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        migrate(&writer).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await?;
        let watchers = Watchers::default();
        let submissions = {
            let (writer, watchers) = (writer.clone(), watchers.clone());
            GroupCommit::start(move |jobs| {
                let (writer, watchers) = (writer.clone(), watchers.clone());
                async move {
                    let outcomes = insert_jobs(&writer, &jobs).await?;
                    watchers.wake();
                    Ok(outcomes)
                }
            })
        };
        Ok(Self {
            common: Common {
                read: readers,
                write: writer,
            },
            submissions,
            watchers,
        })
    }
}

async fn migrate(pool: &SqlitePool) -> StoreResult<()> {
    pool.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_ts INTEGER NOT NULL)")
        .await?;
    let current: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(pool)
        .await?;
    for (version, sql) in MIGRATIONS {
        if *version <= current {
            continue;
        }
        let mut tx = pool.begin().await?;
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_version (version, applied_ts) VALUES (?, ?)")
            .bind(version)
            .bind(palisade_model::now_millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MetaBackend for SqliteBackend {
    async fn submit(&self, job: &NewJob) -> StoreResult<SubmitOutcome> {
        self.submissions.submit(job, None).await
    }

    async fn submit_within(&self, job: &NewJob, max_queued: u64) -> StoreResult<SubmitOutcome> {
        self.submissions.submit(job, Some(max_queued)).await
    }

    async fn job(&self, data_id: &str) -> StoreResult<Option<JobRecord>> {
        self.common.job(data_id).await
    }

    async fn queue_depth(&self) -> StoreResult<u64> {
        self.common.queue_depth().await
    }

    async fn queue_state(&self) -> StoreResult<QueueState> {
        self.common.queue_state().await
    }

    async fn claim(
        &self,
        owner: &str,
        now: Millis,
        lease_ms: i64,
        limit: u32,
        member_cap: u32,
    ) -> StoreResult<Vec<JobRecord>> {
        let mut tx = self.common.write.begin_with("BEGIN IMMEDIATE").await?;
        let claimed: Vec<String> = sqlx::query_scalar(CLAIM)
            .bind(owner)
            .bind(now)
            .bind(lease_ms)
            .bind(i64::from(limit))
            .bind(i64::from(member_cap))
            .bind(crate::owner_group(owner))
            .fetch_all(&mut *tx)
            .await?;
        if claimed.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::new(format!(
            "SELECT {JOB_COLUMNS} FROM jobs j JOIN blobs b ON b.sha256 = j.sha256 WHERE j.data_id IN ("
        ));
        let mut list = query.separated(", ");
        for data_id in &claimed {
            list.push_bind(data_id);
        }
        query.push(") ORDER BY j.seq");
        let rows = query.build().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.iter().map(job_from_row).collect()
    }

    async fn heartbeat(
        &self,
        owner: &str,
        data_ids: &[String],
        now: Millis,
        lease_ms: i64,
    ) -> StoreResult<u64> {
        let mut tx = self.common.write.begin_with("BEGIN IMMEDIATE").await?;
        let mut held = 0;
        for data_id in data_ids {
            held += sqlx::query(
                "UPDATE jobs SET lease_expires = ? WHERE data_id = ? AND state = 'running' AND lease_owner = ?",
            )
            .bind(now + lease_ms)
            .bind(data_id)
            .bind(owner)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(held)
    }

    async fn complete(
        &self,
        owner: &str,
        reports: &[FinishedJob],
        outputs: &[OutputRecord],
        now: Millis,
    ) -> StoreResult<Vec<String>> {
        if reports.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::new(
            "UPDATE jobs SET state = 'done', result_i = v.column2, report = v.column3, \
             blocked = v.column4, finish_ts = ",
        );
        query.push_bind(now);
        query.push(
            ", finished_by = lease_owner, lease_owner = NULL, lease_expires = NULL, \
             archive_passwords = '[]' FROM (",
        );
        query.push_values(reports, |mut row, finished| {
            row.push_bind(&finished.data_id)
                .push_bind(finished.result_i)
                .push_bind(&finished.report)
                .push_bind(finished.blocked);
        });
        query.push(") AS v WHERE jobs.data_id = v.column1 AND jobs.state = 'running' AND jobs.lease_owner = ");
        query.push_bind(owner);
        query.push(" RETURNING jobs.data_id, jobs.parent_id");
        let mut tx = self.common.write.begin_with("BEGIN IMMEDIATE").await?;
        let rows = query.build().fetch_all(&mut *tx).await?;
        let mut completed = Vec::with_capacity(rows.len());
        let mut parents = Vec::new();
        for row in &rows {
            completed.push(row.try_get::<String, _>(0)?);
            if let Some(parent) = row.try_get::<Option<String>, _>(1)? {
                parents.push(parent);
            }
        }
        let requeued = Common::settle_parents(&mut tx, &parents).await?;
        Common::insert_outputs(&mut tx, outputs, &completed).await?;
        tx.commit().await?;
        if requeued {
            self.watchers.wake();
        }
        Ok(completed)
    }

    async fn outputs(&self, data_id: &str) -> StoreResult<Vec<OutputRecord>> {
        self.common.outputs(data_id).await
    }

    async fn expire_outputs(&self, before: Millis, limit: u32) -> StoreResult<ExpiredOutputs> {
        self.common.expire_outputs(before, limit).await
    }

    async fn release(&self, owner: &str, data_ids: &[String]) -> StoreResult<()> {
        let mut tx = self.common.write.begin_with("BEGIN IMMEDIATE").await?;
        for data_id in data_ids {
            sqlx::query(
                "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires = NULL, \
                 attempts = MAX(attempts - 1, 0) \
                 WHERE data_id = ? AND state = 'running' AND lease_owner = ?",
            )
            .bind(data_id)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.watchers.wake();
        Ok(())
    }

    async fn cancel(&self, cancelled: &FinishedJob, now: Millis) -> StoreResult<CancelOutcome> {
        let data_id = cancelled.data_id.as_str();
        let mut tx = self.common.write.begin_with("BEGIN IMMEDIATE").await?;
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM jobs WHERE data_id = ?")
            .bind(data_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(state) = state else {
            return Ok(CancelOutcome::NotFound);
        };
        if crate::parse_state(&state)?.is_final() {
            return Ok(CancelOutcome::AlreadyFinal);
        }
        // The file and every unfinished member below it, however deep.
        let cancelled = sqlx::query(
            "WITH RECURSIVE tree(id) AS ( \
               SELECT ?4 UNION ALL SELECT j.data_id FROM jobs j JOIN tree ON j.parent_id = tree.id) \
             UPDATE jobs SET state = 'cancelled', result_i = ?1, report = ?2, finish_ts = ?3, \
             blocked = ?5, \
             lease_owner = NULL, lease_expires = NULL, pending_children = 0, archive_passwords = '[]' \
             WHERE data_id IN (SELECT id FROM tree) AND state NOT IN ('done', 'cancelled') \
             RETURNING data_id, parent_id",
        )
        .bind(cancelled.result_i)
        .bind(cancelled.report.as_str())
        .bind(now)
        .bind(data_id)
        .bind(cancelled.blocked)
        .fetch_all(&mut *tx)
        .await?;
        // Only the top of the cancelled tree has a parent outside it that is waiting.
        let mut parents = Vec::new();
        for row in &cancelled {
            let id: String = row.try_get(0)?;
            if id == data_id
                && let Some(parent) = row.try_get::<Option<String>, _>(1)?
            {
                parents.push(parent);
            }
        }
        let requeued = Common::settle_parents(&mut tx, &parents).await?;
        tx.commit().await?;
        if requeued {
            self.watchers.wake();
        }
        Ok(CancelOutcome::Cancelled)
    }

    async fn latest_by_hash(
        &self,
        kind: HashKind,
        hash: &str,
        query: &HashQuery,
    ) -> StoreResult<Option<JobRecord>> {
        self.common.latest_by_hash(kind, hash, query).await
    }

    async fn expand(
        &self,
        owner: &str,
        parent_id: &str,
        partial: &str,
        children: &[NewJob],
        now: Millis,
    ) -> StoreResult<bool> {
        let mut tx = self.common.write.begin_with("BEGIN IMMEDIATE").await?;
        let changed = sqlx::query(
            "UPDATE jobs SET state = CASE WHEN ?1 > 0 THEN 'waiting' ELSE 'queued' END, \
             pending_children = ?1, partial = ?2, lease_owner = NULL, lease_expires = NULL \
             WHERE data_id = ?3 AND state = 'running' AND lease_owner = ?4",
        )
        .bind(i64::try_from(children.len()).unwrap_or(i64::MAX))
        .bind(partial)
        .bind(parent_id)
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Ok(false);
        }
        let rows: Vec<&NewJob> = children.iter().collect();
        for chunk in rows.chunks(500) {
            insert_job_rows(&mut tx, chunk, "queued").await?;
        }
        let _ = now;
        tx.commit().await?;
        self.watchers.wake();
        Ok(true)
    }

    async fn children(
        &self,
        parent_id: &str,
        first: u64,
        size: u64,
    ) -> StoreResult<(u64, Vec<JobRecord>)> {
        self.common
            .page(
                "parent_id",
                parent_id,
                "j.archive_index, j.seq",
                first,
                size,
            )
            .await
    }

    async fn charge_extraction(
        &self,
        root_id: &str,
        bytes: u64,
        members: u64,
        max_bytes: u64,
        max_members: u64,
    ) -> StoreResult<bool> {
        self.common
            .charge_extraction(root_id, bytes, members, max_bytes, max_members)
            .await
    }

    async fn refund_extraction(&self, root_id: &str, bytes: u64) -> StoreResult<()> {
        self.common.refund_extraction(root_id, bytes).await
    }

    async fn node_heartbeat(&self, node: &NodeRecord) -> StoreResult<()> {
        let prefix = format!("{}/", node.node_id);
        sqlx::query(
            "INSERT INTO nodes (node_id, role, hostname, version, started_ts, last_seen, workers, running, engines) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, \
               (SELECT COUNT(*) FROM jobs WHERE state = 'running' AND substr(lease_owner, 1, length(?8)) = ?8), ?9) \
             ON CONFLICT (node_id) DO UPDATE SET role = excluded.role, hostname = excluded.hostname, \
             version = excluded.version, started_ts = excluded.started_ts, last_seen = excluded.last_seen, \
             workers = excluded.workers, \
             running = excluded.running, engines = excluded.engines",
        )
        .bind(&node.node_id)
        .bind(&node.role)
        .bind(&node.hostname)
        .bind(&node.version)
        .bind(node.started_ts)
        .bind(node.last_seen)
        .bind(i64::from(node.workers))
        .bind(&prefix)
        .bind(&node.engines)
        .execute(&self.common.write)
        .await?;
        Ok(())
    }

    async fn nodes(&self) -> StoreResult<Vec<NodeRecord>> {
        self.common.nodes().await
    }

    async fn remove_node(&self, node_id: &str) -> StoreResult<()> {
        self.common.remove_node(node_id).await
    }

    async fn create_batch(&self, batch: &BatchRecord) -> StoreResult<()> {
        self.common.create_batch(batch).await
    }

    async fn batch(&self, batch_id: &str) -> StoreResult<Option<BatchRecord>> {
        self.common.batch(batch_id).await
    }

    async fn close_batch(&self, batch_id: &str, now: Millis, cancelled: bool) -> StoreResult<bool> {
        self.common.close_batch(batch_id, now, cancelled).await
    }

    async fn batch_members(
        &self,
        batch_id: &str,
        first: u64,
        size: u64,
    ) -> StoreResult<(u64, Vec<JobRecord>)> {
        self.common
            .page("batch_id", batch_id, "j.seq", first, size)
            .await
    }

    async fn unfinished_batch_members(&self, batch_id: &str) -> StoreResult<Vec<String>> {
        self.common.unfinished_batch_members(batch_id).await
    }

    async fn recent_batches(
        &self,
        username: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<BatchRecord>> {
        self.common.recent_batches(username, limit).await
    }

    async fn submissions(&self, query: &SubmissionQuery) -> StoreResult<Vec<SubmissionRow>> {
        self.common.submissions(query).await
    }

    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()> {
        self.common.create_session(session).await
    }

    async fn session(
        &self,
        session_id: &str,
        now: Millis,
        idle_ms: i64,
    ) -> StoreResult<Option<SessionRecord>> {
        self.common.session(session_id, now, idle_ms).await
    }

    async fn delete_session(&self, session_id: &str) -> StoreResult<bool> {
        self.common.delete_session(session_id).await
    }

    async fn forget_nodes(&self, seen_before: Millis) -> StoreResult<u64> {
        self.common.forget_nodes(seen_before).await
    }

    async fn put_user(&self, user: &UserRecord) -> StoreResult<()> {
        self.common.put_user(user).await
    }

    async fn user(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        self.common.user(username).await
    }

    async fn user_count(&self) -> StoreResult<u64> {
        self.common.user_count().await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.common.ping().await
    }

    async fn instance_id(&self) -> StoreResult<Option<String>> {
        self.common.instance_id().await
    }

    async fn claim_instance(&self, id: &str, now: Millis) -> StoreResult<String> {
        self.common.claim_instance(id, now).await
    }

    async fn probe_write(&self, now: Millis) -> StoreResult<()> {
        self.common.probe_write(now).await
    }

    async fn close(&self) {
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.common.write)
            .await
        {
            tracing::warn!(%error, "checkpointing the write-ahead log at stop failed");
        }
        self.common.write.close().await;
        self.common.read.close().await;
    }

    async fn integrity_problems(&self) -> StoreResult<Vec<String>> {
        match sqlx::query_scalar::<_, String>("PRAGMA quick_check")
            .fetch_all(&self.common.read)
            .await
        {
            Ok(rows) => Ok(rows.into_iter().filter(|row| row != "ok").collect()),
            // So damaged that the check itself cannot run.
            Err(sqlx::Error::Database(error)) => Ok(vec![error.message().to_string()]),
            Err(other) => Err(other.into()),
        }
    }

    async fn watch_for_work(&self, wake: Arc<Notify>) -> StoreResult<()> {
        self.watchers
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(wake);
        Ok(())
    }
}
