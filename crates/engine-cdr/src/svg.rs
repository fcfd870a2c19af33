//! SVG: the document is read event by event (quick-xml; no recursion, no entity expansion)
//! and written anew from an allow-list of static SVG elements and attributes. Removed:
//! scripts, event handler attributes and `javascript:` links (JavaScript); foreignObject and
//! elements outside the allow-list, such as editors' private elements (Foreign content);
//! animation elements (Animation); references to anything outside the document: `href`s other
//! than fragments and embedded raster images, `url(...)` values, style sheets that import,
//! processing instructions, the document type definition and entities it declared (External
//! reference); metadata and comments (Metadata, per rule). Links (`<a href>`) to web addresses
//! stay unless hyperlinks are removed.

use std::time::Instant;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, Writer};

use palisade_model::{ActiveObject, CdrPolicy, FailureCategory};

use crate::{Failure, Rebuilt, Removals};

/// Deepest nesting of elements accepted.
const MAX_DEPTH: usize = 1_000;
/// Bytes read before deciding that a file does not start as an SVG document.
const SNIFF: usize = 4096;

/// Static SVG content, kept (with the allowed attributes).
const ELEMENTS: &[&str] = &[
    "svg",
    "g",
    "defs",
    "desc",
    "title",
    "symbol",
    "use",
    "image",
    "switch",
    "path",
    "rect",
    "circle",
    "ellipse",
    "line",
    "polyline",
    "polygon",
    "text",
    "tspan",
    "textPath",
    "marker",
    "linearGradient",
    "radialGradient",
    "stop",
    "pattern",
    "clipPath",
    "mask",
    "filter",
    "style",
    "a",
    "view",
    "feBlend",
    "feColorMatrix",
    "feComponentTransfer",
    "feComposite",
    "feConvolveMatrix",
    "feDiffuseLighting",
    "feDisplacementMap",
    "feDistantLight",
    "feDropShadow",
    "feFlood",
    "feFuncA",
    "feFuncB",
    "feFuncG",
    "feFuncR",
    "feGaussianBlur",
    "feImage",
    "feMerge",
    "feMergeNode",
    "feMorphology",
    "feOffset",
    "fePointLight",
    "feSpecularLighting",
    "feSpotLight",
    "feTile",
    "feTurbulence",
];

const ANIMATION: &[&str] = &[
    "animate",
    "animateColor",
    "animateMotion",
    "animateTransform",
    "set",
    "discard",
    "mpath",
];

/// Whether the file starts as an SVG document: its first element is `svg`.
pub(crate) fn is_svg(head: &[u8]) -> bool {
    let head = &head[..head.len().min(SNIFF)];
    let mut reader = Reader::from_reader(head);
    loop {
        match reader.read_event() {
            Ok(Event::Decl(_) | Event::Comment(_) | Event::DocType(_) | Event::PI(_)) => {}
            Ok(Event::Text(text)) if text.iter().all(u8::is_ascii_whitespace) => {}
            Ok(Event::Start(start) | Event::Empty(start)) => {
                return start.local_name().as_ref() == b"svg";
            }
            _ => return false,
        }
    }
}

/// What an `href` points at, when it leaves the document.
fn outside_reference(value: &str) -> Option<ActiveObject> {
    let value = value.trim().to_ascii_lowercase();
    if value.starts_with('#') {
        return None;
    }
    if value.starts_with("javascript:") || value.starts_with("vbscript:") {
        return Some(ActiveObject::Javascript);
    }
    for raster in ["png", "jpeg", "jpg", "gif", "webp"] {
        if value.starts_with(&format!("data:image/{raster};base64,")) {
            return None;
        }
    }
    Some(ActiveObject::ExternalReference)
}

/// Whether CSS text reaches outside the document or runs script (`@import`, a `url()` that
/// is not a fragment, `expression(`, `javascript:`).
fn css_reaches_out(css: &str) -> bool {
    let css = css.to_ascii_lowercase();
    if css.contains("@import") || css.contains("expression(") || css.contains("javascript:") {
        return true;
    }
    css.match_indices("url(").any(|(at, _)| {
        let rest = css[at + 4..].trim_start_matches([' ', '"', '\'']);
        !rest.starts_with('#')
    })
}

/// One pass over the document.
struct Pass<'a> {
    policy: &'a CdrPolicy,
    removals: Removals,
}

impl Pass<'_> {
    fn record(&mut self, kind: ActiveObject, detail: &str) -> bool {
        let removed = self.policy.removes(kind);
        self.removals.record(kind, removed, detail);
        removed
    }

    /// Why an element is removed whole, if it is.
    fn element_removal(&self, name: &str) -> Option<ActiveObject> {
        if name == "script" {
            return Some(ActiveObject::Javascript);
        }
        if ANIMATION.contains(&name) {
            return Some(ActiveObject::Animation);
        }
        if name == "metadata" {
            return Some(ActiveObject::Metadata);
        }
        if ELEMENTS.contains(&name) {
            return None;
        }
        Some(ActiveObject::ForeignContent)
    }

    /// The element as written: its allowed attributes only.
    fn clean_start(&mut self, start: &BytesStart<'_>) -> Result<BytesStart<'static>, Failure> {
        let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
        let element = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
        let mut clean = BytesStart::new(name.clone());
        for attribute in start.attributes() {
            let attribute = attribute
                .map_err(|error| Failure::invalid(format!("a malformed attribute: {error}")))?;
            let key = String::from_utf8_lossy(attribute.key.as_ref()).into_owned();
            let local = key.rsplit(':').next().unwrap_or(&key).to_ascii_lowercase();
            let value = attribute
                .unescape_value()
                .map(|value| value.into_owned())
                .unwrap_or_default();
            let removal = if local.starts_with("on") {
                Some((ActiveObject::Javascript, format!("{element} {key}={value}")))
            } else if local == "href" || key == "xml:base" {
                match outside_reference(&value) {
                    Some(ActiveObject::ExternalReference) if element == "a" => {
                        Some((ActiveObject::Hyperlink, value.clone()))
                    }
                    Some(kind) => Some((kind, format!("{element} {key}={value}"))),
                    None => None,
                }
            } else if value.to_ascii_lowercase().contains("url(") || local == "style" {
                css_reaches_out(&value).then(|| {
                    (
                        ActiveObject::ExternalReference,
                        format!("{element} {key}={value}"),
                    )
                })
            } else if key.contains(':') && !key.starts_with("xml") && !key.starts_with("xlink:") {
                // Attributes of editors' own namespaces (inkscape:, sodipodi:, ...).
                Some((ActiveObject::Metadata, format!("{element} {key}")))
            } else {
                None
            };
            match removal {
                Some((kind, detail)) if self.record(kind, &detail) => {}
                _ => clean.push_attribute(attribute),
            }
        }
        Ok(clean)
    }
}

fn local_name(start: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(start.local_name().as_ref()).into_owned()
}

/// Rebuilds an SVG document from its allowed content.
pub(crate) fn rebuild(
    input: &[u8],
    policy: &CdrPolicy,
    deadline: Instant,
) -> Result<Rebuilt, Failure> {
    if std::str::from_utf8(input).is_err() {
        return Err(Failure {
            category: FailureCategory::UnsupportedVersion,
            reason: "only UTF-8 SVG documents are rebuilt".into(),
        });
    }
    let mut events = crate::xml::Events::new(input, deadline);
    let mut writer = Writer::new(Vec::with_capacity(input.len()));
    let mut pass = Pass {
        policy,
        removals: Removals::default(),
    };
    let write = |writer: &mut Writer<Vec<u8>>, event: Event<'_>| {
        writer
            .write_event(event)
            .map_err(|error| Failure::failed(format!("writing the rebuilt SVG: {error}")))
    };
    write(
        &mut writer,
        Event::Decl(quick_xml::events::BytesDecl::new(
            "1.0",
            Some("UTF-8"),
            None,
        )),
    )?;
    writer.get_mut().push(b'\n');
    let mut depth = 0usize;
    // Whether the root element was written (a second root is not XML).
    let mut rooted = false;
    // Whether the text of the element being written is a style sheet.
    let mut in_style = false;
    loop {
        match events.next()? {
            Event::Start(_) | Event::Empty(_) if rooted && depth == 0 => {
                return Err(Failure::invalid("more than one root element"));
            }
            Event::Start(start) => {
                if let Some(kind) = pass.element_removal(&local_name(&start))
                    && pass.record(kind, &format!("<{}>", local_name(&start)))
                {
                    events.skip_element()?;
                    continue;
                }
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Failure::invalid(format!(
                        "elements nested deeper than {MAX_DEPTH} levels"
                    )));
                }
                in_style = start.local_name().as_ref() == b"style";
                let clean = pass.clean_start(&start)?;
                write(&mut writer, Event::Start(clean))?;
            }
            Event::Empty(start) => {
                if let Some(kind) = pass.element_removal(&local_name(&start))
                    && pass.record(kind, &format!("<{}>", local_name(&start)))
                {
                    continue;
                }
                let clean = pass.clean_start(&start)?;
                write(&mut writer, Event::Empty(clean))?;
                rooted |= depth == 0;
            }
            Event::End(end) => {
                depth = depth.saturating_sub(1);
                in_style = false;
                write(&mut writer, Event::End(end))?;
                rooted |= depth == 0;
            }
            // Outside the root element only whitespace may stand; the rebuild has its own.
            Event::Text(text) if depth == 0 => {
                if !text.iter().all(u8::is_ascii_whitespace) {
                    pass.removals.record(
                        ActiveObject::TrailingData,
                        true,
                        &format!("{} bytes of text outside the drawing", text.len()),
                    );
                }
            }
            Event::Text(text) => {
                if in_style && css_reaches_out(&String::from_utf8_lossy(&text)) {
                    pass.record(
                        ActiveObject::ExternalReference,
                        "style sheet that reaches out",
                    );
                    continue;
                }
                write(&mut writer, Event::Text(text))?;
            }
            Event::CData(data) => {
                if in_style && css_reaches_out(&String::from_utf8_lossy(&data)) {
                    pass.record(
                        ActiveObject::ExternalReference,
                        "style sheet that reaches out",
                    );
                    continue;
                }
                write(&mut writer, Event::CData(data))?;
            }
            Event::GeneralRef(reference) => {
                let name = String::from_utf8_lossy(&reference).into_owned();
                let predefined = matches!(name.as_str(), "lt" | "gt" | "amp" | "quot" | "apos");
                if predefined || name.starts_with('#') {
                    write(&mut writer, Event::GeneralRef(reference))?;
                } else {
                    pass.removals.record(
                        ActiveObject::ExternalReference,
                        true,
                        &format!("entity reference &{name};"),
                    );
                }
            }
            // A rebuild has no comments, whatever the rule says of metadata.
            Event::Comment(_) => pass
                .removals
                .record(ActiveObject::Metadata, true, "comment"),
            Event::DocType(doctype) => {
                let text = String::from_utf8_lossy(&doctype).into_owned();
                let detail = if text.contains("ENTITY") {
                    "document type definition declaring entities"
                } else {
                    "document type definition"
                };
                pass.removals
                    .record(ActiveObject::ExternalReference, true, detail);
            }
            Event::PI(instruction) => {
                let text = String::from_utf8_lossy(&instruction).into_owned();
                pass.removals.record(
                    ActiveObject::ExternalReference,
                    true,
                    &format!("processing instruction <?{text}?>"),
                );
            }
            Event::Decl(_) => {}
            Event::Eof => break,
        }
    }
    if depth != 0 {
        return Err(Failure::invalid("the document ends inside an element"));
    }
    let mut bytes = writer.into_inner();
    bytes.push(b'\n');
    Ok(Rebuilt {
        bytes,
        removals: pass.removals,
        signed: false,
        ..Rebuilt::default()
    })
}
