//! The files analyses produce (sanitized and redacted copies): finding the one a download asks
//! for, streaming it, telling a report when its copy has expired, and forgetting expired ones.

use std::ops::Range;

use palisade_blobstore::ByteStream;
use palisade_model::{DataId, FileReport, Millis, OutputKind, OutputRecord, now_millis};

use crate::{Caller, ReportBody, Service, ServiceError, ServiceResult};

/// Which output a download route serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// `GET /file/converted/{id}`: the sanitized copy.
    Sanitized,
    /// `GET /file/download/{id}`: the sanitized copy, else the redacted one.
    Preferred,
}

/// `process_info.outdated_data` flag of a report whose copy is no longer available.
pub const OUTDATED_SANITIZATION: &str = "sanitization";

/// Outputs forgotten at once by one retention pass.
const EXPIRE_BATCH: u32 = 500;

fn not_found() -> ServiceError {
    ServiceError::NotFound("File could not be found".into())
}

/// Whether a report says a post-processing step produced a copy.
fn claims_output(report: &FileReport) -> bool {
    let actions = &report.process_info.post_processing.actions_ran;
    [OutputKind::Sanitized, OutputKind::Redacted]
        .iter()
        .any(|kind| actions.split('|').any(|a| a == kind.action()))
}

impl Service {
    /// Outputs created at or after this time have not expired.
    fn outputs_live_since(&self, now: Millis) -> Millis {
        let retention = i64::try_from(self.settings().output_retention.as_millis()).unwrap_or(0);
        now.saturating_sub(retention)
    }

    /// A file's outputs that can still be downloaded, the preferred first.
    pub async fn live_outputs(&self, data_id: &str) -> ServiceResult<Vec<OutputRecord>> {
        let since = self.outputs_live_since(now_millis());
        let mut outputs = self.metastore().outputs(data_id).await?;
        outputs.retain(|o| o.created_ts >= since);
        Ok(outputs)
    }

    /// The output a download of `data_id` serves, if `caller` may see the file and it has one
    /// that has not expired; 404 "File could not be found" otherwise (unknown, unfinished, no
    /// output, expired).
    pub async fn output(
        &self,
        caller: &Caller,
        data_id: &str,
        wanted: Wanted,
    ) -> ServiceResult<OutputRecord> {
        let data_id = DataId::parse(data_id).map_err(|_| not_found())?;
        let record = self
            .metastore()
            .job(data_id.as_str())
            .await?
            .ok_or_else(not_found)?;
        if !record.state.is_final() || !self.may_see(caller, &record.job.username) {
            return Err(not_found());
        }
        self.live_outputs(data_id.as_str())
            .await?
            .into_iter()
            .find(|o| wanted == Wanted::Preferred || o.kind == OutputKind::Sanitized)
            .ok_or_else(not_found)
    }

    /// The bytes `range` of an output, streamed from the blob store.
    pub async fn output_bytes(
        &self,
        output: &OutputRecord,
        range: Range<u64>,
    ) -> ServiceResult<ByteStream> {
        match self.blobs().read_range(&output.sha256, range).await {
            Ok(stream) => Ok(stream),
            Err(palisade_blobstore::BlobError::NotFound(_)) => {
                tracing::error!(data_id = %output.data_id, sha256 = %output.sha256,
                    "an output's blob is missing");
                Err(not_found())
            }
            Err(error) => Err(ServiceError::Internal(format!(
                "reading the output failed: {error}"
            ))),
        }
    }

    /// Marks a final report whose copy has expired: `outdated_data` gets `sanitization`, as
    /// the API document defines it. Returns whether it changed the report.
    pub(crate) async fn mark_expired_outputs(
        &self,
        report: &mut FileReport,
    ) -> ServiceResult<bool> {
        if !claims_output(report)
            || report
                .process_info
                .outdated_data
                .iter()
                .any(|f| f == OUTDATED_SANITIZATION)
            || !self.live_outputs(&report.data_id).await?.is_empty()
        {
            return Ok(false);
        }
        report
            .process_info
            .outdated_data
            .push(OUTDATED_SANITIZATION.into());
        Ok(true)
    }

    /// A report as served, marked when its copy expired (final reports that name one only).
    pub(crate) async fn with_expired_outputs(&self, body: ReportBody) -> ServiceResult<ReportBody> {
        let mut report = match body {
            ReportBody::Stored(text) => {
                if !text.contains("\"actions_ran\":\"") || text.contains("\"actions_ran\":\"\"") {
                    return Ok(ReportBody::Stored(text));
                }
                match serde_json::from_str::<FileReport>(&text) {
                    Ok(report) => Box::new(report),
                    Err(_) => return Ok(ReportBody::Stored(text)),
                }
            }
            ReportBody::Built(report) => report,
        };
        self.mark_expired_outputs(&mut report).await?;
        Ok(ReportBody::Built(report))
    }

    /// One retention pass: forgets outputs older than the retention, a batch at a time, and
    /// deletes the blobs nothing refers to any more. Returns (outputs forgotten, blobs deleted).
    pub async fn expire_outputs(&self, now: Millis) -> ServiceResult<(u64, u64)> {
        let before = self.outputs_live_since(now);
        let (mut rows, mut blobs) = (0, 0);
        loop {
            let expired = self
                .metastore()
                .expire_outputs(before, EXPIRE_BATCH)
                .await?;
            rows += expired.rows;
            for sha256 in &expired.unreferenced_blobs {
                match self.blobs().delete(sha256).await {
                    Ok(()) => blobs += 1,
                    Err(error) => {
                        // The row is gone, so the download is 404 either way; the blob is
                        // only space, and a warning says which.
                        tracing::warn!(%sha256, %error, "an expired output's blob was not deleted")
                    }
                }
            }
            if expired.rows < u64::from(EXPIRE_BATCH) {
                return Ok((rows, blobs));
            }
        }
    }
}
