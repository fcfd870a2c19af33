//! The PostgreSQL metastore (cluster mode): any number of gateways and scanning nodes share it.
//!
//! Workers claim jobs with `FOR UPDATE SKIP LOCKED` under leases, so two nodes never take the same
//! queued job and a dead node's jobs are taken again once its leases expire. Whatever makes work
//! claimable (a submission, queued archive members, a parent whose members are done, a release)
//! sends `NOTIFY palisade_work` in its transaction; [`MetaBackend::watch_for_work`] listens.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_model::{HashKind, Millis};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{Executor, QueryBuilder, Row};
use tokio::sync::Notify;

use crate::group::GroupCommit;
use crate::rows::{
    JOB_COLUMNS, batch_from_row, job_from_row, node_from_row, session_from_row, to_i64,
};
use crate::{
    BatchRecord, CancelOutcome, HashQuery, JobRecord, JobState, MetaBackend, NewJob, NodeRecord,
    SessionRecord, StoreError, StoreResult, SubmitOutcome, UserRecord,
};

/// Versioned schema migrations, applied in order and recorded in `schema_version`.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_initial.sql")),
    (
        2,
        include_str!("../migrations/postgres/0002_finished_by.sql"),
    ),
];

/// The channel that wakes idle workers.
const WORK_CHANNEL: &str = "palisade_work";

/// Serialises migrations when several processes start at once (an arbitrary constant key).
const MIGRATION_LOCK: i64 = 0x7061_6c69_7361_6465;

/// A metastore in a PostgreSQL database.
pub struct PostgresBackend {
    pool: PgPool,
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
    /// migrations. `max_connections` bounds this process's pool.
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<Self> {
        let options: PgConnectOptions = url.parse()?;
        // A request waits at most 5 s for a connection: when PostgreSQL is down, uploads and
        // reads answer an error promptly instead of hanging.
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        migrate(&pool).await?;
        let submissions = {
            let pool = pool.clone();
            GroupCommit::start(move |jobs| {
                let pool = pool.clone();
                async move { insert_jobs(&pool, &jobs).await }
            })
        };
        Ok(Self {
            pool,
            submissions,
            listeners: Mutex::new(Vec::new()),
        })
    }

    /// Jobs whose `column` equals `value`, in `order`, a page at a time; and how many there are.
    async fn page(
        &self,
        column: &str,
        value: &str,
        order: &str,
        first: u64,
        size: u64,
    ) -> StoreResult<(u64, Vec<JobRecord>)> {
        let count: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM jobs WHERE {column} = $1"))
                .bind(value)
                .fetch_one(&self.pool)
                .await?;
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs j JOIN blobs b ON b.sha256 = j.sha256 \
             WHERE j.{column} = $1 ORDER BY {order} LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(&sql)
            .bind(value)
            .bind(to_i64(size))
            .bind(to_i64(first))
            .fetch_all(&self.pool)
            .await?;
        let jobs = rows.iter().map(job_from_row).collect::<StoreResult<_>>()?;
        Ok((u64::try_from(count).unwrap_or(0), jobs))
    }
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
async fn insert_jobs(pool: &PgPool, jobs: &[NewJob]) -> StoreResult<Vec<SubmitOutcome>> {
    let mut tx = pool.begin().await?;
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
    let outcomes = crate::group::outcomes(jobs, &batches);
    let accepted: Vec<&NewJob> = jobs
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| **outcome == SubmitOutcome::Accepted)
        .map(|(job, _)| job)
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

/// Counts newly final members against their waiting parents (locked in a fixed order, so
/// concurrent completions cannot deadlock on them); a parent with none left is queued again.
async fn settle_parents(tx: &mut Tx, parents: &[String]) -> StoreResult<()> {
    let mut counts: std::collections::BTreeMap<&str, i64> = Default::default();
    for parent in parents {
        *counts.entry(parent.as_str()).or_default() += 1;
    }
    let mut requeued = false;
    for (parent, done) in counts {
        let state: Option<String> = sqlx::query_scalar(
            "UPDATE jobs SET pending_children = GREATEST(pending_children - $1, 0), \
             state = CASE WHEN pending_children - $1 <= 0 THEN 'queued' ELSE state END \
             WHERE data_id = $2 AND state = 'waiting' RETURNING state",
        )
        .bind(done)
        .bind(parent)
        .fetch_optional(&mut **tx)
        .await?;
        requeued |= state.as_deref() == Some("queued");
    }
    if requeued {
        notify_work(tx).await?;
    }
    Ok(())
}

/// Stores final reports for the jobs `owner` still holds and settles their parents.
async fn complete_once(
    tx: &mut Tx,
    owner: &str,
    reports: &[(String, i32, String)],
    now: Millis,
) -> StoreResult<Vec<String>> {
    let ids: Vec<&str> = reports.iter().map(|r| r.0.as_str()).collect();
    let results: Vec<i32> = reports.iter().map(|r| r.1).collect();
    let texts: Vec<&str> = reports.iter().map(|r| r.2.as_str()).collect();
    let rows = sqlx::query(
        "UPDATE jobs SET state = 'done', result_i = v.result_i, report = v.report, \
         finish_ts = $4, finished_by = lease_owner, lease_owner = NULL, lease_expires = NULL \
         FROM UNNEST($1::text[], $2::int4[], $3::text[]) AS v(data_id, result_i, report) \
         WHERE jobs.data_id = v.data_id AND jobs.state = 'running' AND jobs.lease_owner = $5 \
         RETURNING jobs.data_id, jobs.parent_id",
    )
    .bind(&ids)
    .bind(&results)
    .bind(&texts)
    .bind(now)
    .bind(owner)
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
    Ok(completed)
}

/// Cancels an unfinished job and every unfinished member below it, however deep.
async fn cancel_once(
    tx: &mut Tx,
    data_id: &str,
    result_i: i32,
    report: &str,
    now: Millis,
) -> StoreResult<CancelOutcome> {
    let state: Option<String> =
        sqlx::query_scalar("SELECT state FROM jobs WHERE data_id = $1 FOR UPDATE")
            .bind(data_id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some(state) = state else {
        return Ok(CancelOutcome::NotFound);
    };
    if JobState::parse(&state)?.is_final() {
        return Ok(CancelOutcome::AlreadyFinal);
    }
    let cancelled = sqlx::query(
        "WITH RECURSIVE tree(id) AS ( \
           SELECT $4::text UNION ALL SELECT j.data_id FROM jobs j JOIN tree ON j.parent_id = tree.id) \
         UPDATE jobs SET state = 'cancelled', result_i = $1, report = $2, finish_ts = $3, \
         lease_owner = NULL, lease_expires = NULL, pending_children = 0 \
         WHERE data_id IN (SELECT id FROM tree) AND state NOT IN ('done', 'cancelled') \
         RETURNING data_id, parent_id",
    )
    .bind(result_i)
    .bind(report)
    .bind(now)
    .bind(data_id)
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
        self.submissions.submit(job).await
    }

    async fn job(&self, data_id: &str) -> StoreResult<Option<JobRecord>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs j JOIN blobs b ON b.sha256 = j.sha256 WHERE j.data_id = $1"
        );
        let row = sqlx::query(&sql)
            .bind(data_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn queue_depth(&self) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE state = 'queued'")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
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
        // queue instead of waiting on each other. Members get only the running slots the cap leaves.
        let sql = format!(
            "WITH member_room AS ( \
               SELECT GREATEST(0, LEAST($4, $5 - COUNT(*))) AS n FROM jobs \
               WHERE state = 'running' AND parent_id IS NOT NULL AND lease_expires >= $2), \
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
            .fetch_all(&self.pool)
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
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(held)
    }

    async fn complete(
        &self,
        owner: &str,
        reports: &[(String, i32, String)],
        now: Millis,
    ) -> StoreResult<Vec<String>> {
        if reports.is_empty() {
            return Ok(Vec::new());
        }
        retrying!(self.pool, tx => complete_once(&mut tx, owner, reports, now))
    }

    async fn release(&self, owner: &str, data_ids: &[String]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
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
        let mut tx = self.pool.begin().await?;
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
        self.page(
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
        let changed = sqlx::query(
            "UPDATE jobs SET extracted_bytes = extracted_bytes + $1, \
             extracted_members = extracted_members + $2 \
             WHERE data_id = $3 AND extracted_bytes + $1 <= $4 AND extracted_members + $2 <= $5",
        )
        .bind(to_i64(bytes))
        .bind(to_i64(members))
        .bind(root_id)
        .bind(to_i64(max_bytes))
        .bind(to_i64(max_members))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn cancel(
        &self,
        data_id: &str,
        result_i: i32,
        report: &str,
        now: Millis,
    ) -> StoreResult<CancelOutcome> {
        retrying!(self.pool, tx => cancel_once(&mut tx, data_id, result_i, report, now))
    }

    async fn latest_by_hash(
        &self,
        kind: HashKind,
        hash: &str,
        query: &HashQuery,
    ) -> StoreResult<Option<JobRecord>> {
        let sha256 = if kind == HashKind::Sha256 {
            Some(hash.to_string())
        } else {
            let sql = format!(
                "SELECT sha256 FROM blobs WHERE {} = $1 LIMIT 1",
                kind.column()
            );
            sqlx::query_scalar(&sql)
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?
        };
        let Some(sha256) = sha256 else {
            return Ok(None);
        };
        let mut filters = String::new();
        if query.rule.is_some() {
            filters.push_str(" AND j.rule = $3");
        }
        if query.self_only {
            filters.push_str(" AND j.parent_id IS NULL");
        }
        let since = query.since.unwrap_or(i64::MIN);
        let rule = query.rule.as_deref().unwrap_or("");
        let finished = format!(
            "SELECT {JOB_COLUMNS} FROM jobs j JOIN blobs b ON b.sha256 = j.sha256 \
             WHERE j.sha256 = $1 AND j.state IN ('done', 'cancelled') AND j.finish_ts >= $2 \
             AND $3 = $3{filters} ORDER BY j.finish_ts DESC, j.seq DESC LIMIT 1"
        );
        let row = sqlx::query(&finished)
            .bind(&sha256)
            .bind(since)
            .bind(rule)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = row {
            return Ok(Some(job_from_row(&row)?));
        }
        if !query.include_in_progress {
            return Ok(None);
        }
        let pending = format!(
            "SELECT {JOB_COLUMNS} FROM jobs j JOIN blobs b ON b.sha256 = j.sha256 \
             WHERE j.sha256 = $1 AND j.state IN ('queued', 'running', 'waiting') AND j.upload_ts >= $2 \
             AND $3 = $3{filters} ORDER BY j.seq DESC LIMIT 1"
        );
        let row = sqlx::query(&pending)
            .bind(&sha256)
            .bind(since)
            .bind(rule)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn create_batch(&self, batch: &BatchRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO batches (batch_id, rule, user_agent, username, user_data, created_ts, closed_ts, cancelled) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&batch.batch_id)
        .bind(&batch.rule)
        .bind(&batch.user_agent)
        .bind(&batch.username)
        .bind(&batch.user_data)
        .bind(batch.created_ts)
        .bind(batch.closed_ts)
        .bind(batch.cancelled)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn batch(&self, batch_id: &str) -> StoreResult<Option<BatchRecord>> {
        let row = sqlx::query(
            "SELECT batch_id, rule, user_agent, username, user_data, created_ts, closed_ts, cancelled \
             FROM batches WHERE batch_id = $1",
        )
        .bind(batch_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(batch_from_row).transpose()
    }

    async fn close_batch(&self, batch_id: &str, now: Millis, cancelled: bool) -> StoreResult<bool> {
        let changed = sqlx::query(
            "UPDATE batches SET closed_ts = COALESCE(closed_ts, $1), cancelled = (cancelled OR $2) \
             WHERE batch_id = $3",
        )
        .bind(now)
        .bind(cancelled)
        .bind(batch_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn batch_members(
        &self,
        batch_id: &str,
        first: u64,
        size: u64,
    ) -> StoreResult<(u64, Vec<JobRecord>)> {
        self.page("batch_id", batch_id, "j.seq", first, size).await
    }

    async fn unfinished_batch_members(&self, batch_id: &str) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT data_id FROM jobs WHERE batch_id = $1 AND state IN ('queued', 'running', 'waiting') ORDER BY seq",
        )
        .bind(batch_id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (session_id, username, role, csrf_token, last_seen) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&session.session_id)
        .bind(&session.username)
        .bind(&session.role)
        .bind(&session.csrf_token)
        .bind(session.last_seen)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session(
        &self,
        session_id: &str,
        now: Millis,
        idle_ms: i64,
    ) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query(
            "SELECT session_id, username, role, csrf_token, last_seen FROM sessions WHERE session_id = $1",
        )
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(session) = row.as_ref().map(session_from_row).transpose()? else {
            return Ok(None);
        };
        if now - session.last_seen > idle_ms {
            self.delete_session(session_id).await?;
            return Ok(None);
        }
        // Touch at most once a second so that polling clients do not turn every read into a write.
        if now - session.last_seen >= 1000 {
            sqlx::query("UPDATE sessions SET last_seen = $1 WHERE session_id = $2")
                .bind(now)
                .bind(session_id)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(session))
    }

    async fn delete_session(&self, session_id: &str) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM sessions WHERE session_id = $1")
            .bind(session_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted == 1)
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn nodes(&self) -> StoreResult<Vec<NodeRecord>> {
        let rows = sqlx::query(
            "SELECT node_id, role, hostname, version, started_ts, last_seen, workers, running, engines \
             FROM nodes ORDER BY started_ts, node_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(node_from_row).collect()
    }

    async fn remove_node(&self, node_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM nodes WHERE node_id = $1")
            .bind(node_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn forget_nodes(&self, seen_before: Millis) -> StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM nodes WHERE last_seen < $1")
            .bind(seen_before)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    async fn put_user(&self, user: &UserRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (username, password_hash, role) VALUES ($1, $2, $3) \
             ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, role = EXCLUDED.role",
        )
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(&user.role)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn user(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        let row =
            sqlx::query("SELECT username, password_hash, role FROM users WHERE username = $1")
                .bind(username)
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(UserRecord {
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            role: row.try_get("role")?,
        }))
    }

    async fn user_count(&self) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn watch_for_work(&self, wake: Arc<Notify>) -> StoreResult<()> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(WORK_CHANNEL).await?;
        let task = tokio::spawn(listen_for_work(listener, self.pool.clone(), wake));
        self.listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
        Ok(())
    }
}
