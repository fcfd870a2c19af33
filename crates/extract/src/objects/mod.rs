//! Documents as containers: the files embedded in them. PDF attachments ([`pdf`]), OLE objects
//! and packages in Office files old ([`ole`]) and new ([`ooxml`]), objects in RTF ([`rtf`]) and
//! base64 `data:` URIs in HTML ([`html`]). A document is opened for these only; its own
//! content is analysed as a document. A packaged file (OLE's `Package` class, the
//! `Ole10Native` stream) is given as the file itself, under its own name.

mod html;
mod ole;
mod ooxml;
mod pdf;
mod rtf;

use std::io::Read;
use std::path::Path;

use crate::{ExtractError, Extractor, Format, Outcome, find, settle};

/// Largest document read whole to look for what it embeds.
pub(crate) const MAX_DOCUMENT: u64 = 256 << 20;

/// Bytes of a text file searched for a `data:` URI.
const TEXT_WINDOW: usize = 64 << 20;

/// The kind of document `path` is, when it is one whose embedded files Palisade opens. Text
/// (`text`) is searched for `data:` URIs.
pub fn detect_document(path: &Path, text: bool) -> std::io::Result<Option<Format>> {
    let mut file = std::fs::File::open(path)?;
    let mut head = Vec::with_capacity(1024);
    (&mut file).take(1024).read_to_end(&mut head)?;
    if find(&head, b"%PDF-").is_some() {
        return Ok(Some(Format::Pdf));
    }
    if head.starts_with(b"{\\rt") {
        return Ok(Some(Format::Rtf));
    }
    if head.starts_with(&ole::MAGIC) {
        return Ok(Some(Format::OfficeObjects));
    }
    if head.starts_with(b"PK\x03\x04") {
        return Ok(ooxml::has_embeddings(path).then_some(Format::OfficeOpenXmlObjects));
    }
    if !text {
        return Ok(None);
    }
    // Text: HTML, or anything else that may carry a data: URI. Read a window at a time, each
    // keeping the end of the last so that a URI across the seam is found.
    let keep = html::MAX_HEADER + 8;
    let mut window = head;
    let mut read = window.len();
    loop {
        if html::has_data_uri(&window) {
            return Ok(Some(Format::Html));
        }
        if read >= TEXT_WINDOW {
            return Ok(None);
        }
        let drop = window.len().saturating_sub(keep);
        window.drain(..drop);
        let before = window.len();
        (&mut file).take(1 << 20).read_to_end(&mut window)?;
        if window.len() == before {
            return Ok(None);
        }
        read += window.len() - before;
    }
}

impl Extractor<'_> {
    pub(crate) fn objects(
        &self,
        path: &Path,
        format: Format,
        outcome: &mut Outcome,
    ) -> Result<(), ExtractError> {
        if format == Format::OfficeOpenXmlObjects {
            return self.ooxml_objects(path, outcome);
        }
        let size = std::fs::metadata(path)?.len();
        if size > MAX_DOCUMENT {
            return Err(ExtractError::Document(format!(
                "a document of {size} bytes; documents up to {MAX_DOCUMENT} bytes are searched \
                 for embedded files"
            )));
        }
        let bytes = std::fs::read(path)?;
        let mut found = Found {
            extractor: self,
            outcome,
            stopped: false,
        };
        match format {
            Format::Pdf => pdf::embedded(&bytes, &mut found),
            Format::Rtf => rtf::objects(&bytes, &mut found),
            Format::OfficeObjects => ole::objects(&bytes, &mut found),
            Format::Html => html::data_uris(&bytes, &mut found),
            other => unreachable!("{other:?} is not a document"),
        }
    }
}

/// Where the document readers put what they find.
pub(crate) struct Found<'a, 'b> {
    extractor: &'a Extractor<'b>,
    outcome: &'a mut Outcome,
    /// A limit stopped extraction: nothing more is taken.
    stopped: bool,
}

impl Found<'_, '_> {
    /// Adds a member; `Ok(false)` once a limit has stopped extraction.
    pub(crate) fn add(&mut self, name: &str, bytes: &[u8]) -> Result<bool, ExtractError> {
        if self.stopped {
            return Ok(false);
        }
        let copied = self
            .extractor
            .copy(&mut &bytes[..], name.to_string(), None, self.outcome)?;
        let carry_on = settle(copied, self.outcome, name)?;
        self.stopped = !carry_on;
        Ok(carry_on)
    }

    /// Adds an embedded OLE object's native data: the packaged file itself under its own name
    /// when it is a package, else the data as it is under `fallback`.
    pub(crate) fn add_native(
        &mut self,
        native: &[u8],
        fallback: &str,
    ) -> Result<bool, ExtractError> {
        match package(native) {
            Some((name, data)) => self.add(&name, data),
            None => self.add(fallback, native),
        }
    }
}

/// The bytes of the stream at `path` of a compound file, at most `max`.
pub(crate) fn read_stream<F: Read + std::io::Seek>(
    file: &mut cfb::CompoundFile<F>,
    path: &Path,
    max: u64,
) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    file.open_stream(path)?.take(max).read_to_end(&mut data)?;
    Ok(data)
}

/// A packaged file (OLE's `Package` class): after a 2-byte header, the file's name and source
/// path (each ending in NUL), 4 bytes, the temporary path (32-bit length first), then the
/// file's size (32-bit) and its bytes.
pub(crate) fn package(native: &[u8]) -> Option<(String, &[u8])> {
    let mut at = 2;
    let cstring = |at: &mut usize| -> Option<String> {
        let end = native.get(*at..)?.iter().position(|b| *b == 0)?;
        let text = String::from_utf8_lossy(&native[*at..*at + end]).into_owned();
        *at += end + 1;
        Some(text)
    };
    let name = cstring(&mut at)?;
    let _source = cstring(&mut at)?;
    at += 4;
    let u32_at = |at: usize| -> Option<usize> {
        Some(u32::from_le_bytes(native.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    let temp_length = u32_at(at)?;
    at = at.checked_add(4 + temp_length)?;
    let size = u32_at(at)?;
    let data = native.get(at + 4..at.checked_add(4 + size)?)?;
    let name = name
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or_default()
        .to_string();
    Some((
        if name.is_empty() {
            "package".into()
        } else {
            name
        },
        data,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_gives_the_file_it_holds() {
        let native = palisade_test_support::ole_package("C:\\Users\\a\\report.exe", b"MZ payload");
        assert_eq!(
            package(&native),
            Some(("report.exe".to_string(), &b"MZ payload"[..]))
        );
        // Cut anywhere, it is not a package.
        for cut in 0..native.len() {
            assert_eq!(package(&native[..cut]), None, "cut at {cut}");
        }
    }
}
