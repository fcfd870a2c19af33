//! Text extraction for DLP on documents built at runtime in every format it reads
//! (`palisade_test_support::dlp::documents`: python-docx, openpyxl, python-pptx, Python's
//! email package, and headless LibreOffice for the rest): each labelled value is
//! found where it was put, and the hard negatives give no hit at High.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use palisade_engine_dlp::report::assess;
use palisade_engine_dlp::{Format, Recognizers, extract};
use palisade_model::{Certainty, DlpInfo, DlpPolicy};

mod redact;

/// The documents of every format, built once per test process.
fn documents() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| build(&[])).path()
}

fn build(only: &[&str]) -> tempfile::TempDir {
    palisade_test_support::dlp::documents(only)
}

fn document(name: &str) -> PathBuf {
    documents().join(name)
}

fn assess_file(path: &Path, policy: &DlpPolicy) -> (Format, DlpInfo) {
    let format = Format::detect(path).unwrap().expect("a format DLP reads");
    let extraction = extract(
        path,
        format,
        policy.max_text_bytes,
        Instant::now() + Duration::from_secs(60),
    );
    assert!(
        extraction.failure.is_none(),
        "{path:?}: {:?}",
        extraction.failure
    );
    assert!(
        extraction.unread.is_none(),
        "{path:?}: {:?}",
        extraction.unread
    );
    let recognizers = Recognizers::new(policy).unwrap();
    let info = assess(&extraction.pieces, &recognizers, policy, Default::default()).info;
    (format, info)
}

/// The hits at High or above: (kind, value, location).
fn high_hits(path: &Path) -> BTreeSet<(String, String, String)> {
    let policy = DlpPolicy {
        show_values: true,
        ..DlpPolicy::default()
    };
    let (_, info) = assess_file(path, &policy);
    let mut found = BTreeSet::new();
    for (kind, hits) in &info.hits {
        for hit in &hits.hits {
            if hit.certainty >= Certainty::High {
                found.insert((kind.clone(), hit.hit.clone(), hit.location.clone()));
            }
        }
    }
    found
}

fn hit(kind: &str, value: &str, location: &str) -> (String, String, String) {
    (kind.into(), value.into(), location.into())
}

const VISA: &str = "4556 7375 8689 9855";
const MASTERCARD: &str = "5167 3492 1860 4477";
const DISCOVER: &str = "6011 4321 8876 5308";
const IBAN: &str = "GB82 WEST 1234 5698 7654 32";
const SSN: &str = "536-22-8726";
const COMMENT_SSN: &str = "672-34-1942";
const KEYWORDS_SSN: &str = "219-45-6789";

/// What each format's positives document holds at High, and where: text in runs split by an
/// edit, tables, headers and footers, comments, tracked deletions, notes, properties, mail
/// headers and attachments.
fn expected(ext: &str) -> Vec<(String, String, String)> {
    match ext {
        "docx" => vec![
            hit("ccn", VISA, "body paragraph 2"),
            hit("ccn", MASTERCARD, "body paragraph 7"),
            hit("ccn", DISCOVER, "footer 1 paragraph 1"),
            hit("iban", IBAN, "header 1 paragraph 1"),
            hit("ssn", SSN, "body paragraph 6"),
            hit("ssn", COMMENT_SSN, "comments paragraph 1"),
            hit("ssn", KEYWORDS_SSN, "document properties (keywords)"),
        ],
        "xlsx" => vec![
            hit("ccn", VISA, "Customers!B2"),
            hit("ccn", MASTERCARD, "Travel!B2"),
            hit("ccn", DISCOVER, "Customers header/footer"),
            hit("iban", IBAN, "Customers!D3"),
            hit("ssn", SSN, "Customers!C2"),
            hit("ssn", COMMENT_SSN, "Customers!D2 comment"),
            hit("ssn", KEYWORDS_SSN, "document properties (keywords)"),
        ],
        "pptx" => vec![
            hit("ccn", VISA, "slide 1 paragraph 2"),
            hit("iban", IBAN, "slide 2 paragraph 2"),
            hit("ssn", SSN, "slide 1 notes paragraph 1"),
            hit("ssn", KEYWORDS_SSN, "document properties (keywords)"),
        ],
        "eml" => vec![
            hit("ccn", VISA, "body line 3"),
            hit("iban", IBAN, "header Subject"),
            hit("ssn", SSN, "attachment staff.txt line 1"),
        ],
        // LibreOffice's copies of the docx: a PDF shows no comments, and OpenDocument keeps
        // each keyword apart (so the SSN there has no keyword beside it, and is not High).
        "pdf" => vec![
            hit("ccn", VISA, "page 1"),
            hit("ccn", MASTERCARD, "page 1"),
            hit("ccn", DISCOVER, "page 1"),
            hit("iban", IBAN, "page 1"),
            hit("ssn", SSN, "page 1"),
            hit("ssn", KEYWORDS_SSN, "document properties (Keywords)"),
        ],
        "odt" => vec![
            hit("ccn", VISA, "paragraph 3"),
            hit("ccn", MASTERCARD, "paragraph 1"),
            hit("ccn", DISCOVER, "header/footer paragraph 2"),
            hit("iban", IBAN, "header/footer paragraph 1"),
            hit("ssn", SSN, "Table1!B2"),
            hit("ssn", COMMENT_SSN, "paragraph 4"),
        ],
        "rtf" => vec![
            hit("ccn", VISA, "paragraph 4"),
            hit("ccn", MASTERCARD, "paragraph 7"),
            hit("ccn", DISCOVER, "paragraph 2"),
            hit("iban", IBAN, "paragraph 1"),
            hit("ssn", SSN, "paragraph 6"),
            hit("ssn", COMMENT_SSN, "comment 1"),
            hit("ssn", KEYWORDS_SSN, "document properties (keywords)"),
        ],
        "ods" => vec![
            hit("ccn", VISA, "Customers!B2"),
            hit("ccn", MASTERCARD, "Travel!B2"),
            hit("ccn", DISCOVER, "header/footer paragraph 1"),
            hit("iban", IBAN, "Customers!D3"),
            hit("ssn", SSN, "Customers!C2"),
            hit("ssn", COMMENT_SSN, "Customers!D2"),
        ],
        "xls" => vec![
            hit("ccn", VISA, "Customers!B2"),
            hit("ccn", MASTERCARD, "Travel!B2"),
            hit("ccn", DISCOVER, "Customers header/footer"),
            hit("iban", IBAN, "Customers!D3"),
            hit("ssn", SSN, "Customers!C2"),
            hit("ssn", COMMENT_SSN, "Customers comment or text box"),
        ],
        "odp" => vec![
            hit("ccn", VISA, "slide 1 paragraph 2"),
            hit("iban", IBAN, "slide 2 paragraph 2"),
            hit("ssn", SSN, "slide 1 paragraph 3"),
        ],
        other => panic!("no expectations for {other}"),
    }
}

const FORMATS: [(&str, Format); 10] = [
    ("docx", Format::Word),
    ("xlsx", Format::Excel),
    ("pptx", Format::PowerPoint),
    ("eml", Format::Mail),
    ("pdf", Format::Pdf),
    ("odt", Format::OpenDocument),
    ("rtf", Format::Rtf),
    ("ods", Format::OpenDocument),
    ("xls", Format::Xls),
    ("odp", Format::OpenDocument),
];

#[test]
fn every_format_gives_each_value_where_it_was_put_and_no_negative_at_high() {
    let mut failures = Vec::new();
    for (ext, format) in FORMATS {
        let positives = document(&format!("positives.{ext}"));
        assert_eq!(Format::detect(&positives).unwrap(), Some(format), "{ext}");
        let found = high_hits(&positives);
        let wanted: BTreeSet<_> = expected(ext).into_iter().collect();
        if found != wanted {
            failures.push(format!("{ext}: found {found:#?}\nwanted {wanted:#?}"));
        }
        let negatives = high_hits(&document(&format!("negatives.{ext}")));
        if !negatives.is_empty() {
            failures.push(format!("{ext} negatives at High: {negatives:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_mail_names_the_attachments_it_did_not_read() {
    let dir = build(&["eml"]);
    let path = dir.path().join("positives.eml");
    let extraction = extract(
        &path,
        Format::Mail,
        1 << 20,
        Instant::now() + Duration::from_secs(60),
    );
    assert_eq!(
        extraction.notes,
        ["1 attachments that are not text were not examined: logo.png"]
    );
}

#[test]
fn the_text_budget_cuts_reading_and_says_so() {
    let dir = build(&["docx"]);
    let path = dir.path().join("positives.docx");
    let extraction = extract(
        &path,
        Format::Word,
        40,
        Instant::now() + Duration::from_secs(60),
    );
    let read: usize = extraction.pieces.iter().map(|piece| piece.text.len()).sum();
    assert_eq!(read, 40);
    assert_eq!(
        extraction.notes,
        ["only the first 40 bytes of text were examined (the rule's max_text_bytes)"]
    );
}

fn extract_bytes(
    name: &str,
    bytes: &[u8],
) -> (Option<Format>, palisade_engine_dlp::extract::Extraction) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let format = Format::detect(&path).unwrap();
    let extraction = extract(
        &path,
        format.unwrap_or(Format::Text),
        1 << 20,
        Instant::now() + Duration::from_secs(60),
    );
    (format, extraction)
}

fn pieces(extraction: &palisade_engine_dlp::extract::Extraction) -> Vec<(&str, &str)> {
    extraction
        .pieces
        .iter()
        .map(|piece| (piece.location.as_str(), piece.text.as_str()))
        .collect()
}

#[test]
fn a_pdf_gives_the_text_of_forms_comments_fields_and_its_information() {
    use palisade_test_support::pdf::{build, dict, stream};
    let font = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>";
    let pdf = build(
        &[
            dict("<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [6 0 R] >> >>"),
            dict("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
            dict(&format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
                 /Resources << /Font << /F1 {font} >> /XObject << /X1 5 0 R >> >> \
                 /Annots [<< /Type /Annot /Subtype /Text /Rect [0 0 10 10] \
                 /Contents (Check SSN 536-22-8726) >>] >>"
            )),
            stream(
                "",
                b"BT /F1 12 Tf 72 700 Td (Card 4556 7375) Tj ET \
                  BT /F1 12 Tf 160 700 Td ( 8689 9855 paid) Tj ET \
                  BT /F1 12 Tf 72 680 Td [(Line) -250 (two)] TJ ET \
                  BT /F1 12 Tf 72 660 Td (Wire to IBAN FR57 5623 2858 8424 7451 7123) Tj ET \
                  BT /F1 12 Tf 72 645 Td (685 by Friday) Tj ET /X1 Do",
            ),
            stream(
                &format!(
                    "/Type /XObject /Subtype /Form /BBox [0 0 612 792] \
                     /Resources << /Font << /F2 {font} >> >>"
                ),
                b"BT /F2 10 Tf 72 100 Td (Footer IBAN GB82 WEST 1234 5698 7654 32) Tj ET",
            ),
            dict("<< /FT /Tx /T (holder) /V (Ada Lovelace) /Kids [7 0 R] >>"),
            dict("<< /FT /Tx /T (ssn) /V (219-45-6789) >>"),
            dict("<< /Author (Grace) /Keywords (ssn 672-34-1942) >>"),
        ],
        "/Info 8 0 R",
    );
    let (format, extraction) = extract_bytes("form.pdf", &pdf);
    assert_eq!(format, Some(Format::Pdf));
    assert!(extraction.failure.is_none() && extraction.unread.is_none());
    assert_eq!(
        pieces(&extraction),
        [
            ("page 1", "Card 4556 7375 8689 9855 paid"),
            ("page 1", "Line two"),
            ("page 1", "Wire to IBAN FR57 5623 2858 8424 7451 7123"),
            ("page 1", "685 by Friday"),
            ("page 1", "Footer IBAN GB82 WEST 1234 5698 7654 32"),
            // The wrapped IBAN, read across the line break.
            (
                "page 1",
                "Wire to IBAN FR57 5623 2858 8424 7451 7123 685 by Friday"
            ),
            ("page 1 comment", "Check SSN 536-22-8726"),
            ("form field holder", "Ada Lovelace"),
            ("form field holder.ssn", "219-45-6789"),
            ("document properties (Author)", "Grace"),
            ("document properties (Keywords)", "ssn 672-34-1942"),
        ]
    );
    // Each value is one hit, the wrapped IBAN included, and the card's digits inside an IBAN
    // are not a card.
    let policy = DlpPolicy::default();
    let recognizers = Recognizers::new(&policy).unwrap();
    let info = assess(
        &extraction.pieces,
        &recognizers,
        &policy,
        Default::default(),
    )
    .info;
    let ibans: Vec<&str> = info.hits["iban"]
        .hits
        .iter()
        .map(|hit| hit.hit.as_str())
        .collect();
    assert_eq!(
        ibans,
        [
            "**** **** **** **** **54 32",
            "**** **** **** **** **** ***3 685"
        ]
    );
    assert_eq!(info.hits["ccn"].hits.len(), 1);
}

#[test]
fn a_pdf_of_scanned_pages_is_unread_not_clean() {
    use palisade_test_support::pdf::{build, dict, stream};
    let pdf = build(
        &[
            dict("<< /Type /Catalog /Pages 2 0 R >>"),
            dict("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
            dict("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>"),
            stream("", b"q 612 0 0 792 0 0 cm 0.5 g 0 0 1 1 re f Q"),
        ],
        "",
    );
    let (_, extraction) = extract_bytes("scan.pdf", &pdf);
    assert!(extraction.failure.is_none());
    assert!(
        extraction.unread.as_deref().unwrap().contains("no OCR"),
        "{:?}",
        extraction.unread
    );
}

#[test]
fn a_damaged_document_is_a_failure_with_what_could_be_read() {
    let dir = build(&["docx"]);
    let original = std::fs::read(dir.path().join("positives.docx")).unwrap();
    // The same package with its body cut in the middle of an element.
    let mut parts = palisade_test_support::ooxml::parts(&original);
    for (name, data) in &mut parts {
        if name == "word/document.xml" {
            data.truncate(data.len() / 2);
        }
    }
    let parts: Vec<(&str, Vec<u8>)> = parts
        .iter()
        .map(|(name, data)| (name.as_str(), data.clone()))
        .collect();
    let damaged = palisade_test_support::ooxml::zip_of(&parts);
    let (format, extraction) = extract_bytes("damaged.docx", &damaged);
    assert_eq!(format, Some(Format::Word));
    let failure = extraction.failure.as_deref().unwrap();
    assert!(failure.contains("word/document.xml"), "{failure}");
    // The header, read after the body, is still examined.
    assert!(
        pieces(&extraction)
            .iter()
            .any(|(location, _)| *location == "header 1 paragraph 1"),
        "{:?}",
        pieces(&extraction)
    );
}

#[test]
fn word_text_boxes_footnotes_and_endnotes_are_read_once_each() {
    let rels = br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#;
    let types = br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#;
    // A text box as Word writes it: the DrawingML choice and a VML fallback with the same
    // text, inside a run of the paragraph that anchors it.
    let document = br#"<?xml version="1.0"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" xmlns:v="urn:schemas-microsoft-com:vml"><w:body>
<w:p><w:r><w:t xml:space="preserve">Anchor </w:t></w:r><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:txbx><w:txbxContent><w:p><w:r><w:t>Box: SSN 536-22-8726</w:t></w:r></w:p></w:txbxContent></wps:txbx></w:drawing></mc:Choice><mc:Fallback><w:pict><v:textbox><w:txbxContent><w:p><w:r><w:t>Box: SSN 536-22-8726</w:t></w:r></w:p></w:txbxContent></v:textbox></w:pict></mc:Fallback></mc:AlternateContent></w:r><w:r><w:t>text<w:tab/>after</w:t></w:r></w:p>
</w:body></w:document>"#;
    let footnotes = br#"<?xml version="1.0"?><w:footnotes xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:footnote w:id="1"><w:p><w:r><w:t>Card 4556 7375 8689 9855</w:t></w:r></w:p></w:footnote></w:footnotes>"#;
    let endnotes = br#"<?xml version="1.0"?><w:endnotes xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:endnote w:id="1"><w:p><w:r><w:t>IBAN GB82 WEST 1234 5698 7654 32</w:t></w:r></w:p></w:endnote></w:endnotes>"#;
    let package = palisade_test_support::ooxml::zip_of(&[
        ("[Content_Types].xml", types.to_vec()),
        ("_rels/.rels", rels.to_vec()),
        ("word/document.xml", document.to_vec()),
        ("word/footnotes.xml", footnotes.to_vec()),
        ("word/endnotes.xml", endnotes.to_vec()),
    ]);
    let (format, extraction) = extract_bytes("boxes.docx", &package);
    assert_eq!(format, Some(Format::Word));
    assert!(extraction.failure.is_none(), "{:?}", extraction.failure);
    assert_eq!(
        pieces(&extraction),
        [
            ("body paragraph 2", "Box: SSN 536-22-8726"),
            ("body paragraph 1", "Anchor text\tafter"),
            ("footnotes paragraph 1", "Card 4556 7375 8689 9855"),
            ("endnotes paragraph 1", "IBAN GB82 WEST 1234 5698 7654 32"),
        ]
    );
}

#[test]
fn a_zip_whose_first_member_is_a_pdf_is_not_taken_for_a_pdf() {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("statement.pdf", stored).unwrap();
    std::io::Write::write_all(
        &mut zip,
        &palisade_test_support::pdf::plain("Card 4556 7375 8689 9855"),
    )
    .unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    assert!(
        bytes[..bytes.len().min(1024)]
            .windows(5)
            .any(|w| w == b"%PDF-")
    );
    // A plain zip is not read by DLP: its members are examined as files of their own.
    let (format, _) = extract_bytes("statements.zip", &bytes);
    assert_eq!(format, None);
}
