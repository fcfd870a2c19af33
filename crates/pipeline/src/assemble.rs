//! From engine runs to one report: per-engine details, the main result, verdicts and the block decision.

use palisade_model::{
    EngineDetail, FileInfo, FileReport, Millis, ProcessInfo, ProcessResult, ScanResult,
    ScanResults, format_timestamp,
};

use crate::{EngineRun, Finding, RunOutcome, Section, Stage};

/// What is known about the file independent of engines: identity, submission and timing.
#[derive(Clone, Debug, Default)]
pub struct ReportContext {
    pub data_id: String,
    pub file_info: FileInfo,
    pub profile: String,
    pub user_agent: String,
    pub username: String,
    pub metadata: String,
    pub batch_id: String,
    pub upload_ts: Millis,
    pub start_ts: Option<Millis>,
    pub hash_time: i64,
    /// Engines that appear in `scan_details`: [`crate::Plan::total_avs`], before the engines
    /// run and after.
    pub total_avs: u32,
}

/// Which results let a file through; everything else blocks it.
#[derive(Clone, Debug)]
pub struct VerdictPolicy {
    pub allowed: Vec<ScanResult>,
    /// Antivirus engines that must detect (Infected or Suspicious) before their detections
    /// decide the result and block the file; fewer are listed but do not block.
    pub av_detections_to_block: usize,
}

impl Default for VerdictPolicy {
    fn default() -> Self {
        Self {
            allowed: vec![
                ScanResult::NoThreatDetected,
                ScanResult::Whitelisted,
                ScanResult::KnownGood,
                ScanResult::Unknown,
            ],
            av_detections_to_block: 1,
        }
    }
}

impl VerdictPolicy {
    pub fn blocks(&self, result: ScanResult) -> bool {
        !self.allowed.contains(&result)
    }
}

fn base_report(context: &ReportContext) -> FileReport {
    let mut file_info = context.file_info.clone();
    if file_info.upload_timestamp.is_empty() {
        file_info.upload_timestamp = format_timestamp(context.upload_ts);
    }
    FileReport {
        data_id: context.data_id.clone(),
        file_info,
        process_info: ProcessInfo {
            profile: context.profile.clone(),
            user_agent: context.user_agent.clone(),
            username: context.username.clone(),
            hash_time: context.hash_time,
            ..ProcessInfo::default()
        },
        scan_results: ScanResults {
            data_id: context.data_id.clone(),
            start_time: context.start_ts.map(format_timestamp).unwrap_or_default(),
            total_avs: context.total_avs,
            ..ScanResults::default()
        },
        metadata: context.metadata.clone(),
        batch_id: context.batch_id.clone(),
        ..FileReport::default()
    }
}

/// The report served while a file waits or runs: "Processing", 255 "In Progress", both progress fields equal.
pub fn in_progress_report(context: &ReportContext, progress: u32, now: Millis) -> FileReport {
    let mut report = base_report(context);
    let progress = progress.min(99);
    report.process_info.result = ProcessResult::Processing;
    report.process_info.progress_percentage = progress;
    report.scan_results.progress_percentage = progress;
    report.scan_results.scan_all_result_i = ScanResult::InProgress.code();
    report.scan_results.scan_all_result_a = ScanResult::InProgress.text().into();
    match context.start_ts {
        Some(start) => {
            report.process_info.queue_time = (start - context.upload_ts).max(0);
            report.scan_results.total_time = (now - start).max(0);
        }
        None => report.process_info.queue_time = (now - context.upload_ts).max(0),
    }
    report
}

/// A final report decided without engines: Cancelled, or Failed after too many attempts.
pub fn terminal_report(
    context: &ReportContext,
    result: ScanResult,
    reason: &str,
    policy: &VerdictPolicy,
    now: Millis,
) -> FileReport {
    let mut report = base_report(context);
    finish(&mut report, context, now);
    report.scan_results.scan_all_result_i = result.code();
    report.scan_results.scan_all_result_a = result.text().into();
    report.process_info.verdicts = vec![result.text().into()];
    report.process_info.blocked_reasons = if policy.blocks(result) {
        vec![result.text().into()]
    } else {
        Vec::new()
    };
    decide(&mut report.process_info, result, policy);
    report.process_info.outdated_data = Vec::new();
    if !reason.is_empty() {
        report.process_info.verdicts.push(reason.to_string());
    }
    report
}

/// The one Allowed/Blocked decision of a final report: Blocked when the policy blocks the main
/// result (which is then the reason), else when another verdict blocks (the first of
/// `blocked_reasons`, which the caller has filled); otherwise Allowed.
fn decide(info: &mut palisade_model::ProcessInfo, main: ScanResult, policy: &VerdictPolicy) {
    if policy.blocks(main) {
        info.result = ProcessResult::Blocked;
        info.blocked_reason = main.text().into();
    } else if let Some(first) = info.blocked_reasons.first() {
        info.result = ProcessResult::Blocked;
        info.blocked_reason = first.clone();
    } else {
        info.result = ProcessResult::Allowed;
    }
}

fn finish(report: &mut FileReport, context: &ReportContext, now: Millis) {
    let start = context.start_ts.unwrap_or(now);
    report.process_info.progress_percentage = 100;
    report.scan_results.progress_percentage = 100;
    report.process_info.queue_time = (start - context.upload_ts).max(0);
    report.process_info.processing_time = (now - start).max(0);
    report.scan_results.total_time = (now - start).max(0);
    if report.scan_results.start_time.is_empty() {
        report.scan_results.start_time = format_timestamp(start);
    }
}

/// Builds the final report from every engine's run.
///
/// The main result is that of the earliest stage of the flow with a finding; within a stage the
/// worst run wins (Infected > Suspicious > Failed / Not Scanned > clean). Every finding is listed
/// in `verdicts`; the policy decides which block the file.
pub fn assemble_report(
    context: &ReportContext,
    runs: &[EngineRun],
    policy: &VerdictPolicy,
    now: Millis,
) -> FileReport {
    let mut report = base_report(context);
    finish(&mut report, context, now);

    let mut ordered: Vec<&EngineRun> = runs.iter().collect();
    ordered.sort_by_key(|run| run.descriptor.stage);

    let av_detections = ordered
        .iter()
        .filter(|run| run.descriptor.stage == Stage::Antivirus && run.result().is_detection())
        .count();
    // Too few antivirus engines agree: their detections are reported but decide nothing.
    let below_threshold = av_detections < policy.av_detections_to_block.max(1);
    let mut undecisive: Vec<ScanResult> = Vec::new();
    let mut main: Option<(Stage, ScanResult)> = None;
    let mut trusted: Option<ScanResult> = None;
    let mut notes: Vec<String> = Vec::new();
    let mut verdicts: Vec<ScanResult> = Vec::new();
    let details = &mut report.process_info.processing_time_details;
    for run in &ordered {
        let result = run.result();
        match run.descriptor.stage {
            Stage::FileType => details.filetype_time += run.scan_time_ms,
            Stage::Yara => details.yara_time += run.scan_time_ms,
            Stage::Antivirus | Stage::Reputation | Stage::Lists => {
                details.av_scan_time += run.scan_time_ms
            }
            Stage::Extraction => details.extraction_time += run.scan_time_ms,
            Stage::Dlp => details.dlp_time += run.scan_time_ms,
            Stage::Cdr => details.cdr_time += run.scan_time_ms,
            Stage::Vulnerability => details.vul_time += run.scan_time_ms,
        }
        if matches!(result, ScanResult::Whitelisted | ScanResult::KnownGood) {
            trusted = Some(trusted.map_or(result, |t| {
                if t == ScanResult::Whitelisted {
                    t
                } else {
                    result
                }
            }));
        }
        if !run.descriptor.in_scan_details
            && let RunOutcome::Finished(finding) = &run.outcome
            && !finding.threat_found.is_empty()
        {
            // Hash lists name what they matched; nowhere else in the report can show it.
            notes.push(format!("{}: {}", result.text(), finding.threat_found));
        }
        if let Some(kind) = run.descriptor.produces
            && run.descriptor.post_processing()
            && !run.descriptor.in_scan_details
            && !matches!(&run.outcome, RunOutcome::Finished(f) if f.outputs.iter().any(|o| o.kind == kind))
        {
            // A step that made no copy says why (it is not in scan_details).
            let why = match &run.outcome {
                RunOutcome::Finished(_) => "no copy was produced".to_string(),
                _ => run.threat_found(),
            };
            notes.push(format!("{} failed: {why}", kind.step()));
        }
        if run.descriptor.stage == Stage::Antivirus && below_threshold && result.is_detection() {
            if !verdicts.contains(&result) {
                verdicts.push(result);
            }
            undecisive.push(result);
        } else if !result.is_clean() {
            if !verdicts.contains(&result) {
                verdicts.push(result);
            }
            main = match main {
                None => Some((run.descriptor.stage, result)),
                Some((stage, current))
                    if stage == run.descriptor.stage && result.severity() > current.severity() =>
                {
                    Some((stage, result))
                }
                keep => keep,
            };
        }
        if run.descriptor.in_scan_details {
            report.scan_results.scan_details.insert(
                run.descriptor.name.clone(),
                EngineDetail {
                    def_time: run.def_time.clone(),
                    eng_id: run.descriptor.id.clone(),
                    location: "local".into(),
                    scan_result_i: result.code(),
                    scan_time: run.scan_time_ms,
                    threat_found: run.threat_found(),
                    wait_time: 0,
                },
            );
        }
        if let RunOutcome::Finished(finding) = &run.outcome {
            match &finding.section {
                Section::None => {}
                Section::FileType(file_type) => {
                    report.file_info.file_type = file_type.mime_type.clone();
                    report.file_info.file_type_description = file_type.description.clone();
                    report.file_info.type_category = file_type.type_category.clone();
                    report.filetype_info = Some(file_type.info.clone());
                }
                Section::Yara(yara) => report.yara = Some(yara.clone()),
                // Written with the rest of post_processing below.
                Section::Sanitization(_) => {}
                Section::Dlp(_) => {}
            }
        }
        if let Some(info) = dlp_account(run) {
            report.dlp_info = Some(info);
        }
    }

    // Nothing wrong found: an allow-list or known-good match is the decisive answer.
    if main.is_none()
        && let Some(result) = trusted
    {
        verdicts.insert(0, result);
    }
    let main_result = main
        .map(|(_, result)| result)
        .or(trusted)
        .unwrap_or(ScanResult::NoThreatDetected);
    report.scan_results.scan_all_result_i = main_result.code();
    report.scan_results.scan_all_result_a = main_result.text().into();
    report.process_info.verdicts = verdicts.iter().map(|r| r.text().to_string()).collect();
    report.process_info.verdicts.extend(notes);
    report.process_info.blocked_reasons = verdicts
        .iter()
        .filter(|r| policy.blocks(**r) && !undecisive.contains(r))
        .map(|r| r.text().to_string())
        .collect();
    decide(&mut report.process_info, main_result, policy);
    record_post_processing(&mut report.process_info.post_processing, &ordered);
    report
}

/// Whether these runs block the file: the verdict the post-processing steps wait for.
pub fn verdict_blocks(runs: &[EngineRun], policy: &VerdictPolicy) -> bool {
    let report = assemble_report(&ReportContext::default(), runs, policy, 0);
    report.process_info.result == ProcessResult::Blocked
}

/// `post_processing`: each post-processing step that produced its copy is in `actions_ran`,
/// each that did not in `actions_failed` (never reported as done when it was not); the
/// sanitized copy's name is `converted_destination`, its extension `converted_to`. A
/// sanitization step's own account ([`Section::Sanitization`]) names what it did (Sanitized,
/// Sanitized Partially, Sanitization Skipped or Failed or Timed Out) and becomes
/// `sanitization_details`; a sanitization step that ended without one (it crashed, or ran out
/// of time) is reported failed with the reason.
fn record_post_processing(post: &mut palisade_model::PostProcessing, runs: &[&EngineRun]) {
    let mut ran: Vec<&str> = Vec::new();
    let mut failed: Vec<&str> = Vec::new();
    for run in runs {
        let Some(kind) = run.descriptor.produces else {
            continue;
        };
        let produced = match &run.outcome {
            RunOutcome::Finished(finding) => finding.outputs.iter().find(|o| o.kind == kind),
            _ => None,
        };
        // DLP makes a copy only when its rule asks and it found something to redact; it says
        // in `dlp_info.redact` whether it did.
        if run.descriptor.kind == palisade_model::EngineKind::Dlp
            && produced.is_none()
            && dlp_account(run).is_none_or(|info| {
                info.redact.result != palisade_model::RedactResult::FailedToRedact
            })
        {
            continue;
        }
        if let Some(output) = produced
            && kind == palisade_model::OutputKind::Sanitized
        {
            post.converted_destination = output.name.clone();
            post.converted_to = output
                .name
                .rsplit_once('.')
                .map(|(_, ext)| ext.to_ascii_lowercase())
                .unwrap_or_default();
        }
        if let Some(mut details) = sanitization_account(run) {
            details.cdr_wait_time = run.scan_time_ms;
            let (action, is_failure) = details.action();
            if is_failure { &mut failed } else { &mut ran }.push(action);
            post.sanitization_details = Some(details);
            continue;
        }
        match produced {
            Some(_) => ran.push(kind.action()),
            None => failed.push(kind.step_failed()),
        }
    }
    post.actions_ran = ran.join("|");
    post.actions_failed = failed.join("|");
}

/// Takes back the copies the runs made, for a file that may not have any (see
/// [`crate::Plan::copies_allowed`]): a DLP run's report then says its copy was not kept, and
/// why.
pub fn withhold_copies(runs: &mut [EngineRun], why: &str) {
    use palisade_model::RedactResult;
    for run in runs {
        let RunOutcome::Finished(finding) = &mut run.outcome else {
            continue;
        };
        finding.outputs.clear();
        if let Section::Dlp(info) = &mut finding.section
            && info.redact.result == RedactResult::Redacted
        {
            info.redact.result = RedactResult::NotRedacted;
            info.metadata_removal.result = palisade_model::MetadataRemovalResult::NotRemoved;
            info.filename.clear();
            info.errors.insert(
                "redact".into(),
                format!("the redacted copy was not kept: {why}"),
            );
            for hit in info.hits.values_mut().flat_map(|kind| kind.hits.iter_mut()) {
                hit.try_redact = false;
            }
        }
    }
}

/// What a Deep CDR run says it did, or for one that ended without saying (a crash, a time
/// out), its failure; `None` for other post-processing steps.
fn sanitization_account(run: &EngineRun) -> Option<palisade_model::SanitizationDetails> {
    use palisade_model::{FailureCategory, SanitizationDetails};
    if run.descriptor.kind != palisade_model::EngineKind::Cdr {
        return None;
    }
    Some(match &run.outcome {
        RunOutcome::Finished(Finding {
            section: Section::Sanitization(details),
            ..
        }) => (**details).clone(),
        RunOutcome::TimedOut(_) => {
            SanitizationDetails::failed(FailureCategory::TimedOut, run.threat_found())
        }
        RunOutcome::NotScanned(reason) if reason.contains("timed out") => {
            SanitizationDetails::failed(FailureCategory::TimedOut, run.threat_found())
        }
        _ => SanitizationDetails::failed(FailureCategory::FailedToSanitize, run.threat_found()),
    })
}

/// What a Proactive DLP run found, or for one that ended without saying (a parser crash, a
/// time out), `verdict` 3 (Failed) or 4 (Not scanned) with the reason in `errors.scan`;
/// `None` for other engines.
fn dlp_account(run: &EngineRun) -> Option<palisade_model::DlpInfo> {
    use palisade_model::{
        DlpInfo, DlpVerdict, MetadataRemovalResult, Outcome, RedactResult, WatermarkResult,
    };
    if run.descriptor.kind != palisade_model::EngineKind::Dlp {
        return None;
    }
    let verdict = match &run.outcome {
        RunOutcome::Finished(Finding {
            section: Section::Dlp(info),
            ..
        }) => return Some((**info).clone()),
        RunOutcome::NotScanned(_) | RunOutcome::TimedOut(_) => DlpVerdict::NotScanned,
        _ => DlpVerdict::Failed,
    };
    Some(DlpInfo {
        certainty: None,
        errors: [("scan".to_string(), run.threat_found())].into(),
        filename: String::new(),
        hits: Default::default(),
        metadata_removal: Outcome {
            result: MetadataRemovalResult::NotRemoved,
        },
        redact: Outcome {
            result: RedactResult::NotRedacted,
        },
        severity: 0,
        verdict,
        watermark: Outcome {
            result: WatermarkResult::NotAdded,
        },
    })
}

/// What extracting an archive and analysing its members came to.
#[derive(Clone, Debug, Default)]
pub struct ArchiveOutcome {
    pub info: palisade_model::ExtractionInfo,
    /// An extraction problem that decides the result: a limit (9, 13, 14, 16), an encrypted
    /// archive no password opened (12), or a damaged one (24).
    pub problem: Option<ScanResult>,
    pub members: u64,
    /// The member with the worst result, and that result.
    pub worst: Option<(String, ScanResult)>,
}

/// The main result of an archive, from its own result, its extraction problem and its worst
/// member's result.
///
/// A detection, on the archive itself or in any member, comes first: most clients read only
/// `scan_all_result_i` and must not see an extraction problem where there is malware. Then an
/// extraction problem (extraction is the earliest step of the flow). Otherwise the worse of the
/// archive's own result and its worst member's.
pub fn archive_result(
    own: ScanResult,
    problem: Option<ScanResult>,
    worst_member: Option<ScanResult>,
) -> ScanResult {
    let member = worst_member.filter(|member| !member.is_clean());
    let detection = match (own.is_detection(), member.filter(|m| m.is_detection())) {
        (true, Some(member)) if member.severity() > own.severity() => Some(member),
        (true, _) => Some(own),
        (false, member) => member,
    };
    match (detection, problem, member) {
        (Some(detection), _, _) => detection,
        (None, Some(problem), _) => problem,
        (None, None, Some(member)) if member.severity() > own.severity() => member,
        _ => own,
    }
}

/// Finishes an archive's report from its own analysis (`own`) and its members'. The main
/// result is [`archive_result`]'s; every finding is listed in `verdicts` and blocks as the
/// policy says, so a detection in any member blocks the archive and an extraction problem
/// still blocks when a detection outranks it.
pub fn archive_report(
    mut own: FileReport,
    outcome: &ArchiveOutcome,
    policy: &VerdictPolicy,
    start: Millis,
    now: Millis,
) -> FileReport {
    let own_result = ScanResult::from_code(own.scan_results.scan_all_result_i)
        .unwrap_or(ScanResult::NoThreatDetected);
    let worst_member = outcome
        .worst
        .as_ref()
        .filter(|(_, result)| !result.is_clean());
    let main = archive_result(
        own_result,
        outcome.problem,
        worst_member.map(|(_, result)| *result),
    );
    for extra in outcome.problem.iter().chain(worst_member.map(|(_, r)| r)) {
        let text = extra.text().to_string();
        if !own.process_info.verdicts.contains(&text) {
            own.process_info.verdicts.push(text.clone());
        }
        if policy.blocks(*extra) && !own.process_info.blocked_reasons.contains(&text) {
            own.process_info.blocked_reasons.push(text);
        }
    }
    own.scan_results.scan_all_result_i = main.code();
    own.scan_results.scan_all_result_a = main.text().into();
    decide(&mut own.process_info, main, policy);
    own.extraction_info = Some(outcome.info.clone());
    own.extracted_files = Some(palisade_model::ExtractedFiles {
        files_extracted_count: outcome.members,
        files_in_archive: Vec::new(),
        first_index: 0,
        page_size: 50,
        worst_data_id: worst_member.map(|(id, _)| id.clone()).unwrap_or_default(),
    });
    // The archive is finished when its last member is.
    own.process_info.processing_time = (now - start).max(0);
    own.scan_results.total_time = (now - start).max(0);
    own
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{EngineDescriptor, Finding};

    fn run(name: &str, stage: Stage, outcome: RunOutcome) -> EngineRun {
        EngineRun {
            descriptor: EngineDescriptor {
                id: name.to_lowercase(),
                name: name.into(),
                stage,
                in_scan_details: stage == Stage::Antivirus || stage == Stage::Yara,
                kind: palisade_model::EngineKind::ClamAv,
                produces: None,
            },
            def_time: "2026-01-01T00:00:00.000Z".into(),
            scan_time_ms: 3,
            outcome,
        }
    }

    fn found(result: ScanResult, threat: &str) -> RunOutcome {
        RunOutcome::Finished(Finding {
            result,
            threat_found: threat.into(),
            section: Section::None,
            outputs: Vec::new(),
        })
    }

    fn context() -> ReportContext {
        ReportContext {
            data_id: "d".into(),
            upload_ts: 1_000,
            start_ts: Some(1_500),
            total_avs: 1,
            ..ReportContext::default()
        }
    }

    /// A DLP run that found a card number, with what redacting it came to and its copy.
    fn dlp_run(redact: palisade_model::RedactResult, copy: bool) -> EngineRun {
        use palisade_model::{
            DlpInfo, DlpVerdict, MetadataRemovalResult, Outcome, WatermarkResult,
        };
        let info = DlpInfo {
            certainty: Some(palisade_model::Certainty::High),
            errors: Default::default(),
            filename: if copy { "a.txt".into() } else { String::new() },
            hits: Default::default(),
            metadata_removal: Outcome {
                result: MetadataRemovalResult::NotRemoved,
            },
            redact: Outcome { result: redact },
            severity: 0,
            verdict: DlpVerdict::Found,
            watermark: Outcome {
                result: WatermarkResult::NotAdded,
            },
        };
        let outputs = if copy {
            vec![crate::OutputFile {
                kind: palisade_model::OutputKind::Redacted,
                name: "a.txt".into(),
                path: "/out/copy".into(),
            }]
        } else {
            Vec::new()
        };
        let mut dlp = run(
            "Proactive DLP",
            Stage::Dlp,
            RunOutcome::Finished(Finding {
                result: ScanResult::SensitiveDataFound,
                threat_found: String::new(),
                section: Section::Dlp(Box::new(info)),
                outputs,
            }),
        );
        dlp.descriptor.kind = palisade_model::EngineKind::Dlp;
        dlp.descriptor.produces = Some(palisade_model::OutputKind::Redacted);
        dlp
    }

    #[test]
    fn redaction_is_reported_ran_failed_or_not_at_all_as_dlp_says_and_copies_can_be_withheld() {
        use palisade_model::RedactResult;
        let post = |run: EngineRun| {
            let report = assemble_report(&context(), &[run], &VerdictPolicy::default(), 2_000);
            let post = report.process_info.post_processing;
            assert!(
                !report
                    .process_info
                    .verdicts
                    .iter()
                    .any(|v| v.contains("Redaction")),
                "DLP's account is in dlp_info, not in verdicts"
            );
            (post.actions_ran, post.actions_failed)
        };
        let ran = dlp_run(RedactResult::Redacted, true);
        assert_eq!(post(ran.clone()), ("Redacted".into(), String::new()));
        let failed = dlp_run(RedactResult::FailedToRedact, false);
        assert_eq!(post(failed), (String::new(), "Redaction Failed".into()));
        let not_asked = dlp_run(RedactResult::NotRedacted, false);
        assert_eq!(post(not_asked), (String::new(), String::new()));

        let mut runs = [ran];
        withhold_copies(&mut runs, "the file is blocked for another verdict");
        let RunOutcome::Finished(finding) = &runs[0].outcome else {
            panic!("finished");
        };
        assert!(finding.outputs.is_empty());
        let Section::Dlp(info) = &finding.section else {
            panic!("a DLP section");
        };
        assert_eq!(info.redact.result, RedactResult::NotRedacted);
        assert_eq!(info.filename, "");
        assert_eq!(
            info.errors["redact"],
            "the redacted copy was not kept: the file is blocked for another verdict"
        );
        assert_eq!(post(runs[0].clone()), (String::new(), String::new()));
    }

    #[test]
    fn clean_runs_allow_the_file_with_complete_progress() {
        let runs = [run(
            "A",
            Stage::Antivirus,
            found(ScanResult::NoThreatDetected, ""),
        )];
        let report = assemble_report(&context(), &runs, &VerdictPolicy::default(), 2_000);
        assert_eq!(report.process_info.result, ProcessResult::Allowed);
        assert_eq!(report.process_info.blocked_reason, "");
        assert_eq!(report.scan_results.scan_all_result_i, 0);
        assert_eq!(report.scan_results.scan_all_result_a, "No Threat Detected");
        assert_eq!(report.scan_results.progress_percentage, 100);
        assert_eq!(report.process_info.progress_percentage, 100);
        assert_eq!(report.process_info.queue_time, 500);
        assert_eq!(report.scan_results.total_time, 500);
        assert_eq!(report.scan_results.total_avs, 1);
    }

    #[test]
    fn a_failed_engine_never_reads_as_clean() {
        let runs = [
            run(
                "A",
                Stage::Antivirus,
                found(ScanResult::NoThreatDetected, ""),
            ),
            run("B", Stage::Antivirus, RunOutcome::Panicked("boom".into())),
            run(
                "C",
                Stage::Antivirus,
                RunOutcome::TimedOut(Duration::from_secs(1)),
            ),
        ];
        let report = assemble_report(&context(), &runs, &VerdictPolicy::default(), 2_000);
        assert_eq!(report.scan_results.scan_all_result_i, 3);
        assert_eq!(report.process_info.result, ProcessResult::Blocked);
        let b = &report.scan_results.scan_details["B"];
        assert_eq!(b.scan_result_i, 3);
        assert!(b.threat_found.contains("boom"));
        let c = &report.scan_results.scan_details["C"];
        assert_eq!(c.scan_result_i, 10);
        assert!(c.threat_found.contains("timed out"));
        assert_eq!(report.process_info.verdicts, vec!["Failed", "Not Scanned"]);
    }

    #[test]
    fn infected_outranks_failure_within_the_av_stage() {
        let runs = [
            run("B", Stage::Antivirus, RunOutcome::Errored("down".into())),
            run("A", Stage::Antivirus, found(ScanResult::Infected, "Eicar")),
        ];
        let report = assemble_report(&context(), &runs, &VerdictPolicy::default(), 2_000);
        assert_eq!(report.scan_results.scan_all_result_a, "Infected");
        assert_eq!(report.process_info.blocked_reason, "Infected");
        assert_eq!(
            report.process_info.blocked_reasons,
            vec!["Failed", "Infected"]
        );
    }

    #[test]
    fn the_earliest_stage_decides_the_main_result() {
        let runs = [
            run("AV", Stage::Antivirus, found(ScanResult::Infected, "X")),
            run(
                "YARA",
                Stage::Yara,
                found(ScanResult::YaraRuleMatched, "rule"),
            ),
        ];
        let report = assemble_report(&context(), &runs, &VerdictPolicy::default(), 2_000);
        assert_eq!(report.scan_results.scan_all_result_i, 21);
        assert_eq!(
            report.process_info.verdicts,
            vec!["Yara Rule Matched", "Infected"]
        );
    }

    fn list_run(stage: Stage, result: ScanResult, name: &str) -> EngineRun {
        let mut run = run("Lists", stage, found(result, name));
        run.descriptor.in_scan_details = false;
        run
    }

    #[test]
    fn hash_lists_decide_early_and_name_their_match() {
        let clean_av = run(
            "AV",
            Stage::Antivirus,
            found(ScanResult::NoThreatDetected, ""),
        );
        let policy = VerdictPolicy::default();

        let runs = [
            clean_av.clone(),
            list_run(Stage::Lists, ScanResult::Blacklisted, ""),
        ];
        let report = assemble_report(&context(), &runs, &policy, 2_000);
        assert_eq!(report.scan_results.scan_all_result_i, 8);
        assert_eq!(report.process_info.result, ProcessResult::Blocked);

        let runs = [
            clean_av.clone(),
            list_run(Stage::Reputation, ScanResult::KnownBad, "Emotet dropper"),
        ];
        let report = assemble_report(&context(), &runs, &policy, 2_000);
        assert_eq!(report.scan_results.scan_all_result_i, 38);
        assert_eq!(
            report.process_info.verdicts,
            vec!["Known Bad", "Known Bad: Emotet dropper"]
        );
        assert_eq!(
            report.scan_results.total_avs, 1,
            "hash lists are not AV engines"
        );

        let runs = [
            clean_av.clone(),
            list_run(Stage::Lists, ScanResult::Whitelisted, ""),
        ];
        let report = assemble_report(&context(), &runs, &policy, 2_000);
        assert_eq!(report.scan_results.scan_all_result_i, 7);
        assert_eq!(report.process_info.result, ProcessResult::Allowed);

        // An allow-listed file that an engine still detects is not waved through.
        let runs = [
            run("AV", Stage::Antivirus, found(ScanResult::Infected, "X")),
            list_run(Stage::Lists, ScanResult::Whitelisted, ""),
        ];
        let report = assemble_report(&context(), &runs, &policy, 2_000);
        assert_eq!(report.scan_results.scan_all_result_i, 1);
        assert_eq!(report.process_info.result, ProcessResult::Blocked);

        let runs = [
            clean_av,
            list_run(Stage::Reputation, ScanResult::Unknown, ""),
        ];
        let report = assemble_report(&context(), &runs, &policy, 2_000);
        assert_eq!(report.scan_results.scan_all_result_i, 0);
    }

    #[test]
    fn a_detection_threshold_needs_that_many_engines_to_agree() {
        let policy = VerdictPolicy {
            av_detections_to_block: 2,
            ..VerdictPolicy::default()
        };
        let one = [
            run("A", Stage::Antivirus, found(ScanResult::Infected, "X")),
            run(
                "B",
                Stage::Antivirus,
                found(ScanResult::NoThreatDetected, ""),
            ),
        ];
        let report = assemble_report(&context(), &one, &policy, 2_000);
        assert_eq!(report.process_info.result, ProcessResult::Allowed);
        assert_eq!(report.scan_results.scan_all_result_i, 0);
        assert_eq!(report.scan_results.scan_details["A"].scan_result_i, 1);
        assert_eq!(report.process_info.verdicts, vec!["Infected"]);
        assert!(report.process_info.blocked_reasons.is_empty());

        let two = [
            run("A", Stage::Antivirus, found(ScanResult::Infected, "X")),
            run("B", Stage::Antivirus, found(ScanResult::Suspicious, "Y")),
        ];
        let report = assemble_report(&context(), &two, &policy, 2_000);
        assert_eq!(report.process_info.result, ProcessResult::Blocked);
        assert_eq!(report.scan_results.scan_all_result_i, 1);

        // A failure is never outvoted into clean.
        let failed = [
            run("A", Stage::Antivirus, found(ScanResult::Infected, "X")),
            run("B", Stage::Antivirus, RunOutcome::Errored("down".into())),
        ];
        let report = assemble_report(&context(), &failed, &policy, 2_000);
        assert_eq!(report.scan_results.scan_all_result_i, 3);
        assert_eq!(report.process_info.result, ProcessResult::Blocked);
    }

    #[test]
    fn an_archive_takes_its_worst_member_unless_extraction_itself_failed() {
        let clean = [run(
            "AV",
            Stage::Antivirus,
            found(ScanResult::NoThreatDetected, ""),
        )];
        let own = assemble_report(&context(), &clean, &VerdictPolicy::default(), 2_000);
        let policy = VerdictPolicy::default();
        let infected_member = ArchiveOutcome {
            members: 3,
            worst: Some(("child-2".into(), ScanResult::Infected)),
            ..ArchiveOutcome::default()
        };
        let report = archive_report(own.clone(), &infected_member, &policy, 1_500, 9_000);
        assert_eq!(report.scan_results.scan_all_result_i, 1);
        assert_eq!(report.process_info.result, ProcessResult::Blocked);
        let files = report.extracted_files.as_ref().unwrap();
        assert_eq!(files.worst_data_id, "child-2");
        assert_eq!(files.files_extracted_count, 3);
        assert_eq!(report.scan_results.total_time, 7_500);

        let clean_members = ArchiveOutcome {
            members: 2,
            worst: Some(("child-0".into(), ScanResult::NoThreatDetected)),
            ..ArchiveOutcome::default()
        };
        let report = archive_report(own.clone(), &clean_members, &policy, 1_500, 9_000);
        assert_eq!(report.scan_results.scan_all_result_i, 0);
        assert_eq!(report.process_info.result, ProcessResult::Allowed);
        assert_eq!(report.extracted_files.unwrap().worst_data_id, "");

        let encrypted = ArchiveOutcome {
            problem: Some(ScanResult::EncryptedArchive),
            ..ArchiveOutcome::default()
        };
        let report = archive_report(own, &encrypted, &policy, 1_500, 9_000);
        assert_eq!(report.scan_results.scan_all_result_i, 12);
        assert_eq!(report.process_info.result, ProcessResult::Blocked);
    }

    #[test]
    fn a_detection_outranks_an_extraction_problem_which_still_blocks() {
        let policy = VerdictPolicy::default();
        // clamd finds the archive itself infected, but its member cannot be extracted.
        let infected = [run(
            "AV",
            Stage::Antivirus,
            found(ScanResult::Infected, "Clamav.Test.File"),
        )];
        let own = assemble_report(&context(), &infected, &policy, 2_000);
        let damaged = ArchiveOutcome {
            problem: Some(ScanResult::ExtractionFailed),
            ..ArchiveOutcome::default()
        };
        let report = archive_report(own, &damaged, &policy, 1_500, 9_000);
        assert_eq!(report.scan_results.scan_all_result_i, 1);
        assert_eq!(report.process_info.result, ProcessResult::Blocked);
        assert_eq!(report.process_info.blocked_reason, "Infected");
        assert_eq!(
            report.process_info.verdicts,
            vec!["Infected", "Extraction Failed"]
        );
        assert_eq!(
            report.process_info.blocked_reasons,
            vec!["Infected", "Extraction Failed"]
        );

        // A member found infected before a limit stopped extraction.
        for problem in [9, 12, 13, 14, 16, 24].map(|c| ScanResult::from_code(c).unwrap()) {
            assert_eq!(
                archive_result(
                    ScanResult::NoThreatDetected,
                    Some(problem),
                    Some(ScanResult::Suspicious)
                ),
                ScanResult::Suspicious
            );
            // Without a detection the problem decides, even over a failed member.
            assert_eq!(
                archive_result(
                    ScanResult::NoThreatDetected,
                    Some(problem),
                    Some(ScanResult::Failed)
                ),
                problem
            );
        }
        // The worse detection wins; the archive's own wins a tie.
        assert_eq!(
            archive_result(
                ScanResult::Suspicious,
                Some(ScanResult::ExtractionFailed),
                Some(ScanResult::Infected)
            ),
            ScanResult::Infected
        );
        assert_eq!(
            archive_result(ScanResult::Blacklisted, None, Some(ScanResult::Infected)),
            ScanResult::Blacklisted
        );

        // An allowed extraction problem does not block, but the detection does.
        let lenient = VerdictPolicy {
            allowed: vec![ScanResult::NoThreatDetected, ScanResult::ExtractionFailed],
            ..VerdictPolicy::default()
        };
        let clean = [run(
            "AV",
            Stage::Antivirus,
            found(ScanResult::NoThreatDetected, ""),
        )];
        let own = assemble_report(&context(), &clean, &lenient, 2_000);
        let report = archive_report(own.clone(), &damaged, &lenient, 1_500, 9_000);
        assert_eq!(report.scan_results.scan_all_result_i, 24);
        assert_eq!(report.process_info.result, ProcessResult::Allowed);
        let with_member = ArchiveOutcome {
            problem: Some(ScanResult::ExtractionFailed),
            members: 1,
            worst: Some(("child".into(), ScanResult::Infected)),
            ..ArchiveOutcome::default()
        };
        let report = archive_report(own, &with_member, &lenient, 1_500, 9_000);
        assert_eq!(report.scan_results.scan_all_result_i, 1);
        assert_eq!(report.process_info.result, ProcessResult::Blocked);
        assert_eq!(report.process_info.blocked_reasons, vec!["Infected"]);
        assert_eq!(report.extracted_files.unwrap().worst_data_id, "child");
    }

    #[test]
    fn final_reports_always_carry_post_processing() {
        let report = terminal_report(
            &context(),
            ScanResult::Cancelled,
            "",
            &VerdictPolicy::default(),
            2_000,
        );
        let json = serde_json::to_string(&report).unwrap();
        assert!(
            json.contains(
                "\"post_processing\":{\"actions_failed\":\"\",\"actions_ran\":\"\",\"converted_destination\":\"\",\"converted_to\":\"\",\"copy_move_destination\":\"\"}"
            ),
            "{json}"
        );
    }

    #[test]
    fn in_progress_reports_say_processing_in_both_progress_fields() {
        let report = in_progress_report(&context(), 0, 1_700);
        assert_eq!(report.process_info.result, ProcessResult::Processing);
        assert_eq!(report.scan_results.scan_all_result_i, 255);
        assert_eq!(report.scan_results.scan_all_result_a, "In Progress");
        assert_eq!(report.process_info.progress_percentage, 0);
        assert_eq!(report.scan_results.progress_percentage, 0);
        let json = serde_json::to_string(&report).unwrap();
        assert!(json.contains("\"result\":\"Processing\""));
    }
}
