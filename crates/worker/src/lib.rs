//! Scan workers: claim jobs with an expiring lease, heartbeat while working, run every engine of
//! the job's rule on the blocking pool under a timeout, and store the final report in the same
//! transaction that completes the job.

mod archive;

use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade_metastore::JobRecord;
use palisade_model::{ScanResult, now_millis};
use palisade_pipeline::{
    Engine, EngineRun, Limits, RunOutcome, Sample, Stage, assemble_report, terminal_report,
};
use palisade_service::{RuleSettings, Service, report_context};
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
        held.retain(|id| !reports.iter().any(|(done, _, _)| done == id));
        store_reports(shared, owner, &reports).await;
    }
}

type Report = (String, i32, String);

fn collect_finished(
    joined: Result<Option<Report>, tokio::task::JoinError>,
    reports: &mut Vec<Report>,
) {
    match joined {
        Ok(Some(report)) => reports.push(report),
        Ok(None) => {}
        Err(error) => {
            tracing::error!(%error, "job task failed; its lease will expire and it runs again")
        }
    }
}

async fn store_reports(shared: &Arc<Shared>, owner: &str, reports: &[Report]) {
    match shared
        .service
        .metastore()
        .complete(owner, reports, now_millis())
        .await
    {
        Ok(done) if done.len() < reports.len() => tracing::info!(
            dropped = reports.len() - done.len(),
            "some results were not stored: cancelled or re-leased meanwhile"
        ),
        Ok(_) => {}
        Err(error) => {
            tracing::error!(%error, "storing reports failed; the jobs will run again");
        }
    }
}

/// Runs one job; returns (data_id, result code, report JSON), or `None` when its file is gone.
async fn process_job(shared: &Arc<Shared>, record: JobRecord) -> Option<Report> {
    let service = &shared.service;
    let rule = service.settings().rule(&record.job.rule).cloned();
    let policy = rule.as_ref().map(RuleSettings::policy).unwrap_or_default();
    let context = report_context(&record, service.roster(), rule.as_ref());
    let data_id = record.job.data_id.clone();
    let archives = rule
        .as_ref()
        .map(|r| r.archives.clone())
        .unwrap_or_default();
    // Set when the engines ran on the file, so an archive can be opened next.
    let mut scanned: Option<std::path::PathBuf> = None;
    // The local copy stays until the archive is opened (a remote blob store's copy is deleted
    // when dropped).
    let mut _sample_kept = None;

    let report = if let Some(partial) = &record.partial {
        // An archive whose members are all final: finish it from their results.
        archive::finish(service, &record, partial, &policy).await?
    } else if record.attempts > shared.settings.max_attempts {
        tracing::warn!(data_id = %data_id, attempts = record.attempts, "giving up on job");
        let reason = format!(
            "processing did not complete after {} attempts",
            shared.settings.max_attempts
        );
        terminal_report(&context, ScanResult::Failed, &reason, &policy, now_millis())
    } else {
        match service.blobs().sample_file(&record.job.hashes.sha256).await {
            Ok(sample) => {
                let engines = service
                    .roster()
                    .for_rule(rule.as_ref().and_then(|r| r.engines.as_deref()));
                let skip = rule.as_ref().is_some_and(|r| r.skip_antivirus_when_trusted);
                let path = sample.path().to_path_buf();
                scanned = Some(path.clone());
                _sample_kept = Some(sample);
                let runs = async {
                    let runs = run_engines(shared, &record, path, engines, skip).await;
                    // total_avs counts the engines that ran when trusted files skip some.
                    let ran = runs.iter().filter(|r| r.descriptor.in_scan_details).count();
                    let mut context = context.clone();
                    if skip {
                        context.total_avs = u32::try_from(ran).unwrap_or(u32::MAX);
                    }
                    (runs, context)
                };
                match record.job.global_timeout_ms {
                    Some(limit) => {
                        let limit = Duration::from_millis(u64::try_from(limit).unwrap_or(0));
                        match tokio::time::timeout(limit, runs).await {
                            Ok((runs, context)) => {
                                assemble_report(&context, &runs, &policy, now_millis())
                            }
                            Err(_) => {
                                let reason = format!(
                                    "analysis exceeded the global timeout of {} ms",
                                    limit.as_millis()
                                );
                                scanned = None;
                                terminal_report(
                                    &context,
                                    ScanResult::GlobalTimeoutExceeded,
                                    &reason,
                                    &policy,
                                    now_millis(),
                                )
                            }
                        }
                    }
                    None => {
                        let (runs, context) = runs.await;
                        assemble_report(&context, &runs, &policy, now_millis())
                    }
                }
            }
            Err(palisade_blobstore::BlobError::Io(error)) => {
                // The blob store is unreachable or failing (an S3 outage, a lost mount): not the
                // file's fault. The job is left to its lease and runs again; only after
                // `max_attempts` claims does it finish, as Failed, never clean.
                tracing::warn!(data_id = %data_id, %error,
                    "blob store unavailable; the job runs again when its lease expires");
                return None;
            }
            Err(error) => {
                tracing::error!(data_id = %data_id, %error, "stored file is unreadable");
                let reason = format!("stored file is unreadable: {error}");
                terminal_report(&context, ScanResult::Failed, &reason, &policy, now_millis())
            }
        }
    };
    let report = match scanned {
        Some(path) => {
            let owner = record.lease_owner.clone().unwrap_or_default();
            match archive::after_engines(
                service,
                &shared.extraction_slots,
                &shared.settings.scratch_dir,
                &owner,
                &record,
                &archives,
                &policy,
                path,
                report,
            )
            .await
            {
                archive::Next::Final(report) => *report,
                archive::Next::Waiting => return None,
            }
        }
        None => report,
    };
    let result = report.scan_results.scan_all_result_i;
    match serde_json::to_string(&report) {
        Ok(text) => Some((data_id, result, text)),
        Err(error) => {
            tracing::error!(data_id = %data_id, %error, "report did not serialise");
            None
        }
    }
}

/// Runs a rule's engines. When the rule lets trusted files skip antivirus, the hash lists run
/// first, and an allow-list or known-good match drops the antivirus engines.
async fn run_engines(
    shared: &Arc<Shared>,
    record: &JobRecord,
    path: std::path::PathBuf,
    engines: Vec<Arc<dyn Engine>>,
    skip_antivirus_when_trusted: bool,
) -> Vec<EngineRun> {
    let is_list = |engine: &Arc<dyn Engine>| {
        matches!(engine.descriptor().stage, Stage::Lists | Stage::Reputation)
    };
    if !skip_antivirus_when_trusted || !engines.iter().any(is_list) {
        return run_concurrently(shared, record, path, engines).await;
    }
    let (lists, mut rest): (Vec<_>, Vec<_>) = engines.into_iter().partition(is_list);
    let mut runs = run_concurrently(shared, record, path.clone(), lists).await;
    let trusted = runs.iter().any(|run| {
        matches!(
            run.result(),
            ScanResult::Whitelisted | ScanResult::KnownGood
        )
    });
    if trusted {
        rest.retain(|engine| engine.descriptor().stage != Stage::Antivirus);
    }
    runs.extend(run_concurrently(shared, record, path, rest).await);
    runs
}

async fn run_concurrently(
    shared: &Arc<Shared>,
    record: &JobRecord,
    path: std::path::PathBuf,
    engines: Vec<Arc<dyn Engine>>,
) -> Vec<EngineRun> {
    let mut set = JoinSet::new();
    for (index, engine) in engines.into_iter().enumerate() {
        let shared = shared.clone();
        let path = path.clone();
        let job = record.job.clone();
        set.spawn(async move {
            let run = run_one_engine(&shared, engine, path, job).await;
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
) -> EngineRun {
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
            return EngineRun {
                descriptor,
                def_time,
                scan_time_ms: 0,
                outcome: RunOutcome::NotScanned(reason),
            };
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
    let task = tokio::task::spawn_blocking(move || {
        let _memory = memory;
        let sample = Sample {
            path: &path,
            size: job.size,
            display_name: &job.display_name,
            hashes: &job.hashes,
        };
        engine.scan(&sample, &limits)
    });
    let outcome = match tokio::time::timeout(timeout, task).await {
        Ok(Ok(result)) => EngineRun::outcome_of(result),
        Ok(Err(join)) if join.is_panic() => {
            let payload = join.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            tracing::error!(engine = %descriptor.id, %message, "engine panicked");
            RunOutcome::Panicked(message)
        }
        Ok(Err(join)) => RunOutcome::Errored(join.to_string()),
        Err(_) => {
            tracing::warn!(engine = %descriptor.id, "engine timed out");
            RunOutcome::TimedOut(timeout)
        }
    };
    EngineRun {
        descriptor,
        def_time,
        scan_time_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        outcome,
    }
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
