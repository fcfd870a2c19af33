//! PDF: the text each page shows, line by line (`page 3`), with lopdf decoding the fonts'
//! encodings and
//! `ToUnicode` maps, plus what a reader can reveal beside it: annotation comments
//! (`page 3 comment`), form field values (`form field Name`) and the document information
//! (`document properties (Author)`). A document whose pages show no text at all (scanned
//! pages) is said to be unread: there is no OCR.

use std::collections::HashSet;
use std::path::Path;

use lopdf::{Dictionary, Document, LoadOptions, Object, decode_text_string};

use super::{Collector, Stop};
use crate::text::{Piece, first_chars, last_chars};

/// Where the header must start (readers accept some bytes before it).
const HEADER_WINDOW: usize = 1024;
/// Largest stream decompressed while loading, and largest page content read.
pub(crate) const MAX_DECOMPRESSED: usize = 256 << 20;
/// Most form fields followed (through `/Kids`).
const MAX_FIELDS: usize = 100_000;

pub(crate) fn is_pdf(head: &[u8]) -> bool {
    find(&head[..head.len().min(HEADER_WINDOW)], b"%PDF-").is_some()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

pub(crate) fn extract(path: &Path, into: &mut Collector) -> Result<(), Stop> {
    let doc = load(path)?;
    let pages = doc.get_pages();
    let mut shown = false;
    let mut encodings = Encodings::default();
    for (&number, &page) in &pages {
        if std::time::Instant::now() > into.deadline() {
            return Err(Stop::TimedOut);
        }
        let mut page_text = PageText::new(&doc);
        match doc.get_page_content_with_limit(page, MAX_DECOMPRESSED) {
            Ok(content) => {
                let fonts = doc.get_page_fonts(page).unwrap_or_default();
                let resources = page_resources(&doc, page);
                page_text.walk(&content, &fonts, resources, &mut encodings, 0);
            }
            Err(error) => page_text.problem(format!("its content could not be read ({error})")),
        }
        if let Some(problem) = &page_text.problem {
            into.note(format!("page {number}: {problem}"));
        }
        shown |= !page_text.text.trim().is_empty();
        for line in page_text.text.lines() {
            into.push(Piece::new(format!("page {number}"), line))?;
        }
        for piece in page_text.across_wraps(&format!("page {number}")) {
            into.push(piece)?;
        }
        for annotation in doc.get_page_annotations(page).unwrap_or_default() {
            if let Some(contents) = string(&doc, annotation, b"Contents") {
                into.push(Piece::new(format!("page {number} comment"), contents))?;
            }
        }
    }
    if !pages.is_empty() && !shown {
        into.unread(format!(
            "its {} pages show no text (pictures of text, such as scanned pages, are not read: \
             there is no OCR)",
            pages.len()
        ));
    }
    fields(&doc, into)?;
    if let Some(info) = doc
        .trailer
        .get(b"Info")
        .ok()
        .and_then(|info| doc.dereference(info).ok())
        .and_then(|(_, info)| info.as_dict().ok())
    {
        for (key, _) in info.iter() {
            if let Some(value) = string(&doc, info, key) {
                let name = String::from_utf8_lossy(key);
                into.push(Piece::new(format!("document properties ({name})"), value))?;
            }
        }
    }
    Ok(())
}

/// The PDF at `path`, with its streams bounded; an error for one that cannot be read, or that
/// opens only with a password.
pub(crate) fn load(path: &Path) -> Result<Document, Stop> {
    let bytes = std::fs::read(path)?;
    let start = find(&bytes[..bytes.len().min(HEADER_WINDOW)], b"%PDF-")
        .ok_or_else(|| Stop::Invalid("no %PDF- header".into()))?;
    let options = LoadOptions {
        max_decompressed_size: Some(MAX_DECOMPRESSED),
        ..LoadOptions::default()
    };
    let doc = match Document::load_mem_with_options(&bytes[start..], options) {
        Ok(doc) => doc,
        Err(_) if find(&bytes, b"/Encrypt").is_some() => {
            return Err(Stop::Invalid(
                "the PDF is encrypted and opens only with a password".into(),
            ));
        }
        Err(error) => return Err(Stop::Invalid(format!("not a readable PDF: {error}"))),
    };
    if doc.is_encrypted() {
        return Err(Stop::Invalid(
            "the PDF is encrypted and opens only with a password".into(),
        ));
    }
    Ok(doc)
}

/// Characters of each line read across a wrap.
const WRAP_CONTEXT: usize = 60;

/// Deepest nesting of form XObjects followed.
const MAX_FORM_DEPTH: usize = 8;

/// The page's own resource dictionary (direct or referenced).
pub(crate) fn page_resources(doc: &Document, page: lopdf::ObjectId) -> Option<&Dictionary> {
    let (direct, referenced) = doc.get_page_resources(page).ok()?;
    direct.or_else(|| {
        referenced
            .first()
            .and_then(|id| doc.get_dictionary(*id).ok())
    })
}

/// The fonts' encodings, read once per document (a `ToUnicode` map is parsed once however
/// often its font is selected).
#[derive(Default)]
pub(crate) struct Encodings<'d> {
    pub list: Vec<lopdf::Encoding<'d>>,
    /// By the font dictionary's address: its index in `list`, or why it could not be read.
    read: std::collections::HashMap<usize, Result<usize, String>>,
}

impl<'d> Encodings<'d> {
    pub fn of(&mut self, doc: &'d Document, font: &'d Dictionary) -> Result<usize, String> {
        let key = std::ptr::from_ref(font) as usize;
        if let Some(known) = self.read.get(&key) {
            return known.clone();
        }
        let read = match font.get_font_encoding_with_limit(doc, MAX_DECOMPRESSED) {
            Ok(encoding) => {
                self.list.push(encoding);
                Ok(self.list.len() - 1)
            }
            Err(error) => Err(format!("a font could not be read ({error})")),
        };
        self.read.insert(key, read.clone());
        read
    }
}

/// The text a page's content shows, in content order: a new line where the text moves to
/// another line, a space between pieces of one line unless one of them brings its own, and
/// the text of form XObjects where they are drawn.
struct PageText<'d> {
    doc: &'d Document,
    text: String,
    /// The text line's vertical position (text space), and that of the last text shown.
    line: f32,
    leading: f32,
    shown_at: Option<f32>,
    /// Where a line that ends in a number meets a line that starts with one (byte offsets of
    /// the line break).
    wraps: Vec<usize>,
    problem: Option<String>,
}

impl<'d> PageText<'d> {
    fn new(doc: &'d Document) -> Self {
        Self {
            doc,
            text: String::new(),
            line: 0.0,
            leading: 0.0,
            shown_at: None,
            wraps: Vec::new(),
            problem: None,
        }
    }

    /// For each wrap, the end of the line before it and the start of the line after it,
    /// joined as one line would have been: a piece that counts only hits across the join.
    fn across_wraps(&self, location: &str) -> Vec<Piece> {
        let mut pieces = Vec::new();
        for &at in &self.wraps {
            let before = &self.text[..at];
            let before = &before[before.rfind('\n').map_or(0, |newline| newline + 1)..];
            let after = self.text.get(at + 1..).unwrap_or_default();
            let after = &after[..after.find('\n').unwrap_or(after.len())];
            let before = last_chars(before.trim_end_matches([' ', '\t']), WRAP_CONTEXT);
            let after = first_chars(after.trim_start_matches([' ', '\t']), WRAP_CONTEXT);
            let joint = if before.ends_with('-') { "" } else { " " };
            let mut piece = Piece::new(location, format!("{before}{joint}{after}"));
            piece.across = Some(before.len());
            pieces.push(piece);
        }
        pieces
    }

    fn problem(&mut self, problem: String) {
        self.problem.get_or_insert(problem);
    }

    fn walk(
        &mut self,
        content: &[u8],
        fonts: &Fonts<'d>,
        resources: Option<&'d Dictionary>,
        encodings: &mut Encodings<'d>,
        depth: usize,
    ) {
        let content = match lopdf::content::Content::decode(content) {
            Ok(content) => content,
            Err(error) => return self.problem(format!("its content could not be read ({error})")),
        };
        let mut font: Option<usize> = None;
        for operation in &content.operations {
            let operands = &operation.operands;
            let number = |at: usize| number(operands, at);
            match operation.operator.as_str() {
                "BT" => self.line = 0.0,
                "Tf" => {
                    font = operands
                        .first()
                        .and_then(|name| name.as_name().ok())
                        .and_then(|name| fonts.get(name))
                        .and_then(|dictionary| match encodings.of(self.doc, dictionary) {
                            Ok(at) => Some(at),
                            Err(problem) => {
                                self.problem(problem);
                                None
                            }
                        });
                }
                "Td" => self.line += number(1),
                "TD" => {
                    self.line += number(1);
                    self.leading = -number(1);
                }
                "Tm" => self.line = number(5),
                "TL" => self.leading = number(0),
                "T*" => self.line -= self.leading,
                "Tj" | "TJ" | "'" | "\"" => {
                    if operation.operator == "'" || operation.operator == "\"" {
                        self.line -= self.leading;
                    }
                    let shown = match operation.operator.as_str() {
                        "\"" => operands.get(2..).unwrap_or_default(),
                        _ => operands.as_slice(),
                    };
                    if let Some(at) = font {
                        self.show(&encodings.list[at], shown);
                    }
                }
                "Do" if depth < MAX_FORM_DEPTH => {
                    if let Some(name) = operands.first().and_then(|name| name.as_name().ok()) {
                        self.form(name, resources, fonts, encodings, depth);
                    }
                }
                _ => {}
            }
        }
    }

    /// Shows strings (and a `TJ` array's adjustments: a wide one is a space).
    fn show(&mut self, encoding: &lopdf::Encoding<'_>, operands: &[Object]) {
        let mut shown = String::new();
        for operand in operands {
            match operand {
                Object::String(bytes, _) => match Document::decode_text(encoding, bytes) {
                    Ok(text) => shown.push_str(&text),
                    Err(error) => self.problem(format!("some text could not be decoded ({error})")),
                },
                Object::Array(items) => {
                    for item in items {
                        match item {
                            Object::String(bytes, _) => {
                                match Document::decode_text(encoding, bytes) {
                                    Ok(text) => shown.push_str(&text),
                                    Err(error) => self.problem(format!(
                                        "some text could not be decoded ({error})"
                                    )),
                                }
                            }
                            other => {
                                if other.as_float().is_ok_and(|shift| shift < -100.0)
                                    && !shown.ends_with(' ')
                                {
                                    shown.push(' ');
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if shown.is_empty() {
            return;
        }
        let new_line = self.shown_at.is_some_and(|at| (at - self.line).abs() > 0.5);
        if new_line {
            // A number that a line may have wrapped (`... 7123` then `685`, `536-` then
            // `22-8726`): the two lines are also read across the break.
            let line = self.text.trim_end_matches([' ', '\t']);
            let number_ends = line.ends_with(|c: char| c.is_ascii_digit())
                || line
                    .strip_suffix('-')
                    .is_some_and(|text| text.ends_with(|c: char| c.is_ascii_digit()));
            if number_ends && shown.starts_with(|c: char| c.is_ascii_digit()) {
                self.wraps.push(self.text.len());
            }
            if !self.text.ends_with('\n') {
                self.text.push('\n');
            }
        } else if self.shown_at.is_some()
            && !self.text.ends_with(char::is_whitespace)
            && !shown.starts_with(char::is_whitespace)
        {
            self.text.push(' ');
        }
        self.shown_at = Some(self.line);
        self.text.push_str(&shown);
    }

    /// The text of a form XObject drawn with `Do`, under its own resources when it has them.
    fn form(
        &mut self,
        name: &[u8],
        resources: Option<&'d Dictionary>,
        fonts: &Fonts<'d>,
        encodings: &mut Encodings<'d>,
        depth: usize,
    ) {
        let form = match Form::drawn(self.doc, resources, name) {
            None => return,
            Some(Err(problem)) => return self.problem(problem),
            Some(Ok(form)) => form,
        };
        let fonts = if form.resources.is_some() {
            &form.fonts
        } else {
            fonts
        };
        let saved = (self.line, self.leading);
        self.walk(
            &form.content,
            fonts,
            form.resources.or(resources),
            encodings,
            depth + 1,
        );
        (self.line, self.leading) = saved;
    }
}

/// An operation's numeric operand at `at` (0 when it has none there).
pub(crate) fn number(operands: &[Object], at: usize) -> f32 {
    operands
        .get(at)
        .and_then(|o| o.as_float().ok())
        .unwrap_or(0.0)
}

/// Fonts by resource name.
pub(crate) type Fonts<'d> = std::collections::BTreeMap<Vec<u8>, &'d Dictionary>;

/// A form XObject a content draws (`Do`): its content, and its own resources and fonts when it
/// has them.
pub(crate) struct Form<'d> {
    /// The form's object, when it is referenced (as forms are).
    pub id: Option<lopdf::ObjectId>,
    pub stream: &'d lopdf::Stream,
    pub content: Vec<u8>,
    pub resources: Option<&'d Dictionary>,
    pub fonts: Fonts<'d>,
}

impl<'d> Form<'d> {
    /// The form named `name` in `resources`; `None` when it names no form, an error when its
    /// content cannot be read.
    pub fn drawn(
        doc: &'d Document,
        resources: Option<&'d Dictionary>,
        name: &[u8],
    ) -> Option<Result<Form<'d>, String>> {
        let xobject = resources
            .and_then(|resources| resources.get(b"XObject").ok())
            .and_then(|xobjects| doc.dereference(xobjects).ok())
            .and_then(|(_, xobjects)| xobjects.as_dict().ok())
            .and_then(|xobjects| xobjects.get(name).ok())?;
        let id = xobject.as_reference().ok();
        let stream = doc.dereference(xobject).ok()?.1.as_stream().ok()?;
        if stream.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Form") {
            return None;
        }
        let content = match stream.decompressed_content_with_limit(MAX_DECOMPRESSED) {
            Ok(content) => content,
            // A stream stored without a filter is its own content.
            Err(_) if stream.dict.get(b"Filter").is_err() => stream.content.clone(),
            Err(error) => return Some(Err(format!("a form could not be read ({error})"))),
        };
        let resources = stream
            .dict
            .get(b"Resources")
            .ok()
            .and_then(|own| doc.dereference(own).ok())
            .and_then(|(_, own)| own.as_dict().ok());
        let mut fonts = Fonts::new();
        if let Some(font_dict) = resources
            .and_then(|own| own.get(b"Font").ok())
            .and_then(|fonts| doc.dereference(fonts).ok())
            .and_then(|(_, fonts)| fonts.as_dict().ok())
        {
            for (font_name, font) in font_dict.iter() {
                if let Ok((_, Object::Dictionary(font))) = doc.dereference(font) {
                    fonts.insert(font_name.clone(), font);
                }
            }
        }
        Some(Ok(Form {
            id,
            stream,
            content,
            resources,
            fonts,
        }))
    }
}

/// The values of the interactive form's fields, each located by its full name.
fn fields(doc: &Document, into: &mut Collector) -> Result<(), Stop> {
    let Some(form) = doc
        .catalog()
        .ok()
        .and_then(|catalog| catalog.get(b"AcroForm").ok())
        .and_then(|form| doc.dereference(form).ok())
        .and_then(|(_, form)| form.as_dict().ok())
    else {
        return Ok(());
    };
    let Ok(top) = form.get(b"Fields").and_then(Object::as_array) else {
        return Ok(());
    };
    let mut pending: Vec<(String, &Object)> = top
        .iter()
        .rev()
        .map(|field| (String::new(), field))
        .collect();
    let mut seen = HashSet::new();
    while let Some((parent, field)) = pending.pop() {
        if seen.len() >= MAX_FIELDS {
            into.note(format!(
                "form fields past the first {MAX_FIELDS} were not read"
            ));
            break;
        }
        if let Object::Reference(id) = field
            && !seen.insert(*id)
        {
            continue;
        }
        let Ok((_, Object::Dictionary(field))) = doc.dereference(field) else {
            continue;
        };
        let name = match string(doc, field, b"T") {
            Some(own) if parent.is_empty() => own,
            Some(own) => format!("{parent}.{own}"),
            None => parent.clone(),
        };
        if let Some(value) = string(doc, field, b"V") {
            into.push(Piece::new(format!("form field {name}"), value))?;
        }
        if let Ok(kids) = field.get(b"Kids").and_then(Object::as_array) {
            pending.extend(kids.iter().rev().map(|kid| (name.clone(), kid)));
        }
    }
    Ok(())
}

/// A text string entry of a dictionary, decoded (PDFDocEncoding, UTF-16BE or UTF-8).
fn string(doc: &Document, dictionary: &Dictionary, key: &[u8]) -> Option<String> {
    let value = dictionary.get(key).ok()?;
    let (_, value) = doc.dereference(value).ok()?;
    match value {
        Object::String(..) => decode_text_string(value).ok(),
        _ => None,
    }
}
