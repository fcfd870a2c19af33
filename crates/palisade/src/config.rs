//! The configuration file: plain serde structs (every field has a default) validated into the
//! typed settings of each crate. Environment variables override secrets and URLs only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use palisade_engine_clamav::{ClamavEngine, ClamavSettings, ClamdAddress};
use palisade_engine_command::{CommandEngine, CommandSettings};
use palisade_engine_icap::{IcapEngine, IcapSettings, IcapUrl};
use palisade_model::ScanResult;
use palisade_pipeline::Engine;
use palisade_service::{RuleSettings, ServiceSettings, UserSettings};
use palisade_worker::WorkerSettings;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    pub server: ServerSection,
    pub storage: StorageSection,
    pub queue: QueueSection,
    pub auth: AuthSection,
    pub users: Vec<UserEntry>,
    pub rules: Vec<RuleEntry>,
    pub yara: YaraSection,
    /// Further engines, one `[[engines]]` table each.
    pub engines: Vec<EngineEntry>,
    pub autodetect: AutodetectSection,
    pub signing: SigningSection,
    pub health: HealthSection,
    pub lists: ListsSection,
    pub reputation: ReputationSection,
    pub cluster: ClusterSection,
    pub http: HttpSection,
    pub readiness: ReadinessSection,
    pub tls: TlsSection,
    pub outputs: OutputsSection,
    pub metrics: MetricsSection,
    pub console: ConsoleSection,
    pub isolation: IsolationSection,
    pub cdr: CdrSection,
    pub dlp: DlpSection,
}

/// `[dlp]`: the built-in Proactive DLP engine (id `dlp`), which looks for card numbers, social
/// security numbers, IBANs, IPv4 addresses and the rules' own patterns. It always runs in
/// parser processes.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DlpSection {
    /// Whether the engine is configured; rules then run it unless their `engines` leave it out.
    pub enabled: bool,
}

/// `[rules.dlp]`: what a rule's DLP looks for, how certain a hit must be, and what the report
/// shows of it.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DlpEntry {
    /// The built-in recognizers that run (`ccn`, `ssn`, `iban`, `ipv4`); absent: all of them.
    pub recognizers: Option<Vec<String>>,
    /// Per recognizer, the lowest certainty reported (default `low`).
    pub thresholds: BTreeMap<String, palisade_model::Certainty>,
    /// Per recognizer, more words that raise a hit's score when near it.
    pub keywords: BTreeMap<String, Vec<String>>,
    /// The operator's patterns, reported as `regex_0`, `regex_1`... in this order.
    pub patterns: Vec<palisade_model::CustomPattern>,
    /// The certainty from which a hit makes the file Sensitive Data Found (default `high`).
    pub min_certainty: Option<palisade_model::Certainty>,
    /// Show hits and their context in full in stored reports (default: masked).
    pub show_values: bool,
    /// Characters of context before and after each hit (default 30).
    pub context_chars: Option<usize>,
    /// Bytes of text examined per file (default 64 MiB); the report says when a file had more.
    pub max_text_bytes: Option<u64>,
    /// Write a redacted copy (every hit at `min_certainty` masked), served by
    /// `GET /file/download/{data_id}` (default false).
    pub redact: bool,
    /// Take the document metadata out of the copy (default false); a file of a format with
    /// metadata gets a copy for it even without hits.
    pub remove_metadata: bool,
}

impl DlpEntry {
    pub fn policy(&self, rule: &str) -> anyhow::Result<palisade_model::DlpPolicy> {
        use palisade_model::Recognizer;
        let recognizer = |key: &str, setting: &str| {
            Recognizer::from_key(key).with_context(|| {
                let known: Vec<&str> = Recognizer::ALL.iter().map(|r| r.key()).collect();
                format!(
                    "rule {rule:?}: dlp.{setting}: unknown recognizer {key:?} (known: {})",
                    known.join(", ")
                )
            })
        };
        let mut policy = palisade_model::DlpPolicy::default();
        if let Some(keys) = &self.recognizers {
            let chosen = keys
                .iter()
                .map(|key| recognizer(key, "recognizers"))
                .collect::<anyhow::Result<Vec<_>>>()?;
            policy.recognizers.retain(|r, _| chosen.contains(r));
        }
        for (key, certainty) in &self.thresholds {
            let chosen = recognizer(key, "thresholds")?;
            if let Some(floor) = policy.recognizers.get_mut(&chosen) {
                *floor = *certainty;
            }
        }
        for (key, words) in &self.keywords {
            policy
                .keywords
                .insert(recognizer(key, "keywords")?, words.clone());
        }
        policy.patterns = self.patterns.clone();
        if let Some(certainty) = self.min_certainty {
            policy.min_certainty = certainty;
        }
        policy.show_values = self.show_values;
        if let Some(chars) = self.context_chars {
            policy.context_chars = chars.min(200);
        }
        if let Some(bytes) = self.max_text_bytes {
            policy.max_text_bytes = bytes.max(1);
        }
        policy.redact = self.redact;
        policy.remove_metadata = self.remove_metadata;
        palisade_engine_dlp::Recognizers::new(&policy)
            .map_err(|error| anyhow::anyhow!("rule {rule:?}: dlp.patterns: {error}"))?;
        Ok(policy)
    }
}

/// `[cdr]`: the built-in Deep CDR engine (id `cdr`), which rebuilds documents without their
/// active content. It always runs in parser processes.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CdrSection {
    /// Whether the engine is configured; rules then run it unless their `engines` leave it out.
    pub enabled: bool,
}

/// `[rules.cdr]`: what a rule's sanitization removes, keeps or blocks on, and its limits.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CdrEntry {
    /// Formats sanitized (`pdf`); empty: every supported one.
    pub formats: Vec<String>,
    /// Object kinds removed besides the defaults (`hyperlink`).
    pub remove: Vec<String>,
    /// Object kinds kept (`metadata`, ...).
    pub keep: Vec<String>,
    /// Object kinds whose presence blocks the file (30 Blocked Verdict by Deep CDR).
    pub block_on: Vec<String>,
    /// Digitally signed documents: "skip" (default), "sanitize" or "block".
    pub signed: palisade_model::SignedDocuments,
    /// Report what would be removed, write no copy.
    pub analysis_only: bool,
    pub max_file_size: Option<u64>,
    pub time_limit_seconds: Option<f64>,
    /// The copy's name; `{stem}` and `{ext}` are the submitted name's (default
    /// `{stem}_sanitized.{ext}`).
    pub output_name: Option<String>,
    /// Archive members that cannot be sanitized: "tombstone" (default) or "fail".
    pub failed_members: palisade_model::FailedMembers,
}

impl CdrEntry {
    pub fn policy(&self, rule: &str) -> anyhow::Result<palisade_model::CdrPolicy> {
        use palisade_model::ActiveObject;
        let kinds = |names: &[String], key: &str| -> anyhow::Result<Vec<ActiveObject>> {
            names
                .iter()
                .map(|name| {
                    ActiveObject::parse(name).with_context(|| {
                        let known: Vec<&str> = ActiveObject::ALL.iter().map(|k| k.key()).collect();
                        format!(
                            "rule {rule:?}: cdr.{key}: unknown object kind {name:?} (known: {})",
                            known.join(", ")
                        )
                    })
                })
                .collect()
        };
        let mut policy = palisade_model::CdrPolicy::default();
        for format in &self.formats {
            if !palisade_engine_cdr::FORMATS.contains(&format.as_str()) {
                bail!(
                    "rule {rule:?}: cdr.formats: {format:?} is not sanitized (supported: {})",
                    palisade_engine_cdr::FORMATS.join(", ")
                );
            }
        }
        policy.formats = self.formats.clone();
        for kind in kinds(&self.remove, "remove")? {
            policy.remove.insert(kind, true);
        }
        for kind in kinds(&self.keep, "keep")? {
            if policy.remove.insert(kind, false) == Some(true) {
                bail!(
                    "rule {rule:?}: cdr: {:?} is both removed and kept",
                    kind.key()
                );
            }
        }
        policy.block_on = kinds(&self.block_on, "block_on")?;
        policy.signed = self.signed;
        policy.analysis_only = self.analysis_only;
        policy.failed_members = self.failed_members;
        if let Some(max) = self.max_file_size {
            policy.max_file_size = max;
        }
        if let Some(limit) = self.time_limit_seconds {
            let limit = seconds(limit, "rules.cdr.time_limit_seconds")?;
            policy.time_limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        }
        if let Some(name) = &self.output_name {
            if name.contains('/') || name.contains('\\') || !name.contains("{stem}") {
                bail!("rule {rule:?}: cdr.output_name must name a file and contain {{stem}}");
            }
            policy.output_name = name.clone();
        }
        Ok(policy)
    }
}

/// `[outputs]`: the copies analyses produce (sanitized, redacted files).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputsSection {
    /// Hours a copy can be downloaded; then it is deleted and the report says `outdated_data:
    /// ["sanitization"]`.
    pub retention_hours: f64,
    /// How often expired copies are deleted.
    pub sweep_seconds: f64,
}

impl Default for OutputsSection {
    fn default() -> Self {
        Self {
            retention_hours: 24.0,
            sweep_seconds: 60.0,
        }
    }
}

/// `[console]`: the web console under `/console` of the API listener.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleSection {
    /// Serve the console (people log in with the accounts of `[[users]]` and `palisade user add`).
    pub enabled: bool,
}

impl Default for ConsoleSection {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// `[metrics]`: Prometheus metrics at `/metrics`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSection {
    /// Serve `/metrics` at all.
    pub enabled: bool,
    /// Readers need an API key (`apikey` header or `?apikey=`) or a session.
    pub require_apikey: bool,
    /// An address of its own for `/metrics` (then it is not served on the API or health
    /// listener).
    pub listen: Option<String>,
}

impl Default for MetricsSection {
    fn default() -> Self {
        Self {
            enabled: true,
            require_apikey: false,
            listen: None,
        }
    }
}

impl MetricsSection {
    /// The separate address to serve `/metrics` on, if it has one and is enabled.
    pub fn own_listener(&self) -> Option<&str> {
        self.listen.as_deref().filter(|_| self.enabled)
    }
}

/// `[tls]`: HTTPS on the listener (the API of gateways and `serve`, the health listener of nodes).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSection {
    /// PEM certificate chain and private key; both or neither.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// PEM CA certificates: when set, clients must present a certificate signed by one.
    pub client_ca_file: Option<PathBuf>,
    /// How often the files are checked for changes (renewals are served without a restart).
    pub reload_seconds: f64,
}

impl Default for TlsSection {
    fn default() -> Self {
        Self {
            cert_file: None,
            key_file: None,
            client_ca_file: None,
            reload_seconds: 10.0,
        }
    }
}

/// The listener's TLS, loaded (a file that does not load stops the start), or `None` for HTTP.
pub fn tls(section: &TlsSection) -> anyhow::Result<Option<Arc<palisade_api::Tls>>> {
    let (cert_file, key_file) = match (&section.cert_file, &section.key_file) {
        (Some(cert), Some(key)) => (cert.clone(), key.clone()),
        (None, None) if section.client_ca_file.is_none() => return Ok(None),
        (None, None) => bail!("tls.client_ca_file needs tls.cert_file and tls.key_file"),
        _ => bail!("tls.cert_file and tls.key_file go together"),
    };
    let settings = palisade_api::TlsSettings {
        cert_file,
        key_file,
        client_ca_file: section.client_ca_file.clone(),
        reload_interval: seconds(section.reload_seconds, "tls.reload_seconds")?,
    };
    palisade_api::Tls::load(settings)
        .map(|tls| Some(Arc::new(tls)))
        .map_err(|problem| anyhow::anyhow!("TLS: {problem}"))
}

/// `[readiness]`: what `/readyz` checks besides reaching the stores.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadinessSection {
    /// How often the stores are probed with a small write and free disk space is checked.
    pub probe_seconds: f64,
    /// Free space below which the data directory's (and local blob store's) disk counts as full.
    pub min_free_mib: u64,
}

impl Default for ReadinessSection {
    fn default() -> Self {
        Self {
            probe_seconds: 5.0,
            min_free_mib: 256,
        }
    }
}

/// `[http]`: limits of the HTTP listener against clients that hold connections open.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSection {
    /// Connections open at once (also held under the open-file limit, keeping a reserve).
    pub max_connections: usize,
    /// Time a new connection has to send its first complete request head.
    pub header_timeout_seconds: f64,
    /// Time a keep-alive connection may wait after a response for its next request head.
    pub idle_timeout_seconds: f64,
    /// Slowest request body accepted after `body_grace_seconds`, in bytes per second (0: none).
    pub body_min_bytes_per_second: u64,
    pub body_grace_seconds: f64,
    /// Longest pause between two pieces of a request body.
    pub body_idle_seconds: f64,
    /// Most header lines in one request, and most bytes of request line and headers.
    pub max_headers: usize,
    pub max_header_bytes: usize,
}

impl Default for HttpSection {
    fn default() -> Self {
        let limits = palisade_api::HttpLimits::default();
        Self {
            max_connections: limits.max_connections,
            header_timeout_seconds: limits.header_timeout.as_secs_f64(),
            idle_timeout_seconds: limits.idle_timeout.as_secs_f64(),
            body_min_bytes_per_second: limits.body_min_rate,
            body_grace_seconds: limits.body_grace.as_secs_f64(),
            body_idle_seconds: limits.body_idle.as_secs_f64(),
            max_headers: limits.max_headers,
            max_header_bytes: limits.max_header_bytes,
        }
    }
}

/// Open files kept for everything but connections (databases, blobs, engines, scratch files).
const RESERVED_FILES: u64 = 64;

/// The listener's limits. `open_files` is the process's open-file limit: connections stay a
/// reserve below it, so a flood of connections can never starve the rest of the server of
/// file descriptors.
pub fn http_limits(
    section: &HttpSection,
    open_files: Option<u64>,
) -> anyhow::Result<palisade_api::HttpLimits> {
    if section.max_connections == 0 {
        bail!("http.max_connections must be at least 1");
    }
    if section.max_headers < 16 || section.max_header_bytes < 4096 {
        bail!("http.max_headers must be at least 16 and http.max_header_bytes at least 4096");
    }
    let mut max_connections = section.max_connections;
    if let Some(limit) = open_files {
        let reserve = RESERVED_FILES.max(limit / 4);
        let room = usize::try_from(limit.saturating_sub(reserve).max(16)).unwrap_or(usize::MAX);
        max_connections = max_connections.min(room);
    }
    Ok(palisade_api::HttpLimits {
        max_connections,
        header_timeout: seconds(
            section.header_timeout_seconds,
            "http.header_timeout_seconds",
        )?,
        idle_timeout: seconds(section.idle_timeout_seconds, "http.idle_timeout_seconds")?,
        body_min_rate: section.body_min_bytes_per_second,
        body_grace: seconds(section.body_grace_seconds, "http.body_grace_seconds")?,
        body_idle: seconds(section.body_idle_seconds, "http.body_idle_seconds")?,
        max_headers: section.max_headers,
        max_header_bytes: section.max_header_bytes,
    })
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSection {
    /// How often each process records itself in the node registry; three missed beats and it
    /// shows offline in `/stat/nodes`.
    pub heartbeat_seconds: f64,
    /// This process's name in the registry; default: generated once and kept in the data
    /// directory (`node-id-<role>`), so a restarted node rejoins under its old name.
    pub node_id: Option<String>,
    /// A node not seen for this long is dropped from the registry (it died and never came back).
    pub forget_offline_after_hours: f64,
}

impl Default for ClusterSection {
    fn default() -> Self {
        Self {
            heartbeat_seconds: 5.0,
            node_id: None,
            forget_offline_after_hours: 24.0,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthSection {
    /// How often every engine's health is checked (clamd, ICAP servers, scanners).
    pub check_seconds: f64,
}

impl Default for HealthSection {
    fn default() -> Self {
        Self {
            check_seconds: 10.0,
        }
    }
}

/// An engine instance; `kind` says which engine it is. Several of one kind may be configured.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum EngineEntry {
    Clamav(ClamavEntry),
    Icap(IcapEntry),
    Command(CommandEntry),
    /// A test engine that fails on purpose (the `fault-engines` build only).
    #[cfg(feature = "fault-engines")]
    Fault(FaultEntry),
}

impl EngineEntry {
    fn id(&self) -> &str {
        match self {
            EngineEntry::Clamav(entry) => &entry.id,
            EngineEntry::Icap(entry) => &entry.id,
            EngineEntry::Command(entry) => &entry.id,
            #[cfg(feature = "fault-engines")]
            EngineEntry::Fault(entry) => &entry.id,
        }
    }
}

/// `kind = "fault"`: `fault` is `abort`, `stack-overflow`, `allocate-8gib`, `spin` or
/// `write-10gib`, done on files containing `FAULT-NOW`.
#[cfg(feature = "fault-engines")]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultEntry {
    pub id: String,
    pub name: Option<String>,
    pub fault: String,
}

/// `[isolation]`: engines whose scans run in child processes, and whether archives are opened
/// in them (see `palisade_isolate`).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IsolationSection {
    /// Ids of the engines to isolate.
    pub engines: Vec<String>,
    /// Whether zip, 7z, tar and the compressed streams are decoded in parser processes.
    pub archives: bool,
    pub memory_mib: u64,
    pub cpu_seconds: u64,
    pub output_mib: u64,
    pub open_files: u64,
    pub timeout_seconds: f64,
    /// Warm children kept per isolated engine.
    pub pool: usize,
}

impl Default for IsolationSection {
    fn default() -> Self {
        Self {
            engines: Vec::new(),
            archives: true,
            memory_mib: 2048,
            cpu_seconds: 60,
            output_mib: 1024,
            open_files: 64,
            timeout_seconds: 60.0,
            pool: 2,
        }
    }
}

impl IsolationSection {
    pub fn limits(&self) -> anyhow::Result<palisade_isolate::ChildLimits> {
        Ok(palisade_isolate::ChildLimits {
            memory_bytes: self.memory_mib.max(16) << 20,
            cpu_seconds: self.cpu_seconds.max(1),
            output_bytes: self.output_mib.max(1) << 20,
            open_files: self.open_files.max(16),
            timeout: seconds(self.timeout_seconds, "isolation.timeout_seconds")?,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClamavEntry {
    #[serde(default = "default_clamav_id")]
    pub id: String,
    #[serde(default = "default_clamav_name")]
    pub name: String,
    pub address: String,
    #[serde(default = "default_engine_timeout")]
    pub timeout_seconds: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IcapEntry {
    #[serde(default = "default_icap_id")]
    pub id: String,
    #[serde(default = "default_icap_name")]
    pub name: String,
    /// `icap://host[:port]/service`.
    pub url: String,
    #[serde(default = "default_engine_timeout")]
    pub timeout_seconds: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandEntry {
    pub id: String,
    pub name: Option<String>,
    /// Program and arguments; `{path}`, `{dir}`, `{name}` and (for a program that produces a
    /// copy) `{output}` are substituted.
    pub command: Vec<String>,
    #[serde(default = "default_clean_codes")]
    pub clean_codes: Vec<i32>,
    #[serde(default = "default_infected_codes")]
    pub infected_codes: Vec<i32>,
    #[serde(default)]
    pub suspicious_codes: Vec<i32>,
    pub threat_pattern: Option<String>,
    #[serde(default = "default_engine_timeout")]
    pub timeout_seconds: f64,
    pub scratch_dir: Option<PathBuf>,
    pub version_command: Option<Vec<String>>,
    pub definitions: Option<PathBuf>,
    #[serde(default = "default_max_output")]
    pub max_output_bytes: usize,
    /// `"sanitized"` or `"redacted"`: the program writes that copy of the file to `{output}`
    /// and runs as a post-processing step.
    pub produces: Option<palisade_model::OutputKind>,
}

/// `rules.post_process`.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PostProcessEntry {
    #[default]
    NotBlocked,
    Always,
}

fn default_clamav_id() -> String {
    "clamav".into()
}

fn default_clamav_name() -> String {
    "ClamAV".into()
}

fn default_icap_id() -> String {
    "icap".into()
}

fn default_icap_name() -> String {
    "ICAP".into()
}

fn default_engine_timeout() -> f64 {
    60.0
}

fn default_clean_codes() -> Vec<i32> {
    vec![0]
}

fn default_infected_codes() -> Vec<i32> {
    vec![1]
}

fn default_max_output() -> usize {
    64 * 1024
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutodetectSection {
    pub clamd: bool,
}

impl Default for AutodetectSection {
    fn default() -> Self {
        Self { clamd: true }
    }
}

/// The antivirus engines of `[[engines]]`, plus Debian's clamd when none of kind clamav is
/// configured and autodetection is on.
/// The configured antivirus engines; command-line scanners without a `scratch_dir` of their own
/// make their private copies under `work`.
pub fn antivirus_engines(config: &ConfigFile, work: &Path) -> anyhow::Result<Vec<Arc<dyn Engine>>> {
    let mut engines: Vec<Arc<dyn Engine>> = Vec::new();
    let mut ids: Vec<&str> = Vec::new();
    for entry in &config.engines {
        let id = entry.id();
        if ids.contains(&id) || ["filetype", "yara", "lists", "reputation"].contains(&id) {
            bail!("engine id {id:?} is used twice");
        }
        ids.push(id);
        let engine: Arc<dyn Engine> = match entry {
            EngineEntry::Clamav(clamav) => Arc::new(ClamavEngine::new(ClamavSettings {
                id: clamav.id.clone(),
                name: clamav.name.clone(),
                address: ClamdAddress::parse(&clamav.address).map_err(anyhow::Error::msg)?,
                timeout: seconds(clamav.timeout_seconds, "engines.timeout_seconds")?,
            })),
            EngineEntry::Icap(icap) => Arc::new(IcapEngine::new(IcapSettings {
                id: icap.id.clone(),
                name: icap.name.clone(),
                url: IcapUrl::parse(&icap.url).map_err(anyhow::Error::msg)?,
                timeout: seconds(icap.timeout_seconds, "engines.timeout_seconds")?,
            })),
            #[cfg(feature = "fault-engines")]
            EngineEntry::Fault(entry) => Arc::new(palisade_test_support::FaultEngine::new(
                &entry.id,
                entry.name.as_deref().unwrap_or(&entry.id),
                palisade_test_support::Fault::parse(&entry.fault)
                    .with_context(|| format!("engine {:?}: unknown fault", entry.id))?,
            )),
            EngineEntry::Command(command) => {
                if command.command.is_empty() {
                    bail!("engine {:?}: command is empty", command.id);
                }
                if command.produces.is_some()
                    && !command.command.iter().any(|arg| arg.contains("{output}"))
                {
                    bail!(
                        "engine {:?}: a command that produces a copy must write it to {{output}}",
                        command.id
                    );
                }
                let threat_pattern = command
                    .threat_pattern
                    .as_deref()
                    .map(regex::Regex::new)
                    .transpose()
                    .with_context(|| format!("engine {:?}: threat_pattern", command.id))?;
                Arc::new(CommandEngine::new(CommandSettings {
                    id: command.id.clone(),
                    name: command.name.clone().unwrap_or_else(|| command.id.clone()),
                    command: command.command.clone(),
                    clean_codes: command.clean_codes.clone(),
                    infected_codes: command.infected_codes.clone(),
                    suspicious_codes: command.suspicious_codes.clone(),
                    threat_pattern,
                    timeout: seconds(command.timeout_seconds, "engines.timeout_seconds")?,
                    scratch_dir: Some(
                        command
                            .scratch_dir
                            .clone()
                            .unwrap_or_else(|| work.to_path_buf()),
                    ),
                    version_command: command.version_command.clone(),
                    definitions: command.definitions.clone(),
                    max_output: command.max_output_bytes,
                    produces: command.produces,
                }))
            }
        };
        engines.push(engine);
    }
    let has_clamav = config
        .engines
        .iter()
        .any(|e| matches!(e, EngineEntry::Clamav(_)));
    let socket = Path::new(palisade_engine_clamav::DEBIAN_SOCKET);
    if !has_clamav && config.autodetect.clamd && socket.exists() {
        tracing::info!(socket = %socket.display(), "using Debian's clamd");
        engines.push(Arc::new(ClamavEngine::new(ClamavSettings {
            id: default_clamav_id(),
            name: default_clamav_name(),
            address: ClamdAddress::Unix(socket.to_path_buf()),
            timeout: Duration::from_secs(60),
        })));
    }
    Ok(engines)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on (`--listen` overrides).
    pub listen: Option<String>,
    /// Data directory (`--data-dir` overrides).
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSection {
    /// `sqlite:///path/palisade.db` or `postgres://...`; default: `palisade.db` in the data directory.
    pub metastore_url: Option<String>,
    /// `file:///path` or `s3://bucket[/prefix]?...`; default: `blobs/` in the data directory.
    pub blobstore_url: Option<String>,
    /// PostgreSQL connections this process keeps at most.
    pub max_connections: u32,
    /// `full`: a `data_id` is answered once the file and its job are synced to stable storage;
    /// `relaxed`: nothing is synced (faster; survives a killed process, not a power cut).
    pub durability: palisade_model::Durability,
}

impl Default for StorageSection {
    fn default() -> Self {
        Self {
            metastore_url: None,
            blobstore_url: None,
            max_connections: 16,
            durability: palisade_model::Durability::Full,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSection {
    pub max_queued: u64,
    /// Worker loops; 0 means one per CPU core.
    pub workers: usize,
    pub claim_batch: u32,
    pub lease_seconds: f64,
    pub heartbeat_seconds: f64,
    pub max_attempts: u32,
    pub engine_timeout_seconds: f64,
    pub poll_interval_ms: u64,
    /// Share of running jobs archive members may take (0 to 1], so archives never starve other files.
    pub archive_member_share: f64,
    /// MiB of files that engines may hold in memory at once (YARA reads or maps whole files);
    /// a file that needs more is not scanned by that engine.
    pub scan_memory_mib: u64,
}

impl Default for QueueSection {
    fn default() -> Self {
        Self {
            max_queued: 100_000,
            workers: 0,
            claim_batch: 32,
            lease_seconds: 30.0,
            heartbeat_seconds: 10.0,
            max_attempts: 3,
            engine_timeout_seconds: 60.0,
            poll_interval_ms: 500,
            archive_member_share: 0.5,
            scan_memory_mib: 2048,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSection {
    pub allow_anonymous: bool,
    pub session_idle_minutes: f64,
    /// Failed logins from one client address within `login_window_seconds` before it is
    /// refused until the window ends.
    pub login_failures_per_address: u32,
    /// Failures of an address before each further one locks it out exponentially longer.
    pub login_free_failures: u32,
    pub login_max_lockout_seconds: f64,
    pub login_window_seconds: f64,
    /// Users (not admins) see, cancel and add to only their own files and batches.
    pub isolate_users: bool,
}

impl Default for AuthSection {
    fn default() -> Self {
        let throttle = palisade_service::ThrottleSettings::default();
        Self {
            allow_anonymous: false,
            session_idle_minutes: 60.0,
            login_failures_per_address: throttle.address_limit,
            login_free_failures: throttle.free_failures,
            login_max_lockout_seconds: throttle.max_lockout.as_secs_f64(),
            login_window_seconds: throttle.window.as_secs_f64(),
            isolate_users: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    pub name: String,
    /// Argon2 PHC string, as printed by `palisade hash-password`.
    pub password_hash: String,
    #[serde(default = "default_role")]
    pub role: String,
}

fn default_role() -> String {
    "user".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleEntry {
    pub name: String,
    /// Largest accepted file in bytes (default 2 GiB).
    pub max_file_size: Option<u64>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub user_agents: Vec<String>,
    /// Engine ids this rule runs (default: all).
    pub engines: Option<Vec<String>>,
    /// Result codes that let a file through (default: 0, 7, 39, 40).
    pub allowed_results: Option<Vec<i32>>,
    /// Longest analysis of one file; beyond it the file is Global Timeout Exceeded (31).
    pub global_timeout_seconds: Option<f64>,
    #[serde(default = "default_detections_to_block")]
    pub av_detections_to_block: usize,
    #[serde(default)]
    pub skip_antivirus_when_trusted: bool,
    /// Which files the post-processing steps run on: `"not-blocked"` (default) or `"always"`.
    #[serde(default)]
    pub post_process: PostProcessEntry,
    /// Whether archives are opened (default true).
    pub archive_extract: Option<bool>,
    pub archive_max_depth: Option<u32>,
    pub archive_max_total_bytes: Option<u64>,
    pub archive_max_members: Option<u64>,
    pub archive_max_seconds: Option<f64>,
    pub archive_max_ratio: Option<u64>,
    /// Bytes a submission's members may take per byte submitted (default 100).
    pub archive_max_expansion: Option<u64>,
    /// Bytes any submission's members may take, however small it is (default 64 MiB).
    pub archive_expansion_floor_bytes: Option<u64>,
    /// Passwords tried on encrypted archives after the submitter's `archivepwd` headers.
    #[serde(default)]
    pub archive_passwords: Vec<String>,
    /// Deep CDR settings.
    #[serde(default)]
    pub cdr: CdrEntry,
    /// Proactive DLP settings.
    #[serde(default)]
    pub dlp: DlpEntry,
}

fn default_detections_to_block() -> usize {
    1
}

/// The operator's hash block and allow lists.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListsSection {
    pub block: Vec<PathBuf>,
    pub allow: Vec<PathBuf>,
}

/// Hash reputation lists.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReputationSection {
    pub known_bad: Vec<PathBuf>,
    pub known_good: Vec<PathBuf>,
}

/// The hash list engines the configuration asks for (none when their lists are empty).
pub fn hash_list_engines(config: &ConfigFile) -> Vec<Arc<dyn Engine>> {
    use palisade_engine_hashlist::{HashListEngine, HashListSettings, ListKind};
    let mut engines: Vec<Arc<dyn Engine>> = Vec::new();
    let lists = &config.lists;
    if !lists.block.is_empty() || !lists.allow.is_empty() {
        engines.push(Arc::new(HashListEngine::new(HashListSettings {
            id: "lists".into(),
            name: "Block and allow lists".into(),
            kind: ListKind::Operator,
            bad: lists.block.clone(),
            good: lists.allow.clone(),
        })));
    }
    let reputation = &config.reputation;
    if !reputation.known_bad.is_empty() || !reputation.known_good.is_empty() {
        engines.push(Arc::new(HashListEngine::new(HashListSettings {
            id: "reputation".into(),
            name: "Hash reputation".into(),
            kind: ListKind::Reputation,
            bad: reputation.known_bad.clone(),
            good: reputation.known_good.clone(),
        })));
    }
    for engine in &engines {
        for problem in engine.status().problems {
            tracing::warn!(engine = %engine.descriptor().id, %problem, "hash list problem");
        }
    }
    engines
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct YaraSection {
    pub enabled: bool,
    /// Directory of rule files; default: `yara-rules/` in the data directory.
    pub rules_dir: Option<PathBuf>,
    pub builtin_rules: bool,
    /// Replaced by `health.check_seconds` (rules are re-read at each health check); accepted so
    /// older files still load, with a warning.
    pub reload_seconds: Option<f64>,
}

impl Default for YaraSection {
    fn default() -> Self {
        Self {
            enabled: true,
            rules_dir: None,
            builtin_rules: true,
            reload_seconds: None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SigningSection {
    /// PKCS#8 PEM private key; with `cert_file`, replaces the generated key.
    pub key_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
}

impl ConfigFile {
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in config {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(toml::from_str(text)?)
    }
}

pub fn seconds(value: f64, name: &str) -> anyhow::Result<Duration> {
    if !value.is_finite() || value <= 0.0 {
        bail!("{name} must be a positive number of seconds");
    }
    Ok(Duration::from_secs_f64(value))
}

/// Validated settings for the service, from the file plus environment secrets.
pub fn service_settings(
    config: &ConfigFile,
    api_key: Option<String>,
) -> anyhow::Result<ServiceSettings> {
    let mut rules = Vec::new();
    for entry in &config.rules {
        if rules.iter().any(|r: &RuleSettings| r.name == entry.name) {
            bail!("rule {:?} is defined twice", entry.name);
        }
        let mut rule = RuleSettings::new(&entry.name);
        if let Some(max) = entry.max_file_size {
            rule.max_file_size = max;
        }
        rule.roles = entry.roles.clone();
        rule.user_agents = entry.user_agents.clone();
        rule.engines = entry.engines.clone();
        if let Some(limit) = entry.global_timeout_seconds {
            rule.global_timeout = Some(seconds(limit, "rules.global_timeout_seconds")?);
        }
        if entry.av_detections_to_block == 0 {
            bail!(
                "rule {:?}: av_detections_to_block must be at least 1",
                entry.name
            );
        }
        rule.av_detections_to_block = entry.av_detections_to_block;
        rule.skip_antivirus_when_trusted = entry.skip_antivirus_when_trusted;
        rule.post_process = match entry.post_process {
            PostProcessEntry::NotBlocked => palisade_pipeline::PostProcessWhen::NotBlocked,
            PostProcessEntry::Always => palisade_pipeline::PostProcessWhen::Always,
        };
        let archives = &mut rule.archives;
        if let Some(extract) = entry.archive_extract {
            archives.extract = extract;
        }
        if let Some(depth) = entry.archive_max_depth {
            archives.max_depth = depth;
        }
        if let Some(bytes) = entry.archive_max_total_bytes {
            archives.max_total_bytes = bytes;
        }
        if let Some(members) = entry.archive_max_members {
            archives.max_members = members;
        }
        if let Some(limit) = entry.archive_max_seconds {
            archives.max_time = seconds(limit, "rules.archive_max_seconds")?;
        }
        if let Some(ratio) = entry.archive_max_ratio {
            archives.max_ratio = ratio.max(1);
        }
        if let Some(expansion) = entry.archive_max_expansion {
            archives.max_expansion = expansion.max(1);
        }
        if let Some(floor) = entry.archive_expansion_floor_bytes {
            archives.expansion_floor = floor;
        }
        archives.passwords = entry.archive_passwords.clone();
        rule.cdr = entry.cdr.policy(&entry.name)?;
        rule.dlp = entry.dlp.policy(&entry.name)?;
        if let Some(codes) = &entry.allowed_results {
            rule.allowed_results = codes
                .iter()
                .map(|code| {
                    ScanResult::from_code(*code).with_context(|| {
                        format!("rule {:?}: unknown result code {code}", entry.name)
                    })
                })
                .collect::<anyhow::Result<_>>()?;
        }
        rules.push(rule);
    }
    if rules.is_empty() {
        rules.push(RuleSettings::new("Default"));
    }
    let mut settings = ServiceSettings {
        rules,
        max_queued: config.queue.max_queued,
        session_idle: seconds(
            config.auth.session_idle_minutes * 60.0,
            "auth.session_idle_minutes",
        )?,
        allow_anonymous: config.auth.allow_anonymous,
        login_throttle: palisade_service::ThrottleSettings {
            address_limit: config.auth.login_failures_per_address.max(1),
            free_failures: config.auth.login_free_failures,
            max_lockout: seconds(
                config.auth.login_max_lockout_seconds,
                "auth.login_max_lockout_seconds",
            )?,
            window: seconds(
                config.auth.login_window_seconds,
                "auth.login_window_seconds",
            )?,
        },
        isolate_users: config.auth.isolate_users,
        api_keys: Vec::new(),
        node_stale_after: seconds(
            config.cluster.heartbeat_seconds * 3.0,
            "cluster.heartbeat_seconds",
        )?,
        engines_from_registry: false,
        output_retention: seconds(
            config.outputs.retention_hours * 3600.0,
            "outputs.retention_hours",
        )?,
        metrics: palisade_service::MetricsSettings {
            on_api_listener: config.metrics.enabled && config.metrics.listen.is_none(),
            require_apikey: config.metrics.require_apikey,
        },
        console: config.console.enabled,
    };
    if let Some(key) = api_key.filter(|k| !k.is_empty()) {
        settings.api_keys.push(palisade_service::ApiKey {
            key,
            username: "admin".into(),
            role: "admin".into(),
        });
    }
    Ok(settings)
}

pub fn worker_settings(config: &ConfigFile) -> anyhow::Result<WorkerSettings> {
    let queue = &config.queue;
    let mut settings = WorkerSettings::default();
    if queue.workers > 0 {
        settings.workers = queue.workers;
    }
    settings.claim_batch = queue.claim_batch.max(1);
    settings.lease = seconds(queue.lease_seconds, "queue.lease_seconds")?;
    settings.heartbeat = seconds(queue.heartbeat_seconds, "queue.heartbeat_seconds")?;
    if settings.heartbeat >= settings.lease {
        bail!("queue.heartbeat_seconds must be shorter than queue.lease_seconds");
    }
    settings.max_attempts = queue.max_attempts.max(1);
    settings.engine_timeout =
        seconds(queue.engine_timeout_seconds, "queue.engine_timeout_seconds")?;
    settings.poll_interval = Duration::from_millis(queue.poll_interval_ms.max(10));
    if !(queue.archive_member_share > 0.0 && queue.archive_member_share <= 1.0) {
        bail!("queue.archive_member_share must be more than 0 and at most 1");
    }
    settings.archive_member_share = queue.archive_member_share;
    if queue.scan_memory_mib == 0 {
        bail!("queue.scan_memory_mib must be at least 1");
    }
    settings.scan_memory = queue.scan_memory_mib.saturating_mul(1 << 20);
    Ok(settings)
}

pub fn users(config: &ConfigFile) -> Vec<UserSettings> {
    config
        .users
        .iter()
        .map(|u| UserSettings {
            name: u.name.clone(),
            password_hash: u.password_hash.clone(),
            role: u.role.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dlp_settings_name_known_recognizers_and_patterns_that_compile() {
        for (bad, says) in [
            (
                "recognizers = [\"passport\"]",
                "unknown recognizer \"passport\"",
            ),
            (
                "[rules.dlp.thresholds]\nssn = \"certain\"",
                "unknown variant",
            ),
            (
                "[[rules.dlp.patterns]]\ndisplay_name = \"Broken\"\npattern = \"(\"",
                "\"Broken\" does not compile",
            ),
        ] {
            let text = format!("[[rules]]\nname = \"R\"\n[rules.dlp]\n{bad}\n");
            let error = ConfigFile::parse(&text)
                .and_then(|config| service_settings(&config, None).map(|_| ()))
                .unwrap_err();
            assert!(format!("{error:#}").contains(says), "{bad}: {error:#}");
        }
        let text = "[[rules]]\nname = \"R\"\n[rules.dlp]\nrecognizers = [\"ccn\"]\n\
                    show_values = true\nredact = true\n[rules.dlp.thresholds]\nccn = \"medium\"\n";
        let config = ConfigFile::parse(text).unwrap();
        let rule = &service_settings(&config, None).unwrap().rules[0];
        let expected = [(
            palisade_model::Recognizer::Ccn,
            palisade_model::Certainty::Medium,
        )];
        assert_eq!(rule.dlp.recognizers, expected.into());
        assert!(rule.dlp.show_values);
        assert!(rule.dlp.redact && !rule.dlp.remove_metadata);
        assert!(!config.dlp.enabled, "Proactive DLP is off unless enabled");
    }

    #[test]
    fn deep_cdr_settings_name_known_object_kinds_and_formats() {
        for bad in [
            "remove = [\"macros\"]",
            "formats = [\"odt\"]",
            "failed_members = \"keep\"",
            "remove = [\"metadata\"]\nkeep = [\"metadata\"]",
            "output_name = \"../{stem}.pdf\"",
            "output_name = \"fixed.pdf\"",
            "signed = \"maybe\"",
            "time_limit_seconds = -1",
        ] {
            let text = format!("[[rules]]\nname = \"R\"\n[rules.cdr]\n{bad}\n");
            let refused = ConfigFile::parse(&text).and_then(|c| service_settings(&c, None));
            assert!(refused.is_err(), "{bad} is refused");
        }
        let text = "[[rules]]\nname = \"R\"\n[rules.cdr]\nsigned = \"block\"\n\
                    block_on = [\"xfa\", \"macro\"]\nformats = [\"docm\", \"xls\", \"zip\"]\n\
                    failed_members = \"fail\"\n";
        let config = ConfigFile::parse(text).unwrap();
        let rule = &service_settings(&config, None).unwrap().rules[0];
        assert_eq!(rule.cdr.signed, palisade_model::SignedDocuments::Block);
        assert_eq!(
            rule.cdr.block_on,
            [
                palisade_model::ActiveObject::Xfa,
                palisade_model::ActiveObject::Macro
            ]
        );
        assert_eq!(rule.cdr.formats, ["docm", "xls", "zip"]);
        assert_eq!(rule.cdr.failed_members, palisade_model::FailedMembers::Fail);
        assert!(!config.cdr.enabled, "Deep CDR is off unless enabled");
    }

    #[test]
    fn the_example_config_parses_and_validates() {
        let text = include_str!("../../../palisade.example.toml");
        let config = ConfigFile::parse(text).unwrap();
        let service = service_settings(&config, None).unwrap();
        assert!(service.rules.len() >= 2);
        assert_eq!(service.rules[0].name, "Default");
        worker_settings(&config).unwrap();
        let limits = http_limits(&config.http, Some(256)).unwrap();
        assert_eq!(
            limits.max_connections, 192,
            "a reserve below the open-file limit"
        );
        assert_eq!(limits.max_header_bytes, 131_072);
        assert_eq!(
            http_limits(&config.http, None).unwrap().max_connections,
            1024
        );
        assert!(!users(&config).is_empty());
        assert!(config.cdr.enabled);
        let sanitize = &service
            .rules
            .iter()
            .find(|r| r.name == "Sanitize documents");
        let cdr = &sanitize.expect("the example's Deep CDR rule").cdr;
        assert!(cdr.removes(palisade_model::ActiveObject::Hyperlink));
        assert!(!cdr.removes(palisade_model::ActiveObject::Metadata));
        assert!(cdr.removes(palisade_model::ActiveObject::Javascript));
        assert_eq!(cdr.time_limit_ms, 30_000);
        assert!(config.dlp.enabled);
        let dlp = &service
            .rules
            .iter()
            .find(|r| r.name == "Data leaving")
            .expect("the example's DLP rule")
            .dlp;
        use palisade_model::{Certainty, Recognizer};
        assert_eq!(dlp.recognizers[&Recognizer::Ipv4], Certainty::Medium);
        assert_eq!(dlp.recognizers[&Recognizer::Ccn], Certainty::Low);
        assert_eq!(dlp.patterns[0].pattern, r"EMP-\d{6}");
        assert_eq!(dlp.min_certainty, Certainty::High);
        let engines = antivirus_engines(&config, Path::new("/tmp")).unwrap();
        let names: Vec<_> = engines
            .iter()
            .map(|e| e.descriptor().name.clone())
            .collect();
        assert_eq!(
            names,
            [
                "ClamAV",
                "ClamAV (second signature set)",
                "ICAP antivirus",
                "clamscan"
            ]
        );
        assert!(
            ConfigFile::parse("[[engines]]\nkind = \"clamav\"\naddress = \"x\"\nport = 1\n")
                .is_err()
        );
    }

    #[test]
    fn an_empty_config_has_a_default_rule_and_unknown_keys_are_refused() {
        let config = ConfigFile::parse("").unwrap();
        let service = service_settings(&config, Some("k".into())).unwrap();
        assert_eq!(service.rules[0].name, "Default");
        assert_eq!(service.api_keys[0].role, "admin");
        assert!(ConfigFile::parse("[queue]\nworkerz = 3\n").is_err());
        assert!(
            ConfigFile::parse("[[rules]]\nname = \"A\"\nallowed_results = [11]\n")
                .and_then(|c| service_settings(&c, None).map(|_| ()))
                .is_err()
        );
    }
}
