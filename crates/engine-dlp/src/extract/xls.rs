//! Excel 97-2003 workbooks (BIFF8 in a compound file's `Workbook` stream): every sheet's
//! cells row by row, each located (`Sheet1!B4`): shared strings, inline labels, numbers,
//! formula results; the sheets' headers and footers, and the text of comments and text boxes
//! (`Sheet1 text box`). Read by hand from the records: the format is small and fixed, and
//! the crates that read it bring a second zip and XML stack with them.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use super::ooxml::column_name;
use super::{Collector, Stop};
use crate::text::{Header, Piece};

/// The compound file signature.
pub(crate) const MAGIC: [u8; 8] = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];
/// Largest workbook stream read.
const MAX_STREAM: u64 = 512 << 20;

const BOF: u16 = 0x0809;
const EOF: u16 = 0x000a;
const FILEPASS: u16 = 0x002f;
const BOUNDSHEET: u16 = 0x0085;
const SST: u16 = 0x00fc;
const CONTINUE: u16 = 0x003c;
const LABELSST: u16 = 0x00fd;
const LABEL: u16 = 0x0204;
const NUMBER: u16 = 0x0203;
const RK: u16 = 0x027e;
const MULRK: u16 = 0x00bd;
const FORMULA: u16 = 0x0006;
const STRING: u16 = 0x0207;
const HEADER: u16 = 0x0014;
const FOOTER: u16 = 0x0015;
const TXO: u16 = 0x01b6;

/// Whether the compound file at `path` holds an Excel workbook stream.
pub(crate) fn is_workbook(path: &Path) -> bool {
    let Ok(file) = cfb::open(path) else {
        return false;
    };
    file.is_stream("/Workbook") || file.is_stream("/Book")
}

/// A record: its type and data (with the CONTINUE records that follow it, kept apart).
struct Record<'a> {
    kind: u16,
    data: &'a [u8],
    /// Offset of the record's header in the stream.
    offset: usize,
}

fn records(stream: &[u8]) -> impl Iterator<Item = Record<'_>> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let header = stream.get(at..at + 4)?;
        let kind = u16::from_le_bytes([header[0], header[1]]);
        let length = u16::from_le_bytes([header[2], header[3]]) as usize;
        let data = stream.get(at + 4..at + 4 + length)?;
        let record = Record {
            kind,
            data,
            offset: at,
        };
        at += 4 + length;
        Some(record)
    })
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

pub(crate) fn extract(path: &Path, into: &mut Collector) -> Result<(), Stop> {
    let mut file =
        cfb::open(path).map_err(|error| Stop::Invalid(format!("not a compound file: {error}")))?;
    if !file.is_stream("/Workbook") {
        return Err(Stop::Invalid(
            "an Excel 5.0/95 workbook (only Excel 97-2003 and later are read)".into(),
        ));
    }
    let mut stream = Vec::new();
    file.open_stream("/Workbook")?
        .take(MAX_STREAM)
        .read_to_end(&mut stream)?;
    let globals = globals(&stream, into.max)?;
    for sheet in &globals.sheets {
        if std::time::Instant::now() > into.deadline() {
            return Err(Stop::TimedOut);
        }
        read_sheet(&stream, sheet, &globals.strings, into)?;
    }
    Ok(())
}

struct Sheet {
    name: String,
    /// Where the sheet's BOF record is in the stream.
    offset: usize,
}

struct Globals {
    sheets: Vec<Sheet>,
    strings: Vec<String>,
}

/// The workbook globals: the sheets and the shared strings (up to `budget` bytes of text).
fn globals(stream: &[u8], budget: u64) -> Result<Globals, Stop> {
    let mut sheets = Vec::new();
    let mut strings = Vec::new();
    let mut records = records(stream).peekable();
    match records.next() {
        Some(first) if first.kind == BOF && u16_at(first.data, 0) == Some(0x0600) => {}
        _ => return Err(Stop::Invalid("the workbook stream is not BIFF8".into())),
    }
    while let Some(record) = records.next() {
        match record.kind {
            EOF => break,
            FILEPASS => {
                return Err(Stop::Invalid(
                    "the workbook is encrypted and opens only with a password".into(),
                ));
            }
            BOUNDSHEET => {
                let data = record.data;
                let (Some(offset), Some(&kind)) = (u32_at(data, 0), data.get(5)) else {
                    continue;
                };
                // 0 is a worksheet (or dialog sheet); charts and macro sheets hold no cells.
                if kind != 0 {
                    continue;
                }
                let mut reader = Segments::new(vec![data.get(6..).unwrap_or_default()]);
                let name = reader.short_string().unwrap_or_default();
                sheets.push(Sheet {
                    name,
                    offset: offset as usize,
                });
            }
            SST => {
                let mut segments = vec![record.data];
                while let Some(next) = records.next_if(|next| next.kind == CONTINUE) {
                    segments.push(next.data);
                }
                strings = shared_strings(segments, budget);
            }
            _ => {}
        }
    }
    Ok(Globals { sheets, strings })
}

/// Record data read across CONTINUE records. A string's characters that cross into the next
/// record restart there with a new flags byte (one-byte or two-byte characters).
struct Segments<'a> {
    segments: Vec<&'a [u8]>,
    segment: usize,
    at: usize,
}

impl<'a> Segments<'a> {
    fn new(segments: Vec<&'a [u8]>) -> Self {
        Self {
            segments,
            segment: 0,
            at: 0,
        }
    }

    fn byte(&mut self) -> Option<u8> {
        loop {
            let segment = self.segments.get(self.segment)?;
            if let Some(&byte) = segment.get(self.at) {
                self.at += 1;
                return Some(byte);
            }
            self.segment += 1;
            self.at = 0;
        }
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes([
            self.byte()?,
            self.byte()?,
            self.byte()?,
            self.byte()?,
        ]))
    }

    fn skip(&mut self, mut count: usize) -> Option<()> {
        while count > 0 {
            let segment = self.segments.get(self.segment)?;
            let here = (segment.len() - self.at.min(segment.len())).min(count);
            if here == 0 {
                self.segment += 1;
                self.at = 0;
                continue;
            }
            self.at += here;
            count -= here;
        }
        Some(())
    }

    /// `count` characters, one or two bytes each as `wide` says, restarting with a flags
    /// byte at each record boundary.
    fn characters(&mut self, count: usize, mut wide: bool) -> Option<String> {
        let mut units: Vec<u16> = Vec::with_capacity(count.min(1 << 16));
        while units.len() < count {
            let segment = self.segments.get(self.segment)?;
            if self.at >= segment.len() {
                self.segment += 1;
                self.at = 0;
                wide = self.byte()? & 1 == 1;
                continue;
            }
            if wide {
                units.push(self.u16()?);
            } else {
                units.push(u16::from(self.byte()?));
            }
        }
        Some(String::from_utf16_lossy(&units))
    }

    /// A ShortXLUnicodeString: an 8-bit count, flags, characters.
    fn short_string(&mut self) -> Option<String> {
        let count = usize::from(self.byte()?);
        let wide = self.byte()? & 1 == 1;
        self.characters(count, wide)
    }

    /// An XLUnicodeString: a 16-bit count, flags, characters.
    fn string(&mut self) -> Option<String> {
        let count = usize::from(self.u16()?);
        let wide = self.byte()? & 1 == 1;
        self.characters(count, wide)
    }

    /// An XLUnicodeRichExtendedString (the shared strings' form), without its formatting.
    fn rich_string(&mut self) -> Option<String> {
        let count = usize::from(self.u16()?);
        let flags = self.byte()?;
        let runs = if flags & 0x08 != 0 { self.u16()? } else { 0 };
        let extended = if flags & 0x04 != 0 { self.u32()? } else { 0 };
        let text = self.characters(count, flags & 1 == 1)?;
        self.skip(usize::from(runs) * 4)?;
        self.skip(extended as usize)?;
        Some(text)
    }
}

/// The shared string table, in order, up to `budget` bytes of text.
fn shared_strings(segments: Vec<&[u8]>, budget: u64) -> Vec<String> {
    let mut reader = Segments::new(segments);
    let (Some(_total), Some(unique)) = (reader.u32(), reader.u32()) else {
        return Vec::new();
    };
    let mut strings = Vec::new();
    let mut bytes = 0u64;
    for _ in 0..unique {
        let Some(text) = reader.rich_string() else {
            break;
        };
        bytes += text.len() as u64;
        if bytes > budget {
            break;
        }
        strings.push(text);
    }
    strings
}

/// A number as a reader sees it: whole numbers without a fraction.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// An RK value: a compressed number.
fn rk(value: u32) -> f64 {
    let number = if value & 2 != 0 {
        f64::from((value as i32) >> 2)
    } else {
        f64::from_bits(u64::from(value & 0xffff_fffc) << 32)
    };
    if value & 1 != 0 {
        number / 100.0
    } else {
        number
    }
}

/// A sheet's cells by (row, column), and the bytes of text they hold.
#[derive(Default)]
struct Cells {
    map: BTreeMap<(u16, u16), String>,
    held: u64,
}

impl Cells {
    fn put(&mut self, at: (u16, u16), text: String) {
        self.held += text.len() as u64;
        self.map.insert(at, text);
    }
}

fn read_sheet(
    stream: &[u8],
    sheet: &Sheet,
    strings: &[String],
    into: &mut Collector,
) -> Result<(), Stop> {
    let Some(rest) = stream.get(sheet.offset..) else {
        into.note(format!(
            "the sheet {} is outside the workbook stream",
            sheet.name
        ));
        return Ok(());
    };
    let name = &sheet.name;
    let mut cells = Cells::default();
    let mut extras: Vec<(String, String)> = Vec::new();
    let mut formula_at: Option<(u16, u16)> = None;
    let mut records = records(rest).peekable();
    if records.next().is_none_or(|bof| bof.kind != BOF) {
        into.note(format!(
            "the sheet {name} does not start where the workbook says"
        ));
        return Ok(());
    }
    while let Some(record) = records.next() {
        // Cells are gathered before they are read in order: no more than the budget of text.
        if cells.held > into.max {
            into.note(format!(
                "the cells of {name} past the first {} bytes of text were not read",
                into.max
            ));
            break;
        }
        let data = record.data;
        let at = (u16_at(data, 0).unwrap_or(0), u16_at(data, 2).unwrap_or(0));
        match record.kind {
            EOF | BOF => break,
            LABELSST => {
                if let Some(text) = u32_at(data, 6).and_then(|index| strings.get(index as usize)) {
                    cells.put(at, text.clone());
                }
            }
            LABEL => {
                let mut reader = Segments::new(vec![data.get(6..).unwrap_or_default()]);
                if let Some(text) = reader.string() {
                    cells.put(at, text);
                }
            }
            NUMBER => {
                if let Some(bytes) = data.get(6..14) {
                    let value = f64::from_le_bytes(bytes.try_into().unwrap_or_default());
                    cells.put(at, number(value));
                }
            }
            RK => {
                if let Some(value) = u32_at(data, 6) {
                    cells.put(at, number(rk(value)));
                }
            }
            MULRK => {
                let mut column = at.1;
                let mut offset = 4;
                while offset + 6 + 2 <= data.len() {
                    if let Some(value) = u32_at(data, offset + 2) {
                        cells.put((at.0, column), number(rk(value)));
                    }
                    column = column.saturating_add(1);
                    offset += 6;
                }
            }
            FORMULA => {
                let Some(result) = data.get(6..14) else {
                    continue;
                };
                if result[6] == 0xff && result[7] == 0xff {
                    // 0 is a string result in the STRING record that follows.
                    formula_at = (result[0] == 0).then_some(at);
                } else {
                    let value = f64::from_le_bytes(result.try_into().unwrap_or_default());
                    cells.put(at, number(value));
                }
            }
            STRING => {
                let mut segments = vec![data];
                while let Some(next) = records.next_if(|next| next.kind == CONTINUE) {
                    segments.push(next.data);
                }
                if let Some(at) = formula_at.take()
                    && let Some(text) = Segments::new(segments).string()
                {
                    cells.put(at, text);
                }
            }
            HEADER | FOOTER if !data.is_empty() => {
                if let Some(text) = Segments::new(vec![data]).string() {
                    extras.push((format!("{name} header/footer"), text));
                }
            }
            TXO => {
                let count = usize::from(u16_at(data, 10).unwrap_or(0));
                if count == 0 {
                    continue;
                }
                if let Some(next) = records.next_if(|next| next.kind == CONTINUE) {
                    let mut reader = Segments::new(vec![next.data]);
                    let wide = reader.byte().is_some_and(|flags| flags & 1 == 1);
                    let mut segments = vec![next.data.get(1..).unwrap_or_default()];
                    while let Some(more) =
                        records.next_if(|more| more.kind == CONTINUE && more.offset > next.offset)
                    {
                        segments.push(more.data);
                    }
                    if let Some(text) = Segments::new(segments).characters(count, wide) {
                        extras.push((format!("{name} comment or text box"), text));
                    }
                }
            }
            _ => {}
        }
    }
    let mut header = Header::default();
    let mut row: Option<(u16, Piece)> = None;
    for ((number, column), text) in cells.map {
        if row.as_ref().is_some_and(|(current, _)| *current != number)
            && let Some((_, piece)) = row.take()
        {
            into.push(header.apply(piece))?;
        }
        let (_, piece) = row
            .get_or_insert_with(|| (number, Piece::new(format!("{name} row {}", number + 1), "")));
        if !text.trim().is_empty() {
            let reference = format!(
                "{name}!{}{}",
                column_name(u64::from(column) + 1),
                number + 1
            );
            piece.push_part(reference, &text);
        }
    }
    if let Some((_, piece)) = row {
        into.push(header.apply(piece))?;
    }
    for (location, text) in extras {
        into.push(Piece::new(location, text))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_crossing_a_record_restart_with_their_own_width() {
        // "ABCD": two one-byte characters, then the CONTINUE record's flags byte says the
        // rest are two bytes each.
        let first: &[u8] = &[4, 0, 0, b'A', b'B'];
        let second: &[u8] = &[1, b'C', 0, b'D', 0];
        assert_eq!(Segments::new(vec![first, second]).string().unwrap(), "ABCD");
    }

    #[test]
    fn rk_numbers_decode_integers_floats_and_hundredths() {
        assert_eq!(rk((536_228_726u32 << 2) | 2), 536_228_726.0);
        assert_eq!(rk((12_345 << 2) | 3), 123.45);
        assert_eq!(rk((1.5f64.to_bits() >> 32) as u32), 1.5);
        assert_eq!(number(4_556_737_586_899_855.0), "4556737586899855");
        assert_eq!(number(0.25), "0.25");
    }
}
