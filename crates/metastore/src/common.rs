//! The operations whose SQL is the same on every database (reads, batches, sessions, users, the
//! registry), written once over sqlx's generic `Database`. Parameters are `$n`, which SQLite
//! reads by number too. Each backend keeps what differs: the queue's locking, submissions,
//! cancel, node heartbeats.

use palisade_model::{HashKind, Millis, OutputRecord};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Type};

use crate::rows::{
    JOB_COLUMNS, batch_from_row, job_from_row, node_from_row, output_from_row, session_from_row,
    submission_from_row, to_i64,
};
use crate::{
    BatchRecord, ExpiredOutputs, HashQuery, JobRecord, NodeRecord, SessionRecord, StoreResult,
    SubmissionQuery, SubmissionRow, UserRecord,
};

/// A value bound to a statement built at run time.
pub(crate) enum Param {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// The statement of a submission list page: the filters of `query` as `$n` parameters, newest
/// upload first (oldest first for the page before `after`), keyed on (upload_ts, seq). Each
/// filter has an index that ends in those two columns (`jobs_listed*` in the migrations), so a
/// page, a time range included, is read in order from one index; the main one also holds the
/// name, so a name search reads the index, not the rows. `like` is the database's
/// case-insensitive LIKE: SQLite's own `LIKE` (ASCII letters), PostgreSQL's `ILIKE`.
pub(crate) fn submissions_sql(query: &SubmissionQuery, like: &str) -> (String, Vec<Param>) {
    let mut sql = String::from(
        "SELECT j.seq, j.data_id, j.display_name, j.file_type, b.size, j.sha256, j.rule, \
         j.username, j.upload_ts, j.finish_ts, j.state, j.result_i, j.blocked \
         FROM jobs j JOIN blobs b ON b.sha256 = j.sha256 WHERE j.parent_id IS NULL",
    );
    let mut params = Vec::new();
    // Each `$?` of a condition takes the next of its parameters.
    let mut filter = |sql: &mut String, condition: &str, values: Vec<Param>| {
        sql.push_str(" AND ");
        let mut parts = condition.split("$?");
        sql.push_str(parts.next().unwrap_or_default());
        for (part, value) in parts.zip(values) {
            params.push(value);
            sql.push_str(&format!("${}{part}", params.len()));
        }
    };
    if let Some(result_i) = query.result_i {
        filter(
            &mut sql,
            "j.result_i = $?",
            vec![Param::Int(i64::from(result_i))],
        );
    }
    if let Some(blocked) = query.blocked {
        filter(&mut sql, "j.blocked = $?", vec![Param::Bool(blocked)]);
    }
    for (column, value) in [
        ("j.rule", &query.rule),
        ("j.file_type", &query.file_type),
        ("j.username", &query.username),
    ] {
        if let Some(value) = value {
            filter(
                &mut sql,
                &format!("{column} = $?"),
                vec![Param::Text(value.clone())],
            );
        }
    }
    if let Some(since) = query.since {
        filter(&mut sql, "j.upload_ts >= $?", vec![Param::Int(since)]);
    }
    if let Some(until) = query.until {
        filter(&mut sql, "j.upload_ts < $?", vec![Param::Int(until)]);
    }
    if let Some(text) = query
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        match HashKind::parse(text) {
            Some((HashKind::Sha256, hash)) => {
                filter(&mut sql, "j.sha256 = $?", vec![Param::Text(hash)])
            }
            // Data ids have the length of an MD5.
            Some((HashKind::Md5, hash)) => filter(
                &mut sql,
                "(j.data_id = $? OR j.sha256 IN (SELECT sha256 FROM blobs WHERE md5 = $?))",
                vec![Param::Text(hash.clone()), Param::Text(hash)],
            ),
            Some((kind, hash)) => filter(
                &mut sql,
                &format!(
                    "j.sha256 IN (SELECT sha256 FROM blobs WHERE {} = $?)",
                    kind.column()
                ),
                vec![Param::Text(hash)],
            ),
            None => filter(
                &mut sql,
                &format!("j.display_name {like} $? ESCAPE '\\'"),
                vec![Param::Text(like_pattern(text))],
            ),
        }
    }
    let key = |(upload_ts, seq): (Millis, i64)| vec![Param::Int(upload_ts), Param::Int(seq)];
    let order = match (query.before, query.after) {
        (Some(before), _) => {
            filter(&mut sql, "(j.upload_ts, j.seq) < ($?, $?)", key(before));
            "DESC"
        }
        (None, Some(after)) => {
            filter(&mut sql, "(j.upload_ts, j.seq) > ($?, $?)", key(after));
            "ASC"
        }
        (None, None) => "DESC",
    };
    sql.push_str(&format!(
        " ORDER BY j.upload_ts {order}, j.seq {order} LIMIT {}",
        query.limit.clamp(1, 500)
    ));
    (sql, params)
}

/// `%text%` for LIKE, with LIKE's own characters (and the escape) taken literally.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// How many rows a statement changed, whatever the database.
pub(crate) trait RowsAffected {
    fn rows(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

/// A pool to read from and one to write to (the same pool where the database does not care).
pub(crate) struct Common<DB: Database> {
    pub(crate) read: Pool<DB>,
    pub(crate) write: Pool<DB>,
}

impl<DB> Common<DB>
where
    DB: Database,
    DB::QueryResult: RowsAffected,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    usize: ColumnIndex<DB::Row>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
    for<'q> &'q str: Encode<'q, DB>,
    str: Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB>,
    String: Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    i64: Type<DB>,
    for<'q> i32: Decode<'q, DB>,
    i32: Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB>,
    bool: Type<DB>,
{
    /// Counts newly final members against their waiting parents (locked in a fixed order, so
    /// concurrent completions cannot deadlock on them); a parent with none left is queued again.
    /// Returns whether one was.
    pub(crate) async fn settle_parents(
        tx: &mut sqlx::Transaction<'_, DB>,
        parents: &[String],
    ) -> StoreResult<bool> {
        let mut counts: std::collections::BTreeMap<&str, i64> = Default::default();
        for parent in parents {
            *counts.entry(parent.as_str()).or_default() += 1;
        }
        let mut requeued = false;
        for (parent, done) in counts {
            let state: Option<String> = sqlx::query_scalar::<DB, String>(
                "UPDATE jobs SET \
                 pending_children = CASE WHEN pending_children > $1 THEN pending_children - $1 ELSE 0 END, \
                 state = CASE WHEN pending_children <= $1 THEN 'queued' ELSE state END \
                 WHERE data_id = $2 AND state = 'waiting' RETURNING state",
            )
            .bind(done)
            .bind(parent)
            .fetch_optional(&mut **tx)
            .await?;
            requeued |= state.as_deref() == Some("queued");
        }
        Ok(requeued)
    }

    /// Records the outputs of the jobs a completion just finished (`completed`), in its
    /// transaction: an output of a job whose result was not stored is not recorded either.
    pub(crate) async fn insert_outputs(
        tx: &mut sqlx::Transaction<'_, DB>,
        outputs: &[OutputRecord],
        completed: &[String],
    ) -> StoreResult<()> {
        for output in outputs.iter().filter(|o| completed.contains(&o.data_id)) {
            sqlx::query::<DB>(
                "INSERT INTO outputs (data_id, kind, sha256, size, name, created_ts) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (data_id, kind) DO NOTHING",
            )
            .bind(output.data_id.as_str())
            .bind(output.kind.as_str())
            .bind(output.sha256.as_str())
            .bind(to_i64(output.size))
            .bind(output.name.as_str())
            .bind(output.created_ts)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// A file's stored outputs that have not expired, the one a download prefers first.
    pub(crate) async fn outputs(&self, data_id: &str) -> StoreResult<Vec<OutputRecord>> {
        let rows = sqlx::query::<DB>(
            "SELECT data_id, kind, sha256, size, name, created_ts FROM outputs WHERE data_id = $1",
        )
        .bind(data_id)
        .fetch_all(&self.read)
        .await?;
        let mut outputs = rows
            .iter()
            .map(output_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        outputs.sort_by_key(|o| o.kind.download_preference());
        Ok(outputs)
    }

    /// Forgets up to `limit` outputs created before `before`; returns the digests of the blobs
    /// nothing refers to any more (no output, no submitted file), which the caller deletes.
    pub(crate) async fn expire_outputs(
        &self,
        before: Millis,
        limit: u32,
    ) -> StoreResult<ExpiredOutputs> {
        let mut tx = self.write.begin().await?;
        let expired: Vec<String> = sqlx::query_scalar::<DB, String>(
            "DELETE FROM outputs WHERE (data_id, kind) IN \
             (SELECT data_id, kind FROM outputs WHERE created_ts < $1 ORDER BY created_ts LIMIT $2) \
             RETURNING sha256",
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut unreferenced = Vec::new();
        for sha256 in &expired {
            if unreferenced.contains(sha256) {
                continue;
            }
            let referenced: bool = sqlx::query_scalar::<DB, bool>(
                "SELECT EXISTS (SELECT 1 FROM outputs WHERE sha256 = $1) \
                 OR EXISTS (SELECT 1 FROM blobs WHERE sha256 = $1)",
            )
            .bind(sha256.as_str())
            .fetch_one(&mut *tx)
            .await?;
            if !referenced {
                unreferenced.push(sha256.clone());
            }
        }
        tx.commit().await?;
        Ok(ExpiredOutputs {
            rows: u64::try_from(expired.len()).unwrap_or(u64::MAX),
            unreferenced_blobs: unreferenced,
        })
    }

    pub(crate) async fn job(&self, data_id: &str) -> StoreResult<Option<JobRecord>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs j JOIN blobs b ON b.sha256 = j.sha256 WHERE j.data_id = $1"
        );
        let row = sqlx::query::<DB>(&sql)
            .bind(data_id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    pub(crate) async fn queue_depth(&self) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar::<DB, i64>(crate::group::QUEUED_SUBMISSIONS)
            .fetch_one(&self.read)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    pub(crate) async fn queue_state(&self) -> StoreResult<crate::QueueState> {
        let depth: i64 =
            sqlx::query_scalar::<DB, i64>("SELECT COUNT(*) FROM jobs WHERE state = 'queued'")
                .fetch_one(&self.read)
                .await?;
        let oldest_upload: Option<i64> = sqlx::query_scalar::<DB, i64>(
            "SELECT upload_ts FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 1",
        )
        .fetch_optional(&self.read)
        .await?;
        Ok(crate::QueueState {
            depth: u64::try_from(depth).unwrap_or(0),
            oldest_upload,
        })
    }

    /// Jobs whose `column` equals `value`, in `order`, a page at a time; and how many there are.
    pub(crate) async fn page(
        &self,
        column: &str,
        value: &str,
        order: &str,
        first: u64,
        size: u64,
    ) -> StoreResult<(u64, Vec<JobRecord>)> {
        let count: i64 = sqlx::query_scalar::<DB, i64>(&format!(
            "SELECT COUNT(*) FROM jobs WHERE {column} = $1"
        ))
        .bind(value)
        .fetch_one(&self.read)
        .await?;
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs j JOIN blobs b ON b.sha256 = j.sha256 \
             WHERE j.{column} = $1 ORDER BY {order} LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query::<DB>(&sql)
            .bind(value)
            .bind(to_i64(size))
            .bind(to_i64(first))
            .fetch_all(&self.read)
            .await?;
        let jobs = rows.iter().map(job_from_row).collect::<StoreResult<_>>()?;
        Ok((u64::try_from(count).unwrap_or(0), jobs))
    }

    pub(crate) async fn latest_by_hash(
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
            sqlx::query_scalar::<DB, String>(&sql)
                .bind(hash)
                .fetch_optional(&self.read)
                .await?
        };
        let Some(sha256) = sha256 else {
            return Ok(None);
        };
        // `$3 = $3` keeps the rule parameter in the statement when it is not filtered on (and
        // `$4 = $4` the user).
        let mut filters = String::from(" AND $3 = $3 AND $4 = $4");
        if query.rule.is_some() {
            filters.push_str(" AND j.rule = $3");
        }
        if query.username.is_some() {
            filters.push_str(" AND j.username = $4");
        }
        if query.self_only {
            filters.push_str(" AND j.parent_id IS NULL");
        }
        let since = query.since.unwrap_or(i64::MIN);
        let rule = query.rule.as_deref().unwrap_or("");
        let username = query.username.as_deref().unwrap_or("");
        let finished = format!(
            "SELECT {JOB_COLUMNS} FROM jobs j JOIN blobs b ON b.sha256 = j.sha256 \
             WHERE j.sha256 = $1 AND j.state IN ('done', 'cancelled') AND j.finish_ts >= $2{filters} \
             ORDER BY j.finish_ts DESC, j.seq DESC LIMIT 1"
        );
        let row = sqlx::query::<DB>(&finished)
            .bind(sha256.as_str())
            .bind(since)
            .bind(rule)
            .bind(username)
            .fetch_optional(&self.read)
            .await?;
        if let Some(row) = row {
            return Ok(Some(job_from_row(&row)?));
        }
        if !query.include_in_progress {
            return Ok(None);
        }
        let pending = format!(
            "SELECT {JOB_COLUMNS} FROM jobs j JOIN blobs b ON b.sha256 = j.sha256 \
             WHERE j.sha256 = $1 AND j.state IN ('queued', 'running', 'waiting') AND j.upload_ts >= $2{filters} \
             ORDER BY j.seq DESC LIMIT 1"
        );
        let row = sqlx::query::<DB>(&pending)
            .bind(sha256.as_str())
            .bind(since)
            .bind(rule)
            .bind(username)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    pub(crate) async fn charge_extraction(
        &self,
        root_id: &str,
        bytes: u64,
        members: u64,
        max_bytes: u64,
        max_members: u64,
    ) -> StoreResult<bool> {
        let changed = sqlx::query::<DB>(
            "UPDATE jobs SET extracted_bytes = extracted_bytes + $1, \
             extracted_members = extracted_members + $2 \
             WHERE data_id = $3 AND extracted_bytes + $1 <= $4 AND extracted_members + $2 <= $5",
        )
        .bind(to_i64(bytes))
        .bind(to_i64(members))
        .bind(root_id)
        .bind(to_i64(max_bytes))
        .bind(to_i64(max_members))
        .execute(&self.write)
        .await?
        .rows();
        Ok(changed == 1)
    }

    pub(crate) async fn refund_extraction(&self, root_id: &str, bytes: u64) -> StoreResult<()> {
        sqlx::query::<DB>(
            "UPDATE jobs SET extracted_bytes = CASE WHEN extracted_bytes > $1 \
             THEN extracted_bytes - $1 ELSE 0 END WHERE data_id = $2",
        )
        .bind(to_i64(bytes))
        .bind(root_id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub(crate) async fn create_batch(&self, batch: &BatchRecord) -> StoreResult<()> {
        sqlx::query::<DB>(
            "INSERT INTO batches (batch_id, rule, user_agent, username, user_data, created_ts, closed_ts, cancelled) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(batch.batch_id.as_str())
        .bind(batch.rule.as_str())
        .bind(batch.user_agent.as_str())
        .bind(batch.username.as_str())
        .bind(batch.user_data.as_str())
        .bind(batch.created_ts)
        .bind(batch.closed_ts)
        .bind(batch.cancelled)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub(crate) async fn batch(&self, batch_id: &str) -> StoreResult<Option<BatchRecord>> {
        let row = sqlx::query::<DB>(
            "SELECT batch_id, rule, user_agent, username, user_data, created_ts, closed_ts, cancelled \
             FROM batches WHERE batch_id = $1",
        )
        .bind(batch_id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(batch_from_row).transpose()
    }

    pub(crate) async fn close_batch(
        &self,
        batch_id: &str,
        now: Millis,
        cancelled: bool,
    ) -> StoreResult<bool> {
        let changed = sqlx::query::<DB>(
            "UPDATE batches SET closed_ts = COALESCE(closed_ts, $1), cancelled = (cancelled OR $2) \
             WHERE batch_id = $3",
        )
        .bind(now)
        .bind(cancelled)
        .bind(batch_id)
        .execute(&self.write)
        .await?
        .rows();
        Ok(changed == 1)
    }

    pub(crate) async fn unfinished_batch_members(
        &self,
        batch_id: &str,
    ) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar::<DB, String>(
            "SELECT data_id FROM jobs WHERE batch_id = $1 AND state IN ('queued', 'running', 'waiting') ORDER BY seq",
        )
        .bind(batch_id)
        .fetch_all(&self.read)
        .await?)
    }

    pub(crate) async fn recent_batches(
        &self,
        username: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<BatchRecord>> {
        let filter = if username.is_some() {
            "WHERE username = $1"
        } else {
            "WHERE $1 = $1"
        };
        let rows = sqlx::query::<DB>(&format!(
            "SELECT batch_id, rule, user_agent, username, user_data, created_ts, closed_ts, cancelled \
             FROM batches {filter} ORDER BY created_ts DESC, batch_id LIMIT $2"
        ))
        .bind(username.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(batch_from_row).collect()
    }

    pub(crate) async fn submissions(
        &self,
        query: &SubmissionQuery,
    ) -> StoreResult<Vec<SubmissionRow>> {
        let like = if DB::NAME == "PostgreSQL" {
            "ILIKE"
        } else {
            "LIKE"
        };
        let (sql, params) = submissions_sql(query, like);
        let mut statement = sqlx::query::<DB>(&sql);
        for param in params {
            statement = match param {
                Param::Text(text) => statement.bind(text),
                Param::Int(number) => statement.bind(number),
                Param::Bool(flag) => statement.bind(flag),
            };
        }
        let rows = statement.fetch_all(&self.read).await?;
        let mut page = rows
            .iter()
            .map(submission_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        page.sort_by_key(|row| std::cmp::Reverse((row.upload_ts, row.seq)));
        Ok(page)
    }

    pub(crate) async fn create_session(&self, session: &SessionRecord) -> StoreResult<()> {
        sqlx::query::<DB>(
            "INSERT INTO sessions (session_id, username, role, csrf_token, last_seen) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(session.session_id.as_str())
        .bind(session.username.as_str())
        .bind(session.role.as_str())
        .bind(session.csrf_token.as_str())
        .bind(session.last_seen)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub(crate) async fn session(
        &self,
        session_id: &str,
        now: Millis,
        idle_ms: i64,
    ) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query::<DB>(
            "SELECT session_id, username, role, csrf_token, last_seen FROM sessions WHERE session_id = $1",
        )
        .bind(session_id)
        .fetch_optional(&self.read)
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
            sqlx::query::<DB>("UPDATE sessions SET last_seen = $1 WHERE session_id = $2")
                .bind(now)
                .bind(session_id)
                .execute(&self.write)
                .await?;
        }
        Ok(Some(session))
    }

    pub(crate) async fn delete_session(&self, session_id: &str) -> StoreResult<bool> {
        let deleted = sqlx::query::<DB>("DELETE FROM sessions WHERE session_id = $1")
            .bind(session_id)
            .execute(&self.write)
            .await?
            .rows();
        Ok(deleted == 1)
    }

    pub(crate) async fn nodes(&self) -> StoreResult<Vec<NodeRecord>> {
        let rows = sqlx::query::<DB>(
            "SELECT node_id, role, hostname, version, started_ts, last_seen, workers, running, engines \
             FROM nodes ORDER BY started_ts, node_id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(node_from_row).collect()
    }

    pub(crate) async fn remove_node(&self, node_id: &str) -> StoreResult<()> {
        sqlx::query::<DB>("DELETE FROM nodes WHERE node_id = $1")
            .bind(node_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub(crate) async fn forget_nodes(&self, seen_before: Millis) -> StoreResult<u64> {
        Ok(sqlx::query::<DB>("DELETE FROM nodes WHERE last_seen < $1")
            .bind(seen_before)
            .execute(&self.write)
            .await?
            .rows())
    }

    pub(crate) async fn put_user(&self, user: &UserRecord) -> StoreResult<()> {
        sqlx::query::<DB>(
            "INSERT INTO users (username, password_hash, role) VALUES ($1, $2, $3) \
             ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, role = EXCLUDED.role",
        )
        .bind(user.username.as_str())
        .bind(user.password_hash.as_str())
        .bind(user.role.as_str())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub(crate) async fn user(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        let row = sqlx::query::<DB>(
            "SELECT username, password_hash, role FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        use sqlx::Row;
        Ok(Some(UserRecord {
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            role: row.try_get("role")?,
        }))
    }

    pub(crate) async fn instance_id(&self) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar::<DB, String>("SELECT id FROM instance WHERE singleton = 1")
                .fetch_optional(&self.write)
                .await?,
        )
    }

    pub(crate) async fn claim_instance(&self, id: &str, now: Millis) -> StoreResult<String> {
        sqlx::query::<DB>(
            "INSERT INTO instance (singleton, id, created_ts, probed_ts) VALUES (1, $1, $2, $2) \
             ON CONFLICT (singleton) DO NOTHING",
        )
        .bind(id)
        .bind(now)
        .execute(&self.write)
        .await?;
        self.instance_id()
            .await?
            .ok_or_else(|| crate::StoreError::Corrupt("the instance row vanished".into()))
    }

    pub(crate) async fn probe_write(&self, now: Millis) -> StoreResult<()> {
        sqlx::query::<DB>("UPDATE instance SET probed_ts = $1 WHERE singleton = 1")
            .bind(now)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub(crate) async fn ping(&self) -> StoreResult<()> {
        sqlx::query::<DB>("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    pub(crate) async fn user_count(&self) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar::<DB, i64>("SELECT COUNT(*) FROM users")
            .fetch_one(&self.read)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
