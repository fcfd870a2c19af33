//! Scan workers: claim jobs with an expiring lease, heartbeat while working, run every engine of
//! the job's rule on the blocking pool under a timeout, and store the final report in the same
//! transaction that completes the job.

mod archive;

use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade_metastore::{FinishedJob, JobRecord};
use palisade_model::{FileReport, OutputKind, OutputRecord, ScanResult, now_millis};
use palisade_pipeline::{
    Engine, EngineError, EngineRun, Finding, Limits, OutputFile, ReportContext, RunOutcome, Sample,
    ScanContext, VerdictPolicy, assemble_report, terminal_report, withhold_copies,
};
use palisade_service::{EngineErrorKind, FinishedTally, RuleSettings, Service, report_context};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

/// How workers behave.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Concurrent worker loops (each runs up to `claim_batch` jobs at a time).
    pub workers: usize,
    pub claim_batch: u32,
    pub lease: Duration,
    pub heartbeat: Duration,
    /// Claims after which a job that never completes finishes as Failed.
    pub max_attempts: u32,
    pub engine_timeout: Duration,
    /// Fallback poll when no wake-up arrives (other processes may queue work).
    pub poll_interval: Duration,
    /// Engine runs in flight at once across all workers.
    pub engine_concurrency: usize,
    /// Bytes of files that engines may hold in memory at once, across all workers (see
    /// [`Engine::memory_for`]); a file that needs more is not scanned by that engine.
    pub scan_memory: u64,
    /// Share (0 to 1] of the jobs this node runs at once that archive members may take, so
    /// that archives never starve other files.
    pub archive_member_share: f64,
    /// Where archives are extracted, one private directory per extraction (removed after it);
    /// the binary points it into the data directory and sweeps it at start.
    pub scratch_dir: std::path::PathBuf,
    /// Where archives are decoded: in this process, or in parser processes.
    pub opener: Arc<dyn palisade_extract::Opener>,
}

impl WorkerSettings {
    /// Archive members running at once on this node, at most (every node has its own share, so
    /// an archive's members spread over all of them).
    pub fn member_cap(&self) -> u32 {
        let slots = self.workers.max(1) as f64 * f64::from(self.claim_batch.max(1));
        (slots * self.archive_member_share.clamp(0.0, 1.0))
            .ceil()
            .max(1.0) as u32
    }
}

impl Default for WorkerSettings {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            workers: cores,
            claim_batch: 32,
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(10),
            max_attempts: 3,
            engine_timeout: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            engine_concurrency: cores * 4,
            scan_memory: 2 << 30,
            archive_member_share: 0.5,
            scratch_dir: std::env::temp_dir(),
            opener: Arc::new(palisade_extract::InProcess),
        }
    }
}

struct Shared {
    service: Service,
    settings: WorkerSettings,
    engine_slots: Semaphore,
    /// The scan memory budget, one permit per KiB.
    scan_memory: Arc<Semaphore>,
    /// Archive extractions running at once (each holds decoder state and buffers).
    extraction_slots: Semaphore,
}

/// Runs the worker loops of node `node` until `shutdown` resolves; jobs in hand are finished
/// first. Leases are taken as `<node>/w<index>`, so the registry can count a node's load.
pub async fn run_workers(
    service: Service,
    node: String,
    settings: WorkerSettings,
    wake: Arc<Notify>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let shared = Arc::new(Shared {
        engine_slots: Semaphore::new(settings.engine_concurrency.max(1)),
        scan_memory: Arc::new(Semaphore::new(budget_kib(settings.scan_memory) as usize)),
        extraction_slots: Semaphore::new(settings.workers.max(1)),
        service,
        settings,
    });
    let mut loops = JoinSet::new();
    for index in 0..shared.settings.workers.max(1) {
        let owner = format!("{node}/w{index}");
        loops.spawn(worker_loop(
            shared.clone(),
            owner,
            wake.clone(),
            shutdown.clone(),
        ));
    }
    while let Some(result) = loops.join_next().await {
        if let Err(error) = result {
            tracing::error!(%error, "worker loop ended abnormally");
        }
    }
}

async fn worker_loop(
    shared: Arc<Shared>,
    owner: String,
    wake: Arc<Notify>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let lease_ms = i64::try_from(shared.settings.lease.as_millis()).unwrap_or(30_000);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let claimed = shared
            .service
            .metastore()
            .claim(
                &owner,
                now_millis(),
                lease_ms,
                shared.settings.claim_batch,
                shared.settings.member_cap(),
            )
            .await;
        let jobs = match claimed {
            Ok(jobs) => jobs,
            Err(error) => {
                tracing::warn!(%error, "claiming jobs failed; retrying");
                tokio::time::sleep(shared.settings.poll_interval).await;
                continue;
            }
        };
        if jobs.is_empty() {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(shared.settings.poll_interval) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        if jobs.len() as u32 == shared.settings.claim_batch {
            // More work is likely waiting: let a sibling worker pick it up too.
            wake.notify_one();
        }
        process_batch(&shared, &owner, jobs).await;
    }
}

/// Processes claimed jobs concurrently, heartbeating their leases. Reports are stored as they
/// come: whatever finished together is completed in one statement, so a fast file does not wait
/// for the slowest file of its claim.
async fn process_batch(shared: &Arc<Shared>, owner: &str, jobs: Vec<JobRecord>) {
    let mut held: Vec<String> = jobs.iter().map(|j| j.job.data_id.clone()).collect();
    let lease_ms = i64::try_from(shared.settings.lease.as_millis()).unwrap_or(30_000);
    let mut running = JoinSet::new();
    for record in jobs {
        let shared = shared.clone();
        running.spawn(async move { process_job(&shared, record).await });
    }
    let mut heartbeat = tokio::time::interval(shared.settings.heartbeat);
    heartbeat.tick().await;
    loop {
        let mut reports = Vec::new();
        tokio::select! {
            next = running.join_next() => match next {
                Some(first) => {
                    collect_finished(first, &mut reports);
                    while let Some(more) = running.try_join_next() {
                        collect_finished(more, &mut reports);
                    }
                }
                None => return,
            },
            _ = heartbeat.tick() => {
                if let Err(error) = shared.service.metastore().heartbeat(owner, &held, now_millis(), lease_ms).await {
                    tracing::warn!(%error, "lease heartbeat failed");
                }
            }
        }
        if reports.is_empty() {
            continue;
        }
        held.retain(|id| !reports.iter().any(|done| &done.finished.data_id == id));
        store_reports(shared, owner, reports).await;
    }
}

/// A final report ready to be stored, with the outputs it names (already in the blob store).
struct Completion {
    finished: FinishedJob,
    outputs: Vec<OutputRecord>,
    /// What the report adds to the metrics once it is stored.
    tally: FinishedTally,
}

/// What became of one claimed job.
enum JobOutcome {
    /// Store this final result.
    Store(Completion),
    /// Leave the job to its lease: it runs again when the lease expires (the blob store was
    /// unreachable, or the archive's state unreadable).
    LeaveToLease,
    /// The archive's members were queued; it is finished when they are.
    Waiting,
}

fn collect_finished(
    joined: Result<JobOutcome, tokio::task::JoinError>,
    completions: &mut Vec<Completion>,
) {
    match joined {
        Ok(JobOutcome::Store(completion)) => completions.push(completion),
        Ok(JobOutcome::LeaveToLease | JobOutcome::Waiting) => {}
        Err(error) => {
            tracing::error!(%error, "job task failed; its lease will expire and it runs again")
        }
    }
}

async fn store_reports(shared: &Arc<Shared>, owner: &str, completions: Vec<Completion>) {
    let mut reports = Vec::with_capacity(completions.len());
    let mut outputs: Vec<OutputRecord> = Vec::new();
    let mut tallies = Vec::with_capacity(completions.len());
    for completion in completions {
        tallies.push((completion.finished.data_id.clone(), completion.tally));
        reports.push(completion.finished);
        outputs.extend(completion.outputs);
    }
    let done = match shared
        .service
        .metastore()
        .complete(owner, &reports, &outputs, now_millis())
        .await
    {
        Ok(done) => done,
        Err(error) => {
            tracing::error!(%error, "storing reports failed; the jobs will run again");
            return;
        }
    };
    if done.len() < reports.len() {
        tracing::info!(
            dropped = reports.len() - done.len(),
            "some results were not stored: cancelled or re-leased meanwhile"
        );
    }
    for (data_id, tally) in &tallies {
        if done.contains(data_id) {
            shared.service.metrics().file_finished(tally);
        }
    }
}

/// What a job runs under, read once from its rule.
struct JobSetup {
    rule: Option<RuleSettings>,
    policy: VerdictPolicy,
    context: ReportContext,
}

impl JobSetup {
    fn new(service: &Service, record: &JobRecord) -> Self {
        let rule = service.settings().rule(&record.job.rule).cloned();
        let policy = rule.as_ref().map(RuleSettings::policy).unwrap_or_default();
        let context = report_context(record, service.roster(), rule.as_ref());
        Self {
            rule,
            policy,
            context,
        }
    }

    fn terminal(&self, result: ScanResult, reason: &str) -> FileReport {
        terminal_report(&self.context, result, reason, &self.policy, now_millis())
    }
}

/// Runs one claimed job to its outcome.
async fn process_job(shared: &Arc<Shared>, record: JobRecord) -> JobOutcome {
    let service = &shared.service;
    let setup = JobSetup::new(service, &record);
    if let Some(partial) = &record.partial {
        // An archive whose members are all final: finish it from their results.
        return match archive::finish(service, &record, partial, &setup.policy).await {
            Some((report, outputs)) => store(&record, &report, outputs),
            None => JobOutcome::LeaveToLease,
        };
    }
    if record.attempts > shared.settings.max_attempts {
        tracing::warn!(data_id = %record.job.data_id, attempts = record.attempts, "giving up on job");
        let reason = format!(
            "processing did not complete after {} attempts",
            shared.settings.max_attempts
        );
        return store(
            &record,
            &setup.terminal(ScanResult::Failed, &reason),
            Vec::new(),
        );
    }
    let sample = match service.blobs().sample_file(&record.job.hashes.sha256).await {
        Ok(sample) => sample,
        Err(palisade_blobstore::BlobError::Io(error)) => {
            // The blob store is unreachable or failing (an S3 outage, a lost mount): not the
            // file's fault. The job is left to its lease and runs again; only after
            // `max_attempts` claims does it finish, as Failed, never clean.
            tracing::warn!(data_id = %record.job.data_id, %error,
                "blob store unavailable; the job runs again when its lease expires");
            return JobOutcome::LeaveToLease;
        }
        Err(error) => {
            tracing::error!(data_id = %record.job.data_id, %error, "stored file is unreadable");
            let reason = format!("stored file is unreadable: {error}");
            return store(
                &record,
                &setup.terminal(ScanResult::Failed, &reason),
                Vec::new(),
            );
        }
    };
    // The local copy stays until the archive is opened (a remote blob store's copy is deleted
    // when dropped).
    let path = sample.path().to_path_buf();
    let (report, produced) = match analyse(shared, &record, &setup, path.clone()).await {
        Analysis::Done { report, produced } => (report, produced),
        Analysis::TimedOut(report) => return store(&record, &report, Vec::new()),
    };
    let outputs = match store_outputs(service, &record.job.data_id, produced).await {
        Ok(outputs) => outputs,
        Err(error) => {
            tracing::warn!(data_id = %record.job.data_id, %error,
                "storing outputs failed; the job runs again when its lease expires");
            return JobOutcome::LeaveToLease;
        }
    };
    let owner = record.lease_owner.clone().unwrap_or_default();
    let archives = setup
        .rule
        .as_ref()
        .map(|r| r.archives.clone())
        .unwrap_or_default();
    let next = archive::after_engines(
        service,
        &shared.extraction_slots,
        &shared.settings.opener,
        &shared.settings.scratch_dir,
        &owner,
        &record,
        &archives,
        &setup.policy,
        path,
        report,
        &outputs,
    )
    .await;
    drop(sample);
    match next {
        archive::Next::Final(report) => store(&record, &report, outputs),
        archive::Next::Waiting => JobOutcome::Waiting,
    }
}

/// A final report to store, or (when it cannot be written down) the job left to its lease.
fn store(record: &JobRecord, report: &FileReport, outputs: Vec<OutputRecord>) -> JobOutcome {
    match serde_json::to_string(report) {
        Ok(text) => JobOutcome::Store(Completion {
            finished: FinishedJob {
                data_id: record.job.data_id.clone(),
                result_i: report.scan_results.scan_all_result_i,
                blocked: report.is_blocked(),
                report: text,
            },
            outputs,
            tally: FinishedTally::of(report, record.job.parent_id.is_some()),
        }),
        Err(error) => {
            tracing::error!(data_id = %record.job.data_id, %error, "report did not serialise");
            JobOutcome::LeaveToLease
        }
    }
}

/// How running the engines on a file ended.
enum Analysis {
    /// Every phase ran: the report, and the files the engines produced.
    Done {
        report: FileReport,
        produced: Produced,
    },
    /// The rule's global timeout ended the analysis first.
    TimedOut(FileReport),
}

/// Output files engines produced, in their private directories (removed when dropped).
#[derive(Default)]
struct Produced {
    files: Vec<OutputFile>,
    _dirs: Vec<OutputDir>,
}

/// Runs the rule's plan on the file, phase by phase, under the rule's global timeout.
async fn analyse(
    shared: &Arc<Shared>,
    record: &JobRecord,
    setup: &JobSetup,
    path: std::path::PathBuf,
) -> Analysis {
    let (engines, mut plan) = shared.service.roster().plan(
        setup.rule.as_ref().and_then(|r| r.engines.as_deref()),
        setup
            .rule
            .as_ref()
            .map(RuleSettings::plan_rules)
            .unwrap_or_default(),
    );
    let phases = async {
        let mut runs: Vec<EngineRun> = Vec::new();
        let mut produced = Produced::default();
        // What the engines read: the file, then for the post-processing steps its redacted
        // copy when DLP made one (so that a sanitized copy holds no redacted data either).
        let mut input = path.clone();
        while let Some((_phase, chosen)) = plan.next_phase(&runs, &setup.policy) {
            let phase_engines = chosen.iter().map(|&i| engines[i].clone()).collect();
            let policies = setup
                .rule
                .as_ref()
                .map(RuleSettings::policies)
                .unwrap_or_default();
            let ran =
                run_concurrently(shared, record, input.clone(), phase_engines, &policies).await;
            for (run, dir) in ran {
                if let RunOutcome::Finished(finding) = &run.outcome {
                    produced.files.extend(finding.outputs.iter().cloned());
                }
                produced._dirs.extend(dir);
                runs.push(run);
            }
            if let Some(copy) = produced
                .files
                .iter()
                .find(|f| f.kind == OutputKind::Redacted)
            {
                input = copy.path.clone();
            }
        }
        if !produced.files.is_empty() && !plan.copies_allowed(&runs, &setup.policy) {
            withhold_copies(&mut runs, "the file is blocked for another verdict");
            produced.files.clear();
        }
        (runs, produced)
    };
    let limit = record
        .job
        .global_timeout_ms
        .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)));
    let (runs, produced) = match limit {
        Some(limit) => match tokio::time::timeout(limit, phases).await {
            Ok(done) => done,
            Err(_) => {
                let reason = format!(
                    "analysis exceeded the global timeout of {} ms",
                    limit.as_millis()
                );
                return Analysis::TimedOut(
                    setup.terminal(ScanResult::GlobalTimeoutExceeded, &reason),
                );
            }
        },
        None => phases.await,
    };
    let mut context = setup.context.clone();
    context.total_avs = plan.total_avs();
    Analysis::Done {
        report: assemble_report(&context, &runs, &setup.policy, now_millis()),
        produced,
    }
}

/// Puts the files the engines produced into the blob store, as the outputs of `data_id`.
async fn store_outputs(
    service: &Service,
    data_id: &str,
    produced: Produced,
) -> Result<Vec<OutputRecord>, String> {
    if produced.files.is_empty() {
        return Ok(Vec::new());
    }
    let blobs = service.blobs().clone();
    let data_id = data_id.to_string();
    let stored = tokio::task::spawn_blocking(move || {
        let paths: Vec<&std::path::Path> =
            produced.files.iter().map(|f| f.path.as_path()).collect();
        let stored = blobs
            .store_files(&paths)
            .map_err(|(index, error)| format!("{}: {error}", produced.files[index].name))?;
        let now = now_millis();
        Ok(produced
            .files
            .iter()
            .zip(stored)
            .map(|(file, blob)| OutputRecord {
                data_id: data_id.clone(),
                kind: file.kind,
                sha256: blob.hashes.sha256,
                size: blob.size,
                name: file.name.clone(),
                created_ts: now,
            })
            .collect())
    })
    .await;
    stored.unwrap_or_else(|join| Err(join.to_string()))
}

/// An engine's private output directory, removed with what is in it when dropped.
struct OutputDir(std::path::PathBuf);

impl OutputDir {
    /// Makes the directory, owner-only.
    fn make(path: std::path::PathBuf) -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(Self(path))
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.0)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %self.0.display(), %error, "an output directory was not removed");
        }
    }
}

/// Checks that every output a finding names is a regular file inside the engine's own output
/// directory (an engine may not offer any other file of the machine for download).
fn check_outputs(finding: &Finding, dir: &std::path::Path) -> Result<(), EngineError> {
    for output in &finding.outputs {
        let inside = output.path.parent() == Some(dir);
        let regular =
            std::fs::symlink_metadata(&output.path).is_ok_and(|m| m.file_type().is_file());
        if !inside || !regular {
            return Err(EngineError::Failed(format!(
                "output {:?} is not a file the engine wrote in its output directory",
                output.name
            )));
        }
    }
    Ok(())
}

async fn run_concurrently(
    shared: &Arc<Shared>,
    record: &JobRecord,
    path: std::path::PathBuf,
    engines: Vec<Arc<dyn Engine>>,
    policies: &palisade_pipeline::Policies,
) -> Vec<(EngineRun, Option<OutputDir>)> {
    let mut set = JoinSet::new();
    for (index, engine) in engines.into_iter().enumerate() {
        let shared = shared.clone();
        let path = path.clone();
        let job = record.job.clone();
        let policies = policies.clone();
        set.spawn(async move {
            let run = run_one_engine(&shared, engine, path, job, policies).await;
            (index, run)
        });
    }
    let mut runs = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(entry) => runs.push(entry),
            Err(error) => tracing::error!(%error, "engine task failed"),
        }
    }
    runs.sort_by_key(|(index, _)| *index);
    runs.into_iter().map(|(_, run)| run).collect()
}

async fn run_one_engine(
    shared: &Arc<Shared>,
    engine: Arc<dyn Engine>,
    path: std::path::PathBuf,
    job: palisade_metastore::NewJob,
    policies: palisade_pipeline::Policies,
) -> (EngineRun, Option<OutputDir>) {
    let descriptor = engine.descriptor().clone();
    let def_time = engine.status().def_time;
    let timeout = shared.settings.engine_timeout;
    let limits = Limits {
        timeout,
        ..Limits::default()
    };
    let needed = engine.memory_for(&Sample {
        path: &path,
        size: job.size,
        display_name: &job.display_name,
        hashes: &job.hashes,
    });
    let reservation = match memory_reservation(needed, shared.settings.scan_memory) {
        Ok(kib) => kib,
        Err(reason) => {
            let run = EngineRun {
                descriptor,
                def_time,
                scan_time_ms: 0,
                outcome: RunOutcome::NotScanned(reason),
            };
            return (run, None);
        }
    };
    // Memory first, then an engine slot: a big file waiting for memory holds no slot. The
    // memory is given back when the scan ends, even if the worker stopped waiting for it.
    let memory = shared
        .scan_memory
        .clone()
        .acquire_many_owned(reservation)
        .await;
    let _slot = shared.engine_slots.acquire().await;
    let started = Instant::now();
    // An engine that produces copies gets a private output directory. It goes with the scan's
    // result: a scan the worker stopped waiting for removes it when it ends.
    let output_dir = descriptor.produces.map(|_| {
        shared
            .settings
            .scratch_dir
            .join(format!("out-{}", palisade_model::random_hex(12)))
    });
    let task = tokio::task::spawn_blocking(move || {
        let _memory = memory;
        let sample = Sample {
            path: &path,
            size: job.size,
            display_name: &job.display_name,
            hashes: &job.hashes,
        };
        let Some(output_dir) = output_dir else {
            let context = ScanContext::new(limits).with_policies(policies);
            let result = engine.scan(&sample, &context);
            let result = match result {
                Ok(finding) if !finding.outputs.is_empty() => Err(EngineError::Failed(
                    "the engine named outputs but does not declare that it produces any".into(),
                )),
                other => other,
            };
            return (result, None);
        };
        let dir = match OutputDir::make(output_dir) {
            Ok(dir) => dir,
            Err(error) => return (Err(EngineError::Io(error)), None),
        };
        let context = ScanContext::with_output_dir(limits, &dir.0).with_policies(policies);
        let result = engine
            .scan(&sample, &context)
            .and_then(|finding| check_outputs(&finding, &dir.0).map(|()| finding));
        (result, Some(dir))
    });
    let (outcome, dir) = match tokio::time::timeout(timeout, task).await {
        Ok(Ok((result, dir))) => (EngineRun::outcome_of(result), dir),
        Ok(Err(join)) if join.is_panic() => {
            let payload = join.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            tracing::error!(engine = %descriptor.id, %message, "engine panicked");
            (RunOutcome::Panicked(message), None)
        }
        Ok(Err(join)) => (RunOutcome::Errored(join.to_string()), None),
        Err(_) => {
            tracing::warn!(engine = %descriptor.id, "engine timed out");
            (RunOutcome::TimedOut(timeout), None)
        }
    };
    let elapsed = started.elapsed();
    let error = match &outcome {
        RunOutcome::Errored(_) => Some(EngineErrorKind::Error),
        RunOutcome::Panicked(_) => Some(EngineErrorKind::Panic),
        RunOutcome::TimedOut(_) => Some(EngineErrorKind::Timeout),
        RunOutcome::Finished(_) | RunOutcome::NotScanned(_) => None,
    };
    shared
        .service
        .metrics()
        .engine_ran(&descriptor.id, elapsed.as_secs_f64(), error);
    let run = EngineRun {
        descriptor,
        def_time,
        scan_time_ms: i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
        outcome,
    };
    (run, dir)
}

/// The scan memory budget in KiB, the unit of its semaphore.
fn budget_kib(budget: u64) -> u32 {
    u32::try_from(budget / 1024).unwrap_or(u32::MAX)
}

/// How many KiB of the scan memory budget a run that holds `needed` bytes reserves (rounded
/// up; 0 when it holds none), or why it cannot run within the budget at all.
fn memory_reservation(needed: u64, budget: u64) -> Result<u32, String> {
    if needed > budget {
        return Err(format!(
            "the engine would hold the whole file ({needed} bytes) in memory, more than the \
             scan memory budget of {budget} bytes (queue.scan_memory_mib)"
        ));
    }
    Ok(u32::try_from(needed.div_ceil(1024))
        .unwrap_or(u32::MAX)
        .min(budget_kib(budget)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_reserve_their_memory_rounded_up_and_larger_files_are_refused() {
        assert_eq!(memory_reservation(0, 1 << 20), Ok(0));
        assert_eq!(memory_reservation(1, 1 << 20), Ok(1));
        assert_eq!(memory_reservation(1 << 20, 1 << 20), Ok(1024));
        let refused = memory_reservation((1 << 20) + 1, 1 << 20).unwrap_err();
        assert!(refused.contains("1048577 bytes"), "{refused}");
        assert!(refused.contains("queue.scan_memory_mib"), "{refused}");
    }
}
