//! Deep CDR: what a rule asks of sanitization ([`CdrPolicy`]) and what the report says it did
//! (`process_info.post_processing.sanitization_details`, [`SanitizationDetails`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A kind of object sanitization removes or keeps. Its `key` names it in configuration, its
/// `name` is the report's `object_name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActiveObject {
    /// JavaScript, wherever it is attached (names tree, any action slot).
    Javascript,
    /// Actions that start a program or open another document: Launch, GoToE, GoToR.
    Launch,
    /// Actions that send or fetch form data: SubmitForm, ImportData.
    FormSubmission,
    /// Files carried inside the document (embedded files, attachments, collections).
    EmbeddedFile,
    /// XFA forms.
    Xfa,
    /// Multimedia and 3D content that can run code: RichMedia, 3D, Screen, Movie, Sound.
    RichMedia,
    /// Links to web addresses.
    Hyperlink,
    /// Document metadata (information dictionary, XMP).
    Metadata,
    /// Bytes outside the document's structure (before its header, after its end).
    TrailingData,
    /// Objects nothing in the document refers to (old revisions, hidden payloads).
    OrphanObject,
    /// Embedded OLE objects and packages (a program or document inside the document).
    OleObject,
    /// DDE fields, which run commands when the document is opened or updated.
    Dde,
    /// Content fetched from elsewhere when the document opens: attached templates, included
    /// files and pictures, linked objects.
    ExternalReference,
    /// Animation (SVG `animate`, `set`, ...), which can change links and content after load.
    Animation,
    /// Content outside what is rebuilt: SVG `foreignObject` (embedded HTML) and elements
    /// outside the allow-list.
    ForeignContent,
    /// Macros: VBA projects, and Excel 4 (XLM) macro sheets.
    Macro,
    /// ActiveX controls.
    ActiveX,
}

impl ActiveObject {
    pub const ALL: [ActiveObject; 17] = [
        ActiveObject::Javascript,
        ActiveObject::Launch,
        ActiveObject::FormSubmission,
        ActiveObject::EmbeddedFile,
        ActiveObject::Xfa,
        ActiveObject::RichMedia,
        ActiveObject::Hyperlink,
        ActiveObject::Metadata,
        ActiveObject::TrailingData,
        ActiveObject::OrphanObject,
        ActiveObject::OleObject,
        ActiveObject::Dde,
        ActiveObject::ExternalReference,
        ActiveObject::Animation,
        ActiveObject::ForeignContent,
        ActiveObject::Macro,
        ActiveObject::ActiveX,
    ];

    /// The configuration name (`remove` / `keep` / `block_on` lists).
    pub fn key(self) -> &'static str {
        match self {
            ActiveObject::Javascript => "javascript",
            ActiveObject::Launch => "launch",
            ActiveObject::FormSubmission => "form-submission",
            ActiveObject::EmbeddedFile => "embedded-file",
            ActiveObject::Xfa => "xfa",
            ActiveObject::RichMedia => "rich-media",
            ActiveObject::Hyperlink => "hyperlink",
            ActiveObject::Metadata => "metadata",
            ActiveObject::TrailingData => "trailing-data",
            ActiveObject::OrphanObject => "orphan-object",
            ActiveObject::OleObject => "ole-object",
            ActiveObject::Dde => "dde",
            ActiveObject::ExternalReference => "external-reference",
            ActiveObject::Animation => "animation",
            ActiveObject::ForeignContent => "foreign-content",
            ActiveObject::Macro => "macro",
            ActiveObject::ActiveX => "activex",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.key() == key)
    }

    /// The report's `object_name`.
    pub fn name(self) -> &'static str {
        match self {
            ActiveObject::Javascript => "JavaScript",
            ActiveObject::Launch => "Launch action",
            ActiveObject::FormSubmission => "Form submission action",
            ActiveObject::EmbeddedFile => "Embedded file",
            ActiveObject::Xfa => "XFA form",
            ActiveObject::RichMedia => "Multimedia content",
            ActiveObject::Hyperlink => "Hyperlink",
            ActiveObject::Metadata => "Metadata",
            ActiveObject::TrailingData => "Data outside the document",
            ActiveObject::OrphanObject => "Unreferenced object",
            ActiveObject::OleObject => "Embedded OLE object",
            ActiveObject::Dde => "DDE field",
            ActiveObject::ExternalReference => "External reference",
            ActiveObject::Animation => "Animation",
            ActiveObject::ForeignContent => "Foreign content",
            ActiveObject::Macro => "Macro",
            ActiveObject::ActiveX => "ActiveX control",
        }
    }

    /// Whether sanitization removes it unless the rule says otherwise: everything but
    /// hyperlinks.
    pub fn removed_by_default(self) -> bool {
        self != ActiveObject::Hyperlink
    }
}

/// What sanitization does with a digitally signed document, whose signature a rebuild breaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignedDocuments {
    /// Leave it as it is and report the skip with the reason.
    #[default]
    Skip,
    /// Rebuild it anyway (the signature no longer verifies).
    Sanitize,
    /// Block the file (Blocked Verdict by Deep CDR).
    Block,
}

/// What sanitizing an archive does with a member that cannot be sanitized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailedMembers {
    /// Leave it out, put a short text file in its place that names it and says why, and
    /// report the archive `Sanitized Partially`.
    #[default]
    Tombstone,
    /// Fail the whole archive's sanitization.
    Fail,
}

/// A rule's sanitization settings, passed with every sanitization request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdrPolicy {
    /// Formats sanitized, by name (`pdf`); empty: every supported format.
    pub formats: Vec<String>,
    /// Per object kind, whether it is removed (`true`) or kept, where the rule overrides the
    /// default ([`ActiveObject::removed_by_default`]).
    pub remove: BTreeMap<ActiveObject, bool>,
    /// Object kinds whose presence blocks the file (Blocked Verdict by Deep CDR, 30).
    pub block_on: Vec<ActiveObject>,
    pub signed: SignedDocuments,
    /// Report what would be removed, and write no sanitized copy.
    pub analysis_only: bool,
    /// Larger files are not sanitized (`exceeded file size`).
    pub max_file_size: u64,
    /// How long sanitizing one file may take (`processing time out`).
    pub time_limit_ms: u64,
    /// The sanitized copy's name: `{stem}` and `{ext}` are the submitted name's.
    pub output_name: String,
    /// Archive members that cannot be sanitized.
    #[serde(default)]
    pub failed_members: FailedMembers,
}

impl Default for CdrPolicy {
    fn default() -> Self {
        Self {
            formats: Vec::new(),
            remove: BTreeMap::new(),
            block_on: Vec::new(),
            signed: SignedDocuments::Skip,
            analysis_only: false,
            max_file_size: 100 << 20,
            time_limit_ms: 30_000,
            output_name: "{stem}_sanitized.{ext}".into(),
            failed_members: FailedMembers::Tombstone,
        }
    }
}

impl CdrPolicy {
    /// Whether objects of this kind are removed.
    pub fn removes(&self, kind: ActiveObject) -> bool {
        self.remove
            .get(&kind)
            .copied()
            .unwrap_or_else(|| kind.removed_by_default())
    }

    /// Whether files of this format are sanitized.
    pub fn sanitizes(&self, format: &str) -> bool {
        self.formats.is_empty() || self.formats.iter().any(|f| f == format)
    }

    /// The sanitized copy's name for a submitted file named `display_name`, with the
    /// extension `ext` of the format the copy is in.
    pub fn output_name_for(&self, display_name: &str, ext: &str) -> String {
        let base = display_name
            .rsplit(['/', '\\'])
            .next()
            .filter(|name| !name.is_empty())
            .unwrap_or("file");
        let stem = match base.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem,
            _ => base,
        };
        self.output_name
            .replace("{stem}", stem)
            .replace("{ext}", ext)
    }
}

/// `action` of a sanitization detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CdrAction {
    Removed,
    Sanitized,
}

/// One item of `sanitization_details.details`: a kind of object and how many were removed or
/// sanitized, or (with `file_name`) an embedded file sanitized with its own `details`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SanitizedObject {
    pub action: CdrAction,
    pub count: u64,
    pub object_name: String,
    pub object_details: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub details: Vec<SanitizedObject>,
}

/// `sanitization_details.result`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum SanitizationResult {
    #[default]
    Sanitized,
    #[serde(rename = "Sanitized failed")]
    Failed,
    #[serde(rename = "Sanitized skipped")]
    Skipped,
}

/// `sanitization_details.failure_category`: why a file could not be sanitized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum FailureCategory {
    #[serde(rename = "invalid file structure")]
    InvalidStructure,
    #[serde(rename = "unsupported version")]
    UnsupportedVersion,
    #[serde(rename = "exceeded file size")]
    ExceededFileSize,
    #[serde(rename = "password protected")]
    PasswordProtected,
    #[serde(rename = "processing time out")]
    TimedOut,
    #[serde(rename = "failed to sanitize")]
    FailedToSanitize,
}

/// `sanitization_details.verdict`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CdrVerdict {
    #[default]
    Allowed,
    Blocked,
}

/// `sanitized_file_info`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SanitizedFileInfo {
    pub file_size: u64,
    pub sha256: String,
}

/// `process_info.post_processing.sanitization_details`: what sanitization did to the file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SanitizationDetails {
    pub cdr_wait_time: i64,
    pub description: String,
    pub details: Vec<SanitizedObject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_category: Option<FailureCategory>,
    pub result: SanitizationResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sanitized_file_info: Option<SanitizedFileInfo>,
    pub verdict: CdrVerdict,
    pub verdict_explanations: Vec<String>,
    /// Some members of an archive could not be sanitized and were replaced (not in the API
    /// document's shape: it decides `actions_ran`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

impl SanitizationDetails {
    /// A sanitization that could not be done, with the category and the reason.
    pub fn failed(category: FailureCategory, reason: impl Into<String>) -> Self {
        Self {
            description: reason.into(),
            failure_category: Some(category),
            result: SanitizationResult::Failed,
            ..Self::default()
        }
    }

    /// A file sanitization left as it is, with the reason.
    pub fn skipped(reason: impl Into<String>) -> Self {
        Self {
            description: reason.into(),
            result: SanitizationResult::Skipped,
            ..Self::default()
        }
    }

    /// The name `post_processing` gives this outcome, and whether it is a failure
    /// (`actions_failed`) rather than an action that ran (`actions_ran`).
    pub fn action(&self) -> (&'static str, bool) {
        match (self.result, self.failure_category) {
            (SanitizationResult::Sanitized, _) if self.partial => ("Sanitized Partially", false),
            (SanitizationResult::Sanitized, _) => ("Sanitized", false),
            (SanitizationResult::Skipped, _) => ("Sanitization Skipped", false),
            (SanitizationResult::Failed, Some(FailureCategory::TimedOut)) => {
                ("Sanitization Timed Out", true)
            }
            (SanitizationResult::Failed, _) => ("Sanitization Failed", true),
        }
    }

    /// Objects removed or sanitized, over all items (nested ones included).
    pub fn objects(&self) -> u64 {
        fn count(items: &[SanitizedObject]) -> u64 {
            items
                .iter()
                .map(|item| item.count + count(&item.details))
                .sum()
        }
        count(&self.details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_serialize_in_the_documented_shape() {
        let details = SanitizationDetails {
            cdr_wait_time: 0,
            description: "Sanitized successfully".into(),
            details: vec![SanitizedObject {
                action: CdrAction::Removed,
                count: 2,
                object_name: "JavaScript".into(),
                object_details: vec!["app.alert(1)".into()],
                file_name: String::new(),
                description: String::new(),
                details: Vec::new(),
            }],
            failure_category: None,
            result: SanitizationResult::Sanitized,
            sanitized_file_info: Some(SanitizedFileInfo {
                file_size: 10,
                sha256: "ab".into(),
            }),
            verdict: CdrVerdict::Allowed,
            verdict_explanations: Vec::new(),
            partial: false,
        };
        assert_eq!(
            serde_json::to_string(&details).unwrap(),
            r#"{"cdr_wait_time":0,"description":"Sanitized successfully","details":[{"action":"removed","count":2,"object_name":"JavaScript","object_details":["app.alert(1)"]}],"result":"Sanitized","sanitized_file_info":{"file_size":10,"sha256":"ab"},"verdict":"allowed","verdict_explanations":[]}"#
        );
        let failed = SanitizationDetails::failed(FailureCategory::PasswordProtected, "encrypted");
        let text = serde_json::to_string(&failed).unwrap();
        assert!(
            text.contains(r#""failure_category":"password protected","result":"Sanitized failed""#),
            "{text}"
        );
        assert_eq!(failed.action(), ("Sanitization Failed", true));
        assert_eq!(
            SanitizationDetails::failed(FailureCategory::TimedOut, "slow").action(),
            ("Sanitization Timed Out", true)
        );
        assert_eq!(
            SanitizationDetails::skipped("signed").action(),
            ("Sanitization Skipped", false)
        );
    }

    #[test]
    fn output_names_follow_the_pattern_and_rules_override_object_defaults() {
        let mut policy = CdrPolicy::default();
        assert_eq!(
            policy.output_name_for("report.PDF", "pdf"),
            "report_sanitized.pdf"
        );
        assert_eq!(
            policy.output_name_for("dir/a.b.docm", "docx"),
            "a.b_sanitized.docx"
        );
        assert_eq!(
            policy.output_name_for("noext", "pdf"),
            "noext_sanitized.pdf"
        );
        assert_eq!(
            policy.output_name_for(".hidden", "pdf"),
            ".hidden_sanitized.pdf"
        );
        policy.output_name = "clean-{stem}.{ext}".into();
        assert_eq!(policy.output_name_for("x.pdf", "pdf"), "clean-x.pdf");

        assert!(policy.removes(ActiveObject::Javascript));
        assert!(!policy.removes(ActiveObject::Hyperlink));
        policy.remove.insert(ActiveObject::Hyperlink, true);
        policy.remove.insert(ActiveObject::Metadata, false);
        assert!(policy.removes(ActiveObject::Hyperlink));
        assert!(!policy.removes(ActiveObject::Metadata));
        for kind in ActiveObject::ALL {
            assert_eq!(ActiveObject::parse(kind.key()), Some(kind));
        }
    }
}
