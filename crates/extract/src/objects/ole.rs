//! Objects embedded in Office files of the compound-file kind (doc, xls, ppt and their
//! templates). Word keeps each object in a storage under `ObjectPool`, Excel in a root storage
//! named `MBD…`, PowerPoint as `ExOleObjStg` records (zlib-compressed compound files) in its
//! `PowerPoint Document` stream. An object's `\x01Ole10Native` stream gives the packaged file;
//! its `Package` or `CONTENTS` stream the embedded document; otherwise each of its data streams
//! is a member.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use super::Found;
use crate::ExtractError;

/// The compound file signature.
pub(crate) const MAGIC: [u8; 8] = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];

/// Most entries walked in one compound file.
const MAX_ENTRIES: usize = 100_000;

/// Most bytes of one stream read (the budget counts members again as they are written).
const MAX_STREAM: u64 = 1 << 30;

/// PowerPoint's record holding an embedded object's storage.
const EX_OLE_OBJ_STG: u16 = 0x1011;

type Compound<'a> = cfb::CompoundFile<Cursor<&'a [u8]>>;

pub(super) fn objects(bytes: &[u8], found: &mut Found<'_, '_>) -> Result<(), ExtractError> {
    let mut file = open(bytes)?;
    let mut storages = Vec::new();
    let mut has_powerpoint = false;
    for (count, entry) in file.walk().enumerate() {
        if count >= MAX_ENTRIES {
            return Err(corrupt(format!("more than {MAX_ENTRIES} entries")));
        }
        let path = entry.path();
        let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let word_object = parent == Path::new("/ObjectPool");
        let excel_object = parent == Path::new("/") && entry.name().starts_with("MBD");
        if entry.is_storage() && (word_object || excel_object) {
            storages.push(path.to_path_buf());
        }
        has_powerpoint |= entry.is_stream() && path == Path::new("/PowerPoint Document");
    }
    for storage in storages {
        if !object_storage(&mut file, &storage, found)? {
            return Ok(());
        }
    }
    if has_powerpoint {
        let stream = read_stream(&mut file, Path::new("/PowerPoint Document"))?;
        let mut objects = Vec::new();
        records(&stream, 0, &mut objects);
        for (count, object) in objects.into_iter().enumerate() {
            let name = format!("object-{}", count + 1);
            if !embedded_compound(&object, &name, found)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn corrupt(what: String) -> ExtractError {
    ExtractError::Document(format!("compound file: {what}"))
}

fn open(bytes: &[u8]) -> Result<Compound<'_>, ExtractError> {
    cfb::CompoundFile::open(Cursor::new(bytes)).map_err(|e| corrupt(e.to_string()))
}

fn read_stream(file: &mut Compound<'_>, path: &Path) -> Result<Vec<u8>, ExtractError> {
    super::read_stream(file, path, MAX_STREAM)
        .map_err(|e| corrupt(format!("{}: {e}", path.display())))
}

/// The members of one embedded object's storage; `false` when a limit stopped extraction.
fn object_storage(
    file: &mut Compound<'_>,
    storage: &Path,
    found: &mut Found<'_, '_>,
) -> Result<bool, ExtractError> {
    let object = storage
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let streams: Vec<PathBuf> = file
        .read_storage(storage)
        .map_err(|e| corrupt(e.to_string()))?
        .filter(|entry| entry.is_stream())
        .map(|entry| entry.path().to_path_buf())
        .collect();
    let named = |name: &str| {
        streams
            .iter()
            .find(|p| p.file_name().is_some_and(|n| n == name))
    };
    if let Some(native) = named("\u{1}Ole10Native") {
        let data = read_stream(file, &native.clone())?;
        return found.add_native(data.get(4..).unwrap_or_default(), &object);
    }
    if let Some(contents) = named("Package").or_else(|| named("CONTENTS")) {
        let data = read_stream(file, &contents.clone())?;
        return found.add(&object, &data);
    }
    // An embedded document kept as streams (a workbook in a Word file): each data stream.
    for stream in &streams {
        let name = stream
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with(['\u{1}', '\u{3}', '\u{5}']) {
            continue;
        }
        let data = read_stream(file, stream)?;
        if !found.add(&format!("{object}/{name}"), &data)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// An object PowerPoint keeps as a compound file: its packaged file when it has one, else the
/// compound file itself.
fn embedded_compound(
    bytes: &[u8],
    name: &str,
    found: &mut Found<'_, '_>,
) -> Result<bool, ExtractError> {
    if let Ok(mut file) = open(bytes)
        && file.is_stream("/\u{1}Ole10Native")
    {
        let data = read_stream(&mut file, Path::new("/\u{1}Ole10Native"))?;
        return found.add_native(data.get(4..).unwrap_or_default(), name);
    }
    found.add(name, bytes)
}

/// Collects the storages of `ExOleObjStg` records, walking containers (version 0xF). Depth
/// is bounded by the data, each level at least eight bytes shorter.
fn records(data: &[u8], depth: usize, objects: &mut Vec<Vec<u8>>) {
    let mut at = 0;
    while at + 8 <= data.len() && depth < 64 {
        let version_instance = u16::from_le_bytes([data[at], data[at + 1]]);
        let kind = u16::from_le_bytes([data[at + 2], data[at + 3]]);
        let length = u32::from_le_bytes(data[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        let body = &data[at + 8..(at + 8).saturating_add(length).min(data.len())];
        if version_instance & 0xf == 0xf {
            records(body, depth + 1, objects);
        } else if kind == EX_OLE_OBJ_STG {
            // Instance 1: a 32-bit decompressed size, then zlib.
            if version_instance >> 4 == 1 {
                let mut inflated = Vec::new();
                let mut decoder = flate2::read::ZlibDecoder::new(body.get(4..).unwrap_or_default())
                    .take(MAX_STREAM);
                if decoder.read_to_end(&mut inflated).is_ok() {
                    objects.push(inflated);
                }
            } else {
                objects.push(body.to_vec());
            }
        }
        at = at.saturating_add(8 + length);
    }
}
