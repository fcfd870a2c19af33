//! The Open Packaging Conventions container: the zip's parts, `[Content_Types].xml` and the
//! relationship parts, read under limits, and the new zip the rebuild is written to.

use std::collections::HashMap;
use std::io::{Cursor, Read, Write};
use std::time::Instant;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use super::dom::{self, Document};
use crate::Failure;

/// Most parts a package may have.
const MAX_PARTS: usize = 10_000;
/// Most bytes one part may expand to.
const MAX_PART: u64 = 256 << 20;
/// Most bytes all parts together may expand to.
const MAX_TOTAL: u64 = 1 << 30;

pub(crate) const CONTENT_TYPES: &str = "[Content_Types].xml";
/// The namespaces of relationship references in XML (transitional and strict).
pub(crate) const REL_NAMESPACES: [&str; 2] = [
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
];

pub(crate) struct Part {
    /// The name in the zip (no leading slash), as written.
    pub name: String,
    pub data: Vec<u8>,
}

/// The parts of a package, in the zip's order.
pub(crate) struct Package {
    pub parts: Vec<Part>,
    /// Lower-cased part name to index (part names are case-insensitive).
    index: HashMap<String, usize>,
}

impl Package {
    /// Whether the bytes start as a zip file.
    pub fn is_zip(head: &[u8]) -> bool {
        head.starts_with(b"PK\x03\x04")
    }

    pub fn read(input: &[u8], deadline: Instant) -> Result<Self, Failure> {
        let mut zip = ZipArchive::new(Cursor::new(input))
            .map_err(|error| Failure::invalid(format!("not a readable zip: {error}")))?;
        if zip.len() > MAX_PARTS {
            return Err(Failure::invalid(format!(
                "more than {MAX_PARTS} parts in the package"
            )));
        }
        let mut parts = Vec::new();
        let mut index = HashMap::new();
        let mut total = 0u64;
        for position in 0..zip.len() {
            if Instant::now() > deadline {
                return Err(Failure::timed_out());
            }
            let encrypted = zip
                .by_index_raw(position)
                .map_err(|error| Failure::invalid(format!("zip entry {position}: {error}")))?
                .encrypted();
            if encrypted {
                return Err(Failure {
                    category: palisade_model::FailureCategory::PasswordProtected,
                    reason: "the zip's members are encrypted".into(),
                });
            }
            let mut entry = zip
                .by_index(position)
                .map_err(|error| Failure::invalid(format!("zip entry {position}: {error}")))?;
            if entry.is_dir() {
                continue;
            }
            let name = String::from_utf8_lossy(entry.name_raw())
                .trim_start_matches('/')
                .to_string();
            let mut data = Vec::new();
            (&mut entry)
                .take(MAX_PART + 1)
                .read_to_end(&mut data)
                .map_err(|error| Failure::invalid(format!("zip entry {name}: {error}")))?;
            if data.len() as u64 > MAX_PART {
                return Err(Failure::invalid(format!(
                    "the part {name} expands past {MAX_PART} bytes"
                )));
            }
            total += data.len() as u64;
            if total > MAX_TOTAL {
                return Err(Failure::invalid(format!(
                    "the package expands past {MAX_TOTAL} bytes"
                )));
            }
            if index.insert(name.to_lowercase(), parts.len()).is_some() {
                return Err(Failure::invalid(format!(
                    "the part {name} is in the zip twice"
                )));
            }
            parts.push(Part { name, data });
        }
        Ok(Self { parts, index })
    }

    pub fn get(&self, name: &str) -> Option<&Part> {
        self.index
            .get(&name.trim_start_matches('/').to_lowercase())
            .map(|at| &self.parts[*at])
    }

    /// The relationships of the part `source` ("" for the package itself).
    pub fn relationships(&self, source: &str) -> Result<Vec<Relationship>, Failure> {
        let rels = rels_name(source);
        let Some(part) = self.get(&rels) else {
            return Ok(Vec::new());
        };
        let document = Document::parse(&part.data, Instant::now() + LONG)?;
        let mut found = Vec::new();
        dom::for_each(&document.nodes, &mut |element| {
            if element.local() != b"Relationship" {
                return;
            }
            let id = element.attribute("Id").unwrap_or_default();
            let kind = element.attribute("Type").unwrap_or_default();
            let target = element.attribute("Target").unwrap_or_default();
            let external = element
                .attribute("TargetMode")
                .is_some_and(|mode| mode.eq_ignore_ascii_case("External"));
            let part = (!external).then(|| resolve(source, &target));
            found.push(Relationship {
                id,
                kind,
                target,
                part,
            });
        });
        Ok(found)
    }

    /// The content types: (default per extension, override per part), keys lower-cased.
    pub fn content_types(&self) -> Result<ContentTypes, Failure> {
        let part = self
            .get(CONTENT_TYPES)
            .ok_or_else(|| Failure::invalid("no [Content_Types].xml"))?;
        let document = Document::parse(&part.data, Instant::now() + LONG)?;
        let mut types = ContentTypes::default();
        dom::for_each(&document.nodes, &mut |element| {
            let content_type = element.attribute("ContentType").unwrap_or_default();
            match element.local() {
                b"Default" => {
                    let extension = element.attribute("Extension").unwrap_or_default();
                    types
                        .defaults
                        .insert(extension.to_lowercase(), content_type);
                }
                b"Override" => {
                    let name = element.attribute("PartName").unwrap_or_default();
                    types
                        .overrides
                        .insert(name.trim_start_matches('/').to_lowercase(), content_type);
                }
                _ => {}
            }
        });
        Ok(types)
    }
}

/// Parsing the small control parts is bounded by their size, not by the file's time limit.
const LONG: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Default)]
pub(crate) struct ContentTypes {
    pub defaults: HashMap<String, String>,
    pub overrides: HashMap<String, String>,
}

impl ContentTypes {
    pub fn of(&self, part: &str) -> &str {
        let key = part.trim_start_matches('/').to_lowercase();
        if let Some(found) = self.overrides.get(&key) {
            return found;
        }
        let extension = key.rsplit_once('.').map(|(_, ext)| ext).unwrap_or_default();
        self.defaults.get(extension).map_or("", String::as_str)
    }
}

/// One relationship of a part.
pub(crate) struct Relationship {
    pub id: String,
    /// The relationship type URI.
    pub kind: String,
    pub target: String,
    /// The part it points at, when it is inside the package (`TargetMode` not External).
    pub part: Option<String>,
}

impl Relationship {
    /// The last segment of the type URI (`vbaProject`, `oleObject`, `hyperlink`...).
    pub fn short_kind(&self) -> &str {
        self.kind.rsplit('/').next().unwrap_or_default()
    }
}

/// The relationship part of `source`: `word/_rels/document.xml.rels`, `_rels/.rels`.
pub(crate) fn rels_name(source: &str) -> String {
    match source.rsplit_once('/') {
        Some((dir, file)) => format!("{dir}/_rels/{file}.rels"),
        None => format!("_rels/{source}.rels"),
    }
}

/// The part name a relative target of `source` points at (no leading slash).
fn resolve(source: &str, target: &str) -> String {
    let target = percent_decode(target);
    let target = target.split(['#', '?']).next().unwrap_or_default();
    let mut segments: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        let dir = source.rsplit_once('/').map_or("", |(dir, _)| dir);
        dir.split('/').filter(|s| !s.is_empty()).collect()
    };
    for segment in target.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    segments.join("/")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%'
            && let Some(hex) = bytes.get(at + 1..at + 3)
            && let Ok(value) = u8::from_str_radix(&String::from_utf8_lossy(hex), 16)
        {
            out.push(value);
            at += 3;
            continue;
        }
        out.push(bytes[at]);
        at += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes parts into a new zip: `[Content_Types].xml` first, then the rest in the given
/// order, with one fixed timestamp, so the same parts give the same bytes. A part that is
/// already compressed (a JPEG, PNG, GIF or WebP picture, a zip) is stored, the rest deflated:
/// deflating a compressed picture again costs time and saves nothing.
pub(crate) fn write_zip(parts: &[(String, Vec<u8>)]) -> Result<Vec<u8>, Failure> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::DEFAULT)
        .unix_permissions(0o644);
    let failed =
        |error: &dyn std::fmt::Display| Failure::failed(format!("writing the zip: {error}"));
    let first = parts.iter().filter(|(name, _)| name == CONTENT_TYPES);
    let rest = parts.iter().filter(|(name, _)| name != CONTENT_TYPES);
    for (name, data) in first.chain(rest) {
        let options = options
            .large_file(data.len() as u64 >= u32::MAX as u64)
            .compression_method(if compressed(data) {
                CompressionMethod::Stored
            } else {
                CompressionMethod::Deflated
            });
        zip.start_file(name.as_str(), options)
            .map_err(|e| failed(&e))?;
        zip.write_all(data).map_err(|e| failed(&e))?;
    }
    Ok(zip.finish().map_err(|e| failed(&e))?.into_inner())
}

/// Whether a part's bytes are compressed already, by their format.
fn compressed(data: &[u8]) -> bool {
    use crate::image::Kind;
    Package::is_zip(data)
        || matches!(
            Kind::detect(data),
            Some(Kind::Jpeg | Kind::Png | Kind::Gif | Kind::WebP)
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_resolve_against_the_source_part_directory() {
        assert_eq!(
            resolve("word/document.xml", "media/image1.png"),
            "word/media/image1.png"
        );
        assert_eq!(
            resolve("ppt/slides/slide1.xml", "../embeddings/a%20b.bin"),
            "ppt/embeddings/a b.bin"
        );
        assert_eq!(resolve("", "/word/document.xml"), "word/document.xml");
        assert_eq!(resolve("", "word/document.xml"), "word/document.xml");
        assert_eq!(rels_name(""), "_rels/.rels");
        assert_eq!(
            rels_name("word/document.xml"),
            "word/_rels/document.xml.rels"
        );
    }
}
