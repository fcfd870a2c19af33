//! The PostgreSQL metastore (cluster mode): any number of gateways and scanning nodes share it.
//!
//! Workers claim jobs with `FOR UPDATE SKIP LOCKED` under leases, so two nodes never take the same
//! queued job and a dead node's jobs are taken again once its leases expire. Whatever makes work
//! claimable (a submission, queued archive members, a parent whose members are done, a release)
//! sends `NOTIFY palisade_work` in its transaction; [`MetaBackend::watch_for_work`] listens.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_model::{Durability, HashKind, Millis, OutputRecord};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{Executor, QueryBuilder, Row};
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
    (1, include_str!("../migrations/postgres/0001_initial.sql")),
    (
        2,
        include_str!("../migrations/postgres/0002_finished_by.sql"),
    ),
    (
        3,
        include_str!("../migrations/postgres/0003_hashed_sessions.sql"),
    ),
    (4, include_str!("../migrations/postgres/0004_instance.sql")),
    (5, include_str!("../migrations/postgres/0005_outputs.sql")),
    (6, include_str!("../migrations/postgres/0006_console.sql")),
];

/// The channel that wakes idle workers.
const WORK_CHANNEL: &str = "palisade_work";

/// Serialises migrations when several processes start at once (an arbitrary constant key).
const MIGRATION_LOCK: i64 = 0x7061_6c69_7361_6465;
/// Advisory lock that serialises admission of submissions across processes.
const ADMISSION_LOCK: i64 = 0x7061_6c69_7361_6401;

/// A metastore in a PostgreSQL database.
pub struct PostgresBackend {
    /// One pool for reads and writes alike.
    common: Common<sqlx::Postgres>,
    submissions: GroupCommit,
    listeners: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Drop for PostgresBackend {
    fn drop(&mut self) {
        for listener in self
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            listener.abort();
        }
    }
}

impl PostgresBackend {
    /// Connects to `url` (`postgres://user:password@host:port/database?sslmode=...`) and applies
    /// migrations. `max_connections` bounds this process's pool. Under [`Durability::Relaxed`]
    /// sessions commit with `synchronous_commit = off`; under `Full` the server's own setting
    /// holds, and a server that does not sync its commits is named in a warning.
    pub async fn open(
        url: &str,
        max_connections: u32,
        durability: Durability,
    ) -> StoreResult<Self> {
        let mut options: PgConnectOptions = url.parse()?;
        if !durability.syncs() {
            options = options.options([("synchronous_commit", "off")]);
        }
        // A request waits at most 5 s for a connection: when PostgreSQL is down, uploads and
        // reads answer an error promptly instead of hanging.
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        migrate(&pool).await?;
        if durability.syncs() {
            warn_if_commits_are_not_synced(&pool).await?;
        }
        let submissions = {
            let pool = pool.clone();
            GroupCommit::start(move |jobs| {
                let pool = pool.clone();
                async move { insert_jobs(&pool, &jobs).await }
            })
        };
        Ok(Self {
            common: Common {
                read: pool.clone(),
                write: pool,
            },
            submissions,
            listeners: Mutex::new(Vec::new()),
        })
    }
}

/// Full durability relies on the server syncing its commits; a server set up not to (common on
/// test and benchmark servers) is named at start, since accepted files may then be lost with it.
async fn warn_if_commits_are_not_synced(pool: &PgPool) -> StoreResult<()> {
    let fsync: String = sqlx::query_scalar("SELECT current_setting('fsync')")
        .fetch_one(pool)
        .await?;
    let synchronous_commit: String =
        sqlx::query_scalar("SELECT current_setting('synchronous_commit')")
            .fetch_one(pool)
            .await?;
    if fsync == "off" || synchronous_commit == "off" {
        tracing::warn!(
            fsync,
            synchronous_commit,
            "PostgreSQL does not sync its commits: files accepted shortly before a crash of its \
             machine may be lost (durability = \"full\" needs fsync = on and synchronous_commit \
             other than off)"
        );
    }
    Ok(())
}

/// Runs `$body` (a future over the transaction `$tx`) and commits, again (up to 3 times) when
/// PostgreSQL aborts it for a deadlock or a serialization failure: concurrent completions and
/// cancels lock the same parents.
macro_rules! retrying {
    ($pool:expr, $tx:ident => $body:expr) => {{
        let mut attempt = 0;
        loop {
            let mut $tx = $pool.begin().await?;
            let outcome = match $body.await {
                Ok(value) => $tx.commit().await.map(|()| value).map_err(StoreError::from),
                Err(error) => Err(error),
            };
            match outcome {
                Err(error) if attempt < 3 && is_conflict(&error) => {
                    attempt += 1;
                    tracing::debug!(attempt, "metastore transaction retried: {error}");
                }
                other => break other,
            }
        }
    }};
}

fn is_conflict(error: &StoreError) -> bool {
    matches!(error, StoreError::Database(sqlx::Error::Database(db))
        if matches!(db.code().as_deref(), Some("40P01" | "40001")))
}

async fn migrate(pool: &PgPool) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, applied_ts BIGINT NOT NULL)",
    )
    .await?;
    let current: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(&mut *tx)
        .await?;
    for (version, sql) in MIGRATIONS {
        if *version <= current {
            continue;
        }
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_version (version, applied_ts) VALUES ($1, $2)")
            .bind(version)
            .bind(palisade_model::now_millis())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

async fn notify_work(tx: &mut Tx) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(WORK_CHANNEL)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Inserts a group of submissions in one transaction, waking idle workers everywhere once it
/// commits; files of missing or closed batches are refused.
async fn insert_jobs(pool: &PgPool, submissions: &[Submission]) -> StoreResult<Vec<SubmitOutcome>> {
    let mut tx = pool.begin().await?;
    let jobs: Vec<&NewJob> = submissions.iter().map(|s| &s.job).collect();
    let batch_ids: Vec<&str> = jobs.iter().filter_map(|j| j.batch_id.as_deref()).collect();
    let mut batches: std::collections::HashMap<String, Option<i64>> = Default::default();
    if !batch_ids.is_empty() {
        // Locked so that a concurrent close cannot slip between the check and the insert.
        let rows = sqlx::query(
            "SELECT batch_id, closed_ts FROM batches WHERE batch_id = ANY($1) FOR SHARE",
        )
        .bind(&batch_ids)
        .fetch_all(&mut *tx)
        .await?;
        for row in rows {
            batches.insert(row.try_get("batch_id")?, row.try_get("closed_ts")?);
        }
    }
    let queued: i64 = if crate::group::any_limited(submissions) {
        // Every gateway's group commits take this lock, so counting and inserting cannot
        // interleave between processes: the queue limit holds across the cluster.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(ADMISSION_LOCK)
            .execute(&mut *tx)
            .await?;
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
    if !accepted.is_empty() {
        insert_job_rows(&mut tx, &accepted, "queued").await?;
        notify_work(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Inserts job rows (and their contents' digests) in `state`.
async fn insert_job_rows(tx: &mut Tx, jobs: &[&NewJob], state: &str) -> StoreResult<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let mut blobs = QueryBuilder::new("INSERT INTO blobs (sha256, md5, sha1, sha512, size) ");
    blobs.push_values(jobs, |mut row, job| {
        row.push_bind(&job.hashes.sha256)
            .push_bind(&job.hashes.md5)
            .push_bind(&job.hashes.sha1)
            .push_bind(&job.hashes.sha512)
            .push_bind(to_i64(job.size));
    });
    blobs.push(" ON CONFLICT (sha256) DO NOTHING");
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

/// Settles `parents` (see [`Common::settle_parents`]), waking idle workers everywhere when one
/// is queued again to be finished.
async fn settle_parents(tx: &mut Tx, parents: &[String]) -> StoreResult<()> {
    if Common::settle_parents(tx, parents).await? {
        notify_work(tx).await?;
    }
    Ok(())
}

/// Stores final reports for the jobs `owner` still holds and settles their parents.
async fn complete_once(
    tx: &mut Tx,
    owner: &str,
    reports: &[FinishedJob],
    outputs: &[OutputRecord],
    now: Millis,
) -> StoreResult<Vec<String>> {
    let ids: Vec<&str> = reports.iter().map(|r| r.data_id.as_str()).collect();
    let results: Vec<i32> = reports.iter().map(|r| r.result_i).collect();
    let texts: Vec<&str> = reports.iter().map(|r| r.report.as_str()).collect();
    let blocked: Vec<bool> = reports.iter().map(|r| r.blocked).collect();
    let rows = sqlx::query(
        "UPDATE jobs SET state = 'done', result_i = v.result_i, report = v.report, \
         blocked = v.blocked, \
         finish_ts = $4, finished_by = lease_owner, lease_owner = NULL, lease_expires = NULL, \
         archive_passwords = '[]' \
         FROM UNNEST($1::text[], $2::int4[], $3::text[], $6::bool[]) \
           AS v(data_id, result_i, report, blocked) \
         WHERE jobs.data_id = v.data_id AND jobs.state = 'running' AND jobs.lease_owner = $5 \
         RETURNING jobs.data_id, jobs.parent_id",
    )
    .bind(&ids)
    .bind(&results)
    .bind(&texts)
    .bind(now)
    .bind(owner)
    .bind(&blocked)
    .fetch_all(&mut **tx)
    .await?;
    let mut completed = Vec::with_capacity(rows.len());
    let mut parents = Vec::new();
    for row in &rows {
        completed.push(row.try_get::<String, _>(0)?);
        if let Some(parent) = row.try_get::<Option<String>, _>(1)? {
            parents.push(parent);
        }
    }
    settle_parents(tx, &parents).await?;
    Common::insert_outputs(tx, outputs, &completed).await?;
    Ok(completed)
}

/// Cancels an unfinished job and every unfinished member below it, however deep.
async fn cancel_once(
    tx: &mut Tx,
    cancelled: &FinishedJob,
    now: Millis,
) -> StoreResult<CancelOutcome> {
    let data_id = cancelled.data_id.as_str();
    let state: Option<String> =
        sqlx::query_scalar("SELECT state FROM jobs WHERE data_id = $1 FOR UPDATE")
            .bind(data_id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some(state) = state else {
        return Ok(CancelOutcome::NotFound);
    };
    if crate::parse_state(&state)?.is_final() {
        return Ok(CancelOutcome::AlreadyFinal);
    }
    let cancelled = sqlx::query(
        "WITH RECURSIVE tree(id) AS ( \
           SELECT $4::text UNION ALL SELECT j.data_id FROM jobs j JOIN tree ON j.parent_id = tree.id) \
         UPDATE jobs SET state = 'cancelled', result_i = $1, report = $2, finish_ts = $3, \
         blocked = $5, \
         lease_owner = NULL, lease_expires = NULL, pending_children = 0, archive_passwords = '[]' \
         WHERE data_id IN (SELECT id FROM tree) AND state NOT IN ('done', 'cancelled') \
         RETURNING data_id, parent_id",
    )
    .bind(cancelled.result_i)
    .bind(cancelled.report.as_str())
    .bind(now)
    .bind(data_id)
    .bind(cancelled.blocked)
    .fetch_all(&mut **tx)
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
    settle_parents(tx, &parents).await?;
    Ok(CancelOutcome::Cancelled)
}

/// Wakes `wake` for every notification on the work channel, reconnecting when the connection drops.
/// A lost connection may have lost notifications, so it wakes then as well.
async fn listen_for_work(mut listener: PgListener, pool: PgPool, wake: Arc<Notify>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(_)) => wake.notify_one(),
            Ok(None) => {
                tracing::warn!("lost the PostgreSQL notification connection; reconnecting");
                wake.notify_one();
            }
            Err(error) => {
                tracing::warn!("PostgreSQL notifications: {error}; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                if let Ok(mut fresh) = PgListener::connect_with(&pool).await
                    && fresh.listen(WORK_CHANNEL).await.is_ok()
                {
                    listener = fresh;
                    wake.notify_one();
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl MetaBackend for PostgresBackend {
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
        // Four candidate sets (queued and lease-expired, submitted files and archive members),
        // each taken in submission order with SKIP LOCKED so that concurrent claimers split the
        // queue instead of waiting on each other. Members get only the running slots the cap
        // leaves this process.
        let sql = format!(
            "WITH member_room AS ( \
               SELECT GREATEST(0, LEAST($4, $5 - COUNT(*))) AS n FROM jobs \
               WHERE state = 'running' AND parent_id IS NOT NULL AND lease_expires >= $2 \
               AND CASE WHEN $6::text IS NULL THEN lease_owner = $1 ELSE starts_with(lease_owner, $6) END), \
             top_queued AS (SELECT seq FROM jobs WHERE state = 'queued' AND parent_id IS NULL \
               ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED), \
             top_expired AS (SELECT seq FROM jobs WHERE state = 'running' AND lease_expires < $2 \
               AND parent_id IS NULL ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED), \
             member_queued AS (SELECT seq FROM jobs WHERE state = 'queued' AND parent_id IS NOT NULL \
               ORDER BY seq LIMIT (SELECT n FROM member_room) FOR UPDATE SKIP LOCKED), \
             member_expired AS (SELECT seq FROM jobs WHERE state = 'running' AND lease_expires < $2 \
               AND parent_id IS NOT NULL ORDER BY seq LIMIT (SELECT n FROM member_room) FOR UPDATE SKIP LOCKED), \
             members AS (SELECT seq FROM (SELECT seq FROM member_queued UNION ALL SELECT seq FROM member_expired) m \
               ORDER BY seq LIMIT (SELECT n FROM member_room)), \
             pick AS (SELECT seq FROM (SELECT seq FROM top_queued UNION ALL SELECT seq FROM top_expired \
               UNION ALL SELECT seq FROM members) u ORDER BY seq LIMIT $4), \
             claimed AS (UPDATE jobs SET state = 'running', lease_owner = $1, lease_expires = $2 + $3, \
               attempts = attempts + 1, start_ts = COALESCE(start_ts, $2) \
               FROM pick WHERE jobs.seq = pick.seq RETURNING jobs.*) \
             SELECT {JOB_COLUMNS} FROM claimed j JOIN blobs b ON b.sha256 = j.sha256 ORDER BY j.seq"
        );
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(now)
            .bind(lease_ms)
            .bind(i64::from(limit))
            .bind(i64::from(member_cap))
            .bind(crate::owner_group(owner))
            .fetch_all(&self.common.write)
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    async fn heartbeat(
        &self,
        owner: &str,
        data_ids: &[String],
        now: Millis,
        lease_ms: i64,
    ) -> StoreResult<u64> {
        let held = sqlx::query(
            "UPDATE jobs SET lease_expires = $1 \
             WHERE data_id = ANY($2) AND state = 'running' AND lease_owner = $3",
        )
        .bind(now + lease_ms)
        .bind(data_ids)
        .bind(owner)
        .execute(&self.common.write)
        .await?
        .rows_affected();
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
        retrying!(self.common.write, tx => complete_once(&mut tx, owner, reports, outputs, now))
    }

    async fn outputs(&self, data_id: &str) -> StoreResult<Vec<OutputRecord>> {
        self.common.outputs(data_id).await
    }

    async fn expire_outputs(&self, before: Millis, limit: u32) -> StoreResult<ExpiredOutputs> {
        self.common.expire_outputs(before, limit).await
    }

    async fn release(&self, owner: &str, data_ids: &[String]) -> StoreResult<()> {
        let mut tx = self.common.write.begin().await?;
        sqlx::query(
            "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires = NULL, \
             attempts = GREATEST(attempts - 1, 0) \
             WHERE data_id = ANY($1) AND state = 'running' AND lease_owner = $2",
        )
        .bind(data_ids)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        notify_work(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn expand(
        &self,
        owner: &str,
        parent_id: &str,
        partial: &str,
        children: &[NewJob],
        now: Millis,
    ) -> StoreResult<bool> {
        let _ = now;
        let mut tx = self.common.write.begin().await?;
        let changed = sqlx::query(
            "UPDATE jobs SET state = CASE WHEN $1 > 0 THEN 'waiting' ELSE 'queued' END, \
             pending_children = $1, partial = $2, lease_owner = NULL, lease_expires = NULL \
             WHERE data_id = $3 AND state = 'running' AND lease_owner = $4",
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
        notify_work(&mut tx).await?;
        tx.commit().await?;
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

    async fn cancel(&self, cancelled: &FinishedJob, now: Millis) -> StoreResult<CancelOutcome> {
        retrying!(self.common.write, tx => cancel_once(&mut tx, cancelled, now))
    }

    async fn latest_by_hash(
        &self,
        kind: HashKind,
        hash: &str,
        query: &HashQuery,
    ) -> StoreResult<Option<JobRecord>> {
        self.common.latest_by_hash(kind, hash, query).await
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

    async fn node_heartbeat(&self, node: &NodeRecord) -> StoreResult<()> {
        let prefix = format!("{}/", node.node_id);
        sqlx::query(
            "INSERT INTO nodes (node_id, role, hostname, version, started_ts, last_seen, workers, running, engines) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, \
               (SELECT COUNT(*) FROM jobs WHERE state = 'running' AND starts_with(lease_owner, $8)), $9) \
             ON CONFLICT (node_id) DO UPDATE SET role = EXCLUDED.role, hostname = EXCLUDED.hostname, \
             version = EXCLUDED.version, started_ts = EXCLUDED.started_ts, last_seen = EXCLUDED.last_seen, \
             workers = EXCLUDED.workers, \
             running = EXCLUDED.running, engines = EXCLUDED.engines",
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
        self.common.write.close().await;
    }

    async fn integrity_problems(&self) -> StoreResult<Vec<String>> {
        // PostgreSQL checks its own pages (and its operator runs amcheck where wanted).
        Ok(Vec::new())
    }

    async fn watch_for_work(&self, wake: Arc<Notify>) -> StoreResult<()> {
        let mut listener = PgListener::connect_with(&self.common.write).await?;
        listener.listen(WORK_CHANNEL).await?;
        let task = tokio::spawn(listen_for_work(listener, self.common.write.clone(), wake));
        self.listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
        Ok(())
    }
}
