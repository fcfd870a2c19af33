//! Office Open XML documents built at runtime (with the zip crate) for the Deep CDR tests: a
//! macro-enabled Word document carrying every kind of object sanitization removes.

use std::io::{Cursor, Read, Write};

use zip::write::SimpleFileOptions;

/// Strings found only in the active content of [`word_active`]: none may be left in any part
/// of a sanitized copy.
pub const ACTIVE_MARKERS: &[&str] = &[
    "vbaProject",
    "VBA-PROJECT-PAYLOAD",
    "OLE-PAYLOAD",
    "ACTIVEX-PAYLOAD",
    "ORPHAN-PAYLOAD",
    "activeX1",
    "oleObject1",
    "DDEAUTO",
    "INCLUDETEXT",
    "evil.example",
    "template.dotm",
    "secret_author",
    "secret_png_comment",
    "macroEnabled",
];

/// What sanitizing [`word_active`] reports removed, by object name and count. The picture's
/// text chunk counts as metadata with the document properties.
pub const ACTIVE_REMOVALS: [(&str, u64); 7] = [
    ("Macro", 1),
    ("Embedded OLE object", 1),
    ("ActiveX control", 1),
    ("DDE field", 1),
    ("External reference", 2),
    ("Metadata", 3),
    ("Unreferenced object", 1),
];

/// Text the sanitized copy keeps: the body, a link's text and address, and what the removed
/// fields last showed.
pub const KEPT_TEXT: [&str; 4] = ["Hello OOXML", "Example link", "DDE result", "included text"];

const W: &str = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
const R: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const PKG_REL: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
const MS_REL: &str = "http://schemas.microsoft.com/office/2006/relationships";

/// A macro-enabled Word document (docm) with a VBA project, an embedded OLE object, an
/// ActiveX control, a DDE field, a field and an attached template that fetch from elsewhere,
/// document properties, a picture with a text chunk, an unreferenced part, a hyperlink (kept
/// by default), and an embedded Word document that has a DDE field of its own.
pub fn word_active() -> Vec<u8> {
    let body = format!(
        "<w:p><w:r><w:t>Hello OOXML</w:t></w:r></w:p>\
         <w:p><w:hyperlink r:id=\"rId6\"><w:r><w:t>Example link</w:t></w:r></w:hyperlink></w:p>\
         <w:p><w:r>{picture}</w:r></w:p>\
         <w:p><w:r><w:object w:dxaOrig=\"1440\" w:dyaOrig=\"720\"><v:shape id=\"_x0000_i1025\" \
         style=\"width:72pt;height:36pt\" o:ole=\"\"><v:imagedata r:id=\"rId3\" o:title=\"\"/></v:shape>\
         <o:OLEObject Type=\"Embed\" ProgID=\"Package\" ShapeID=\"_x0000_i1025\" \
         DrawAspect=\"Icon\" ObjectID=\"_1\" r:id=\"rId4\"/></w:object></w:r></w:p>\
         <w:p><w:r><w:object w:dxaOrig=\"1440\" w:dyaOrig=\"720\"><v:shape id=\"_x0000_i1026\" \
         style=\"width:72pt;height:36pt\"/><w:control r:id=\"rId5\" w:name=\"CommandButton1\" \
         w:shapeid=\"_x0000_i1026\"/></w:object></w:r></w:p>\
         <w:p><w:r><w:fldChar w:fldCharType=\"begin\"/></w:r><w:r><w:instrText xml:space=\"preserve\"> DDE</w:instrText></w:r>\
         <w:r><w:instrText xml:space=\"preserve\">AUTO c:\\\\windows\\\\system32\\\\cmd.exe \"/k calc.exe\" </w:instrText></w:r>\
         <w:r><w:fldChar w:fldCharType=\"separate\"/></w:r><w:r><w:t>DDE result</w:t></w:r>\
         <w:r><w:fldChar w:fldCharType=\"end\"/></w:r></w:p>\
         <w:p><w:fldSimple w:instr=\" INCLUDETEXT &quot;http://evil.example/x.docx&quot; \">\
         <w:r><w:t>included text</w:t></w:r></w:fldSimple></w:p>\
         <w:p><w:r><w:object w:dxaOrig=\"1440\" w:dyaOrig=\"720\"><v:shape id=\"_x0000_i1027\" \
         style=\"width:72pt;height:36pt\" o:ole=\"\"><v:imagedata r:id=\"rId3\" o:title=\"\"/></v:shape>\
         <o:OLEObject Type=\"Embed\" ProgID=\"Word.Document.12\" ShapeID=\"_x0000_i1027\" \
         DrawAspect=\"Icon\" ObjectID=\"_2\" r:id=\"rId7\"/></w:object></w:r></w:p>",
        picture = picture("rId3")
    );
    let rels = [
        rel("rId1", &format!("{MS_REL}/vbaProject"), "vbaProject.bin"),
        rel("rId2", &format!("{REL}/settings"), "settings.xml"),
        rel("rId3", &format!("{REL}/image"), "media/image1.png"),
        rel(
            "rId4",
            &format!("{REL}/oleObject"),
            "embeddings/oleObject1.bin",
        ),
        rel("rId5", &format!("{REL}/control"), "activeX/activeX1.xml"),
        external("rId6", &format!("{REL}/hyperlink"), "https://example.com/"),
        rel(
            "rId7",
            &format!("{REL}/package"),
            "embeddings/Microsoft_Word_Document.docx",
        ),
    ];
    let parts: Vec<(&str, Vec<u8>)> = vec![
        (
            "[Content_Types].xml",
            content_types(
                "application/vnd.ms-word.document.macroEnabled.main+xml",
                &[
                    ("bin", "application/vnd.ms-office.vbaProject"),
                    ("png", "image/png"),
                    (
                        "docx",
                        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    ),
                ],
                &[
                    (
                        "/word/settings.xml",
                        "application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml",
                    ),
                    ("/word/activeX/activeX1.xml", "application/vnd.ms-office.activeX+xml"),
                    (
                        "/word/embeddings/oleObject1.bin",
                        "application/vnd.openxmlformats-officedocument.oleObject",
                    ),
                    ("/word/vbaData.xml", "application/vnd.ms-word.vbaData+xml"),
                    (
                        "/docProps/core.xml",
                        "application/vnd.openxmlformats-package.core-properties+xml",
                    ),
                    (
                        "/docProps/app.xml",
                        "application/vnd.openxmlformats-officedocument.extended-properties+xml",
                    ),
                ],
            ),
        ),
        (
            "_rels/.rels",
            relationships(&[
                rel("rId1", &format!("{REL}/officeDocument"), "word/document.xml"),
                rel(
                    "rId2",
                    &format!("{PKG_REL}/metadata/core-properties"),
                    "docProps/core.xml",
                ),
                rel(
                    "rId3",
                    &format!("{REL}/extended-properties"),
                    "docProps/app.xml",
                ),
            ]),
        ),
        ("word/document.xml", document(&body)),
        ("word/_rels/document.xml.rels", relationships(&rels)),
        (
            "word/settings.xml",
            format!(
                "{DECL}<w:settings xmlns:w=\"{W}\" xmlns:r=\"{R}\"><w:attachedTemplate r:id=\"rId1\"/></w:settings>"
            )
            .into_bytes(),
        ),
        (
            "word/_rels/settings.xml.rels",
            relationships(&[external(
                "rId1",
                &format!("{REL}/attachedTemplate"),
                "file:///C:/evil/template.dotm",
            )]),
        ),
        ("word/vbaProject.bin", b"VBA-PROJECT-PAYLOAD".to_vec()),
        (
            "word/_rels/vbaProject.bin.rels",
            relationships(&[rel("rId1", &format!("{MS_REL}/wordVbaData"), "vbaData.xml")]),
        ),
        (
            "word/vbaData.xml",
            format!("{DECL}<wne:vbaSuppData xmlns:wne=\"http://schemas.microsoft.com/office/word/2006/wordml\"/>")
                .into_bytes(),
        ),
        ("word/embeddings/oleObject1.bin", b"OLE-PAYLOAD".to_vec()),
        (
            "word/activeX/activeX1.xml",
            format!(
                "{DECL}<ax:ocx ax:classid=\"{{D7053240-CE69-11CD-A777-00DD01143C57}}\" \
                 ax:persistence=\"persistStorage\" r:id=\"rId1\" \
                 xmlns:ax=\"http://schemas.microsoft.com/office/2006/activeX\" xmlns:r=\"{R}\"/>"
            )
            .into_bytes(),
        ),
        (
            "word/activeX/_rels/activeX1.xml.rels",
            relationships(&[rel(
                "rId1",
                &format!("{MS_REL}/activeXControlBinary"),
                "activeX1.bin",
            )]),
        ),
        ("word/activeX/activeX1.bin", b"ACTIVEX-PAYLOAD".to_vec()),
        ("word/media/image1.png", png_with_text()),
        ("word/embeddings/Microsoft_Word_Document.docx", word_with_dde()),
        ("word/hidden.bin", b"ORPHAN-PAYLOAD".to_vec()),
        (
            "docProps/core.xml",
            format!(
                "{DECL}<cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" \
                 xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:creator>secret_author</dc:creator></cp:coreProperties>"
            )
            .into_bytes(),
        ),
        (
            "docProps/app.xml",
            format!(
                "{DECL}<Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties\">\
                 <Application>Microsoft Office Word</Application></Properties>"
            )
            .into_bytes(),
        ),
    ];
    zip_parts(&parts)
}

/// A plain Word document (docx) whose only active content is a DDE field (`fldSimple`).
pub fn word_with_dde() -> Vec<u8> {
    let body = "<w:p><w:fldSimple w:instr=\" DDEAUTO cmd &quot;/c calc&quot; \"><w:r><w:t>nested result</w:t></w:r></w:fldSimple></w:p>";
    zip_parts(&[
        (
            "[Content_Types].xml",
            content_types(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
                &[],
                &[],
            ),
        ),
        (
            "_rels/.rels",
            relationships(&[rel(
                "rId1",
                &format!("{REL}/officeDocument"),
                "word/document.xml",
            )]),
        ),
        ("word/document.xml", document(body)),
    ])
}

/// A plain Word document (docx) of `paragraphs` paragraphs of text and `pictures` JPEG photos
/// of `width` x `height`, for benchmarks.
pub fn word_report(paragraphs: usize, pictures: usize, width: u32, height: u32) -> Vec<u8> {
    let mut body = String::new();
    for at in 0..paragraphs {
        body.push_str(&format!(
            "<w:p><w:r><w:t>Paragraph {at}: the quarterly figures, as reported by every \
             region, with the notes that explain them.</w:t></w:r></w:p>"
        ));
        if pictures > 0 && at % (paragraphs / pictures).max(1) == 0 {
            let picture_at = at / (paragraphs / pictures).max(1);
            if picture_at < pictures {
                body.push_str(&format!(
                    "<w:p><w:r>{}</w:r></w:p>",
                    picture(&format!("rIdP{picture_at}"))
                ));
            }
        }
    }
    let rels: Vec<String> = (0..pictures)
        .map(|at| {
            rel(
                &format!("rIdP{at}"),
                &format!("{REL}/image"),
                &format!("media/photo{at}.jpg"),
            )
        })
        .collect();
    let mut parts: Vec<(String, Vec<u8>)> = vec![
        (
            "[Content_Types].xml".into(),
            content_types(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
                &[("jpg", "image/jpeg")],
                &[],
            ),
        ),
        (
            "_rels/.rels".into(),
            relationships(&[rel(
                "rId1",
                &format!("{REL}/officeDocument"),
                "word/document.xml",
            )]),
        ),
        ("word/document.xml".into(), document(&body)),
        ("word/_rels/document.xml.rels".into(), relationships(&rels)),
    ];
    for at in 0..pictures {
        parts.push((
            format!("word/media/photo{at}.jpg"),
            crate::images::photo(image::ImageFormat::Jpeg, width, height),
        ));
    }
    zip_parts(&parts)
}

/// A zip of the given files, stored as written.
pub fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    zip_parts(files)
}

/// Every part of a package, decompressed: (name, bytes), in the zip's order.
pub fn parts(package: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(Cursor::new(package)).expect("a zip");
    (0..zip.len())
        .map(|at| {
            let mut entry = zip.by_index(at).unwrap();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            (String::from_utf8_lossy(entry.name_raw()).into_owned(), data)
        })
        .collect()
}

const DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";

fn document(body: &str) -> Vec<u8> {
    format!(
        "{DECL}<w:document xmlns:w=\"{W}\" xmlns:r=\"{R}\" \
         xmlns:v=\"urn:schemas-microsoft-com:vml\" xmlns:o=\"urn:schemas-microsoft-com:office:office\" \
         xmlns:wp=\"http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing\" \
         xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\" \
         xmlns:pic=\"http://schemas.openxmlformats.org/drawingml/2006/picture\">\
         <w:body>{body}<w:sectPr><w:pgSz w:w=\"11906\" w:h=\"16838\"/></w:sectPr></w:body></w:document>"
    )
    .into_bytes()
}

/// An inline DrawingML picture of the image `id`.
fn picture(id: &str) -> String {
    format!(
        "<w:drawing><wp:inline><wp:extent cx=\"914400\" cy=\"685800\"/><wp:docPr id=\"1\" name=\"Picture 1\"/>\
         <a:graphic><a:graphicData uri=\"http://schemas.openxmlformats.org/drawingml/2006/picture\">\
         <pic:pic><pic:nvPicPr><pic:cNvPr id=\"1\" name=\"image1.png\"/><pic:cNvPicPr/></pic:nvPicPr>\
         <pic:blipFill><a:blip r:embed=\"{id}\"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill>\
         <pic:spPr><a:xfrm><a:off x=\"0\" y=\"0\"/><a:ext cx=\"914400\" cy=\"685800\"/></a:xfrm>\
         <a:prstGeom prst=\"rect\"><a:avLst/></a:prstGeom></pic:spPr></pic:pic>\
         </a:graphicData></a:graphic></wp:inline></w:drawing>"
    )
}

fn content_types(main: &str, defaults: &[(&str, &str)], overrides: &[(&str, &str)]) -> Vec<u8> {
    let mut xml = format!(
        "{DECL}<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
         <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
         <Default Extension=\"xml\" ContentType=\"application/xml\"/>"
    );
    for (extension, content_type) in defaults {
        xml.push_str(&format!(
            "<Default Extension=\"{extension}\" ContentType=\"{content_type}\"/>"
        ));
    }
    xml.push_str(&format!(
        "<Override PartName=\"/word/document.xml\" ContentType=\"{main}\"/>"
    ));
    for (part, content_type) in overrides {
        xml.push_str(&format!(
            "<Override PartName=\"{part}\" ContentType=\"{content_type}\"/>"
        ));
    }
    xml.push_str("</Types>");
    xml.into_bytes()
}

fn rel(id: &str, kind: &str, target: &str) -> String {
    format!("<Relationship Id=\"{id}\" Type=\"{kind}\" Target=\"{target}\"/>")
}

fn external(id: &str, kind: &str, target: &str) -> String {
    format!(
        "<Relationship Id=\"{id}\" Type=\"{kind}\" Target=\"{target}\" TargetMode=\"External\"/>"
    )
}

fn relationships(rels: &[String]) -> Vec<u8> {
    format!(
        "{DECL}<Relationships xmlns=\"{PKG_REL}\">{}</Relationships>",
        rels.concat()
    )
    .into_bytes()
}

/// A PNG picture with a text chunk (`tEXt`, Comment) naming `secret_png_comment`.
fn png_with_text() -> Vec<u8> {
    let png = crate::images::photo(image::ImageFormat::Png, 64, 48);
    let data = b"Comment\0secret_png_comment";
    let mut chunk = Vec::new();
    chunk.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(b"tEXt");
    crc.update(data);
    chunk.extend_from_slice(b"tEXt");
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(&crc.sum().to_be_bytes());
    // After the signature (8 bytes) and the IHDR chunk (25 bytes).
    let mut out = png[..33].to_vec();
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&png[33..]);
    out
}

fn zip_parts<N: AsRef<str>>(parts: &[(N, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in parts {
        zip.start_file(name.as_ref(), SimpleFileOptions::default())
            .unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}
