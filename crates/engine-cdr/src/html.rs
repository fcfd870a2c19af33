//! HTML: the page is rebuilt by ammonia (html5ever's parser and an allow-list of elements,
//! attributes, URL schemes and style properties) into a fresh document that keeps the text,
//! the structure, the pictures carried in the page and the links. A counting pass with
//! html5ever's tokenizer reports what the allow-list leaves out, decided by the same lists
//! ([`TAGS`], [`ATTRIBUTES`], [`url_kept`]): scripts, event handlers and `javascript:` links
//! (JavaScript); forms (Form submission action); frames, remote pictures, style sheets and
//! refreshes that reach elsewhere (External reference); objects, embeds and applets
//! (Multimedia content); `data:` links that carry a file (Embedded file); anything else outside
//! the allow-list (Foreign content); document metadata and comments (Metadata).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
    states::RawKind,
};
use palisade_model::{ActiveObject, CdrPolicy, FailureCategory};

use crate::{Failure, Rebuilt, Removals};

/// Elements kept (with the attributes [`ATTRIBUTES`] allows).
const TAGS: &[&str] = &[
    "a",
    "abbr",
    "address",
    "article",
    "aside",
    "b",
    "bdi",
    "bdo",
    "blockquote",
    "br",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "data",
    "dd",
    "del",
    "details",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "font",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "main",
    "mark",
    "nav",
    "ol",
    "p",
    "pre",
    "q",
    "rp",
    "rt",
    "ruby",
    "s",
    "samp",
    "section",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "time",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
    "wbr",
];
/// The document's frame, which the rebuild writes itself (with the title).
const FRAME: &[&str] = &["html", "head", "body", "title"];
/// Elements removed with their content.
const REMOVED_WITH_CONTENT: &[&str] = &["script", "style", "template", "noscript", "title"];
/// Attributes kept on every kept element.
const GENERIC: &[&str] = &[
    "title", "lang", "dir", "class", "id", "style", "align", "valign", "width", "height",
];
/// Attributes kept on one element.
const ATTRIBUTES: &[(&str, &[&str])] = &[
    ("a", &["href", "hreflang", "name"]),
    ("img", &["src", "alt"]),
    ("td", &["colspan", "rowspan"]),
    ("th", &["colspan", "rowspan", "scope"]),
    ("col", &["span"]),
    ("colgroup", &["span"]),
    ("ol", &["start", "type", "reversed"]),
    ("li", &["value"]),
    ("font", &["color", "face", "size"]),
    (
        "table",
        &["border", "cellpadding", "cellspacing", "summary"],
    ),
    ("time", &["datetime"]),
    ("data", &["value"]),
    ("del", &["datetime"]),
    ("ins", &["datetime"]),
    ("q", &["cite"]),
    ("blockquote", &["cite"]),
];
/// Style properties kept in `style` attributes (none of them loads anything).
const STYLE_PROPERTIES: &[&str] = &[
    "color",
    "background-color",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "text-align",
    "text-decoration",
    "text-indent",
    "text-transform",
    "line-height",
    "letter-spacing",
    "word-spacing",
    "white-space",
    "vertical-align",
    "margin",
    "margin-top",
    "margin-right",
    "margin-bottom",
    "margin-left",
    "padding",
    "padding-top",
    "padding-right",
    "padding-bottom",
    "padding-left",
    "border",
    "border-top",
    "border-right",
    "border-bottom",
    "border-left",
    "border-color",
    "border-style",
    "border-width",
    "border-collapse",
    "width",
    "height",
    "max-width",
    "min-width",
    "display",
    "float",
    "clear",
    "list-style-type",
];

/// Bytes looked at to decide that a file is an HTML page.
const SNIFF: usize = 512;

/// Whether the file starts as an HTML page, by the tags of the MIME Sniffing standard's HTML
/// signatures (`<!DOCTYPE HTML`, `<HTML`, `<HEAD`, `<BODY`, `<SCRIPT`, `<A`, `<P`, ...).
pub(crate) fn is_html(head: &[u8]) -> bool {
    let head = &head[..head.len().min(SNIFF)];
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let text = head[start..].to_ascii_lowercase();
    const SIGNATURES: [&[u8]; 17] = [
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<script",
        b"<iframe",
        b"<h1",
        b"<div",
        b"<font",
        b"<table",
        b"<a",
        b"<style",
        b"<title",
        b"<b",
        b"<body",
        b"<br",
        b"<p",
        b"<!--",
    ];
    SIGNATURES.iter().any(|signature| {
        text.starts_with(signature)
            && text
                .get(signature.len())
                .is_some_and(|next| *next == b' ' || *next == b'>' || next.is_ascii_whitespace())
    })
}

/// Whether a URL attribute's value stays, and if not, what it was.
fn url_kept(element: &str, value: &str, policy: &CdrPolicy) -> Result<(), ActiveObject> {
    let trimmed: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    let scheme = trimmed.split_once(':').map(|(scheme, _)| scheme);
    match scheme {
        Some("javascript" | "vbscript" | "livescript") => Err(ActiveObject::Javascript),
        Some("data") if element == "img" => {
            let image = [
                "data:image/png",
                "data:image/jpeg",
                "data:image/gif",
                "data:image/webp",
            ]
            .iter()
            .any(|prefix| trimmed.starts_with(prefix));
            if image {
                Ok(())
            } else {
                Err(ActiveObject::EmbeddedFile)
            }
        }
        Some("data") => Err(ActiveObject::EmbeddedFile),
        Some("http" | "https") if element == "img" => {
            if policy.removes(ActiveObject::ExternalReference) {
                Err(ActiveObject::ExternalReference)
            } else {
                Ok(())
            }
        }
        Some("http" | "https" | "mailto" | "ftp") | None => {
            if element == "a" && policy.removes(ActiveObject::Hyperlink) {
                Err(ActiveObject::Hyperlink)
            } else {
                Ok(())
            }
        }
        Some(_) => Err(ActiveObject::ExternalReference),
    }
}

fn is_url_attribute(element: &str, attribute: &str) -> bool {
    matches!(
        (element, attribute),
        ("a", "href") | ("img", "src") | ("q", "cite") | ("blockquote", "cite")
    )
}

fn allowed_attribute(element: &str, attribute: &str) -> bool {
    GENERIC.contains(&attribute)
        || ATTRIBUTES
            .iter()
            .any(|(tag, attributes)| *tag == element && attributes.contains(&attribute))
}

/// What removing an element outside the allow-list takes away.
fn element_kind(name: &str, tag: &Tag) -> Option<(ActiveObject, String)> {
    let attribute = |key: &str| {
        tag.attrs
            .iter()
            .find(|a| &*a.name.local == key)
            .map(|a| a.value.to_string())
            .unwrap_or_default()
    };
    let kind = match name {
        _ if TAGS.contains(&name) || FRAME.contains(&name) => return None,
        "script" => ActiveObject::Javascript,
        "form" => ActiveObject::FormSubmission,
        "iframe" | "frame" | "frameset" | "portal" | "base" => ActiveObject::ExternalReference,
        "link" => ActiveObject::ExternalReference,
        "object" | "embed" | "applet" | "video" | "audio" | "source" | "track" => {
            ActiveObject::RichMedia
        }
        "meta" if attribute("http-equiv").eq_ignore_ascii_case("refresh") => {
            ActiveObject::ExternalReference
        }
        // The character set is written anew; it is no content of its own.
        "meta" if !attribute("charset").is_empty() => return None,
        "meta" => ActiveObject::Metadata,
        _ => ActiveObject::ForeignContent,
    };
    let reference = ["src", "href", "action", "data", "content"]
        .iter()
        .map(|key| attribute(key))
        .find(|value| !value.is_empty())
        .map(|value| format!(" {value}"))
        .unwrap_or_default();
    Some((kind, format!("<{name}>{reference}")))
}

/// The counting pass: a token sink that records what the rebuild leaves out.
struct Counter<'a> {
    policy: &'a CdrPolicy,
    removals: RefCell<Removals>,
    title: RefCell<Option<String>>,
    in_title: RefCell<bool>,
}

impl Counter<'_> {
    fn record(&self, kind: ActiveObject, detail: &str) {
        self.removals.borrow_mut().record(kind, true, detail);
    }

    fn start_tag(&self, tag: &Tag) -> TokenSinkResult<()> {
        let name = tag.name.to_string();
        if let Some((kind, detail)) = element_kind(&name, tag) {
            self.record(kind, &detail);
        } else if TAGS.contains(&name.as_str()) {
            self.attributes(&name, tag);
        } else {
            // The frame (html, head, body) is written anew without attributes: only its event
            // handlers are worth reporting.
            for attribute in tag.attrs.iter().filter(|a| a.name.local.starts_with("on")) {
                self.record(
                    ActiveObject::Javascript,
                    &format!("<{name} {}=\"{}\">", attribute.name.local, attribute.value),
                );
            }
        }
        *self.in_title.borrow_mut() = name == "title";
        match name.as_str() {
            "script" => TokenSinkResult::RawData(RawKind::ScriptData),
            "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => {
                TokenSinkResult::RawData(RawKind::Rawtext)
            }
            "title" | "textarea" => TokenSinkResult::RawData(RawKind::Rcdata),
            "plaintext" => TokenSinkResult::Plaintext,
            _ => TokenSinkResult::Continue,
        }
    }

    fn attributes(&self, element: &str, tag: &Tag) {
        for attribute in &tag.attrs {
            let key = attribute.name.local.to_string();
            let value = attribute.value.to_string();
            let detail = format!("<{element} {key}=\"{value}\">");
            if key.starts_with("on") {
                self.record(ActiveObject::Javascript, &detail);
            } else if !allowed_attribute(element, &key) {
                self.record(ActiveObject::ForeignContent, &detail);
            } else if is_url_attribute(element, &key) {
                match url_kept(element, &value, self.policy) {
                    Ok(()) if element == "a" => {
                        self.removals
                            .borrow_mut()
                            .record(ActiveObject::Hyperlink, false, &value);
                    }
                    Ok(()) => {}
                    Err(kind) => self.record(kind, &detail),
                }
            } else if key == "style" && reaches_out(&value) {
                self.record(ActiveObject::ExternalReference, &detail);
            }
        }
    }
}

/// Whether CSS text fetches something (`url(`, `@import`, `expression(`).
fn reaches_out(css: &str) -> bool {
    let lower = css.to_ascii_lowercase();
    lower.contains("url(") || lower.contains("@import") || lower.contains("expression(")
}

impl TokenSink for Counter<'_> {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            Token::TagToken(tag) if tag.kind == TagKind::StartTag => return self.start_tag(&tag),
            Token::TagToken(_) => *self.in_title.borrow_mut() = false,
            Token::CommentToken(comment) => {
                let removes = self.policy.removes(ActiveObject::Metadata);
                self.removals.borrow_mut().record(
                    ActiveObject::Metadata,
                    removes,
                    &format!("comment {}", comment.trim()),
                );
            }
            Token::CharacterTokens(text) if *self.in_title.borrow() => {
                self.title
                    .borrow_mut()
                    .get_or_insert_with(String::new)
                    .push_str(&text);
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

fn ammonia_builder(policy: &CdrPolicy) -> ammonia::Builder<'static> {
    let mut builder = ammonia::Builder::empty();
    let tag_attributes: HashMap<&str, HashSet<&str>> = ATTRIBUTES
        .iter()
        .map(|(tag, attributes)| (*tag, attributes.iter().copied().collect()))
        .collect();
    builder
        .tags(TAGS.iter().copied().collect())
        .clean_content_tags(REMOVED_WITH_CONTENT.iter().copied().collect())
        .generic_attributes(GENERIC.iter().copied().collect())
        .tag_attributes(tag_attributes)
        .filter_style_properties(STYLE_PROPERTIES.iter().copied().collect())
        .url_schemes(
            ["http", "https", "mailto", "ftp", "data"]
                .into_iter()
                .collect(),
        )
        .url_relative(ammonia::UrlRelative::PassThrough)
        .link_rel(None)
        .strip_comments(policy.removes(ActiveObject::Metadata));
    let policy = policy.clone();
    builder.attribute_filter(move |element, attribute, value| {
        if is_url_attribute(element, attribute) {
            return url_kept(element, value, &policy)
                .ok()
                .map(|()| Cow::Borrowed(value));
        }
        // Style attributes keep only STYLE_PROPERTIES, none of which takes a URL.
        Some(Cow::Borrowed(value))
    });
    builder
}

/// Rebuilds an HTML page from what the allow-list keeps.
pub(crate) fn rebuild(
    input: &[u8],
    policy: &CdrPolicy,
    deadline: Instant,
) -> Result<Rebuilt, Failure> {
    let text = std::str::from_utf8(input).map_err(|_| Failure {
        category: FailureCategory::UnsupportedVersion,
        reason: "only UTF-8 pages are rebuilt".into(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let counter = Counter {
        policy,
        removals: RefCell::new(Removals::default()),
        title: RefCell::new(None),
        in_title: RefCell::new(false),
    };
    let tokenizer = Tokenizer::new(counter, TokenizerOpts::default());
    let queue = BufferQueue::default();
    queue.push_back(text.into());
    let _ = tokenizer.feed(&queue);
    tokenizer.end();
    if Instant::now() > deadline {
        return Err(Failure::timed_out());
    }
    let counter = tokenizer.sink;
    let body = ammonia_builder(policy).clean(text).to_string();
    if Instant::now() > deadline {
        return Err(Failure::timed_out());
    }
    let title = counter
        .title
        .into_inner()
        .map(|title| format!("<title>{}</title>", escape(title.trim())))
        .unwrap_or_default();
    // The body's outer whitespace is the frame's own, so a copy rebuilds to itself.
    let page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">{title}</head><body>\n{}\n</body></html>\n",
        body.trim()
    );
    Ok(Rebuilt {
        bytes: page.into_bytes(),
        removals: counter.removals.into_inner(),
        ..Rebuilt::default()
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_told_from_other_text_by_their_first_tag() {
        assert!(is_html(b"<!DOCTYPE html><html></html>"));
        assert!(is_html(b"\n  <HTML lang=en>"));
        assert!(is_html(b"<a href=\"x\">y</a>"));
        assert!(is_html(b"<p>text"));
        assert!(!is_html(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"));
        assert!(
            !is_html(b"<abbr>"),
            "a signature is followed by a space or >"
        );
        assert!(!is_html(b"plain text <html>"));
        assert!(!is_html(b"<?xml version=\"1.0\"?><root/>"));
    }
}
