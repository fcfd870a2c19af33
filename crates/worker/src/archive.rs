//! Archives in the worker: after its own engines, an archive is extracted under the
//! submission's budget, its members stored and queued as jobs of their own (`expand`), and when
//! the last member is final the archive comes back to be finished from its members' results.

use std::path::PathBuf;
use std::sync::Arc;

use palisade_extract::{Allowance, Budget, BudgetLimits, Extractor, Format, Limit, Opener, Terms};
use palisade_metastore::{JobRecord, Metastore, NewJob};
use palisade_model::{
    DataId, ExtractionInfo, FileReport, Millis, OutputRecord, ScanResult, now_millis,
};
use palisade_pipeline::{ArchiveOutcome, VerdictPolicy, archive_report};
use palisade_service::{ArchiveSettings, Service};
use serde::{Deserialize, Serialize};

/// What an archive keeps while its members run.
#[derive(Serialize, Deserialize)]
struct Partial {
    report: FileReport,
    info: ExtractionInfo,
    problem: Option<i32>,
    /// The archive's own outputs (already in the blob store), recorded when it completes.
    #[serde(default)]
    outputs: Vec<OutputRecord>,
}

/// What to do with a job after its engines ran.
pub(crate) enum Next {
    /// Store this final report.
    Final(Box<FileReport>),
    /// The members were queued; the archive waits for them.
    Waiting,
}

fn limit_result(limit: Limit) -> ScanResult {
    match limit {
        Limit::Depth => ScanResult::ExceededArchiveDepth,
        Limit::Size => ScanResult::ExceededArchiveSize,
        Limit::FileNumber => ScanResult::ExceededArchiveFileNumber,
        Limit::Timeout => ScanResult::ExceededArchiveTimeout,
    }
}

/// The submission's extraction account, kept on its root job so every worker and node shares it.
struct StoreBudget {
    runtime: tokio::runtime::Handle,
    metastore: Metastore,
    root_id: String,
    settings: ArchiveSettings,
    /// Bytes the submission's members may take in all ([`ArchiveSettings::bytes_allowed`]).
    max_bytes: u64,
    deadline: Millis,
    /// Bytes charged to the store but not yet written.
    allowance: Allowance,
}

/// Bytes charged to the shared account at a time.
const CHARGE_BYTES: u64 = 4 << 20;

impl StoreBudget {
    fn charge(&self, bytes: u64, members: u64) -> bool {
        let store = self.metastore.clone();
        let root = self.root_id.clone();
        let (max_bytes, max_members) = (self.max_bytes, self.settings.max_members);
        self.runtime
            .block_on(async move {
                store
                    .charge_extraction(&root, bytes, members, max_bytes, max_members)
                    .await
            })
            .unwrap_or(false)
    }
}

impl StoreBudget {
    /// Gives back to the account what was charged ahead and not written, so that archives
    /// nested or side by side do not use up the account with allowances.
    fn refund_unused(&self) {
        let unused = self.allowance.unused();
        if unused == 0 {
            return;
        }
        let store = self.metastore.clone();
        let root = self.root_id.clone();
        let refunded = self
            .runtime
            .block_on(async move { store.refund_extraction(&root, unused).await });
        if let Err(error) = refunded {
            tracing::warn!(root = %self.root_id, %error, "an unused extraction allowance was not refunded");
        }
    }
}

impl Budget for StoreBudget {
    fn take_member(&self) -> Result<(), Limit> {
        if self.charge(0, 1) {
            Ok(())
        } else {
            Err(Limit::FileNumber)
        }
    }

    fn take_bytes(&self, bytes: u64) -> Result<(), Limit> {
        if self.allowance.take(bytes, |ahead| self.charge(ahead, 0)) {
            Ok(())
        } else {
            Err(Limit::Size)
        }
    }

    fn terms(&self) -> Terms {
        let deadline = u64::try_from(self.deadline).unwrap_or(0);
        Terms {
            deadline: std::time::UNIX_EPOCH + std::time::Duration::from_millis(deadline),
            max_ratio: self.settings.max_ratio,
            ratio_floor: BudgetLimits::default().ratio_floor,
        }
    }

    fn check_time(&self) -> Result<(), Limit> {
        if now_millis() > self.deadline {
            Err(Limit::Timeout)
        } else {
            Ok(())
        }
    }
}

/// Members extracted and stored, ready to be queued.
struct Extracted {
    children: Vec<NewJob>,
    info: ExtractionInfo,
    problem: Option<ScanResult>,
}

/// Opens `path` if it is an archive the rule lets us open; otherwise the report stands.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn after_engines(
    service: &Service,
    slots: &tokio::sync::Semaphore,
    opener: &Arc<dyn Opener>,
    scratch: &std::path::Path,
    owner: &str,
    record: &JobRecord,
    settings: &ArchiveSettings,
    policy: &VerdictPolicy,
    path: PathBuf,
    report: FileReport,
    outputs: &[OutputRecord],
) -> Next {
    if !settings.extract {
        return Next::Final(Box::new(report));
    }
    let Some(looking) = what_to_look_for(&record.job) else {
        return Next::Final(Box::new(report));
    };
    let probe = path.clone();
    let opening = tokio::task::spawn_blocking(move || what_to_open(looking, &probe))
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    let Some((format, document)) = opening else {
        return Next::Final(Box::new(report));
    };
    let start = record.start_ts.unwrap_or_else(now_millis);
    // The archive's report, final now, from its own analysis and what extraction came to.
    let final_now = |report, outcome: ArchiveOutcome| {
        Next::Final(Box::new(archive_report(
            report,
            &outcome,
            policy,
            start,
            now_millis(),
        )))
    };
    // A document below the depth limit is not searched for what it embeds (most embed
    // nothing, and an archive's depth problem would be wrong for them).
    if record.job.depth >= settings.max_depth && document {
        return Next::Final(Box::new(report));
    }
    if record.job.depth >= settings.max_depth {
        let outcome = ArchiveOutcome {
            problem: Some(ScanResult::ExceededArchiveDepth),
            info: ExtractionInfo {
                err_category: "limit".into(),
                err_details: format!("nested deeper than {} archives", settings.max_depth),
                ..ExtractionInfo::default()
            },
            ..ArchiveOutcome::default()
        };
        return final_now(report, outcome);
    }
    let extracted = {
        let _slot = slots.acquire().await;
        extract(service, opener, record, settings, format, path, scratch).await
    };
    let unread = matches!(extracted.problem, None | Some(ScanResult::ExtractionFailed));
    if extracted.children.is_empty() && document && unread {
        return Next::Final(Box::new(document_without_members(report, extracted)));
    }
    if extracted.children.is_empty() {
        let outcome = ArchiveOutcome {
            info: extracted.info,
            problem: extracted.problem,
            ..ArchiveOutcome::default()
        };
        return final_now(report, outcome);
    }
    let partial = Partial {
        report: report.clone(),
        info: extracted.info,
        problem: extracted.problem.map(ScanResult::code),
        outputs: outputs.to_vec(),
    };
    let partial = match serde_json::to_string(&partial) {
        Ok(partial) => partial,
        Err(error) => {
            return final_now(report, unstorable(&error.to_string()));
        }
    };
    match service
        .metastore()
        .expand(
            owner,
            &record.job.data_id,
            &partial,
            &extracted.children,
            now_millis(),
        )
        .await
    {
        Ok(true) => {
            let members = u64::try_from(extracted.children.len()).unwrap_or(u64::MAX);
            service.metrics().members_extracted(members);
            Next::Waiting
        }
        // The lease was lost (cancelled, or taken over): nothing more to do here.
        Ok(false) => Next::Waiting,
        Err(error) => {
            tracing::error!(data_id = %record.job.data_id, %error, "queueing archive members failed");
            Next::Waiting
        }
    }
}

/// What a file may be opened for, from what upload found it to be (no I/O).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Looking {
    /// An archive or mail: opened as a container.
    Container,
    /// A document: opened for the files it embeds; `html` also for `data:` URIs.
    Document { html: bool },
}

/// Files identified as archives or mail at upload are opened as such; documents (PDF, RTF,
/// Office files) and HTML for the files they embed only, so a docx is never opened as the
/// zip it is. Other files (plain text, images, executables without an installer) are not
/// looked at again.
fn what_to_look_for(job: &palisade_model::NewJob) -> Option<Looking> {
    let has = |letter: &str| job.type_category.iter().any(|c| c == letter);
    if has("A") || has("Z") {
        return Some(Looking::Container);
    }
    let name = job.display_name.to_ascii_lowercase();
    let html = has("T")
        && (matches!(
            job.file_type.as_str(),
            "text/html" | "application/xhtml+xml" | "image/svg+xml"
        ) || [".htm", ".html", ".xhtml", ".hta", ".svg"]
            .iter()
            .any(|suffix| name.ends_with(suffix)));
    (has("D") || has("P") || html).then_some(Looking::Document { html })
}

/// What to open `path` as, and whether it is a document opened for the files it embeds.
fn what_to_open(
    looking: Looking,
    path: &std::path::Path,
) -> std::io::Result<Option<(Format, bool)>> {
    match looking {
        Looking::Container => {
            Ok(palisade_extract::detect_file(path)?.map(|format| (format, false)))
        }
        Looking::Document { html } => {
            Ok(palisade_extract::detect_document(path, html)?.map(|format| (format, true)))
        }
    }
}

/// A document's report when nothing embedded was extracted: as it was when it embeds nothing.
/// When its embedded files could not be read (a damaged or encrypted document), the report
/// says so in `extraction_info`, and the verdict stays the engines': they analysed the file.
/// (A limit that stopped extraction decides as for archives; the caller sees to that.)
fn document_without_members(mut report: FileReport, extracted: Extracted) -> FileReport {
    if extracted.problem.is_some() {
        report.extraction_info = Some(ExtractionInfo {
            err_details: format!(
                "embedded files could not be looked for: {}",
                extracted.info.err_details
            ),
            ..extracted.info
        });
    }
    report
}

/// The outcome of an archive whose state could not be stored for its members: Failed with the
/// reason, never the archive's own report passed off as if it had no members.
fn unstorable(error: &str) -> ArchiveOutcome {
    ArchiveOutcome {
        problem: Some(ScanResult::Failed),
        info: ExtractionInfo {
            err_category: "extraction".into(),
            err_details: format!("archive state could not be stored: {error}"),
            ..ExtractionInfo::default()
        },
        ..ArchiveOutcome::default()
    }
}

async fn extract(
    service: &Service,
    opener: &Arc<dyn Opener>,
    record: &JobRecord,
    settings: &ArchiveSettings,
    format: Format,
    path: PathBuf,
    scratch_root: &std::path::Path,
) -> Extracted {
    let job = record.job.clone();
    // The expansion account is the whole submission's: what its top file's size allows.
    let submitted = match &job.root_id {
        None => job.size,
        Some(root) => match service.metastore().job(root).await {
            Ok(Some(root)) => root.job.size,
            _ => job.size,
        },
    };
    let max_bytes = settings.bytes_allowed(submitted);
    let max_ratio = settings.max_ratio;
    let budget = StoreBudget {
        max_bytes,
        runtime: tokio::runtime::Handle::current(),
        metastore: service.metastore().clone(),
        root_id: job.root_id.clone().unwrap_or_else(|| job.data_id.clone()),
        settings: settings.clone(),
        deadline: job.receive_ts + i64::try_from(settings.max_time.as_millis()).unwrap_or(i64::MAX),
        allowance: Allowance::new(CHARGE_BYTES),
    };
    let opener = opener.clone();
    let blobs = service.blobs().clone();
    let passwords: Vec<String> = job
        .archive_passwords
        .iter()
        .chain(&settings.passwords)
        .cloned()
        .collect();
    let scratch_root = scratch_root.to_path_buf();
    let work = tokio::task::spawn_blocking(move || -> Extracted {
        let failed = |details: String| Extracted {
            children: Vec::new(),
            info: ExtractionInfo {
                err_category: "extraction".into(),
                err_details: details,
                ..ExtractionInfo::default()
            },
            problem: Some(ScanResult::ExtractionFailed),
        };
        let scratch = match tempfile::Builder::new()
            .prefix("extract-")
            .tempdir_in(&scratch_root)
        {
            Ok(dir) => dir,
            Err(error) => return failed(format!("no scratch space: {error}")),
        };
        let extractor = Extractor {
            out_dir: scratch.path(),
            passwords: &passwords,
            budget: &budget,
            display_name: &job.display_name,
        };
        let opened = opener.open(&extractor, &path, format);
        budget.refund_unused();
        let outcome = match opened {
            Ok(outcome) => outcome,
            Err(error) => return failed(error.to_string()),
        };
        let mut info = ExtractionInfo {
            is_encrypted_file: outcome.encrypted,
            ..ExtractionInfo::default()
        };
        let mut problem = None;
        match outcome.decrypted {
            Some(true) => info.decrypted_status = "Success".into(),
            Some(false) => {
                info.decrypted_status = "Failed".into();
                problem = Some(ScanResult::EncryptedArchive);
            }
            None => {}
        }
        // An entry its decoder could not read was not scanned: the archive is not clean.
        let undecoded = outcome.undecoded();
        if !undecoded.is_empty() {
            problem = Some(ScanResult::ExtractionFailed);
            info.err_category = "extraction".into();
            info.err_details = format!(
                "{} entries could not be decoded: {}",
                undecoded.len(),
                undecoded.join(", ")
            );
        }
        if let Some(limit) = outcome.stopped {
            problem = Some(limit_result(limit));
            info.err_category = "limit".into();
            info.err_details = match limit {
                Limit::Size => format!(
                    "extraction stopped: {} (this submission's members may take {max_bytes} \
                     bytes in all, and one member may expand {} times its packed size)",
                    limit_result(limit).text(),
                    max_ratio
                ),
                _ => format!("extraction stopped: {}", limit_result(limit).text()),
            };
        }
        let now = now_millis();
        let root = job.root_id.clone().unwrap_or_else(|| job.data_id.clone());
        // Members are stored, and synced, together before any of their jobs exists.
        let paths: Vec<&std::path::Path> =
            outcome.members.iter().map(|m| m.path.as_path()).collect();
        let stored = match blobs.store_files(&paths) {
            Ok(stored) => stored,
            Err((index, error)) => {
                let name = outcome
                    .members
                    .get(index)
                    .map_or("a member", |m| m.name.as_str());
                return failed(format!("storing {name} failed: {error}"));
            }
        };
        let mut children = Vec::with_capacity(outcome.members.len());
        for (member, stored) in outcome.members.iter().zip(stored) {
            let sample = palisade_pipeline::Sample {
                path: &member.path,
                size: stored.size,
                display_name: &member.name,
                hashes: &stored.hashes,
            };
            let file_type = palisade_engine_filetype::identify(&sample).unwrap_or_default();
            children.push(NewJob {
                data_id: DataId::generate().as_str().to_string(),
                hashes: stored.hashes,
                size: stored.size,
                display_name: member.name.clone(),
                file_type: file_type.mime_type,
                file_type_description: file_type.description,
                type_category: file_type.type_category,
                rule: job.rule.clone(),
                user_agent: job.user_agent.clone(),
                username: job.username.clone(),
                metadata: String::new(),
                batch_id: None,
                parent_id: Some(job.data_id.clone()),
                root_id: Some(root.clone()),
                depth: job.depth + 1,
                archive_index: Some(member.index),
                archive_passwords: job.archive_passwords.clone(),
                callback_url: String::new(),
                global_timeout_ms: job.global_timeout_ms,
                receive_ts: job.receive_ts,
                upload_ts: now,
                hash_time: stored.hash_time_ms,
            });
        }
        Extracted {
            children,
            info,
            problem,
        }
    });
    match work.await {
        Ok(extracted) => extracted,
        Err(error) => Extracted {
            children: Vec::new(),
            info: ExtractionInfo {
                err_category: "extraction".into(),
                err_details: format!("extraction crashed: {error}"),
                ..ExtractionInfo::default()
            },
            problem: Some(ScanResult::ExtractionFailed),
        },
    }
}

/// Finishes an archive whose members are all final.
pub(crate) async fn finish(
    service: &Service,
    record: &JobRecord,
    partial: &str,
    policy: &VerdictPolicy,
) -> Option<(FileReport, Vec<OutputRecord>)> {
    let partial: Partial = match serde_json::from_str(partial) {
        Ok(partial) => partial,
        Err(error) => {
            tracing::error!(data_id = %record.job.data_id, %error, "archive state unreadable");
            return None;
        }
    };
    let mut worst: Option<(String, ScanResult)> = None;
    let mut first = 0;
    let total = loop {
        let (total, page) = match service
            .metastore()
            .children(&record.job.data_id, first, 500)
            .await
        {
            Ok(page) => page,
            Err(error) => {
                tracing::warn!(%error, "reading archive members failed; retrying later");
                return None;
            }
        };
        for member in &page {
            let result = member
                .result_i
                .and_then(ScanResult::from_code)
                .unwrap_or(ScanResult::Failed);
            if worst
                .as_ref()
                .is_none_or(|(_, current)| result.severity() > current.severity())
            {
                worst = Some((member.job.data_id.clone(), result));
            }
        }
        first += page.len() as u64;
        if page.is_empty() || first >= total {
            break total;
        }
    };
    // Point at the file that carries the problem: through nested archives, down to it.
    if let Some((id, result)) = worst.as_mut()
        && !result.is_clean()
        && let Ok(Some(member)) = service.metastore().job(id).await
        && let Some(text) = member.report.as_deref()
        && let Ok(report) = serde_json::from_str::<FileReport>(text)
        && let Some(files) = report.extracted_files
        && !files.worst_data_id.is_empty()
        && report
            .extraction_info
            .as_ref()
            .is_none_or(|i| i.err_code == 0)
        && ScanResult::from_code(report.scan_results.scan_all_result_i) == Some(*result)
    {
        *id = files.worst_data_id;
    }
    let outcome = ArchiveOutcome {
        info: partial.info,
        problem: partial.problem.and_then(ScanResult::from_code),
        members: total,
        worst,
    };
    let start = record.start_ts.unwrap_or_else(now_millis);
    let report = archive_report(partial.report, &outcome, policy, start, now_millis());
    Some((report, partial.outputs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_and_mail_are_containers_documents_and_html_are_searched_and_the_rest_is_not() {
        let job = |categories: &[&str], file_type: &str, name: &str| palisade_model::NewJob {
            type_category: categories.iter().map(|c| c.to_string()).collect(),
            file_type: file_type.into(),
            display_name: name.into(),
            ..palisade_model::NewJob::default()
        };
        let cases = [
            (
                job(&["A"], "application/zip", "a.zip"),
                Some(Looking::Container),
            ),
            (job(&["E", "A"], "", "setup.exe"), Some(Looking::Container)),
            (
                job(&["Z"], "message/rfc822", "m.eml"),
                Some(Looking::Container),
            ),
            (
                job(&["D"], "", "r.docx"),
                Some(Looking::Document { html: false }),
            ),
            (
                job(&["P"], "application/pdf", "r.pdf"),
                Some(Looking::Document { html: false }),
            ),
            (
                job(&["T"], "text/html", "page"),
                Some(Looking::Document { html: true }),
            ),
            (
                job(&["T"], "text/plain", "page.HTML"),
                Some(Looking::Document { html: true }),
            ),
            (job(&["T"], "text/plain", "notes.txt"), None),
            (job(&["E"], "", "tool.exe"), None),
            (job(&["G"], "image/png", "a.png"), None),
        ];
        for (job, expected) in cases {
            assert_eq!(what_to_look_for(&job), expected, "{:?}", job.display_name);
        }
    }

    #[test]
    fn an_archive_whose_state_cannot_be_stored_ends_failed_not_clean() {
        // The archive's own engines found nothing; its members were extracted but cannot be queued.
        let own = FileReport::default();
        let report = archive_report(
            own,
            &unstorable("key must be a string"),
            &VerdictPolicy::default(),
            0,
            10,
        );
        assert_eq!(
            report.scan_results.scan_all_result_i,
            ScanResult::Failed.code()
        );
        assert_eq!(
            report.process_info.result,
            palisade_model::ProcessResult::Blocked
        );
        let info = report
            .extraction_info
            .expect("the report says what happened");
        assert_eq!(
            info.err_details,
            "archive state could not be stored: key must be a string"
        );
    }
}
