//! Workers with scripted engines: a failing, crashing or hanging engine is recorded with its
//! reason and never reads as clean, and a job that keeps failing ends as Failed. Engines that
//! hold whole files in memory stay within the scan memory budget.

use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade_blobstore::BlobStore;
use palisade_metastore::Metastore;
use palisade_model::{FileReport, ProcessResult, ScanResult};
use palisade_pipeline::{
    Engine, EngineDescriptor, EngineError, EngineStatus, Finding, Roster, Sample, ScanContext,
    Stage,
};
use palisade_service::{
    BatchSigner, Caller, Service, ServiceSettings, SubmitRequest, UploadLength,
};
use palisade_worker::{WorkerSettings, run_workers};

/// What a scripted engine does with every file.
#[derive(Clone, Copy)]
enum Script {
    Clean,
    Detect,
    Fail,
    Panic,
    Hang,
}

struct ScriptedEngine {
    descriptor: EngineDescriptor,
    script: Script,
}

impl ScriptedEngine {
    fn shared(name: &str, script: Script) -> Arc<dyn Engine> {
        Arc::new(Self {
            descriptor: EngineDescriptor {
                id: name.to_lowercase(),
                name: name.into(),
                stage: Stage::Antivirus,
                in_scan_details: true,
                kind: palisade_model::EngineKind::Command,
                produces: None,
            },
            script,
        })
    }
}

impl Engine for ScriptedEngine {
    fn descriptor(&self) -> &EngineDescriptor {
        &self.descriptor
    }

    fn status(&self) -> EngineStatus {
        EngineStatus::production("1", "2026-01-01T00:00:00.000Z")
    }

    fn scan(&self, sample: &Sample<'_>, _context: &ScanContext) -> Result<Finding, EngineError> {
        // Engines really read the file.
        let bytes = std::fs::read(sample.path)?;
        assert_eq!(bytes.len() as u64, sample.size);
        match self.script {
            Script::Clean => Ok(Finding::clean()),
            Script::Detect => Ok(Finding {
                result: ScanResult::Infected,
                threat_found: "Scripted.Threat".into(),
                ..Finding::clean()
            }),
            Script::Fail => Err(EngineError::Failed("daemon unreachable".into())),
            Script::Panic => panic!("scripted crash"),
            Script::Hang => {
                std::thread::sleep(Duration::from_secs(3));
                Ok(Finding::clean())
            }
        }
    }
}

struct Fixture {
    service: Service,
    _dir: tempfile::TempDir,
    wake: Arc<tokio::sync::Notify>,
}

async fn fixture(engines: Vec<Arc<dyn Engine>>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let metastore = Metastore::open(&format!("sqlite://{}", dir.path().join("m.db").display()))
        .await
        .unwrap();
    let blobs = BlobStore::open(dir.path().join("blobs").to_str().unwrap()).unwrap();
    let wake = Arc::new(tokio::sync::Notify::new());
    let service = Service::new(
        metastore,
        blobs,
        ServiceSettings::default(),
        Roster::new(engines),
        BatchSigner::in_data_dir(dir.path()),
        wake.clone(),
    );
    Fixture {
        service,
        _dir: dir,
        wake,
    }
}

fn admin() -> Caller {
    Caller {
        username: "admin".into(),
        role: "admin".into(),
    }
}

async fn submit(service: &Service, bytes: &'static [u8]) -> String {
    submit_with_timeout(service, bytes, None).await
}

async fn submit_with_timeout(
    service: &Service,
    bytes: &'static [u8],
    global_timeout: Option<Duration>,
) -> String {
    let mut chunks = vec![bytes::Bytes::from_static(bytes)];
    let request = SubmitRequest {
        length: UploadLength::Known(bytes.len() as u64),
        filename: "sample.bin".into(),
        rule: None,
        user_agent: String::new(),
        batch_id: None,
        archive_passwords: Vec::new(),
        metadata: String::new(),
        callback_url: String::new(),
        local_path: None,
        encoding: palisade_service::ContentEncoding::Identity,
        global_timeout,
    };
    service
        .submit(&admin(), request, move || {
            let next = chunks.pop();
            async move { Ok::<_, std::io::Error>(next) }
        })
        .await
        .unwrap()
        .as_str()
        .to_string()
}

async fn wait_final(service: &Service, data_id: &str) -> FileReport {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let report = service.report(data_id).await.unwrap().unwrap();
        if report.is_final() {
            return report;
        }
        assert!(Instant::now() < deadline, "job never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Worker loops running in the background of a test.
struct Workers {
    stop: tokio::sync::watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

impl Workers {
    fn start(fixture: &Fixture, settings: WorkerSettings) -> Self {
        let (stop, receiver) = tokio::sync::watch::channel(false);
        let handle = tokio::spawn(run_workers(
            fixture.service.clone(),
            "test-node".into(),
            settings,
            fixture.wake.clone(),
            receiver,
        ));
        Self { stop, handle }
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        self.handle.await.unwrap();
    }
}

fn settings() -> WorkerSettings {
    WorkerSettings {
        workers: 2,
        engine_timeout: Duration::from_millis(300),
        lease: Duration::from_secs(5),
        heartbeat: Duration::from_secs(1),
        poll_interval: Duration::from_millis(50),
        ..WorkerSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_failures_are_recorded_and_never_read_as_clean() {
    let fixture = fixture(vec![
        ScriptedEngine::shared("Clean", Script::Clean),
        ScriptedEngine::shared("Broken", Script::Fail),
        ScriptedEngine::shared("Crashy", Script::Panic),
        ScriptedEngine::shared("Slow", Script::Hang),
    ])
    .await;
    let workers = Workers::start(&fixture, settings());
    let data_id = submit(&fixture.service, b"some file").await;
    let report = wait_final(&fixture.service, &data_id).await;
    let details = &report.scan_results.scan_details;
    assert_eq!(details["Clean"].scan_result_i, 0);
    assert_eq!(details["Broken"].scan_result_i, 3);
    assert!(
        details["Broken"]
            .threat_found
            .contains("daemon unreachable")
    );
    assert_eq!(details["Crashy"].scan_result_i, 3);
    assert!(details["Crashy"].threat_found.contains("scripted crash"));
    assert_eq!(details["Slow"].scan_result_i, 10);
    assert!(details["Slow"].threat_found.contains("timed out"));
    assert_eq!(report.scan_results.total_avs, 4);
    assert_eq!(report.scan_results.scan_all_result_i, 3);
    assert_eq!(report.process_info.result, ProcessResult::Blocked);
    workers.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detection_outranks_a_failure_and_clean_files_stay_clean() {
    let fixture = fixture(vec![
        ScriptedEngine::shared("Detector", Script::Detect),
        ScriptedEngine::shared("Broken", Script::Fail),
    ])
    .await;
    let workers = Workers::start(&fixture, settings());
    let data_id = submit(&fixture.service, b"bad file").await;
    let report = wait_final(&fixture.service, &data_id).await;
    assert_eq!(report.scan_results.scan_all_result_i, 1);
    assert_eq!(report.process_info.blocked_reason, "Infected");
    assert_eq!(
        report.scan_results.scan_details["Detector"].threat_found,
        "Scripted.Threat"
    );
    workers.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_attempts_run_out_finishes_as_failed_with_the_reason() {
    let fixture = fixture(vec![ScriptedEngine::shared("Clean", Script::Clean)]).await;
    let data_id = submit(&fixture.service, b"cursed file").await;
    // Three workers "crash" in turn: each claims the job and never heartbeats.
    let metastore = fixture.service.metastore();
    let now = palisade_model::now_millis();
    for attempt in 0..3 {
        let claimed = metastore
            .claim(
                "crashed",
                now - 100_000 + attempt * 10_000,
                1_000,
                1,
                u32::MAX,
            )
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
    }
    let workers = Workers::start(&fixture, settings());
    let report = wait_final(&fixture.service, &data_id).await;
    assert_eq!(report.scan_results.scan_all_result_i, 3);
    assert!(
        report
            .process_info
            .verdicts
            .iter()
            .any(|v| v.contains("did not complete after 3 attempts")),
        "{:?}",
        report.process_info.verdicts
    );
    workers.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_its_global_timeout_ends_as_global_timeout_exceeded() {
    let fixture = fixture(vec![ScriptedEngine::shared("Slow", Script::Hang)]).await;
    let workers = Workers::start(
        &fixture,
        WorkerSettings {
            engine_timeout: Duration::from_secs(10),
            ..settings()
        },
    );
    let started = Instant::now();
    let data_id =
        submit_with_timeout(&fixture.service, b"slow file", Some(Duration::from_secs(1))).await;
    let report = wait_final(&fixture.service, &data_id).await;
    assert!(
        started.elapsed() < Duration::from_millis(2900),
        "the global timeout cut it short"
    );
    assert_eq!(report.scan_results.scan_all_result_i, 31);
    assert_eq!(
        report.scan_results.scan_all_result_a,
        "Global Timeout Exceeded"
    );
    assert_eq!(report.process_info.result, ProcessResult::Blocked);
    assert!(
        report
            .process_info
            .verdicts
            .iter()
            .any(|v| v.contains("global timeout of 1000 ms"))
    );
    workers.stop().await;
}

/// An engine that reads each file whole into memory, and records the most it held at once.
struct WholeFileEngine {
    descriptor: EngineDescriptor,
    held: std::sync::atomic::AtomicU64,
    peak: std::sync::atomic::AtomicU64,
}

impl Engine for WholeFileEngine {
    fn descriptor(&self) -> &EngineDescriptor {
        &self.descriptor
    }

    fn status(&self) -> EngineStatus {
        EngineStatus::production("1", "2026-01-01T00:00:00.000Z")
    }

    fn memory_for(&self, sample: &Sample<'_>) -> u64 {
        sample.size
    }

    fn scan(&self, sample: &Sample<'_>, _context: &ScanContext) -> Result<Finding, EngineError> {
        use std::sync::atomic::Ordering;
        let bytes = std::fs::read(sample.path)?;
        let held = self.held.fetch_add(bytes.len() as u64, Ordering::SeqCst) + bytes.len() as u64;
        self.peak.fetch_max(held, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(40));
        self.held.fetch_sub(bytes.len() as u64, Ordering::SeqCst);
        Ok(Finding::clean())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_file_scans_share_the_memory_budget_and_bigger_files_are_not_scanned() {
    let engine = Arc::new(WholeFileEngine {
        descriptor: EngineDescriptor {
            id: "whole".into(),
            name: "Whole".into(),
            stage: Stage::Yara,
            in_scan_details: true,
            kind: palisade_model::EngineKind::Yara,
            produces: None,
        },
        held: Default::default(),
        peak: Default::default(),
    });
    let fixture = fixture(vec![engine.clone()]).await;
    let workers = Workers::start(
        &fixture,
        WorkerSettings {
            scan_memory: 2500,
            engine_timeout: Duration::from_secs(10),
            ..settings()
        },
    );
    let mut ids = Vec::new();
    for index in 0..8u8 {
        let bytes: &'static [u8] = Vec::leak(vec![index; 1000]);
        ids.push(submit(&fixture.service, bytes).await);
    }
    let too_big: &'static [u8] = Vec::leak(vec![b'x'; 3000]);
    let big_id = submit(&fixture.service, too_big).await;
    for data_id in &ids {
        let report = wait_final(&fixture.service, data_id).await;
        assert_eq!(report.scan_results.scan_all_result_i, 0);
    }
    let peak = engine.peak.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (1000..=2000).contains(&peak),
        "at most two 1000-byte files fit a 2500-byte budget at once, held {peak}"
    );
    let report = wait_final(&fixture.service, &big_id).await;
    let whole = &report.scan_results.scan_details["Whole"];
    assert_eq!(whole.scan_result_i, 10, "{whole:?}");
    assert!(
        whole.threat_found.contains("scan memory budget"),
        "{}",
        whole.threat_found
    );
    assert_ne!(report.scan_results.scan_all_result_i, 0, "never clean");
    workers.stop().await;
}
