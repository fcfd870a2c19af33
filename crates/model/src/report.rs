//! The JSON shapes the API serves: the file report, its sections and the batch report.
//!
//! Every documented field is always present with a typed value (never `null`); sections that
//! only some files have are skipped when absent, never emitted as `null`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Millis, ScanResult};

/// `GET /file/{data_id}`: the whole analysis report of one file.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct FileReport {
    pub data_id: String,
    pub file_info: FileInfo,
    pub process_info: ProcessInfo,
    pub scan_results: ScanResults,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filetype_info: Option<FileTypeInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yara: Option<YaraSection>,
    /// What Proactive DLP found, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dlp_info: Option<crate::DlpInfo>,
    /// The submitter's `metadata` header, decoded, echoed back.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metadata: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub batch_id: String,
    /// Archives only: how extraction went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extraction_info: Option<ExtractionInfo>,
    /// Archives only: the members, a page at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extracted_files: Option<ExtractedFiles>,
}

/// `extraction_info`: whether the archive was encrypted and opened, and why extraction stopped.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ExtractionInfo {
    pub is_encrypted_file: bool,
    /// `Success` or `Failed` for encrypted archives; empty otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub decrypted_status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub err_category: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub err_code: i32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub err_details: String,
}

fn is_zero(value: &i32) -> bool {
    *value == 0
}

/// `extracted_files`: the members of an archive, paginated with `first_index` / `page_size`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ExtractedFiles {
    pub files_extracted_count: u64,
    pub files_in_archive: Vec<ArchiveMember>,
    pub first_index: u64,
    pub page_size: u64,
    /// The member with the worst result (empty when nothing is wrong).
    pub worst_data_id: String,
}

/// One entry of `files_in_archive`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ArchiveMember {
    pub data_id: String,
    /// Engines that reported a threat.
    pub detected_by: u32,
    pub display_name: String,
    pub file_size: u64,
    pub file_type: String,
    pub file_type_description: String,
    pub progress_percentage: u32,
    #[schema(schema_with = crate::schema::result_codes)]
    pub scan_all_result_i: i32,
    #[schema(schema_with = crate::schema::result_texts)]
    pub scan_all_result_a: String,
    /// Engines the member was scanned with.
    pub scanned_with: u32,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct FileInfo {
    pub display_name: String,
    pub file_size: u64,
    pub file_type: String,
    pub file_type_description: String,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
    pub type_category: Vec<String>,
    pub upload_timestamp: String,
    pub receive_data_timestamp: String,
    pub upload_time: i64,
}

/// `process_info.result` of a file or a batch: still being processed, or the final decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum ProcessResult {
    #[default]
    Processing,
    Allowed,
    Blocked,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ProcessInfo {
    pub blocked_reason: String,
    pub blocked_reasons: Vec<String>,
    pub file_type_skipped_scan: bool,
    pub hash_time: i64,
    pub outdated_data: Vec<String>,
    pub processing_time: i64,
    pub processing_time_details: ProcessingTimeDetails,
    pub profile: String,
    pub progress_percentage: u32,
    pub queue_time: i64,
    pub result: ProcessResult,
    pub user_agent: String,
    pub username: String,
    pub verdicts: Vec<String>,
    /// Present in every report (clients index it unconditionally); reports stored before it
    /// existed read back with it empty.
    #[serde(default)]
    pub post_processing: PostProcessing,
}

/// `process_info.post_processing`: what ran after the analysis (sanitization, post actions).
/// Each field is a `|`-separated list, or `""` when nothing ran.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct PostProcessing {
    pub actions_failed: String,
    pub actions_ran: String,
    pub converted_destination: String,
    pub converted_to: String,
    pub copy_move_destination: String,
    /// What Deep CDR did, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sanitization_details: Option<crate::SanitizationDetails>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ProcessingTimeDetails {
    pub av_scan_time: i64,
    pub cdr_time: i64,
    pub dlp_time: i64,
    pub extraction_time: i64,
    pub filetype_time: i64,
    pub opswatfilescan_time: i64,
    pub others_time: i64,
    pub parse_dgsg_time: i64,
    pub vul_time: i64,
    pub yara_time: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ScanResults {
    pub data_id: String,
    pub progress_percentage: u32,
    #[schema(schema_with = crate::schema::result_texts)]
    pub scan_all_result_a: String,
    #[schema(schema_with = crate::schema::result_codes)]
    pub scan_all_result_i: i32,
    pub scan_details: BTreeMap<String, EngineDetail>,
    pub start_time: String,
    pub total_avs: u32,
    pub total_time: i64,
}

/// One engine's entry in `scan_results.scan_details`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct EngineDetail {
    pub def_time: String,
    pub eng_id: String,
    pub location: String,
    #[schema(schema_with = crate::schema::result_codes)]
    pub scan_result_i: i32,
    pub scan_time: i64,
    pub threat_found: String,
    pub wait_time: i64,
}

/// `filetype_info`: what the file type engine found.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct FileTypeInfo {
    pub file_info: FileTypeDetails,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct FileTypeDetails {
    pub description: String,
    pub detected_by: String,
    pub encrypted: bool,
    pub extensions: String,
    #[serde(rename = "groupID")]
    pub group_id: String,
    #[serde(rename = "groupIDs")]
    pub group_ids: Vec<String>,
    pub group_description: String,
    #[serde(rename = "type")]
    pub mime_type: String,
    #[serde(rename = "typeID")]
    pub type_id: String,
}

/// The `yara` section: matched rules and the overall YARA verdict (0 clean, 1 matched, 2 suspicious, 3 failed, 4 not scanned).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct YaraSection {
    pub hits: BTreeMap<String, YaraHit>,
    pub verdict: i32,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct YaraHit {
    pub description: String,
    pub namespace: String,
    pub tags: Vec<String>,
    #[schema(schema_with = crate::schema::result_codes)]
    pub scan_result_i: i32,
}

/// `GET /file/batch/{id}` and `POST /file/batch/{id}/close`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct BatchReport {
    pub batch_id: String,
    pub is_closed: bool,
    pub user_data: String,
    pub batch_files: BatchFiles,
    pub process_info: BatchProcessInfo,
    pub scan_results: BatchScanResults,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct BatchFiles {
    pub batch_count: u64,
    pub first_index: u64,
    pub page_size: u64,
    pub files_in_batch: Vec<BatchFileEntry>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct BatchFileEntry {
    pub data_id: String,
    pub detected_by: u32,
    pub display_name: String,
    pub file_size: u64,
    pub file_type: String,
    pub file_type_description: String,
    pub process_info: BatchMemberProcessInfo,
    pub progress_percentage: u32,
    #[schema(schema_with = crate::schema::result_texts)]
    pub scan_all_result_a: String,
    #[schema(schema_with = crate::schema::result_codes)]
    pub scan_all_result_i: i32,
    pub scanned_with: u32,
    pub sha256: String,
}

/// The short `process_info` of one batch member.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct BatchMemberProcessInfo {
    pub blocked_reason: String,
    pub progress_percentage: u32,
    pub result: ProcessResult,
    pub verdicts: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct BatchProcessInfo {
    pub blocked_reason: String,
    pub file_type_skipped_scan: bool,
    pub profile: String,
    /// Share of the batch's members that are final (100 only when all are).
    pub progress_percentage: u32,
    pub result: ProcessResult,
    pub user_agent: String,
    pub username: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct BatchScanResults {
    pub batch_id: String,
    #[schema(schema_with = crate::schema::result_texts)]
    pub scan_all_result_a: String,
    #[schema(schema_with = crate::schema::result_codes)]
    pub scan_all_result_i: i32,
    pub start_time: String,
    pub total_avs: u32,
    pub total_time: i64,
}

impl FileReport {
    /// Whether the file was blocked (`process_info.result`).
    pub fn is_blocked(&self) -> bool {
        self.process_info.result == ProcessResult::Blocked
    }

    /// The result of this report as a code, if it is one we know.
    pub fn result(&self) -> ScanResult {
        ScanResult::from_code(self.scan_results.scan_all_result_i).unwrap_or(ScanResult::Failed)
    }

    /// Whether processing has finished (both progress fields at 100).
    pub fn is_final(&self) -> bool {
        self.scan_results.progress_percentage == 100
    }
}

/// Formats milliseconds since the epoch as `2024-01-31T12:34:56.789Z`, the form the incumbent serves.
pub fn format_timestamp(millis: Millis) -> String {
    let secs = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Reads a timestamp of the form [`format_timestamp`] writes (milliseconds optional) back into
/// milliseconds since the epoch; `None` for any other text.
pub fn parse_timestamp(text: &str) -> Option<Millis> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date_parts = date.splitn(3, '-');
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month: i64 = date_parts.next()?.parse().ok()?;
    let day: i64 = date_parts.next()?.parse().ok()?;
    let (clock, millis) = match time.split_once('.') {
        Some((clock, fraction)) if fraction.len() == 3 => (clock, fraction.parse::<i64>().ok()?),
        Some(_) => return None,
        None => (time, 0),
    };
    let mut clock_parts = clock.splitn(3, ':');
    let hour: i64 = clock_parts.next()?.parse().ok()?;
    let minute: i64 = clock_parts.next()?.parse().ok()?;
    let second: i64 = clock_parts.next()?.parse().ok()?;
    let in_range = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0..24).contains(&hour)
        && (0..60).contains(&minute)
        && (0..=60).contains(&second);
    if !in_range {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000) + millis)
}

/// (year, month, day) in the proleptic Gregorian calendar to days since 1970-01-01.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_8601_utc_with_milliseconds() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_timestamp(951_782_400_123),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            format_timestamp(1_795_651_199_999),
            "2026-11-25T23:59:59.999Z"
        );
    }

    #[test]
    fn timestamps_read_back_as_the_milliseconds_they_were_written_from() {
        for millis in [
            0,
            1_700_000_000_123,
            951_782_400_000,
            4_107_542_399_999,
            -86_400_000,
        ] {
            assert_eq!(parse_timestamp(&format_timestamp(millis)), Some(millis));
        }
        assert_eq!(
            parse_timestamp("2026-11-25T09:23:45Z"),
            Some(1_795_598_625_000)
        );
        for bad in [
            "",
            "2026-11-25",
            "2026-13-01T00:00:00Z",
            "2026-11-25T09:23:45.1Z",
            "yesterday",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn reports_stored_without_post_processing_read_back_with_it_empty() {
        let mut old = serde_json::to_value(FileReport::default()).unwrap();
        old["process_info"]
            .as_object_mut()
            .unwrap()
            .remove("post_processing");
        let report: FileReport = serde_json::from_value(old).unwrap();
        let text = serde_json::to_string(&report).unwrap();
        assert!(
            text.contains("\"post_processing\":{\"actions_failed\":\"\""),
            "{text}"
        );
    }

    #[test]
    fn an_empty_report_serialises_without_nulls() {
        let text = serde_json::to_string(&FileReport::default()).unwrap();
        assert!(!text.contains("null"), "{text}");
        assert!(text.contains("\"blocked_reason\":\"\""));
        assert!(text.contains("\"progress_percentage\":0"));
    }
}
