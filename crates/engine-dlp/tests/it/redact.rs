//! Redacted copies of the labelled documents, judged by independent tools
//! (`palisade_test_support::dlp::judge`): no value at the rule's certainty can be read from
//! the copy, the text around it still can, and the copy still opens.

use std::path::Path;
use std::time::{Duration, Instant};

use palisade_engine_dlp::redact::{Redaction, Targets, redact};
use palisade_engine_dlp::report::assess;
use palisade_engine_dlp::{Format, Recognizers, extract};
use palisade_model::DlpPolicy;

use super::{COMMENT_SSN, DISCOVER, IBAN, KEYWORDS_SSN, MASTERCARD, SSN, VISA, document};

/// Redacts the file as the engine would (every value at High), and returns the values
/// redacted with what redacting said.
fn redacted(path: &Path, copy: &Path, remove_metadata: bool) -> (Vec<String>, Redaction) {
    let policy = DlpPolicy::default();
    let format = Format::detect(path).unwrap().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let extraction = extract(path, format, policy.max_text_bytes, deadline);
    assert!(extraction.failure.is_none() && extraction.notes.is_empty());
    let recognizers = Recognizers::new(&policy).unwrap();
    let secrets = assess(
        &extraction.pieces,
        &recognizers,
        &policy,
        Default::default(),
    )
    .secrets;
    let targets = Targets::new(secrets.iter().map(String::as_str));
    let outcome = redact(path, format, &targets, remove_metadata, copy, deadline);
    (secrets.into_iter().collect(), outcome)
}

fn judged(name: &str, kind: &str, keep: &str, labelled: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join(name);
    let (secrets, outcome) = redacted(&document(name), &copy, true);
    assert_eq!(
        outcome,
        Redaction::Redacted {
            metadata_removed: kind != "txt"
        },
        "{name}"
    );
    for value in labelled {
        assert!(
            secrets.iter().any(|s| s == value),
            "{name}: {value} was not a target"
        );
    }
    palisade_test_support::dlp::judge(&copy, kind, keep, labelled);
}

#[test]
fn word_copies_lose_values_in_split_runs_tables_headers_comments_and_deletions() {
    judged(
        "positives.docx",
        "docx",
        "Ada paid with her Visa card",
        &[
            VISA,
            MASTERCARD,
            DISCOVER,
            IBAN,
            SSN,
            COMMENT_SSN,
            KEYWORDS_SSN,
        ],
    );
}

#[test]
fn excel_copies_lose_values_in_cells_comments_footers_and_properties() {
    judged(
        "positives.xlsx",
        "xlsx",
        "Ada Lovelace",
        &[
            VISA,
            MASTERCARD,
            DISCOVER,
            IBAN,
            SSN,
            COMMENT_SSN,
            KEYWORDS_SSN,
        ],
    );
}

#[test]
fn powerpoint_copies_lose_values_in_slides_notes_and_properties() {
    judged(
        "positives.pptx",
        "pptx",
        "Payments",
        &[VISA, IBAN, SSN, KEYWORDS_SSN],
    );
}

#[test]
fn pdf_copies_lose_the_values_shown_and_in_the_document_information() {
    judged(
        "positives.pdf",
        "pdf",
        "Ada paid with her Visa card",
        &[VISA, MASTERCARD, DISCOVER, IBAN, SSN, KEYWORDS_SSN],
    );
}

#[test]
fn text_copies_are_masked_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (source, copy) = (dir.path().join("notes.csv"), dir.path().join("copy.csv"));
    let text = format!(
        "name,card,ssn\r\nAda paid,\"{VISA}\",SSN {SSN}\r\nthe card number {VISA} again\r\n"
    );
    std::fs::write(&source, &text).unwrap();
    let (secrets, outcome) = redacted(&source, &copy, false);
    assert_eq!(secrets, [VISA, SSN]);
    assert_eq!(
        outcome,
        Redaction::Redacted {
            metadata_removed: false
        }
    );
    let masked = std::fs::read_to_string(&copy).unwrap();
    assert_eq!(masked.len(), text.len());
    assert_eq!(
        masked,
        "name,card,ssn\r\nAda paid,\"**** **** **** ****\",SSN ***********\r\nthe card number **** **** **** **** again\r\n"
    );
    palisade_test_support::dlp::judge(&copy, "txt", "Ada paid", &[VISA, SSN]);
}

#[test]
fn formats_without_a_redactor_are_not_redacted_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.odt");
    let (_, outcome) = redacted(&document("positives.odt"), &copy, false);
    assert_eq!(
        outcome,
        Redaction::NotRedacted("DLP does not redact the OpenDocument file".into())
    );
    assert!(!copy.exists());
}
