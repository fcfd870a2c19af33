//! Outlook messages (`.msg`, MS-OXMSG): a compound file whose properties are streams named
//! `__substg1.0_` and the property tag. Members are the message's bodies (`body.txt`,
//! `body.html`) and its attachments (`__attach_version1.0_#N` storages: the data of
//! `PR_ATTACH_DATA_BIN` under `PR_ATTACH_LONG_FILENAME`, else the short or display name). An
//! attached message (`PR_ATTACH_DATA_OBJ`, a storage) gives its own bodies and attachments,
//! under its name as a folder.

use std::io::{Cursor, Read, Seek};
use std::path::{Path, PathBuf};

use crate::{ExtractError, Extractor, Outcome, settle};

/// Largest message read; it is read whole.
const MAX_MESSAGE: u64 = 256 << 20;

/// Deepest attached message followed.
const MAX_NESTING: usize = 8;

/// Most bytes of one property read (the budget counts members again as they are written).
const MAX_PROPERTY: u64 = 1 << 30;

/// Whether a compound file is an Outlook message: its root holds the property stream and
/// `__substg1.0_` property streams.
pub(crate) fn is_message<F: Read + Seek>(file: &cfb::CompoundFile<F>) -> bool {
    let mut properties = false;
    let mut substreams = false;
    for entry in file.read_root_storage() {
        properties |= entry.name() == "__properties_version1.0";
        substreams |= entry.name().starts_with("__substg1.0_");
    }
    properties && substreams
}

/// Whether the compound file at `path` is an Outlook message.
pub(crate) fn detect(path: &Path) -> bool {
    std::fs::File::open(path)
        .ok()
        .and_then(|file| cfb::CompoundFile::open(file).ok())
        .is_some_and(|file| is_message(&file))
}

type Message = cfb::CompoundFile<Cursor<Vec<u8>>>;

fn corrupt(what: impl std::fmt::Display) -> ExtractError {
    ExtractError::Corrupt(format!("Outlook message: {what}"))
}

fn read(file: &mut Message, path: &Path) -> Result<Vec<u8>, ExtractError> {
    crate::objects::read_stream(file, path, MAX_PROPERTY)
        .map_err(|e| corrupt(format!("{}: {e}", path.display())))
}

/// A string property (`001F`, UTF-16LE; or `001E`, 8-bit) of `storage`, if present.
fn text(file: &mut Message, storage: &Path, id: &str) -> Option<String> {
    for (kind, wide) in [("001F", true), ("001E", false)] {
        let path = storage.join(format!("__substg1.0_{id}{kind}"));
        if !file.is_stream(&path) {
            continue;
        }
        let bytes = read(file, &path).ok()?;
        let value = if wide {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let value = value.trim_end_matches('\0').trim().to_string();
        if !value.is_empty() {
            return Some(value);
        }
    }
    None
}

/// Whether an attachment's object storage is a message (it has its own properties).
fn is_message_storage(file: &Message, storage: &Path) -> bool {
    file.is_stream(storage.join("__properties_version1.0"))
}

impl Extractor<'_> {
    pub(crate) fn outlook(&self, path: &Path, outcome: &mut Outcome) -> Result<(), ExtractError> {
        let size = std::fs::metadata(path)?.len();
        if size > MAX_MESSAGE {
            return Err(corrupt(format!(
                "{size} bytes; messages up to {MAX_MESSAGE} bytes are opened"
            )));
        }
        let mut file =
            cfb::CompoundFile::open(Cursor::new(std::fs::read(path)?)).map_err(corrupt)?;
        self.outlook_message(&mut file, Path::new("/"), "", 0, outcome)
            .map(|_| ())
    }

    /// The members of the message in `storage`, named under `prefix`; `false` when a limit
    /// stopped extraction.
    fn outlook_message(
        &self,
        file: &mut Message,
        storage: &Path,
        prefix: &str,
        depth: usize,
        outcome: &mut Outcome,
    ) -> Result<bool, ExtractError> {
        let add = |this: &Self, name: String, bytes: &[u8], outcome: &mut Outcome| {
            let copied = this.copy(&mut &bytes[..], name.clone(), None, outcome)?;
            settle(copied, outcome, &name)
        };
        if let Some(body) = text(file, storage, "1000")
            && !add(self, format!("{prefix}body.txt"), body.as_bytes(), outcome)?
        {
            return Ok(false);
        }
        let html = storage.join("__substg1.0_10130102");
        if file.is_stream(&html) {
            let body = read(file, &html)?;
            if !add(self, format!("{prefix}body.html"), &body, outcome)? {
                return Ok(false);
            }
        }
        let attachments: Vec<PathBuf> = file
            .read_storage(storage)
            .map_err(corrupt)?
            .filter(|entry| entry.is_storage() && entry.name().starts_with("__attach_version1.0_#"))
            .map(|entry| entry.path().to_path_buf())
            .collect();
        for (index, attachment) in attachments.iter().enumerate() {
            let name = text(file, attachment, "3707")
                .or_else(|| text(file, attachment, "3704"))
                .or_else(|| text(file, attachment, "3001"))
                .unwrap_or_else(|| format!("attachment-{}", index + 1));
            let data = attachment.join("__substg1.0_37010102");
            let embedded = attachment.join("__substg1.0_3701000D");
            let carry_on = if file.is_stream(&data) {
                let bytes = read(file, &data)?;
                add(self, format!("{prefix}{name}"), &bytes, outcome)?
            } else if file.is_storage(&embedded) && is_message_storage(file, &embedded) {
                if depth >= MAX_NESTING {
                    return Err(corrupt(format!(
                        "messages attached more than {MAX_NESTING} deep"
                    )));
                }
                let inner = format!("{prefix}{name}/");
                self.outlook_message(file, &embedded, &inner, depth + 1, outcome)?
            } else if file.is_storage(&embedded) {
                outcome.skipped.push((
                    format!("{prefix}{name}"),
                    format!(
                        "{}: an OLE object attached to an Outlook message",
                        crate::UNDECODED
                    ),
                ));
                true
            } else {
                // A link to a file elsewhere, or an OLE object: nothing here to scan.
                outcome.skipped.push((
                    format!("{prefix}{name}"),
                    "an attachment without data in the message".into(),
                ));
                true
            };
            if !carry_on {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
