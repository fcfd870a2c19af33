//! The parts of reports that come from the job rows alone: the report context of a file, and
//! the entry of an archive member in its archive's `files_in_archive`. The service and the
//! worker fetch the rows; what they mean is decided here.

use palisade_model::{FileInfo, FileReport, JobRecord, ScanResult, format_timestamp};

use crate::ReportContext;

/// The engine-independent part of a report, from the stored job; `total_avs` is the plan's
/// ([`crate::Plan::total_avs`]).
pub fn report_context(record: &JobRecord, total_avs: u32) -> ReportContext {
    let job = &record.job;
    ReportContext {
        data_id: job.data_id.clone(),
        file_info: FileInfo {
            display_name: job.display_name.clone(),
            file_size: job.size,
            file_type: job.file_type.clone(),
            file_type_description: job.file_type_description.clone(),
            md5: job.hashes.md5.clone(),
            sha1: job.hashes.sha1.clone(),
            sha256: job.hashes.sha256.clone(),
            sha512: job.hashes.sha512.clone(),
            type_category: job.type_category.clone(),
            upload_timestamp: format_timestamp(job.upload_ts),
            receive_data_timestamp: format_timestamp(job.receive_ts),
            upload_time: (job.upload_ts - job.receive_ts).max(0),
        },
        profile: job.rule.clone(),
        user_agent: job.user_agent.clone(),
        username: job.username.clone(),
        metadata: job.metadata.clone(),
        batch_id: job.batch_id.clone().unwrap_or_default(),
        upload_ts: job.upload_ts,
        start_ts: record.start_ts,
        hash_time: job.hash_time,
        total_avs,
    }
}

/// One entry of `files_in_archive`, from a member's job.
pub fn archive_member(record: &JobRecord) -> palisade_model::ArchiveMember {
    let job = &record.job;
    let final_report = record
        .report
        .as_deref()
        .filter(|_| record.state.is_final())
        .and_then(|text| serde_json::from_str::<FileReport>(text).ok());
    let (detected_by, scanned_with) = final_report.as_ref().map_or((0, 0), |report| {
        let details = &report.scan_results.scan_details;
        let detected = details
            .values()
            .filter(|d| {
                ScanResult::from_code(d.scan_result_i).is_some_and(ScanResult::is_detection)
            })
            .count();
        (
            u32::try_from(detected).unwrap_or(u32::MAX),
            u32::try_from(details.len()).unwrap_or(u32::MAX),
        )
    });
    let result = record
        .result_i
        .filter(|_| record.state.is_final())
        .and_then(ScanResult::from_code)
        .unwrap_or(ScanResult::InProgress);
    palisade_model::ArchiveMember {
        data_id: job.data_id.clone(),
        detected_by,
        display_name: job.display_name.clone(),
        file_size: job.size,
        file_type: job.file_type.clone(),
        file_type_description: job.file_type_description.clone(),
        progress_percentage: if record.state.is_final() { 100 } else { 0 },
        scan_all_result_i: result.code(),
        scan_all_result_a: result.text().into(),
        scanned_with,
    }
}

#[cfg(test)]
mod tests {
    use palisade_model::{EngineDetail, JobState, NewJob};

    use super::*;

    fn record(state: JobState) -> JobRecord {
        JobRecord {
            job: NewJob {
                data_id: "m1".into(),
                display_name: "inner.exe".into(),
                size: 42,
                receive_ts: 1_000,
                upload_ts: 1_250,
                ..NewJob::default()
            },
            state,
            attempts: 1,
            lease_owner: None,
            lease_expires: None,
            start_ts: Some(1_300),
            finish_ts: None,
            result_i: None,
            report: None,
            pending_children: 0,
            partial: None,
            finished_by: None,
        }
    }

    #[test]
    fn the_context_times_the_upload_and_takes_the_plans_count() {
        let context = report_context(&record(JobState::Queued), 3);
        assert_eq!(context.file_info.upload_time, 250);
        assert_eq!(context.total_avs, 3);
        assert_eq!(context.start_ts, Some(1_300));
    }

    #[test]
    fn a_member_counts_its_detecting_engines_once_final() {
        let running = archive_member(&record(JobState::Running));
        assert_eq!(running.scan_all_result_i, 255);
        assert_eq!(running.progress_percentage, 0);
        assert_eq!((running.detected_by, running.scanned_with), (0, 0));

        let mut report = FileReport::default();
        for (name, code) in [("A", 1), ("B", 0), ("C", 2)] {
            report.scan_results.scan_details.insert(
                name.into(),
                EngineDetail {
                    scan_result_i: code,
                    ..EngineDetail::default()
                },
            );
        }
        let mut done = record(JobState::Done);
        done.result_i = Some(1);
        done.report = Some(serde_json::to_string(&report).unwrap());
        let member = archive_member(&done);
        assert_eq!(member.scan_all_result_a, "Infected");
        assert_eq!(member.progress_percentage, 100);
        assert_eq!((member.detected_by, member.scanned_with), (2, 3));
        assert_eq!(member.file_size, 42);
    }
}
