//! SVG documents written at runtime for sanitization tests.

/// Markers the [`active`] document carries in what sanitization removes.
pub const ACTIVE_MARKERS: &[&str] = &[
    "onload_marker",
    "script_marker",
    "onclick_marker",
    "link_marker",
    "secret_comment",
    "secret_metadata",
    "secret_editor",
    "styles.invalid",
    "animate.invalid",
    "frame.invalid",
    "tracker.invalid",
    "sprites.invalid",
    "/etc/passwd",
    "ENTITY",
];

/// What sanitizing [`active`] with the default settings removes: `object_name` and count.
pub const ACTIVE_REMOVALS: [(&str, u64); 5] = [
    ("JavaScript", 4),
    ("Metadata", 3),
    ("External reference", 6),
    ("Animation", 2),
    ("Foreign content", 1),
];

/// A 120x80 drawing ("Hello SVG", a gradient, a kept link and an embedded raster image) with
/// scripts, event handlers, a `javascript:` link, animation, foreignObject, remote references
/// (a style sheet, an import, an image, a `use`), an entity declared in the document type
/// definition, editor attributes, metadata and a comment.
pub fn active() -> Vec<u8> {
    r##"<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet href="http://styles.invalid/evil.css"?>
<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<!-- secret_comment -->
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" width="120" height="80" onload="alert('onload_marker')" inkscape:version="secret_editor">
  <metadata>secret_metadata</metadata>
  <script>alert('script_marker')</script>
  <style>@import url(http://styles.invalid/import.css); rect { stroke: black; }</style>
  <defs><linearGradient id="g"><stop offset="0" stop-color="red"/><stop offset="1" stop-color="blue"/></linearGradient></defs>
  <rect id="box" x="10" y="10" width="100" height="60" fill="url(#g)" onclick="steal('onclick_marker')"/>
  <animate xlink:href="#box" attributeName="fill" to="url(http://animate.invalid/)" dur="1s"/>
  <set attributeName="href" to="javascript:alert(1)"/>
  <foreignObject width="10" height="10"><body xmlns="http://www.w3.org/1999/xhtml"><iframe src="http://frame.invalid/"/></body></foreignObject>
  <image x="0" y="0" width="10" height="10" xlink:href="http://tracker.invalid/pixel.png"/>
  <image x="0" y="0" width="1" height="1" href="data:image/png;base64,iVBORw0KGgo="/>
  <a href="https://example.com/"><text x="10" y="75">Hello SVG</text></a>
  <a xlink:href="javascript:alert('link_marker')"><text x="10" y="20">click</text></a>
  <use href="http://sprites.invalid/icons.svg#x"/>
  <text x="50" y="50">&xxe;</text>
</svg>
"##
    .as_bytes()
    .to_vec()
}
