//! Files: accepting uploads, reports while running and when final, hash lookup and cancel.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use palisade_blobstore::{ContentEncoding, IngestError, Ingested};
use palisade_metastore::{CancelOutcome, HashQuery, JobRecord, JobState, NewJob, SubmitOutcome};
use palisade_model::{BatchId, DataId, FileReport, HashKind, ScanResult, now_millis};
use palisade_pipeline::FileTypeFinding;
use palisade_pipeline::{ReportContext, Roster, in_progress_report, terminal_report};

use crate::{Caller, RuleSettings, Service, ServiceError, ServiceResult};

/// Uploads up to this size are gathered in memory and stored in one step.
const SMALL_UPLOAD: u64 = 256 * 1024;

fn ingest_error(error: IngestError) -> ServiceError {
    match error {
        IngestError::TooLarge { .. } => ServiceError::TooLarge,
        IngestError::Empty => ServiceError::EmptyFile,
        IngestError::Client(reason) => ServiceError::BadRequest(format!("Upload failed: {reason}")),
        IngestError::Storage(error) => {
            tracing::error!(%error, "storing an upload failed");
            ServiceError::Internal("Unexpected event on server".into())
        }
    }
}

/// Whether `text` can be a `callbackurl`: an absolute http or https URL with a host.
fn is_callback_url(text: &str) -> bool {
    let Ok(url) = url::Url::parse(text) else {
        return false;
    };
    matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|host| !host.is_empty())
        && text.contains("://")
}

/// A report ready to send.
#[derive(Debug)]
pub enum ReportBody {
    /// The stored JSON of a final report.
    Stored(String),
    /// A report computed now (file still queued or running).
    Built(Box<FileReport>),
}

/// What the client said about the length of its upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadLength {
    Known(u64),
    Missing,
    Chunked,
}

/// The headers of `POST /file`, decoded.
#[derive(Clone, Debug)]
pub struct SubmitRequest {
    pub length: UploadLength,
    pub filename: String,
    pub rule: Option<String>,
    pub user_agent: String,
    pub batch_id: Option<String>,
    pub archive_passwords: Vec<String>,
    pub metadata: String,
    /// `callbackurl`: where the final report is to be posted (empty: nowhere).
    pub callback_url: String,
    /// `filepath`: a file on the server's disk to scan instead of the body (refused: local-file
    /// scanning is not enabled).
    pub local_path: Option<String>,
    /// `content-encoding` of the body (`gzip`, `base64`): the decoded bytes are what is analysed.
    pub encoding: ContentEncoding,
    /// `global-timeout`: overrides the rule's limit on the whole analysis.
    pub global_timeout: Option<std::time::Duration>,
}

/// The engine-independent part of a report, from the stored job, with `total_avs` from the
/// plan of the job's rule.
pub fn report_context(
    record: &JobRecord,
    roster: &Roster,
    rule: Option<&RuleSettings>,
) -> ReportContext {
    let (_, plan) = roster.plan(
        rule.and_then(|r| r.engines.as_deref()),
        rule.map(RuleSettings::plan_rules).unwrap_or_default(),
    );
    palisade_pipeline::report_context(record, plan.total_avs())
}

impl Service {
    /// The rule a request runs under: the named one (if the caller may use it) or the caller's default.
    pub fn select_rule(
        &self,
        caller: &Caller,
        requested: Option<&str>,
        user_agent: &str,
    ) -> ServiceResult<&RuleSettings> {
        let settings = self.settings();
        match requested.map(str::trim).filter(|r| !r.is_empty()) {
            Some(name) => {
                let Some(rule) = settings.rule(name) else {
                    return Err(ServiceError::BadRequest(format!("Rule not found: {name}")));
                };
                if !rule.permits(&caller.role, user_agent) {
                    return Err(ServiceError::AccessDenied);
                }
                Ok(rule)
            }
            None => settings
                .rules
                .iter()
                .find(|rule| rule.permits(&caller.role, user_agent))
                .ok_or(ServiceError::AccessDenied),
        }
    }

    /// `GET /file/rules`: the rules this caller may use.
    pub fn rules_for(&self, caller: &Caller, user_agent: &str) -> Vec<&RuleSettings> {
        self.settings()
            .rules
            .iter()
            .filter(|rule| rule.permits(&caller.role, user_agent))
            .collect()
    }

    /// Backpressure before the upload is read: refuses new work when the queue was at its limit
    /// (read at most every 100 ms; the exact check happens when the job is stored).
    async fn check_capacity(&self) -> ServiceResult<()> {
        let cached = {
            let guard = self
                .inner
                .queue_depth
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match guard.0 {
                Some(at) if at.elapsed() < Duration::from_millis(100) => Some(guard.1),
                _ => None,
            }
        };
        let depth = match cached {
            Some(depth) => depth,
            None => {
                let depth = self.metastore().queue_depth().await?;
                *self
                    .inner
                    .queue_depth
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = (Some(Instant::now()), depth);
                depth
            }
        };
        if depth >= self.settings().max_queued {
            return Err(ServiceError::Busy);
        }
        Ok(())
    }

    /// `POST /file`: streams the body into the blob store and queues a job. Returns the data id.
    pub async fn submit<F, Fut, E>(
        &self,
        caller: &Caller,
        request: SubmitRequest,
        next_chunk: F,
    ) -> ServiceResult<DataId>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<Bytes>, E>>,
        E: std::fmt::Display,
    {
        let receive_ts = now_millis();
        if request.local_path.is_some() {
            return Err(ServiceError::BadRequest(
                "Local file scanning is not enabled: send the file's content as the request body \
                 instead of a filepath header"
                    .into(),
            ));
        }
        if !request.callback_url.is_empty() && !is_callback_url(&request.callback_url) {
            return Err(ServiceError::BadRequest("Callback url is invalid.".into()));
        }
        let length = match request.length {
            UploadLength::Known(0) => return Err(ServiceError::EmptyFile),
            UploadLength::Known(length) => length,
            UploadLength::Missing | UploadLength::Chunked => {
                return Err(ServiceError::LengthRequired);
            }
        };
        let rule = self.select_rule(caller, request.rule.as_deref(), &request.user_agent)?;
        if length > rule.max_file_size {
            return Err(ServiceError::TooLarge);
        }
        let batch_id = match request
            .batch_id
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
        {
            Some(text) => {
                let Ok(batch_id) = BatchId::parse(text) else {
                    return Err(ServiceError::BadRequest(format!("Batch not found: {text}")));
                };
                match self.metastore().batch(batch_id.as_str()).await? {
                    None => {
                        return Err(ServiceError::BadRequest(format!("Batch not found: {text}")));
                    }
                    Some(batch) if !self.may_see(caller, &batch.username) => {
                        return Err(ServiceError::BadRequest(format!("Batch not found: {text}")));
                    }
                    Some(batch) if batch.closed_ts.is_some() => {
                        return Err(ServiceError::BadRequest("Batch is already closed".into()));
                    }
                    Some(_) => Some(batch_id.as_str().to_string()),
                }
            }
            None => None,
        };
        self.check_capacity().await?;
        let max_size = rule.max_file_size.min(length);
        let (ingested, file_type) =
            if request.encoding == ContentEncoding::Identity && length <= SMALL_UPLOAD {
                self.ingest_small(next_chunk, max_size).await?
            } else {
                // Decoded content may be larger than the body: the rule's limit applies to it.
                let limit = if request.encoding == ContentEncoding::Identity {
                    max_size
                } else {
                    rule.max_file_size
                };
                self.ingest_streaming(next_chunk, request.encoding, limit)
                    .await?
            };
        let data_id = DataId::generate();
        let job = NewJob {
            data_id: data_id.as_str().to_string(),
            hashes: ingested.hashes,
            size: ingested.size,
            display_name: request.filename,
            file_type: file_type.mime_type,
            file_type_description: file_type.description,
            type_category: file_type.type_category,
            rule: rule.name.clone(),
            user_agent: request.user_agent,
            username: caller.username.clone(),
            metadata: request.metadata,
            batch_id,
            parent_id: None,
            root_id: None,
            depth: 0,
            archive_index: None,
            archive_passwords: request.archive_passwords,
            callback_url: request.callback_url,
            global_timeout_ms: request
                .global_timeout
                .or(rule.global_timeout)
                .map(|t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX)),
            receive_ts,
            upload_ts: now_millis(),
            hash_time: ingested.hash_time_ms,
        };
        // The check before the upload is a cheap estimate; this one is exact: the queue limit is
        // counted in the transaction that stores the job.
        match self
            .metastore()
            .submit_within(&job, self.settings().max_queued)
            .await?
        {
            SubmitOutcome::Accepted => self.metrics().ingested(job.size),
            SubmitOutcome::QueueFull => return Err(ServiceError::Busy),
            SubmitOutcome::BatchNotFound => {
                return Err(ServiceError::BadRequest("Batch not found".into()));
            }
            SubmitOutcome::BatchClosed => {
                return Err(ServiceError::BadRequest("Batch is already closed".into()));
            }
        }
        self.inner.wake_workers.notify_one();
        Ok(data_id)
    }

    /// Small uploads are gathered in memory and stored, hashed and identified in one blocking call.
    async fn ingest_small<F, Fut, E>(
        &self,
        mut next_chunk: F,
        max_size: u64,
    ) -> ServiceResult<(Ingested, FileTypeFinding)>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<Bytes>, E>>,
        E: std::fmt::Display,
    {
        let mut body = BytesMut::with_capacity(usize::try_from(max_size).unwrap_or(0));
        loop {
            match next_chunk().await {
                Ok(Some(chunk)) => {
                    if (body.len() + chunk.len()) as u64 > max_size {
                        return Err(ServiceError::TooLarge);
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(reason) => {
                    return Err(ServiceError::BadRequest(format!("Upload failed: {reason}")));
                }
            }
        }
        let blobs = self.blobs().clone();
        tokio::task::spawn_blocking(move || {
            let ingested = blobs.store_bytes(&body).map_err(ingest_error)?;
            Ok((ingested, palisade_engine_filetype::identify_bytes(&body)))
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
    }

    /// Larger uploads stream to storage chunk by chunk; the file type is read back from the stored file.
    async fn ingest_streaming<F, Fut, E>(
        &self,
        next_chunk: F,
        encoding: ContentEncoding,
        max_size: u64,
    ) -> ServiceResult<(Ingested, FileTypeFinding)>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<Bytes>, E>>,
        E: std::fmt::Display,
    {
        let ingested = self
            .blobs()
            .ingest(next_chunk, encoding, max_size)
            .await
            .map_err(ingest_error)?;
        let sample = self.blobs().sample_file(&ingested.hashes.sha256).await?;
        let size = ingested.size;
        let file_type = tokio::task::spawn_blocking(move || {
            let hashes = palisade_model::FileHashes::default();
            palisade_engine_filetype::identify(&palisade_pipeline::Sample {
                path: sample.path(),
                size,
                display_name: "",
                hashes: &hashes,
            })
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
        .unwrap_or_default();
        Ok((ingested, file_type))
    }

    /// The report for a stored job: the final one, or one built from its progress.
    pub fn report_of(&self, record: &JobRecord) -> ServiceResult<FileReport> {
        if let Some(text) = record.report.as_deref().filter(|_| record.state.is_final()) {
            return serde_json::from_str(text)
                .map_err(|e| ServiceError::Internal(format!("stored report unreadable: {e}")));
        }
        let rule = self.settings().rule(&record.job.rule);
        let context = report_context(record, self.roster(), rule);
        let progress = if record.state == JobState::Running {
            50
        } else {
            0
        };
        Ok(in_progress_report(&context, progress, now_millis()))
    }

    /// A report as served: the stored JSON text of a final report (passed through untouched), or
    /// one built from a running job.
    fn body_of(&self, record: JobRecord) -> ServiceResult<ReportBody> {
        if record.state.is_final()
            && let Some(text) = &record.report
            && !text.contains("\"post_processing\"")
        {
            // Stored before every report had `post_processing`: the typed shape fills it in.
            let report = self.report_of(&record)?;
            let text = serde_json::to_string(&report)
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            return Ok(ReportBody::Stored(text));
        }
        if record.state.is_final()
            && let Some(text) = record.report
        {
            return Ok(ReportBody::Stored(text));
        }
        self.report_of(&record)
            .map(|r| ReportBody::Built(Box::new(r)))
    }

    /// `GET /file/{data_id}` as served; `None` when the id is unknown. An archive's report lists
    /// its members from `first` (default 0), `size` at a time (default 50).
    pub async fn report_body(
        &self,
        caller: &Caller,
        data_id: &str,
        first: Option<u64>,
        size: Option<u64>,
    ) -> ServiceResult<Option<ReportBody>> {
        let Ok(data_id) = DataId::parse(data_id) else {
            return Ok(None);
        };
        match self.metastore().job(data_id.as_str()).await? {
            // Someone else's file is as unknown as a file that does not exist.
            Some(record) if !self.may_see(caller, &record.job.username) => Ok(None),
            Some(record) => self.served(record, first, size).await.map(Some),
            None => Ok(None),
        }
    }

    /// Fills `extracted_files.files_in_archive` of an archive's final report with a page of its
    /// members (read now, so they show their current results).
    async fn with_members(
        &self,
        body: ReportBody,
        first: Option<u64>,
        size: Option<u64>,
    ) -> ServiceResult<ReportBody> {
        let ReportBody::Stored(text) = &body else {
            return Ok(body);
        };
        if !text.contains("\"extracted_files\"") {
            return Ok(body);
        }
        let Ok(mut report) = serde_json::from_str::<FileReport>(text) else {
            return Ok(body);
        };
        let Some(files) = report.extracted_files.as_mut() else {
            return Ok(body);
        };
        let first = first.unwrap_or(0);
        let size = size.unwrap_or(50).min(1_000);
        let (total, members) = self
            .metastore()
            .children(&report.data_id, first, size)
            .await?;
        files.files_extracted_count = total;
        files.first_index = first;
        files.page_size = size;
        files.files_in_archive = members
            .iter()
            .map(palisade_pipeline::archive_member)
            .collect();
        Ok(ReportBody::Built(Box::new(report)))
    }

    /// A page of the submitted files `caller` may see (the console's list).
    pub async fn submissions(
        &self,
        caller: &Caller,
        mut query: palisade_metastore::SubmissionQuery,
    ) -> ServiceResult<Vec<palisade_metastore::SubmissionRow>> {
        if let Some(owner) = self.visible_owner(caller) {
            if query.username.as_ref().is_some_and(|name| *name != owner) {
                return Ok(Vec::new());
            }
            query.username = Some(owner);
        }
        Ok(self.metastore().submissions(&query).await?)
    }

    /// `GET /file/{data_id}`; `None` when the id is unknown.
    pub async fn report(&self, data_id: &str) -> ServiceResult<Option<FileReport>> {
        let Ok(data_id) = DataId::parse(data_id) else {
            return Ok(None);
        };
        match self.metastore().job(data_id.as_str()).await? {
            Some(record) => self.report_of(&record).map(Some),
            None => Ok(None),
        }
    }

    /// `GET /hash/{hash}`; `Err(NotFound)` for a malformed hash, `Ok(None)` when nothing matches.
    pub async fn report_by_hash(
        &self,
        caller: &Caller,
        hash: &str,
        query: &HashQuery,
    ) -> ServiceResult<Option<ReportBody>> {
        let Some((kind, hash)) = HashKind::parse(hash.trim()) else {
            return Err(ServiceError::NotFound("Invalid hash format".into()));
        };
        let query = HashQuery {
            username: self.visible_owner(caller),
            ..query.clone()
        };
        match self.metastore().latest_by_hash(kind, &hash, &query).await? {
            Some(record) => self.served(record, None, None).await.map(Some),
            None => Ok(None),
        }
    }

    /// A stored job's report as served: the stored or built report, an archive's page of
    /// members (`first`, `size`), and the mark of a copy that expired.
    async fn served(
        &self,
        record: JobRecord,
        first: Option<u64>,
        size: Option<u64>,
    ) -> ServiceResult<ReportBody> {
        let body = self.body_of(record)?;
        let body = self.with_members(body, first, size).await?;
        self.with_expired_outputs(body).await
    }

    /// `POST /file/{data_id}/cancel`.
    pub async fn cancel(&self, caller: &Caller, data_id: &str) -> ServiceResult<()> {
        let Ok(id) = DataId::parse(data_id) else {
            return Err(ServiceError::NotFound("Data ID not found".into()));
        };
        let Some(record) = self
            .metastore()
            .job(id.as_str())
            .await?
            .filter(|record| self.may_see(caller, &record.job.username))
        else {
            return Err(ServiceError::NotFound("Data ID not found".into()));
        };
        if record.state.is_final() {
            return Err(ServiceError::BadRequest(
                "Analysis is already finished and cannot be cancelled".into(),
            ));
        }
        match self.cancel_record(&record).await? {
            CancelOutcome::Cancelled => Ok(()),
            CancelOutcome::AlreadyFinal => Err(ServiceError::BadRequest(
                "Analysis is already finished and cannot be cancelled".into(),
            )),
            CancelOutcome::NotFound => Err(ServiceError::NotFound("Data ID not found".into())),
        }
    }

    pub(crate) async fn cancel_record(&self, record: &JobRecord) -> ServiceResult<CancelOutcome> {
        let rule = self.settings().rule(&record.job.rule);
        let policy = rule.map(RuleSettings::policy).unwrap_or_default();
        let context = report_context(record, self.roster(), rule);
        let now = now_millis();
        let report = terminal_report(&context, ScanResult::Cancelled, "", &policy, now);
        let text =
            serde_json::to_string(&report).map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(self
            .metastore()
            .cancel(
                &palisade_metastore::FinishedJob {
                    data_id: record.job.data_id.clone(),
                    result_i: ScanResult::Cancelled.code(),
                    blocked: report.is_blocked(),
                    report: text,
                },
                now,
            )
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::is_callback_url;

    #[test]
    fn callback_urls_must_be_absolute_http_or_https() {
        for good in [
            "http://127.0.0.1:9000/hook",
            "https://soar.example.com/api/v1/palisade?token=a%20b",
            "HTTPS://Example.COM",
        ] {
            assert!(is_callback_url(good), "{good}");
        }
        for bad in [
            "not a url",
            "/relative/path",
            "ftp://example.com/x",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "http://",
            "http:example.com",
            "https://exa mple.com/",
        ] {
            assert!(!is_callback_url(bad), "{bad}");
        }
    }
}
