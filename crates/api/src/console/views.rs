//! What each console page shows, ready to render: the templates (`templates/console/`) only
//! lay out these texts, which askama escapes.

use askama::Template;
use palisade_model::{Millis, ProcessResult, ScanResult};

/// The header of every page after login.
pub(crate) struct Nav {
    pub username: String,
    pub role: String,
    pub csrf: String,
    /// The page's entry in the menu.
    pub current: &'static str,
}

#[derive(Template)]
#[template(path = "console/login.html")]
pub(crate) struct LoginPage {
    pub nav: Option<Nav>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/message.html")]
pub(crate) struct MessagePage {
    pub nav: Option<Nav>,
    pub title: String,
    pub message: String,
}

/// The submission list's filters as the form shows them (empty: not filtered).
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Filters {
    pub result: String,
    pub verdict: String,
    pub rule: String,
    #[serde(rename = "type")]
    pub file_type: String,
    pub user: String,
    pub from: String,
    pub to: String,
    pub q: String,
    pub before: String,
    pub after: String,
}

impl Filters {
    /// The filters as a query string (without the page keys), each value percent-encoded.
    pub fn query_string(&self) -> String {
        let pairs = [
            ("result", &self.result),
            ("verdict", &self.verdict),
            ("rule", &self.rule),
            ("type", &self.file_type),
            ("user", &self.user),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
        ];
        pairs
            .iter()
            .filter(|(_, value)| !value.trim().is_empty())
            .map(|(key, value)| format!("{key}={}", encode(value.trim())))
            .collect::<Vec<_>>()
            .join("&")
    }
}

pub(crate) fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

pub(crate) struct SubmissionLine {
    pub data_id: String,
    pub name: String,
    pub file_type: String,
    pub size: String,
    pub rule: String,
    pub user: String,
    pub uploaded: String,
    pub result: String,
    pub verdict: &'static str,
}

#[derive(Template)]
#[template(path = "console/submissions.html")]
pub(crate) struct SubmissionsPage {
    pub nav: Option<Nav>,
    pub filters: Filters,
    /// Every result code with its text, for the filter.
    pub results: Vec<(String, &'static str)>,
    pub rules: Vec<String>,
    /// Whether the user filter is offered (not when a user sees only their own files).
    pub show_user: bool,
    pub rows: Vec<SubmissionLine>,
    pub newer: Option<String>,
    pub older: Option<String>,
    pub elapsed_ms: String,
}

pub(crate) struct EngineLine {
    pub name: String,
    pub result: String,
    pub threat: String,
    pub definitions: String,
    pub time_ms: i64,
}

pub(crate) struct MemberLine {
    pub data_id: String,
    pub name: String,
    pub file_type: String,
    pub size: String,
    pub result: String,
}

/// One page of an archive's members or a batch's files.
pub(crate) struct MemberPage {
    pub total: u64,
    pub shown_from: u64,
    pub shown_to: u64,
    pub rows: Vec<MemberLine>,
    pub previous: Option<String>,
    pub next: Option<String>,
}

impl MemberPage {
    /// Links to the pages before and after `first` (of `size`) of `total`, under `base`.
    pub fn new(base: &str, total: u64, first: u64, size: u64, rows: Vec<MemberLine>) -> Self {
        let count = rows.len() as u64;
        Self {
            total,
            shown_from: if count == 0 { first } else { first + 1 },
            shown_to: first + count,
            rows,
            previous: (first > 0)
                .then(|| format!("{base}?first={}&size={size}", first.saturating_sub(size))),
            next: (first + count < total)
                .then(|| format!("{base}?first={}&size={size}", first + size)),
        }
    }
}

pub(crate) struct CdrView {
    pub result: String,
    pub verdict: String,
    pub description: String,
    pub failure: String,
    /// (action, object, count)
    pub details: Vec<(String, String, u64)>,
}

pub(crate) struct DlpView {
    pub verdict: String,
    pub severity: u8,
    pub redact: String,
    /// (kind, hit, location, certainty)
    pub hits: Vec<(String, String, String, String)>,
    pub errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/report.html")]
pub(crate) struct ReportPage {
    pub nav: Option<Nav>,
    pub data_id: String,
    pub name: String,
    pub verdict: &'static str,
    pub result: String,
    pub blocked_reasons: Vec<String>,
    pub facts: Vec<(&'static str, String)>,
    pub engines: Vec<EngineLine>,
    pub members: Option<MemberPage>,
    pub cdr: Option<CdrView>,
    pub dlp: Option<DlpView>,
    /// (label, href)
    pub downloads: Vec<(&'static str, String)>,
    pub parent: Option<String>,
    pub can_cancel: bool,
    pub in_progress: bool,
    pub raw_json: String,
}

#[derive(Template)]
#[template(path = "console/upload.html")]
pub(crate) struct UploadPage {
    pub nav: Option<Nav>,
    pub rules: Vec<String>,
}

pub(crate) struct BatchLine {
    pub batch_id: String,
    pub user: String,
    pub rule: String,
    pub created: String,
    pub state: &'static str,
}

#[derive(Template)]
#[template(path = "console/batches.html")]
pub(crate) struct BatchesPage {
    pub nav: Option<Nav>,
    pub rows: Vec<BatchLine>,
}

#[derive(Template)]
#[template(path = "console/batch.html")]
pub(crate) struct BatchPage {
    pub nav: Option<Nav>,
    pub batch_id: String,
    pub user: String,
    pub user_data: String,
    pub closed: bool,
    pub verdict: &'static str,
    pub result: String,
    pub progress: u32,
    pub members: MemberPage,
    pub certificate: bool,
}

pub(crate) struct EngineRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub version: String,
    pub state: String,
    pub definitions: String,
    pub age: String,
    pub problems: Vec<String>,
    pub nodes: String,
}

#[derive(Template)]
#[template(path = "console/engines.html")]
pub(crate) struct EnginesPage {
    pub nav: Option<Nav>,
    pub rows: Vec<EngineRow>,
}

pub(crate) struct NodeRow {
    pub id: String,
    pub role: String,
    pub host: String,
    pub version: String,
    pub online: bool,
    pub workers: u32,
    pub running: u64,
    pub started: String,
    pub last_seen: String,
    pub engines: String,
}

#[derive(Template)]
#[template(path = "console/cluster.html")]
pub(crate) struct ClusterPage {
    pub nav: Option<Nav>,
    pub queue_depth: u64,
    pub oldest: String,
    pub rows: Vec<NodeRow>,
}

/// `process_info.result` as the console shows it.
pub(crate) fn verdict(result: ProcessResult) -> &'static str {
    match result {
        ProcessResult::Allowed => "Allowed",
        ProcessResult::Blocked => "Blocked",
        ProcessResult::Processing => "Processing",
    }
}

/// A result code's text (the code itself when it is not one of the document's).
pub(crate) fn result_text(code: i32) -> String {
    ScanResult::from_code(code).map_or_else(|| code.to_string(), |r| r.text().to_string())
}

/// Bytes in the largest unit that keeps a number of at least 1.
pub(crate) fn size_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A time as `2026-12-08 09:30:00 UTC`.
pub(crate) fn time_text(millis: Millis) -> String {
    let stamp = palisade_model::format_timestamp(millis);
    let seconds = stamp.get(..19).unwrap_or(&stamp);
    format!("{} UTC", seconds.replace('T', " "))
}

/// How long ago `then` was, in the largest whole unit.
pub(crate) fn age_text(now: Millis, then: Millis) -> String {
    let seconds = (now - then).max(0) / 1000;
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7_200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

/// A `datetime-local` field's value (`2026-12-08T09:30`, read as UTC) in milliseconds.
pub(crate) fn parse_form_time(text: &str) -> Option<Millis> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let with_seconds = if text.len() == 16 {
        format!("{text}:00Z")
    } else {
        format!("{text}Z")
    };
    palisade_model::parse_timestamp(&with_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_times_and_ages_read_as_people_write_them() {
        assert_eq!(size_text(1000), "1000 B");
        assert_eq!(size_text(1536), "1.5 KiB");
        assert_eq!(size_text(5 << 30), "5.0 GiB");
        assert_eq!(time_text(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(age_text(200_000, 80_000), "2 min");
        assert_eq!(age_text(200_000, 190_000), "10 s");
        assert_eq!(age_text(3 * 86_400_000, 0), "3 days");
        assert_eq!(parse_form_time("1970-01-01T00:01"), Some(60_000));
        assert_eq!(parse_form_time("1970-01-01T00:01:30"), Some(90_000));
        assert_eq!(parse_form_time(""), None);
        assert_eq!(parse_form_time("yesterday"), None);
    }

    #[test]
    fn filter_links_keep_the_filters_encoded_and_drop_empty_ones() {
        let filters = Filters {
            q: "a b&c".into(),
            verdict: "blocked".into(),
            before: "12".into(),
            ..Filters::default()
        };
        assert_eq!(filters.query_string(), "verdict=blocked&q=a%20b%26c");
    }

    #[test]
    fn member_pages_link_to_their_neighbours() {
        let rows = |n| {
            (0..n)
                .map(|i| MemberLine {
                    data_id: format!("{i}"),
                    name: String::new(),
                    file_type: String::new(),
                    size: String::new(),
                    result: String::new(),
                })
                .collect()
        };
        let first = MemberPage::new("/x", 120, 0, 50, rows(50));
        assert_eq!((first.shown_from, first.shown_to), (1, 50));
        assert_eq!(first.previous, None);
        assert_eq!(first.next.as_deref(), Some("/x?first=50&size=50"));
        let last = MemberPage::new("/x", 120, 100, 50, rows(20));
        assert_eq!(last.previous.as_deref(), Some("/x?first=50&size=50"));
        assert_eq!(last.next, None);
    }
}
