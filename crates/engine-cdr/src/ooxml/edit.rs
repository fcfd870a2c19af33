//! The edits to XML parts that keep a package consistent once objects are gone: elements that
//! refer to a removed relationship, Word fields that run or fetch, and the workbook's sheets,
//! names and formulas that pointed at removed macro sheets or external links. Office shows a
//! repair prompt for a reference to a missing part, so none may be left.

use std::collections::{HashMap, HashSet};

use palisade_model::{ActiveObject, CdrPolicy};

use super::dom::{self, Element, Node};
use super::package::REL_NAMESPACES;
use crate::Removals;

/// The Office namespace of VML, whose `o:relid` attributes are relationship references too.
const VML_OFFICE: &str = "urn:schemas-microsoft-com:office:office";

/// Elements that lose their meaning, and must go, once an object they hold is removed.
const OWNERS: [&[u8]; 7] = [
    b"graphicFrame",
    b"pic",
    b"drawing",
    b"twoCellAnchor",
    b"oneCellAnchor",
    b"absoluteAnchor",
    b"oleObj",
];
/// Containers that must not be left empty by a removal inside them.
const WRAPPERS: [&[u8]; 8] = [
    b"AlternateContent",
    b"Choice",
    b"Fallback",
    b"oleObjects",
    b"controls",
    b"externalReferences",
    b"hyperlinks",
    b"definedNames",
];
/// Elements whose content stays when their reference goes (a link's text).
const UNWRAP: [&[u8]; 1] = [b"hyperlink"];

/// The relationships of one part that were cut: id to whether the object was content (its
/// owner goes with it) rather than a link.
pub(crate) type Cut = HashMap<String, bool>;

/// What a pass over a list of nodes removed.
#[derive(Clone, Copy, Default)]
struct Pruned {
    any: bool,
    content: bool,
}

/// Removes the elements of a part that refer to a cut relationship (and the owners and
/// emptied containers around them), and PowerPoint actions that start a program or a macro.
pub(crate) fn prune_references(
    nodes: &mut Vec<Node>,
    cut: &Cut,
    policy: &CdrPolicy,
    removals: &mut Removals,
) -> bool {
    let mut rel_prefixes = HashSet::new();
    let mut office_prefixes = HashSet::new();
    dom::for_each(nodes, &mut |element| {
        for (key, value) in element.attributes() {
            if let Some(prefix) = key.strip_prefix("xmlns:") {
                if REL_NAMESPACES.contains(&value.as_str()) {
                    rel_prefixes.insert(prefix.to_string());
                } else if value == VML_OFFICE {
                    office_prefixes.insert(prefix.to_string());
                }
            }
        }
    });
    let mut pruner = Pruner {
        cut,
        rel_prefixes,
        office_prefixes,
        policy,
        removals,
    };
    pruner.prune(nodes).any
}

struct Pruner<'a> {
    cut: &'a Cut,
    rel_prefixes: HashSet<String>,
    office_prefixes: HashSet<String>,
    policy: &'a CdrPolicy,
    removals: &'a mut Removals,
}

impl Pruner<'_> {
    /// Whether the element refers to a cut relationship (and whether to content), or is an
    /// action that starts a program or a macro.
    fn cut_reference(&mut self, element: &Element) -> Option<bool> {
        let mut found = None;
        for (key, value) in element.attributes() {
            let Some((prefix, local)) = key.split_once(':') else {
                if key == "action" {
                    let action = value.to_ascii_lowercase();
                    let kind = if action.starts_with("ppaction://program") {
                        Some(ActiveObject::Launch)
                    } else if action.starts_with("ppaction://macro") {
                        Some(ActiveObject::Macro)
                    } else {
                        None
                    };
                    if let Some(kind) = kind {
                        let removes = self.policy.removes(kind);
                        self.removals
                            .record(kind, removes, &format!("slide action {value}"));
                        if removes {
                            found = Some(found.unwrap_or(false));
                        }
                    }
                }
                continue;
            };
            let reference = self.rel_prefixes.contains(prefix)
                || (local == "relid" && self.office_prefixes.contains(prefix));
            if reference && let Some(content) = self.cut.get(&value) {
                found = Some(found.unwrap_or(false) | content);
            }
        }
        found
    }

    fn prune(&mut self, nodes: &mut Vec<Node>) -> Pruned {
        let mut pruned = Pruned::default();
        let mut kept = Vec::with_capacity(nodes.len());
        for node in nodes.drain(..) {
            let Node::Element(mut element) = node else {
                kept.push(node);
                continue;
            };
            let local = element.local().to_vec();
            if let Some(content) = self.cut_reference(&element) {
                pruned.any = true;
                pruned.content |= content;
                if UNWRAP.contains(&local.as_slice()) && element.has_element_children() {
                    let inner = self.prune(&mut element.children);
                    pruned.any |= inner.any;
                    pruned.content |= inner.content;
                    kept.append(&mut element.children);
                }
                continue;
            }
            let inner = self.prune(&mut element.children);
            pruned.any |= inner.any;
            pruned.content |= inner.content;
            if inner.content && OWNERS.contains(&local.as_slice()) {
                continue;
            }
            if inner.any && WRAPPERS.contains(&local.as_slice()) && !element.has_element_children()
            {
                continue;
            }
            kept.push(Node::Element(element));
        }
        *nodes = kept;
        pruned
    }
}

/// Removes the Word fields that run a command (DDE), fetch content, or link (when links are
/// removed): their instruction goes, and the text they last showed stays.
pub(crate) fn strip_fields(
    nodes: &mut Vec<Node>,
    policy: &CdrPolicy,
    removals: &mut Removals,
) -> bool {
    // First pass: number the elements in document order and find those to remove.
    struct Open {
        instruction: String,
        in_instruction: bool,
        elements: Vec<usize>,
    }
    let mut dropped = HashSet::new();
    let mut unwrap = HashSet::new();
    let mut fields: Vec<Open> = Vec::new();
    let mut number = 0usize;
    let removes = |instruction: &str, removals: &mut Removals| -> bool {
        let Some(kind) = crate::field_kind(instruction) else {
            return false;
        };
        let removed = policy.removes(kind);
        removals.record(kind, removed, &format!("field {}", instruction.trim()));
        removed
    };
    dom::for_each(nodes, &mut |element| {
        let at = number;
        number += 1;
        match element.local() {
            b"fldChar" => match element.attribute("fldCharType").as_deref() {
                Some("begin") => fields.push(Open {
                    instruction: String::new(),
                    in_instruction: true,
                    elements: vec![at],
                }),
                Some("separate") => {
                    if let Some(open) = fields.last_mut() {
                        open.in_instruction = false;
                        open.elements.push(at);
                    }
                }
                Some("end") => {
                    if let Some(mut open) = fields.pop() {
                        open.elements.push(at);
                        if removes(&open.instruction, removals) {
                            dropped.extend(open.elements);
                        }
                    }
                }
                _ => {}
            },
            b"instrText" => {
                if let Some(open) = fields.last_mut()
                    && open.in_instruction
                {
                    open.instruction.push_str(&element.text());
                    open.elements.push(at);
                }
            }
            b"fldSimple" => {
                let instruction = element.attribute("instr").unwrap_or_default();
                if removes(&instruction, removals) {
                    unwrap.insert(at);
                }
            }
            _ => {}
        }
    });
    if dropped.is_empty() && unwrap.is_empty() {
        return false;
    }
    let mut number = 0usize;
    remove_numbered(nodes, &dropped, &unwrap, &mut number);
    true
}

/// Second pass of [`strip_fields`]: numbers the elements as the first pass did, dropping and
/// unwrapping those chosen.
fn remove_numbered(
    nodes: &mut Vec<Node>,
    drop: &HashSet<usize>,
    unwrap: &HashSet<usize>,
    number: &mut usize,
) {
    let mut kept = Vec::with_capacity(nodes.len());
    for node in nodes.drain(..) {
        let Node::Element(mut element) = node else {
            kept.push(node);
            continue;
        };
        let at = *number;
        *number += 1;
        if drop.contains(&at) {
            *number += count_elements(&element.children);
            continue;
        }
        remove_numbered(&mut element.children, drop, unwrap, number);
        if unwrap.contains(&at) {
            kept.append(&mut element.children);
        } else {
            kept.push(Node::Element(element));
        }
    }
    *nodes = kept;
}

fn count_elements(nodes: &[Node]) -> usize {
    let mut count = 0;
    dom::for_each(nodes, &mut |_| count += 1);
    count
}

/// The workbook's sheets, in order: (name, relationship id).
pub(crate) fn sheets(nodes: &[Node]) -> Vec<(String, String)> {
    let mut sheets = Vec::new();
    dom::for_each(nodes, &mut |element| {
        if element.local() == b"sheet" {
            let name = element.attribute("name").unwrap_or_default();
            let id = element
                .attributes()
                .into_iter()
                .find(|(key, _)| key.ends_with(":id"))
                .map(|(_, value)| value)
                .unwrap_or_default();
            sheets.push((name, id));
        }
    });
    sheets
}

/// What the workbook lost, for the edits of its names and formulas.
#[derive(Default)]
pub(crate) struct WorkbookCuts {
    /// Positions (in `<sheets>`) and names of the sheets removed.
    pub sheets: Vec<(usize, String)>,
    /// Whether the external links (`[1]`, `[2]`... in formulas) were removed.
    pub external_links: bool,
}

impl WorkbookCuts {
    pub fn is_empty(&self) -> bool {
        self.sheets.is_empty() && !self.external_links
    }

    /// Whether a formula refers to a removed sheet or external link.
    pub fn hits(&self, formula: &str) -> bool {
        let outside = outside_strings(formula);
        if self.external_links && has_external_index(&outside) {
            return true;
        }
        let lower = formula.to_lowercase();
        self.sheets.iter().any(|(_, name)| {
            let name = name.to_lowercase();
            lower.contains(&format!("{name}!")) || lower.contains(&format!("'{name}'!"))
        })
    }
}

/// Names Excel runs as macros when the workbook opens or closes.
fn is_auto_macro(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let lower = lower.strip_prefix("_xlnm.").unwrap_or(&lower);
    [
        "auto_open",
        "auto_close",
        "auto_activate",
        "auto_deactivate",
    ]
    .iter()
    .any(|auto| lower.starts_with(auto))
}

/// The workbook without names for removed sheets, links and auto-run macros, with the sheet
/// positions of the names that stay renumbered and the window showing the first sheet.
pub(crate) fn edit_workbook(nodes: &mut Vec<Node>, cuts: &WorkbookCuts) -> bool {
    let removed_at: Vec<usize> = cuts.sheets.iter().map(|(at, _)| *at).collect();
    let mut changed = false;
    edit_children(nodes, &mut |element| {
        if element.local() != b"definedName" {
            return Keep::Yes;
        }
        let name = element.attribute("name").unwrap_or_default();
        let local_sheet = element
            .attribute("localSheetId")
            .and_then(|id| id.parse::<usize>().ok());
        if is_auto_macro(&name)
            || local_sheet.is_some_and(|at| removed_at.contains(&at))
            || cuts.hits(&element.text())
        {
            changed = true;
            return Keep::No;
        }
        if let Some(at) = local_sheet {
            let before = removed_at.iter().filter(|removed| **removed < at).count();
            if before > 0 {
                changed = true;
                element.edit_attributes(|key, value| {
                    Some(if key == "localSheetId" {
                        (at - before).to_string()
                    } else {
                        value.to_string()
                    })
                });
            }
        }
        Keep::Yes
    });
    if !cuts.sheets.is_empty() {
        dom::for_each_mut(nodes, &mut |element| {
            if element.local() == b"workbookView" {
                element.edit_attributes(|key, value| {
                    (key != "activeTab" && key != "firstSheet").then(|| value.to_string())
                });
            }
        });
        changed = true;
    }
    prune_empty(nodes, &[b"definedNames"]);
    changed
}

/// A worksheet without the formulas that referred to removed sheets or links; each cell keeps
/// the value it last showed.
pub(crate) fn edit_formulas(nodes: &mut Vec<Node>, cuts: &WorkbookCuts) -> bool {
    let mut changed = false;
    edit_children(nodes, &mut |element| {
        if element.local() == b"f" && cuts.hits(&element.text()) {
            changed = true;
            return Keep::No;
        }
        Keep::Yes
    });
    changed
}

enum Keep {
    Yes,
    No,
}

/// Walks every element (document order), dropping those `decide` rejects.
fn edit_children(nodes: &mut Vec<Node>, decide: &mut impl FnMut(&mut Element) -> Keep) {
    let mut kept = Vec::with_capacity(nodes.len());
    for node in nodes.drain(..) {
        match node {
            Node::Element(mut element) => {
                if let Keep::No = decide(&mut element) {
                    continue;
                }
                edit_children(&mut element.children, decide);
                kept.push(Node::Element(element));
            }
            other => kept.push(other),
        }
    }
    *nodes = kept;
}

/// Drops the named elements that have no element left inside.
fn prune_empty(nodes: &mut Vec<Node>, names: &[&[u8]]) {
    edit_children(nodes, &mut |element| {
        if names.contains(&element.local()) && !element.has_element_children() {
            Keep::No
        } else {
            Keep::Yes
        }
    });
}

/// The formula with its string literals blanked out.
fn outside_strings(formula: &str) -> String {
    let mut inside = false;
    formula
        .chars()
        .map(|c| {
            if c == '"' {
                inside = !inside;
                ' '
            } else if inside {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Whether the formula refers to an external workbook by index: `[1]Sheet!A1`, `[2]!Name`.
fn has_external_index(formula: &str) -> bool {
    let bytes = formula.as_bytes();
    bytes.iter().enumerate().any(|(at, b)| {
        *b == b'['
            && bytes[at + 1..]
                .iter()
                .position(|c| *c == b']')
                .is_some_and(|len| {
                    len > 0 && bytes[at + 1..at + 1 + len].iter().all(u8::is_ascii_digit)
                })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_that_reach_removed_sheets_or_links_are_found() {
        let cuts = WorkbookCuts {
            sheets: vec![(1, "Macro1".into())],
            external_links: true,
        };
        assert!(cuts.hits("[1]!_xlbgnm.A1"));
        assert!(cuts.hits("SUM([12]Sheet1!A1:A3)"));
        assert!(cuts.hits("Macro1!$A$1"));
        assert!(cuts.hits("'macro1'!A1"));
        assert!(!cuts.hits("\"[1]\"&A1"), "inside a string");
        assert!(!cuts.hits("Table1[Column]"), "a table reference");
        assert!(!cuts.hits("Sheet1!A1"));
        assert!(is_auto_macro("_xlnm.Auto_Open"));
        assert!(is_auto_macro("Auto_Open1"));
        assert!(!is_auto_macro("Print_Area"));
    }
}
