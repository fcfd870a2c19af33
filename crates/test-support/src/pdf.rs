//! PDF documents written at runtime for sanitization tests: plain objects, a correct
//! cross-reference table, nothing compressed, so tests can look for markers in the bytes.

/// A PDF whose objects are numbered from 1 in the order given (object 1 should be the
/// catalog), with `trailer` keys added to the trailer.
pub fn build(objects: &[Vec<u8>], trailer: &str) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (index, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", index + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R {trailer} >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A dictionary object.
pub fn dict(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

/// A stream object with `dict` keys (without `/Length`, which is added) and `data`.
pub fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut out = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\nendstream");
    out
}

/// A one-page document with the text `text` and nothing active.
pub fn plain(text: &str) -> Vec<u8> {
    build(
        &[
            dict("<< /Type /Catalog /Pages 2 0 R >>"),
            dict("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
            dict(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
                 /Resources << /Font << /F1 5 0 R >> >> >>",
            ),
            stream(
                "",
                format!("BT /F1 24 Tf 72 720 Td ({text}) Tj ET").as_bytes(),
            ),
            dict("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"),
        ],
        "",
    )
}

/// Markers the [`active`] document carries in its active content, none of which may be in a
/// sanitized copy.
pub const ACTIVE_MARKERS: &[&str] = &[
    "open_action_js",
    "will_close_js",
    "stream_js_marker",
    "page_open_js",
    "keystroke_js",
    "outline_js",
    "rendition_js",
    "calc.exe",
    "http://submit.invalid/",
    "embedded_payload_marker",
    "attachment_payload_marker",
    "xfa_payload",
    "metadata_marker",
    "author_marker",
    "orphan_payload_marker",
    "JUNK-BEFORE",
    "JUNK-AFTER",
];

/// What sanitizing [`active`] with the default settings removes: `object_name` and count, in
/// the report's order.
pub const ACTIVE_REMOVALS: [(&str, u64); 9] = [
    ("JavaScript", 6),
    ("Launch action", 1),
    ("Form submission action", 1),
    ("Embedded file", 2),
    ("XFA form", 1),
    ("Multimedia content", 1),
    ("Metadata", 2),
    ("Data outside the document", 2),
    ("Unreferenced object", 1),
];

/// Keys that must not be in a sanitized copy of [`active`] once qpdf has expanded it
/// (`qpdf --qdf --object-streams=disable`).
pub const ACTIVE_KEYS: [&str; 12] = [
    "/JavaScript",
    "/JS",
    "/OpenAction",
    "/AA",
    "/Launch",
    "/EmbeddedFile",
    "/XFA",
    "/RichMedia",
    "/SubmitForm",
    "/FileAttachment",
    "/Screen",
    "/Metadata",
];

/// A one-page document ("Hello") with active content in every place the sanitizer clears,
/// bytes before its header and after its end, and a kept hyperlink (`https://example.com/`).
///
/// Removed by default: JavaScript 6 (OpenAction, catalog AA, names tree with the script in a
/// stream, page AA, a form field with no widget, an outline item), Launch 1 (chained after the
/// OpenAction), form submission 1, embedded files 2 (names tree and `/AF` naming the same
/// file, and a FileAttachment annotation), XFA 1, multimedia 1 (a Screen annotation, with the
/// rendition script it holds), metadata 2 (XMP and the information dictionary), data outside
/// the document 2, unreferenced objects 1.
pub fn active() -> Vec<u8> {
    let objects = vec![
        dict(
            "<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R /AA << /WC 6 0 R >> \
             /Names << /JavaScript 7 0 R /EmbeddedFiles 9 0 R >> \
             /AcroForm << /Fields [12 0 R] /XFA 13 0 R >> /Outlines 14 0 R /Metadata 16 0 R \
             /AF [10 0 R] >>",
        ),
        dict("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        dict(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
             /Resources << /Font << /F1 17 0 R >> >> \
             /AA << /O << /S /JavaScript /JS (page_open_js) >> >> \
             /Annots [11 0 R 18 0 R 19 0 R 20 0 R] >>",
        ),
        stream("", b"BT /F1 24 Tf 72 720 Td (Hello) Tj ET"),
        dict("<< /S /JavaScript /JS (open_action_js) /Next << /S /Launch /F (calc.exe) >> >>"),
        dict("<< /S /JavaScript /JS (will_close_js) >>"),
        dict("<< /Names [(doc_js) 8 0 R] >>"),
        dict("<< /S /JavaScript /JS 21 0 R >>"),
        dict("<< /Names [(payload.exe) 10 0 R] >>"),
        dict("<< /Type /Filespec /F (payload.exe) /UF (payload.exe) /EF << /F 22 0 R >> >>"),
        dict(
            "<< /Type /Annot /Subtype /Link /Rect [72 600 300 620] \
             /A << /S /URI /URI (https://example.com/) >> >>",
        ),
        dict("<< /FT /Tx /T (name) /AA << /K << /S /JavaScript /JS (keystroke_js) >> >> >>"),
        stream("", b"<xdp:xdp>xfa_payload</xdp:xdp>"),
        dict("<< /Type /Outlines /First 15 0 R /Last 15 0 R /Count 1 >>"),
        dict(
            "<< /Title (Chapter) /Parent 14 0 R /Dest [3 0 R /Fit] \
             /A << /S /JavaScript /JS (outline_js) >> >>",
        ),
        stream(
            "/Type /Metadata /Subtype /XML",
            b"<x:xmpmeta>metadata_marker</x:xmpmeta>",
        ),
        dict("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"),
        dict("<< /Type /Annot /Subtype /FileAttachment /Rect [72 500 90 520] /FS 23 0 R >>"),
        dict(
            "<< /Type /Annot /Subtype /Screen /Rect [72 400 200 450] \
             /A << /S /Rendition /JS (rendition_js) >> >>",
        ),
        dict(
            "<< /Type /Annot /Subtype /Link /Rect [72 300 200 320] \
             /A << /S /SubmitForm /F (http://submit.invalid/) >> >>",
        ),
        stream("", b"app.alert('stream_js_marker')"),
        stream("/Type /EmbeddedFile", b"embedded_payload_marker"),
        dict("<< /Type /Filespec /F (attached.txt) /EF << /F 24 0 R >> >>"),
        stream("/Type /EmbeddedFile", b"attachment_payload_marker"),
        stream("", b"orphan_payload_marker"),
        dict("<< /Author (author_marker) /Title (Active) >>"),
    ];
    let mut out = b"JUNK-BEFORE\n".to_vec();
    let body = build(&objects, "/Info 26 0 R");
    // The cross-reference offsets count from the header, as readers accept.
    out.extend_from_slice(&body);
    out.extend_from_slice(b"JUNK-AFTER\n");
    out
}

/// A signed document: a signature field whose value is a signature dictionary.
pub fn signed() -> Vec<u8> {
    build(
        &[
            dict(
                "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /SigFlags 3 >> \
                 /OpenAction << /S /JavaScript /JS (signed_js) >> >>",
            ),
            dict("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
            dict("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>"),
            stream("", b"BT ET"),
            dict("<< /FT /Sig /T (Signature1) /V 6 0 R >>"),
            dict(
                "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached \
                 /ByteRange [0 10 20 30] /Contents <00> >>",
            ),
        ],
        "",
    )
}

/// A document of `pages` pages, each with a content stream of about `bytes_per_page` bytes of
/// text, and a script run on opening (for sanitization benchmarks).
pub fn pages(pages: usize, bytes_per_page: usize) -> Vec<u8> {
    let mut objects = vec![
        Vec::new(),
        Vec::new(),
        dict("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"),
        dict("<< /S /JavaScript /JS (app.alert('opened')) >>"),
    ];
    let mut kids = String::new();
    let line = "BT /F1 10 Tf 72 700 Td (The quick brown fox jumps over the lazy dog.) Tj ET\n";
    for page in 0..pages {
        let page_id = objects.len() + 1;
        let content_id = page_id + 1;
        kids.push_str(&format!("{page_id} 0 R "));
        objects.push(dict(&format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R \
             /Resources << /Font << /F1 3 0 R >> >> >>"
        )));
        let mut content = format!("% page {page}\n");
        while content.len() < bytes_per_page {
            content.push_str(line);
        }
        objects.push(stream("", content.as_bytes()));
    }
    objects[0] = dict("<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>");
    objects[1] = dict(&format!("<< /Type /Pages /Kids [{kids}] /Count {pages} >>"));
    build(&objects, "")
}
