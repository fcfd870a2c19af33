//! PDF: on each page that shows a value, the value's glyphs are taken out of the page's
//! content (a value in a marked-content property such as `/ActualText` is masked) (the rest of the line keeps its place: the glyphs' width is skipped instead) and a
//! black box is drawn where they were. Pages that show none are left as they are. Every text
//! string elsewhere in the document (annotations, form field values, bookmarks, document
//! information) is masked, an annotation or field that held a value loses its drawn
//! appearance, and XMP metadata that holds one is masked. With metadata removal, the document
//! information, every XMP metadata stream and applications' private data (`/PieceInfo`) are
//! removed. Objects no longer used (earlier revisions of what
//! changed) are not written.
//!
//! Text drawn by a form XObject is taken out of the form (on every page that draws it) and
//! covered on the page.

use std::collections::BTreeMap;
use std::path::Path;

use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Document, Object, ObjectId, StringFormat};

use super::{Failure, MASK, Targets};
use crate::extract::Stop;
use crate::extract::pdf::{Encodings, Fonts, Form, MAX_DECOMPRESSED, load, number, page_resources};

/// Writes the redacted PDF; whether its metadata was removed.
pub(super) fn redact(
    source: &Path,
    targets: &Targets,
    remove_metadata: bool,
    copy: &Path,
) -> Result<bool, Failure> {
    let mut doc = load(source).map_err(|stop| match stop {
        Stop::Invalid(why) => Failure(why),
        _ => Failure("the PDF could not be read".into()),
    })?;
    let mut pages: Vec<(ObjectId, Vec<u8>)> = Vec::new();
    let mut forms: BTreeMap<ObjectId, Vec<u8>> = BTreeMap::new();
    {
        let mut encodings = Encodings::default();
        for (number, page) in doc.get_pages() {
            let content = doc
                .get_page_content_with_limit(page, MAX_DECOMPRESSED)
                .map_err(|error| Failure(format!("page {number}: {error}")))?;
            let operations = Content::decode(&content)
                .map_err(|error| Failure(format!("page {number}: {error}")))?
                .operations;
            let fonts = doc.get_page_fonts(page).unwrap_or_default();
            let mut walk = Walk::new(&doc, &mut encodings, operations);
            walk.read(
                0,
                State::new(Matrix::IDENTITY),
                &fonts,
                page_resources(&doc, page),
                0,
            );
            if let Some(rewritten) = walk.redacted(targets)? {
                pages.push((page, rewritten.page));
                // A form drawn on several pages is rewritten the same way from each.
                for (id, content) in rewritten.forms {
                    forms.entry(id).or_insert(content);
                }
            }
        }
    }
    for (page, content) in pages {
        let stream = doc.add_object(lopdf::Stream::new(Dictionary::new(), content));
        if let Ok(page) = doc.get_dictionary_mut(page) {
            page.set("Contents", stream);
        }
    }
    for (id, content) in forms {
        if let Ok(Object::Stream(stream)) = doc.get_object_mut(id) {
            stream.dict.remove(b"Filter");
            stream.dict.remove(b"DecodeParms");
            stream.set_plain_content(content);
        }
    }
    mask_strings(&mut doc, targets);
    if remove_metadata {
        doc.trailer.remove(b"Info");
        // XMP metadata (of the document, a page, a picture...) and applications' private data.
        for object in doc.objects.values_mut() {
            let dictionary = match object {
                Object::Dictionary(dictionary) => dictionary,
                Object::Stream(stream) => &mut stream.dict,
                _ => continue,
            };
            dictionary.remove(b"Metadata");
            dictionary.remove(b"PieceInfo");
        }
    }
    doc.prune_objects();
    doc.compress();
    let mut file = std::io::BufWriter::new(std::fs::File::create(copy)?);
    doc.save_to(&mut file)
        .map_err(|error| Failure(format!("writing the PDF: {error}")))?;
    std::io::Write::flush(&mut file)?;
    Ok(remove_metadata)
}

/// A 2D affine matrix `[a b c d e f]`, as PDF writes it.
#[derive(Clone, Copy, Debug)]
struct Matrix([f32; 6]);

impl Matrix {
    const IDENTITY: Matrix = Matrix([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

    fn of(operands: &[Object]) -> Option<Matrix> {
        let mut m = [0.0; 6];
        for (at, value) in m.iter_mut().enumerate() {
            *value = operands.get(at)?.as_float().ok()?;
        }
        Some(Matrix(m))
    }

    /// This matrix, then `then`.
    fn then(self, then: Matrix) -> Matrix {
        let [a, b, c, d, e, f] = self.0;
        let [a2, b2, c2, d2, e2, f2] = then.0;
        Matrix([
            a * a2 + b * c2,
            a * b2 + b * d2,
            c * a2 + d * c2,
            c * b2 + d * d2,
            e * a2 + f * c2 + e2,
            e * b2 + f * d2 + f2,
        ])
    }

    fn translate(x: f32, y: f32) -> Matrix {
        Matrix([1.0, 0.0, 0.0, 1.0, x, y])
    }

    fn apply(self, x: f32, y: f32) -> (f32, f32) {
        let [a, b, c, d, e, f] = self.0;
        (a * x + c * y + e, b * x + d * y + f)
    }
}

/// Where a shown string is: the content it is in (the page's, or a form's it draws), its
/// operation, operand, and for a `TJ` array the item in it.
type StringAt = (usize, usize, usize, Option<usize>);

/// A glyph shown on the page: where its code is, the room it takes on its line, and the box it
/// is drawn in (page space: `[x0, y0, x1, y1]`).
struct Glyph {
    string: StringAt,
    code: std::ops::Range<usize>,
    /// Its advance in thousandths of the font size, as a `TJ` adjustment counts.
    advance: f32,
    area: [f32; 4],
}

/// The graphics and text state a content sets, as far as placing glyphs needs it.
#[derive(Clone)]
struct State {
    ctm: Matrix,
    font: Option<(usize, bool, Widths)>,
    size: f32,
    char_spacing: f32,
    word_spacing: f32,
    scale: f32,
    leading: f32,
    rise: f32,
    /// The text matrix and the text line matrix.
    matrix: Matrix,
    line: Matrix,
}

impl State {
    fn new(ctm: Matrix) -> Self {
        State {
            ctm,
            font: None,
            size: 0.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            scale: 1.0,
            leading: 0.0,
            rise: 0.0,
            matrix: Matrix::IDENTITY,
            line: Matrix::IDENTITY,
        }
    }

    /// Moves to the next line, offset by `(x, y)` from the start of this one.
    fn next_line(&mut self, x: f32, y: f32) {
        self.line = Matrix::translate(x, y).then(self.line);
        self.matrix = self.line;
    }
}

/// A font's glyph widths, in thousandths of the font size.
#[derive(Clone, Default)]
struct Widths {
    first: i64,
    widths: Vec<f32>,
    /// Type0 fonts: the `/W` ranges (first, last, width).
    ranges: Vec<(i64, i64, f32)>,
    default: f32,
    /// A standard font without widths: the Helvetica table (Courier: fixed).
    standard: Option<bool>,
}

impl Widths {
    fn of(doc: &Document, font: &Dictionary) -> Widths {
        let number =
            |object: &Object| -> Option<f32> { doc.dereference(object).ok()?.1.as_float().ok() };
        let array = |dictionary: &Dictionary, key: &[u8]| -> Option<Vec<Object>> {
            let (_, object) = doc.dereference(dictionary.get(key).ok()?).ok()?;
            object.as_array().ok().cloned()
        };
        let mut widths = Widths {
            default: 500.0,
            ..Widths::default()
        };
        if font.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Type0") {
            let descendant = array(font, b"DescendantFonts")
                .and_then(|fonts| fonts.first().cloned())
                .and_then(|first| doc.dereference(&first).ok().map(|(_, o)| o.clone()))
                .and_then(|object| object.as_dict().ok().cloned());
            let Some(descendant) = descendant else {
                widths.default = 1000.0;
                return widths;
            };
            widths.default = descendant
                .get(b"DW")
                .ok()
                .and_then(number)
                .unwrap_or(1000.0);
            let list = array(&descendant, b"W").unwrap_or_default();
            let mut at = 0;
            while at + 1 < list.len() {
                let first = number(&list[at]).unwrap_or(0.0) as i64;
                match doc.dereference(&list[at + 1]).map(|(_, o)| o) {
                    Ok(Object::Array(each)) => {
                        for (offset, width) in each.iter().enumerate() {
                            let width = number(width).unwrap_or(widths.default);
                            let code = first + offset as i64;
                            widths.ranges.push((code, code, width));
                        }
                        at += 2;
                    }
                    _ => {
                        let last = number(&list[at + 1]).unwrap_or(0.0) as i64;
                        let width = list.get(at + 2).and_then(number).unwrap_or(widths.default);
                        widths.ranges.push((first, last, width));
                        at += 3;
                    }
                }
            }
            return widths;
        }
        widths.first = font.get(b"FirstChar").ok().and_then(number).unwrap_or(0.0) as i64;
        widths.widths = array(font, b"Widths")
            .unwrap_or_default()
            .iter()
            .map(|width| number(width).unwrap_or(0.0))
            .collect();
        if let Some(missing) = font
            .get(b"FontDescriptor")
            .ok()
            .and_then(|d| doc.dereference(d).ok())
            .and_then(|(_, d)| d.as_dict().ok())
            .and_then(|d| d.get(b"MissingWidth").ok())
            .and_then(number)
        {
            widths.default = missing;
        }
        if widths.widths.is_empty() {
            let base = font
                .get(b"BaseFont")
                .and_then(Object::as_name)
                .unwrap_or(b"");
            widths.standard = Some(base.starts_with(b"Courier"));
        }
        widths
    }

    fn width(&self, code: i64) -> f32 {
        if let Some(courier) = self.standard {
            return if courier { 600.0 } else { helvetica(code) };
        }
        if !self.ranges.is_empty() {
            return self
                .ranges
                .iter()
                .find(|(first, last, _)| (*first..=*last).contains(&code))
                .map_or(self.default, |(_, _, width)| *width);
        }
        usize::try_from(code - self.first)
            .ok()
            .and_then(|at| self.widths.get(at))
            .copied()
            .unwrap_or(self.default)
    }
}

/// Helvetica's widths for the printable ASCII codes (its font metrics), else an average.
fn helvetica(code: i64) -> f32 {
    const WIDTHS: [u16; 95] = [
        278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556,
        556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722,
        722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722,
        667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556,
        556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500,
        500, 334, 260, 334, 584,
    ];
    usize::try_from(code - 32)
        .ok()
        .and_then(|at| WIDTHS.get(at))
        .map_or(556.0, |width| f32::from(*width))
}

/// A content stream of the page: the page's own (the first), or a form XObject's it draws.
struct Source {
    form: Option<ObjectId>,
    operations: Vec<Operation>,
}

/// A page's content read glyph by glyph, into the forms it draws: its text, and for each byte
/// of the text the glyph it comes from.
struct Walk<'d, 'e> {
    doc: &'d Document,
    encodings: &'e mut Encodings<'d>,
    sources: Vec<Source>,
    glyphs: Vec<Glyph>,
    text: String,
    owner: Vec<usize>,
}

/// Deepest nesting of form XObjects followed.
const MAX_FORM_DEPTH: usize = 8;

/// A page's new content, and the forms it draws that were rewritten.
struct Rewritten {
    page: Vec<u8>,
    forms: Vec<(ObjectId, Vec<u8>)>,
}

impl<'d, 'e> Walk<'d, 'e> {
    fn new(doc: &'d Document, encodings: &'e mut Encodings<'d>, page: Vec<Operation>) -> Self {
        Self {
            doc,
            encodings,
            sources: vec![Source {
                form: None,
                operations: page,
            }],
            glyphs: Vec::new(),
            text: String::new(),
            owner: Vec::new(),
        }
    }

    /// Reads the content `source` under `state`, with its fonts and resources.
    fn read(
        &mut self,
        source: usize,
        mut state: State,
        fonts: &Fonts<'d>,
        resources: Option<&'d Dictionary>,
        depth: usize,
    ) {
        let operations = std::mem::take(&mut self.sources[source].operations);
        let mut saved: Vec<State> = Vec::new();
        for (at, operation) in operations.iter().enumerate() {
            let operands = &operation.operands;
            let number = |at: usize| number(operands, at);
            match operation.operator.as_str() {
                "q" => saved.push(state.clone()),
                "Q" => state = saved.pop().unwrap_or_else(|| state.clone()),
                "cm" => {
                    if let Some(m) = Matrix::of(operands) {
                        state.ctm = m.then(state.ctm);
                    }
                }
                "BT" => (state.matrix, state.line) = (Matrix::IDENTITY, Matrix::IDENTITY),
                "Tm" => {
                    if let Some(m) = Matrix::of(operands) {
                        (state.matrix, state.line) = (m, m);
                    }
                }
                "Td" => state.next_line(number(0), number(1)),
                "TD" => {
                    state.leading = -number(1);
                    state.next_line(number(0), number(1));
                }
                "T*" => state.next_line(0.0, -state.leading),
                "TL" => state.leading = number(0),
                "Tc" => state.char_spacing = number(0),
                "Tw" => state.word_spacing = number(0),
                "Tz" => state.scale = number(0) / 100.0,
                "Ts" => state.rise = number(0),
                "Tf" => {
                    state.size = number(1);
                    state.font = operands
                        .first()
                        .and_then(|name| name.as_name().ok())
                        .and_then(|name| fonts.get(name))
                        .and_then(|font| {
                            let encoding = self.encodings.of(self.doc, font).ok()?;
                            let wide = font.get(b"Subtype").and_then(Object::as_name).ok()
                                == Some(b"Type0");
                            Some((encoding, wide, Widths::of(self.doc, font)))
                        });
                }
                "Tj" | "TJ" | "'" | "\"" => self.show_operation(&mut state, source, at, operation),
                "Do" if depth < MAX_FORM_DEPTH => {
                    if let Some(name) = operands.first().and_then(|name| name.as_name().ok()) {
                        self.form(name, &state, fonts, resources, depth);
                    }
                }
                _ => {}
            }
        }
        self.sources[source].operations = operations;
    }

    /// A text-showing operation (`Tj`, `TJ`, `'`, `"`).
    fn show_operation(
        &mut self,
        state: &mut State,
        source: usize,
        at: usize,
        operation: &Operation,
    ) {
        let operands = &operation.operands;
        let number = |at: usize| number(operands, at);
        if operation.operator == "\"" {
            state.word_spacing = number(0);
            state.char_spacing = number(1);
        }
        if operation.operator == "'" || operation.operator == "\"" {
            state.next_line(0.0, -state.leading);
        }
        let first = usize::from(operation.operator == "\"") * 2;
        for (index, operand) in operands.iter().enumerate().skip(first) {
            match operand {
                Object::String(bytes, _) => self.show(state, (source, at, index, None), bytes),
                Object::Array(items) => {
                    for (item, object) in items.iter().enumerate() {
                        if let Object::String(bytes, _) = object {
                            self.show(state, (source, at, index, Some(item)), bytes);
                        } else if let Ok(shift) = object.as_float() {
                            let moved = -shift / 1000.0 * state.size * state.scale;
                            state.matrix = Matrix::translate(moved, 0.0).then(state.matrix);
                        }
                    }
                }
                _ => {}
            }
        }
        self.text.push(' ');
        self.owner.push(usize::MAX);
    }

    /// Reads the form XObject drawn with `Do name`, under its own matrix and resources.
    fn form(
        &mut self,
        name: &[u8],
        state: &State,
        fonts: &Fonts<'d>,
        resources: Option<&'d Dictionary>,
        depth: usize,
    ) {
        let Some(Ok(form)) = Form::drawn(self.doc, resources, name) else {
            return;
        };
        let Ok(content) = Content::decode(&form.content) else {
            return;
        };
        let matrix = form
            .stream
            .dict
            .get(b"Matrix")
            .and_then(Object::as_array)
            .ok()
            .and_then(|m| Matrix::of(m))
            .unwrap_or(Matrix::IDENTITY);
        let mut inner = state.clone();
        inner.ctm = matrix.then(state.ctm);
        self.sources.push(Source {
            form: form.id,
            operations: content.operations,
        });
        let source = self.sources.len() - 1;
        let fonts = if form.resources.is_some() {
            &form.fonts
        } else {
            fonts
        };
        self.read(
            source,
            inner,
            fonts,
            form.resources.or(resources),
            depth + 1,
        );
    }

    /// Places the glyphs of one string, advancing the text matrix past them.
    fn show(&mut self, state: &mut State, string: StringAt, bytes: &[u8]) {
        let Some((encoding, wide, widths)) = &state.font else {
            return;
        };
        let step = if *wide { 2 } else { 1 };
        let mut at = 0;
        while at < bytes.len() {
            let code_bytes = &bytes[at..(at + step).min(bytes.len())];
            let code = code_bytes
                .iter()
                .fold(0i64, |code, byte| code * 256 + i64::from(*byte));
            let spacing = state.char_spacing
                + if !wide && code == 32 {
                    state.word_spacing
                } else {
                    0.0
                };
            let advance = (widths.width(code) / 1000.0 * state.size + spacing) * state.scale;
            let placed = state.matrix.then(state.ctm);
            let (low, high) = (
                -0.25 * state.size + state.rise,
                0.95 * state.size + state.rise,
            );
            let corners = [
                placed.apply(0.0, low),
                placed.apply(advance, low),
                placed.apply(0.0, high),
                placed.apply(advance, high),
            ];
            let area = corners.iter().fold(
                [f32::MAX, f32::MAX, f32::MIN, f32::MIN],
                |[x0, y0, x1, y1], &(x, y)| [x0.min(x), y0.min(y), x1.max(x), y1.max(y)],
            );
            let scaled = state.size * state.scale;
            self.glyphs.push(Glyph {
                string,
                code: at..at + code_bytes.len(),
                advance: if scaled == 0.0 {
                    0.0
                } else {
                    advance * 1000.0 / scaled
                },
                area,
            });
            let shown = Document::decode_text(&self.encodings.list[*encoding], code_bytes)
                .unwrap_or_default();
            self.text.push_str(&shown);
            self.owner
                .extend(std::iter::repeat_n(self.glyphs.len() - 1, shown.len()));
            state.matrix = Matrix::translate(advance, 0.0).then(state.matrix);
            at += step;
        }
    }

    /// The new contents when the page shows a value: each content with the value's glyphs
    /// taken out, and the page's drawn under a saved state, then a black box over each run of
    /// them (in the page's own content or in a form's).
    fn redacted(&self, targets: &Targets) -> Result<Option<Rewritten>, Failure> {
        let mut hidden = vec![false; self.glyphs.len()];
        for range in targets.find(&self.text) {
            for &glyph in &self.owner[range] {
                if let Some(hidden) = hidden.get_mut(glyph) {
                    *hidden = true;
                }
            }
        }
        // Marked content and other operations with a value in a string operand
        // (`/Span << /ActualText (...) >> BDC`), by content and operation: masked in place.
        let mut marked: BTreeMap<(usize, usize), Operation> = BTreeMap::new();
        for (source, content) in self.sources.iter().enumerate() {
            for (at, operation) in content.operations.iter().enumerate() {
                if matches!(operation.operator.as_str(), "Tj" | "TJ" | "'" | "\"") {
                    continue;
                }
                let mut masked = operation.clone();
                let mut any = false;
                for operand in &mut masked.operands {
                    any |= mask_object(operand, targets);
                }
                if any {
                    marked.insert((source, at), masked);
                }
            }
        }
        if !hidden.contains(&true) && marked.is_empty() {
            return Ok(None);
        }
        let mut boxes = String::from("q 0 0 0 rg\n");
        // The hidden glyphs of each string.
        let mut by_string: BTreeMap<StringAt, Vec<&Glyph>> = BTreeMap::new();
        // One box over each run of hidden glyphs of one string.
        let mut area: Option<(StringAt, usize, [f32; 4])> = None;
        let mut draw = |[x0, y0, x1, y1]: [f32; 4]| {
            boxes.push_str(&format!(
                "{x0:.2} {y0:.2} {:.2} {:.2} re f\n",
                x1 - x0,
                y1 - y0
            ));
        };
        for (index, glyph) in self.glyphs.iter().enumerate().filter(|(i, _)| hidden[*i]) {
            let string = glyph.string;
            area = match area {
                Some((last, previous, [x0, y0, x1, y1]))
                    if last == string && previous + 1 == index =>
                {
                    let [a, b, c, d] = glyph.area;
                    Some((string, index, [x0.min(a), y0.min(b), x1.max(c), y1.max(d)]))
                }
                other => {
                    if let Some((_, _, done)) = other {
                        draw(done);
                    }
                    Some((string, index, glyph.area))
                }
            };
            by_string.entry(string).or_default().push(glyph);
        }
        if let Some((_, _, done)) = area {
            draw(done);
        }
        boxes.push_str("Q\n");
        let mut page = b"q\n".to_vec();
        page.extend(encode(self.rewrite(0, &by_string, &marked))?);
        page.extend(b"\nQ\n");
        page.extend(boxes.into_bytes());
        let mut forms = Vec::new();
        for (source, content) in self.sources.iter().enumerate().skip(1) {
            if let Some(id) = content.form
                && (by_string.keys().any(|string| string.0 == source)
                    || marked.keys().any(|(at, _)| *at == source))
            {
                forms.push((id, encode(self.rewrite(source, &by_string, &marked))?));
            }
        }
        Ok(Some(Rewritten { page, forms }))
    }

    /// The operations of content `source` with the hidden glyphs taken out of their strings,
    /// and the `marked` operations in place of theirs.
    fn rewrite(
        &self,
        source: usize,
        by_string: &BTreeMap<StringAt, Vec<&Glyph>>,
        marked: &BTreeMap<(usize, usize), Operation>,
    ) -> Vec<Operation> {
        let mut operations = self.sources[source].operations.clone();
        for ((_, at), masked) in marked.range((source, 0)..(source + 1, 0)) {
            operations[*at] = masked.clone();
        }
        let affected: std::collections::BTreeSet<usize> = by_string
            .keys()
            .filter(|string| string.0 == source)
            .map(|string| string.1)
            .collect();
        for operation in affected.into_iter().rev() {
            let original = &operations[operation];
            let operator = original.operator.as_str();
            let first = if operator == "\"" { 2 } else { 0 };
            let mut items = Vec::new();
            for (index, operand) in original.operands.iter().enumerate().skip(first) {
                match operand {
                    Object::Array(array) => {
                        for (item, object) in array.iter().enumerate() {
                            match by_string.get(&(source, operation, index, Some(item))) {
                                Some(glyphs) => items.extend(without(object, glyphs)),
                                None => items.push(object.clone()),
                            }
                        }
                    }
                    object => match by_string.get(&(source, operation, index, None)) {
                        Some(glyphs) => items.extend(without(object, glyphs)),
                        None => items.push(object.clone()),
                    },
                }
            }
            let mut new = Vec::new();
            if operator == "\"" {
                new.push(Operation::new("Tw", vec![original.operands[0].clone()]));
                new.push(Operation::new("Tc", vec![original.operands[1].clone()]));
            }
            if operator == "'" || operator == "\"" {
                new.push(Operation::new("T*", Vec::new()));
            }
            new.push(Operation::new("TJ", vec![Object::Array(items)]));
            operations.splice(operation..=operation, new);
        }
        operations
    }
}

fn encode(operations: Vec<Operation>) -> Result<Vec<u8>, Failure> {
    Content { operations }
        .encode()
        .map_err(|error| Failure(format!("writing page content: {error}")))
}

/// A shown string without the given glyphs: the parts left, with the hidden glyphs' room
/// skipped as `TJ` adjustments.
fn without(object: &Object, hidden: &[&Glyph]) -> Vec<Object> {
    let Object::String(bytes, format) = object else {
        return vec![object.clone()];
    };
    let mut items = Vec::new();
    let mut kept = Vec::new();
    let mut skipped = 0.0f32;
    let mut at = 0;
    let mut hidden = hidden.iter().peekable();
    while at < bytes.len() {
        match hidden.peek() {
            Some(glyph) if glyph.code.start == at => {
                if !kept.is_empty() {
                    items.push(Object::String(std::mem::take(&mut kept), *format));
                }
                skipped += glyph.advance;
                at = glyph.code.end;
                hidden.next();
            }
            next => {
                if skipped != 0.0 {
                    items.push(Object::Real(-skipped));
                    skipped = 0.0;
                }
                let end = next.map_or(bytes.len(), |glyph| glyph.code.start);
                kept.extend_from_slice(&bytes[at..end]);
                at = end;
            }
        }
    }
    if !kept.is_empty() {
        items.push(Object::String(kept, *format));
    }
    if skipped != 0.0 {
        items.push(Object::Real(-skipped));
    }
    items
}

/// Masks the values in every text string of the document outside page content, and in XMP
/// metadata; a dictionary that had a value masked loses its appearance stream (`/AP`), which
/// would still draw it.
fn mask_strings(doc: &mut Document, targets: &Targets) {
    for object in doc.objects.values_mut() {
        match object {
            Object::Stream(stream) => {
                mask_in(&mut stream.dict, targets);
                let metadata = stream.dict.get(b"Type").and_then(Object::as_name).ok()
                    == Some(b"Metadata".as_slice());
                if metadata
                    && let Ok(content) = stream.decompressed_content_with_limit(MAX_DECOMPRESSED)
                    && let Some(masked) = targets.mask(&String::from_utf8_lossy(&content), MASK)
                {
                    stream.dict.remove(b"Filter");
                    stream.dict.remove(b"DecodeParms");
                    stream.set_plain_content(masked.into_bytes());
                }
            }
            other => {
                mask_object(other, targets);
            }
        }
    }
}

/// Masks the strings in an object; whether any was masked.
fn mask_object(object: &mut Object, targets: &Targets) -> bool {
    match object {
        Object::String(..) => {
            let Ok(text) = lopdf::decode_text_string(object) else {
                return false;
            };
            match targets.mask(&text, MASK) {
                Some(masked) => {
                    *object = if masked.is_ascii() {
                        Object::String(masked.into_bytes(), StringFormat::Literal)
                    } else {
                        lopdf::text_string(&masked)
                    };
                    true
                }
                None => false,
            }
        }
        Object::Array(items) => {
            // Every item, not only up to the first masked one.
            let mut any = false;
            for item in items {
                any |= mask_object(item, targets);
            }
            any
        }
        Object::Dictionary(dictionary) => mask_in(dictionary, targets),
        _ => false,
    }
}

fn mask_in(dictionary: &mut Dictionary, targets: &Targets) -> bool {
    let mut masked = false;
    for (_, value) in dictionary.iter_mut() {
        masked |= mask_object(value, targets);
    }
    if masked {
        dictionary.remove(b"AP");
    }
    masked
}
