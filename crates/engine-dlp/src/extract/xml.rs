//! XML read event by event for text extraction (Office Open XML and OpenDocument parts):
//! streamed from the part, entities resolved, the deadline checked every few thousand events,
//! and a malformed part an error that says where.

use std::io::BufRead;
use std::time::Instant;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::Stop;

/// Events read between two looks at the clock.
const EVENTS_PER_CHECK: usize = 4096;

/// An element's start: its local name (no prefix) and its attributes by local name.
pub(crate) struct Tag {
    pub local: Vec<u8>,
    /// Each attribute's local name, whether it has a prefix, and its value.
    attributes: Vec<(Vec<u8>, bool, String)>,
}

impl Tag {
    fn of(start: &BytesStart<'_>) -> Self {
        let attributes = start
            .attributes()
            .flatten()
            .map(|attribute| {
                let value = attribute
                    .unescape_value()
                    .map(|value| value.into_owned())
                    .unwrap_or_else(|_| String::from_utf8_lossy(&attribute.value).into_owned());
                let prefixed = attribute.key.prefix().is_some();
                (
                    attribute.key.local_name().as_ref().to_vec(),
                    prefixed,
                    value,
                )
            })
            .collect();
        Self {
            local: start.local_name().as_ref().to_vec(),
            attributes,
        }
    }

    /// The value of the attribute with this local name (any prefix).
    pub fn attribute(&self, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(name, _, _)| name == local.as_bytes())
            .map(|(_, _, value)| value.as_str())
    }

    /// The value of a prefixed attribute with this local name (`r:id`, not `id`).
    pub fn prefixed_attribute(&self, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(name, prefixed, _)| *prefixed && name == local.as_bytes())
            .map(|(_, _, value)| value.as_str())
    }

    pub fn is(&self, local: &str) -> bool {
        self.local == local.as_bytes()
    }
}

pub(crate) enum Item {
    Start(Tag),
    /// An element with no content (`<w:tab/>`).
    Empty(Tag),
    /// An element's end, by its local name.
    End(Vec<u8>),
    Text(String),
    Eof,
}

pub(crate) struct Events<R: BufRead> {
    reader: Reader<R>,
    buffer: Vec<u8>,
    deadline: Instant,
    read: usize,
    /// Elements open at this point: the part must not end inside one.
    open: usize,
    /// The part's name, for errors.
    part: String,
}

impl<R: BufRead> Events<R> {
    pub fn new(input: R, part: &str, deadline: Instant) -> Self {
        let mut reader = Reader::from_reader(input);
        reader.config_mut().check_end_names = true;
        Self {
            reader,
            buffer: Vec::new(),
            deadline,
            read: 0,
            open: 0,
            part: part.to_string(),
        }
    }

    pub fn next(&mut self) -> Result<Item, Stop> {
        loop {
            self.read += 1;
            if self.read.is_multiple_of(EVENTS_PER_CHECK) && Instant::now() > self.deadline {
                return Err(Stop::TimedOut);
            }
            self.buffer.clear();
            let event = self
                .reader
                .read_event_into(&mut self.buffer)
                .map_err(|error| {
                    Stop::Invalid(format!("{} is not well-formed XML: {error}", self.part))
                })?;
            return Ok(match event {
                Event::Start(start) => {
                    self.open += 1;
                    Item::Start(Tag::of(&start))
                }
                Event::Empty(start) => Item::Empty(Tag::of(&start)),
                Event::End(end) => {
                    self.open = self.open.saturating_sub(1);
                    Item::End(end.local_name().as_ref().to_vec())
                }
                Event::Text(text) => Item::Text(
                    text.xml_content()
                        .map(|text| text.into_owned())
                        .unwrap_or_default(),
                ),
                Event::CData(data) => Item::Text(data.decode().unwrap_or_default().into_owned()),
                Event::GeneralRef(reference) => Item::Text(resolve(&reference)),
                Event::Eof if self.open > 0 => {
                    return Err(Stop::Invalid(format!(
                        "{} ends inside an element",
                        self.part
                    )));
                }
                Event::Eof => Item::Eof,
                _ => continue,
            });
        }
    }

    /// Skips the rest of an element whose start was just read (its whole subtree).
    pub fn skip(&mut self) -> Result<(), Stop> {
        let mut depth = 1usize;
        while depth > 0 {
            match self.next()? {
                Item::Start(_) => depth += 1,
                Item::End(_) => depth -= 1,
                Item::Eof => {
                    return Err(Stop::Invalid(format!(
                        "{} ends inside an element",
                        self.part
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The text of the element whose start was just read, up to its end.
    pub fn text_of(&mut self) -> Result<String, Stop> {
        let mut text = String::new();
        let mut depth = 1usize;
        while depth > 0 {
            match self.next()? {
                Item::Start(_) => depth += 1,
                Item::End(_) => depth -= 1,
                Item::Text(more) => text.push_str(&more),
                Item::Eof => {
                    return Err(Stop::Invalid(format!(
                        "{} ends inside an element",
                        self.part
                    )));
                }
                Item::Empty(_) => {}
            }
        }
        Ok(text)
    }
}

/// The text a character or entity reference stands for (`&#233;`, `&amp;`); nothing for an
/// entity XML does not predefine.
pub(crate) fn resolve(reference: &quick_xml::events::BytesRef<'_>) -> String {
    match reference.resolve_char_ref() {
        Ok(Some(c)) => c.to_string(),
        _ => {
            let name = reference.decode().unwrap_or_default();
            quick_xml::escape::resolve_predefined_entity(&name)
                .unwrap_or_default()
                .to_string()
        }
    }
}
