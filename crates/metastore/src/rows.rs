//! Decoding rows into records, shared by the database backends.

use palisade_model::{FileHashes, OutputKind, OutputRecord};
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::{
    BatchRecord, JobRecord, NewJob, NodeRecord, SessionRecord, StoreError, StoreResult,
    SubmissionRow,
};

/// The columns [`job_from_row`] reads, from `jobs j JOIN blobs b`.
pub(crate) const JOB_COLUMNS: &str = "j.data_id, j.sha256, b.md5, b.sha1, b.sha512, b.size, j.display_name, \
    j.file_type, j.file_type_description, j.type_category, j.rule, \
    j.user_agent, j.username, j.metadata, j.batch_id, j.parent_id, j.archive_passwords, j.callback_url, j.global_timeout_ms, \
    j.receive_ts, j.upload_ts, j.hash_time, j.state, j.attempts, j.lease_owner, j.lease_expires, \
    j.start_ts, j.finish_ts, j.result_i, j.report, j.root_id, j.depth, j.archive_index, \
    j.pending_children, j.partial, j.finished_by";

/// Reads a job from a row of `JOB_COLUMNS`, whichever database it came from.
pub(crate) fn job_from_row<'r, R>(row: &'r R) -> StoreResult<JobRecord>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
{
    let passwords: String = row.try_get("archive_passwords")?;
    let archive_passwords = serde_json::from_str(&passwords)
        .map_err(|e| StoreError::Corrupt(format!("archive_passwords: {e}")))?;
    let size: i64 = row.try_get("size")?;
    let attempts: i64 = row.try_get("attempts")?;
    Ok(JobRecord {
        job: NewJob {
            data_id: row.try_get("data_id")?,
            hashes: FileHashes {
                md5: row.try_get("md5")?,
                sha1: row.try_get("sha1")?,
                sha256: row.try_get("sha256")?,
                sha512: row.try_get("sha512")?,
            },
            size: u64::try_from(size).unwrap_or(0),
            display_name: row.try_get("display_name")?,
            file_type: row.try_get("file_type")?,
            file_type_description: row.try_get("file_type_description")?,
            type_category: split_letters(row.try_get("type_category")?),
            rule: row.try_get("rule")?,
            user_agent: row.try_get("user_agent")?,
            username: row.try_get("username")?,
            metadata: row.try_get("metadata")?,
            batch_id: row.try_get("batch_id")?,
            parent_id: row.try_get("parent_id")?,
            root_id: row.try_get("root_id")?,
            depth: u32::try_from(row.try_get::<i64, _>("depth")?).unwrap_or(0),
            archive_index: row
                .try_get::<Option<i64>, _>("archive_index")?
                .and_then(|i| u32::try_from(i).ok()),
            archive_passwords,
            callback_url: row.try_get("callback_url")?,
            global_timeout_ms: row.try_get("global_timeout_ms")?,
            receive_ts: row.try_get("receive_ts")?,
            upload_ts: row.try_get("upload_ts")?,
            hash_time: row.try_get("hash_time")?,
        },
        state: crate::parse_state(&row.try_get::<String, _>("state")?)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        lease_owner: row.try_get("lease_owner")?,
        lease_expires: row.try_get("lease_expires")?,
        start_ts: row.try_get("start_ts")?,
        finish_ts: row.try_get("finish_ts")?,
        result_i: row.try_get("result_i")?,
        report: row.try_get("report")?,
        pending_children: u32::try_from(row.try_get::<i64, _>("pending_children")?).unwrap_or(0),
        partial: row.try_get("partial")?,
        finished_by: row.try_get("finished_by")?,
    })
}

pub(crate) fn split_letters(text: String) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) fn batch_from_row<'r, R>(row: &'r R) -> StoreResult<BatchRecord>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(BatchRecord {
        batch_id: row.try_get("batch_id")?,
        rule: row.try_get("rule")?,
        user_agent: row.try_get("user_agent")?,
        username: row.try_get("username")?,
        user_data: row.try_get("user_data")?,
        created_ts: row.try_get("created_ts")?,
        closed_ts: row.try_get("closed_ts")?,
        cancelled: row.try_get("cancelled")?,
    })
}

pub(crate) fn session_from_row<'r, R>(row: &'r R) -> StoreResult<SessionRecord>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(SessionRecord {
        session_id: row.try_get("session_id")?,
        username: row.try_get("username")?,
        role: row.try_get("role")?,
        csrf_token: row.try_get("csrf_token")?,
        last_seen: row.try_get("last_seen")?,
    })
}

pub(crate) fn node_from_row<'r, R>(row: &'r R) -> StoreResult<NodeRecord>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(NodeRecord {
        node_id: row.try_get("node_id")?,
        role: row.try_get("role")?,
        hostname: row.try_get("hostname")?,
        version: row.try_get("version")?,
        started_ts: row.try_get("started_ts")?,
        last_seen: row.try_get("last_seen")?,
        workers: u32::try_from(row.try_get::<i64, _>("workers")?).unwrap_or(0),
        running: u64::try_from(row.try_get::<i64, _>("running")?).unwrap_or(0),
        engines: row.try_get("engines")?,
    })
}

/// Reads an output from a row of `data_id, kind, sha256, size, name, created_ts`.
pub(crate) fn output_from_row<'r, R>(row: &'r R) -> StoreResult<OutputRecord>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let kind: String = row.try_get("kind")?;
    let size: i64 = row.try_get("size")?;
    Ok(OutputRecord {
        data_id: row.try_get("data_id")?,
        kind: OutputKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown output kind {kind:?}")))?,
        sha256: row.try_get("sha256")?,
        size: u64::try_from(size).unwrap_or(0),
        name: row.try_get("name")?,
        created_ts: row.try_get("created_ts")?,
    })
}

/// Reads a row of the submission list (see `common::submissions_sql`).
pub(crate) fn submission_from_row<'r, R>(row: &'r R) -> StoreResult<SubmissionRow>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let size: i64 = row.try_get("size")?;
    Ok(SubmissionRow {
        seq: row.try_get("seq")?,
        data_id: row.try_get("data_id")?,
        display_name: row.try_get("display_name")?,
        file_type: row.try_get("file_type")?,
        size: u64::try_from(size).unwrap_or(0),
        sha256: row.try_get("sha256")?,
        rule: row.try_get("rule")?,
        username: row.try_get("username")?,
        upload_ts: row.try_get("upload_ts")?,
        finish_ts: row.try_get("finish_ts")?,
        state: crate::parse_state(&row.try_get::<String, _>("state")?)?,
        result_i: row.try_get("result_i")?,
        blocked: row.try_get("blocked")?,
    })
}
