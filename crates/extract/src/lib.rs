//! Container extraction under a budget, one level at a time. Nesting is the caller's business:
//! every member is a file that may itself be a container.
//!
//! In this process: zip (every method the zip crate has, ZipCrypto and AES), 7z (AES), tar,
//! gzip, bzip2, xz, lzip, zstd and lz4 (and tar inside any of these), e-mail messages,
//! mailboxes, Outlook messages, TNEF, InstallShield setups and the files documents embed. In
//! helper programs of their own: RAR and BinHex (`unar`), and cab, chm, cpio, arj, lzh, ISO,
//! UDF, rpm, ar, NSIS, compound files (msi), SZDD, compress, wim and xar (`7zz`).
//!
//! Members stream to numbered files in a scratch directory (never to their own names), and every
//! byte written is counted against a [`Budget`] before it is written, so memory and disk stay
//! bounded whatever the archive's headers claim. Names are sanitised for display only. Links,
//! devices and other special entries are skipped and listed, never followed.

mod budget;
mod installer;
mod mail;
mod names;
mod objects;
mod outlook;
mod sevenzz;
mod tnef;
mod tools;
mod unar;

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use budget::{Allowance, Budget, BudgetLimits, Limit, LocalBudget, Terms};
pub use mail::is_message;
pub use names::sanitise;
pub use objects::detect_document;

/// An archive or compression format Palisade can open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Format {
    Zip,
    Tar,
    Gzip,
    Bzip2,
    Xz,
    Lzip,
    Zstd,
    Lz4,
    SevenZip,
    Rar,
    BinHex,
    /// Cabinet, plain or inside a self-extracting installer.
    Cab,
    /// Compiled HTML help.
    Chm,
    /// cpio in any of its variants (binary both ways round, odc, newc, crc).
    Cpio,
    Arj,
    /// LHA / LZH.
    Lzh,
    Iso,
    Udf,
    Rpm,
    /// `ar` archives, Debian packages among them.
    Ar,
    /// A Nullsoft installer (NSIS) inside a Windows executable.
    Nsis,
    /// The files of an InstallShield setup inside a Windows executable.
    InstallShield,
    /// Compound files (OLE2) opened as archives: msi installers, each stream a member.
    Compound,
    /// Microsoft's `compress.exe` (SZDD) format.
    Szdd,
    /// Unix `compress` (.Z).
    UnixCompress,
    Wim,
    Xar,
    /// An e-mail message (`.eml`): its MIME parts.
    Mail,
    /// A mailbox (`mbox`): its messages.
    Mbox,
    /// Outlook's attachment wrapper (`winmail.dat`).
    Tnef,
    /// An Outlook message (`.msg`): its bodies and attachments.
    OutlookMsg,
    /// The files a PDF embeds.
    Pdf,
    /// The objects an RTF document embeds.
    Rtf,
    /// The objects an Office compound file (doc, xls, ppt) embeds.
    OfficeObjects,
    /// The objects an Office Open XML file (docx, xlsx, pptx) embeds.
    OfficeOpenXmlObjects,
    /// The base64 `data:` URIs of HTML or other text.
    Html,
}

/// Formats that cannot be opened on this machine, and why (their helper program is missing).
pub fn unavailable_formats() -> Vec<String> {
    unar::missing_tools()
        .into_iter()
        .chain(sevenzz::missing_tool())
        .collect()
}

/// Bytes needed to recognise every format by its head: ISO 9660 and UDF mark the second
/// 2 KiB sector after a 32 KiB system area.
pub const DETECT_BYTES: usize = 32 * 1024 + 6 + 2048;

/// The format of a file from its first bytes.
pub fn detect(head: &[u8]) -> Option<Format> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    let magics: &[(&[u8], Format)] = &[
        (b"PK\x03\x04", Format::Zip),
        (b"PK\x05\x06", Format::Zip),
        (b"PK\x07\x08", Format::Zip),
        (&[0x1f, 0x8b], Format::Gzip),
        (b"BZh", Format::Bzip2),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], Format::Xz),
        (b"LZIP", Format::Lzip),
        (&[0x28, 0xb5, 0x2f, 0xfd], Format::Zstd),
        (&[0x04, 0x22, 0x4d, 0x18], Format::Lz4),
        (&[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c], Format::SevenZip),
        (b"Rar!\x1a\x07", Format::Rar),
        (b"MSCF\0\0\0\0", Format::Cab),
        (b"ITSF\x03\0\0\0", Format::Chm),
        (b"070707", Format::Cpio),
        (b"070701", Format::Cpio),
        (b"070702", Format::Cpio),
        (&[0xc7, 0x71], Format::Cpio),
        (&[0x71, 0xc7], Format::Cpio),
        (&[0xed, 0xab, 0xee, 0xdb], Format::Rpm),
        (b"!<arch>\n", Format::Ar),
        (b"SZDD\x88\xf0\x27\x33", Format::Szdd),
        (&[0x1f, 0x9d], Format::UnixCompress),
        (b"MSWIM\0\0\0", Format::Wim),
        (b"xar!", Format::Xar),
        (&tnef::SIGNATURE, Format::Tnef),
        (
            &[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1],
            Format::Compound,
        ),
    ];
    if let Some((_, format)) = magics.iter().find(|(magic, _)| starts(magic)) {
        return Some(*format);
    }
    // ARJ: the marker and a main header of at most 2600 bytes.
    if starts(&[0x60, 0xea])
        && head
            .get(2..4)
            .is_some_and(|size| u16::from_le_bytes([size[0], size[1]]) <= 2600)
    {
        return Some(Format::Arj);
    }
    // LHA: a method name such as `-lh5-` or `-lzs-` after the header size and checksum.
    if let Some(method) = head.get(2..7)
        && method.starts_with(b"-l")
        && matches!(method[2], b'h' | b'z')
        && method[4] == b'-'
    {
        return Some(Format::Lzh);
    }
    if at(257, b"ustar") {
        return Some(Format::Tar);
    }
    if at(32769, b"CD001") {
        return Some(Format::Iso);
    }
    if at(32769, b"BEA01") {
        return Some(Format::Udf);
    }
    if head
        .get(..head.len().min(4096))
        .is_some_and(|text| find(text, b"(This file must be converted with BinHex").is_some())
    {
        return Some(Format::BinHex);
    }
    if mail::is_mailbox(head) {
        return Some(Format::Mbox);
    }
    if mail::is_message(head) {
        return Some(Format::Mail);
    }
    None
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

/// The format of a file on disk. The last part of a split zip, which starts inside a member,
/// is told by its end record; an installer's archive by the executable's appended data.
pub fn detect_file(path: &Path) -> std::io::Result<Option<Format>> {
    let mut file = File::open(path)?;
    let mut head = Vec::with_capacity(DETECT_BYTES);
    (&mut file)
        .take(DETECT_BYTES as u64)
        .read_to_end(&mut head)?;
    match detect(&head) {
        None if head.starts_with(b"MZ") => installer::detect(&mut file),
        None if split_zip(path)?.is_some() => Ok(Some(Format::Zip)),
        Some(Format::Compound) if outlook::detect(path) => Ok(Some(Format::OutlookMsg)),
        found => Ok(found),
    }
}

/// The format of a whole file held in memory (small uploads).
pub fn detect_bytes(bytes: &[u8]) -> Option<Format> {
    match detect(&bytes[..bytes.len().min(DETECT_BYTES)]) {
        None if bytes.starts_with(b"MZ") => {
            installer::detect(&mut std::io::Cursor::new(bytes)).ok()?
        }
        Some(Format::Compound)
            if cfb::CompoundFile::open(std::io::Cursor::new(bytes))
                .is_ok_and(|file| outlook::is_message(&file)) =>
        {
            Some(Format::OutlookMsg)
        }
        found => found,
    }
}

impl Format {
    /// Its media type and a description, for formats that general type identification does
    /// not know.
    pub fn media_type(self) -> (&'static str, &'static str) {
        match self {
            Format::Szdd => (
                "application/x-ms-compress-szdd",
                "Microsoft compressed file (SZDD)",
            ),
            Format::BinHex => ("application/mac-binhex40", "BinHex encoded file"),
            Format::Nsis => ("application/x-nsis", "Nullsoft installer (NSIS)"),
            Format::InstallShield => ("application/x-installshield", "InstallShield setup"),
            Format::Cab => ("application/vnd.ms-cab-compressed", "Cabinet"),
            Format::Lzip => ("application/x-lzip", "lzip"),
            Format::Zstd => ("application/zstd", "Zstandard"),
            Format::Lz4 => ("application/x-lz4", "LZ4"),
            Format::UnixCompress => ("application/x-compress", "Unix compress"),
            Format::Chm => (
                "application/vnd.ms-htmlhelp",
                "Microsoft Compiled HTML Help",
            ),
            Format::Zip => ("application/zip", "ZIP"),
            _ => ("application/octet-stream", "archive"),
        }
    }
}

/// One member written to the scratch directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Position in the archive, counting only extracted members.
    pub index: u32,
    /// Sanitised path inside the archive, for display.
    pub name: String,
    /// Where its bytes are (inside the scratch directory).
    pub path: PathBuf,
    pub size: u64,
}

/// What extracting one archive produced.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub members: Vec<Member>,
    /// Entries not extracted, with why (links, devices, members no password opened).
    pub skipped: Vec<(String, String)>,
    /// Whether any entry is encrypted.
    pub encrypted: bool,
    /// For encrypted archives: whether every encrypted entry was opened with a given password.
    pub decrypted: Option<bool>,
    /// The budget limit that stopped extraction early; members before it are kept.
    pub stopped: Option<Limit>,
}

/// The reason, in [`Outcome::skipped`], of an entry whose data its decoder could not read.
pub const UNDECODED: &str = "could not be decoded";

impl Outcome {
    /// Entries skipped because their data could not be decoded (not links, devices or
    /// entries no password opened): the archive was not read whole.
    pub fn undecoded(&self) -> Vec<&str> {
        self.skipped
            .iter()
            .filter(|(_, reason)| reason.starts_with(UNDECODED))
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{0:?} archives are not supported yet")]
    Unsupported(Format),
    #[error("damaged archive: {0}")]
    Corrupt(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The parser process that opened the archive failed (crashed, was killed, or garbled its
    /// answer); the text says how.
    #[error("{0}")]
    Parser(String),
    /// A document whose embedded files cannot be read (damaged, or encrypted).
    #[error("{0}")]
    Document(String),
}

impl Format {
    /// Whether its decoder runs in this process. RAR and BinHex run in `unar`, and the
    /// installer, disk-image and legacy formats in 7-Zip's `7zz`, each a process of its own.
    pub fn decodes_in_process(self) -> bool {
        matches!(
            self,
            Format::Zip
                | Format::Tar
                | Format::Gzip
                | Format::Bzip2
                | Format::Xz
                | Format::Lzip
                | Format::Zstd
                | Format::Lz4
                | Format::SevenZip
                | Format::Mail
                | Format::Mbox
                | Format::Tnef
                | Format::OutlookMsg
                | Format::InstallShield
                | Format::Pdf
                | Format::Rtf
                | Format::OfficeObjects
                | Format::OfficeOpenXmlObjects
                | Format::Html
        )
    }

    /// Whether it is mail (type category `Z`) rather than an archive (`A`).
    pub fn is_mail(self) -> bool {
        matches!(self, Format::Mail | Format::Mbox | Format::OutlookMsg)
    }
}

/// Where archives are opened: in this process ([`InProcess`]) or in a parser process, where a
/// decoder that crashes on hostile bytes takes only that process down.
pub trait Opener: Send + Sync + std::fmt::Debug {
    fn open(
        &self,
        extractor: &Extractor<'_>,
        archive: &Path,
        format: Format,
    ) -> Result<Outcome, ExtractError>;
}

/// Opens archives in the calling thread.
#[derive(Debug, Default)]
pub struct InProcess;

impl Opener for InProcess {
    fn open(
        &self,
        extractor: &Extractor<'_>,
        archive: &Path,
        format: Format,
    ) -> Result<Outcome, ExtractError> {
        extractor.extract(archive, format)
    }
}

/// Most memory a 7z decoder may use (dictionaries, models); archives needing more are refused.
const SEVEN_ZIP_MEMORY_KIB: usize = 320 * 1024;

enum SevenZipFailure {
    /// The password (or its absence) does not open the archive.
    Password,
    Other(ExtractError),
}

/// Why copying one member stopped.
enum CopyError {
    Limit(Limit),
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Extraction of one archive into `out_dir`.
pub struct Extractor<'a> {
    pub out_dir: &'a Path,
    pub passwords: &'a [String],
    pub budget: &'a dyn Budget,
    /// The archive's own display name, to name the member of a single compressed stream.
    pub display_name: &'a str,
}

impl Extractor<'_> {
    pub fn extract(&self, archive: &Path, format: Format) -> Result<Outcome, ExtractError> {
        let mut outcome = Outcome::default();
        match format {
            Format::Zip => self.zip(archive, &mut outcome)?,
            Format::Tar => {
                let input = BufReader::new(File::open(archive)?);
                self.tar(input, &mut outcome)?
            }
            Format::Gzip
            | Format::Bzip2
            | Format::Xz
            | Format::Lzip
            | Format::Zstd
            | Format::Lz4 => self.stream(archive, format, &mut outcome)?,
            Format::SevenZip => self.seven_zip(archive, &mut outcome)?,
            Format::Rar | Format::BinHex => self.unar(archive, format, &mut outcome)?,
            Format::Cab
            | Format::Chm
            | Format::Cpio
            | Format::Arj
            | Format::Lzh
            | Format::Iso
            | Format::Udf
            | Format::Rpm
            | Format::Ar
            | Format::Nsis
            | Format::Compound
            | Format::Szdd
            | Format::UnixCompress
            | Format::Wim
            | Format::Xar => self.sevenzz(archive, format, &mut outcome)?,
            Format::Mail => self.mail(archive, &mut outcome)?,
            Format::Mbox => self.mailbox(archive, &mut outcome)?,
            Format::Tnef => self.tnef(archive, &mut outcome)?,
            Format::OutlookMsg => self.outlook(archive, &mut outcome)?,
            Format::InstallShield => self.installshield(archive, &mut outcome)?,
            Format::Pdf
            | Format::Rtf
            | Format::OfficeObjects
            | Format::OfficeOpenXmlObjects
            | Format::Html => self.objects(archive, format, &mut outcome)?,
        }
        Ok(outcome)
    }

    /// Copies `reader` into the next member file, charging the budget as it goes. `packed` is
    /// the member's compressed size when known, for the ratio limit.
    fn copy(
        &self,
        reader: &mut dyn Read,
        name: String,
        packed: Option<u64>,
        outcome: &mut Outcome,
    ) -> Result<Result<(), CopyError>, ExtractError> {
        if let Err(limit) = self.budget.check_time() {
            return Ok(Err(CopyError::Limit(limit)));
        }
        self.copy_member(reader, name, packed, outcome)
    }

    fn copy_member(
        &self,
        reader: &mut dyn Read,
        name: String,
        packed: Option<u64>,
        outcome: &mut Outcome,
    ) -> Result<Result<(), CopyError>, ExtractError> {
        if let Err(limit) = self.budget.take_member() {
            return Ok(Err(CopyError::Limit(limit)));
        }
        let index = u32::try_from(outcome.members.len()).unwrap_or(u32::MAX);
        let path = self.out_dir.join(format!("member-{index:06}"));
        let mut file = File::create(&path)?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut size = 0u64;
        let result = loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(CopyError::Read(e)),
            };
            size += n as u64;
            if let Err(limit) = self
                .budget
                .take_bytes(n as u64)
                .and_then(|()| self.budget.check_ratio(size, packed))
                .and_then(|()| self.budget.check_time())
            {
                break Err(CopyError::Limit(limit));
            }
            if let Err(e) = file.write_all(&buf[..n]) {
                break Err(CopyError::Write(e));
            }
        };
        match result {
            Ok(()) => {
                outcome.members.push(Member {
                    index,
                    name: sanitise(&name, index),
                    path,
                    size,
                });
                Ok(Ok(()))
            }
            Err(CopyError::Write(e)) => Err(ExtractError::Io(e)),
            Err(other) => {
                drop(file);
                let _ = std::fs::remove_file(&path);
                Ok(Err(other))
            }
        }
    }

    fn zip(&self, archive: &Path, outcome: &mut Outcome) -> Result<(), ExtractError> {
        if let Some(parts) = split_zip(archive)? {
            return Err(ExtractError::Corrupt(format!(
                "a split (spanned) zip archive{parts}: its members cannot be read from one part"
            )));
        }
        let input = BufReader::new(File::open(archive)?);
        let mut zip =
            zip::ZipArchive::new(input).map_err(|e| ExtractError::Corrupt(format!("zip: {e}")))?;
        // The password that last worked is tried first.
        let mut known: Option<usize> = None;
        for position in 0..zip.len() {
            let (name, encrypted, special) = {
                let entry = zip
                    .by_index_raw(position)
                    .map_err(|e| ExtractError::Corrupt(format!("zip entry {position}: {e}")))?;
                let special = if entry.is_dir() {
                    Some("")
                } else if entry.is_symlink() {
                    Some("symbolic link (not followed)")
                } else {
                    None
                };
                let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
                (name, entry.encrypted(), special)
            };
            match special {
                Some("") => continue,
                Some(reason) => {
                    outcome.skipped.push((name, reason.into()));
                    continue;
                }
                _ => {}
            }
            if !encrypted {
                let mut entry = zip
                    .by_index(position)
                    .map_err(|e| ExtractError::Corrupt(format!("zip entry {name:?}: {e}")))?;
                let packed = entry.compressed_size();
                let copied = self.copy(&mut entry, name.clone(), Some(packed), outcome)?;
                if !settle(copied, outcome, &format!("zip entry {name:?}"))? {
                    return Ok(());
                }
                continue;
            }
            outcome.encrypted = true;
            let order: Vec<usize> = known
                .into_iter()
                .chain((0..self.passwords.len()).filter(|i| Some(*i) != known))
                .collect();
            let mut opened = false;
            for candidate in order {
                let password = self.passwords[candidate].as_bytes();
                let mut entry = match zip.by_index_decrypt(position, password) {
                    Ok(entry) => entry,
                    Err(zip::result::ZipError::InvalidPassword) => continue,
                    Err(e) => {
                        return Err(ExtractError::Corrupt(format!("zip entry {name:?}: {e}")));
                    }
                };
                let packed = entry.compressed_size();
                match self.copy(&mut entry, name.clone(), Some(packed), outcome)? {
                    Ok(()) => {
                        opened = true;
                        known = Some(candidate);
                        break;
                    }
                    Err(CopyError::Limit(limit)) => {
                        outcome.stopped = Some(limit);
                        return Ok(());
                    }
                    // ZipCrypto's one-byte check passes 1 wrong password in 256; the checksum
                    // at the end tells. Try the next one.
                    Err(CopyError::Read(_)) => continue,
                    Err(CopyError::Write(e)) => return Err(ExtractError::Io(e)),
                }
            }
            if !opened {
                outcome.skipped.push((
                    sanitise(&name, 0),
                    "encrypted; no given password opens it".into(),
                ));
            }
            outcome.decrypted = Some(outcome.decrypted.unwrap_or(true) && opened);
        }
        Ok(())
    }

    /// 7z: tried without a password, then with each given one, until one opens every entry.
    fn seven_zip(&self, archive: &Path, outcome: &mut Outcome) -> Result<(), ExtractError> {
        let candidates: Vec<Option<&str>> = std::iter::once(None)
            .chain(self.passwords.iter().map(|p| Some(p.as_str())))
            .collect();
        let first_member = outcome.members.len();
        for candidate in candidates {
            let password = candidate.map_or_else(sevenz_rust2::Password::empty, |p| {
                sevenz_rust2::Password::from(p)
            });
            let attempt = self.seven_zip_with(archive, password, outcome);
            match attempt {
                Ok(()) => {
                    if candidate.is_some() {
                        outcome.encrypted = true;
                        outcome.decrypted = Some(true);
                    }
                    return Ok(());
                }
                Err(SevenZipFailure::Password) => {
                    outcome.encrypted = true;
                    // Drop what this attempt wrote before trying the next password.
                    for member in outcome.members.drain(first_member..) {
                        let _ = std::fs::remove_file(&member.path);
                    }
                }
                Err(SevenZipFailure::Other(error)) => return Err(error),
            }
        }
        outcome.decrypted = Some(false);
        outcome.skipped.push((
            self.display_name.to_string(),
            "encrypted; no given password opens it".into(),
        ));
        Ok(())
    }

    fn seven_zip_with(
        &self,
        archive: &Path,
        password: sevenz_rust2::Password,
        outcome: &mut Outcome,
    ) -> Result<(), SevenZipFailure> {
        use sevenz_rust2::Error as E;
        let classify = |error: E| match error {
            E::PasswordRequired | E::MaybeBadPassword(_) | E::ChecksumVerificationFailed => {
                SevenZipFailure::Password
            }
            other => SevenZipFailure::Other(ExtractError::Corrupt(format!("7z: {other}"))),
        };
        let file = File::open(archive).map_err(|e| SevenZipFailure::Other(e.into()))?;
        let mut reader = sevenz_rust2::ArchiveReader::new_with_memory_limit(
            BufReader::new(file),
            password,
            SEVEN_ZIP_MEMORY_KIB,
        )
        .map_err(classify)?;
        reader.set_thread_count(1);
        let mut failure: Option<SevenZipFailure> = None;
        let result = reader.for_each_entries(|entry, data| {
            if entry.is_directory() || !entry.has_stream() {
                return Ok(true);
            }
            let unix_mode = (entry.windows_attributes() & 0x8000 != 0)
                .then(|| entry.windows_attributes() >> 16);
            if unix_mode.is_some_and(|mode| mode & 0o170000 == 0o120000) {
                outcome.skipped.push((
                    entry.name().to_string(),
                    "symbolic link (not followed)".into(),
                ));
                return Ok(true);
            }
            let packed = (entry.compressed_size > 0).then_some(entry.compressed_size);
            match self.copy(data, entry.name().to_string(), packed, outcome) {
                Ok(Ok(())) => Ok(true),
                Ok(Err(CopyError::Limit(limit))) => {
                    outcome.stopped = Some(limit);
                    Ok(false)
                }
                Ok(Err(CopyError::Read(error))) => Err(E::from(error)),
                Ok(Err(CopyError::Write(error))) | Err(ExtractError::Io(error)) => {
                    failure = Some(SevenZipFailure::Other(ExtractError::Io(error)));
                    Ok(false)
                }
                Err(other) => {
                    failure = Some(SevenZipFailure::Other(other));
                    Ok(false)
                }
            }
        });
        if let Some(failure) = failure {
            return Err(failure);
        }
        if outcome.stopped.is_some() {
            return Ok(());
        }
        result.map_err(classify)
    }

    fn tar(&self, input: impl Read, outcome: &mut Outcome) -> Result<(), ExtractError> {
        let mut archive = tar::Archive::new(input);
        let entries = archive
            .entries()
            .map_err(|e| ExtractError::Corrupt(format!("tar: {e}")))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| ExtractError::Corrupt(format!("tar: {e}")))?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let kind = entry.header().entry_type();
            if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
                continue;
            }
            if !(kind.is_file() || kind.is_contiguous()) {
                let reason = if kind.is_symlink() || kind.is_hard_link() {
                    "link (not followed)"
                } else if kind.is_character_special() || kind.is_block_special() {
                    "device file"
                } else if kind.is_fifo() {
                    "named pipe"
                } else {
                    "special entry"
                };
                outcome.skipped.push((name, reason.into()));
                continue;
            }
            let copied = self.copy(&mut entry, name.clone(), None, outcome)?;
            if !settle(copied, outcome, &format!("tar entry {name:?}"))? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// A single compressed stream: its content is one member, or the members of the tar it holds.
    fn stream(
        &self,
        archive: &Path,
        format: Format,
        outcome: &mut Outcome,
    ) -> Result<(), ExtractError> {
        let counted = Counting::new(BufReader::new(File::open(archive)?));
        let packed = counted.count.clone();
        let decoder: Box<dyn Read> = match format {
            Format::Gzip => Box::new(flate2::read::MultiGzDecoder::new(counted)),
            Format::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(counted)),
            Format::Lzip => Box::new(lzma_rust2::LzipReader::new(counted)),
            Format::Zstd => Box::new(
                zstd::stream::read::Decoder::new(counted)
                    .map_err(|e| ExtractError::Corrupt(format!("zstd stream: {e}")))?,
            ),
            Format::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(counted)),
            _ => Box::new(lzma_rust2::XzReader::new(counted, true)),
        };
        // Stream ratio: output against the compressed bytes read so far.
        let mut metered = Ratio {
            inner: decoder,
            packed,
            budget: self.budget,
            out: 0,
        };
        let mut head = Vec::with_capacity(512);
        (&mut metered)
            .take(512)
            .read_to_end(&mut head)
            .map_err(|e| ExtractError::Corrupt(format!("{format:?} stream: {e}")))?;
        let rest = std::io::Cursor::new(head.clone()).chain(metered);
        if head.len() >= 262 && &head[257..262] == b"ustar" {
            return self.tar(rest, outcome);
        }
        let name = inner_name(self.display_name, format);
        let mut rest = rest;
        let copied = self.copy(&mut rest, name.clone(), None, outcome)?;
        settle(copied, outcome, &name).map(|_| ())
    }
}

/// What a finished copy means for the extraction: `true` to carry on, `false` when a limit
/// stopped it (recorded in `outcome`). A read error is a damaged archive, named by `what`.
fn settle(
    copied: Result<(), CopyError>,
    outcome: &mut Outcome,
    what: &str,
) -> Result<bool, ExtractError> {
    match copied {
        Ok(()) => Ok(true),
        Err(CopyError::Limit(limit)) => {
            outcome.stopped = Some(limit);
            Ok(false)
        }
        // Decompressing readers report the ratio limit through the read.
        Err(CopyError::Read(e)) => match Limit::from_io(&e) {
            Some(limit) => {
                outcome.stopped = Some(limit);
                Ok(false)
            }
            None => Err(ExtractError::Corrupt(format!("{what}: {e}"))),
        },
        Err(CopyError::Write(e)) => Err(ExtractError::Io(e)),
    }
}

/// The name of what a compressed stream holds: `report.pdf.gz` → `report.pdf`, `x.tgz` → `x.tar`.
fn inner_name(display_name: &str, format: Format) -> String {
    let base = display_name.rsplit(['/', '\\']).next().unwrap_or_default();
    let lower = base.to_ascii_lowercase();
    let suffixes: &[(&str, &str)] = match format {
        Format::Gzip => &[(".tgz", ".tar"), (".gz", ""), (".gzip", "")],
        Format::Bzip2 => &[(".tbz2", ".tar"), (".tbz", ".tar"), (".bz2", "")],
        Format::Lzip => &[(".tlz", ".tar"), (".lz", "")],
        Format::Zstd => &[(".tzst", ".tar"), (".zst", ""), (".zstd", "")],
        Format::Lz4 => &[(".tlz4", ".tar"), (".lz4", "")],
        Format::UnixCompress => &[(".taz", ".tar"), (".z", "")],
        Format::Szdd => &[(".szdd", "")],
        _ => &[(".txz", ".tar"), (".xz", "")],
    };
    for (suffix, replacement) in suffixes {
        if lower.ends_with(suffix) && lower.len() > suffix.len() {
            return format!("{}{replacement}", &base[..base.len() - suffix.len()]);
        }
    }
    if base.is_empty() {
        "content".into()
    } else {
        format!("{base}.content")
    }
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    count: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R> Counting<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            count: Default::default(),
        }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Fails a decompressing reader whose output outgrows its input beyond the budget's ratio.
struct Ratio<'a> {
    inner: Box<dyn Read + 'a>,
    packed: std::rc::Rc<std::cell::Cell<u64>>,
    budget: &'a dyn Budget,
    out: u64,
}

impl Read for Ratio<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        self.budget
            .check_ratio(self.out, Some(self.packed.get()))
            .map_err(Limit::into_io)?;
        Ok(n)
    }
}

/// Whether the zip at `path` is one part of a split (spanned) archive: the first part starts
/// with the spanning marker, the last one's end record names another disk. `Some` with the
/// number of parts when the end record gives it (` of N parts`), else an empty text.
fn split_zip(path: &Path) -> std::io::Result<Option<String>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path)?;
    let mut head = [0u8; 8];
    let read = file.read(&mut head)?;
    if read == 8 && head.starts_with(b"PK\x07\x08") && head[4..].starts_with(b"PK") {
        return Ok(Some(String::new()));
    }
    // The end of central directory record: 22 bytes and a comment of up to 64 KiB, at the end.
    let size = file.metadata()?.len();
    let tail_len = size.min(22 + 0xFFFF);
    file.seek(SeekFrom::Start(size - tail_len))?;
    let mut tail = Vec::with_capacity(tail_len as usize);
    file.take(tail_len).read_to_end(&mut tail)?;
    let Some(at) = tail
        .windows(4)
        .rposition(|window| window == b"PK\x05\x06")
        .filter(|at| at + 22 <= tail.len())
    else {
        return Ok(None);
    };
    let field = |offset: usize| u16::from_le_bytes([tail[at + offset], tail[at + offset + 1]]);
    let (disk, directory_disk) = (field(4), field(6));
    // Zip64 archives keep 0xFFFF here and the real numbers in their own records.
    if disk == 0xFFFF || (disk == 0 && directory_disk == 0) {
        return Ok(None);
    }
    Ok(Some(format!(" of {} parts", u32::from(disk) + 1)))
}
