//! YARA engine on YARA-X: rules compile once into a shared rule set, reload without a restart,
//! and a rule file that fails to compile is reported and skipped while the others keep working.
//!
//! A rule's `verdict` metadata (`infected`/`malicious` or `suspicious`) maps a match to Infected (1)
//! or Suspicious (2); any other match is Yara Rule Matched (21).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use palisade_model::{ScanResult, YaraHit, YaraSection, format_timestamp};
use palisade_pipeline::{
    Engine, EngineDescriptor, EngineError, EngineStatus, Finding, Limits, Sample, ScanContext,
    Section, Stage,
};

/// The rules Palisade ships: they detect the EICAR test file as Infected.
pub const BUILTIN_RULES: &str = include_str!("../rules/palisade_default.yar");

/// Where rules come from.
#[derive(Clone, Debug, Default)]
pub struct YaraSettings {
    /// Directory of `.yar`/`.yara` files (searched recursively); `None` for built-in rules only.
    pub rules_dir: Option<PathBuf>,
    /// Whether the built-in rules are loaded too.
    pub builtin_rules: bool,
}

struct Loaded {
    /// Distinguishes rule sets, so that cached scanners are rebuilt after a reload.
    generation: u64,
    rules: yara_x::Rules,
    fingerprint: Vec<(PathBuf, SystemTime, u64)>,
    compiled_at: SystemTime,
    problems: Vec<String>,
    rule_count: usize,
}

/// The YARA engine: one compiled rule set shared by every worker thread.
pub struct YaraEngine {
    descriptor: EngineDescriptor,
    settings: YaraSettings,
    loaded: RwLock<Arc<Loaded>>,
}

/// Files up to this size may stay in a thread's scanner after their scan (see `memory_for`).
const RETAINED_BYTES: u64 = 1 << 20;

static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

type BorrowedScanner<'rules> = yara_x::Scanner<'rules>;

self_cell::self_cell!(
    /// A scanner together with the rule set it borrows, so that it can be kept between scans.
    struct CachedScanner {
        owner: Arc<Loaded>,
        #[not_covariant]
        dependent: BorrowedScanner,
    }
);

thread_local! {
    /// Creating a YARA-X scanner builds a WebAssembly instance; each blocking thread keeps one.
    static SCANNER: RefCell<Option<CachedScanner>> = const { RefCell::new(None) };
}

fn rule_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            rule_files(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yar" | "yara")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

fn fingerprint(settings: &YaraSettings) -> Vec<(PathBuf, SystemTime, u64)> {
    let mut files = Vec::new();
    if let Some(dir) = &settings.rules_dir
        && let Err(error) = rule_files(dir, &mut files)
    {
        tracing::warn!(dir = %dir.display(), %error, "cannot list YARA rules directory");
    }
    files
        .into_iter()
        .filter_map(|path| {
            let meta = std::fs::metadata(&path).ok()?;
            Some((path, meta.modified().ok()?, meta.len()))
        })
        .collect()
}

fn namespace_for(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("rules")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn compile(settings: &YaraSettings) -> Loaded {
    let fingerprint = fingerprint(settings);
    let mut sources: Vec<(String, String, String)> = Vec::new();
    let mut problems = Vec::new();
    if settings.builtin_rules {
        sources.push((
            "palisade_default".into(),
            "built-in rules".into(),
            BUILTIN_RULES.into(),
        ));
    }
    for (path, _, _) in &fingerprint {
        match std::fs::read_to_string(path) {
            Ok(text) => sources.push((namespace_for(path), path.display().to_string(), text)),
            Err(error) => problems.push(format!("{}: {error}", path.display())),
        }
    }
    let mut compiler = yara_x::Compiler::new();
    let mut rule_count = 0;
    for (namespace, origin, text) in &sources {
        // Check each file alone first so that one broken file cannot poison the shared compiler.
        let mut probe = yara_x::Compiler::new();
        probe.new_namespace(namespace);
        if let Err(error) = probe.add_source(text.as_str()) {
            tracing::warn!(file = %origin, %error, "YARA rule file failed to compile; skipped");
            problems.push(format!("{origin}: {error}"));
            continue;
        }
        rule_count += probe.build().iter().len();
        compiler.new_namespace(namespace);
        if let Err(error) = compiler.add_source(text.as_str()) {
            problems.push(format!("{origin}: {error}"));
        }
    }
    Loaded {
        generation: NEXT_GENERATION.fetch_add(1, Ordering::Relaxed),
        rules: compiler.build(),
        fingerprint,
        compiled_at: SystemTime::now(),
        problems,
        rule_count,
    }
}

impl YaraEngine {
    /// Compiles the configured rules (never fails: broken files are reported in `status`).
    pub fn new(settings: YaraSettings) -> Self {
        let loaded = compile(&settings);
        Self {
            descriptor: EngineDescriptor {
                id: "yara".into(),
                name: "YARA".into(),
                stage: Stage::Yara,
                in_scan_details: true,
                kind: palisade_model::EngineKind::Yara,
                produces: None,
            },
            settings,
            loaded: RwLock::new(Arc::new(loaded)),
        }
    }

    fn current(&self) -> Arc<Loaded> {
        match self.loaded.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Recompiles when a rule file was added, removed or changed; returns whether it did.
    pub fn reload_if_changed(&self) -> bool {
        let current = self.current();
        if fingerprint(&self.settings) == current.fingerprint {
            return false;
        }
        let loaded = compile(&self.settings);
        tracing::info!(
            rules = loaded.rule_count,
            problems = loaded.problems.len(),
            "YARA rules reloaded"
        );
        match self.loaded.write() {
            Ok(mut guard) => *guard = Arc::new(loaded),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(loaded),
        }
        true
    }

    /// How many rules are in force.
    pub fn rule_count(&self) -> usize {
        self.current().rule_count
    }
}

fn meta_verdict(rule: &yara_x::Rule<'_, '_>) -> (ScanResult, String) {
    let mut result = ScanResult::YaraRuleMatched;
    let mut description = String::new();
    for (key, value) in rule.metadata() {
        let text = match value {
            yara_x::MetaValue::String(s) => s.to_string(),
            yara_x::MetaValue::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            _ => continue,
        };
        match key {
            "verdict" | "palisade_verdict" => {
                result = match text.to_ascii_lowercase().as_str() {
                    "infected" | "malicious" => ScanResult::Infected,
                    "suspicious" => ScanResult::Suspicious,
                    _ => ScanResult::YaraRuleMatched,
                }
            }
            "description" => description = text,
            _ => {}
        }
    }
    (result, description)
}

/// One scan with a (possibly reused) scanner; returns the hits, the worst result and its rule.
fn scan_with(
    scanner: &mut yara_x::Scanner<'_>,
    sample: &Sample<'_>,
    limits: &Limits,
) -> Result<(BTreeMap<String, YaraHit>, ScanResult, String), EngineError> {
    scanner.set_timeout(limits.timeout);
    let results = scanner
        .scan_file(sample.path)
        .map_err(|error| match error {
            yara_x::errors::ScanError::Timeout => {
                EngineError::NotScanned("YARA scan timed out".into())
            }
            other => EngineError::Failed(other.to_string()),
        })?;
    let mut hits = BTreeMap::new();
    let mut worst = ScanResult::NoThreatDetected;
    let mut threat = String::new();
    for rule in results.matching_rules() {
        let (result, description) = meta_verdict(&rule);
        if result.severity() > worst.severity() {
            worst = result;
            threat = rule.identifier().to_string();
        }
        hits.insert(
            rule.identifier().to_string(),
            YaraHit {
                description,
                namespace: rule.namespace().to_string(),
                tags: rule.tags().map(|t| t.identifier().to_string()).collect(),
                scan_result_i: result.code(),
            },
        );
    }
    Ok((hits, worst, threat))
}

impl Engine for YaraEngine {
    fn descriptor(&self) -> &EngineDescriptor {
        &self.descriptor
    }

    /// Recompiles the rules when a file was added, removed or changed, then reports.
    fn refresh(&self) -> EngineStatus {
        self.reload_if_changed();
        self.status()
    }

    fn status(&self) -> EngineStatus {
        let loaded = self.current();
        let compiled = loaded
            .compiled_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        EngineStatus {
            state: palisade_model::EngineState::Production,
            version: format!("yara-x 1.22 ({} rules)", loaded.rule_count),
            def_time: format_timestamp(i64::try_from(compiled.as_millis()).unwrap_or(0)),
            problems: loaded.problems.clone(),
        }
    }

    /// YARA-X reads or maps the whole file: rules may look anywhere in it (modules, `filesize`,
    /// offsets), so it is not scanned in blocks. A file over [`RETAINED_BYTES`] is let go when
    /// its scan ends; a smaller one stays in its thread's scanner until that thread's next scan,
    /// so at most 1 MiB per blocking thread is held beyond the budget.
    fn memory_for(&self, sample: &Sample<'_>) -> u64 {
        sample.size
    }

    fn scan(&self, sample: &Sample<'_>, context: &ScanContext) -> Result<Finding, EngineError> {
        let limits = &context.limits;
        if sample.size > limits.max_bytes {
            return Err(EngineError::NotScanned(format!(
                "file of {} bytes exceeds the {} bytes the YARA engine reads",
                sample.size, limits.max_bytes
            )));
        }
        let loaded = self.current();
        let (hits, worst, threat) = SCANNER.with(|cell| {
            let mut cached = cell.borrow_mut();
            let stale = cached
                .as_ref()
                .is_none_or(|c| c.borrow_owner().generation != loaded.generation);
            if stale {
                *cached = Some(CachedScanner::new(loaded.clone(), |loaded| {
                    yara_x::Scanner::new(&loaded.rules)
                }));
            }
            let scanner = cached.as_mut().expect("scanner was just cached");
            scanner.with_dependent_mut(|_, scanner| {
                let outcome = scan_with(scanner, sample, limits);
                if sample.size > RETAINED_BYTES {
                    // A YARA-X scanner keeps the last file it scanned (read or mapped) until its
                    // next scan: scanning nothing lets a big file go now, not whenever this
                    // thread scans again.
                    let _ = scanner.scan(&[]);
                }
                outcome
            })
        })?;
        let verdict = match worst {
            ScanResult::NoThreatDetected => 0,
            ScanResult::Suspicious => 2,
            _ => 1,
        };
        Ok(Finding {
            result: worst,
            threat_found: threat,
            section: Section::Yara(YaraSection { hits, verdict }),
            outputs: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_model::FileHashes;

    fn eicar() -> Vec<u8> {
        let mut text = String::from("X5O!P%@AP[4\\PZX54(P^)7CC)7}$");
        text.push_str("EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
        text.into_bytes()
    }

    fn scan(engine: &YaraEngine, bytes: &[u8]) -> Finding {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sample");
        std::fs::write(&path, bytes).unwrap();
        let hashes = FileHashes::default();
        let sample = Sample {
            path: &path,
            size: bytes.len() as u64,
            display_name: "sample",
            hashes: &hashes,
        };
        engine
            .scan(&sample, &ScanContext::new(Limits::default()))
            .unwrap()
    }

    #[test]
    fn builtin_rules_find_eicar_as_infected_and_leave_other_files_clean() {
        let engine = YaraEngine::new(YaraSettings {
            rules_dir: None,
            builtin_rules: true,
        });
        let finding = scan(&engine, &eicar());
        assert_eq!(finding.result, ScanResult::Infected);
        assert_eq!(finding.threat_found, "EICAR_Test_File");
        let Section::Yara(section) = finding.section else {
            panic!("no yara section")
        };
        assert_eq!(section.verdict, 1);
        assert_eq!(
            section.hits["EICAR_Test_File"].description,
            "EICAR anti-malware test file"
        );
        assert_eq!(
            scan(&engine, b"harmless").result,
            ScanResult::NoThreatDetected
        );
    }

    #[test]
    fn broken_files_are_skipped_and_changes_reload() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("good.yar"),
            "rule Marker { meta: verdict = \"suspicious\" strings: $a = \"marker-123\" condition: $a }",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("bad.yar"),
            "rule Broken { condition: nonsense( }",
        )
        .unwrap();
        let engine = YaraEngine::new(YaraSettings {
            rules_dir: Some(dir.path().to_path_buf()),
            builtin_rules: false,
        });
        assert_eq!(engine.status().problems.len(), 1);
        assert!(engine.status().problems[0].contains("bad.yar"));
        assert_eq!(
            scan(&engine, b"xx marker-123 xx").result,
            ScanResult::Suspicious
        );
        assert!(!engine.reload_if_changed());

        std::fs::write(
            dir.path().join("plain.yara"),
            "rule Plain { strings: $a = \"plain-456\" condition: $a }",
        )
        .unwrap();
        assert!(engine.reload_if_changed());
        assert_eq!(
            scan(&engine, b"plain-456").result,
            ScanResult::YaraRuleMatched
        );
        assert_eq!(engine.rule_count(), 2);
    }
}
