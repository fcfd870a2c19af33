//! Office Open XML (Word, Excel and PowerPoint, their macro-enabled and template types): the
//! text of every part a reader sees or could reveal, streamed part by part.
//!
//! - Word: the body, headers, footers, footnotes, endnotes and comments, paragraph by
//!   paragraph (`body paragraph 12`), with tracked deletions (`w:delText`) and text boxes.
//! - Excel: every sheet row by row, each cell located (`Sheet1!B4`), shared and inline
//!   strings and values; headers and footers, comments (legacy and threaded), drawings.
//! - PowerPoint: every slide in order (`slide 3 paragraph 2`), its notes and comments.
//! - All: the document properties (core, extended and custom).
//!
//! Paragraphs are joined from their runs, so a number split across runs is found whole. The
//! fallback copy of `mc:AlternateContent` is skipped: it repeats its choice's text.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, Read, Seek};
use std::path::Path;
use std::time::{Duration, Instant};

use zip::ZipArchive;

use super::xml::{Events, Item, Tag};
use super::{Collector, Format, ReadPart, Stop, read_entry, read_part};
use crate::text::{Header, Piece};

/// Largest relationship, workbook or presentation part read whole.
const MAX_SMALL_PART: u64 = 64 << 20;

const OFFICE_DOCUMENT: &str = "/officeDocument";
/// Most shared strings a workbook's cells may refer to.
const MAX_SHARED_STRINGS: usize = 1 << 22;

/// Which Office application's package the zip is, by its main part's folder.
pub(crate) fn kind<R: Read + Seek>(zip: &mut ZipArchive<R>) -> Option<Format> {
    zip.index_for_name("[Content_Types].xml")?;
    let root = relationships(zip, "", Instant::now() + Duration::from_secs(5)).ok()?;
    let main = root
        .iter()
        .find(|rel| rel.kind.ends_with(OFFICE_DOCUMENT) && !rel.external)?;
    match main.target.split('/').next()? {
        "word" => Some(Format::Word),
        "xl" => Some(Format::Excel),
        "ppt" => Some(Format::PowerPoint),
        _ => None,
    }
}

pub(crate) fn extract(path: &Path, format: Format, into: &mut Collector) -> Result<(), Stop> {
    let mut zip = ZipArchive::new(File::open(path)?)
        .map_err(|error| Stop::Invalid(format!("not a readable zip: {error}")))?;
    let main = relationships(&mut zip, "", into.deadline())?
        .into_iter()
        .find(|rel| rel.kind.ends_with(OFFICE_DOCUMENT) && !rel.external)
        .ok_or_else(|| Stop::Invalid("the package has no main document".into()))?;
    let mut package = Package { zip, into };
    match format {
        Format::Word => package.word(&main.target)?,
        Format::Excel => package.excel(&main.target)?,
        _ => package.powerpoint(&main.target)?,
    }
    package.properties()
}

/// A relationship of a part, its target resolved to a part name.
struct Relationship {
    id: String,
    kind: String,
    target: String,
    external: bool,
}

/// The relationships of `source` (`""` for the package's own).
fn relationships<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    source: &str,
    deadline: Instant,
) -> Result<Vec<Relationship>, Stop> {
    let (folder, file) = source.rsplit_once('/').unwrap_or(("", source));
    let rels = if folder.is_empty() {
        format!("_rels/{file}.rels")
    } else {
        format!("{folder}/_rels/{file}.rels")
    };
    let Some(data) = read_entry(zip, &rels, MAX_SMALL_PART)? else {
        return Ok(Vec::new());
    };
    let mut events = Events::new(data.as_slice(), &rels, deadline);
    let mut found = Vec::new();
    loop {
        match events.next()? {
            Item::Start(tag) | Item::Empty(tag) if tag.is("Relationship") => {
                let external = tag.attribute("TargetMode") == Some("External");
                let target = tag.attribute("Target").unwrap_or_default();
                found.push(Relationship {
                    id: tag.attribute("Id").unwrap_or_default().to_string(),
                    kind: tag.attribute("Type").unwrap_or_default().to_string(),
                    target: if external {
                        target.to_string()
                    } else {
                        resolve(folder, target)
                    },
                    external,
                });
            }
            Item::Eof => return Ok(found),
            _ => {}
        }
    }
}

/// A target relative to `folder` (or absolute, from the package root) as a part name.
fn resolve(folder: &str, target: &str) -> String {
    let mut segments: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        folder.split('/').filter(|s| !s.is_empty()).collect()
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

/// The element names that make pieces of a part, and those whose text is read.
struct Vocabulary {
    paragraphs: &'static [&'static str],
    texts: &'static [&'static str],
}

/// WordprocessingML and DrawingML paragraphs: `w:p` with `w:t` and tracked deletions
/// `w:delText`, `a:p` with `a:t`; PowerPoint's legacy comments are one `p:text` each.
const PARAGRAPHS: Vocabulary = Vocabulary {
    paragraphs: &["p", "text"],
    texts: &["t", "delText", "text"],
};

struct Package<'c, R: Read + Seek> {
    zip: ZipArchive<R>,
    into: &'c mut Collector,
}

impl<R: Read + Seek> Package<'_, R> {
    /// Streams a part's events into `read`; a part that is missing is skipped, one that is
    /// malformed is noted and the rest of the package is still read.
    fn part(&mut self, name: &str, read: &mut ReadPart<'_>) -> Result<(), Stop> {
        read_part(&mut self.zip, name, false, self.into, read)
    }

    fn paragraphs(
        &mut self,
        name: &str,
        label: &mut dyn FnMut(&Tag, usize) -> String,
    ) -> Result<(), Stop> {
        self.part(name, &mut |events, into| {
            paragraphs(events, into, &PARAGRAPHS, label)
        })
    }

    fn names(&self) -> Vec<String> {
        self.zip
            .file_names()
            .filter_map(|name| name.ok().map(|name| name.into_owned()))
            .collect()
    }

    /// The elements named `element` of `part` that point at other parts (`r:id`), in
    /// document order: each one's `name` attribute and the part it points at.
    fn listed(
        &mut self,
        part: &str,
        rels: &[Relationship],
        element: &str,
    ) -> Result<Vec<(String, String)>, Stop> {
        let targets: HashMap<&str, &str> = rels
            .iter()
            .map(|rel| (rel.id.as_str(), rel.target.as_str()))
            .collect();
        let mut listed = Vec::new();
        self.part(part, &mut |events, _| {
            loop {
                match events.next()? {
                    Item::Start(tag) | Item::Empty(tag) if tag.is(element) => {
                        let id = tag.prefixed_attribute("id").unwrap_or_default();
                        if let Some(target) = targets.get(id) {
                            let name = tag.attribute("name").unwrap_or_default();
                            listed.push((name.to_string(), target.to_string()));
                        }
                    }
                    Item::Eof => return Ok(()),
                    _ => {}
                }
            }
        })?;
        Ok(listed)
    }

    /// The body, then headers, footers, footnotes, endnotes and comments.
    fn word(&mut self, document: &str) -> Result<(), Stop> {
        self.paragraphs(document, &mut |_, n| format!("body paragraph {n}"))?;
        let folder = document.rsplit_once('/').map_or("", |(folder, _)| folder);
        let mut parts: Vec<(u8, u32, String)> = Vec::new();
        for name in self.names() {
            let Some(file) = name
                .strip_prefix(folder)
                .and_then(|rest| rest.strip_prefix('/'))
            else {
                continue;
            };
            let Some(stem) = file.strip_suffix(".xml") else {
                continue;
            };
            let digits = stem.trim_start_matches(|c: char| c.is_ascii_alphabetic());
            let number = digits.parse::<u32>().unwrap_or(0);
            let order = match &stem[..stem.len() - digits.len()] {
                "header" => 0,
                "footer" => 1,
                "footnotes" => 2,
                "endnotes" => 3,
                "comments" => 4,
                _ => continue,
            };
            if !digits.is_empty() && number == 0 {
                continue;
            }
            parts.push((order, number, name.clone()));
        }
        parts.sort();
        for (order, number, name) in parts {
            let label = match (order, number) {
                (0, n) => format!("header {n}"),
                (1, n) => format!("footer {n}"),
                (2, _) => "footnotes".to_string(),
                (3, _) => "endnotes".to_string(),
                _ => "comments".to_string(),
            };
            self.paragraphs(&name, &mut |_, n| format!("{label} paragraph {n}"))?;
        }
        Ok(())
    }

    /// Every sheet in the workbook's order, with its comments, then the drawings.
    fn excel(&mut self, workbook: &str) -> Result<(), Stop> {
        let rels = relationships(&mut self.zip, workbook, self.into.deadline())?;
        let sheets = self.listed(workbook, &rels, "sheet")?;
        let strings = rels
            .iter()
            .find(|rel| rel.kind.ends_with("/sharedStrings"))
            .map(|rel| rel.target.clone());
        let mut shared = Vec::new();
        if let Some(strings) = strings {
            let budget = self.into.max;
            self.part(&strings, &mut |events, into| {
                shared_strings(events, budget, &mut shared, into)
            })?;
        }
        for (sheet, part) in &sheets {
            self.part(part, &mut |events, into| {
                cells(events, sheet, &shared, into)
            })?;
            for rel in relationships(&mut self.zip, part, self.into.deadline())? {
                if rel.external {
                    continue;
                }
                // Legacy comments (`comment` with runs of `t`) and threaded ones.
                let vocabulary = if rel.kind.ends_with("/comments") {
                    Vocabulary {
                        paragraphs: &["comment"],
                        texts: &["t"],
                    }
                } else if rel.kind.ends_with("/threadedComment") {
                    Vocabulary {
                        paragraphs: &["threadedComment"],
                        texts: &["text"],
                    }
                } else {
                    continue;
                };
                self.part(&rel.target, &mut |events, into| {
                    paragraphs(events, into, &vocabulary, &mut |tag, _| {
                        format!("{sheet}!{} comment", tag.attribute("ref").unwrap_or(""))
                    })
                })?;
            }
        }
        for (number, name) in numbered(&self.names(), "xl/drawings/drawing") {
            self.paragraphs(&name, &mut |_, n| format!("drawing {number} paragraph {n}"))?;
        }
        Ok(())
    }

    /// Every slide in the presentation's order, with its notes and comments.
    fn powerpoint(&mut self, presentation: &str) -> Result<(), Stop> {
        let rels = relationships(&mut self.zip, presentation, self.into.deadline())?;
        let slides = self.listed(presentation, &rels, "sldId")?;
        for (at, (_, slide)) in slides.iter().enumerate() {
            let number = at + 1;
            self.paragraphs(slide, &mut |_, n| format!("slide {number} paragraph {n}"))?;
            for rel in relationships(&mut self.zip, slide, self.into.deadline())? {
                if rel.external {
                    continue;
                }
                let label = if rel.kind.ends_with("/notesSlide") {
                    format!("slide {number} notes")
                } else if rel.kind.ends_with("/comments") {
                    format!("slide {number} comment")
                } else if rel.kind.ends_with("/diagramData") {
                    format!("slide {number} diagram")
                } else {
                    continue;
                };
                self.paragraphs(&rel.target, &mut |_, n| format!("{label} paragraph {n}"))?;
            }
        }
        Ok(())
    }

    /// The core, extended and custom document properties, each located by its name.
    fn properties(&mut self) -> Result<(), Stop> {
        for part in [
            "docProps/core.xml",
            "docProps/app.xml",
            "docProps/custom.xml",
        ] {
            let extended = part == "docProps/app.xml";
            self.part(part, &mut |events, into| {
                let mut depth = 0usize;
                let mut property: Option<String> = None;
                loop {
                    match events.next()? {
                        Item::Start(tag) => {
                            depth += 1;
                            if depth == 1 {
                                continue;
                            }
                            if tag.is("property") {
                                property = tag.attribute("name").map(str::to_string);
                                continue;
                            }
                            // Extended properties are mostly counts and lists of parts.
                            let wanted = ["Company", "Manager", "HyperlinkBase"];
                            if depth == 2 && extended && !wanted.iter().any(|name| tag.is(name)) {
                                events.skip()?;
                                depth -= 1;
                                continue;
                            }
                            let name = property
                                .clone()
                                .unwrap_or_else(|| String::from_utf8_lossy(&tag.local).into());
                            let text = events.text_of()?;
                            depth -= 1;
                            into.push(Piece::new(format!("document properties ({name})"), text))?;
                        }
                        Item::End(local) => {
                            depth = depth.saturating_sub(1);
                            if local == b"property" {
                                property = None;
                            }
                        }
                        Item::Eof => return Ok(()),
                        _ => {}
                    }
                }
            })?;
        }
        Ok(())
    }
}

/// The parts named `<prefix><number>.xml`, by number.
fn numbered(names: &[String], prefix: &str) -> Vec<(u32, String)> {
    let mut found: Vec<(u32, String)> = names
        .iter()
        .filter_map(|name| {
            let number = name
                .strip_prefix(prefix)?
                .strip_suffix(".xml")?
                .parse()
                .ok()?;
            Some((number, name.clone()))
        })
        .collect();
    found.sort();
    found
}

/// Reads the paragraphs of a part, each a piece labelled by `label` (given the paragraph's
/// start and its number in the part, counted from 1 in document order). A paragraph inside
/// another (a text box in a run) is a piece of its own.
fn paragraphs<R: BufRead>(
    events: &mut Events<R>,
    into: &mut Collector,
    vocabulary: &Vocabulary,
    label: &mut dyn FnMut(&Tag, usize) -> String,
) -> Result<(), Stop> {
    let is = |set: &[&str], local: &[u8]| set.iter().any(|name| name.as_bytes() == local);
    let mut open: Vec<Piece> = Vec::new();
    let mut count = 0usize;
    let mut in_text = 0usize;
    let mut in_run = 0usize;
    loop {
        match events.next()? {
            Item::Start(tag) => {
                if tag.is("Fallback") || tag.is("rPh") {
                    events.skip()?;
                    continue;
                }
                if is(vocabulary.paragraphs, &tag.local) {
                    count += 1;
                    open.push(Piece::new(label(&tag, count), ""));
                }
                if is(vocabulary.texts, &tag.local) {
                    in_text += 1;
                }
                if tag.is("r") {
                    in_run += 1;
                }
            }
            Item::Empty(tag) => {
                let Some(piece) = open.last_mut() else {
                    continue;
                };
                if in_run > 0 && (tag.is("tab") || tag.is("br") || tag.is("cr")) {
                    piece.text.push(if tag.is("tab") { '\t' } else { ' ' });
                } else if tag.is("noBreakHyphen") {
                    piece.text.push('-');
                } else if is(vocabulary.paragraphs, &tag.local) {
                    count += 1;
                }
            }
            Item::End(local) => {
                if is(vocabulary.texts, &local) {
                    in_text = in_text.saturating_sub(1);
                }
                if local == b"r" {
                    in_run = in_run.saturating_sub(1);
                }
                if is(vocabulary.paragraphs, &local)
                    && let Some(piece) = open.pop()
                {
                    into.push(piece)?;
                }
            }
            Item::Text(text) => {
                if in_text > 0
                    && let Some(piece) = open.last_mut()
                {
                    piece.text.push_str(&text);
                }
            }
            Item::Eof => return Ok(()),
        }
    }
}

/// The workbook's shared strings, in order, up to `budget` bytes of text.
fn shared_strings<R: BufRead>(
    events: &mut Events<R>,
    budget: u64,
    shared: &mut Vec<String>,
    into: &mut Collector,
) -> Result<(), Stop> {
    let mut total = 0u64;
    let mut in_text = false;
    loop {
        match events.next()? {
            Item::Start(tag) if tag.is("si") => {
                if shared.len() >= MAX_SHARED_STRINGS {
                    into.note(format!(
                        "shared strings past the first {MAX_SHARED_STRINGS} were not read"
                    ));
                    return Ok(());
                }
                shared.push(String::new());
            }
            Item::Start(tag) if tag.is("rPh") => events.skip()?,
            Item::Start(tag) if tag.is("t") => in_text = true,
            Item::End(local) if local == b"t" => in_text = false,
            Item::Text(text) if in_text => {
                total += text.len() as u64;
                if total > budget {
                    into.note(format!(
                        "shared strings past the first {budget} bytes were not read"
                    ));
                    return Ok(());
                }
                if let Some(last) = shared.last_mut() {
                    last.push_str(&text);
                }
            }
            Item::Eof => return Ok(()),
            _ => {}
        }
    }
}

/// A sheet's cells, a piece per row with each cell marked (`Sheet1!B4`), and its headers
/// and footers.
fn cells<R: BufRead>(
    events: &mut Events<R>,
    sheet: &str,
    shared: &[String],
    into: &mut Collector,
) -> Result<(), Stop> {
    let mut row: Option<Piece> = None;
    let mut header = Header::default();
    let mut row_number = 0u64;
    let mut column = 0u64;
    let mut cell: Option<(String, String)> = None;
    let mut value = String::new();
    let mut in_value = false;
    loop {
        match events.next()? {
            Item::Start(tag) if tag.is("row") => {
                row_number = tag
                    .attribute("r")
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(row_number.saturating_add(1));
                column = 0;
                row = Some(Piece::new(format!("{sheet} row {row_number}"), ""));
            }
            Item::End(local) if local == b"row" => {
                if let Some(piece) = row.take() {
                    into.push(header.apply(piece))?;
                }
            }
            Item::Start(tag) if tag.is("c") => {
                column = tag
                    .attribute("r")
                    .and_then(column_of)
                    .unwrap_or(column.saturating_add(1));
                let reference = format!("{}{row_number}", column_name(column));
                cell = Some((reference, tag.attribute("t").unwrap_or("n").to_string()));
                value.clear();
            }
            Item::Empty(tag) if tag.is("c") => {
                column = tag
                    .attribute("r")
                    .and_then(column_of)
                    .unwrap_or(column.saturating_add(1));
            }
            Item::Start(tag) if tag.is("v") || tag.is("t") => in_value = true,
            Item::Start(tag) if tag.is("f") || tag.is("rPh") => events.skip()?,
            Item::End(local) if local == b"v" || local == b"t" => in_value = false,
            Item::Text(text) if in_value => value.push_str(&text),
            Item::End(local) if local == b"c" => {
                let Some((reference, kind)) = cell.take() else {
                    continue;
                };
                let text = match kind.as_str() {
                    "s" => value
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .and_then(|at| shared.get(at))
                        .map(String::as_str)
                        .unwrap_or(""),
                    "b" | "e" => "",
                    _ => value.as_str(),
                };
                if !text.trim().is_empty()
                    && let Some(piece) = row.as_mut()
                {
                    piece.push_part(format!("{sheet}!{reference}"), text);
                }
            }
            Item::Start(tag)
                if [
                    "oddHeader",
                    "oddFooter",
                    "evenHeader",
                    "evenFooter",
                    "firstHeader",
                    "firstFooter",
                ]
                .iter()
                .any(|name| tag.is(name)) =>
            {
                let text = events.text_of()?;
                into.push(Piece::new(format!("{sheet} header/footer"), text))?;
            }
            Item::Eof => return Ok(()),
            _ => {}
        }
    }
}

/// The column number (from 1) of a cell reference such as `AB12`.
fn column_of(reference: &str) -> Option<u64> {
    let letters: Vec<u8> = reference
        .bytes()
        .take_while(u8::is_ascii_alphabetic)
        .collect();
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    Some(letters.iter().fold(0u64, |number, letter| {
        number * 26 + u64::from(letter.to_ascii_uppercase() - b'A' + 1)
    }))
}

/// The letters of column `number` (from 1): 1 is A, 27 is AA.
pub(crate) fn column_name(mut number: u64) -> String {
    let mut letters = Vec::new();
    while number > 0 {
        let rest = (number - 1) % 26;
        letters.push(b'A' + rest as u8);
        number = (number - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_resolve_against_their_folder() {
        assert_eq!(
            resolve("xl", "worksheets/sheet1.xml"),
            "xl/worksheets/sheet1.xml"
        );
        assert_eq!(
            resolve("xl/worksheets", "../comments1.xml"),
            "xl/comments1.xml"
        );
        assert_eq!(
            resolve("ppt/slides", "/ppt/notesSlides/n1.xml"),
            "ppt/notesSlides/n1.xml"
        );
        assert_eq!(resolve("", "word/document.xml"), "word/document.xml");
    }

    #[test]
    fn columns_are_numbered_and_named_both_ways() {
        for (name, number) in [("A", 1), ("Z", 26), ("AA", 27), ("AZ", 52), ("XFD", 16384)] {
            assert_eq!(column_of(&format!("{name}12")), Some(number));
            assert_eq!(column_name(number), name);
        }
        assert_eq!(column_of("12"), None);
    }
}
