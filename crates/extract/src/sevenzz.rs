//! Installer, disk-image and legacy archive formats through 7-Zip's command-line program (`7zz`,
//! Debian package 7zip): cab, chm, cpio, arj, lzh, ISO 9660, UDF, rpm, ar, NSIS, compound files,
//! SZDD, unix compress, wim and xar. No maintained Rust crate reads most of these, and 7-Zip
//! reads them all; its decoders run in a process of their own, so a crash on hostile bytes is an
//! outcome, and the process is killed when the budget stops extraction.
//!
//! `7zz l -slt` lists the entries. When the listing gives every file's size, one `7zz x -so`
//! writes all files to a pipe in listing order and the stream is cut at the listed sizes; the
//! listed CRCs, the end of the stream and 7-Zip's exit status check the cut. When a size is not
//! listed (solid NSIS installers), each file is streamed on its own with `7zz e -so`.

use std::io::Read;
use std::path::Path;
use std::process::Stdio;

use crate::tools::{Helper, on_path, read_listing, stderr_of, tool};
use crate::{
    CopyError, ExtractError, Extractor, Format, Limit, Outcome, UNDECODED, sanitise, settle,
};

/// The program.
const PROGRAM: &str = "7zz";

/// Most bytes of listing read from `7zz l` (a few hundred bytes per entry).
const MAX_LISTING: u64 = 64 << 20;

/// Why these formats cannot be opened here, when `7zz` is not installed.
pub(crate) fn missing_tool() -> Option<String> {
    (!on_path(PROGRAM)).then(|| {
        "cab, chm, cpio, arj, lzh, ISO, UDF, rpm, ar (deb), NSIS, msi, SZDD, compress (.Z), wim \
         and xar files cannot be opened: 7zz not found (Debian package 7zip)"
            .to_string()
    })
}

/// 7-Zip's name for the format, so that it never guesses (a PE file would otherwise open as
/// its sections).
fn type_name(format: Format) -> &'static str {
    match format {
        Format::Cab => "Cab",
        Format::Chm => "Chm",
        Format::Cpio => "Cpio",
        Format::Arj => "Arj",
        Format::Lzh => "Lzh",
        Format::Iso => "Iso",
        Format::Udf => "Udf",
        Format::Rpm => "Rpm",
        Format::Ar => "Ar",
        Format::Nsis => "Nsis",
        Format::Compound => "Compound",
        Format::Szdd => "MsLZ",
        Format::UnixCompress => "Z",
        Format::Wim => "Wim",
        Format::Xar => "Xar",
        other => unreachable!("{other:?} is not opened with 7zz"),
    }
}

#[derive(Debug, PartialEq)]
enum Kind {
    File,
    Directory,
    Link,
    Special,
}

#[derive(Debug)]
struct Entry {
    path: String,
    size: Option<u64>,
    packed: Option<u64>,
    crc: Option<u32>,
    encrypted: bool,
    kind: Kind,
}

fn command(format: Format, verb: &str) -> std::process::Command {
    let mut command = tool(PROGRAM);
    command.args([
        verb,
        &format!("-t{}", type_name(format)),
        "-sccUTF-8",
        "-bd",
        "-mmt=1",
        "-p",
    ]);
    command
}

/// `7zz x -so`: every file of the archive, one after the other, on the pipe it returns.
fn extract_all(
    archive: &Path,
    format: Format,
) -> Result<(Helper, std::process::ChildStdout), ExtractError> {
    let mut helper = Helper(
        command(format, "x")
            .args(["-so", "--"])
            .arg(archive)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(missing)?,
    );
    let stdout = helper.0.stdout.take().expect("piped");
    Ok((helper, stdout))
}

fn missing(error: std::io::Error) -> ExtractError {
    ExtractError::Corrupt(format!(
        "this archive needs `7zz` (Debian package 7zip) and it could not run: {error}"
    ))
}

/// A unix mode string such as `-rw-r--r--` or `lrwxrwxrwx`, as 7-Zip prints it.
fn mode_kind(mode: &str) -> Option<Kind> {
    let kind = match mode.as_bytes() {
        [b'-', ..] => Kind::File,
        [b'd', ..] => Kind::Directory,
        [b'l', ..] => Kind::Link,
        [b'c' | b'b' | b'p' | b's', ..] => Kind::Special,
        _ => return None,
    };
    (mode.len() == 10).then_some(kind)
}

/// The entries of `7zz l -slt -ba`: blocks of `Key = value` lines separated by blank lines.
fn parse_listing(text: &str, format: Format) -> Vec<Entry> {
    let mut entries = Vec::new();
    for block in text.split("\n\n") {
        let fields: Vec<(&str, &str)> = block
            .lines()
            .filter_map(|line| {
                line.split_once(" = ")
                    .or_else(|| line.strip_suffix(" =").map(|k| (k, "")))
            })
            .collect();
        let field = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.trim())
        };
        let Some(path) = field("Path") else { continue };
        let number = |key: &str| field(key).and_then(|v| v.parse::<u64>().ok());
        let attributes = field("Attributes").unwrap_or_default();
        let mode = attributes
            .split_whitespace()
            .chain(field("Mode"))
            .find_map(mode_kind);
        let size = number("Size");
        let kind = if field("Folder") == Some("+")
            || attributes.split_whitespace().next().is_some_and(|a| a.contains('D'))
            // A compound file's storages have no size.
            || (format == Format::Compound && size.is_none())
        {
            Kind::Directory
        } else if field("Symbolic Link").is_some_and(|v| !v.is_empty())
            || field("Hard Link").is_some_and(|v| !v.is_empty())
        {
            Kind::Link
        } else {
            mode.unwrap_or(Kind::File)
        };
        entries.push(Entry {
            path: path.to_string(),
            size,
            packed: number("Packed Size"),
            crc: field("CRC").and_then(|v| u32::from_str_radix(v, 16).ok()),
            encrypted: field("Encrypted") == Some("+"),
            kind,
        });
    }
    entries
}

fn list(archive: &Path, format: Format) -> Result<Vec<Entry>, ExtractError> {
    let mut helper = Helper(
        command(format, "l")
            .args(["-slt", "-ba", "--"])
            .arg(archive)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(missing)?,
    );
    let (text, stderr, status) = read_listing(&mut helper, MAX_LISTING, format)?;
    if !status.success() {
        return Err(ExtractError::Corrupt(format!(
            "{format:?}: {}",
            first_error(&stderr)
        )));
    }
    Ok(parse_listing(
        &String::from_utf8_lossy(&text).replace("\r\n", "\n"),
        format,
    ))
}

/// The lines of 7-Zip's error output that say what went wrong.
fn first_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("ERRORS:"))
        .collect();
    if lines.is_empty() {
        "7-Zip could not read it".into()
    } else {
        lines.join("; ")
    }
}

impl Extractor<'_> {
    pub(crate) fn sevenzz(
        &self,
        archive: &Path,
        format: Format,
        outcome: &mut Outcome,
    ) -> Result<(), ExtractError> {
        // A single compressed stream lists no entry: its content is one member, named after
        // the file as for gzip.
        if matches!(format, Format::Szdd | Format::UnixCompress) {
            let name = match format {
                Format::Szdd => szdd_name(archive, self.display_name)?,
                _ => crate::inner_name(self.display_name, format),
            };
            return self.sevenzz_stream(archive, format, name, outcome);
        }
        let mut files = Vec::new();
        for entry in list(archive, format)? {
            match entry.kind {
                Kind::Directory => {}
                Kind::Link => outcome
                    .skipped
                    .push((entry.path, "link (not followed)".into())),
                Kind::Special => outcome.skipped.push((entry.path, "special entry".into())),
                Kind::File if entry.encrypted => {
                    outcome.encrypted = true;
                    outcome.decrypted = Some(false);
                    outcome.skipped.push((
                        sanitise(&entry.path, 0),
                        "encrypted; this format's encryption is not opened".into(),
                    ));
                }
                Kind::File => files.push(entry),
            }
        }
        if files.iter().all(|entry| entry.size.is_some()) {
            self.sevenzz_all(archive, format, &files, outcome)
        } else {
            for entry in &files {
                if !self.sevenzz_one(archive, format, entry, outcome)? {
                    break;
                }
            }
            Ok(())
        }
    }

    /// Every file from one `7zz x -so`, cut at the listed sizes.
    fn sevenzz_all(
        &self,
        archive: &Path,
        format: Format,
        files: &[Entry],
        outcome: &mut Outcome,
    ) -> Result<(), ExtractError> {
        if files.is_empty() {
            return Ok(());
        }
        let (mut helper, mut stdout) = extract_all(archive, format)?;
        for entry in files {
            let size = entry.size.unwrap_or_default();
            let mut piece = Crc {
                inner: (&mut stdout).take(size),
                hasher: crc32fast::Hasher::new(),
            };
            let copied = self.copy(&mut piece, entry.path.clone(), entry.packed, outcome)?;
            if !settle(
                copied,
                outcome,
                &format!("{format:?} entry {:?}", entry.path),
            )? {
                return Ok(());
            }
            let member = outcome.members.last().expect("just copied");
            let crc = piece.hasher.finalize();
            // LHA lists a CRC-16; the others a CRC-32.
            let checked = entry.crc.filter(|_| format != Format::Lzh);
            if member.size != size || checked.is_some_and(|listed| listed != crc) {
                return Err(ExtractError::Corrupt(format!(
                    "{format:?} entry {:?}: its data does not match its listing",
                    entry.path
                )));
            }
        }
        let mut rest = [0u8; 1];
        let extra = stdout.read(&mut rest)?;
        drop(stdout);
        let stderr = stderr_of(&mut helper);
        let status = helper.0.wait()?;
        if extra != 0 || !status.success() {
            return Err(ExtractError::Corrupt(format!(
                "{format:?}: {}",
                if extra != 0 {
                    "7-Zip wrote more than its listing holds".into()
                } else {
                    first_error(&stderr)
                }
            )));
        }
        Ok(())
    }

    /// The content of a single compressed stream, as one member.
    fn sevenzz_stream(
        &self,
        archive: &Path,
        format: Format,
        name: String,
        outcome: &mut Outcome,
    ) -> Result<(), ExtractError> {
        let (mut helper, mut stdout) = extract_all(archive, format)?;
        let copied = self.copy(&mut stdout, name.clone(), None, outcome)?;
        if !settle(copied, outcome, &name)? {
            return Ok(());
        }
        drop(stdout);
        let stderr = stderr_of(&mut helper);
        if !helper.0.wait()?.success() {
            return Err(ExtractError::Corrupt(format!(
                "{format:?}: {}",
                first_error(&stderr)
            )));
        }
        Ok(())
    }

    /// One file from its own `7zz e -so`, chosen by its exact path. `false` when a limit
    /// stopped extraction.
    fn sevenzz_one(
        &self,
        archive: &Path,
        format: Format,
        entry: &Entry,
        outcome: &mut Outcome,
    ) -> Result<bool, ExtractError> {
        let mut helper = Helper(
            command(format, "e")
                .args(["-so", "-spd", "--"])
                .arg(archive)
                .arg(&entry.path)
                .stdout(Stdio::piped())
                .spawn()
                .map_err(missing)?,
        );
        let mut stdout = helper.0.stdout.take().expect("piped");
        match self.copy(&mut stdout, entry.path.clone(), entry.packed, outcome)? {
            Ok(()) => {}
            Err(CopyError::Limit(limit)) => {
                outcome.stopped = Some(limit);
                return Ok(false);
            }
            Err(CopyError::Read(e)) => match Limit::from_io(&e) {
                Some(limit) => {
                    outcome.stopped = Some(limit);
                    return Ok(false);
                }
                None => return Err(ExtractError::Corrupt(format!("{format:?}: {e}"))),
            },
            Err(CopyError::Write(e)) => return Err(ExtractError::Io(e)),
        }
        drop(stdout);
        let stderr = stderr_of(&mut helper);
        if !helper.0.wait()?.success() {
            let failed = outcome.members.pop().expect("just added");
            let _ = std::fs::remove_file(&failed.path);
            outcome.skipped.push((
                sanitise(&entry.path, 0),
                format!("{UNDECODED}: {}", first_error(&stderr)),
            ));
        }
        Ok(true)
    }
}

/// The name of what an SZDD file holds. `compress.exe` names its output after the input with
/// the extension's last letter replaced by `_` (`setup.ex_`) and keeps that letter in the header.
fn szdd_name(archive: &Path, display_name: &str) -> Result<String, ExtractError> {
    let mut header = [0u8; 10];
    std::fs::File::open(archive)?.read_exact(&mut header)?;
    let base = display_name.rsplit(['/', '\\']).next().unwrap_or_default();
    let missing = header[9];
    match base.strip_suffix('_') {
        Some(stem) if header[8] == b'A' && missing.is_ascii_graphic() => {
            Ok(format!("{stem}{}", missing as char))
        }
        // The letter was not kept: the name stays as `expand` would leave it.
        Some(_) => Ok(base.to_string()),
        None => Ok(crate::inner_name(display_name, Format::Szdd)),
    }
}

/// Computes the CRC-32 of what is read through it.
struct Crc<R> {
    inner: R,
    hasher: crc32fast::Hasher,
}

impl<R: Read> Read for Crc<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_blocks_become_entries_with_their_kinds() {
        let text = "Path = docs\nFolder = +\nSize = \n\n\
                    Path = docs/a.txt\nSize = 5\nPacked Size = 3\nCRC = 3610A686\n\n\
                    Path = link\nSize = 4\nMode = lrwxrwxrwx\n\n\
                    Path = dev\nSize = 0\nAttributes = A crw-r--r--\n\n\
                    Path = secret\nSize = 9\nEncrypted = +\n\n\
                    Path = solid\nSize = \n";
        let entries = parse_listing(text, Format::Cpio);
        let kinds: Vec<(&str, &Kind, Option<u64>)> = entries
            .iter()
            .map(|e| (e.path.as_str(), &e.kind, e.size))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("docs", &Kind::Directory, None),
                ("docs/a.txt", &Kind::File, Some(5)),
                ("link", &Kind::Link, Some(4)),
                ("dev", &Kind::Special, Some(0)),
                ("secret", &Kind::File, Some(9)),
                ("solid", &Kind::File, None),
            ]
        );
        assert_eq!(entries[1].crc, Some(0x3610_a686));
        assert_eq!(entries[1].packed, Some(3));
        assert!(entries[4].encrypted);
        // A compound file's storage has no size and is a directory.
        let storage = parse_listing("Path = ObjectPool\nSize = \n", Format::Compound);
        assert_eq!(storage[0].kind, Kind::Directory);
    }
}
