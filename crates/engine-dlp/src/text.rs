//! Text for the recognizers, each piece with where it is in the file.
//!
//! Plain text (and CSV, JSON, XML, HTML, Markdown, logs) is decoded by its byte order mark,
//! else as UTF-16 when every other byte is mostly zero, else as UTF-8 when it is valid UTF-8,
//! else as Windows-1252 (which decodes any byte), and is located by line.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// A piece of a file's text and where it is (`line 12`, `page 3`, `file name`). A piece
/// made of parts with places of their own (a spreadsheet row of cells) marks where each part
/// starts, so that a hit is located by the part it starts in (`Sheet1!B4`) while its context
/// is the whole piece.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub location: String,
    pub text: String,
    /// Where parts of the text start, in increasing byte offsets.
    pub marks: Vec<Mark>,
    /// Bytes at the start that are context only (a table's header row): hits there are not
    /// this piece's.
    pub lead: usize,
    /// For a piece made of two lines read across a wrap: the byte offset of the join. Only
    /// hits that span it are this piece's (the others are each line's).
    pub across: Option<usize>,
}

/// Most bytes of a header row read before each row of its table.
const MAX_HEADER: usize = 256;

/// The first row of a table with text, read before each of the rows that follow it.
#[derive(Default)]
pub struct Header(Option<String>);

impl Header {
    /// The row as it is read: the first with text becomes the header, the rest go under it.
    pub fn apply(&mut self, row: Piece) -> Piece {
        if row.text.trim().is_empty() {
            return row;
        }
        match &self.0 {
            Some(header) => row.under(header),
            None => {
                self.0 = Some(row.text.clone());
                row
            }
        }
    }
}

/// The start of a part of a piece with a place of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// Byte offset in the piece's text.
    pub at: usize,
    pub location: String,
}

impl Piece {
    pub fn new(location: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            text: text.into(),
            marks: Vec::new(),
            lead: 0,
            across: None,
        }
    }

    /// The piece read under `header` (its table's first row), so that keywords in the
    /// column names count for the cells below them; hits in the header are not this piece's.
    pub fn under(mut self, header: &str) -> Self {
        let mut cut = header.len().min(MAX_HEADER);
        while !header.is_char_boundary(cut) {
            cut -= 1;
        }
        let lead = cut + 1;
        self.text = format!("{}\n{}", &header[..cut], self.text);
        for mark in &mut self.marks {
            mark.at += lead;
        }
        self.lead = lead;
        self
    }

    /// Whether a hit from `start` to `end` belongs to this piece (not in its lead, across its
    /// join when it has one).
    pub fn owns(&self, start: usize, end: usize) -> bool {
        start >= self.lead && self.across.is_none_or(|at| start < at && at < end)
    }

    /// Where the text at byte `offset` is: the last mark at or before it, else the piece's
    /// own location.
    pub fn location_at(&self, offset: usize) -> &str {
        self.marks
            .iter()
            .take_while(|mark| mark.at <= offset)
            .last()
            .map_or(&self.location, |mark| &mark.location)
    }

    /// Appends a part with a place of its own, after a tab when the piece has text.
    pub fn push_part(&mut self, location: impl Into<String>, text: &str) {
        if !self.text.is_empty() {
            self.text.push('\t');
        }
        self.marks.push(Mark {
            at: self.text.len(),
            location: location.into(),
        });
        self.text.push_str(text);
    }
}

/// The file's bytes decoded as text, and the encoding they were read in.
pub fn decode(bytes: &[u8]) -> (String, &'static Encoding) {
    let encoding = detect(bytes);
    let (text, _, _) = encoding.decode(bytes);
    (text.into_owned(), encoding)
}

fn detect(bytes: &[u8]) -> &'static Encoding {
    if let Some((encoding, _)) = Encoding::for_bom(bytes) {
        return encoding;
    }
    // Before UTF-8: UTF-16 text of ASCII characters is valid UTF-8 too (its zero bytes).
    if let Some(encoding) = utf16_by_zeros(bytes) {
        return encoding;
    }
    if std::str::from_utf8(bytes).is_ok() {
        return UTF_8;
    }
    WINDOWS_1252
}

fn utf16_by_zeros(bytes: &[u8]) -> Option<&'static Encoding> {
    let sample = &bytes[..bytes.len().min(64 * 1024) & !1];
    let pairs = sample.len() / 2;
    if pairs >= 4 {
        let zero_at = |offset: usize| {
            sample
                .iter()
                .skip(offset)
                .step_by(2)
                .filter(|b| **b == 0)
                .count()
        };
        // ASCII-range text in UTF-16 has a zero byte in nearly every pair, on one side.
        let (even, odd) = (zero_at(0), zero_at(1));
        if odd * 10 >= pairs * 7 && even * 10 < pairs {
            return Some(UTF_16LE);
        }
        if even * 10 >= pairs * 7 && odd * 10 < pairs {
            return Some(UTF_16BE);
        }
    }
    None
}

/// The file read as plain text: `None` when it is not text (it holds NUL or other control
/// characters beyond a few, as binary formats do).
pub fn plain(bytes: &[u8]) -> Option<String> {
    let (text, _) = decode(bytes);
    let mut chars = 0usize;
    let mut control = 0usize;
    for c in text.chars() {
        chars += 1;
        if c == '\0' {
            return None;
        }
        if c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}') {
            control += 1;
        }
    }
    (control * 100 <= chars).then_some(text)
}

/// The last `chars` characters of `text` (a hit's context before it).
pub fn last_chars(text: &str, chars: usize) -> &str {
    if chars == 0 {
        return "";
    }
    let from = text
        .char_indices()
        .rev()
        .nth(chars - 1)
        .map_or(0, |(at, _)| at);
    &text[from..]
}

/// The first `chars` characters of `text` (a hit's context after it).
pub fn first_chars(text: &str, chars: usize) -> &str {
    let to = text
        .char_indices()
        .nth(chars)
        .map_or(text.len(), |(at, _)| at);
    &text[..to]
}

/// Plain text as pieces, one per line with text (`line N`, counted from 1).
pub fn lines(text: &str) -> Vec<Piece> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(at, line)| Piece::new(format!("line {}", at + 1), line))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_detected_by_mark_validity_and_zero_bytes() {
        let text = "Card 4556 7375 8689 9855 – paid";
        assert_eq!(decode(text.as_bytes()), (text.to_string(), UTF_8));
        let mut le = vec![0xff, 0xfe];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(decode(&le), (text.to_string(), UTF_16LE));
        let unmarked: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(decode(&unmarked), (text.to_string(), UTF_16BE));
        // Windows-1252: an en dash is 0x96, and é 0xe9.
        let legacy = b"Caf\xe9 \x96 4556 7375 8689 9855";
        assert_eq!(
            decode(legacy),
            ("Café – 4556 7375 8689 9855".to_string(), WINDOWS_1252)
        );
    }

    #[test]
    fn binary_files_are_not_read_as_text() {
        assert!(plain(b"%PDF-1.7\n\x00\x01\x02 stream").is_none());
        assert!(plain(b"MZ\x90\x00\x03").is_none());
        let control: Vec<u8> = (0..200u8)
            .map(|i| if i % 10 == 0 { 1 } else { b'a' })
            .collect();
        assert!(plain(&control).is_none());
        assert_eq!(
            plain(b"name,card\nAda,4556737586899855\n")
                .unwrap()
                .lines()
                .count(),
            2
        );
    }

    #[test]
    fn a_hit_is_located_by_the_part_it_starts_in() {
        let mut row = Piece::new("Sheet1 row 4", "");
        row.push_part("Sheet1!A4", "Card");
        row.push_part("Sheet1!B4", "4556 7375 8689 9855");
        assert_eq!(row.text, "Card\t4556 7375 8689 9855");
        assert_eq!(row.location_at(0), "Sheet1!A4");
        assert_eq!(row.location_at(5), "Sheet1!B4");
        assert_eq!(Piece::new("page 2", "text").location_at(3), "page 2");
    }

    #[test]
    fn rows_are_read_under_their_tables_header() {
        let mut header = Header::default();
        let mut first = Piece::new("S row 1", "");
        first.push_part("S!A1", "SSN");
        let first = header.apply(first);
        assert_eq!((first.text.as_str(), first.lead), ("SSN", 0));
        let mut second = Piece::new("S row 2", "");
        second.push_part("S!A2", "536-22-8726");
        let second = header.apply(second);
        assert_eq!(second.text, "SSN\n536-22-8726");
        assert_eq!(second.lead, 4);
        assert_eq!(second.location_at(4), "S!A2");
    }

    #[test]
    fn lines_are_numbered_from_one_and_blank_ones_left_out() {
        assert_eq!(
            lines("first\r\n\n  \nfourth"),
            vec![
                Piece::new("line 1", "first"),
                Piece::new("line 4", "fourth")
            ]
        );
    }
}
