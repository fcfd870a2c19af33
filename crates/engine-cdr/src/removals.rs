//! What a rebuild found and removed, by kind of object: the report's `details`.

use std::collections::{BTreeMap, BTreeSet};

use palisade_model::{ActiveObject, CdrAction, SanitizedObject};

/// Details kept per kind of object (the count goes on).
const MAX_DETAILS: usize = 10;
/// Characters of one detail (a script's first line, a link).
const MAX_DETAIL_CHARS: usize = 80;

/// The objects of each kind a rebuild found, and whether it removed them.
#[derive(Debug, Default)]
pub struct Removals {
    found: BTreeMap<ActiveObject, Found>,
    /// Objects rebuilt rather than removed (an image re-encoded), by name.
    rebuilt: BTreeMap<String, Found>,
    /// Documents inside the document, sanitized on their own: name and what was found.
    nested: Vec<(String, Removals)>,
}

#[derive(Debug)]
struct Found {
    count: u64,
    removed: bool,
    details: Vec<String>,
}

impl Removals {
    /// Records one object of `kind`, removed or kept, with what identifies it: one detail per
    /// line (a macro's project, then each module's first lines of code).
    pub fn record(&mut self, kind: ActiveObject, removed: bool, detail: &str) {
        self.found
            .entry(kind)
            .or_insert_with(|| Found::new(removed))
            .add(removed, detail);
    }

    /// Records an object that was kept but rebuilt (`action: sanitized`).
    pub fn rebuilt(&mut self, object_name: &str, detail: &str) {
        self.rebuilt
            .entry(object_name.into())
            .or_insert_with(|| Found::new(false))
            .add(false, detail);
    }

    /// Records an embedded document sanitized on its own (a nested item of the report).
    pub fn nested(&mut self, file_name: &str, removals: Removals) {
        self.nested.push((file_name.into(), removals));
    }

    /// Takes over what the rebuild of one part of the document (`part`, named in each detail)
    /// found, such as an image's metadata.
    pub fn merge(&mut self, part: &str, other: Removals) {
        for (kind, mut found) in other.found {
            for detail in &mut found.details {
                *detail = truncate(&format!("{part}: {detail}"));
            }
            self.found
                .entry(kind)
                .or_insert_with(|| Found::new(found.removed))
                .absorb(found);
        }
        for (name, found) in other.rebuilt {
            self.rebuilt
                .entry(name)
                .or_insert_with(|| Found::new(false))
                .absorb(found);
        }
        self.nested.extend(other.nested);
    }

    /// Whether any object of `kind` was found (removed or kept).
    pub fn contains(&self, kind: ActiveObject) -> bool {
        self.found.contains_key(&kind)
    }

    /// The kinds of object found, here and in embedded documents, in a stable order.
    pub fn kinds(&self) -> impl Iterator<Item = ActiveObject> + use<> {
        let mut kinds = BTreeSet::new();
        self.collect_kinds(&mut kinds);
        kinds.into_iter()
    }

    fn collect_kinds(&self, into: &mut BTreeSet<ActiveObject>) {
        into.extend(self.found.keys().copied());
        for (_, nested) in &self.nested {
            nested.collect_kinds(into);
        }
    }

    /// Objects removed, over every kind, here and in embedded documents.
    pub fn removed(&self) -> u64 {
        let here: u64 = self
            .found
            .values()
            .filter(|found| found.removed)
            .map(|found| found.count)
            .sum();
        here + self
            .nested
            .iter()
            .map(|(_, nested)| nested.removed())
            .sum::<u64>()
    }

    /// The report's `details`: one item per kind of object removed, then the objects rebuilt.
    pub fn items(&self) -> Vec<SanitizedObject> {
        let removed = self
            .found
            .iter()
            .filter(|(_, found)| found.removed)
            .map(|(kind, found)| {
                item(CdrAction::Removed, found.count, kind.name(), &found.details)
            });
        let rebuilt = self
            .rebuilt
            .iter()
            .map(|(name, found)| item(CdrAction::Sanitized, found.count, name, &found.details));
        let nested = self
            .nested
            .iter()
            .map(|(file_name, nested)| SanitizedObject {
                file_name: file_name.clone(),
                description: format!("{} objects removed", nested.removed()),
                details: nested.items(),
                ..item(
                    CdrAction::Sanitized,
                    1,
                    "Embedded document",
                    std::slice::from_ref(file_name),
                )
            });
        removed.chain(rebuilt).chain(nested).collect()
    }
}

impl Found {
    fn new(removed: bool) -> Self {
        Self {
            count: 0,
            removed,
            details: Vec::new(),
        }
    }

    fn add(&mut self, removed: bool, detail: &str) {
        self.count += 1;
        self.removed |= removed;
        for line in detail.lines() {
            self.keep_detail(truncate(line));
        }
    }

    fn absorb(&mut self, other: Found) {
        self.count += other.count;
        self.removed |= other.removed;
        for detail in other.details {
            self.keep_detail(detail);
        }
    }

    fn keep_detail(&mut self, detail: String) {
        if self.details.len() < MAX_DETAILS && !detail.is_empty() && !self.details.contains(&detail)
        {
            self.details.push(detail);
        }
    }
}

fn item(action: CdrAction, count: u64, name: &str, details: &[String]) -> SanitizedObject {
    SanitizedObject {
        action,
        count,
        object_name: name.into(),
        object_details: details.to_vec(),
        file_name: String::new(),
        description: String::new(),
        details: Vec::new(),
    }
}

/// One line of at most [`MAX_DETAIL_CHARS`] characters, control characters replaced.
fn truncate(detail: &str) -> String {
    let line: String = detail
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.chars().count() <= MAX_DETAIL_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(MAX_DETAIL_CHARS - 3).collect();
    cut.push_str("...");
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_count_every_object_and_keep_a_few_short_details() {
        let mut removals = Removals::default();
        for i in 0..15 {
            removals.record(ActiveObject::Javascript, true, &format!("app.alert({i})"));
        }
        removals.record(ActiveObject::Hyperlink, false, "https://example.com/");
        removals.record(ActiveObject::Launch, true, &"x".repeat(200));
        let items = removals.items();
        assert_eq!(
            items.len(),
            2,
            "kept hyperlinks are not reported: {items:?}"
        );
        assert_eq!(items[0].object_name, "JavaScript");
        assert_eq!(items[0].count, 15);
        assert_eq!(items[0].object_details.len(), MAX_DETAILS);
        assert_eq!(items[1].object_details[0].chars().count(), MAX_DETAIL_CHARS);
        assert!(items[1].object_details[0].ends_with("..."));
        assert_eq!(removals.removed(), 16);
        assert!(removals.contains(ActiveObject::Hyperlink));
    }
}
