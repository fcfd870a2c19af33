//! Word, Excel and PowerPoint: every XML part of the package rewritten with the values masked
//! in its text and attribute values. A part's text is searched as one, so a value split over
//! runs (`<w:t>4556 73</w:t>…<w:t>75 8689 9855</w:t>`) is masked in each of them. A number in
//! a numeric spreadsheet cell is masked with zeros, so that the cell stays a number. With
//! metadata removal, the document properties (core, extended and custom) are emptied, and the
//! names of the people who wrote comments and tracked changes are taken out. Every other part
//! is copied as it is.

use std::fs::File;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::Path;

use quick_xml::events::{BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::{Failure, MASK, Targets, mask_ranges};
use crate::extract::xml::resolve;

/// Largest XML part rewritten.
const MAX_PART: u64 = 256 << 20;

/// The document properties' parts, and what each becomes without its metadata.
const PROPERTIES: [(&str, &str); 3] = [
    (
        "docProps/core.xml",
        "<cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:dcterms=\"http://purl.org/dc/terms/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"/>",
    ),
    (
        "docProps/app.xml",
        "<Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties\"/>",
    ),
    (
        "docProps/custom.xml",
        "<Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/custom-properties\"/>",
    ),
];

/// Writes the masked package; whether its properties were emptied.
pub(super) fn redact(
    source: &Path,
    targets: &Targets,
    remove_metadata: bool,
    copy: &Path,
) -> Result<bool, Failure> {
    let failed = |error: &dyn std::fmt::Display| Failure(format!("the package: {error}"));
    let mut zip = ZipArchive::new(File::open(source)?).map_err(|e| failed(&e))?;
    let mut out = ZipWriter::new(File::create(copy)?);
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for index in 0..zip.len() {
        let name = zip
            .name_for_index(index)
            .ok_or_else(|| failed(&"an entry has no name"))?
            .map_err(|e| failed(&e))?
            .to_string();
        let emptied = PROPERTIES
            .iter()
            .find(|(part, _)| remove_metadata && *part == name)
            .map(|(_, empty)| {
                format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n{empty}")
            });
        let rewritten = match emptied {
            Some(empty) => Some(empty.into_bytes()),
            None if is_xml(&name) && !name.ends_with('/') => {
                let mut data = Vec::new();
                let entry = zip.by_index(index).map_err(|e| failed(&e))?;
                entry.take(MAX_PART + 1).read_to_end(&mut data)?;
                if data.len() as u64 > MAX_PART {
                    return Err(Failure(format!("{name} expands past {MAX_PART} bytes")));
                }
                mask_part(&data, targets, remove_metadata)
                    .map_err(|why| Failure(format!("{name}: {why}")))?
            }
            None => None,
        };
        let Some(data) = rewritten else {
            // Unchanged: copied as it is stored, not compressed again.
            let entry = zip.by_index_raw(index).map_err(|e| failed(&e))?;
            out.raw_copy_file(entry).map_err(|e| failed(&e))?;
            continue;
        };
        out.start_file(name.as_str(), options)
            .map_err(|e| failed(&e))?;
        out.write_all(&data)?;
    }
    out.finish().map_err(|e| failed(&e))?;
    Ok(remove_metadata)
}

fn is_xml(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".xml") || lower.ends_with(".vml")
}

/// The text of a part's text nodes, each run of text, character references and CDATA between
/// two tags one segment, with the byte ranges of it that show a value.
struct Segments {
    texts: Vec<String>,
    masked: Vec<Vec<Range<usize>>>,
    /// Whether an attribute or a comment author's name changes.
    other_changes: bool,
}

impl Segments {
    fn read(data: &[u8], targets: &Targets, anonymous: bool) -> Result<Self, String> {
        let mut reader = Reader::from_reader(data);
        reader.config_mut().check_end_names = true;
        let mut texts: Vec<String> = Vec::new();
        let mut open = false;
        let mut other_changes = false;
        loop {
            let event = reader.read_event().map_err(|e| e.to_string())?;
            let text = match &event {
                Event::Eof => break,
                Event::Text(text) => text.xml_content().map_err(|e| e.to_string())?.into_owned(),
                Event::CData(data) => data.decode().map_err(|e| e.to_string())?.into_owned(),
                Event::GeneralRef(reference) => resolve(reference),
                Event::Start(start) | Event::Empty(start) => {
                    open = false;
                    other_changes = other_changes
                        || (anonymous && start.local_name().as_ref() == b"author")
                        || attributes_change(start, targets, anonymous);
                    continue;
                }
                _ => {
                    open = false;
                    continue;
                }
            };
            match texts.last_mut() {
                Some(last) if open => last.push_str(&text),
                _ => texts.push(text),
            }
            open = true;
        }
        // The whole part's text at once, so that a value split over segments is found.
        let whole: String = texts.concat();
        let mut masked = vec![Vec::new(); texts.len()];
        let mut starts = Vec::with_capacity(texts.len());
        let mut at = 0;
        for text in &texts {
            starts.push(at);
            at += text.len();
        }
        for range in targets.find(&whole) {
            for (index, &start) in starts.iter().enumerate() {
                let end = start + texts[index].len();
                if range.start < end && start < range.end {
                    masked[index].push(range.start.max(start) - start..range.end.min(end) - start);
                }
            }
        }
        Ok(Self {
            texts,
            masked,
            other_changes,
        })
    }

    /// Whether the part changes at all.
    fn change(&self) -> bool {
        self.other_changes || self.masked.iter().any(|ranges| !ranges.is_empty())
    }
}

/// Whether an element's attributes change: one shows a value, or names a person when
/// `anonymous`.
fn attributes_change(start: &BytesStart<'_>, targets: &Targets, anonymous: bool) -> bool {
    let element = start.local_name();
    start.attributes().flatten().any(|attribute| {
        let value = attribute
            .unescape_value()
            .map(|value| value.into_owned())
            .unwrap_or_default();
        (anonymous
            && !value.is_empty()
            && names_a_person(element.as_ref(), attribute.key.local_name().as_ref()))
            || !targets.find(&value).is_empty()
    })
}

/// The part with the values masked in its text and attributes, and when `anonymous` without
/// the names of the people who wrote comments and changes; `None` when nothing changes.
fn mask_part(data: &[u8], targets: &Targets, anonymous: bool) -> Result<Option<Vec<u8>>, String> {
    let segments = Segments::read(data, targets, anonymous)?;
    if !segments.change() {
        return Ok(None);
    }
    let mut reader = Reader::from_reader(data);
    let mut writer = Writer::new(Vec::with_capacity(data.len()));
    // The segment being written (its index) and whether its masked text is written already.
    let mut segment: Option<(usize, bool)> = None;
    let mut next_segment = 0;
    // Whether the text being read is the value of a numeric spreadsheet cell.
    let mut numeric_cell = false;
    let mut in_value = false;
    // Whether the text being read is a comment author's name (a workbook's `<author>`).
    let mut in_author = false;
    loop {
        let event = reader.read_event().map_err(|e| e.to_string())?;
        let written = match event {
            Event::Eof => break,
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) => {
                let (index, done) = *segment.get_or_insert_with(|| {
                    next_segment += 1;
                    (next_segment - 1, false)
                });
                let ranges = &segments.masked[index];
                if anonymous && in_author {
                    continue;
                } else if ranges.is_empty() {
                    event
                } else if done {
                    continue;
                } else {
                    segment = Some((index, true));
                    let mask = if numeric_cell && in_value { '0' } else { MASK };
                    let masked = mask_ranges(&segments.texts[index], ranges, mask);
                    Event::Text(BytesText::new(&masked).into_owned())
                }
            }
            Event::Start(start) => {
                segment = None;
                match start.local_name().as_ref() {
                    b"c" => numeric_cell = is_numeric_cell(&start),
                    b"v" => in_value = true,
                    b"author" => in_author = true,
                    _ => {}
                }
                Event::Start(mask_attributes(start, targets, anonymous))
            }
            Event::Empty(start) => {
                segment = None;
                Event::Empty(mask_attributes(start, targets, anonymous))
            }
            Event::End(end) => {
                segment = None;
                match end.local_name().as_ref() {
                    b"c" => numeric_cell = false,
                    b"v" => in_value = false,
                    b"author" => in_author = false,
                    _ => {}
                }
                Event::End(end)
            }
            other => {
                segment = None;
                other
            }
        };
        writer.write_event(written).map_err(|e| e.to_string())?;
    }
    Ok(Some(writer.into_inner()))
}

/// A spreadsheet cell whose value is a number (no type, or type `n`).
fn is_numeric_cell(start: &BytesStart<'_>) -> bool {
    start
        .attributes()
        .flatten()
        .find(|attribute| attribute.key.as_ref() == b"t")
        .is_none_or(|attribute| attribute.value.as_ref() == b"n")
}

/// Whether an attribute names a person: who wrote a comment or a tracked change (`author`,
/// `initials`, `userId`), a presentation's comment author, a workbook's threaded-comment person.
fn names_a_person(element: &[u8], attribute: &[u8]) -> bool {
    matches!(attribute, b"author" | b"initials" | b"userId")
        || (element == b"cmAuthor" && attribute == b"name")
        || (element == b"person" && attribute == b"displayName")
}

/// The element with the values masked in its attributes, and when `anonymous` the names of
/// people emptied.
fn mask_attributes<'a>(
    start: BytesStart<'a>,
    targets: &Targets,
    anonymous: bool,
) -> BytesStart<'a> {
    let element = start.local_name().as_ref().to_vec();
    let attributes: Vec<(String, String, Option<String>)> = start
        .attributes()
        .flatten()
        .map(|attribute| {
            let key = String::from_utf8_lossy(attribute.key.as_ref()).into_owned();
            let value = attribute
                .unescape_value()
                .map(|value| value.into_owned())
                .unwrap_or_else(|_| String::from_utf8_lossy(&attribute.value).into_owned());
            let masked = if anonymous
                && !value.is_empty()
                && names_a_person(&element, attribute.key.local_name().as_ref())
            {
                Some(String::new())
            } else {
                targets.mask(&value, MASK)
            };
            (key, value, masked)
        })
        .collect();
    if attributes.iter().all(|(_, _, masked)| masked.is_none()) {
        return start;
    }
    let mut rewritten = start.to_owned();
    rewritten.clear_attributes();
    for (key, value, masked) in &attributes {
        rewritten.push_attribute((key.as_str(), masked.as_deref().unwrap_or(value)));
    }
    rewritten
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(xml: &str, values: &[&str]) -> String {
        let targets = Targets::new(values.iter().copied());
        String::from_utf8(mask_part(xml.as_bytes(), &targets, false).unwrap().unwrap()).unwrap()
    }

    #[test]
    fn a_value_split_over_runs_is_masked_in_each() {
        let xml = r#"<w:p><w:r><w:t>Card 4556 73</w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">75 8689 9855</w:t></w:r><w:r><w:t> &amp; more</w:t></w:r></w:p>"#;
        assert_eq!(
            masked(xml, &["4556 7375 8689 9855"]),
            r#"<w:p><w:r><w:t>Card **** **</w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">** **** ****</w:t></w:r><w:r><w:t> &amp; more</w:t></w:r></w:p>"#
        );
    }

    #[test]
    fn numeric_cells_stay_numbers_and_attributes_are_masked() {
        let xml = r#"<row><c r="A1" t="s"><v>0</v></c><c r="B1"><v>4556737586899855</v></c><c r="C1" t="inlineStr"><is><t>4556737586899855</t></is></c></row><x:n v="4556737586899855" note="a &amp; b"/>"#;
        assert_eq!(
            masked(xml, &["4556737586899855"]),
            r#"<row><c r="A1" t="s"><v>0</v></c><c r="B1"><v>0000000000000000</v></c><c r="C1" t="inlineStr"><is><t>****************</t></is></c></row><x:n v="****************" note="a &amp; b"/>"#
        );
    }

    #[test]
    fn entities_inside_a_value_are_masked_with_it() {
        assert_eq!(
            masked("<t>id A&amp;B-7 end</t>", &["A&B-7"]),
            "<t>id ***** end</t>"
        );
    }

    #[test]
    fn without_metadata_the_people_who_commented_and_changed_are_not_named() {
        let targets = Targets::new(["536-22-8726"]);
        let xml = r#"<w:comment w:id="0" w:author="Grace Hopper" w:initials="GH"><w:p><w:r><w:t>SSN 536-22-8726</w:t></w:r></w:p></w:comment><authors><author>Grace Hopper</author></authors><p:cmAuthor id="1" name="Grace" initials="G"/>"#;
        assert_eq!(
            String::from_utf8(mask_part(xml.as_bytes(), &targets, true).unwrap().unwrap()).unwrap(),
            r#"<w:comment w:id="0" w:author="" w:initials=""><w:p><w:r><w:t>SSN ***********</w:t></w:r></w:p></w:comment><authors><author></author></authors><p:cmAuthor id="1" name="" initials=""/>"#
        );
    }
}
