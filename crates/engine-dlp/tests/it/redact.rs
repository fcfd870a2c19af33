//! Redacted copies of the labelled documents, judged by independent tools
//! (`palisade_test_support::dlp::judge`): no value at the rule's certainty can be read from
//! the copy, the text around it still can, and the copy still opens.

use std::path::{Path, PathBuf};
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
    .secrets(&extraction.pieces);
    let targets = Targets::new(secrets.iter().copied());
    let outcome = redact(path, format, &targets, remove_metadata, copy, deadline);
    (secrets.into_iter().map(str::to_string).collect(), outcome)
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
fn without_metadata_word_and_excel_copies_do_not_name_who_commented_or_changed() {
    let dir = tempfile::tempdir().unwrap();
    for (name, kind, keep) in [
        ("positives.docx", "docx", "Ada paid with her Visa card"),
        ("positives.xlsx", "xlsx", "Ada Lovelace"),
    ] {
        let copy = dir.path().join(name);
        let (_, outcome) = redacted(&document(name), &copy, true);
        assert_eq!(
            outcome,
            Redaction::Redacted {
                metadata_removed: true
            }
        );
        // The comment's author and the deletion's, and the document's title.
        let people: &[&str] = if kind == "docx" {
            &["Reviewer", "Editor", "Customer review"]
        } else {
            &["Reviewer"]
        };
        palisade_test_support::dlp::judge(&copy, kind, keep, people);
    }
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

/// A page's content, decoded.
fn page_content(path: &Path, number: u32) -> Vec<u8> {
    let doc = lopdf::Document::load(path).unwrap();
    let page = doc.get_pages()[&number];
    doc.get_page_content(page)
}

/// Redacts the labelled PDF (its text drawn by a form XObject with `in_form`) and judges the
/// copy: none of `gone` can be read from it. Returns the file and the copy.
fn redacted_pdf(
    dir: &Path,
    in_form: bool,
    remove_metadata: bool,
    gone: &[&str],
) -> (PathBuf, PathBuf) {
    let (source, copy) = (dir.join("in.pdf"), dir.join("copy.pdf"));
    std::fs::write(&source, palisade_test_support::dlp::labelled_pdf(in_form)).unwrap();
    let (secrets, outcome) = redacted(&source, &copy, remove_metadata);
    assert_eq!(secrets, [VISA, SSN]);
    let metadata_removed = remove_metadata;
    assert_eq!(outcome, Redaction::Redacted { metadata_removed });
    palisade_test_support::dlp::judge(&copy, "pdf", "Card number", gone);
    (source, copy)
}

#[test]
fn pdf_values_are_taken_out_of_the_page_and_every_string_and_the_other_pages_stay() {
    let dir = tempfile::tempdir().unwrap();
    let (source, copy) = redacted_pdf(dir.path(), false, false, &[VISA, SSN]);
    // The rest of the line keeps its words; boxes cover where the values were.
    let page = String::from_utf8_lossy(&page_content(&copy, 1)).into_owned();
    assert!(
        page.contains("(Card number ") && page.contains("( on file)"),
        "{page}"
    );
    assert!(
        page.contains("(for payroll)") || page.contains("( for payroll)"),
        "{page}"
    );
    // One box for the card number, one for each of the three strings the SSN is split over.
    assert_eq!(page.matches(" re f").count(), 4, "{page}");
    assert_eq!(
        page_content(&copy, 2),
        page_content(&source, 2),
        "a page without values is not touched"
    );
    // Without metadata removal, the information and XMP stay, masked.
    let doc = lopdf::Document::load(&copy).unwrap();
    let info = doc.trailer.get(b"Info").unwrap().as_reference().unwrap();
    let title = doc.get_dictionary(info).unwrap().get(b"Title").unwrap();
    assert_eq!(title.as_str().unwrap(), b"Payments");
}

#[test]
fn pdf_metadata_removal_takes_out_the_information_and_xmp() {
    let dir = tempfile::tempdir().unwrap();
    // The document's title goes with its information.
    let (_, copy) = redacted_pdf(dir.path(), false, true, &[VISA, SSN, "Payments"]);
    let doc = lopdf::Document::load(&copy).unwrap();
    assert!(doc.trailer.get(b"Info").is_err());
    assert!(doc.catalog().unwrap().get(b"Metadata").is_err());
}

#[test]
fn pdf_values_drawn_by_a_form_xobject_are_taken_out_of_the_form_and_covered_on_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let (_, copy) = redacted_pdf(dir.path(), true, false, &[VISA, SSN]);
    let page = String::from_utf8_lossy(&page_content(&copy, 1)).into_owned();
    assert!(
        page.contains("/Fm1 Do"),
        "the page still draws its form: {page}"
    );
    assert_eq!(page.matches(" re f").count(), 4, "{page}");
}
