//! A file's text for the recognizers, out of each format DLP reads, piece by piece with where
//! each piece is: plain text (`text.rs`), Office Open XML (`ooxml.rs`), OpenDocument
//! (`odf.rs`), PDF (`pdf.rs`), RTF (`rtf.rs`), e-mail (`mail.rs`) and Excel 97-2003
//! (`xls.rs`). Every extractor writes into one [`Collector`], which holds the rule's text
//! budget and the engine's deadline; what was not examined, and why, comes back as notes.

mod mail;
mod odf;
mod ooxml;
pub(crate) mod pdf;
mod rtf;
mod xls;
pub(crate) mod xml;

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;
use std::time::Instant;

use crate::text::{self, Piece};

/// Why extraction stopped before the end of the file.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The rule's text budget is spent; what was read stands.
    Full,
    /// The engine's time ran out; what was read stands.
    TimedOut,
    /// The file (or a part of it) cannot be read as the format it claims to be.
    Invalid(String),
}

impl From<std::io::Error> for Stop {
    fn from(error: std::io::Error) -> Self {
        Stop::Invalid(format!("read error: {error}"))
    }
}

/// The formats DLP reads, told apart by their first bytes (and a zip by its parts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Pdf,
    Word,
    Excel,
    PowerPoint,
    OpenDocument,
    Rtf,
    Mail,
    Xls,
}

impl Format {
    /// What the file at `path` is, among the formats read; `None` for any other file.
    pub fn detect(path: &Path) -> std::io::Result<Option<Format>> {
        let mut file = File::open(path)?;
        let mut head = Vec::with_capacity(HEAD);
        (&mut file).take(HEAD as u64).read_to_end(&mut head)?;
        // Containers first, by their signatures at the start: a zip or compound file whose
        // first member is a PDF has `%PDF-` near its start too.
        if head.starts_with(b"PK\x03\x04") {
            file.rewind()?;
            return Ok(zip_format(file));
        }
        if head.starts_with(&xls::MAGIC) {
            return Ok(xls::is_workbook(path).then_some(Format::Xls));
        }
        if head.starts_with(b"{\\rtf") {
            return Ok(Some(Format::Rtf));
        }
        if pdf::is_pdf(&head) {
            return Ok(Some(Format::Pdf));
        }
        if text::plain(whole_characters(&head)).is_none() {
            return Ok(None);
        }
        if mail::is_message(&head) {
            return Ok(Some(Format::Mail));
        }
        Ok(Some(Format::Text))
    }

    /// How the report names the format when it says what was read.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Pdf => "PDF",
            Format::Word => "Word document",
            Format::Excel => "Excel workbook",
            Format::PowerPoint => "PowerPoint presentation",
            Format::OpenDocument => "OpenDocument file",
            Format::Rtf => "RTF document",
            Format::Mail => "e-mail message",
            Format::Xls => "Excel 97-2003 workbook",
        }
    }
}

/// Bytes read to tell the format.
const HEAD: usize = 64 * 1024;

/// The head without a UTF-8 character cut at its end, so that it still reads as UTF-8.
fn whole_characters(head: &[u8]) -> &[u8] {
    match std::str::from_utf8(head) {
        Err(error) if error.error_len().is_none() => &head[..error.valid_up_to()],
        _ => head,
    }
}

fn zip_format(file: File) -> Option<Format> {
    let mut zip = zip::ZipArchive::new(file).ok()?;
    if let Some(kind) = ooxml::kind(&mut zip) {
        return Some(kind);
    }
    odf::is_opendocument(&mut zip).then_some(Format::OpenDocument)
}

/// Collects the pieces of a file's text under the rule's budget and the engine's deadline.
pub(crate) struct Collector {
    pieces: Vec<Piece>,
    /// Bytes of text still allowed.
    left: u64,
    max: u64,
    deadline: Instant,
    /// What was not examined, and why, in the order found.
    notes: Vec<String>,
    /// Set when the file holds no text DLP can read (scanned pages): why.
    unread: Option<String>,
    /// Set when a part of the file could not be read as its format: the first reason.
    damaged: Option<String>,
}

impl Collector {
    pub fn new(max_text_bytes: u64, deadline: Instant) -> Self {
        Self {
            pieces: Vec::new(),
            left: max_text_bytes,
            max: max_text_bytes,
            deadline,
            notes: Vec::new(),
            unread: None,
            damaged: None,
        }
    }

    /// Adds a piece; `Stop::Full` once the budget is spent (the piece is cut to what is
    /// left), `Stop::TimedOut` past the deadline.
    pub fn push(&mut self, mut piece: Piece) -> Result<(), Stop> {
        if piece.text.trim().is_empty() {
            return Ok(());
        }
        if Instant::now() > self.deadline {
            return Err(Stop::TimedOut);
        }
        let length = piece.text.len() as u64;
        if length <= self.left {
            self.left -= length;
            self.pieces.push(piece);
            return Ok(());
        }
        let mut cut = self.left as usize;
        while !piece.text.is_char_boundary(cut) {
            cut -= 1;
        }
        piece.text.truncate(cut);
        piece.marks.retain(|mark| mark.at < cut);
        self.left = 0;
        if !piece.text.is_empty() {
            self.pieces.push(piece);
        }
        Err(Stop::Full)
    }

    /// Says that something was not examined, and why.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Says that the file's content holds no text DLP can read, and why.
    pub fn unread(&mut self, why: impl Into<String>) {
        self.unread = Some(why.into());
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

/// A file's text, and what of it was not examined.
pub struct Extraction {
    pub pieces: Vec<Piece>,
    /// What was not examined and why; empty when the whole file was read.
    pub notes: Vec<String>,
    /// Set when the file, or a part of it, could not be read as its format: why. The pieces
    /// hold what could be read.
    pub failure: Option<String>,
    /// Set when the file was read but holds no text DLP can read (scanned pages): why.
    pub unread: Option<String>,
}

/// Reads the text of the file at `path` as `format`.
pub fn extract(path: &Path, format: Format, max_text_bytes: u64, deadline: Instant) -> Extraction {
    let mut into = Collector::new(max_text_bytes, deadline);
    let outcome = match format {
        Format::Text => plain(path, &mut into),
        Format::Pdf => pdf::extract(path, &mut into),
        Format::Word | Format::Excel | Format::PowerPoint => {
            ooxml::extract(path, format, &mut into)
        }
        Format::OpenDocument => odf::extract(path, &mut into),
        Format::Rtf => rtf::extract(path, &mut into),
        Format::Mail => mail::extract(path, &mut into),
        Format::Xls => xls::extract(path, &mut into),
    };
    match outcome {
        Ok(()) => {}
        Err(Stop::Full) => into.note(format!(
            "only the first {} bytes of text were examined (the rule's max_text_bytes)",
            into.max
        )),
        Err(Stop::TimedOut) => {
            let why = "the engine's time limit was reached before the end of the file";
            into.unread.get_or_insert_with(|| why.to_string());
        }
        Err(Stop::Invalid(reason)) => {
            into.damaged.get_or_insert(reason);
        }
    }
    Extraction {
        pieces: into.pieces,
        notes: into.notes,
        failure: into.damaged,
        unread: into.unread,
    }
}

/// A plain text file, line by line, up to the budget.
fn plain(path: &Path, into: &mut Collector) -> Result<(), Stop> {
    let mut bytes = Vec::new();
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    file.take(into.left).read_to_end(&mut bytes)?;
    let (content, _) = text::decode(&bytes);
    for piece in text::lines(&content) {
        into.push(piece)?;
    }
    if size > bytes.len() as u64 {
        return Err(Stop::Full);
    }
    Ok(())
}

/// Reads a zip entry fully, up to `limit` bytes (an error past it).
pub(crate) fn read_entry<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    limit: u64,
) -> Result<Option<Vec<u8>>, Stop> {
    let Some(position) = zip.index_for_name(name) else {
        return Ok(None);
    };
    let entry = zip
        .by_index(position)
        .map_err(|error| Stop::Invalid(format!("{name}: {error}")))?;
    let mut data = Vec::new();
    entry
        .take(limit + 1)
        .read_to_end(&mut data)
        .map_err(|error| Stop::Invalid(format!("{name}: {error}")))?;
    if data.len() as u64 > limit {
        return Err(Stop::Invalid(format!("{name} expands past {limit} bytes")));
    }
    Ok(Some(data))
}

/// The events of a zip part being streamed.
pub(crate) type PartEvents<'a> = xml::Events<BufReader<&'a mut dyn Read>>;

/// What reads a streamed part's events into the collector.
pub(crate) type ReadPart<'f> =
    dyn FnMut(&mut PartEvents<'_>, &mut Collector) -> Result<(), Stop> + 'f;

/// Streams the XML part `name` of a zip into `read` (nothing when there is no such part). A
/// malformed part marks the file damaged and the rest of the file is still read, unless
/// `required`.
pub(crate) fn read_part<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    required: bool,
    into: &mut Collector,
    read: &mut ReadPart<'_>,
) -> Result<(), Stop> {
    let Some(position) = zip.index_for_name(name) else {
        return Ok(());
    };
    let outcome = match zip.by_index(position) {
        Ok(mut entry) => {
            let reader: &mut dyn Read = &mut entry;
            let mut events = xml::Events::new(BufReader::new(reader), name, into.deadline());
            read(&mut events, into)
        }
        Err(error) => Err(Stop::Invalid(format!("{name}: {error}"))),
    };
    match outcome {
        Err(Stop::Invalid(reason)) if !required => {
            into.damaged.get_or_insert(reason);
            Ok(())
        }
        other => other,
    }
}
