//! Deep CDR (content disarm and reconstruction): the post-processing engine that rebuilds a
//! document without its active content, and reports each kind of object it removed.
//!
//! Every output is a complete rebuild into a new file, never an edit in place, so removed bytes
//! are gone from it rather than merely unreferenced. The same input under the same policy gives
//! the same bytes, and rebuilding an output again removes nothing. The engine parses hostile
//! documents: the binary always runs it in a parser process (`palisade_isolate`), where a crash
//! is that file's failed sanitization.
//!
//! Formats: PDF (`pdf.rs`), RTF (`rtf.rs`), SVG (`svg.rs`), HTML (`html.rs`), JPEG, PNG, GIF, BMP, TIFF and
//! WebP images (`image.rs`), Office Open XML documents (`ooxml/`), legacy Office documents
//! (`ole.rs`) and zip archives, member by member (`archive.rs`). A file of any other type is
//! reported as skipped, never as sanitized.

mod archive;
mod html;
mod image;
mod ole;
mod ooxml;
mod pdf;
mod removals;
mod rtf;
mod svg;
mod vba;
mod xml;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use palisade_model::{
    ActiveObject, CdrPolicy, CdrVerdict, EngineKind, FailureCategory, OutputKind,
    SanitizationDetails, SanitizationResult, SanitizedFileInfo, ScanResult, SignedDocuments,
};
use palisade_pipeline::{
    Engine, EngineDescriptor, EngineError, EngineStatus, Finding, OutputFile, Sample, ScanContext,
    Section, Stage,
};
use sha2::Digest;

pub use removals::Removals;

/// The formats the engine rebuilds, by the name rules use.
pub const FORMATS: [&str; 28] = [
    "pdf", "rtf", "svg", "html", "jpeg", "png", "gif", "bmp", "tiff", "webp", "docx", "docm",
    "dotx", "dotm", "xlsx", "xlsm", "xltx", "xltm", "pptx", "pptm", "ppsx", "ppsm", "potx", "potm",
    "doc", "xls", "ppt", "zip",
];

/// The engine's id in rules and `/stat/engines`.
pub const ENGINE_ID: &str = "cdr";

/// A format the engine rebuilds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Pdf,
    Rtf,
    Svg,
    Html,
    Image(image::Kind),
    Ooxml(&'static ooxml::Type),
    Ole(ole::Kind),
    Zip,
}

impl Format {
    /// What the file is, among the formats rebuilt: by its first bytes, and for a zip by
    /// the package's content types.
    fn detect(head: &[u8]) -> Option<Self> {
        if let Some(kind) = ooxml::detect(head) {
            return Some(Format::Ooxml(kind));
        }
        if let Some(kind) = ole::detect(head) {
            return Some(Format::Ole(kind));
        }
        if ooxml::package::Package::is_zip(head) {
            return Some(Format::Zip);
        }
        if pdf::is_pdf(head) {
            return Some(Format::Pdf);
        }
        if rtf::is_rtf(head) {
            return Some(Format::Rtf);
        }
        if svg::is_svg(head) {
            return Some(Format::Svg);
        }
        if html::is_html(head) {
            return Some(Format::Html);
        }
        image::Kind::detect(head).map(Format::Image)
    }

    /// The name rules use.
    fn name(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Rtf => "rtf",
            Format::Svg => "svg",
            Format::Html => "html",
            Format::Image(kind) => kind.name(),
            Format::Ooxml(kind) => kind.name,
            Format::Ole(kind) => kind.name(),
            Format::Zip => "zip",
        }
    }

    fn label(self) -> String {
        match self {
            Format::Pdf => "PDF".into(),
            Format::Rtf => "RTF".into(),
            Format::Svg => "SVG".into(),
            Format::Html => "HTML".into(),
            Format::Image(kind) => kind.label().into(),
            Format::Ooxml(kind) => kind.label(),
            Format::Ole(kind) => kind.label().into(),
            Format::Zip => "ZIP archive".into(),
        }
    }

    /// The rebuilt file's extension: the submitted name's when it is one of the format's,
    /// else the format's usual one. An Office document's is its type's, which loses its
    /// macros with them (docm becomes docx).
    fn extension(self, display_name: &str, policy: &CdrPolicy) -> String {
        let known: &[&str] = match self {
            Format::Ooxml(kind) => return kind.output(policy).name.to_string(),
            Format::Pdf => &["pdf"],
            Format::Rtf => &["rtf", "doc"],
            Format::Svg => &["svg"],
            Format::Html => &["html", "htm"],
            Format::Image(kind) => kind.extensions(),
            Format::Ole(kind) => kind.extensions(),
            Format::Zip => &["zip"],
        };
        let given = display_name
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase())
            .unwrap_or_default();
        if known.contains(&given.as_str()) {
            given
        } else {
            known[0].to_string()
        }
    }

    fn rebuild(
        self,
        input: &[u8],
        policy: &CdrPolicy,
        deadline: Instant,
    ) -> Result<Rebuilt, Failure> {
        match self {
            Format::Pdf => pdf::rebuild(input, policy, deadline),
            Format::Rtf => rtf::rebuild(input, policy, deadline),
            Format::Svg => svg::rebuild(input, policy, deadline),
            Format::Html => html::rebuild(input, policy, deadline),
            Format::Image(kind) => image::rebuild(input, kind, deadline),
            Format::Ooxml(kind) => ooxml::rebuild(input, kind, policy, deadline),
            Format::Ole(kind) => ole::rebuild(input, kind, policy, deadline),
            Format::Zip => archive::rebuild(input, policy, deadline),
        }
    }
}

/// What a word-processing field (RTF `\fldinst`, Word `instrText` and `fldSimple`) is, by its
/// instruction, when it is one sanitization may remove: fields that run a command (DDE) or a
/// macro, fetch content from elsewhere, or link to a web address.
pub(crate) fn field_kind(instruction: &str) -> Option<ActiveObject> {
    let first = instruction
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    Some(match first.as_str() {
        "DDE" | "DDEAUTO" => ActiveObject::Dde,
        "INCLUDETEXT" | "INCLUDEPICTURE" | "IMPORT" | "LINK" | "INCLUDE" => {
            ActiveObject::ExternalReference
        }
        "HYPERLINK" => ActiveObject::Hyperlink,
        // Runs a macro when the field is double-clicked.
        "MACROBUTTON" => ActiveObject::Macro,
        _ => return None,
    })
}

/// Threads one file's independent pieces of work (an Office document's pictures) are spread
/// over: the machine's cores, at most four, so one large file does not wait on one core.
const MAX_THREADS: usize = 4;

/// `work` applied to every item on up to [`MAX_THREADS`] threads; the answers come back in the
/// items' order, so the output does not depend on which thread finished first.
pub(crate) fn in_parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_THREADS)
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(work).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut answers: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(at) else {
                            break done;
                        };
                        done.push((at, work(item)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| match worker.join() {
                Ok(done) => done,
                // A panic is the parser process's to report, as it would be on one thread.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    answers.sort_unstable_by_key(|(at, _)| *at);
    answers.into_iter().map(|(_, answer)| answer).collect()
}

/// A document rebuilt without what the policy removes.
#[derive(Default)]
pub(crate) struct Rebuilt {
    bytes: Vec<u8>,
    removals: Removals,
    /// The original carried a digital signature (which the rebuild does not keep valid).
    signed: bool,
    /// Why the file is blocked rather than rebuilt: it holds something the rule removes that
    /// cannot be taken out of this format safely.
    blocked: Vec<String>,
    /// What in it was not sanitized, and why (archive members): the copy is then
    /// `Sanitized Partially`.
    partial: Vec<String>,
}

/// Why a document could not be rebuilt.
#[derive(Debug)]
pub(crate) struct Failure {
    category: FailureCategory,
    reason: String,
}

impl Failure {
    fn invalid(reason: impl Into<String>) -> Self {
        Self {
            category: FailureCategory::InvalidStructure,
            reason: reason.into(),
        }
    }

    /// The file's sanitization time limit ran out.
    fn timed_out() -> Self {
        Self {
            category: FailureCategory::TimedOut,
            reason: "sanitizing took longer than the time limit".into(),
        }
    }

    fn failed(reason: impl Into<String>) -> Self {
        Self {
            category: FailureCategory::FailedToSanitize,
            reason: reason.into(),
        }
    }
}

/// The Deep CDR engine.
pub struct CdrEngine {
    descriptor: EngineDescriptor,
}

impl Default for CdrEngine {
    fn default() -> Self {
        Self {
            descriptor: EngineDescriptor {
                id: ENGINE_ID.into(),
                name: "Deep CDR".into(),
                stage: Stage::Cdr,
                in_scan_details: false,
                kind: EngineKind::Cdr,
                produces: Some(OutputKind::Sanitized),
            },
        }
    }
}

impl Engine for CdrEngine {
    fn descriptor(&self) -> &EngineDescriptor {
        &self.descriptor
    }

    fn status(&self) -> EngineStatus {
        EngineStatus::production(env!("CARGO_PKG_VERSION"), "")
    }

    fn scan(&self, sample: &Sample<'_>, context: &ScanContext) -> Result<Finding, EngineError> {
        let policy = &context.cdr;
        let limit = Duration::from_millis(policy.time_limit_ms).min(context.limits.timeout);
        let deadline = Instant::now() + limit;
        let account = match sanitize(sample, policy, deadline)? {
            Sanitization::Account(details) => details,
            Sanitization::Rebuilt { format, rebuilt } => {
                return decide(sample, context, format, rebuilt);
            }
        };
        Ok(finding(ScanResult::NoThreatDetected, account, Vec::new()))
    }
}

/// Where reading and rebuilding a file got: a rebuild to decide on, or already the account.
enum Sanitization {
    Rebuilt { format: Format, rebuilt: Rebuilt },
    Account(SanitizationDetails),
}

/// Reads the sample and rebuilds it if the policy asks for its format.
fn sanitize(
    sample: &Sample<'_>,
    policy: &CdrPolicy,
    deadline: Instant,
) -> Result<Sanitization, EngineError> {
    if sample.size > policy.max_file_size {
        return Ok(Sanitization::Account(SanitizationDetails::failed(
            FailureCategory::ExceededFileSize,
            format!(
                "the file ({} bytes) is larger than the sanitization limit of {} bytes",
                sample.size, policy.max_file_size
            ),
        )));
    }
    let mut input = Vec::new();
    std::fs::File::open(sample.path)?
        .take(policy.max_file_size.saturating_add(1))
        .read_to_end(&mut input)?;
    let Some(format) = Format::detect(&input) else {
        return Ok(Sanitization::Account(SanitizationDetails::skipped(
            format!("not a file type Deep CDR rebuilds ({})", FORMATS.join(", ")),
        )));
    };
    if !policy.sanitizes(format.name()) {
        return Ok(Sanitization::Account(SanitizationDetails::skipped(
            format!("the rule does not sanitize {} files", format.label()),
        )));
    }
    Ok(match format.rebuild(&input, policy, deadline) {
        Ok(rebuilt) => Sanitization::Rebuilt { format, rebuilt },
        Err(failure) => Sanitization::Account(SanitizationDetails::failed(
            failure.category,
            format!("{}: {}", format.label(), failure.reason),
        )),
    })
}

/// What a rebuild comes to under the policy: a signed document skipped or blocked, a file
/// blocked for what it holds, an analysis without a copy, or the sanitized copy.
fn decide(
    sample: &Sample<'_>,
    context: &ScanContext,
    format: Format,
    rebuilt: Rebuilt,
) -> Result<Finding, EngineError> {
    let policy = &context.cdr;
    let items = rebuilt.removals.items();
    if rebuilt.signed && policy.signed != SignedDocuments::Sanitize {
        let reason = "the document is digitally signed, and a rebuild would break its signature";
        if policy.signed == SignedDocuments::Block {
            return Ok(blocked(vec!["Digitally signed document".into()], items));
        }
        return Ok(finding(
            ScanResult::NoThreatDetected,
            SanitizationDetails::skipped(reason),
            Vec::new(),
        ));
    }
    let blocking: Vec<String> = rebuilt
        .removals
        .kinds()
        .filter(|kind| policy.block_on.contains(kind))
        .map(|kind| format!("Contains {}", kind.name()))
        .chain(rebuilt.blocked)
        .collect();
    if !blocking.is_empty() {
        return Ok(blocked(blocking, items));
    }
    let removed = rebuilt.removals.removed();
    if policy.analysis_only {
        let details = SanitizationDetails {
            description: format!(
                "analysis only: {removed} objects would be removed; no sanitized copy was written"
            ),
            details: items,
            result: SanitizationResult::Skipped,
            ..SanitizationDetails::default()
        };
        return Ok(finding(ScanResult::NoThreatDetected, details, Vec::new()));
    }
    let dir = context.output_dir()?;
    let extension = format.extension(sample.display_name, policy);
    let path = dir.join(format!("sanitized.{extension}"));
    let mut file = std::fs::File::create_new(&path)?;
    file.write_all(&rebuilt.bytes)?;
    file.sync_all()?;
    let mut description = if removed == 0 {
        format!("{} rebuilt; nothing needed removing", format.label())
    } else {
        format!("{} rebuilt; {removed} objects removed", format.label())
    };
    if !rebuilt.partial.is_empty() {
        description.push_str("; not sanitized: ");
        description.push_str(&rebuilt.partial.join("; "));
    }
    let details = SanitizationDetails {
        description,
        details: items,
        result: SanitizationResult::Sanitized,
        partial: !rebuilt.partial.is_empty(),
        sanitized_file_info: Some(SanitizedFileInfo {
            file_size: rebuilt.bytes.len() as u64,
            sha256: hex::encode(sha2::Sha256::digest(&rebuilt.bytes)),
        }),
        ..SanitizationDetails::default()
    };
    let output = OutputFile {
        kind: OutputKind::Sanitized,
        name: policy.output_name_for(sample.display_name, &extension),
        path,
    };
    Ok(finding(ScanResult::NoThreatDetected, details, vec![output]))
}

/// A file the policy blocks for what it holds (Blocked Verdict by Deep CDR, 30): no copy.
fn blocked(explanations: Vec<String>, items: Vec<palisade_model::SanitizedObject>) -> Finding {
    let details = SanitizationDetails {
        description: format!("blocked: {}", explanations.join("; ")),
        details: items,
        result: SanitizationResult::Skipped,
        verdict: CdrVerdict::Blocked,
        verdict_explanations: explanations.clone(),
        ..SanitizationDetails::default()
    };
    let mut finding = finding(ScanResult::BlockedVerdictByDeepCdr, details, Vec::new());
    finding.threat_found = explanations.join("; ");
    finding
}

fn finding(result: ScanResult, details: SanitizationDetails, outputs: Vec<OutputFile>) -> Finding {
    Finding {
        result,
        threat_found: String::new(),
        section: Section::Sanitization(Box::new(details)),
        outputs,
    }
}
