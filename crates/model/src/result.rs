//! The processing result codes of the API document, with their exact texts.

/// One entry of the document's "Processing result and its index" table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScanResult {
    NoThreatDetected,
    Infected,
    Suspicious,
    Failed,
    Whitelisted,
    Blacklisted,
    ExceededArchiveDepth,
    NotScanned,
    EncryptedArchive,
    ExceededArchiveSize,
    ExceededArchiveFileNumber,
    PasswordProtectedDocument,
    ExceededArchiveTimeout,
    Mismatch,
    PotentiallyVulnerableFile,
    Cancelled,
    SensitiveDataFound,
    YaraRuleMatched,
    PotentiallyUnwanted,
    UnsupportedFileType,
    ExtractionFailed,
    ScanFailed,
    BlockedVerdictByDeepCdr,
    GlobalTimeoutExceeded,
    BlockedByPostAction,
    KnownBad,
    KnownGood,
    Unknown,
    InProgress,
}

const TABLE: &[(ScanResult, i32, &str)] = &[
    (ScanResult::NoThreatDetected, 0, "No Threat Detected"),
    (ScanResult::Infected, 1, "Infected"),
    (ScanResult::Suspicious, 2, "Suspicious"),
    (ScanResult::Failed, 3, "Failed"),
    (ScanResult::Whitelisted, 7, "Whitelisted"),
    (ScanResult::Blacklisted, 8, "Blacklisted"),
    (
        ScanResult::ExceededArchiveDepth,
        9,
        "Exceeded Archive Depth",
    ),
    (ScanResult::NotScanned, 10, "Not Scanned"),
    (ScanResult::EncryptedArchive, 12, "Encrypted Archive"),
    (ScanResult::ExceededArchiveSize, 13, "Exceeded Archive Size"),
    (
        ScanResult::ExceededArchiveFileNumber,
        14,
        "Exceeded Archive File Number",
    ),
    (
        ScanResult::PasswordProtectedDocument,
        15,
        "Password Protected Document",
    ),
    (
        ScanResult::ExceededArchiveTimeout,
        16,
        "Exceeded Archive Timeout",
    ),
    (ScanResult::Mismatch, 17, "Mismatch"),
    (
        ScanResult::PotentiallyVulnerableFile,
        18,
        "Potentially Vulnerable File",
    ),
    (ScanResult::Cancelled, 19, "Cancelled"),
    (ScanResult::SensitiveDataFound, 20, "Sensitive Data Found"),
    (ScanResult::YaraRuleMatched, 21, "Yara Rule Matched"),
    (ScanResult::PotentiallyUnwanted, 22, "Potentially Unwanted"),
    (ScanResult::UnsupportedFileType, 23, "Unsupported File Type"),
    (ScanResult::ExtractionFailed, 24, "Extraction Failed"),
    (ScanResult::ScanFailed, 25, "Scan Failed"),
    (
        ScanResult::BlockedVerdictByDeepCdr,
        30,
        "Blocked Verdict by Deep CDR",
    ),
    (
        ScanResult::GlobalTimeoutExceeded,
        31,
        "Global Timeout Exceeded",
    ),
    (
        ScanResult::BlockedByPostAction,
        36,
        "Blocked by Post Action",
    ),
    (ScanResult::KnownBad, 38, "Known Bad"),
    (ScanResult::KnownGood, 39, "Known Good"),
    (ScanResult::Unknown, 40, "Unknown"),
    (ScanResult::InProgress, 255, "In Progress"),
];

impl ScanResult {
    fn entry(self) -> &'static (ScanResult, i32, &'static str) {
        TABLE
            .iter()
            .find(|(result, _, _)| *result == self)
            .expect("every ScanResult has a table entry")
    }

    /// The `scan_all_result_i` / `scan_result_i` number.
    pub fn code(self) -> i32 {
        self.entry().1
    }

    /// The `scan_all_result_a` text, exactly as the document spells it.
    pub fn text(self) -> &'static str {
        self.entry().2
    }

    /// Every number and text of the table, in its order.
    pub(crate) fn table() -> impl Iterator<Item = (i32, &'static str)> {
        TABLE.iter().map(|(_, code, text)| (*code, *text))
    }

    /// The result with this number, if the document defines one we produce.
    pub fn from_code(code: i32) -> Option<ScanResult> {
        TABLE
            .iter()
            .find(|(_, c, _)| *c == code)
            .map(|(r, _, _)| *r)
    }

    /// Whether this result says nothing is wrong with the file.
    pub fn is_clean(self) -> bool {
        matches!(
            self,
            ScanResult::NoThreatDetected
                | ScanResult::Whitelisted
                | ScanResult::KnownGood
                | ScanResult::Unknown
        )
    }

    /// Whether this result says the content is malicious or unwanted: what a client must see in
    /// `scan_all_result_i` even when something else also went wrong (an extraction problem).
    /// It is also what `detected_by` counts and what `av_detections_to_block` counts.
    pub fn is_detection(self) -> bool {
        matches!(
            self,
            ScanResult::Infected
                | ScanResult::Suspicious
                | ScanResult::Blacklisted
                | ScanResult::YaraRuleMatched
                | ScanResult::PotentiallyUnwanted
                | ScanResult::KnownBad
        )
    }

    /// Whether this result says an archive could not be (fully) extracted: a limit (9, 13, 14,
    /// 16), an encrypted archive no password opened (12), or a damaged one (24).
    pub fn is_extraction_problem(self) -> bool {
        matches!(
            self,
            ScanResult::ExceededArchiveDepth
                | ScanResult::EncryptedArchive
                | ScanResult::ExceededArchiveSize
                | ScanResult::ExceededArchiveFileNumber
                | ScanResult::ExceededArchiveTimeout
                | ScanResult::ExtractionFailed
        )
    }

    /// Rank used to pick the worst result within the antivirus stage and across batch members:
    /// Infected > Suspicious > Failed / Not Scanned > any other finding > clean.
    pub fn severity(self) -> u8 {
        match self {
            ScanResult::Infected | ScanResult::KnownBad | ScanResult::Blacklisted => 6,
            ScanResult::Suspicious | ScanResult::YaraRuleMatched => 5,
            ScanResult::Failed
            | ScanResult::NotScanned
            | ScanResult::ScanFailed
            | ScanResult::GlobalTimeoutExceeded => 4,
            ScanResult::InProgress => 1,
            other if other.is_clean() => 0,
            ScanResult::Cancelled => 2,
            _ => 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_texts_round_trip() {
        for (result, code, text) in TABLE {
            assert_eq!(result.code(), *code);
            assert_eq!(result.text(), *text);
            assert_eq!(ScanResult::from_code(*code), Some(*result));
        }
        assert_eq!(ScanResult::from_code(11), None);
    }

    #[test]
    fn infected_outranks_failed_which_outranks_clean() {
        assert!(ScanResult::Infected.severity() > ScanResult::Suspicious.severity());
        assert!(ScanResult::Suspicious.severity() > ScanResult::Failed.severity());
        assert!(ScanResult::Failed.severity() > ScanResult::NoThreatDetected.severity());
        assert_eq!(
            ScanResult::NotScanned.severity(),
            ScanResult::Failed.severity()
        );
    }

    #[test]
    fn detections_and_extraction_problems_are_disjoint() {
        let detections: Vec<i32> = TABLE
            .iter()
            .filter(|(r, _, _)| r.is_detection())
            .map(|(_, c, _)| *c)
            .collect();
        assert_eq!(detections, vec![1, 2, 8, 21, 22, 38]);
        let problems: Vec<i32> = TABLE
            .iter()
            .filter(|(r, _, _)| r.is_extraction_problem())
            .map(|(_, c, _)| *c)
            .collect();
        assert_eq!(problems, vec![9, 12, 13, 14, 16, 24]);
        assert!(
            TABLE
                .iter()
                .all(|(r, _, _)| !(r.is_detection() && r.is_clean()))
        );
    }
}
