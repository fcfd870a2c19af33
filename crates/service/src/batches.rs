//! Batches: create, close, status with pagination, cancel, and the signed certificate.

use palisade_metastore::{BatchRecord, JobRecord};
use palisade_model::{
    BatchFileEntry, BatchFiles, BatchId, BatchMemberProcessInfo, BatchProcessInfo, BatchReport,
    BatchScanResults, FileReport, ProcessResult, ScanResult, format_timestamp, now_millis,
};

use crate::{Caller, Service, ServiceError, ServiceResult};

/// Longest `user-data` accepted, in bytes.
pub const MAX_USER_DATA: usize = 1024;
/// Default page size of batch status.
pub const DEFAULT_PAGE: u64 = 50;

fn member_entry(report: &FileReport) -> BatchFileEntry {
    let detected_by = report
        .scan_results
        .scan_details
        .values()
        .filter(|d| ScanResult::from_code(d.scan_result_i).is_some_and(ScanResult::is_detection))
        .count();
    BatchFileEntry {
        data_id: report.data_id.clone(),
        detected_by: u32::try_from(detected_by).unwrap_or(u32::MAX),
        display_name: report.file_info.display_name.clone(),
        file_size: report.file_info.file_size,
        file_type: report.file_info.file_type.clone(),
        file_type_description: report.file_info.file_type_description.clone(),
        process_info: BatchMemberProcessInfo {
            blocked_reason: report.process_info.blocked_reason.clone(),
            progress_percentage: report.process_info.progress_percentage,
            result: report.process_info.result,
            verdicts: report.process_info.verdicts.clone(),
        },
        progress_percentage: report.scan_results.progress_percentage,
        scan_all_result_a: report.scan_results.scan_all_result_a.clone(),
        scan_all_result_i: report.scan_results.scan_all_result_i,
        scanned_with: report.scan_results.total_avs,
        sha256: report.file_info.sha256.clone(),
    }
}

impl Service {
    /// `POST /file/batch`.
    pub async fn create_batch(
        &self,
        caller: &Caller,
        rule: Option<&str>,
        user_agent: &str,
        user_data: &str,
    ) -> ServiceResult<BatchId> {
        if user_data.len() > MAX_USER_DATA {
            return Err(ServiceError::BadRequest(format!(
                "user-data is longer than {MAX_USER_DATA} bytes"
            )));
        }
        let rule = self.select_rule(caller, rule, user_agent)?;
        let batch_id = BatchId::generate();
        self.metastore()
            .create_batch(&BatchRecord {
                batch_id: batch_id.as_str().to_string(),
                rule: rule.name.clone(),
                user_agent: user_agent.to_string(),
                username: caller.username.clone(),
                user_data: user_data.to_string(),
                created_ts: now_millis(),
                closed_ts: None,
                cancelled: false,
            })
            .await?;
        Ok(batch_id)
    }

    /// The batch, if it exists and `caller` may see it.
    async fn batch_record(&self, caller: &Caller, batch_id: &str) -> ServiceResult<BatchRecord> {
        let not_found = || ServiceError::NotFound("Batch not found".into());
        let id = BatchId::parse(batch_id).map_err(|_| not_found())?;
        self.metastore()
            .batch(id.as_str())
            .await?
            .filter(|batch| self.may_see(caller, &batch.username))
            .ok_or_else(not_found)
    }

    /// The newest batches `caller` may see (the console's list).
    pub async fn recent_batches(
        &self,
        caller: &Caller,
        limit: u32,
    ) -> ServiceResult<Vec<palisade_metastore::BatchRecord>> {
        let owner = self.visible_owner(caller);
        Ok(self
            .metastore()
            .recent_batches(owner.as_deref(), limit)
            .await?)
    }

    /// `GET /file/batch/{id}` (also the answer of close): one page of members and the batch verdict.
    pub async fn batch_status(
        &self,
        caller: &Caller,
        batch_id: &str,
        first: Option<u64>,
        size: Option<u64>,
    ) -> ServiceResult<BatchReport> {
        let batch = self.batch_record(caller, batch_id).await?;
        let first = first.unwrap_or(0);
        let size = size.unwrap_or(DEFAULT_PAGE).clamp(1, 1000);
        // The verdict is read before the page, and members only ever become final, so the page
        // is never behind the verdict. A member added in between (the batch is open) that is not
        // final yet keeps the batch In Progress too: the batch never reads final beside a member
        // that does not.
        let mut verdict = self.batch_verdict(&batch).await?;
        let (count, page) = self
            .metastore()
            .batch_members(&batch.batch_id, first, size)
            .await?;
        let entries = page
            .iter()
            .map(|record| self.report_of(record).map(|r| member_entry(&r)))
            .collect::<ServiceResult<Vec<_>>>()?;
        verdict.page_unfinished = page.iter().any(|record| !record.state.is_final());
        Ok(self.batch_report(&batch, count, first, entries, verdict))
    }

    /// The batch's overall result from its final members: its worst member, or In Progress while
    /// any member is not final.
    async fn batch_verdict(&self, batch: &BatchRecord) -> ServiceResult<BatchVerdict> {
        let mut verdict = BatchVerdict::default();
        let mut first = 0;
        loop {
            let (_, page) = self
                .metastore()
                .batch_members(&batch.batch_id, first, 500)
                .await?;
            first += page.len() as u64;
            for record in &page {
                // Only final members count, so only theirs are read.
                let report = record
                    .state
                    .is_final()
                    .then(|| self.report_of(record))
                    .transpose()?;
                verdict.absorb(record, report.as_ref());
            }
            if page.len() < 500 {
                break;
            }
        }
        Ok(verdict)
    }

    fn batch_report(
        &self,
        batch: &BatchRecord,
        count: u64,
        first: u64,
        entries: Vec<BatchFileEntry>,
        verdict: BatchVerdict,
    ) -> BatchReport {
        let (decision, result, blocked_reason) = if verdict.in_progress() {
            (
                ProcessResult::Processing,
                ScanResult::InProgress,
                String::new(),
            )
        } else if let Some(reason) = &verdict.blocked {
            (ProcessResult::Blocked, verdict.result(), reason.clone())
        } else {
            (ProcessResult::Allowed, verdict.result(), String::new())
        };
        let end = match verdict.last_finish {
            Some(last) if !verdict.in_progress() => last,
            _ => now_millis(),
        };
        BatchReport {
            batch_id: batch.batch_id.clone(),
            is_closed: batch.closed_ts.is_some(),
            user_data: batch.user_data.clone(),
            batch_files: BatchFiles {
                batch_count: count,
                first_index: first,
                page_size: entries.len() as u64,
                files_in_batch: entries,
            },
            process_info: BatchProcessInfo {
                blocked_reason,
                file_type_skipped_scan: false,
                profile: batch.rule.clone(),
                progress_percentage: verdict.progress(),
                result: decision,
                user_agent: batch.user_agent.clone(),
                username: batch.username.clone(),
            },
            scan_results: BatchScanResults {
                batch_id: batch.batch_id.clone(),
                scan_all_result_a: result.text().into(),
                scan_all_result_i: result.code(),
                start_time: format_timestamp(batch.created_ts),
                total_avs: 0,
                total_time: (end - batch.created_ts).max(0),
            },
        }
    }

    /// `POST /file/batch/{id}/close`.
    pub async fn close_batch(&self, caller: &Caller, batch_id: &str) -> ServiceResult<BatchReport> {
        let batch = self.batch_record(caller, batch_id).await?;
        self.metastore()
            .close_batch(&batch.batch_id, now_millis(), false)
            .await?;
        self.batch_status(caller, &batch.batch_id, None, None).await
    }

    /// `POST /file/batch/{id}/cancel`: cancels unfinished members and closes the batch.
    pub async fn cancel_batch(&self, caller: &Caller, batch_id: &str) -> ServiceResult<()> {
        let batch = self.batch_record(caller, batch_id).await?;
        self.metastore()
            .close_batch(&batch.batch_id, now_millis(), true)
            .await?;
        for data_id in self
            .metastore()
            .unfinished_batch_members(&batch.batch_id)
            .await?
        {
            if let Some(record) = self.metastore().job(&data_id).await? {
                self.cancel_record(&record).await?;
            }
        }
        Ok(())
    }

    /// `GET /file/batch/{id}/certificate`: two YAML documents, the batch report and its signature.
    ///
    /// The signature is RSA PKCS#1 v1.5 with SHA-256 over the exact bytes of the first document as
    /// served, from the start of the body through its closing `...` line and that line's newline.
    pub async fn batch_certificate(
        &self,
        caller: &Caller,
        batch_id: &str,
    ) -> ServiceResult<String> {
        let batch = self.batch_record(caller, batch_id).await?;
        let (count, members) = self
            .metastore()
            .batch_members(&batch.batch_id, 0, u64::MAX >> 1)
            .await?;
        let reports = members
            .iter()
            .map(|record| self.report_of(record))
            .collect::<ServiceResult<Vec<_>>>()?;
        let mut verdict = BatchVerdict::default();
        for (record, report) in members.iter().zip(&reports) {
            verdict.absorb(record, Some(report));
        }
        if verdict.in_progress() && !batch.cancelled {
            return Err(ServiceError::BadRequest(format!(
                "Batch is still in progress ({} of {} files final): its certificate is issued once \
                 every file is final",
                verdict.finished, verdict.seen
            )));
        }
        let keys = self.inner.signer.keys().await.map_err(|error| {
            tracing::error!(%error, "batch signing key unavailable");
            ServiceError::Internal("Batch signing key is unavailable".into())
        })?;
        let mut files = Vec::with_capacity(members.len());
        for report in &reports {
            files.push(serde_json::json!({
                "data_id": report.data_id,
                "display_name": report.file_info.display_name,
                "file_size": report.file_info.file_size,
                "process_info": {
                    "blocked_reason": report.process_info.blocked_reason,
                    "progress_percentage": report.process_info.progress_percentage,
                    "result": report.process_info.result,
                    "verdicts": report.process_info.verdicts,
                },
                "scan_all_result_i": report.scan_results.scan_all_result_i,
                "sha256": report.file_info.sha256,
            }));
        }
        let summary = self.batch_report(&batch, count, 0, Vec::new(), verdict);
        let document = serde_json::json!({
            "batch_id": batch.batch_id,
            "user_data": batch.user_data,
            "cert_sha1_fingerprint": keys.sha1_fingerprint,
            "batch_files": {
                "batch_count": count,
                "files_in_batch": files,
            },
            "process_info": summary.process_info,
            "scan_results": summary.scan_results,
        });
        let mut body = String::from("---\n");
        crate::yaml::write_document(&mut body, &document);
        body.push_str("...\n");
        let signature = keys.sign_hex(body.as_bytes());
        body.push_str("---\n");
        crate::yaml::write_document(
            &mut body,
            &serde_json::json!({
                "signature": signature,
                "certificate": keys.certificate_pem,
            }),
        );
        body.push_str("...\n");
        Ok(body)
    }
}

/// Running summary of a batch's members: only final members count, and the worst decides.
#[derive(Default)]
struct BatchVerdict {
    worst: Option<ScanResult>,
    blocked: Option<String>,
    seen: u64,
    finished: u64,
    /// A member of the page served with the verdict was not final when the page was read.
    page_unfinished: bool,
    last_finish: Option<i64>,
}

impl BatchVerdict {
    fn in_progress(&self) -> bool {
        self.finished < self.seen || self.page_unfinished
    }

    /// Share of final members, 100 only when the batch is no longer in progress.
    fn progress(&self) -> u32 {
        if !self.in_progress() {
            return 100;
        }
        let share = self.finished * 100 / self.seen.max(1);
        u32::try_from(share).unwrap_or(99).min(99)
    }

    /// Counts `record`; a final member's `report` decides with the others.
    fn absorb(&mut self, record: &JobRecord, report: Option<&FileReport>) {
        self.seen += 1;
        let Some(report) = report.filter(|_| record.state.is_final()) else {
            return;
        };
        self.finished += 1;
        self.last_finish = self.last_finish.max(record.finish_ts);
        let result = report.result();
        let worse = self
            .worst
            .is_none_or(|worst| result.severity() > worst.severity());
        if worse {
            self.worst = Some(result);
        }
        let blocked = report.is_blocked();
        if blocked && (worse || self.blocked.is_none()) {
            self.blocked = Some(report.process_info.blocked_reason.clone());
        }
    }

    fn result(&self) -> ScanResult {
        self.worst.unwrap_or(ScanResult::NoThreatDetected)
    }
}
