//! Hash list engines: the operator's block and allow lists (Blacklisted 8 / Whitelisted 7) and
//! hash reputation (Known Bad 38 / Known Good 39 / Unknown 40).
//!
//! Lists are files of md5, sha1, sha256 or sha512 digests, one per line with an optional name
//! after whitespace, or ClamAV `.hdb` / `.hsb` lines (`hash:size:name`). Blank lines and `#`
//! comments are skipped. Files are re-read when they change (checked on every health refresh);
//! a file that cannot be read keeps its last good contents and shows as a problem. A bad-list
//! match outranks a good-list match.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

use palisade_model::{FileHashes, ScanResult};
use palisade_pipeline::{
    Engine, EngineDescriptor, EngineError, EngineStatus, Finding, Sample, ScanContext, Stage,
};

/// What the lists mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// The operator's block (8) and allow (7) lists; no match is No Threat Detected.
    Operator,
    /// Hash reputation: known bad (38), known good (39), neither Unknown (40).
    Reputation,
}

#[derive(Clone, Debug)]
pub struct HashListSettings {
    pub id: String,
    pub name: String,
    pub kind: ListKind,
    /// Files of hashes that are bad (block list / known bad).
    pub bad: Vec<PathBuf>,
    /// Files of hashes that are good (allow list / known good).
    pub good: Vec<PathBuf>,
}

/// Lower-case hex digest → name given in the list (may be empty).
type HashSet = HashMap<String, String>;

/// One list file as last loaded.
struct Loaded {
    path: PathBuf,
    fingerprint: Option<(SystemTime, u64)>,
    entries: HashSet,
    problem: Option<String>,
}

struct Lists {
    bad: Vec<Loaded>,
    good: Vec<Loaded>,
}

pub struct HashListEngine {
    descriptor: EngineDescriptor,
    settings: HashListSettings,
    lists: RwLock<Lists>,
}

fn is_digest(text: &str) -> bool {
    matches!(text.len(), 32 | 40 | 64 | 128) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Parses a list file's text; returns the entries and the first few malformed lines.
fn parse_list(text: &str) -> (HashSet, Vec<usize>) {
    let mut entries = HashSet::new();
    let mut bad_lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (hash, name) = if line.contains(':') && !line.contains(char::is_whitespace) {
            // ClamAV .hdb / .hsb: hash:size:name[:min-flevel[:max-flevel]]
            let mut fields = line.split(':');
            let hash = fields.next().unwrap_or_default();
            let _size = fields.next();
            (hash, fields.next().unwrap_or_default())
        } else {
            match line.split_once(char::is_whitespace) {
                Some((hash, name)) => (hash, name.trim()),
                None => (line, ""),
            }
        };
        if is_digest(hash) {
            entries.insert(hash.to_ascii_lowercase(), name.to_string());
        } else if bad_lines.len() < 5 {
            bad_lines.push(index + 1);
        }
    }
    (entries, bad_lines)
}

fn fingerprint(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl Loaded {
    fn new(path: &Path) -> Self {
        let mut loaded = Loaded {
            path: path.to_path_buf(),
            fingerprint: None,
            entries: HashSet::new(),
            problem: None,
        };
        loaded.reload();
        loaded
    }

    /// Re-reads the file if it changed; keeps the last good contents when it cannot be read.
    fn reload(&mut self) {
        let now = fingerprint(&self.path);
        if now.is_some() && now == self.fingerprint {
            return;
        }
        match std::fs::read_to_string(&self.path) {
            Ok(text) => {
                let (entries, bad_lines) = parse_list(&text);
                self.entries = entries;
                self.fingerprint = now;
                self.problem = (!bad_lines.is_empty()).then(|| {
                    format!(
                        "{}: lines {bad_lines:?} are not md5/sha1/sha256/sha512 entries",
                        self.path.display()
                    )
                });
            }
            Err(error) => {
                self.fingerprint = None;
                self.problem = Some(format!("{}: {error}", self.path.display()));
            }
        }
    }

    fn find(&self, hashes: &FileHashes) -> Option<&str> {
        [&hashes.md5, &hashes.sha1, &hashes.sha256, &hashes.sha512]
            .into_iter()
            .filter(|h| !h.is_empty())
            .find_map(|h| self.entries.get(&h.to_ascii_lowercase()))
            .map(String::as_str)
    }
}

impl HashListEngine {
    pub fn new(settings: HashListSettings) -> Self {
        let (stage, kind) = match settings.kind {
            ListKind::Operator => (Stage::Lists, palisade_model::EngineKind::Lists),
            ListKind::Reputation => (Stage::Reputation, palisade_model::EngineKind::Reputation),
        };
        let lists = Lists {
            bad: settings.bad.iter().map(|p| Loaded::new(p)).collect(),
            good: settings.good.iter().map(|p| Loaded::new(p)).collect(),
        };
        Self {
            descriptor: EngineDescriptor {
                id: settings.id.clone(),
                name: settings.name.clone(),
                stage,
                // Not an antivirus: its result shows in the main result and verdicts.
                in_scan_details: false,
                kind,
                produces: None,
            },
            settings,
            lists: RwLock::new(lists),
        }
    }

    /// Entries loaded, bad and good.
    pub fn counts(&self) -> (usize, usize) {
        let lists = self.lists.read().unwrap_or_else(|e| e.into_inner());
        let count = |files: &[Loaded]| files.iter().map(|f| f.entries.len()).sum();
        (count(&lists.bad), count(&lists.good))
    }
}

impl Engine for HashListEngine {
    fn descriptor(&self) -> &EngineDescriptor {
        &self.descriptor
    }

    fn status(&self) -> EngineStatus {
        let lists = self.lists.read().unwrap_or_else(|e| e.into_inner());
        let files = lists.bad.iter().chain(&lists.good);
        let problems: Vec<String> = files.clone().filter_map(|f| f.problem.clone()).collect();
        let newest = files
            .filter_map(|f| f.fingerprint.map(|(at, _)| at))
            .max()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| palisade_model::format_timestamp(i64::try_from(d.as_millis()).unwrap_or(0)))
            .unwrap_or_default();
        let unreadable = lists
            .bad
            .iter()
            .chain(&lists.good)
            .any(|f| f.fingerprint.is_none());
        let (bad, good) = (
            lists.bad.iter().map(|f| f.entries.len()).sum::<usize>(),
            lists.good.iter().map(|f| f.entries.len()).sum::<usize>(),
        );
        EngineStatus {
            state: if unreadable {
                palisade_model::EngineState::TemporaryFailed
            } else {
                palisade_model::EngineState::Production
            },
            version: format!("{bad} bad, {good} good"),
            def_time: newest,
            problems,
        }
    }

    fn refresh(&self) -> EngineStatus {
        {
            let mut guard = self.lists.write().unwrap_or_else(|e| e.into_inner());
            let lists = &mut *guard;
            for file in lists.bad.iter_mut().chain(lists.good.iter_mut()) {
                file.reload();
            }
        }
        self.status()
    }

    fn scan(&self, sample: &Sample<'_>, _context: &ScanContext) -> Result<Finding, EngineError> {
        let lists = self.lists.read().unwrap_or_else(|e| e.into_inner());
        let (bad_result, good_result, neither) = match self.settings.kind {
            ListKind::Operator => (
                ScanResult::Blacklisted,
                ScanResult::Whitelisted,
                ScanResult::NoThreatDetected,
            ),
            ListKind::Reputation => (
                ScanResult::KnownBad,
                ScanResult::KnownGood,
                ScanResult::Unknown,
            ),
        };
        let bad = lists.bad.iter().find_map(|f| f.find(sample.hashes));
        let good = lists.good.iter().find_map(|f| f.find(sample.hashes));
        let (result, name) = match (bad, good) {
            (Some(name), _) => (bad_result, name),
            (None, Some(name)) => (good_result, name),
            (None, None) => {
                // A list that never loaded cannot vouch for anything.
                if let Some(problem) = lists
                    .bad
                    .iter()
                    .chain(&lists.good)
                    .find(|f| f.fingerprint.is_none())
                    .and_then(|f| f.problem.clone())
                {
                    return Err(EngineError::Failed(format!(
                        "hash list unreadable: {problem}"
                    )));
                }
                (neither, "")
            }
        };
        Ok(Finding {
            result,
            threat_found: name.to_string(),
            ..Finding::clean()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_clamav_lines_parse_and_junk_is_reported() {
        let text = "# known bad\n\
            44D88612FEA8A8F36DE82E1278ABB02F  EICAR test file\n\
            \n\
            3395856ce81f2b7382dee72602f798b642f14140:68:Eicar.SHA1\n\
            275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f:*:Eicar.SHA256:73\n\
            not-a-hash\n\
            da39a3ee5e6b4b0d3255bfef95601890afd80709\n";
        let (entries, bad_lines) = parse_list(text);
        assert_eq!(entries.len(), 4);
        assert_eq!(
            entries["44d88612fea8a8f36de82e1278abb02f"],
            "EICAR test file"
        );
        assert_eq!(
            entries["3395856ce81f2b7382dee72602f798b642f14140"],
            "Eicar.SHA1"
        );
        assert_eq!(
            entries["275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"],
            "Eicar.SHA256"
        );
        assert_eq!(entries["da39a3ee5e6b4b0d3255bfef95601890afd80709"], "");
        assert_eq!(bad_lines, vec![6]);
    }
}
