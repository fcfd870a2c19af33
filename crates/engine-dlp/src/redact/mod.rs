//! The redacted copy: the file with every value DLP found at the rule's certainty masked out,
//! written in its own format. Plain text is masked byte for byte (`text.rs`); Word, Excel and
//! PowerPoint inside their XML, across runs (`ooxml.rs`); PDF by taking the shown text out of
//! the page and covering where it was (`pdf.rs`). Any other format is not redacted.
//!
//! A value is searched for as found, with the white space inside it free to differ (a number
//! that wraps onto the next line in a PDF, a run break in Word): every place the file shows
//! it is masked, not only the places the recognizers scored. The copy is then read again
//! with the same extractors: a copy in which a value can still be found is not handed out.

mod ooxml;
mod pdf;
mod text;

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;
use std::time::Instant;

use aho_corasick::AhoCorasick;

use crate::extract::{Format, extract};

/// What replaces each character of a value in text.
pub const MASK: char = '*';

/// The values a redacted copy must not hold.
pub struct Targets {
    values: Vec<String>,
    /// Each value without its white space (`None` without values).
    finder: Option<AhoCorasick>,
}

impl Targets {
    /// The targets for these values (empty and white-space-only values are left out).
    pub fn new<'v>(values: impl IntoIterator<Item = &'v str>) -> Self {
        let values: BTreeSet<String> = values
            .into_iter()
            .filter(|value| value.chars().any(|c| !c.is_whitespace()))
            .map(str::to_string)
            .collect();
        let squeezed: Vec<String> = values.iter().map(|value| squeeze(value)).collect();
        // Building fails only past the automaton's size limits; so many values are then
        // searched for by none, and the check of the copy refuses it.
        let finder = (!values.is_empty())
            .then(|| {
                AhoCorasick::builder()
                    .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                    .build(&squeezed)
                    .ok()
            })
            .flatten();
        Self {
            values: values.into_iter().collect(),
            finder,
        }
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// The byte ranges of `text` that show a value (white space inside them may differ from
    /// the value's), in order, not overlapping.
    pub fn find(&self, text: &str) -> Vec<Range<usize>> {
        // The text without its white space, and where each of its bytes was.
        let mut squeezed = String::with_capacity(text.len());
        let mut origin = Vec::with_capacity(text.len());
        for (at, c) in text.char_indices() {
            if !c.is_whitespace() {
                squeezed.push(c);
                origin.extend((0..c.len_utf8()).map(|byte| at + byte));
            }
        }
        let Some(finder) = &self.finder else {
            return Vec::new();
        };
        finder
            .find_iter(&squeezed)
            .map(|found| origin[found.start()]..origin[found.end() - 1] + 1)
            .collect()
    }

    /// The text with every character of each value masked (white space kept); `None` when it
    /// shows none.
    pub fn mask(&self, text: &str, mask: char) -> Option<String> {
        let ranges = self.find(text);
        if ranges.is_empty() {
            return None;
        }
        Some(mask_ranges(text, &ranges, mask))
    }
}

/// The text with the characters in `ranges` (byte ranges, in order) replaced by `mask`, white
/// space kept.
pub fn mask_ranges(text: &str, ranges: &[Range<usize>], mask: char) -> String {
    let mut masked = String::with_capacity(text.len());
    let mut ranges = ranges.iter().peekable();
    for (at, c) in text.char_indices() {
        while ranges.peek().is_some_and(|range| range.end <= at) {
            ranges.next();
        }
        let inside = ranges.peek().is_some_and(|range| range.start <= at);
        masked.push(if inside && !c.is_whitespace() {
            mask
        } else {
            c
        });
    }
    masked
}

fn squeeze(value: &str) -> String {
    value.chars().filter(|c| !c.is_whitespace()).collect()
}

/// What redacting a file did.
#[derive(Debug, PartialEq, Eq)]
pub enum Redaction {
    /// The copy is written; whether the document's metadata was taken out of it.
    Redacted { metadata_removed: bool },
    /// No copy: the format is not one DLP redacts (why).
    NotRedacted(String),
    /// No copy: redacting failed (why).
    Failed(String),
}

/// A failure to write the copy, said in the report.
pub(crate) struct Failure(pub String);

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Failure(format!("read or write error: {error}"))
    }
}

/// Writes to `copy` the file at `source` (read as `format`) with `targets` masked, and without
/// its document metadata when `remove_metadata`; then reads the copy again and lets it stand
/// only if none of the targets can be found in it.
pub fn redact(
    source: &Path,
    format: Format,
    targets: &Targets,
    remove_metadata: bool,
    copy: &Path,
    deadline: Instant,
) -> Redaction {
    let written = match format {
        Format::Text => text::redact(source, targets, copy).map(|()| false),
        Format::Word | Format::Excel | Format::PowerPoint => {
            ooxml::redact(source, targets, remove_metadata, copy)
        }
        Format::Pdf => pdf::redact(source, targets, remove_metadata, copy),
        other => {
            return Redaction::NotRedacted(format!("DLP does not redact the {}", other.name()));
        }
    };
    let metadata_removed = match written {
        Ok(removed) => removed,
        Err(Failure(why)) => {
            let _ = std::fs::remove_file(copy);
            return Redaction::Failed(why);
        }
    };
    match still_holds(copy, format, targets, deadline) {
        None => Redaction::Redacted { metadata_removed },
        Some(why) => {
            let _ = std::fs::remove_file(copy);
            Redaction::Failed(why)
        }
    }
}

/// Why the copy cannot be handed out: it cannot be read whole, or a value can still be found
/// in its text.
fn still_holds(
    copy: &Path,
    format: Format,
    targets: &Targets,
    deadline: Instant,
) -> Option<String> {
    let reading = extract(copy, format, u64::MAX, deadline);
    if let Some(failure) = reading.failure {
        return Some(format!(
            "the redacted copy could not be read again: {failure}"
        ));
    }
    if let Some(why) = reading.unread {
        return Some(format!("the redacted copy could not be checked: {why}"));
    }
    // All the text at once, so that a value split over pieces (lines, cells) is found too.
    let text: Vec<&str> = reading
        .pieces
        .iter()
        .map(|piece| piece.text.as_str())
        .collect();
    let left = targets.find(&text.join("\n")).len();
    (left > 0).then(|| {
        format!("a value it was to hide could still be found in the redacted copy ({left} times)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_found_whatever_the_white_space_inside_them() {
        let targets = Targets::new(["4556 7375 8689 9855", "536-22-8726", " "]);
        assert_eq!(targets.values().len(), 2, "white space alone is no target");
        let text = "card 4556 7375\n8689 9855 and 4556737586899855; ssn 536-22-8726.";
        let ranges = targets.find(text);
        assert_eq!(
            ranges
                .iter()
                .map(|range| &text[range.clone()])
                .collect::<Vec<_>>(),
            ["4556 7375\n8689 9855", "4556737586899855", "536-22-8726"]
        );
        assert_eq!(
            targets.mask(text, MASK).unwrap(),
            "card **** ****\n**** **** and ****************; ssn ***********."
        );
        assert_eq!(targets.mask("nothing here 4556", MASK), None);
    }

    #[test]
    fn a_copy_in_which_a_value_can_still_be_found_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy.txt");
        let targets = Targets::new(["536-22-8726"]);
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        std::fs::write(&copy, "ssn 536-22-\n8726 left over").unwrap();
        assert_eq!(
            still_holds(&copy, Format::Text, &targets, deadline).as_deref(),
            Some("a value it was to hide could still be found in the redacted copy (1 times)")
        );
        std::fs::write(&copy, "ssn ***********").unwrap();
        assert_eq!(still_holds(&copy, Format::Text, &targets, deadline), None);
    }

    #[test]
    fn masking_keeps_every_other_character_where_it_is() {
        let text = "née 12é45 fin";
        let targets = Targets::new(["12é45"]);
        assert_eq!(targets.mask(text, MASK).unwrap(), "née ***** fin");
    }
}
