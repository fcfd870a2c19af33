//! Validated settings the service runs with (the binary builds them from the TOML file).

use std::time::Duration;

use palisade_model::ScanResult;

/// One analysis rule (the incumbent's "workflow rule").
#[derive(Clone, Debug)]
pub struct RuleSettings {
    pub name: String,
    pub max_file_size: u64,
    /// Roles that may use the rule; empty means any role.
    pub roles: Vec<String>,
    /// Client `user_agent` values that may use the rule; empty means any.
    pub user_agents: Vec<String>,
    /// Engine ids the rule runs; `None` runs every engine.
    pub engines: Option<Vec<String>>,
    /// Results that let a file through; everything else blocks it.
    pub allowed_results: Vec<ScanResult>,
    /// Longest the whole analysis of a file may take before it ends as Global Timeout Exceeded (31).
    pub global_timeout: Option<Duration>,
    /// Antivirus engines that must agree (detect) before a detection blocks the file.
    pub av_detections_to_block: usize,
    /// Files on the allow list or known good skip the antivirus engines.
    pub skip_antivirus_when_trusted: bool,
    /// Which files the post-processing steps (sanitize, redact) run on.
    pub post_process: palisade_pipeline::PostProcessWhen,
    /// How archives are opened, and the limits of one submission's extraction.
    pub archives: ArchiveSettings,
    /// What Deep CDR removes, keeps or blocks on, and its limits.
    pub cdr: palisade_model::CdrPolicy,
    /// What Proactive DLP looks for, how certain a hit must be, and what the report shows.
    pub dlp: palisade_model::DlpPolicy,
}

/// Archive extraction settings of a rule.
#[derive(Clone, Debug)]
pub struct ArchiveSettings {
    /// Whether archives are opened and their members analysed.
    pub extract: bool,
    /// Deepest nesting opened; a deeper archive is Exceeded Archive Depth (9).
    pub max_depth: u32,
    /// Bytes all members of one submission may take; then Exceeded Archive Size (13).
    pub max_total_bytes: u64,
    /// Members one submission may have; then Exceeded Archive File Number (14).
    pub max_members: u64,
    /// Time from upload within which extraction must finish; then Exceeded Archive Timeout (16).
    pub max_time: Duration,
    /// Largest expansion ratio of one compressed member; beyond it, Exceeded Archive Size (13).
    pub max_ratio: u64,
    /// The expansion account: bytes all members of one submission may take per byte submitted
    /// (see [`ArchiveSettings::bytes_allowed`]); beyond it, Exceeded Archive Size (13).
    pub max_expansion: u64,
    /// Bytes the members of any submission may take, however small it is.
    pub expansion_floor: u64,
    /// Passwords tried on every encrypted archive, after the submitter's `archivepwd` headers.
    pub passwords: Vec<String>,
}

impl Default for ArchiveSettings {
    fn default() -> Self {
        Self {
            extract: true,
            max_depth: 10,
            max_total_bytes: 4 << 30,
            max_members: 10_000,
            max_time: Duration::from_secs(300),
            max_ratio: 1_000,
            max_expansion: 100,
            expansion_floor: 64 << 20,
            passwords: Vec::new(),
        }
    }
}

impl ArchiveSettings {
    /// Bytes the members of a submission of `submitted` bytes may take in all, nested archives
    /// included: `max_expansion` per byte submitted, at least `expansion_floor`, at most
    /// `max_total_bytes`. A small upload buys little work, however its archives nest.
    pub fn bytes_allowed(&self, submitted: u64) -> u64 {
        submitted
            .saturating_mul(self.max_expansion)
            .max(self.expansion_floor)
            .min(self.max_total_bytes)
    }
}

impl RuleSettings {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            max_file_size: 2 << 30,
            roles: Vec::new(),
            user_agents: Vec::new(),
            engines: None,
            allowed_results: palisade_pipeline::VerdictPolicy::default().allowed,
            global_timeout: None,
            av_detections_to_block: 1,
            skip_antivirus_when_trusted: false,
            post_process: palisade_pipeline::PostProcessWhen::default(),
            archives: ArchiveSettings::default(),
            cdr: palisade_model::CdrPolicy::default(),
            dlp: palisade_model::DlpPolicy::default(),
        }
    }

    /// Whether a caller with `role`, sending `user_agent`, may see and use this rule.
    pub fn permits(&self, role: &str, user_agent: &str) -> bool {
        (self.roles.is_empty() || role == "admin" || self.roles.iter().any(|r| r == role))
            && (self.user_agents.is_empty() || self.user_agents.iter().any(|u| u == user_agent))
    }

    /// What the execution plan needs to know of the rule.
    pub fn plan_rules(&self) -> palisade_pipeline::PlanRules {
        palisade_pipeline::PlanRules {
            skip_antivirus_when_trusted: self.skip_antivirus_when_trusted,
            post_process: self.post_process,
        }
    }

    /// The settings the engines that read the rule are given.
    pub fn policies(&self) -> palisade_pipeline::Policies {
        palisade_pipeline::Policies {
            cdr: self.cdr.clone(),
            dlp: self.dlp.clone(),
        }
    }

    pub fn policy(&self) -> palisade_pipeline::VerdictPolicy {
        palisade_pipeline::VerdictPolicy {
            allowed: self.allowed_results.clone(),
            av_detections_to_block: self.av_detections_to_block,
        }
    }
}

/// A configured API key.
#[derive(Clone, Debug)]
pub struct ApiKey {
    pub key: String,
    pub username: String,
    pub role: String,
}

/// A user defined in the configuration file.
#[derive(Clone, Debug)]
pub struct UserSettings {
    pub name: String,
    /// Argon2 PHC string.
    pub password_hash: String,
    pub role: String,
}

#[derive(Clone, Debug)]
pub struct ServiceSettings {
    /// Rules in order; the first one a caller may use is its default.
    pub rules: Vec<RuleSettings>,
    /// Queued jobs beyond which uploads get 503.
    pub max_queued: u64,
    pub session_idle: Duration,
    pub allow_anonymous: bool,
    /// Failed-login throttling per client address and account.
    pub login_throttle: crate::ThrottleSettings,
    /// Users (not admins) see, cancel and add to only their own files and batches.
    pub isolate_users: bool,
    pub api_keys: Vec<ApiKey>,
    /// A node whose last heartbeat is older than this shows as offline in `/stat/nodes`.
    pub node_stale_after: Duration,
    /// `/stat/engines` shows the engines of the online scanning nodes (from the node registry)
    /// instead of this process's own: set for gateways, which scan nothing themselves.
    pub engines_from_registry: bool,
    /// How long a file's outputs (sanitized, redacted copies) can be downloaded.
    pub output_retention: Duration,
    /// Where `/metrics` is served and who may read it.
    pub metrics: MetricsSettings,
    /// The web console is served under `/console` of the API listener.
    pub console: bool,
}

/// `[metrics]`: where `/metrics` is served and who may read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsSettings {
    /// Served on the API listener (and a node's health listener); off when the operator gave
    /// it a listener of its own, or turned it off.
    pub on_api_listener: bool,
    /// Readers need an API key (or a session), like the API's other reads.
    pub require_apikey: bool,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            on_api_listener: true,
            require_apikey: false,
        }
    }
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            rules: vec![RuleSettings::new("Default")],
            max_queued: 100_000,
            session_idle: Duration::from_secs(3600),
            allow_anonymous: false,
            login_throttle: crate::ThrottleSettings::default(),
            isolate_users: false,
            api_keys: Vec::new(),
            node_stale_after: Duration::from_secs(15),
            engines_from_registry: false,
            output_retention: Duration::from_secs(24 * 3600),
            metrics: MetricsSettings::default(),
            console: true,
        }
    }
}

impl ServiceSettings {
    pub fn rule(&self, name: &str) -> Option<&RuleSettings> {
        self.rules.iter().find(|rule| rule.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_submission_may_expand_by_its_size_between_the_floor_and_the_total() {
        let settings = ArchiveSettings::default();
        // An 18 KiB upload gets the floor, not the 4 GiB total.
        assert_eq!(settings.bytes_allowed(18 << 10), 64 << 20);
        // 10 MiB may take 100 times itself.
        assert_eq!(settings.bytes_allowed(10 << 20), 1000 << 20);
        // Never more than the total, whatever the upload.
        assert_eq!(settings.bytes_allowed(1 << 30), 4 << 30);
        assert_eq!(settings.bytes_allowed(u64::MAX), 4 << 30);
    }
}
