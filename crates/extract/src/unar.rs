//! RAR (4 and 5, encrypted included) and BinHex through The Unarchiver's command-line tools
//! (Debian's `unar`, free software): `lsar -j` lists the entries, then `unar -o - -i` streams
//! one member at a time to our reader, so the budget counts every byte as usual. The decoder
//! runs in its own process, which is killed when the budget stops it.

use std::path::Path;
use std::process::Stdio;

use crate::tools::{Helper, on_path, read_listing, tool};
use crate::{CopyError, ExtractError, Extractor, Format, Limit, Outcome, UNDECODED, sanitise};

/// lsar's error code for a missing or wrong password.
const XAD_PASSWORD_ERROR: i64 = 15;

/// Most bytes of listing read from `lsar` (about 1.5 KB per entry).
const MAX_LISTING: u64 = 64 << 20;

struct Entry {
    index: u64,
    name: String,
    size: u64,
    packed: u64,
    encrypted: bool,
    kind: Kind,
}

enum Kind {
    File,
    Directory,
    Link,
    Special,
}

/// Why RAR and BinHex files cannot be opened here, when `lsar` or `unar` is not installed.
pub(crate) fn missing_tools() -> Option<String> {
    let missing: Vec<&str> = ["lsar", "unar"]
        .into_iter()
        .filter(|name| !on_path(name))
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "RAR and BinHex files cannot be opened: {} not found (Debian package unar)",
            missing.join(" and ")
        )
    })
}

fn missing(name: &str, error: std::io::Error) -> ExtractError {
    ExtractError::Corrupt(format!(
        "this archive needs `{name}` (Debian package unar) and it could not run: {error}"
    ))
}

/// Lists the archive with `password`; `Ok(None)` when a password is needed and this one fails.
fn list(
    archive: &Path,
    format: Format,
    password: Option<&str>,
) -> Result<Option<Vec<Entry>>, ExtractError> {
    let mut command = tool("lsar");
    command.arg("-j");
    if let Some(password) = password {
        command.args(["-p", password]);
    }
    let mut helper = Helper(
        command
            .arg("--")
            .arg(archive)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| missing("lsar", e))?,
    );
    let (text, stderr, status) = read_listing(&mut helper, MAX_LISTING, format)?;
    let json: Option<serde_json::Value> = serde_json::from_slice(&text).ok();
    if !status.success() {
        // Without a password lsar says so; with a wrong one it reports XAD's password error (15).
        let error = json.as_ref().and_then(|j| j["lsarError"].as_i64());
        if stderr.contains("password") || error == Some(XAD_PASSWORD_ERROR) {
            return Ok(None);
        }
        return Err(ExtractError::Corrupt(format!(
            "{format:?}: {} (lsar error {error:?})",
            stderr.trim()
        )));
    }
    let json =
        json.ok_or_else(|| ExtractError::Corrupt(format!("{format:?} listing is not JSON")))?;
    let flag = |entry: &serde_json::Value, key: &str| entry[key].as_i64().unwrap_or(0) != 0;
    let entries = json["lsarContents"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|entry| Entry {
                    index: entry["XADIndex"].as_u64().unwrap_or(0),
                    name: entry["XADFileName"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    size: entry["XADFileSize"].as_u64().unwrap_or(0),
                    packed: entry["XADCompressedSize"].as_u64().unwrap_or(0),
                    encrypted: flag(entry, "XADIsEncrypted"),
                    kind: if flag(entry, "XADIsDirectory") {
                        Kind::Directory
                    } else if flag(entry, "XADIsLink") || flag(entry, "XADIsHardLink") {
                        Kind::Link
                    } else if flag(entry, "XADIsCharacterDevice")
                        || flag(entry, "XADIsBlockDevice")
                        || flag(entry, "XADIsFIFO")
                    {
                        Kind::Special
                    } else {
                        Kind::File
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(entries))
}

impl Extractor<'_> {
    pub(crate) fn unar(
        &self,
        archive: &Path,
        format: Format,
        outcome: &mut Outcome,
    ) -> Result<(), ExtractError> {
        let candidates: Vec<Option<&str>> = std::iter::once(None)
            .chain(self.passwords.iter().map(|p| Some(p.as_str())))
            .collect();
        // Archives with encrypted headers cannot even be listed without the password.
        let mut listed = None;
        for candidate in &candidates {
            if let Some(entries) = list(archive, format, *candidate)? {
                if candidate.is_some() {
                    outcome.encrypted = true;
                }
                listed = Some((entries, *candidate));
                break;
            }
            outcome.encrypted = true;
        }
        let Some((entries, header_password)) = listed else {
            outcome.decrypted = Some(false);
            outcome.skipped.push((
                self.display_name.to_string(),
                "encrypted; no given password opens it".into(),
            ));
            return Ok(());
        };
        let mut known = header_password;
        for entry in entries {
            match entry.kind {
                Kind::Directory => continue,
                Kind::Link => {
                    outcome
                        .skipped
                        .push((entry.name, "link (not followed)".into()));
                    continue;
                }
                Kind::Special => {
                    outcome.skipped.push((entry.name, "special entry".into()));
                    continue;
                }
                Kind::File => {}
            }
            let tries: Vec<Option<&str>> = if entry.encrypted {
                outcome.encrypted = true;
                known
                    .into_iter()
                    .map(Some)
                    .chain(
                        candidates
                            .iter()
                            .copied()
                            .filter(|c| c.is_some() && *c != known),
                    )
                    .collect()
            } else {
                vec![known]
            };
            let mut opened = false;
            for password in tries {
                match self.unar_member(archive, &entry, password, outcome)? {
                    Ok(true) => {
                        opened = true;
                        known = password;
                        break;
                    }
                    Ok(false) => continue,
                    Err(limit) => {
                        outcome.stopped = Some(limit);
                        return Ok(());
                    }
                }
            }
            if entry.encrypted {
                outcome.decrypted = Some(outcome.decrypted.unwrap_or(true) && opened);
            }
            if !opened {
                let reason = if entry.encrypted {
                    "encrypted; no given password opens it"
                } else {
                    UNDECODED
                };
                outcome
                    .skipped
                    .push((sanitise(&entry.name, 0), reason.into()));
            }
        }
        Ok(())
    }

    /// Streams one member out of `unar`. `Ok(Ok(false))`: this password does not open it.
    fn unar_member(
        &self,
        archive: &Path,
        entry: &Entry,
        password: Option<&str>,
        outcome: &mut Outcome,
    ) -> Result<Result<bool, Limit>, ExtractError> {
        let mut command = tool("unar");
        command.args(["-q", "-o", "-", "-i"]);
        if let Some(password) = password {
            command.args(["-p", password]);
        }
        let mut helper = Helper(
            command
                .arg("--")
                .arg(archive)
                .arg(entry.index.to_string())
                .stdout(Stdio::piped())
                .spawn()
                .map_err(|e| missing("unar", e))?,
        );
        let mut stdout = helper.0.stdout.take().expect("piped");
        let before = outcome.members.len();
        let packed = (entry.packed > 0).then_some(entry.packed);
        match self.copy(&mut stdout, entry.name.clone(), packed, outcome)? {
            Ok(()) => {}
            Err(CopyError::Limit(limit)) => return Ok(Err(limit)),
            Err(CopyError::Read(_)) => return Ok(Ok(false)),
            Err(CopyError::Write(e)) => return Err(ExtractError::Io(e)),
        }
        drop(stdout);
        let status = helper.0.wait()?;
        // A wrong password for encrypted contents yields no bytes and success: the size tells.
        let member = &outcome.members[before];
        if !status.success() || member.size != entry.size {
            let failed = outcome.members.pop().expect("just added");
            let _ = std::fs::remove_file(&failed.path);
            return Ok(Ok(false));
        }
        Ok(Ok(true))
    }
}
