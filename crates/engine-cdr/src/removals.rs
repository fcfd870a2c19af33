//! What a rebuild found and removed, by kind of object: the report's `details`.

use std::collections::BTreeMap;

use palisade_model::{ActiveObject, CdrAction, SanitizedObject};

/// Details kept per kind of object (the count goes on).
const MAX_DETAILS: usize = 10;
/// Characters of one detail (a script's first line, a link).
const MAX_DETAIL_CHARS: usize = 80;

/// The objects of each kind a rebuild found, and whether it removed them.
#[derive(Debug, Default)]
pub struct Removals {
    found: BTreeMap<ActiveObject, Found>,
    /// Objects rebuilt rather than removed (an image re-encoded): name and detail.
    rebuilt: Vec<(String, String)>,
}

#[derive(Debug)]
struct Found {
    count: u64,
    removed: bool,
    details: Vec<String>,
}

impl Removals {
    /// Records one object of `kind`, removed or kept, with what identifies it.
    pub fn record(&mut self, kind: ActiveObject, removed: bool, detail: &str) {
        let found = self.found.entry(kind).or_insert(Found {
            count: 0,
            removed,
            details: Vec::new(),
        });
        found.count += 1;
        found.removed |= removed;
        let detail = truncate(detail);
        if found.details.len() < MAX_DETAILS
            && !detail.is_empty()
            && !found.details.contains(&detail)
        {
            found.details.push(detail);
        }
    }

    /// Records an object that was kept but rebuilt (`action: sanitized`).
    pub fn rebuilt(&mut self, object_name: &str, detail: &str) {
        self.rebuilt.push((object_name.into(), truncate(detail)));
    }

    /// Whether any object of `kind` was found (removed or kept).
    pub fn contains(&self, kind: ActiveObject) -> bool {
        self.found.contains_key(&kind)
    }

    /// The kinds of object found, in a stable order.
    pub fn kinds(&self) -> impl Iterator<Item = ActiveObject> + '_ {
        self.found.keys().copied()
    }

    /// Objects removed, over every kind.
    pub fn removed(&self) -> u64 {
        self.found
            .values()
            .filter(|found| found.removed)
            .map(|found| found.count)
            .sum()
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
        let rebuilt = self.rebuilt.iter().map(|(name, detail)| {
            item(CdrAction::Sanitized, 1, name, std::slice::from_ref(detail))
        });
        removed.chain(rebuilt).collect()
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
