//! From the recognizers' matches in a file's pieces of text to the report's `dlp_info`: hits by
//! kind with their context and location, masked unless the rule shows values, and the verdict.

use std::collections::{BTreeMap, BTreeSet};

use palisade_model::{
    Certainty, DlpHit, DlpInfo, DlpKindHits, DlpPolicy, DlpVerdict, MetadataRemovalResult, Outcome,
    RedactResult, WatermarkResult,
};

use crate::text::{Piece, first_chars, last_chars};
use crate::{Kind, Recognizers, mask};

/// Hits listed per kind; beyond it the report says how many more there were.
pub const MAX_HITS_PER_KIND: usize = 500;

/// What DLP found in a file.
pub struct Assessment {
    /// The report's `dlp_info`.
    pub info: DlpInfo,
    /// Where the hits at the rule's certainty are (listed or not): the piece's index and the
    /// hit's byte range in its text (see [`Assessment::secrets`]).
    spans: Vec<(usize, std::ops::Range<usize>)>,
}

impl Assessment {
    /// The values of the hits at the rule's certainty, each once: what a redacted copy must
    /// not hold. `pieces` are those assessed.
    pub fn secrets<'p>(&self, pieces: &'p [Piece]) -> BTreeSet<&'p str> {
        self.spans
            .iter()
            .filter_map(|(piece, range)| pieces.get(*piece)?.text.get(range.clone()))
            .collect()
    }
}

/// What DLP found in the pieces of a file, as the report gives it. `errors` are carried into
/// the report (`scan`: text not examined, for one).
pub fn assess(
    pieces: &[Piece],
    recognizers: &Recognizers,
    policy: &DlpPolicy,
    mut errors: BTreeMap<String, String>,
) -> Assessment {
    let mut spans = Vec::new();
    let mut hits: BTreeMap<String, DlpKindHits> = BTreeMap::new();
    let mut unlisted: BTreeMap<String, usize> = BTreeMap::new();
    let mut top: Option<Certainty> = None;
    for (index, piece) in pieces.iter().enumerate() {
        for found in recognizers.find(&piece.text) {
            if !piece.owns(found.start, found.end) {
                continue;
            }
            let certainty = found.certainty();
            top = top.max(Some(certainty));
            if certainty >= policy.min_certainty {
                spans.push((index, found.start..found.end));
            }
            let key = found.kind.key();
            let entry = hits.entry(key.clone()).or_insert_with(|| DlpKindHits {
                display_name: display_name(found.kind, policy),
                hits: Vec::new(),
            });
            if entry.hits.len() >= MAX_HITS_PER_KIND {
                *unlisted.entry(key).or_default() += 1;
                continue;
            }
            let value = &piece.text[found.start..found.end];
            let before = last_chars(&piece.text[..found.start], policy.context_chars);
            let after = first_chars(&piece.text[found.end..], policy.context_chars);
            let (hit, before, after) = if policy.show_values {
                (value.to_string(), before.to_string(), after.to_string())
            } else {
                (
                    mask::hit(found.kind, value),
                    mask::context(before),
                    mask::context(after),
                )
            };
            entry.hits.push(DlpHit {
                hit,
                before,
                after,
                certainty,
                certainty_score: found.score,
                location: piece.location_at(found.start).to_string(),
                severity: if certainty >= policy.min_certainty {
                    0
                } else {
                    1
                },
                try_redact: false,
            });
        }
    }
    if !unlisted.is_empty() {
        let more: Vec<String> = unlisted
            .iter()
            .map(|(key, count)| format!("{count} more {key} hits"))
            .collect();
        let note = format!(
            "{} than the {MAX_HITS_PER_KIND} listed per kind",
            more.join(", ")
        );
        errors
            .entry("scan".into())
            .and_modify(|scan| {
                scan.push_str("; ");
                scan.push_str(&note);
            })
            .or_insert(note);
    }
    let verdict = match top {
        None => DlpVerdict::Clean,
        Some(top) if top >= policy.min_certainty => DlpVerdict::Found,
        Some(_) => DlpVerdict::Suspicious,
    };
    let info = DlpInfo {
        certainty: top,
        errors,
        filename: String::new(),
        hits,
        metadata_removal: Outcome {
            result: MetadataRemovalResult::NotRemoved,
        },
        redact: Outcome {
            result: RedactResult::NotRedacted,
        },
        severity: if verdict == DlpVerdict::Suspicious {
            1
        } else {
            0
        },
        verdict,
        watermark: Outcome {
            result: WatermarkResult::NotAdded,
        },
    };
    Assessment { info, spans }
}

fn display_name(kind: Kind, policy: &DlpPolicy) -> String {
    match kind {
        Kind::Builtin(recognizer) => recognizer.display_name().to_string(),
        Kind::Pattern(index) => policy
            .patterns
            .get(index)
            .map(|pattern| pattern.display_name.clone())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(location: &str, text: &str) -> Piece {
        Piece::new(location, text)
    }

    #[test]
    fn hits_are_listed_by_kind_masked_with_their_context_and_location() {
        let policy = DlpPolicy {
            context_chars: 12,
            ..DlpPolicy::default()
        };
        let recognizers = Recognizers::new(&policy).unwrap();
        let pieces = [
            piece("line 1", "Customer notes"),
            piece(
                "line 2",
                "Paid by Visa 4556 7375 8689 9855 exp 04/27 thanks",
            ),
            piece("line 3", "SSN: 536-22-8726."),
        ];
        let assessment = assess(&pieces, &recognizers, &policy, BTreeMap::new());
        assert_eq!(
            assessment.secrets(&pieces),
            BTreeSet::from(["4556 7375 8689 9855", "536-22-8726"])
        );
        let info = assessment.info;
        assert_eq!(info.verdict, DlpVerdict::Found);
        assert_eq!(info.certainty, Some(Certainty::VeryHigh));
        let ccn = &info.hits["ccn"];
        assert_eq!(ccn.display_name, "Credit Card Number");
        assert_eq!(
            ccn.hits,
            vec![DlpHit {
                hit: "4556 **** **** 9855".into(),
                before: "aid by Visa ".into(),
                after: " exp **/** t".into(),
                certainty: Certainty::VeryHigh,
                certainty_score: 90,
                location: "line 2".into(),
                severity: 0,
                try_redact: false,
            }]
        );
        assert_eq!(info.hits["ssn"].hits[0].hit, "***-**-8726");
        assert_eq!(info.hits["ssn"].hits[0].location, "line 3");
        let shown = assess(
            &pieces,
            &recognizers,
            &DlpPolicy {
                show_values: true,
                ..policy.clone()
            },
            BTreeMap::new(),
        )
        .info;
        assert_eq!(shown.hits["ccn"].hits[0].hit, "4556 7375 8689 9855");
        assert_eq!(shown.hits["ccn"].hits[0].after, " exp 04/27 t");
    }

    #[test]
    fn below_the_rules_certainty_a_file_is_suspicious_not_found() {
        let policy = DlpPolicy::default();
        let recognizers = Recognizers::new(&policy).unwrap();
        let info = assess(
            &[piece("line 1", "the number 536-22-8726 was")],
            &recognizers,
            &policy,
            BTreeMap::new(),
        )
        .info;
        assert_eq!(info.verdict, DlpVerdict::Suspicious);
        assert_eq!(info.severity, 1);
        assert_eq!(info.hits["ssn"].hits[0].severity, 1);
        let clean = assess(
            &[piece("line 1", "nothing to see")],
            &recognizers,
            &policy,
            BTreeMap::new(),
        )
        .info;
        assert_eq!(clean.verdict, DlpVerdict::Clean);
        assert!(clean.hits.is_empty());
    }

    #[test]
    fn hits_beyond_the_listed_ones_are_counted_in_errors() {
        let policy = DlpPolicy::default();
        let recognizers = Recognizers::new(&policy).unwrap();
        let line = "card 4556 7375 8689 9855 ".repeat(MAX_HITS_PER_KIND + 3);
        let info = assess(
            &[piece("line 1", &line)],
            &recognizers,
            &policy,
            BTreeMap::new(),
        )
        .info;
        assert_eq!(info.hits["ccn"].hits.len(), MAX_HITS_PER_KIND);
        assert_eq!(
            info.errors["scan"],
            format!("3 more ccn hits than the {MAX_HITS_PER_KIND} listed per kind")
        );
    }
}
