//! Office Open XML (docx, docm, dotx, dotm, xlsx, xlsm, xltx, xltm, pptx, pptm, ppsx, ppsm,
//! potx, potm): the package is read part by part and written into a new zip without what the
//! policy removes.
//!
//! The relationships are walked from the package root. A relationship to a VBA project, an
//! Excel 4 macro sheet or dialog sheet (Macro), an ActiveX control (ActiveX control), an OLE
//! object (Embedded OLE object), an external workbook link (DDE field when it is a DDE link,
//! else External reference), document properties (Metadata) or anything outside the package
//! other than a hyperlink (External reference: attached templates, subdocuments, linked
//! images and objects) is cut, and the parts only it reached are left out. Parts nothing
//! reaches are Unreferenced objects. Embedded packages are sanitized on their own (a nested
//! item of the report), images are re-encoded, and then every XML part is edited so that no
//! element refers to what is gone ([`edit`]). A macro-enabled document comes back as its
//! macro-free type, with its content type changed.

mod dom;
mod edit;
pub(crate) mod package;

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use palisade_model::{ActiveObject, CdrPolicy};

use self::dom::Document;
use self::package::{CONTENT_TYPES, ContentTypes, Package, Relationship};
use crate::{Failure, Format, Rebuilt, Removals};

/// Packages inside packages, rebuilt at most this deep.
const MAX_NESTING: usize = 3;

/// One type of Office Open XML document.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Type {
    /// The name rules use, which is also the extension.
    pub name: &'static str,
    label: &'static str,
    /// The content type of the main part.
    main: &'static str,
    /// The type without macros, for a macro-enabled one.
    plain: Option<&'static str>,
}

const WORD: &str = "Word";
const EXCEL: &str = "Excel";
const POWERPOINT: &str = "PowerPoint";
const OPENXML: &str = "application/vnd.openxmlformats-officedocument.";

const TYPES: [Type; 14] = [
    Type::new("docx", WORD, "wordprocessingml.document.main+xml", None),
    Type::new(
        "docm",
        WORD,
        "ms-word.document.macroEnabled.main+xml",
        Some("docx"),
    ),
    Type::new("dotx", WORD, "wordprocessingml.template.main+xml", None),
    Type::new(
        "dotm",
        WORD,
        "ms-word.template.macroEnabledTemplate.main+xml",
        Some("dotx"),
    ),
    Type::new("xlsx", EXCEL, "spreadsheetml.sheet.main+xml", None),
    Type::new(
        "xlsm",
        EXCEL,
        "ms-excel.sheet.macroEnabled.main+xml",
        Some("xlsx"),
    ),
    Type::new("xltx", EXCEL, "spreadsheetml.template.main+xml", None),
    Type::new(
        "xltm",
        EXCEL,
        "ms-excel.template.macroEnabled.main+xml",
        Some("xltx"),
    ),
    Type::new(
        "pptx",
        POWERPOINT,
        "presentationml.presentation.main+xml",
        None,
    ),
    Type::new(
        "pptm",
        POWERPOINT,
        "ms-powerpoint.presentation.macroEnabled.main+xml",
        Some("pptx"),
    ),
    Type::new(
        "ppsx",
        POWERPOINT,
        "presentationml.slideshow.main+xml",
        None,
    ),
    Type::new(
        "ppsm",
        POWERPOINT,
        "ms-powerpoint.slideshow.macroEnabled.main+xml",
        Some("ppsx"),
    ),
    Type::new("potx", POWERPOINT, "presentationml.template.main+xml", None),
    Type::new(
        "potm",
        POWERPOINT,
        "ms-powerpoint.template.macroEnabled.main+xml",
        Some("potx"),
    ),
];

impl Type {
    /// `main` is the main part's content type: after `application/vnd.` for the macro-enabled
    /// ones (`ms-word...`), else after the Office Open XML prefix.
    const fn new(
        name: &'static str,
        label: &'static str,
        main: &'static str,
        plain: Option<&'static str>,
    ) -> Self {
        Self {
            name,
            label,
            main,
            plain,
        }
    }

    /// The main part's full content type.
    fn main_type(&self) -> String {
        if self.main.starts_with("ms-") {
            format!("application/vnd.{}", self.main)
        } else {
            format!("{OPENXML}{}", self.main)
        }
    }

    fn by_name(name: &str) -> &'static Type {
        TYPES.iter().find(|t| t.name == name).unwrap_or(&TYPES[0])
    }

    pub fn label(&self) -> String {
        format!("{} document ({})", self.label, self.name)
    }

    /// The type the rebuilt copy has: the macro-free one when macros are removed.
    pub fn output(&'static self, policy: &CdrPolicy) -> &'static Type {
        match self.plain {
            Some(plain) if policy.removes(ActiveObject::Macro) => Type::by_name(plain),
            _ => self,
        }
    }

    fn is_excel(&self) -> bool {
        self.label == "Excel"
    }
}

/// The document type, when the bytes are an Office Open XML package (read from its
/// `[Content_Types].xml` alone).
pub(crate) fn detect(input: &[u8]) -> Option<&'static Type> {
    if !Package::is_zip(input) {
        return None;
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(input)).ok()?;
    let position = zip.index_for_name(CONTENT_TYPES)?;
    let entry = zip.by_index(position).ok()?;
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(entry, 4 << 20), &mut data).ok()?;
    let document =
        Document::parse(&data, Instant::now() + std::time::Duration::from_secs(5)).ok()?;
    let mut found = None;
    dom::for_each(&document.nodes, &mut |element| {
        if found.is_none()
            && element.local() == b"Override"
            && let Some(content_type) = element.attribute("ContentType")
        {
            found = TYPES.iter().find(|kind| kind.main_type() == content_type);
        }
    });
    found
}

/// Rebuilds a package.
pub(crate) fn rebuild(
    input: &[u8],
    kind: &'static Type,
    policy: &CdrPolicy,
    deadline: Instant,
) -> Result<Rebuilt, Failure> {
    rebuild_at(input, kind, policy, deadline, 0)
}

fn rebuild_at(
    input: &[u8],
    kind: &'static Type,
    policy: &CdrPolicy,
    deadline: Instant,
    depth: usize,
) -> Result<Rebuilt, Failure> {
    let package = Package::read(input, deadline)?;
    let types = package.content_types()?;
    let mut plan = Plan {
        package: &package,
        types: &types,
        policy,
        deadline,
        depth,
        removals: Removals::default(),
        seen: HashSet::new(),
        visited: Vec::new(),
        incoming: HashMap::new(),
        cut: HashMap::new(),
        cut_targets: Vec::new(),
        dropped: HashSet::new(),
        kept_orphans: HashSet::new(),
        replaced: HashMap::new(),
        embedded: HashSet::new(),
        signed: false,
        external_links_cut: false,
        workbook: edit::WorkbookCuts::default(),
    };
    let main = plan.walk()?;
    plan.drop_unreached();
    plan.rebuild_contents()?;
    if kind.is_excel()
        && let Some(main) = &main
    {
        plan.cut_sheets(main)?;
    }
    plan.edit_parts(main.as_deref())?;
    let parts = plan.finish(kind, main.as_deref())?;
    Ok(Rebuilt {
        bytes: package::write_zip(&parts)?,
        removals: plan.removals,
        signed: plan.signed,
        ..Rebuilt::default()
    })
}

/// What to do with one relationship.
enum Step {
    /// Keep it, and walk the part it points at.
    Follow,
    /// Keep it; the part is an embedded package, sanitized on its own.
    Embedded,
    /// Remove it (and the part); `content` says whether the elements holding the reference
    /// go with it (an object) or only the reference (a link).
    Cut { content: bool },
}

/// The rebuild of one package, step by step. Part names are kept lower-cased.
struct Plan<'a> {
    package: &'a Package,
    types: &'a ContentTypes,
    policy: &'a CdrPolicy,
    deadline: Instant,
    depth: usize,
    removals: Removals,
    /// Parts reached by kept relationships ("" is the package root), and in walk order.
    seen: HashSet<String>,
    visited: Vec<String>,
    /// Per part, the (source part, relationship id) that point at it.
    incoming: HashMap<String, Vec<(String, String)>>,
    /// Per source part, the relationships cut.
    cut: HashMap<String, edit::Cut>,
    /// Parts pointed at by cut relationships.
    cut_targets: Vec<String>,
    /// Parts left out of the rebuild.
    dropped: HashSet<String>,
    /// Unreferenced parts the rule keeps.
    kept_orphans: HashSet<String>,
    /// Parts whose bytes changed.
    replaced: HashMap<String, Vec<u8>>,
    /// Embedded packages and files.
    embedded: HashSet<String>,
    signed: bool,
    external_links_cut: bool,
    workbook: edit::WorkbookCuts,
}

impl Plan<'_> {
    /// Walks the relationships from the package root, deciding on each; returns the main
    /// part.
    fn walk(&mut self) -> Result<Option<String>, Failure> {
        let mut main = None;
        let mut queue = VecDeque::from([String::new()]);
        self.seen.insert(String::new());
        while let Some(source) = queue.pop_front() {
            if Instant::now() > self.deadline {
                return Err(Failure::timed_out());
            }
            for rel in self.package.relationships(&source)? {
                if source.is_empty() && rel.short_kind() == "officeDocument" {
                    main = rel.part.as_ref().map(|part| part.to_lowercase());
                }
                let step = self.step(&rel);
                let target = rel.part.as_ref().map(|part| part.to_lowercase());
                match (step, target) {
                    (Step::Cut { content }, target) => {
                        self.cut
                            .entry(source.clone())
                            .or_default()
                            .insert(rel.id.clone(), content);
                        self.cut_targets.extend(target);
                    }
                    (step, Some(target)) if self.package.get(&target).is_some() => {
                        self.incoming
                            .entry(target.clone())
                            .or_default()
                            .push((source.clone(), rel.id.clone()));
                        if matches!(step, Step::Embedded) {
                            self.embedded.insert(target.clone());
                        }
                        if self.seen.insert(target.clone()) {
                            self.visited.push(target.clone());
                            if !matches!(step, Step::Embedded) {
                                queue.push_back(target);
                            }
                        }
                    }
                    // A link out of the package that stays, or a target that is not there.
                    _ => {}
                }
            }
        }
        Ok(main)
    }

    /// Decides on one relationship.
    fn step(&mut self, rel: &Relationship) -> Step {
        let short = rel.short_kind();
        let Some(part) = &rel.part else {
            let kind = if short == "hyperlink" {
                ActiveObject::Hyperlink
            } else {
                ActiveObject::ExternalReference
            };
            let detail = if short == "hyperlink" {
                rel.target.clone()
            } else {
                format!("{short} {}", rel.target)
            };
            return self.decide(kind, &detail, false);
        };
        let data = self
            .package
            .get(part)
            .map_or(&[][..], |p| p.data.as_slice());
        match short {
            "vbaProject" => self.decide(
                ActiveObject::Macro,
                &crate::vba::describe(
                    &format!("VBA project {part}"),
                    &crate::ole::vba_modules(data),
                ),
                true,
            ),
            "xlMacrosheet" | "xlIntlMacrosheet" | "dialogsheet" => self.decide(
                ActiveObject::Macro,
                &format!("Excel 4 macro sheet {part}: {}", first_formulas(data)),
                true,
            ),
            "control" | "activeXControlBinary" => self.decide(
                ActiveObject::ActiveX,
                &format!("ActiveX control {part}"),
                true,
            ),
            "oleObject" => self.decide(
                ActiveObject::OleObject,
                &format!("{part} ({} bytes)", data.len()),
                true,
            ),
            "package" => Step::Embedded,
            "externalLink" => {
                let step = match dde_link(data) {
                    Some(link) => self.decide(ActiveObject::Dde, &link, true),
                    None => self.decide(
                        ActiveObject::ExternalReference,
                        &format!("external workbook link {part}"),
                        true,
                    ),
                };
                if matches!(step, Step::Cut { .. }) {
                    self.external_links_cut = true;
                }
                step
            }
            "core-properties" | "extended-properties" | "custom-properties" | "metadata" => self
                .decide(
                    ActiveObject::Metadata,
                    &format!("document properties {part}"),
                    false,
                ),
            "origin" => {
                // The rebuilt package can no longer match its signature, which goes.
                self.signed = true;
                self.removals
                    .record(ActiveObject::Metadata, true, "digital signature");
                Step::Cut { content: false }
            }
            _ => Step::Follow,
        }
    }

    fn decide(&mut self, kind: ActiveObject, detail: &str, content: bool) -> Step {
        let removes = self.policy.removes(kind);
        self.removals.record(kind, removes, detail);
        if removes {
            Step::Cut { content }
        } else {
            Step::Follow
        }
    }

    /// Leaves out what only cut relationships reached, and handles the parts nothing
    /// reaches.
    fn drop_unreached(&mut self) {
        let mut queue: VecDeque<String> = self.cut_targets.drain(..).collect();
        let mut owned = HashSet::new();
        while let Some(part) = queue.pop_front() {
            if self.seen.contains(&part) || !owned.insert(part.clone()) {
                continue;
            }
            for rel in self.package.relationships(&part).unwrap_or_default() {
                queue.extend(rel.part.map(|target| target.to_lowercase()));
            }
        }
        self.dropped.extend(owned);
        for part in &self.package.parts {
            let key = part.name.to_lowercase();
            if self.seen.contains(&key)
                || self.dropped.contains(&key)
                || key == CONTENT_TYPES.to_lowercase()
                || key.ends_with(".rels")
            {
                continue;
            }
            let removes = self.policy.removes(ActiveObject::OrphanObject);
            self.removals.record(
                ActiveObject::OrphanObject,
                removes,
                &format!("{} ({} bytes)", part.name, part.data.len()),
            );
            if removes {
                self.dropped.insert(key);
            } else {
                self.kept_orphans.insert(key);
            }
        }
    }

    /// Leaves a reached part out, cutting every relationship to it.
    fn remove_part(&mut self, key: &str) {
        self.dropped.insert(key.to_string());
        for (source, id) in self.incoming.get(key).cloned().unwrap_or_default() {
            self.cut.entry(source).or_default().insert(id, true);
        }
        for rel in self.package.relationships(key).unwrap_or_default() {
            if let Some(target) = rel.part {
                let target = target.to_lowercase();
                if !self
                    .incoming
                    .get(&target)
                    .is_some_and(|from| from.iter().any(|(source, _)| source != key))
                {
                    self.dropped.insert(target);
                }
            }
        }
    }

    /// Re-encodes images and sanitizes embedded documents.
    fn rebuild_contents(&mut self) -> Result<(), Failure> {
        let mut pictures = self.rebuild_pictures();
        for key in self.visited.clone() {
            if Instant::now() > self.deadline {
                return Err(Failure::timed_out());
            }
            if self.dropped.contains(&key) {
                continue;
            }
            let Some(part) = self.package.get(&key) else {
                continue;
            };
            if self.embedded.contains(&key) {
                self.embedded_document(&key, &part.name, &part.data)?;
                continue;
            }
            let Some(rebuilt) = pictures.remove(&key) else {
                continue;
            };
            match rebuilt {
                Ok(rebuilt) => {
                    self.replaced.insert(key.clone(), rebuilt.bytes);
                    self.removals.merge(&part.name, rebuilt.removals);
                }
                Err(failure) if failure.category == palisade_model::FailureCategory::TimedOut => {
                    return Err(failure);
                }
                Err(failure) => {
                    self.removals.record(
                        ActiveObject::ForeignContent,
                        true,
                        &format!(
                            "image {} that could not be rebuilt: {}",
                            part.name, failure.reason
                        ),
                    );
                    self.remove_part(&key);
                }
            }
        }
        Ok(())
    }

    /// Every picture the document keeps, re-encoded (SVG rebuilt), several at a time: by
    /// part key. Vector pictures (EMF, WMF) are kept as they are.
    fn rebuild_pictures(&self) -> HashMap<String, Result<Rebuilt, Failure>> {
        let pictures: Vec<(&String, Format)> = self
            .visited
            .iter()
            .filter(|key| !self.dropped.contains(*key) && !self.embedded.contains(*key))
            .filter(|key| self.types.of(key).starts_with("image/"))
            .filter_map(|key| {
                let part = self.package.get(key)?;
                Format::detect(&part.data)
                    .filter(|format| matches!(format, Format::Image(_) | Format::Svg))
                    .map(|format| (key, format))
            })
            .collect();
        let rebuilt = crate::in_parallel(&pictures, |(key, format)| {
            let data = &self.package.get(key).expect("a picture found above").data;
            format.rebuild(data, self.policy, self.deadline)
        });
        pictures
            .into_iter()
            .map(|(key, _)| key.clone())
            .zip(rebuilt)
            .collect()
    }

    /// An embedded package is rebuilt on its own (a nested item of the report), as is an
    /// embedded file of another type Deep CDR rebuilds; anything else is an embedded file.
    fn embedded_document(&mut self, key: &str, name: &str, data: &[u8]) -> Result<(), Failure> {
        let outcome = if self.depth + 1 >= MAX_NESTING {
            Err(format!("embedded more than {MAX_NESTING} levels deep"))
        } else if let Some(kind) = detect(data) {
            rebuild_at(data, kind, self.policy, self.deadline, self.depth + 1)
                .map_err(|failure| failure.reason)
        } else if let Some(format) =
            Format::detect(data).filter(|format| !matches!(format, Format::Ooxml(_)))
        {
            format
                .rebuild(data, self.policy, self.deadline)
                .map_err(|failure| failure.reason)
        } else {
            let removes = self.policy.removes(ActiveObject::EmbeddedFile);
            self.removals.record(
                ActiveObject::EmbeddedFile,
                removes,
                &format!("{name} ({} bytes)", data.len()),
            );
            if removes {
                self.remove_part(key);
            }
            return Ok(());
        };
        if Instant::now() > self.deadline {
            return Err(Failure::timed_out());
        }
        match outcome {
            Ok(rebuilt) => {
                self.replaced.insert(key.to_string(), rebuilt.bytes);
                self.removals.nested(name, rebuilt.removals);
            }
            Err(reason) => {
                self.removals.record(
                    ActiveObject::EmbeddedFile,
                    true,
                    &format!("{name}, which could not be sanitized: {reason}"),
                );
                self.remove_part(key);
            }
        }
        Ok(())
    }

    /// The workbook's removed sheets and links; the calculation chain goes with them (Excel
    /// rebuilds it).
    fn cut_sheets(&mut self, main: &str) -> Result<(), Failure> {
        let Some(part) = self.package.get(main) else {
            return Ok(());
        };
        let document = Document::parse(&part.data, self.deadline)?;
        let sheets = edit::sheets(&document.nodes);
        let cut = self.cut.get(main).cloned().unwrap_or_default();
        self.workbook = edit::WorkbookCuts {
            sheets: sheets
                .iter()
                .enumerate()
                .filter(|(_, (_, id))| cut.contains_key(id))
                .map(|(at, (name, _))| (at, name.clone()))
                .collect(),
            external_links: self.external_links_cut,
        };
        if !sheets.is_empty() && self.workbook.sheets.len() == sheets.len() {
            return Err(Failure::failed(
                "every sheet of the workbook is a macro sheet; nothing would remain",
            ));
        }
        if !self.workbook.is_empty() {
            for rel in self.package.relationships(main)? {
                if rel.short_kind() == "calcChain"
                    && let Some(target) = rel.part
                {
                    self.remove_part(&target.to_lowercase());
                }
            }
        }
        Ok(())
    }

    /// Edits every XML part that refers to something removed.
    fn edit_parts(&mut self, main: Option<&str>) -> Result<(), Failure> {
        for key in self.visited.clone() {
            if Instant::now() > self.deadline {
                return Err(Failure::timed_out());
            }
            if self.dropped.contains(&key) || self.replaced.contains_key(&key) {
                continue;
            }
            let Some(part) = self.package.get(&key) else {
                continue;
            };
            let content_type = self.types.of(&key);
            let xml = content_type.ends_with("xml") || content_type.contains("vmlDrawing");
            if !xml {
                continue;
            }
            let cut = self.cut.get(&key).cloned().unwrap_or_default();
            let data = &part.data;
            let prune = !cut.is_empty() || contains(data, b"ppaction://");
            let fields = (content_type.contains("wordprocessingml")
                || content_type.contains("ms-word"))
                && (contains(data, b"instrText") || contains(data, b"fldSimple"));
            let workbook = main == Some(key.as_str()) && !self.workbook.is_empty();
            let formulas = content_type.contains("sheet")
                && !self.workbook.is_empty()
                && contains(data, b"f>");
            if !(prune || fields || workbook || formulas) {
                continue;
            }
            let mut document = Document::parse(data, self.deadline).map_err(|failure| {
                Failure::invalid(format!("{}: {}", part.name, failure.reason))
            })?;
            let mut changed = false;
            if prune {
                changed |= edit::prune_references(
                    &mut document.nodes,
                    &cut,
                    self.policy,
                    &mut self.removals,
                );
            }
            if fields {
                changed |= edit::strip_fields(&mut document.nodes, self.policy, &mut self.removals);
            }
            if workbook {
                changed |= edit::edit_workbook(&mut document.nodes, &self.workbook);
            }
            if formulas {
                changed |= edit::edit_formulas(&mut document.nodes, &self.workbook);
            }
            if changed {
                self.replaced.insert(key, document.write()?);
            }
        }
        Ok(())
    }

    /// The parts of the new package, in the original order: what stays, with relationship
    /// parts and `[Content_Types].xml` rewritten.
    fn finish(
        &mut self,
        kind: &'static Type,
        main: Option<&str>,
    ) -> Result<Vec<(String, Vec<u8>)>, Failure> {
        let mut parts = Vec::new();
        for part in &self.package.parts {
            let key = part.name.to_lowercase();
            if key == CONTENT_TYPES.to_lowercase() {
                continue;
            }
            if key.ends_with(".rels") {
                let Some(source) = rels_source(&key) else {
                    continue;
                };
                let kept = source.is_empty()
                    || ((self.seen.contains(&source) || self.kept_orphans.contains(&source))
                        && !self.dropped.contains(&source));
                if !kept {
                    continue;
                }
                let data = match self.cut.get(&source) {
                    Some(cut) if !cut.is_empty() => without_relationships(&part.data, cut)?,
                    _ => part.data.clone(),
                };
                parts.push((part.name.clone(), data));
                continue;
            }
            let kept = (self.seen.contains(&key) || self.kept_orphans.contains(&key))
                && !self.dropped.contains(&key);
            if kept {
                let data = self
                    .replaced
                    .remove(&key)
                    .unwrap_or_else(|| part.data.clone());
                parts.push((part.name.clone(), data));
            }
        }
        let output = kind.output(self.policy);
        let content_types = self
            .package
            .get(CONTENT_TYPES)
            .ok_or_else(|| Failure::invalid("no [Content_Types].xml"))?;
        let names: HashSet<String> = parts.iter().map(|(name, _)| name.to_lowercase()).collect();
        let main_type = output.main_type();
        let rewritten = rewrite_content_types(
            &content_types.data,
            &names,
            main.map(|main| (main, main_type.as_str())),
        )?;
        parts.insert(0, (CONTENT_TYPES.to_string(), rewritten));
        Ok(parts)
    }
}

/// The part whose relationships a `.rels` part holds ("" for the package's).
fn rels_source(rels: &str) -> Option<String> {
    let (dir, file) = rels.rsplit_once("_rels/")?;
    let file = file.strip_suffix(".rels")?;
    Some(format!("{dir}{file}"))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// The first formulas of a macro sheet, for the report.
fn first_formulas(data: &[u8]) -> String {
    let Ok(document) = Document::parse(data, Instant::now() + std::time::Duration::from_secs(5))
    else {
        return String::new();
    };
    let mut formulas = Vec::new();
    dom::for_each(&document.nodes, &mut |element| {
        if element.local() == b"f" && formulas.len() < 3 {
            formulas.push(element.text());
        }
    });
    formulas.join("; ")
}

/// The DDE server and topic of an external link part, when it is a DDE link.
fn dde_link(data: &[u8]) -> Option<String> {
    if !contains(data, b"ddeLink") {
        return None;
    }
    let document = Document::parse(data, Instant::now() + std::time::Duration::from_secs(5)).ok();
    let mut link = String::from("DDE link");
    if let Some(document) = document {
        dom::for_each(&document.nodes, &mut |element| {
            if element.local() == b"ddeLink" {
                link = format!(
                    "DDE link {} {}",
                    element.attribute("ddeService").unwrap_or_default(),
                    element.attribute("ddeTopic").unwrap_or_default()
                );
            }
        });
    }
    Some(link)
}

/// A relationship part without the cut relationships.
fn without_relationships(data: &[u8], cut: &edit::Cut) -> Result<Vec<u8>, Failure> {
    let mut document = Document::parse(data, Instant::now() + std::time::Duration::from_secs(60))?;
    if let Some(root) = document.root_mut() {
        root.children.retain(|node| match node {
            dom::Node::Element(element) => !element
                .attribute("Id")
                .is_some_and(|id| cut.contains_key(&id)),
            dom::Node::Other(_) => true,
        });
    }
    document.write()
}

/// `[Content_Types].xml` for the parts that stay: no override for a part that is gone, no
/// default for an extension no part has, and the main part's type as `main` says.
fn rewrite_content_types(
    data: &[u8],
    names: &HashSet<String>,
    main: Option<(&str, &str)>,
) -> Result<Vec<u8>, Failure> {
    let mut document = Document::parse(data, Instant::now() + std::time::Duration::from_secs(60))?;
    let extensions: HashSet<String> = names
        .iter()
        .filter_map(|name| name.rsplit_once('.').map(|(_, ext)| ext.to_string()))
        .collect();
    if let Some(root) = document.root_mut() {
        root.children.retain(|node| {
            let dom::Node::Element(element) = node else {
                return true;
            };
            match element.local() {
                b"Override" => element.attribute("PartName").is_some_and(|name| {
                    names.contains(&name.trim_start_matches('/').to_lowercase())
                }),
                b"Default" => element.attribute("Extension").is_some_and(|ext| {
                    let ext = ext.to_lowercase();
                    ext == "rels" || ext == "xml" || extensions.contains(&ext)
                }),
                _ => true,
            }
        });
        if let Some((main, content_type)) = main {
            for node in &mut root.children {
                if let dom::Node::Element(element) = node
                    && element.local() == b"Override"
                    && element
                        .attribute("PartName")
                        .is_some_and(|name| name.trim_start_matches('/').to_lowercase() == main)
                {
                    element.edit_attributes(|key, value| {
                        Some(if key == "ContentType" {
                            content_type.to_string()
                        } else {
                            value.to_string()
                        })
                    });
                }
            }
        }
    }
    document.write()
}
