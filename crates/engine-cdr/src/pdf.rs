//! PDF: the document is parsed whole, every place active content can hang from is cleared, and
//! a new file is written from the surviving objects (a full rewrite, never an incremental
//! save: removed objects, old revisions and bytes outside the document are not in it).
//!
//! Where active content hides: JavaScript in the names tree and in every action slot (the
//! catalog's OpenAction and AA, pages' and annotations' A and AA, form fields' AA, outline
//! items, `/Next` chains); Launch, GoToE, GoToR, SubmitForm and ImportData actions; embedded
//! files (the EmbeddedFiles tree, `/AF`, `/EF` of file specifications, FileAttachment
//! annotations, collections); XFA forms; RichMedia, 3D, Screen, Movie and Sound annotations;
//! metadata (the information dictionary, XMP streams). The sweep clears the known slots, and
//! then replaces any action or embedded file left anywhere else with null, so nothing is kept
//! merely because it hung from an unusual key.

use std::collections::HashSet;
use std::time::Instant;

use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId};
use palisade_model::{ActiveObject, CdrPolicy, FailureCategory};

use crate::{Failure, Rebuilt, Removals};

/// Deepest nesting of direct objects the sweep follows; deeper is an invalid structure.
const MAX_DEPTH: usize = 100;
/// Longest `/Next` chain or name tree followed.
const MAX_CHAIN: usize = 10_000;
/// Largest stream the parser decompresses while loading (object streams).
const MAX_DECOMPRESSED: usize = 256 << 20;

/// Where the header must start (readers accept some bytes before it).
const HEADER_WINDOW: usize = 1024;

pub(crate) fn is_pdf(head: &[u8]) -> bool {
    find(&head[..head.len().min(HEADER_WINDOW)], b"%PDF-").is_some()
}

/// Rebuilds `input` without the active content the policy removes.
pub(crate) fn rebuild(
    input: &[u8],
    policy: &CdrPolicy,
    deadline: Instant,
) -> Result<Rebuilt, Failure> {
    let mut removals = Removals::default();
    let start = find(&input[..input.len().min(HEADER_WINDOW)], b"%PDF-")
        .ok_or_else(|| Failure::invalid("no %PDF- header"))?;
    if start > 0 {
        removals.record(
            ActiveObject::TrailingData,
            true,
            &format!("{start} bytes before the %PDF- header"),
        );
    }
    if let Some(end) = rfind(input, b"%%EOF") {
        let after = &input[end + 5..];
        if after.iter().any(|b| !b.is_ascii_whitespace()) {
            removals.record(
                ActiveObject::TrailingData,
                true,
                &format!("{} bytes after the last %%EOF", after.len()),
            );
        }
    }
    let options = LoadOptions {
        max_decompressed_size: Some(MAX_DECOMPRESSED),
        ..LoadOptions::default()
    };
    let mut doc = match Document::load_mem_with_options(&input[start..], options) {
        Ok(doc) => doc,
        Err(_) if find(input, b"/Encrypt").is_some() => return Err(password_protected()),
        Err(error) => return Err(Failure::invalid(format!("not a readable PDF: {error}"))),
    };
    if doc.was_encrypted() || doc.trailer.has(b"Encrypt") {
        return Err(password_protected());
    }
    if !doc.version.starts_with("1.") && !doc.version.starts_with("2.") {
        return Err(Failure {
            category: FailureCategory::UnsupportedVersion,
            reason: format!("PDF version {:?} is not supported", doc.version),
        });
    }
    doc.catalog()
        .map_err(|error| Failure::invalid(format!("no document catalog: {error}")))?;
    let signed = is_signed(&doc);

    // Objects nothing refers to: hidden payloads, leftovers of edits. They are gone from any
    // rebuild, and reported by what they are (an unreferenced embedded file is an embedded
    // file). Object and cross-reference streams are containers the rewrite replaces.
    let before: Vec<(ObjectId, Option<Option<ActiveObject>>)> = doc
        .objects
        .iter()
        .map(|(id, object)| (*id, orphan_kind(object)))
        .collect();
    let pruned: HashSet<ObjectId> = doc.prune_objects().into_iter().collect();
    for (id, kind) in before {
        if let Some(kind) = kind.filter(|_| pruned.contains(&id)) {
            removals.record(
                kind.unwrap_or(ActiveObject::OrphanObject),
                true,
                &format!("unreferenced object {} {}", id.0, id.1),
            );
        }
    }
    let mut sweep = Sweep {
        policy,
        removals,
        counted: HashSet::new(),
        deadline,
    };
    let ids: Vec<ObjectId> = doc.objects.keys().copied().collect();
    for id in ids {
        sweep.check_time()?;
        // Taken out while it is swept, so the rest of the document can be read meanwhile.
        let Some(mut object) = doc.objects.remove(&id) else {
            continue;
        };
        if sweep.removed_whole(&object) {
            // An action, annotation or file removed as a whole is counted as itself where it
            // is referred to, not for what it holds.
            doc.objects.insert(id, object);
            continue;
        }
        let swept = sweep.object(&doc, &mut object, 0);
        doc.objects.insert(id, object);
        swept?;
    }
    // What the sweep detached goes, then what is still referred to from elsewhere is nulled.
    doc.prune_objects();
    sweep.leftovers(&mut doc)?;
    let mut trailer = std::mem::take(&mut doc.trailer);
    sweep.dictionary(&doc, &mut trailer, 0)?;
    if sweep.policy.removes(ActiveObject::Metadata) && trailer.remove(b"Info").is_some() {
        sweep.removals.record(
            ActiveObject::Metadata,
            true,
            "document information dictionary",
        );
    }
    doc.trailer = trailer;
    // What the sweep detached goes too; the survivors are numbered from 1, so a rebuilt
    // document rebuilds to the same bytes.
    doc.prune_objects();
    doc.renumber_objects();
    let mut bytes = Vec::with_capacity(input.len());
    doc.save_to(&mut bytes)
        .map_err(|error| Failure::failed(format!("writing the rebuilt PDF: {error}")))?;
    Ok(Rebuilt {
        bytes,
        removals: sweep.removals,
        signed,
        ..Rebuilt::default()
    })
}

fn password_protected() -> Failure {
    Failure {
        category: FailureCategory::PasswordProtected,
        reason: "the PDF is encrypted".into(),
    }
}

/// What an object is reported as when nothing refers to it: `None` for the containers a
/// rewrite replaces (object and cross-reference streams), else its kind of active content if
/// it has one.
fn orphan_kind(object: &Object) -> Option<Option<ActiveObject>> {
    let dict = match object {
        Object::Dictionary(dict) => dict,
        Object::Stream(stream) => &stream.dict,
        _ => return Some(None),
    };
    if dict.has_type(b"ObjStm") || dict.has_type(b"XRef") {
        return None;
    }
    Some(if dict.has_type(b"EmbeddedFile") {
        Some(ActiveObject::EmbeddedFile)
    } else {
        action_kind(dict).or_else(|| annotation_kind(dict))
    })
}

/// Whether the document carries a digital signature (a signature dictionary, or a signed
/// signature field).
fn is_signed(doc: &Document) -> bool {
    fn signature(dict: &Dictionary) -> bool {
        dict.has_type(b"Sig")
            || (dict.has(b"ByteRange") && dict.has(b"Contents"))
            || matches!(dict.get(b"FT").and_then(Object::as_name), Ok(b"Sig")) && dict.has(b"V")
    }
    doc.objects.values().any(|object| match object {
        Object::Dictionary(dict) => {
            signature(dict)
                || dict
                    .iter()
                    .any(|(_, value)| matches!(value, Object::Dictionary(d) if signature(d)))
        }
        _ => false,
    })
}

/// What kind of active content an action dictionary is, if it is one.
fn action_kind(dict: &Dictionary) -> Option<ActiveObject> {
    if dict.has(b"JS") {
        return Some(ActiveObject::Javascript);
    }
    match dict.get(b"S").and_then(Object::as_name).ok()? {
        b"JavaScript" => Some(ActiveObject::Javascript),
        b"Launch" | b"GoToE" | b"GoToR" => Some(ActiveObject::Launch),
        b"SubmitForm" | b"ImportData" => Some(ActiveObject::FormSubmission),
        b"Rendition" | b"Movie" | b"Sound" | b"RichMediaExecute" => Some(ActiveObject::RichMedia),
        b"URI" => Some(ActiveObject::Hyperlink),
        _ => None,
    }
}

/// What kind of active content an annotation is, by its subtype.
fn annotation_kind(dict: &Dictionary) -> Option<ActiveObject> {
    match dict.get(b"Subtype").and_then(Object::as_name).ok()? {
        b"FileAttachment" => Some(ActiveObject::EmbeddedFile),
        b"RichMedia" | b"3D" | b"Screen" | b"Movie" | b"Sound" => Some(ActiveObject::RichMedia),
        _ => None,
    }
}

/// What identifies an action in the report: its type and its script, target or address.
fn describe_action(doc: &Document, dict: &Dictionary) -> String {
    let kind = dict
        .get(b"S")
        .and_then(Object::as_name)
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .unwrap_or_else(|_| {
            if dict.has(b"JS") {
                "JavaScript"
            } else {
                "action"
            }
            .into()
        });
    let what = [&b"JS"[..], b"F", b"URI"]
        .iter()
        .find_map(|key| dict.get(key).ok())
        .map(|value| describe_value(doc, value))
        .unwrap_or_default();
    if what.is_empty() {
        kind
    } else {
        format!("{kind}: {what}")
    }
}

/// A string's text, a file specification's name, or a stream's size.
fn describe_value(doc: &Document, value: &Object) -> String {
    let value = match value {
        Object::Reference(id) => match doc.get_object(*id) {
            Ok(object) => object,
            Err(_) => return String::new(),
        },
        direct => direct,
    };
    match value {
        Object::String(bytes, _) => String::from_utf8_lossy(bytes).into_owned(),
        Object::Name(name) => String::from_utf8_lossy(name).into_owned(),
        Object::Stream(stream) => format!("(a stream of {} bytes)", stream.content.len()),
        Object::Dictionary(dict) => file_name(dict),
        _ => String::new(),
    }
}

/// A file specification's name.
fn file_name(dict: &Dictionary) -> String {
    [&b"UF"[..], b"F", b"Desc"]
        .iter()
        .find_map(|key| match dict.get(key) {
            Ok(Object::String(bytes, _)) => Some(decode_text(bytes)),
            _ => None,
        })
        .unwrap_or_default()
}

/// A PDF text string (UTF-16 with a byte order mark, or PDFDocEncoding read as Latin-1).
fn decode_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xfe, 0xff]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// One pass over the document, recording what it removes.
struct Sweep<'a> {
    policy: &'a CdrPolicy,
    removals: Removals,
    /// Indirect objects already counted (an action referred to twice is one action).
    counted: HashSet<ObjectId>,
    deadline: Instant,
}

impl Sweep<'_> {
    fn check_time(&self) -> Result<(), Failure> {
        if Instant::now() > self.deadline {
            return Err(Failure::timed_out());
        }
        Ok(())
    }

    /// Whether a top-level object is removed whole when it is referred to: an action, an
    /// annotation or an embedded file the policy removes.
    fn removed_whole(&self, object: &Object) -> bool {
        let dict = match object {
            Object::Dictionary(dict) => dict,
            Object::Stream(stream) => &stream.dict,
            _ => return false,
        };
        let kind = if dict.has_type(b"EmbeddedFile") {
            Some(ActiveObject::EmbeddedFile)
        } else {
            action_kind(dict).or_else(|| annotation_kind(dict))
        };
        kind.is_some_and(|kind| self.policy.removes(kind))
    }

    /// Counts one object, once however often it is referred to (`id`), or each time when it
    /// is direct.
    fn count(&mut self, kind: ActiveObject, id: Option<ObjectId>, detail: &str) {
        if id.is_none_or(|id| self.counted.insert(id)) {
            let removed = self.policy.removes(kind);
            self.removals.record(kind, removed, detail);
        }
    }

    fn object(&mut self, doc: &Document, object: &mut Object, depth: usize) -> Result<(), Failure> {
        match object {
            Object::Dictionary(dict) => self.dictionary(doc, dict, depth),
            Object::Stream(stream) => self.dictionary(doc, &mut stream.dict, depth),
            Object::Array(items) => self.array(doc, items, depth),
            _ => Ok(()),
        }
    }

    fn array(&mut self, doc: &Document, items: &mut [Object], depth: usize) -> Result<(), Failure> {
        for item in items {
            self.direct(doc, item, depth + 1)?;
        }
        Ok(())
    }

    /// A direct value inside a dictionary or array: an action or annotation that the policy
    /// removes becomes null wherever it is; anything else is swept.
    fn direct(&mut self, doc: &Document, value: &mut Object, depth: usize) -> Result<(), Failure> {
        if let Object::Dictionary(dict) = value
            && let Some(kind) = action_kind(dict).or_else(|| annotation_kind(dict))
            && self.policy.removes(kind)
        {
            let detail = describe_action(doc, dict);
            self.count(kind, None, &detail);
            // Its own chain is counted as well.
            let mut chain = Vec::new();
            if let Ok(next) = dict.get(b"Next") {
                self.chain(doc, next, &mut chain, &mut HashSet::new(), 0);
            }
            for (kind, id, detail) in chain {
                self.count(kind, id, &detail);
            }
            *value = Object::Null;
            return Ok(());
        }
        self.object(doc, value, depth)
    }

    fn dictionary(
        &mut self,
        doc: &Document,
        dict: &mut Dictionary,
        depth: usize,
    ) -> Result<(), Failure> {
        if depth > MAX_DEPTH {
            return Err(Failure::invalid(format!(
                "objects nested deeper than {MAX_DEPTH} levels"
            )));
        }
        self.triggers(doc, dict);
        for key in [&b"A"[..], b"OpenAction", b"PA"] {
            self.action_slot(doc, dict, key);
        }
        self.names(doc, dict);
        self.attachments(doc, dict);
        self.annotations(doc, dict);
        self.forms_and_metadata(dict);
        for (_, value) in dict.iter_mut() {
            self.direct(doc, value, depth + 1)?;
        }
        Ok(())
    }

    /// Collects the kinds of an action and of the actions its `/Next` chain runs after it.
    fn chain(
        &self,
        doc: &Document,
        value: &Object,
        out: &mut Vec<(ActiveObject, Option<ObjectId>, String)>,
        seen: &mut HashSet<ObjectId>,
        steps: usize,
    ) {
        if steps > MAX_CHAIN {
            return;
        }
        let (id, object) = match value {
            Object::Reference(id) => {
                if !seen.insert(*id) {
                    return;
                }
                match doc.get_object(*id) {
                    Ok(object) => (Some(*id), object),
                    Err(_) => return,
                }
            }
            direct => (None, direct),
        };
        match object {
            Object::Array(items) => {
                for item in items {
                    self.chain(doc, item, out, seen, steps + 1);
                }
            }
            Object::Dictionary(dict) => {
                if let Some(kind) = action_kind(dict) {
                    out.push((kind, id, describe_action(doc, dict)));
                }
                if let Ok(next) = dict.get(b"Next") {
                    self.chain(doc, next, out, seen, steps + 1);
                }
            }
            _ => {}
        }
    }

    /// An action slot (`/A`, `/OpenAction`): cleared when the action, or any action chained
    /// after it, is one the policy removes. A destination (an array) is not an action and
    /// stays.
    fn action_slot(&mut self, doc: &Document, dict: &mut Dictionary, key: &[u8]) {
        let Ok(value) = dict.get(key) else {
            return;
        };
        let mut chain = Vec::new();
        if !matches!(resolve(doc, value), Some(Object::Dictionary(_))) {
            return;
        }
        self.chain(doc, value, &mut chain, &mut HashSet::new(), 0);
        if chain.iter().any(|(kind, _, _)| self.policy.removes(*kind)) {
            for (kind, id, detail) in chain {
                self.count(kind, id, &detail);
            }
            dict.remove(key);
        }
    }

    /// `/AA`, the additional actions run on events (opening, closing, printing, keystrokes,
    /// focus): each event whose action chain holds something removed loses its action.
    fn triggers(&mut self, doc: &Document, dict: &mut Dictionary) {
        let Ok(value) = dict.get(b"AA") else {
            return;
        };
        let Some(Object::Dictionary(events)) = resolve(doc, value) else {
            dict.remove(b"AA");
            return;
        };
        let mut kept = Dictionary::new();
        for (event, action) in events.iter() {
            let mut chain = Vec::new();
            self.chain(doc, action, &mut chain, &mut HashSet::new(), 0);
            if chain.iter().any(|(kind, _, _)| self.policy.removes(*kind)) {
                for (kind, id, detail) in chain {
                    self.count(kind, id, &detail);
                }
            } else {
                kept.set(event.clone(), action.clone());
            }
        }
        if kept.is_empty() {
            dict.remove(b"AA");
        } else {
            dict.set("AA", Object::Dictionary(kept));
        }
    }

    /// The names dictionary's JavaScript and EmbeddedFiles trees.
    fn names(&mut self, doc: &Document, dict: &mut Dictionary) {
        for (key, kind) in [
            (&b"JavaScript"[..], ActiveObject::Javascript),
            (b"EmbeddedFiles", ActiveObject::EmbeddedFile),
        ] {
            if !self.policy.removes(kind) {
                continue;
            }
            let Some(tree) = dict.remove(key) else {
                continue;
            };
            let mut leaves = Vec::new();
            name_tree_leaves(doc, &tree, &mut leaves, &mut HashSet::new(), 0);
            if leaves.is_empty() {
                self.count(kind, None, "");
            }
            for (id, detail) in leaves {
                self.count(kind, id, &detail);
            }
        }
    }

    /// Associated files (`/AF`), embedded file streams of file specifications (`/EF`), and
    /// portfolios (`/Collection`).
    fn attachments(&mut self, doc: &Document, dict: &mut Dictionary) {
        if !self.policy.removes(ActiveObject::EmbeddedFile) {
            return;
        }
        if let Some(associated) = dict.remove(b"AF") {
            let files = match resolve(doc, &associated) {
                Some(Object::Array(items)) => items.clone(),
                _ => vec![associated.clone()],
            };
            for file in &files {
                let id = file_identity(doc, file);
                let name = describe_value(doc, file);
                self.count(ActiveObject::EmbeddedFile, id, &name);
            }
        }
        if dict.has(b"EF") {
            let name = file_name(dict);
            let id = embedded_stream(doc, dict);
            self.count(ActiveObject::EmbeddedFile, id, &name);
            dict.remove(b"EF");
        }
        if dict.remove(b"Collection").is_some() {
            self.count(ActiveObject::EmbeddedFile, None, "portfolio (collection)");
        }
    }

    /// `/Annots`: annotations that carry files or multimedia leave the page.
    fn annotations(&mut self, doc: &Document, dict: &mut Dictionary) {
        let Ok(Object::Array(annotations)) = dict.get_mut(b"Annots") else {
            return;
        };
        let mut removed = Vec::new();
        annotations.retain(|annotation| {
            let (id, object) = match annotation {
                Object::Reference(id) => (Some(*id), doc.get_object(*id).ok()),
                direct => (None, Some(direct)),
            };
            let Some(Object::Dictionary(annotation)) = object else {
                return true;
            };
            match annotation_kind(annotation) {
                Some(kind) if self.policy.removes(kind) => {
                    let subtype = annotation
                        .get(b"Subtype")
                        .and_then(Object::as_name)
                        .map(|name| String::from_utf8_lossy(name).into_owned())
                        .unwrap_or_default();
                    let id = annotation
                        .get(b"FS")
                        .ok()
                        .and_then(|spec| file_identity(doc, spec))
                        .or(id);
                    removed.push((kind, id, format!("{subtype} annotation")));
                    false
                }
                _ => true,
            }
        });
        for (kind, id, detail) in removed {
            self.count(kind, id, &detail);
        }
    }

    /// XFA forms (in the AcroForm dictionary) and metadata streams.
    fn forms_and_metadata(&mut self, dict: &mut Dictionary) {
        for (key, kind, detail) in [
            (&b"XFA"[..], ActiveObject::Xfa, "XFA form"),
            (b"Metadata", ActiveObject::Metadata, "XMP metadata stream"),
            (
                b"PieceInfo",
                ActiveObject::Metadata,
                "application data (PieceInfo)",
            ),
        ] {
            if !self.policy.removes(kind) {
                continue;
            }
            if let Some(value) = dict.remove(key) {
                self.count(kind, value.as_reference().ok(), detail);
                if kind == ActiveObject::Xfa {
                    dict.remove(b"NeedsRendering");
                }
            }
        }
    }

    /// Indirect objects still present that are removed content (an action, an embedded file,
    /// a multimedia annotation referred to from somewhere the sweep does not know) become
    /// null: nothing survives for hanging from an unusual key.
    fn leftovers(&mut self, doc: &mut Document) -> Result<(), Failure> {
        let mut nulled = Vec::new();
        for (id, object) in &doc.objects {
            self.check_time()?;
            let dict = match object {
                Object::Dictionary(dict) => dict,
                Object::Stream(stream) => &stream.dict,
                _ => continue,
            };
            let (kind, detail) = if dict.has_type(b"EmbeddedFile") {
                (
                    Some(ActiveObject::EmbeddedFile),
                    "embedded file stream".into(),
                )
            } else if dict.has_type(b"Metadata") {
                (Some(ActiveObject::Metadata), "metadata stream".into())
            } else if let Some(kind) = annotation_kind(dict) {
                (Some(kind), "annotation".into())
            } else {
                (action_kind(dict), describe_action(doc, dict))
            };
            if let Some(kind) = kind.filter(|kind| self.policy.removes(*kind)) {
                nulled.push((*id, kind, detail));
            }
        }
        for (id, kind, detail) in nulled {
            self.count(kind, Some(id), &detail);
            doc.objects.insert(id, Object::Null);
        }
        Ok(())
    }
}

/// What identifies an embedded file however it is reached (a file specification, its
/// embedded stream, an annotation's `/FS`): the embedded stream's object, so one file named
/// from several places is counted once.
fn file_identity(doc: &Document, value: &Object) -> Option<ObjectId> {
    match resolve(doc, value) {
        Some(Object::Dictionary(spec)) => embedded_stream(doc, spec),
        _ => None,
    }
    .or_else(|| value.as_reference().ok())
}

/// The object of a file specification's embedded stream (`/EF`).
fn embedded_stream(doc: &Document, spec: &Dictionary) -> Option<ObjectId> {
    let Some(Object::Dictionary(streams)) = resolve(doc, spec.get(b"EF").ok()?) else {
        return None;
    };
    streams
        .iter()
        .find_map(|(_, stream)| stream.as_reference().ok())
}

/// A value, or the object it refers to.
fn resolve<'a>(doc: &'a Document, value: &'a Object) -> Option<&'a Object> {
    match value {
        Object::Reference(id) => doc.get_object(*id).ok(),
        direct => Some(direct),
    }
}

/// The values of a name tree (`/Names` pairs, through `/Kids`), with their object ids.
fn name_tree_leaves(
    doc: &Document,
    node: &Object,
    out: &mut Vec<(Option<ObjectId>, String)>,
    seen: &mut HashSet<ObjectId>,
    steps: usize,
) {
    if steps > MAX_CHAIN || out.len() > MAX_CHAIN {
        return;
    }
    if let Object::Reference(id) = node
        && !seen.insert(*id)
    {
        return;
    }
    let Some(Object::Dictionary(dict)) = resolve(doc, node) else {
        return;
    };
    if let Ok(names) = dict.get(b"Names")
        && let Some(Object::Array(pairs)) = resolve(doc, names)
    {
        for pair in pairs.chunks(2) {
            if let [name, value] = pair {
                let label = describe_value(doc, name);
                let what = match resolve(doc, value) {
                    Some(Object::Dictionary(action)) if action_kind(action).is_some() => {
                        describe_action(doc, action)
                    }
                    Some(Object::Dictionary(spec)) => file_name(spec),
                    _ => String::new(),
                };
                let detail = if what.is_empty() {
                    label
                } else {
                    format!("{label}: {what}")
                };
                out.push((
                    file_identity(doc, value).or(value.as_reference().ok()),
                    detail,
                ));
            }
        }
    }
    if let Ok(kids) = dict.get(b"Kids")
        && let Some(Object::Array(kids)) = resolve(doc, kids)
    {
        for kid in kids {
            name_tree_leaves(doc, kid, out, seen, steps + 1);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}
