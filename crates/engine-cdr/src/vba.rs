//! The source of a VBA project's modules, for the report ([MS-OVBA]): the `dir` stream names
//! each module's stream and the offset of its compressed source, and the source is the
//! format's run-length compression (2.4.1). Only read, to say what a removed macro did; the
//! rebuild never keeps any of it.

use std::io::{Read, Seek};
use std::path::Path;

/// Source bytes decompressed at most, per stream: the first lines are all the report needs.
const MAX_SOURCE: usize = 64 * 1024;
/// Code lines of a module given in the report.
const FIRST_LINES: usize = 2;

/// One module of a project: its name and its first lines of code.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Module {
    pub name: String,
    pub first_lines: Vec<String>,
}

/// The modules of the VBA storage at `vba` (the one holding `dir`), in the project's order;
/// by stream name alone when the `dir` stream cannot be read.
pub(crate) fn modules<F: Read + Seek>(file: &mut cfb::CompoundFile<F>, vba: &Path) -> Vec<Module> {
    let directory = stream(file, &vba.join("dir")).and_then(|dir| decompress(&dir, MAX_SOURCE));
    let Some(entries) = directory.as_deref().and_then(module_entries) else {
        return stream_names(file, vba)
            .into_iter()
            .map(|name| Module {
                name,
                first_lines: Vec::new(),
            })
            .collect();
    };
    entries
        .into_iter()
        .map(|(name, offset)| {
            let source = stream(file, &vba.join(&name))
                .and_then(|data| data.get(offset..).and_then(|s| decompress(s, MAX_SOURCE)));
            Module {
                first_lines: source.map(|text| first_lines(&text)).unwrap_or_default(),
                name,
            }
        })
        .collect()
}

fn stream<F: Read + Seek>(file: &mut cfb::CompoundFile<F>, path: &Path) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut stream = file.open_stream(path).ok()?;
    stream
        .by_ref()
        .take(16 * 1024 * 1024)
        .read_to_end(&mut data)
        .ok()?;
    Some(data)
}

/// The storage's streams other than the project's own, sorted.
fn stream_names<F: Read + Seek>(file: &cfb::CompoundFile<F>, vba: &Path) -> Vec<String> {
    let Ok(entries) = file.read_storage(vba) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter(|entry| entry.is_stream())
        .map(|entry| entry.name().to_string())
        .filter(|name| name != "dir" && !name.starts_with('_'))
        .collect();
    names.sort();
    names
}

/// Each module's stream name and source offset, from the decompressed `dir` stream: records
/// of a 2-byte id, a 4-byte size and the data, except PROJECTVERSION (0x0009), whose size
/// field says 4 and whose data is 6 bytes.
fn module_entries(dir: &[u8]) -> Option<Vec<(String, usize)>> {
    let mut at = 0;
    let mut modules = Vec::new();
    let mut name: Option<String> = None;
    let mut offset: Option<usize> = None;
    while at + 6 <= dir.len() {
        let id = u16::from_le_bytes([dir[at], dir[at + 1]]);
        let size = u32::from_le_bytes(dir[at + 2..at + 6].try_into().ok()?) as usize;
        let size = if id == 0x0009 { 6 } else { size };
        let data = dir.get(at + 6..at + 6 + size)?;
        match id {
            // MODULESTREAMNAME, in the project's code page (ASCII for the names that matter).
            0x001a => name = Some(String::from_utf8_lossy(data).into_owned()),
            0x0031 if data.len() == 4 => {
                offset = Some(u32::from_le_bytes(data.try_into().ok()?) as usize)
            }
            // The module's terminator.
            0x002b => {
                if let (Some(name), Some(offset)) = (name.take(), offset.take()) {
                    modules.push((name, offset));
                }
            }
            _ => {}
        }
        at += 6 + size;
    }
    (!modules.is_empty()).then_some(modules)
}

/// A compressed container decompressed, up to `limit` bytes; `None` when it is not one.
pub(crate) fn decompress(container: &[u8], limit: usize) -> Option<Vec<u8>> {
    let (&signature, mut rest) = container.split_first()?;
    if signature != 1 {
        return None;
    }
    let mut out = Vec::new();
    while rest.len() >= 2 && out.len() < limit {
        let header = u16::from_le_bytes([rest[0], rest[1]]);
        if (header >> 12) & 0b111 != 0b011 {
            return None;
        }
        let size = ((header & 0x0fff) as usize + 3).min(rest.len());
        let chunk = &rest[2..size];
        rest = &rest[size..];
        if header & 0x8000 == 0 {
            out.extend_from_slice(chunk);
        } else {
            chunk_tokens(chunk, &mut out)?;
        }
    }
    out.truncate(limit);
    Some(out)
}

/// Bytes one chunk decompresses to at most.
const CHUNK: usize = 4096;

/// One compressed chunk: flag bytes, each followed by eight tokens, a literal byte for a 0
/// bit and a 2-byte copy token (offset back, length) for a 1 bit. A chunk that would give more
/// than [`CHUNK`] bytes is not one.
fn chunk_tokens(chunk: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let start = out.len();
    let mut at = 0;
    while at < chunk.len() {
        let flags = chunk[at];
        at += 1;
        for bit in 0..8 {
            if at >= chunk.len() {
                break;
            }
            if out.len() - start >= CHUNK {
                return None;
            }
            if flags & (1 << bit) == 0 {
                out.push(chunk[at]);
                at += 1;
                continue;
            }
            let token = u16::from_le_bytes([chunk[at], *chunk.get(at + 1)?]);
            at += 2;
            let written = out.len() - start;
            let mut bits = 4;
            while (1usize << bits) < written {
                bits += 1;
            }
            let length_mask = 0xffffu16 >> bits;
            let length = (token & length_mask) as usize + 3;
            let offset = (token >> (16 - bits)) as usize + 1;
            if offset > written || written + length > CHUNK {
                return None;
            }
            for _ in 0..length {
                out.push(out[out.len() - offset]);
            }
        }
    }
    Some(())
}

/// The first lines of code: not the `Attribute` lines VBA writes for itself, not blank.
fn first_lines(source: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(source)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("Attribute "))
        .take(FIRST_LINES)
        .map(str::to_string)
        .collect()
}

/// What the report says of a project: `label` with its module names, then a line per module
/// with code, its name and first lines.
pub(crate) fn describe(label: &str, modules: &[Module]) -> String {
    let names: Vec<&str> = modules.iter().map(|module| module.name.as_str()).collect();
    let mut lines = vec![format!("{label}, modules {}", names.join(", "))];
    lines.extend(
        modules
            .iter()
            .filter(|module| !module.first_lines.is_empty())
            .map(|module| format!("{}: {}", module.name, module.first_lines.join(" | "))),
    );
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specification_examples_decompress() {
        // MS-OVBA 3.2.1: no compression possible (a flag byte of literals per eight bytes).
        let plain = [
            0x01, 0x19, 0xb0, 0x00, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x00, 0x69,
            0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x00, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76,
            0x2e,
        ];
        assert_eq!(
            decompress(&plain, 1000).unwrap(),
            b"abcdefghijklmnopqrstuv."
        );
        // MS-OVBA 3.2.3: one literal, then a copy token that repeats it 72 times.
        let run = [0x01, 0x03, 0xb0, 0x02, 0x61, 0x45, 0x00];
        assert_eq!(decompress(&run, 1000).unwrap(), vec![b'a'; 73]);
        assert_eq!(decompress(&run, 10).unwrap().len(), 10, "the limit holds");
    }

    #[test]
    fn hostile_containers_are_refused_not_followed() {
        assert_eq!(decompress(&[0x02, 0x03, 0xb0], 100), None, "signature");
        assert_eq!(
            decompress(&[0x01, 0x03, 0x00, 0x02], 100),
            None,
            "chunk signature"
        );
        // A copy token reaching before the chunk's start.
        assert_eq!(decompress(&[0x01, 0x02, 0xb0, 0x01, 0x45, 0x00], 100), None);
        assert_eq!(decompress(&[], 100), None);
        // A chunk that claims more than 4096 bytes: a literal, then copies of 4098 bytes.
        let mut long = vec![0x01, 0xff, 0xbf, 0xfe, b'a'];
        long.extend([0xff, 0x0f].repeat(7));
        assert_eq!(decompress(&long, 1 << 20), None);
    }

    #[test]
    fn the_report_names_modules_and_their_first_code_lines() {
        let modules = [
            Module {
                name: "ThisDocument".into(),
                first_lines: first_lines(
                    b"Attribute VB_Name = \"ThisDocument\"\r\n\r\nSub AutoOpen()\r\n  Shell \"calc\"\r\nEnd Sub\r\n",
                ),
            },
            Module {
                name: "Empty".into(),
                first_lines: Vec::new(),
            },
        ];
        assert_eq!(
            describe("VBA project", &modules),
            "VBA project, modules ThisDocument, Empty\nThisDocument: Sub AutoOpen() | Shell \"calc\""
        );
    }
}
