//! OpenDocument text, spreadsheets and presentations (odt, ods, odp and their templates):
//! `content.xml` paragraph by paragraph (`paragraph 12`, `slide 2 paragraph 1`), tables row
//! by row with each cell located (`Sheet1!B4`), with comments, notes and tracked deletions;
//! the headers and footers of `styles.xml`; the properties of `meta.xml`.

use std::fs::File;
use std::io::{BufRead, Read, Seek};
use std::path::Path;

use zip::ZipArchive;

use super::ooxml::column_name;
use super::xml::{Events, Item};
use super::{Collector, Stop, read_entry, read_part};
use crate::text::{Header, Piece};

const MIMETYPE_PREFIX: &[u8] = b"application/vnd.oasis.opendocument.";

pub(crate) fn is_opendocument<R: Read + Seek>(zip: &mut ZipArchive<R>) -> bool {
    match read_entry(zip, "mimetype", 256) {
        Ok(Some(mimetype)) => mimetype.starts_with(MIMETYPE_PREFIX),
        _ => false,
    }
}

pub(crate) fn extract(path: &Path, into: &mut Collector) -> Result<(), Stop> {
    let mut zip = ZipArchive::new(File::open(path)?)
        .map_err(|error| Stop::Invalid(format!("not a readable zip: {error}")))?;
    if zip.index_for_name("content.xml").is_none() {
        return Err(Stop::Invalid("the document has no content.xml".into()));
    }
    for (part, label) in [("content.xml", ""), ("styles.xml", "header/footer ")] {
        read_part(
            &mut zip,
            part,
            part == "content.xml",
            into,
            &mut |events, into| body(events, label, into),
        )?;
    }
    read_part(&mut zip, "meta.xml", false, into, &mut |events, into| {
        properties(events, into)
    })
}

/// A table being read: its name, the row and column reached, the row's piece and the cell's
/// text.
struct Table {
    name: String,
    row: u64,
    column: u64,
    piece: Option<Piece>,
    header: Header,
    /// How many rows the open row stands for (`number-rows-repeated`).
    rows: u64,
    cell: Option<String>,
    /// How many columns the open cell stands for (`number-columns-repeated`).
    repeat: u64,
}

/// A paragraph being read, and whether it belongs to a table cell.
struct Paragraph {
    piece: Piece,
    in_cell: bool,
}

fn body<R: BufRead>(events: &mut Events<R>, label: &str, into: &mut Collector) -> Result<(), Stop> {
    let mut paragraphs: Vec<Paragraph> = Vec::new();
    let mut tables: Vec<Table> = Vec::new();
    let mut count = 0usize;
    let mut page: Option<usize> = None;
    let mut pages = 0usize;
    let mut annotation = 0usize;
    let repeated = |tag: &super::xml::Tag, name: &str| {
        tag.attribute(name)
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(1)
            .max(1)
    };
    loop {
        match events.next()? {
            Item::Start(tag) => match tag.local.as_slice() {
                b"p" | b"h" => {
                    count += 1;
                    let location = match page {
                        Some(page) => format!("slide {page} paragraph {count}"),
                        None => format!("{label}paragraph {count}"),
                    };
                    let in_cell = tables.last().is_some_and(|table| table.cell.is_some());
                    paragraphs.push(Paragraph {
                        piece: Piece::new(location, ""),
                        in_cell,
                    });
                }
                b"page" => {
                    pages += 1;
                    page = Some(pages);
                    count = 0;
                }
                b"table" => tables.push(Table {
                    name: tag.attribute("name").unwrap_or("table").to_string(),
                    row: 0,
                    column: 0,
                    piece: None,
                    header: Header::default(),
                    rows: 1,
                    cell: None,
                    repeat: 1,
                }),
                b"table-row" => {
                    if let Some(table) = tables.last_mut() {
                        table.row = table.row.saturating_add(1);
                        table.rows = repeated(&tag, "number-rows-repeated");
                        table.column = 0;
                        table.piece =
                            Some(Piece::new(format!("{} row {}", table.name, table.row), ""));
                    }
                }
                b"table-cell" | b"covered-table-cell" => {
                    if let Some(table) = tables.last_mut() {
                        table.column = table.column.saturating_add(1);
                        table.cell = Some(String::new());
                        table.repeat = repeated(&tag, "number-columns-repeated");
                    }
                }
                b"annotation" => annotation += 1,
                b"creator" | b"date" if annotation > 0 => events.skip()?,
                b"note-citation" => events.skip()?,
                _ => {}
            },
            Item::Empty(tag) => {
                if let Some(paragraph) = paragraphs.last_mut() {
                    let text = &mut paragraph.piece.text;
                    match tag.local.as_slice() {
                        b"s" => {
                            let spaces = repeated(&tag, "c").min(64) as usize;
                            text.extend(std::iter::repeat_n(' ', spaces));
                        }
                        b"tab" => text.push('\t'),
                        b"line-break" => text.push(' '),
                        _ => {}
                    }
                }
                match tag.local.as_slice() {
                    b"p" | b"h" => count += 1,
                    b"table-cell" | b"covered-table-cell" => {
                        if let Some(table) = tables.last_mut() {
                            table.column = table
                                .column
                                .saturating_add(repeated(&tag, "number-columns-repeated"));
                        }
                    }
                    b"table-row" => {
                        if let Some(table) = tables.last_mut() {
                            table.row = table
                                .row
                                .saturating_add(repeated(&tag, "number-rows-repeated"));
                        }
                    }
                    _ => {}
                }
            }
            Item::End(local) => match local.as_slice() {
                b"p" | b"h" => {
                    let Some(paragraph) = paragraphs.pop() else {
                        continue;
                    };
                    let cell = tables.last_mut().and_then(|table| table.cell.as_mut());
                    match cell {
                        Some(cell) if paragraph.in_cell => {
                            if !cell.is_empty() {
                                cell.push(' ');
                            }
                            cell.push_str(&paragraph.piece.text);
                        }
                        _ => into.push(paragraph.piece)?,
                    }
                }
                b"page" => page = None,
                b"table" => {
                    tables.pop();
                }
                b"table-row" => {
                    let Some(table) = tables.last_mut() else {
                        continue;
                    };
                    if let Some(piece) = table.piece.take() {
                        into.push(table.header.apply(piece))?;
                    }
                    table.row = table.row.saturating_add(table.rows - 1);
                }
                b"table-cell" | b"covered-table-cell" => {
                    let Some(table) = tables.last_mut() else {
                        continue;
                    };
                    let text = table.cell.take().unwrap_or_default();
                    let reference =
                        format!("{}!{}{}", table.name, column_name(table.column), table.row);
                    if !text.trim().is_empty()
                        && let Some(piece) = table.piece.as_mut()
                    {
                        piece.push_part(reference, &text);
                    }
                    table.column = table.column.saturating_add(table.repeat - 1);
                }
                b"annotation" => annotation = annotation.saturating_sub(1),
                _ => {}
            },
            Item::Text(text) => {
                if let Some(paragraph) = paragraphs.last_mut() {
                    paragraph.piece.text.push_str(&text);
                }
            }
            Item::Eof => return Ok(()),
        }
    }
}

/// `meta.xml`: each property (title, subject, keywords, creator, user-defined ones by name).
fn properties<R: BufRead>(events: &mut Events<R>, into: &mut Collector) -> Result<(), Stop> {
    let mut depth = 0usize;
    loop {
        match events.next()? {
            Item::Start(tag) => {
                depth += 1;
                if depth < 3 {
                    continue;
                }
                let name = match tag.attribute("name") {
                    Some(name) if tag.is("user-defined") => name.to_string(),
                    _ => String::from_utf8_lossy(&tag.local).into_owned(),
                };
                let text = events.text_of()?;
                depth -= 1;
                into.push(Piece::new(format!("document properties ({name})"), text))?;
            }
            Item::End(_) => depth = depth.saturating_sub(1),
            Item::Eof => return Ok(()),
            _ => {}
        }
    }
}
