//! Proactive DLP: what a rule asks of data-loss prevention ([`DlpPolicy`]) and what the report
//! says it found (`dlp_info`, [`DlpInfo`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How certain a hit is: the report's five words, each a band of `certainty_score`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Certainty {
    #[serde(rename = "Very Low", alias = "very-low")]
    VeryLow,
    #[serde(rename = "Low", alias = "low")]
    Low,
    #[serde(rename = "Medium", alias = "medium")]
    Medium,
    #[serde(rename = "High", alias = "high")]
    High,
    #[serde(rename = "Very High", alias = "very-high")]
    VeryHigh,
}

impl Certainty {
    pub const ALL: [Certainty; 5] = [
        Certainty::VeryLow,
        Certainty::Low,
        Certainty::Medium,
        Certainty::High,
        Certainty::VeryHigh,
    ];

    /// The word for a score from 0 to 100: bands of 0-19, 20-39, 40-59, 60-79 and 80-100.
    pub fn of_score(score: u8) -> Certainty {
        match score {
            0..=19 => Certainty::VeryLow,
            20..=39 => Certainty::Low,
            40..=59 => Certainty::Medium,
            60..=79 => Certainty::High,
            _ => Certainty::VeryHigh,
        }
    }

    /// The lowest score of the band, the score a fixed certainty (a custom pattern's) gives.
    pub fn floor(self) -> u8 {
        match self {
            Certainty::VeryLow => 0,
            Certainty::Low => 20,
            Certainty::Medium => 40,
            Certainty::High => 60,
            Certainty::VeryHigh => 80,
        }
    }

    /// The report's word (`Very Low` ... `Very High`).
    pub fn word(self) -> &'static str {
        match self {
            Certainty::VeryLow => "Very Low",
            Certainty::Low => "Low",
            Certainty::Medium => "Medium",
            Certainty::High => "High",
            Certainty::VeryHigh => "Very High",
        }
    }
}

/// A built-in recognizer. Its `key` is the report's key under `dlp_info.hits` and the rule's
/// name for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recognizer {
    /// Payment card numbers.
    Ccn,
    /// US social security numbers.
    Ssn,
    /// International bank account numbers.
    Iban,
    /// IPv4 addresses and CIDR blocks.
    Ipv4,
}

impl Recognizer {
    pub const ALL: [Recognizer; 4] = [
        Recognizer::Ccn,
        Recognizer::Ssn,
        Recognizer::Iban,
        Recognizer::Ipv4,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Recognizer::Ccn => "ccn",
            Recognizer::Ssn => "ssn",
            Recognizer::Iban => "iban",
            Recognizer::Ipv4 => "ipv4",
        }
    }

    /// The report's `display_name`.
    pub fn display_name(self) -> &'static str {
        match self {
            Recognizer::Ccn => "Credit Card Number",
            Recognizer::Ssn => "Social Security Number",
            Recognizer::Iban => "IBAN",
            Recognizer::Ipv4 => "IPv4 Address",
        }
    }

    pub fn from_key(key: &str) -> Option<Recognizer> {
        Recognizer::ALL.into_iter().find(|r| r.key() == key)
    }
}

/// An operator's pattern: reported under `regex_<index>` with its display name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomPattern {
    pub display_name: String,
    /// A regular expression (the `regex` crate's syntax).
    pub pattern: String,
    /// When given, a hit counts only with one of these words near it.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The certainty every hit of the pattern gets.
    #[serde(default = "high")]
    pub certainty: Certainty,
}

fn high() -> Certainty {
    Certainty::High
}

/// What a rule asks of Proactive DLP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DlpPolicy {
    /// The built-in recognizers that run, each with the lowest certainty it reports.
    pub recognizers: BTreeMap<Recognizer, Certainty>,
    /// Operator-defined patterns, reported as `regex_0`, `regex_1`... in this order.
    pub patterns: Vec<CustomPattern>,
    /// Words that, near a hit of the recognizer, raise its score (added to the built-in ones).
    pub keywords: BTreeMap<Recognizer, Vec<String>>,
    /// The certainty from which a hit makes the file Sensitive Data Found and is redacted.
    pub min_certainty: Certainty,
    /// Whether stored reports show hits and their context in full (default: masked).
    pub show_values: bool,
    /// Characters of context kept before and after each hit.
    pub context_chars: usize,
    /// Whether a redacted copy is written.
    pub redact: bool,
    /// Whether the redacted copy loses the document's metadata.
    pub remove_metadata: bool,
    /// Bytes of extracted text examined per file; beyond it the report says the rest was not.
    pub max_text_bytes: u64,
}

impl Default for DlpPolicy {
    fn default() -> Self {
        Self {
            recognizers: Recognizer::ALL
                .into_iter()
                .map(|recognizer| (recognizer, Certainty::Low))
                .collect(),
            patterns: Vec::new(),
            keywords: BTreeMap::new(),
            min_certainty: Certainty::High,
            show_values: false,
            context_chars: 30,
            redact: false,
            remove_metadata: false,
            max_text_bytes: 64 * 1024 * 1024,
        }
    }
}

/// One hit in `dlp_info.hits.<kind>.hits`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DlpHit {
    pub hit: String,
    pub before: String,
    pub after: String,
    pub certainty: Certainty,
    pub certainty_score: u8,
    pub location: String,
    /// Deprecated by the incumbent: 0 for a hit at or above the rule's certainty, else 1.
    pub severity: u8,
    #[serde(rename = "tryRedact")]
    pub try_redact: bool,
}

/// The hits of one kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DlpKindHits {
    pub display_name: String,
    pub hits: Vec<DlpHit>,
}

/// `dlp_info.verdict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum DlpVerdict {
    Clean,
    Found,
    Suspicious,
    Failed,
    NotScanned,
}

impl utoipa::PartialSchema for DlpVerdict {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::schema::integer_enum(
            [0, 1, 2, 3, 4],
            "0 clean, 1 sensitive data found, 2 suspicious, 3 failed, 4 not scanned",
        )
    }
}

impl utoipa::ToSchema for DlpVerdict {}

impl From<DlpVerdict> for u8 {
    fn from(verdict: DlpVerdict) -> u8 {
        match verdict {
            DlpVerdict::Clean => 0,
            DlpVerdict::Found => 1,
            DlpVerdict::Suspicious => 2,
            DlpVerdict::Failed => 3,
            DlpVerdict::NotScanned => 4,
        }
    }
}

impl TryFrom<u8> for DlpVerdict {
    type Error = String;
    fn try_from(code: u8) -> Result<Self, String> {
        Ok(match code {
            0 => DlpVerdict::Clean,
            1 => DlpVerdict::Found,
            2 => DlpVerdict::Suspicious,
            3 => DlpVerdict::Failed,
            4 => DlpVerdict::NotScanned,
            other => return Err(format!("no DLP verdict {other}")),
        })
    }
}

/// `dlp_info.redact.result`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum RedactResult {
    #[serde(rename = "redacted")]
    Redacted,
    #[serde(rename = "not redacted")]
    NotRedacted,
    #[serde(rename = "failed to redact")]
    FailedToRedact,
}

/// `dlp_info.watermark.result`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum WatermarkResult {
    #[serde(rename = "added")]
    Added,
    #[serde(rename = "not added")]
    NotAdded,
    #[serde(rename = "failed to add")]
    FailedToAdd,
}

/// `dlp_info.metadata_removal.result`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum MetadataRemovalResult {
    #[serde(rename = "removed")]
    Removed,
    #[serde(rename = "not removed")]
    NotRemoved,
    #[serde(rename = "failed to remove")]
    FailedToRemove,
}

/// `{"result": ...}`, the shape of `redact`, `watermark` and `metadata_removal`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Outcome<T> {
    pub result: T,
}

/// The report's `dlp_info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DlpInfo {
    /// The certainty of the most certain hit (absent without hits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certainty: Option<Certainty>,
    /// What went wrong, by step: `scan`, `redact`, `watermark`, `metadata_removal`.
    pub errors: BTreeMap<String, String>,
    /// The redacted copy's name (empty without one).
    pub filename: String,
    /// Hits by kind: `ccn`, `ssn`, `iban`, `ipv4`, `regex_0`...
    pub hits: BTreeMap<String, DlpKindHits>,
    pub metadata_removal: Outcome<MetadataRemovalResult>,
    pub redact: Outcome<RedactResult>,
    /// Deprecated by the incumbent: 0 when a hit reaches the rule's certainty, else 1.
    pub severity: u8,
    pub verdict: DlpVerdict,
    pub watermark: Outcome<WatermarkResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_map_to_the_five_words_and_back_to_their_floor() {
        for certainty in Certainty::ALL {
            assert_eq!(Certainty::of_score(certainty.floor()), certainty);
        }
        assert_eq!(Certainty::of_score(59), Certainty::Medium);
        assert_eq!(Certainty::of_score(100), Certainty::VeryHigh);
        assert_eq!(
            serde_json::to_string(&Certainty::VeryHigh).unwrap(),
            "\"Very High\""
        );
        let rule: Certainty = serde_json::from_str("\"very-low\"").unwrap();
        assert_eq!(rule, Certainty::VeryLow);
    }

    #[test]
    fn the_report_has_the_api_documents_shape() {
        let info = DlpInfo {
            certainty: Some(Certainty::High),
            errors: BTreeMap::new(),
            filename: String::new(),
            hits: BTreeMap::from([(
                "ccn".to_string(),
                DlpKindHits {
                    display_name: "Credit Card Number".into(),
                    hits: vec![DlpHit {
                        hit: "4111 **** **** 1111".into(),
                        before: "card ".into(),
                        after: " exp".into(),
                        certainty: Certainty::High,
                        certainty_score: 75,
                        location: "line 1".into(),
                        severity: 0,
                        try_redact: false,
                    }],
                },
            )]),
            metadata_removal: Outcome {
                result: MetadataRemovalResult::NotRemoved,
            },
            redact: Outcome {
                result: RedactResult::NotRedacted,
            },
            severity: 0,
            verdict: DlpVerdict::Found,
            watermark: Outcome {
                result: WatermarkResult::NotAdded,
            },
        };
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "certainty": "High",
                "errors": {},
                "filename": "",
                "hits": {"ccn": {"display_name": "Credit Card Number", "hits": [{
                    "hit": "4111 **** **** 1111", "before": "card ", "after": " exp",
                    "certainty": "High", "certainty_score": 75, "location": "line 1",
                    "severity": 0, "tryRedact": false
                }]}},
                "metadata_removal": {"result": "not removed"},
                "redact": {"result": "not redacted"},
                "severity": 0,
                "verdict": 1,
                "watermark": {"result": "not added"}
            })
        );
        let back: DlpInfo = serde_json::from_value(json).unwrap();
        assert_eq!(back, info);
    }
}
