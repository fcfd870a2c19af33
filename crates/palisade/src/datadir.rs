//! The data directory's integrity at start: a damaged, missing, emptied or replaced database is
//! never mistaken for a new one.
//!
//! The first start records the database's identity (a random id kept in the database itself)
//! in the data directory's `palisade-instance` file. Every later start checks that the database
//! is there, passes a quick integrity check, and has that identity. Only a directory that was
//! never initialised gets a new database, unless the operator says `--new-database`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use palisade_metastore::Metastore;

const MARKER: &str = "palisade-instance";

pub const RECOVERY: &str = "Restore the data directory from a backup (README: Backup and restore), \
     or, to start afresh and lose every earlier file and report, start once with --new-database";

/// The identity recorded in the data directory, if it was initialised.
fn recorded(data_dir: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(data_dir.join(MARKER)) {
        Ok(text) if !text.trim().is_empty() => Ok(Some(text.trim().to_string())),
        Ok(_) => Ok(None),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).context(format!("reading {}", data_dir.join(MARKER).display())),
    }
}

/// The embedded database's file, when the metastore is one.
pub fn sqlite_path(metastore_url: &str) -> Option<PathBuf> {
    metastore_url.strip_prefix("sqlite://").map(PathBuf::from)
}

/// Moves a damaged or unwanted embedded database (and its log files) aside, keeping it.
pub fn set_aside(path: &Path) {
    let stamp = palisade_model::now_millis();
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            let aside = PathBuf::from(format!("{}.replaced-{stamp}{suffix}", path.display()));
            match std::fs::rename(&file, &aside) {
                Ok(()) => {
                    tracing::warn!(from = %file.display(), to = %aside.display(), "set the old database aside")
                }
                Err(error) => {
                    tracing::warn!(file = %file.display(), %error, "could not set the old database aside")
                }
            }
        }
    }
}

/// Checks, before the metastore is opened (which would create a missing database), that an
/// initialised data directory still has its embedded database file.
pub fn check_before_open(
    data_dir: &Path,
    metastore_url: &str,
    new_database: bool,
) -> anyhow::Result<()> {
    let Some(path) = sqlite_path(metastore_url) else {
        return Ok(());
    };
    if recorded(data_dir)?.is_none() {
        return Ok(());
    }
    let problem = match std::fs::metadata(&path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => "missing",
        Ok(meta) if meta.len() == 0 => "empty",
        _ => return Ok(()),
    };
    if new_database {
        tracing::warn!(database = %path.display(), problem, "--new-database: starting with a new, empty database");
        set_aside(&path);
        return Ok(());
    }
    bail!(
        "the data directory {} was initialised, but its database {} is {problem}. {RECOVERY}",
        data_dir.display(),
        path.display()
    )
}

/// Checks an opened metastore: its quick integrity check, then its identity against the one
/// the data directory recorded (which it records on a first start). With `new_database`, a
/// damaged embedded database is set aside and `Ok(false)` asks the caller to open it again.
pub async fn check_opened(
    data_dir: &Path,
    metastore_url: &str,
    metastore: &Metastore,
    new_database: bool,
) -> anyhow::Result<bool> {
    let shown = crate::redact(metastore_url);
    let problems = metastore
        .integrity_problems()
        .await
        .with_context(|| format!("checking the database {shown}"))?;
    if !problems.is_empty() {
        let sample: Vec<&str> = problems.iter().take(3).map(String::as_str).collect();
        if new_database && let Some(path) = sqlite_path(metastore_url) {
            tracing::warn!(database = %path.display(), problems = ?sample, "--new-database: the damaged database is set aside");
            metastore.close().await;
            set_aside(&path);
            return Ok(false);
        }
        bail!(
            "the database {shown} is damaged ({} problems found by its integrity check, first: {}). {RECOVERY}",
            problems.len(),
            sample.join("; ")
        );
    }
    let marker = data_dir.join(MARKER);
    let current = metastore
        .instance_id()
        .await
        .with_context(|| format!("reading the identity of {shown}"))?;
    let expected = recorded(data_dir)?;
    let identity = match (current, expected) {
        (Some(current), Some(expected)) if current == expected => return Ok(true),
        (Some(current), Some(expected)) if !new_database => bail!(
            "the database {shown} is not the one the data directory {} was initialised with \
             (its identity is {current}, the directory expects {expected}): it was replaced. {RECOVERY}",
            data_dir.display()
        ),
        (None, Some(expected)) if !new_database => bail!(
            "the database {shown} is new or was emptied, but the data directory {} was \
             initialised with the database {expected}. {RECOVERY}",
            data_dir.display()
        ),
        // A data directory joining an existing database (a new node of a cluster, or the first
        // start after an upgrade), or the operator's --new-database.
        (Some(current), _) => current,
        (None, _) => {
            let id = palisade_model::random_hex(16);
            metastore
                .claim_instance(&id, palisade_model::now_millis())
                .await
                .with_context(|| format!("recording the identity of {shown}"))?
        }
    };
    palisade_service::write_atomically(&marker, format!("{identity}\n").as_bytes())
        .with_context(|| format!("writing {}", marker.display()))?;
    tracing::info!(instance = %identity, "data directory initialised for this database");
    Ok(true)
}
