//! RTF: the text a reader sees, paragraph by paragraph (`paragraph 4`), with headers,
//! footers, footnotes and field results, comments (annotations) apart (`comment 1`); the document information
//! group as properties (`document properties (author)`). Font, colour and style tables,
//! pictures, objects, field instructions and other destinations that hold no visible text
//! are skipped. Characters are decoded by the document's code page (`\ansicpg`), `\'hh`
//! escapes and `\uN` with its `\ucN` fallback.

use std::path::Path;

use encoding_rs::{Encoding, WINDOWS_1252};

use super::{Collector, Stop};
use crate::text::Piece;

/// Deepest group nesting read; deeper is not a document Word would write.
const MAX_DEPTH: usize = 10_000;

/// Destinations whose content is not visible text.
const SKIPPED: &[&[u8]] = &[
    b"fonttbl",
    b"colortbl",
    b"stylesheet",
    b"listtable",
    b"listoverridetable",
    b"revtbl",
    b"rsidtbl",
    b"pict",
    b"object",
    b"objdata",
    b"datastore",
    b"themedata",
    b"colorschememapping",
    b"latentstyles",
    b"fldinst",
    b"xmlnstbl",
    b"generator",
    b"filetbl",
    b"pgdsctbl",
    b"bkmkstart",
    b"bkmkend",
    b"atnid",
    b"atnauthor",
    b"atndate",
    b"shppict",
    b"nonshppict",
    b"private",
];

/// Destinations inside `\*` groups that hold visible text: comments.
const IGNORABLE_TEXT: &[&[u8]] = &[b"annotation"];

/// Information group entries read as document properties.
const PROPERTIES: &[&[u8]] = &[
    b"title",
    b"subject",
    b"author",
    b"manager",
    b"company",
    b"operator",
    b"category",
    b"keywords",
    b"comment",
    b"doccomm",
    b"hlinkbase",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Text,
    Skip,
    /// An information entry, by its index in `PROPERTIES`.
    Property(usize),
    /// A comment (`\*\annotation`), read apart from the paragraph it is anchored in.
    Comment,
}

#[derive(Clone, Copy)]
struct Group {
    mode: Mode,
    /// Fallback characters after `\uN` (`\ucN`).
    fallback: usize,
    /// Whether the group's first control word is still to come (to tell destinations).
    first: bool,
    /// Whether the group started with `\*`.
    ignorable: bool,
}

struct Reader<'c> {
    into: &'c mut Collector,
    encoding: &'static Encoding,
    paragraph: String,
    paragraphs: usize,
    property: Option<(usize, String)>,
    comment: String,
    comments: usize,
    /// Bytes of `\'hh` escapes waiting to be decoded together (double-byte code pages).
    pending: Vec<u8>,
    /// Fallback characters still to skip after a `\uN`.
    skip: usize,
}

impl Reader<'_> {
    fn flush_bytes(&mut self, mode: Mode) {
        if self.pending.is_empty() {
            return;
        }
        let (text, _, _) = self.encoding.decode(&self.pending);
        let text = text.into_owned();
        self.pending.clear();
        self.push_str(mode, &text);
    }

    fn push_str(&mut self, mode: Mode, text: &str) {
        match mode {
            Mode::Text => self.paragraph.push_str(text),
            Mode::Property(_) => {
                if let Some((_, value)) = self.property.as_mut() {
                    value.push_str(text);
                }
            }
            Mode::Comment => self.comment.push_str(text),
            Mode::Skip => {}
        }
    }

    fn end_comment(&mut self) -> Result<(), Stop> {
        self.comments += 1;
        let text = std::mem::take(&mut self.comment);
        self.into
            .push(Piece::new(format!("comment {}", self.comments), text))
    }

    fn end_paragraph(&mut self) -> Result<(), Stop> {
        self.paragraphs += 1;
        let text = std::mem::take(&mut self.paragraph);
        self.into
            .push(Piece::new(format!("paragraph {}", self.paragraphs), text))
    }

    fn end_property(&mut self) -> Result<(), Stop> {
        if let Some((index, value)) = self.property.take() {
            let name = String::from_utf8_lossy(PROPERTIES[index]);
            self.into
                .push(Piece::new(format!("document properties ({name})"), value))?;
        }
        Ok(())
    }
}

pub(crate) fn extract(path: &Path, into: &mut Collector) -> Result<(), Stop> {
    let input = std::fs::read(path)?;
    let mut reader = Reader {
        into,
        encoding: WINDOWS_1252,
        paragraph: String::new(),
        paragraphs: 0,
        property: None,
        comment: String::new(),
        comments: 0,
        pending: Vec::new(),
        skip: 0,
    };
    let mut groups: Vec<Group> = Vec::new();
    let mut group = Group {
        mode: Mode::Text,
        fallback: 1,
        first: false,
        ignorable: false,
    };
    let mut at = 0usize;
    let mut steps = 0usize;
    while at < input.len() {
        steps += 1;
        if steps.is_multiple_of(65_536) && std::time::Instant::now() > reader.into.deadline() {
            return Err(Stop::TimedOut);
        }
        let byte = input[at];
        match byte {
            b'{' => {
                reader.flush_bytes(group.mode);
                if groups.len() >= MAX_DEPTH {
                    return Err(Stop::Invalid(format!(
                        "groups nest deeper than {MAX_DEPTH} levels"
                    )));
                }
                groups.push(group);
                group.first = true;
                group.ignorable = false;
                at += 1;
            }
            b'}' => {
                reader.flush_bytes(group.mode);
                if let Mode::Property(_) = group.mode {
                    reader.end_property()?;
                }
                let Some(outer) = groups.pop() else {
                    break;
                };
                if group.mode == Mode::Comment && outer.mode != Mode::Comment {
                    reader.end_comment()?;
                }
                group = outer;
                at += 1;
            }
            b'\\' => {
                at += 1;
                let Some(&next) = input.get(at) else {
                    break;
                };
                if next.is_ascii_alphabetic() {
                    let (word, parameter, end) = control_word(&input, at);
                    at = end;
                    reader.flush_bytes(group.mode);
                    control(&mut reader, &mut group, word, parameter, &input, &mut at)?;
                    continue;
                }
                at += 1;
                match next {
                    b'\'' => {
                        let hex = input.get(at..at + 2).unwrap_or_default();
                        at += hex.len();
                        if reader.skip > 0 {
                            reader.skip -= 1;
                            continue;
                        }
                        if let Some(value) = std::str::from_utf8(hex)
                            .ok()
                            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                        {
                            reader.pending.push(value);
                        }
                        continue;
                    }
                    b'*' => {
                        group.ignorable = true;
                        continue;
                    }
                    _ => {}
                }
                reader.flush_bytes(group.mode);
                group.first = false;
                if reader.skip > 0 {
                    reader.skip -= 1;
                    continue;
                }
                match next {
                    b'\\' | b'{' | b'}' => reader.push_str(group.mode, &(next as char).to_string()),
                    b'~' => reader.push_str(group.mode, " "),
                    b'_' => reader.push_str(group.mode, "-"),
                    b'\n' | b'\r' if group.mode == Mode::Text => reader.end_paragraph()?,
                    _ => {}
                }
            }
            b'\r' | b'\n' => at += 1,
            _ => {
                reader.flush_bytes(group.mode);
                group.first = false;
                let end = input[at..]
                    .iter()
                    .position(|b| matches!(b, b'{' | b'}' | b'\\' | b'\r' | b'\n'))
                    .map_or(input.len(), |length| at + length);
                let mut run = &input[at..end];
                at = end;
                while reader.skip > 0 && !run.is_empty() {
                    reader.skip -= 1;
                    run = &run[1..];
                }
                let (text, _, _) = reader.encoding.decode(run);
                let text = text.into_owned();
                reader.push_str(group.mode, &text);
            }
        }
    }
    reader.flush_bytes(group.mode);
    if !reader.paragraph.trim().is_empty() {
        reader.end_paragraph()?;
    }
    Ok(())
}

/// A control word at `at` (its first letter): the word, its numeric parameter, and where
/// the next token starts (after one space that delimits the word).
fn control_word(input: &[u8], at: usize) -> (&[u8], Option<i32>, usize) {
    let letters = input[at..]
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    let word = &input[at..at + letters];
    let mut end = at + letters;
    let sign = usize::from(input.get(end) == Some(&b'-'));
    let digits = input[end + sign..]
        .iter()
        .take(10)
        .take_while(|b| b.is_ascii_digit())
        .count();
    let parameter = if digits > 0 {
        let text = std::str::from_utf8(&input[end..end + sign + digits]).unwrap_or("0");
        end += sign + digits;
        text.parse::<i64>()
            .ok()
            .map(|n| n.clamp(i32::MIN.into(), i32::MAX.into()) as i32)
    } else {
        None
    };
    if input.get(end) == Some(&b' ') {
        end += 1;
    }
    (word, parameter, end)
}

fn control(
    reader: &mut Reader<'_>,
    group: &mut Group,
    word: &[u8],
    parameter: Option<i32>,
    input: &[u8],
    at: &mut usize,
) -> Result<(), Stop> {
    let first = std::mem::replace(&mut group.first, false);
    if first && group.mode != Mode::Skip {
        if SKIPPED.contains(&word) || (group.ignorable && !IGNORABLE_TEXT.contains(&word)) {
            group.mode = Mode::Skip;
            return Ok(());
        }
        if IGNORABLE_TEXT.contains(&word) {
            group.mode = Mode::Comment;
            return Ok(());
        }
        if group.mode == Mode::Text
            && let Some(index) = PROPERTIES.iter().position(|name| *name == word)
        {
            reader.end_property()?;
            reader.property = Some((index, String::new()));
            group.mode = Mode::Property(index);
            return Ok(());
        }
    }
    match word {
        b"bin" => {
            let length = parameter.unwrap_or(0).max(0) as usize;
            *at = (*at + length).min(input.len());
        }
        b"ansicpg" => {
            if let Some(encoding) = parameter
                .and_then(codepage_label)
                .and_then(|label| Encoding::for_label(label.as_bytes()))
            {
                reader.encoding = encoding;
            }
        }
        b"uc" => group.fallback = parameter.unwrap_or(1).max(0) as usize,
        b"u" => {
            let code = parameter.unwrap_or(0);
            let code = if code < 0 { code + 65_536 } else { code } as u32;
            if let Some(char) = char::from_u32(code) {
                reader.push_str(group.mode, &char.to_string());
            }
            reader.skip = group.fallback;
        }
        b"par" | b"sect" | b"page" | b"row" if group.mode == Mode::Text => {
            reader.end_paragraph()?
        }
        b"par" if group.mode == Mode::Comment => reader.push_str(group.mode, " "),
        b"line" | b"emspace" | b"enspace" | b"qmspace" => reader.push_str(group.mode, " "),
        b"tab" | b"cell" => reader.push_str(group.mode, "\t"),
        b"emdash" => reader.push_str(group.mode, "\u{2014}"),
        b"endash" => reader.push_str(group.mode, "\u{2013}"),
        b"lquote" => reader.push_str(group.mode, "\u{2018}"),
        b"rquote" => reader.push_str(group.mode, "\u{2019}"),
        b"ldblquote" => reader.push_str(group.mode, "\u{201c}"),
        b"rdblquote" => reader.push_str(group.mode, "\u{201d}"),
        b"bullet" => reader.push_str(group.mode, "\u{2022}"),
        _ => {}
    }
    Ok(())
}

/// The encoding label of a Windows code page number.
fn codepage_label(page: i32) -> Option<String> {
    match page {
        874 => Some("windows-874".into()),
        932 => Some("shift_jis".into()),
        936 => Some("gbk".into()),
        949 => Some("euc-kr".into()),
        950 => Some("big5".into()),
        1250..=1258 => Some(format!("windows-{page}")),
        10000 => Some("macintosh".into()),
        _ => None,
    }
}
