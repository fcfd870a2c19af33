//! What a Palisade process counts for Prometheus (`/metrics`): requests, finished files, engine
//! runs, ingested bytes, extracted members, Deep CDR and Proactive DLP outcomes, and, read when
//! scraped, engine states and the queue. Names follow Prometheus' rules: the `palisade_`
//! prefix, base units (seconds, bytes), `_total` on counters, and no label that names a file.

use std::sync::atomic::AtomicU64;

use palisade_metastore::QueueState;
use palisade_model::{
    CdrAction, EngineStat, FileReport, Millis, SanitizationDetails, SanitizationResult, ScanResult,
};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

/// The media type of what [`Metrics::encode`] writes (Prometheus scrapes it natively).
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type FloatGauge = Gauge<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FinishedLabels {
    result: String,
    /// `submitted` (a file a client sent) or `extracted` (an archive member).
    origin: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EngineLabels {
    engine: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EngineErrorLabels {
    engine: String,
    /// `error`, `panic` or `timeout`.
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CdrFileLabels {
    /// `sanitized`, `failed` or `skipped`.
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CdrObjectLabels {
    object: String,
    /// `removed` or `sanitized`.
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DlpLabels {
    /// The recognizer (`ccn`, `ssn`, `iban`, `ipv4`, a rule's `regex_N`).
    kind: String,
}

/// How an engine run went wrong, for `palisade_engine_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineErrorKind {
    /// The engine answered with an error (Failed).
    Error,
    /// The engine panicked (Failed).
    Panic,
    /// The engine did not answer within its time (Not Scanned).
    Timeout,
}

impl EngineErrorKind {
    fn label(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Panic => "panic",
            Self::Timeout => "timeout",
        }
    }
}

/// What a final report adds to the counters, taken from it before it is stored and counted
/// only once the store took it (a report the metastore refused, as for a cancelled file, is
/// not a finished file).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FinishedTally {
    result: String,
    extracted: bool,
    /// Deep CDR's result, when it ran.
    cdr: Option<CdrFileLabels>,
    /// What it removed or sanitized, and how many of each.
    cdr_objects: Vec<(CdrObjectLabels, u64)>,
    dlp_hits: Vec<(String, u64)>,
}

impl FinishedTally {
    /// The tally of `report`; `extracted` for an archive member.
    pub fn of(report: &FileReport, extracted: bool) -> Self {
        let result = ScanResult::from_code(report.scan_results.scan_all_result_i)
            .map(|r| r.text().to_string())
            .unwrap_or_else(|| report.scan_results.scan_all_result_i.to_string());
        let sanitization = report
            .process_info
            .post_processing
            .sanitization_details
            .as_ref();
        let mut cdr_objects = Vec::new();
        if let Some(details) = sanitization {
            cdr_objects_of(details, &mut cdr_objects);
        }
        let dlp_hits = report
            .dlp_info
            .iter()
            .flat_map(|dlp| dlp.hits.iter())
            .map(|(kind, hits)| (kind.clone(), hits.hits.len() as u64))
            .filter(|(_, count)| *count > 0)
            .collect();
        Self {
            result,
            extracted,
            cdr: sanitization.map(|details| CdrFileLabels {
                result: cdr_result(details),
            }),
            cdr_objects,
            dlp_hits,
        }
    }
}

fn cdr_result(details: &SanitizationDetails) -> &'static str {
    match details.result {
        SanitizationResult::Sanitized => "sanitized",
        SanitizationResult::Failed => "failed",
        SanitizationResult::Skipped => "skipped",
    }
}

/// Every kind of object Deep CDR removed or sanitized, embedded files' own included.
fn cdr_objects_of(details: &SanitizationDetails, into: &mut Vec<(CdrObjectLabels, u64)>) {
    let mut pending: Vec<&palisade_model::SanitizedObject> = details.details.iter().collect();
    while let Some(object) = pending.pop() {
        if object.file_name.is_empty() && object.count > 0 {
            let action = match object.action {
                CdrAction::Removed => "removed",
                CdrAction::Sanitized => "sanitized",
            };
            let labels = CdrObjectLabels {
                object: object.object_name.clone(),
                action,
            };
            into.push((labels, object.count));
        }
        pending.extend(object.details.iter());
    }
}

/// The metrics of one process: counters moved as things happen, gauges set when scraped.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram>,
    files_finished: Family<FinishedLabels, Counter>,
    engine_duration: Family<EngineLabels, Histogram>,
    engine_errors: Family<EngineErrorLabels, Counter>,
    engine_up: Family<EngineLabels, Gauge>,
    engine_definitions_age: Family<EngineLabels, FloatGauge>,
    queue_depth: Gauge,
    queue_oldest_age: FloatGauge,
    ingested_bytes: Counter,
    members_extracted: Counter,
    cdr_files: Family<CdrFileLabels, Counter>,
    cdr_objects: Family<CdrObjectLabels, Counter>,
    dlp_hits: Family<DlpLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn request_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

fn engine_histogram() -> Histogram {
    // 1 ms to about 65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("palisade");
        registry.register(
            "build",
            "Palisade's version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route, method and status",
            http_requests.clone(),
        );
        let http_duration = Family::<RouteLabels, Histogram>::new_with_constructor(
            request_histogram as fn() -> Histogram,
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's headers to its answer's headers, by route and method",
            Unit::Seconds,
            http_duration.clone(),
        );
        let files_finished = Family::<FinishedLabels, Counter>::default();
        registry.register(
            "files_finished",
            "Files whose final report was stored, by overall result and origin",
            files_finished.clone(),
        );
        let engine_duration = Family::<EngineLabels, Histogram>::new_with_constructor(
            engine_histogram as fn() -> Histogram,
        );
        registry.register_with_unit(
            "engine_scan_duration",
            "Time of each engine's scan of a file, by engine",
            Unit::Seconds,
            engine_duration.clone(),
        );
        let engine_errors = Family::<EngineErrorLabels, Counter>::default();
        registry.register(
            "engine_errors",
            "Engine runs that failed, panicked or timed out, by engine",
            engine_errors.clone(),
        );
        let engine_up = Family::<EngineLabels, Gauge>::default();
        registry.register(
            "engine_up",
            "1 when the engine is in production (on a gateway: on at least one online node)",
            engine_up.clone(),
        );
        let engine_definitions_age = Family::<EngineLabels, FloatGauge>::default();
        registry.register_with_unit(
            "engine_definitions_age",
            "Age of the engine's definitions (engines that have definitions)",
            Unit::Seconds,
            engine_definitions_age.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Jobs queued and not yet claimed (submitted files and archive members)",
            queue_depth.clone(),
        );
        let queue_oldest_age = FloatGauge::default();
        registry.register_with_unit(
            "queue_oldest_age",
            "Time since the oldest queued job was uploaded (0 when nothing is queued)",
            Unit::Seconds,
            queue_oldest_age.clone(),
        );
        let ingested_bytes = Counter::default();
        registry.register_with_unit(
            "ingested",
            "Bytes of files accepted from clients",
            Unit::Bytes,
            ingested_bytes.clone(),
        );
        let members_extracted = Counter::default();
        registry.register(
            "archive_members_extracted",
            "Archive members extracted and queued for analysis",
            members_extracted.clone(),
        );
        let cdr_files = Family::<CdrFileLabels, Counter>::default();
        registry.register(
            "cdr_files",
            "Files Deep CDR finished with, by result (sanitized, failed, skipped)",
            cdr_files.clone(),
        );
        let cdr_objects = Family::<CdrObjectLabels, Counter>::default();
        registry.register(
            "cdr_objects",
            "Objects Deep CDR removed or sanitized, by kind of object and action",
            cdr_objects.clone(),
        );
        let dlp_hits = Family::<DlpLabels, Counter>::default();
        registry.register(
            "dlp_hits",
            "Sensitive data Proactive DLP found in finished files, by recognizer",
            dlp_hits.clone(),
        );
        Self {
            registry,
            http_requests,
            http_duration,
            files_finished,
            engine_duration,
            engine_errors,
            engine_up,
            engine_definitions_age,
            queue_depth,
            queue_oldest_age,
            ingested_bytes,
            members_extracted,
            cdr_files,
            cdr_objects,
            dlp_hits,
        }
    }

    /// One answered HTTP request. `route` is the route's pattern (`/file/{data_id}`), never the
    /// path a client sent.
    pub fn http_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.http_requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                method: method.to_string(),
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels {
                route: route.to_string(),
                method: method.to_string(),
            })
            .observe(seconds);
    }

    /// One engine's run on one file, and how it went wrong if it did.
    pub fn engine_ran(&self, engine: &str, seconds: f64, error: Option<EngineErrorKind>) {
        let labels = EngineLabels {
            engine: engine.to_string(),
        };
        self.engine_duration.get_or_create(&labels).observe(seconds);
        if let Some(kind) = error {
            self.engine_errors
                .get_or_create(&EngineErrorLabels {
                    engine: labels.engine,
                    kind: kind.label(),
                })
                .inc();
        }
    }

    /// A final report the metastore stored.
    pub fn file_finished(&self, tally: &FinishedTally) {
        self.files_finished
            .get_or_create(&FinishedLabels {
                result: tally.result.clone(),
                origin: if tally.extracted {
                    "extracted"
                } else {
                    "submitted"
                },
            })
            .inc();
        if let Some(labels) = &tally.cdr {
            self.cdr_files.get_or_create(labels).inc();
        }
        for (labels, count) in &tally.cdr_objects {
            self.cdr_objects.get_or_create(labels).inc_by(*count);
        }
        for (kind, count) in &tally.dlp_hits {
            self.dlp_hits
                .get_or_create(&DlpLabels { kind: kind.clone() })
                .inc_by(*count);
        }
    }

    /// A file accepted from a client, of `bytes` bytes.
    pub fn ingested(&self, bytes: u64) {
        self.ingested_bytes.inc_by(bytes);
    }

    /// Archive members queued for analysis.
    pub fn members_extracted(&self, count: u64) {
        self.members_extracted.inc_by(count);
    }

    /// Sets the gauges read when scraped: the engines' states and the queue, at `now`.
    pub fn set_scraped(&self, engines: &[EngineStat], queue: QueueState, now: Millis) {
        self.engine_up.clear();
        self.engine_definitions_age.clear();
        for engine in engines {
            let labels = EngineLabels {
                engine: engine.eng_id.clone(),
            };
            self.engine_up
                .get_or_create(&labels)
                .set(i64::from(engine.active));
            if let Some(defined) = palisade_model::parse_timestamp(&engine.def_time) {
                self.engine_definitions_age
                    .get_or_create(&labels)
                    .set(seconds_between(defined, now));
            }
        }
        self.queue_depth
            .set(i64::try_from(queue.depth).unwrap_or(i64::MAX));
        self.queue_oldest_age.set(
            queue
                .oldest_upload
                .map_or(0.0, |uploaded| seconds_between(uploaded, now)),
        );
    }

    /// The metrics in the OpenMetrics text format ([`METRICS_CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

fn seconds_between(earlier: Millis, later: Millis) -> f64 {
    (later.saturating_sub(earlier)).max(0) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_end_in_total_and_units_are_in_the_names() {
        let metrics = Metrics::new();
        metrics.http_request("/file/{data_id}", "GET", 200, 0.002);
        metrics.ingested(4096);
        metrics.engine_ran("clamav", 0.01, Some(EngineErrorKind::Timeout));
        let text = metrics.encode();
        for line in [
            "palisade_build_info{version=\"",
            "palisade_http_requests_total{route=\"/file/{data_id}\",method=\"GET\",status=\"200\"} 1",
            "palisade_http_request_duration_seconds_count{route=\"/file/{data_id}\",method=\"GET\"} 1",
            "palisade_ingested_bytes_total 4096",
            "palisade_engine_errors_total{engine=\"clamav\",kind=\"timeout\"} 1",
            "palisade_queue_depth 0",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn scraped_gauges_follow_the_engines_and_the_queue() {
        let metrics = Metrics::new();
        let engine = EngineStat {
            eng_id: "clamav".into(),
            active: true,
            def_time: "2026-12-01T00:00:00.000Z".into(),
            ..EngineStat::default()
        };
        let now = palisade_model::parse_timestamp("2026-12-02T00:00:10.000Z").unwrap();
        let queue = QueueState {
            depth: 7,
            oldest_upload: Some(now - 2_500),
        };
        metrics.set_scraped(&[engine], queue, now);
        let text = metrics.encode();
        assert!(
            text.contains("palisade_engine_up{engine=\"clamav\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("palisade_engine_definitions_age_seconds{engine=\"clamav\"} 86410.0"),
            "{text}"
        );
        assert!(text.contains("palisade_queue_depth 7"), "{text}");
        assert!(
            text.contains("palisade_queue_oldest_age_seconds 2.5"),
            "{text}"
        );
        // An engine gone from the list is gone from the metrics.
        metrics.set_scraped(&[], QueueState::default(), now);
        assert!(!metrics.encode().contains("engine=\"clamav\""));
    }
}
