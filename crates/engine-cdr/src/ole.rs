//! Legacy Office documents (OLE2 compound files: Word `doc`, Excel `xls`, PowerPoint `ppt`):
//! every storage and stream that stays is copied into a new compound file (the cfb crate), so
//! what is removed is not in the copy's bytes, and storage timestamps are reset.
//!
//! Removed: the VBA project (Word's `Macros`, Excel's `_VBA_PROJECT_CUR` storage and its
//! `OBJPROJ` record in the workbook stream; Macro, with the module names), embedded OLE objects
//! (Word's `ObjectPool` storages, Excel's `MBD...` storages; Embedded OLE object), Excel's
//! ActiveX control stream `Ctls` (ActiveX control), and the summary information streams
//! (Metadata, per rule). Word fields that run or fetch (DDE, INCLUDETEXT...) lose their
//! instruction, overwritten in place. PowerPoint keeps its objects and VBA project inside the
//! `PowerPoint Document` stream as `ExOleObjStg` records: each is emptied, and the stream's
//! offsets (persist directory, user edits, current user) are moved to match. A workbook with an
//! Excel 4 macro sheet cannot be rewritten safely in BIFF, so it is blocked instead.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use palisade_model::{ActiveObject, CdrPolicy, FailureCategory};

use crate::{Failure, Rebuilt, Removals};

/// Most entries a compound file may have.
const MAX_ENTRIES: usize = 10_000;
/// Most bytes all streams together may hold.
const MAX_TOTAL: u64 = 1 << 30;
const MAGIC: [u8; 8] = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];

/// A legacy Office document type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Word,
    Excel,
    PowerPoint,
    /// An encrypted Office Open XML package (`EncryptedPackage`), which is an OLE2 file.
    Encrypted,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Word => "doc",
            Kind::Excel => "xls",
            Kind::PowerPoint => "ppt",
            Kind::Encrypted => "office-encrypted",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Word => "Word 97-2003 document (doc)",
            Kind::Excel => "Excel 97-2003 workbook (xls)",
            Kind::PowerPoint => "PowerPoint 97-2003 presentation (ppt)",
            Kind::Encrypted => "encrypted Office document",
        }
    }

    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Kind::Word => &["doc", "dot"],
            Kind::Excel => &["xls", "xlt", "xla"],
            Kind::PowerPoint => &["ppt", "pps", "pot"],
            Kind::Encrypted => &["docx", "xlsx", "pptx"],
        }
    }
}

/// The document type, when the bytes are a compound file Deep CDR rebuilds.
pub(crate) fn detect(input: &[u8]) -> Option<Kind> {
    if !input.starts_with(&MAGIC) {
        return None;
    }
    let file = cfb::CompoundFile::open(Cursor::new(input)).ok()?;
    let has = |name: &str| file.is_stream(name);
    if has("/EncryptedPackage") {
        Some(Kind::Encrypted)
    } else if has("/WordDocument") {
        Some(Kind::Word)
    } else if has("/Workbook") || has("/Book") {
        Some(Kind::Excel)
    } else if has("/PowerPoint Document") {
        Some(Kind::PowerPoint)
    } else {
        None
    }
}

struct Entry {
    path: PathBuf,
    storage: bool,
    clsid: uuid::Uuid,
}

pub(crate) fn rebuild(
    input: &[u8],
    kind: Kind,
    policy: &CdrPolicy,
    deadline: Instant,
) -> Result<Rebuilt, Failure> {
    if kind == Kind::Encrypted {
        return Err(password_protected());
    }
    let mut file = cfb::CompoundFile::open(Cursor::new(input))
        .map_err(|error| Failure::invalid(format!("not a readable compound file: {error}")))?;
    let mut entries = Vec::new();
    let mut total = 0u64;
    for entry in file.walk() {
        if entries.len() >= MAX_ENTRIES {
            return Err(Failure::invalid(format!(
                "more than {MAX_ENTRIES} entries in the compound file"
            )));
        }
        total += entry.len();
        entries.push(Entry {
            path: entry.path().to_path_buf(),
            storage: !entry.is_stream(),
            clsid: *entry.clsid(),
        });
    }
    if total > MAX_TOTAL {
        return Err(Failure::invalid(format!(
            "the streams hold more than {MAX_TOTAL} bytes"
        )));
    }
    let mut pass = Pass {
        policy,
        removals: Removals::default(),
        removed: Vec::new(),
        replaced: Vec::new(),
        blocked: Vec::new(),
    };
    pass.common(&entries);
    match kind {
        Kind::Word => pass.word(&mut file, &entries)?,
        Kind::Excel => pass.excel(&mut file, &entries)?,
        Kind::PowerPoint => pass.powerpoint(&mut file, &entries)?,
        Kind::Encrypted => {}
    }
    if Instant::now() > deadline {
        return Err(Failure::timed_out());
    }
    let bytes = copy(&mut file, &entries, &pass, deadline)?;
    Ok(Rebuilt {
        bytes,
        removals: pass.removals,
        blocked: pass.blocked,
        ..Rebuilt::default()
    })
}

fn password_protected() -> Failure {
    Failure {
        category: FailureCategory::PasswordProtected,
        reason: "the document is encrypted".into(),
    }
}

/// What the rebuild leaves out and changes.
struct Pass<'a> {
    policy: &'a CdrPolicy,
    removals: Removals,
    /// Storages and streams left out (with everything under them).
    removed: Vec<PathBuf>,
    /// Streams written with new bytes.
    replaced: Vec<(PathBuf, Vec<u8>)>,
    /// Why the file must be blocked rather than rebuilt.
    blocked: Vec<String>,
}

impl Pass<'_> {
    /// Records an object and leaves it out when the rule removes its kind.
    fn remove(&mut self, path: &Path, kind: ActiveObject, detail: &str) {
        let removes = self.policy.removes(kind);
        self.removals.record(kind, removes, detail);
        if removes {
            self.removed.push(path.to_path_buf());
        }
    }

    fn is_removed(&self, path: &Path) -> bool {
        self.removed.iter().any(|removed| path.starts_with(removed))
    }

    /// The summary information streams, in every type.
    fn common(&mut self, entries: &[Entry]) {
        for entry in entries {
            let name = file_name(&entry.path);
            if !entry.storage
                && entry.path.parent() == Some(Path::new("/"))
                && (name == "\u{5}SummaryInformation" || name == "\u{5}DocumentSummaryInformation")
            {
                self.remove(
                    &entry.path,
                    ActiveObject::Metadata,
                    &format!("{} stream", name.trim_start_matches('\u{5}')),
                );
            }
        }
    }

    /// A VBA project storage: one Macro, named by its modules and their first lines.
    fn vba<F: Read + std::io::Seek>(&mut self, file: &mut cfb::CompoundFile<F>, path: &Path) {
        let modules = crate::vba::modules(file, &path.join("VBA"));
        self.remove(
            path,
            ActiveObject::Macro,
            &crate::vba::describe("VBA project", &modules),
        );
    }

    fn word<F: Read + std::io::Seek>(
        &mut self,
        file: &mut cfb::CompoundFile<F>,
        entries: &[Entry],
    ) -> Result<(), Failure> {
        let fib = read(file, Path::new("/WordDocument"))?;
        // FibBase.fEncrypted: bit 8 of the flags at offset 10.
        if fib.get(11).is_some_and(|flags| flags & 0x01 != 0) {
            return Err(password_protected());
        }
        if let Some(text) = self.word_fields(&fib) {
            self.replaced.push((PathBuf::from("/WordDocument"), text));
        }
        if file.is_storage("/Macros") {
            self.vba(file, Path::new("/Macros"));
        }
        for entry in entries {
            if entry.storage && entry.path.parent() == Some(Path::new("/ObjectPool")) {
                let detail = object_detail(file, &entry.path);
                self.remove(&entry.path, ActiveObject::OleObject, &detail);
            }
        }
        Ok(())
    }

    /// Word fields that run or fetch (DDE, INCLUDETEXT...): each instruction, between the
    /// field's begin (0x13) and separator (0x14) or end (0x15) characters, is overwritten
    /// with spaces in place, so the field keeps its last result and no offset in the file
    /// moves. Text is either one byte per character or UTF-16; both are looked for.
    fn word_fields(&mut self, stream: &[u8]) -> Option<Vec<u8>> {
        let mut out = stream.to_vec();
        let mut changed = false;
        for width in [1usize, 2] {
            let mut at = 0usize;
            while at + width <= out.len() {
                let is = |data: &[u8], at: usize, c: u8| {
                    data.get(at) == Some(&c) && (width == 1 || data.get(at + 1) == Some(&0))
                };
                if !is(&out, at, 0x13) {
                    at += width;
                    continue;
                }
                let start = at + width;
                let mut end = start;
                let mut instruction = String::new();
                while end + width <= out.len()
                    && !is(&out, end, 0x13)
                    && !is(&out, end, 0x14)
                    && !is(&out, end, 0x15)
                    && instruction.len() < 2048
                {
                    let unit = if width == 1 {
                        u16::from(out[end])
                    } else {
                        u16::from_le_bytes([out[end], out[end + 1]])
                    };
                    instruction.push(char::from_u32(u32::from(unit)).unwrap_or(' '));
                    end += width;
                }
                let closed = is(&out, end, 0x14) || is(&out, end, 0x15);
                if closed && let Some(kind) = crate::field_kind(&instruction) {
                    let removes = self.policy.removes(kind);
                    self.removals
                        .record(kind, removes, &format!("field {}", instruction.trim()));
                    if removes {
                        for at in (start..end).step_by(width) {
                            out[at] = b' ';
                            if width == 2 {
                                out[at + 1] = 0;
                            }
                        }
                        changed = true;
                    }
                }
                at = end.max(start);
            }
        }
        changed.then_some(out)
    }

    fn excel<F: Read + std::io::Seek>(
        &mut self,
        file: &mut cfb::CompoundFile<F>,
        entries: &[Entry],
    ) -> Result<(), Failure> {
        if file.is_storage("/_VBA_PROJECT_CUR") {
            self.vba(file, Path::new("/_VBA_PROJECT_CUR"));
        }
        for entry in entries {
            let name = file_name(&entry.path);
            let at_root = entry.path.parent() == Some(Path::new("/"));
            if at_root && entry.storage && name.starts_with("MBD") {
                let detail = object_detail(file, &entry.path);
                self.remove(&entry.path, ActiveObject::OleObject, &detail);
            }
            if at_root && !entry.storage && name == "Ctls" {
                self.remove(
                    &entry.path,
                    ActiveObject::ActiveX,
                    "ActiveX controls (Ctls stream)",
                );
            }
        }
        let stream = if file.is_stream("/Workbook") {
            "/Workbook"
        } else {
            "/Book"
        };
        let workbook = read(file, Path::new(stream))?;
        let edited = biff::edit(&workbook, self.policy.removes(ActiveObject::Macro))?;
        if edited.encrypted {
            return Err(password_protected());
        }
        for sheet in &edited.macro_sheets {
            self.removals.record(
                ActiveObject::Macro,
                self.policy.removes(ActiveObject::Macro),
                &format!("Excel 4 macro sheet {sheet}"),
            );
            if self.policy.removes(ActiveObject::Macro) {
                self.blocked.push(format!(
                    "Contains an Excel 4 macro sheet ({sheet}), which a BIFF workbook cannot lose safely"
                ));
            }
        }
        if let Some(bytes) = edited.bytes {
            self.replaced.push((PathBuf::from(stream), bytes));
        }
        Ok(())
    }

    fn powerpoint<F: Read + std::io::Seek>(
        &mut self,
        file: &mut cfb::CompoundFile<F>,
        entries: &[Entry],
    ) -> Result<(), Failure> {
        if entries
            .iter()
            .any(|entry| file_name(&entry.path) == "EncryptedSummary")
        {
            return Err(password_protected());
        }
        let document = read(file, Path::new("/PowerPoint Document"))?;
        let current = read(file, Path::new("/Current User"))?;
        let edited = ppt::edit(&document, &current, |vba, body| {
            let size = body.len();
            let (kind, detail) = if vba {
                let modules = ppt::storage(body).map(|project| vba_modules(&project));
                (
                    ActiveObject::Macro,
                    crate::vba::describe("VBA project", &modules.unwrap_or_default()),
                )
            } else {
                (
                    ActiveObject::OleObject,
                    format!("embedded object storage ({size} bytes)"),
                )
            };
            let removes = self.policy.removes(kind);
            self.removals.record(kind, removes, &detail);
            removes
        })?;
        if let Some(streams) = edited {
            self.replaced
                .push((PathBuf::from("/PowerPoint Document"), streams.document));
            self.replaced
                .push((PathBuf::from("/Current User"), streams.current));
        }
        Ok(())
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read<F: Read + std::io::Seek>(
    file: &mut cfb::CompoundFile<F>,
    path: &Path,
) -> Result<Vec<u8>, Failure> {
    let mut data = Vec::new();
    file.open_stream(path)
        .and_then(|mut stream| stream.read_to_end(&mut data))
        .map_err(|error| Failure::invalid(format!("the stream {}: {error}", path.display())))?;
    Ok(data)
}

/// The modules of a VBA project file (`vbaProject.bin` in Office Open XML).
pub(crate) fn vba_modules(project: &[u8]) -> Vec<crate::vba::Module> {
    match cfb::CompoundFile::open(Cursor::new(project)) {
        Ok(mut file) => crate::vba::modules(&mut file, Path::new("/VBA")),
        Err(_) => Vec::new(),
    }
}

/// What an embedded object storage holds: its name and the program it belongs to.
fn object_detail<F: Read + std::io::Seek>(file: &mut cfb::CompoundFile<F>, path: &Path) -> String {
    let comp_obj = read(file, &path.join("\u{1}CompObj")).unwrap_or_default();
    // The user type is the first length-prefixed ANSI string after the 28-byte header.
    let user_type = comp_obj
        .get(28..32)
        .map(|len| u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize)
        .and_then(|len| comp_obj.get(32..32 + len.min(256)))
        .map(|name| {
            String::from_utf8_lossy(name)
                .trim_end_matches('\0')
                .to_string()
        })
        .unwrap_or_default();
    format!("{} {user_type}", file_name(path))
        .trim()
        .to_string()
}

/// Writes the entries that stay into a new compound file of the same version.
fn copy<F: Read + std::io::Seek>(
    file: &mut cfb::CompoundFile<F>,
    entries: &[Entry],
    pass: &Pass<'_>,
    deadline: Instant,
) -> Result<Vec<u8>, Failure> {
    let failed =
        |error: std::io::Error| Failure::failed(format!("writing the compound file: {error}"));
    let mut out = cfb::CompoundFile::create_with_version(file.version(), Cursor::new(Vec::new()))
        .map_err(failed)?;
    let epoch = std::time::SystemTime::UNIX_EPOCH;
    for entry in entries {
        if Instant::now() > deadline {
            return Err(Failure::timed_out());
        }
        if pass.is_removed(&entry.path) {
            continue;
        }
        if entry.storage {
            if entry.path != Path::new("/") {
                out.create_storage(&entry.path).map_err(failed)?;
            }
            out.set_storage_clsid(&entry.path, entry.clsid)
                .map_err(failed)?;
            out.set_created_time(&entry.path, epoch).map_err(failed)?;
            out.set_modified_time(&entry.path, epoch).map_err(failed)?;
            continue;
        }
        let data = match pass.replaced.iter().find(|(path, _)| *path == entry.path) {
            Some((_, data)) => data.clone(),
            None => read(file, &entry.path)?,
        };
        let mut stream = out.create_stream(&entry.path).map_err(failed)?;
        stream.write_all(&data).map_err(failed)?;
    }
    out.flush().map_err(failed)?;
    Ok(out.into_inner().into_inner())
}

/// Excel's BIFF workbook stream.
mod biff {
    use crate::Failure;

    const BOF: u16 = 0x0809;
    const EOF: u16 = 0x000a;
    const FILEPASS: u16 = 0x002f;
    const BOUNDSHEET: u16 = 0x0085;
    const OBJPROJ: u16 = 0x00d3;

    pub struct Edited {
        /// The stream without its VBA project record, when it had one to remove.
        pub bytes: Option<Vec<u8>>,
        pub macro_sheets: Vec<String>,
        pub encrypted: bool,
    }

    /// Reads the workbook globals: macro sheets (BOUNDSHEET type 1), encryption, and drops
    /// the OBJPROJ record when macros are removed, moving the sheets' stream positions.
    pub fn edit(stream: &[u8], remove_vba: bool) -> Result<Edited, Failure> {
        let mut at = 0usize;
        let mut records = Vec::new();
        while at + 4 <= stream.len() {
            let kind = u16::from_le_bytes([stream[at], stream[at + 1]]);
            let len = u16::from_le_bytes([stream[at + 2], stream[at + 3]]) as usize;
            let end = at + 4 + len;
            if end > stream.len() {
                return Err(Failure::invalid(
                    "a BIFF record runs past the workbook stream",
                ));
            }
            records.push((at, kind, len));
            at = end;
            if kind == EOF {
                break;
            }
        }
        if records.first().map(|r| r.1) != Some(BOF) {
            return Err(Failure::invalid(
                "the workbook stream does not start with BOF",
            ));
        }
        let mut edited = Edited {
            bytes: None,
            macro_sheets: Vec::new(),
            encrypted: false,
        };
        let mut removed: Option<(usize, usize)> = None;
        for (at, kind, len) in &records {
            let data = &stream[at + 4..at + 4 + len];
            match *kind {
                FILEPASS => edited.encrypted = true,
                BOUNDSHEET if data.len() >= 6 && data[5] == 1 => {
                    edited.macro_sheets.push(sheet_name(data));
                }
                OBJPROJ if remove_vba => removed = Some((*at, 4 + len)),
                _ => {}
            }
        }
        let Some((cut_at, cut_len)) = removed else {
            return Ok(edited);
        };
        let mut out = Vec::with_capacity(stream.len());
        out.extend_from_slice(&stream[..cut_at]);
        out.extend_from_slice(&stream[cut_at + cut_len..]);
        for (at, kind, len) in &records {
            if *kind != BOUNDSHEET || *len < 4 || *at < cut_at {
                continue;
            }
            let field = at - cut_len + 4;
            let position =
                u32::from_le_bytes([out[field], out[field + 1], out[field + 2], out[field + 3]])
                    as usize;
            if position > cut_at {
                let moved = (position - cut_len) as u32;
                out[field..field + 4].copy_from_slice(&moved.to_le_bytes());
            }
        }
        edited.bytes = Some(out);
        Ok(edited)
    }

    /// A BOUNDSHEET record's sheet name (ShortXLUnicodeString after 6 bytes).
    fn sheet_name(data: &[u8]) -> String {
        let Some(&len) = data.get(6) else {
            return String::new();
        };
        let wide = data.get(7).is_some_and(|flags| flags & 1 != 0);
        let text = data.get(8..).unwrap_or_default();
        if wide {
            let units: Vec<u16> = text
                .chunks_exact(2)
                .take(len as usize)
                .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        } else {
            text.iter()
                .take(len as usize)
                .map(|b| char::from(*b))
                .collect()
        }
    }
}

/// PowerPoint's binary document stream.
mod ppt {
    use std::collections::HashMap;

    use crate::Failure;

    const DOCUMENT: u16 = 0x03e8;
    const VBA_INFO_ATOM: u16 = 0x0400;
    const EX_OLE_OBJ_STG: u16 = 0x1011;
    const PERSIST_DIRECTORY: u16 = 0x1772;
    const USER_EDIT: u16 = 0x0ff5;

    struct Record {
        at: usize,
        kind: u16,
        container: bool,
        len: usize,
    }

    fn records(data: &[u8], from: usize, to: usize) -> Result<Vec<Record>, Failure> {
        let mut found = Vec::new();
        let mut at = from;
        while at + 8 <= to {
            let version = data[at] & 0x0f;
            let kind = u16::from_le_bytes([data[at + 2], data[at + 3]]);
            let len = u32::from_le_bytes([data[at + 4], data[at + 5], data[at + 6], data[at + 7]])
                as usize;
            if at + 8 + len > to {
                return Err(Failure::invalid(
                    "a PowerPoint record runs past its container",
                ));
            }
            found.push(Record {
                at,
                kind,
                container: version == 0x0f,
                len,
            });
            at += 8 + len;
        }
        Ok(found)
    }

    fn u32_at(data: &[u8], at: usize) -> Option<u32> {
        data.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The compound file an ExOleObjStg record's body holds: a decompressed size and zlib
    /// data (compressed records only, at most 64 MiB).
    pub fn storage(body: &[u8]) -> Option<Vec<u8>> {
        let size = u32_at(body, 0)? as usize;
        if size > 64 << 20 {
            return None;
        }
        let mut out = Vec::with_capacity(size);
        let decoder = flate2::read::ZlibDecoder::new(body.get(4..)?);
        std::io::Read::read_to_end(&mut std::io::Read::take(decoder, size as u64), &mut out)
            .ok()?;
        Some(out)
    }

    /// The new document and current-user streams.
    pub struct Streams {
        pub document: Vec<u8>,
        pub current: Vec<u8>,
    }

    /// Empties the ExOleObjStg records `remove` accepts (it is told whether each is the VBA
    /// project, and its body), clears the VBA flag, and moves every stream offset to match.
    /// Returns the new streams, if anything changed.
    pub fn edit(
        document: &[u8],
        current: &[u8],
        mut remove: impl FnMut(bool, &[u8]) -> bool,
    ) -> Result<Option<Streams>, Failure> {
        let top = records(document, 0, document.len())?;
        let persist = persist_directory(document, &top);
        let (vba_offset, vba_flag) = vba_info(document, &top, &persist)?;
        let mut cuts: Vec<(usize, usize)> = Vec::new();
        let mut vba_removed = false;
        for record in top.iter().filter(|r| r.kind == EX_OLE_OBJ_STG && r.len > 0) {
            let vba = vba_offset == Some(record.at as u32);
            if remove(vba, &document[record.at + 8..record.at + 8 + record.len]) {
                cuts.push((record.at, record.len));
                vba_removed |= vba;
            }
        }
        if cuts.is_empty() {
            return Ok(None);
        }
        let moved = |offset: u32| -> u32 {
            let before: usize = cuts
                .iter()
                .filter(|(at, _)| (*at as u32) < offset)
                .map(|(_, len)| *len)
                .sum();
            offset - before as u32
        };
        let mut out = document.to_vec();
        if vba_removed && let Some(flag) = vba_flag {
            out[flag..flag + 4].copy_from_slice(&0u32.to_le_bytes());
        }
        move_offsets(&mut out, &top, &moved);
        // Empty each cut record: the header stays (uncompressed, no data), the bytes go.
        let mut rebuilt = Vec::with_capacity(out.len());
        let mut at = 0usize;
        for (cut_at, len) in &cuts {
            rebuilt.extend_from_slice(&out[at..*cut_at]);
            let mut header = out[*cut_at..cut_at + 8].to_vec();
            header[0] &= 0x0f;
            header[1] = 0;
            header[4..8].copy_from_slice(&0u32.to_le_bytes());
            rebuilt.extend_from_slice(&header);
            at = cut_at + 8 + len;
        }
        rebuilt.extend_from_slice(&out[at..]);
        // CurrentUserAtom: offsetToCurrentEdit after the record header, size and token.
        let mut current = current.to_vec();
        if let Some(offset) = u32_at(&current, 16) {
            current[16..20].copy_from_slice(&moved(offset).to_le_bytes());
        }
        Ok(Some(Streams {
            document: rebuilt,
            current,
        }))
    }

    /// Persist id to stream offset, over every persist directory (later edits win).
    fn persist_directory(document: &[u8], top: &[Record]) -> HashMap<u32, u32> {
        let mut persist = HashMap::new();
        for record in top.iter().filter(|r| r.kind == PERSIST_DIRECTORY) {
            let mut at = record.at + 8;
            let end = record.at + 8 + record.len;
            while at + 4 <= end {
                let entry = u32_at(document, at).unwrap_or_default();
                let (first, count) = (entry & 0x000f_ffff, (entry >> 20) as usize);
                at += 4;
                for index in 0..count {
                    if at + 4 > end {
                        break;
                    }
                    persist.insert(
                        first + index as u32,
                        u32_at(document, at).unwrap_or_default(),
                    );
                    at += 4;
                }
            }
        }
        persist
    }

    /// The stream offset of the VBA project's storage, and where its VBAInfoAtom keeps the
    /// has-macros flag. The VBAInfoContainer sits in the DocumentContainer's
    /// DocInfoListContainer.
    fn vba_info(
        document: &[u8],
        top: &[Record],
        persist: &HashMap<u32, u32>,
    ) -> Result<(Option<u32>, Option<usize>), Failure> {
        let mut found = (None, None);
        let mut open: Vec<(usize, usize, usize)> = top
            .iter()
            .filter(|r| r.kind == DOCUMENT && r.container)
            .map(|r| (r.at + 8, r.at + 8 + r.len, 0))
            .collect();
        while let Some((from, to, depth)) = open.pop() {
            for child in records(document, from, to)? {
                if child.kind == VBA_INFO_ATOM && child.len >= 8 {
                    found = (
                        u32_at(document, child.at + 8)
                            .and_then(|id| persist.get(&id))
                            .copied(),
                        Some(child.at + 12),
                    );
                } else if child.container && depth < 4 {
                    open.push((child.at + 8, child.at + 8 + child.len, depth + 1));
                }
            }
        }
        Ok(found)
    }

    /// Moves the offsets the persist directories and user edits keep.
    fn move_offsets(out: &mut [u8], top: &[Record], moved: &impl Fn(u32) -> u32) {
        let rewrite = |out: &mut [u8], field: usize| {
            let offset = moved(u32_at(out, field).unwrap_or_default());
            out[field..field + 4].copy_from_slice(&offset.to_le_bytes());
        };
        for record in top {
            let end = record.at + 8 + record.len;
            match record.kind {
                PERSIST_DIRECTORY => {
                    let mut at = record.at + 8;
                    while at + 4 <= end {
                        let count = (u32_at(out, at).unwrap_or_default() >> 20) as usize;
                        at += 4;
                        for _ in 0..count {
                            if at + 4 > end {
                                break;
                            }
                            rewrite(out, at);
                            at += 4;
                        }
                    }
                }
                USER_EDIT if record.len >= 16 => {
                    rewrite(out, record.at + 16);
                    rewrite(out, record.at + 20);
                }
                _ => {}
            }
        }
    }
}
