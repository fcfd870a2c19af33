//! A small element tree for the XML parts that need editing, read and written with quick-xml
//! (no entity expansion, no DTD). Everything that is not an element (text, declarations,
//! comments) is kept as the event it was read as, so an edited part is written back as it
//! was except for what was removed.

use std::time::Instant;

use quick_xml::Writer;
use quick_xml::events::{BytesStart, Event};

use crate::Failure;

/// Deepest nesting of elements accepted in a part.
const MAX_DEPTH: usize = 256;

pub(crate) enum Node {
    Element(Element),
    Other(Event<'static>),
}

pub(crate) struct Element {
    pub start: BytesStart<'static>,
    pub children: Vec<Node>,
}

impl Element {
    /// The name without its namespace prefix.
    pub fn local(&self) -> &[u8] {
        local_of(self.start.name().into_inner())
    }

    /// The attributes as (qualified name, unescaped value).
    pub fn attributes(&self) -> Vec<(String, String)> {
        self.start
            .attributes()
            .flatten()
            .map(|attribute| {
                let key = String::from_utf8_lossy(attribute.key.as_ref()).into_owned();
                let value = attribute
                    .unescape_value()
                    .map(|value| value.into_owned())
                    .unwrap_or_else(|_| String::from_utf8_lossy(&attribute.value).into_owned());
                (key, value)
            })
            .collect()
    }

    /// The value of the attribute whose name, without prefix, is `local`.
    pub fn attribute(&self, local: &str) -> Option<String> {
        self.attributes()
            .into_iter()
            .find(|(key, _)| key.rsplit(':').next() == Some(local))
            .map(|(_, value)| value)
    }

    /// Rewrites the attributes: `edit` gets each (name, value) and returns the value to keep,
    /// or `None` to drop the attribute.
    pub fn edit_attributes(&mut self, mut edit: impl FnMut(&str, &str) -> Option<String>) {
        let kept: Vec<(String, String)> = self
            .attributes()
            .into_iter()
            .filter_map(|(key, value)| edit(&key, &value).map(|value| (key, value)))
            .collect();
        self.start.clear_attributes();
        for (key, value) in &kept {
            self.start.push_attribute((key.as_str(), value.as_str()));
        }
    }

    /// The text of the element and its descendants.
    pub fn text(&self) -> String {
        let mut text = String::new();
        collect_text(&self.children, &mut text);
        text
    }

    pub fn has_element_children(&self) -> bool {
        self.children
            .iter()
            .any(|node| matches!(node, Node::Element(_)))
    }
}

fn collect_text(nodes: &[Node], into: &mut String) {
    for node in nodes {
        match node {
            Node::Element(element) => collect_text(&element.children, into),
            Node::Other(Event::Text(text)) => {
                into.push_str(&text.decode().unwrap_or_default());
            }
            Node::Other(Event::CData(data)) => {
                into.push_str(&data.decode().unwrap_or_default());
            }
            Node::Other(Event::GeneralRef(reference)) => {
                let name = reference.decode().unwrap_or_default();
                if let Ok(resolved) = quick_xml::escape::unescape(&format!("&{name};")) {
                    into.push_str(&resolved);
                }
            }
            Node::Other(_) => {}
        }
    }
}

pub(crate) fn local_of(name: &[u8]) -> &[u8] {
    name.rsplit(|b| *b == b':').next().unwrap_or(name)
}

/// A whole part: the root element with what stands before and after it.
pub(crate) struct Document {
    pub nodes: Vec<Node>,
}

impl Document {
    pub fn parse(input: &[u8], deadline: Instant) -> Result<Self, Failure> {
        let mut events = crate::xml::Events::new(input, deadline);
        let mut top: Vec<Node> = Vec::new();
        let mut open: Vec<Element> = Vec::new();
        loop {
            let node = match events.next()? {
                Event::Eof => break,
                Event::Start(start) => {
                    if open.len() >= MAX_DEPTH {
                        return Err(Failure::invalid(format!(
                            "XML elements nested deeper than {MAX_DEPTH} levels"
                        )));
                    }
                    open.push(Element {
                        start: start.into_owned(),
                        children: Vec::new(),
                    });
                    continue;
                }
                Event::End(_) => match open.pop() {
                    Some(element) => Node::Element(element),
                    None => return Err(Failure::invalid("an XML end tag without a start")),
                },
                Event::Empty(start) => Node::Element(Element {
                    start: start.into_owned(),
                    children: Vec::new(),
                }),
                // The document type definition (and with it any entity) is not carried over.
                Event::DocType(_) => continue,
                other => Node::Other(other.into_owned()),
            };
            match open.last_mut() {
                Some(parent) => parent.children.push(node),
                None => top.push(node),
            }
        }
        if !open.is_empty() {
            return Err(Failure::invalid("the XML ends inside an element"));
        }
        Ok(Self { nodes: top })
    }

    pub fn write(&self) -> Result<Vec<u8>, Failure> {
        let mut writer = Writer::new(Vec::new());
        write_nodes(&mut writer, &self.nodes)
            .map_err(|error| Failure::failed(format!("writing an XML part: {error}")))?;
        Ok(writer.into_inner())
    }

    /// The root element.
    pub fn root_mut(&mut self) -> Option<&mut Element> {
        self.nodes.iter_mut().find_map(|node| match node {
            Node::Element(element) => Some(element),
            Node::Other(_) => None,
        })
    }
}

fn write_nodes(writer: &mut Writer<Vec<u8>>, nodes: &[Node]) -> std::io::Result<()> {
    for node in nodes {
        match node {
            Node::Element(element) if element.children.is_empty() => {
                writer.write_event(Event::Empty(element.start.borrow()))?;
            }
            Node::Element(element) => {
                writer.write_event(Event::Start(element.start.borrow()))?;
                write_nodes(writer, &element.children)?;
                writer.write_event(Event::End(element.start.to_end()))?;
            }
            Node::Other(event) => writer.write_event(event.borrow())?,
        }
    }
    Ok(())
}

/// Visits every element in document order.
pub(crate) fn for_each(nodes: &[Node], visit: &mut impl FnMut(&Element)) {
    for node in nodes {
        if let Node::Element(element) = node {
            visit(element);
            for_each(&element.children, visit);
        }
    }
}

/// Visits every element in document order, mutably.
pub(crate) fn for_each_mut(nodes: &mut [Node], visit: &mut impl FnMut(&mut Element)) {
    for node in nodes {
        if let Node::Element(element) = node {
            visit(element);
            for_each_mut(&mut element.children, visit);
        }
    }
}
