//! RTF: the document is read group by group and copied, leaving out the groups that carry
//! active content: embedded objects (`\object`, a lone `\objdata`, `\datastore`), field
//! instructions that execute or fetch (DDE and DDEAUTO; INCLUDETEXT, INCLUDEPICTURE, IMPORT
//! and LINK; HYPERLINK when links are removed; the field's last result stays as text), an
//! attached template (`\template`), and metadata (`\info`, `\userprops`). Bytes after the
//! document's last brace are gone.
//!
//! The reader is a loop over the bytes with a counter of open groups (no recursion), so a
//! deeply nested document costs no stack; unbalanced groups are an invalid structure.

use std::time::Instant;

use palisade_model::{ActiveObject, CdrPolicy};

use crate::{Failure, Rebuilt, Removals};

/// Deepest nesting of groups accepted.
const MAX_DEPTH: usize = 10_000;

pub(crate) fn is_rtf(head: &[u8]) -> bool {
    head.starts_with(b"{\\rtf")
}

/// A control word at `at` (just after a backslash): its name, its numeric parameter, and
/// where it ends (after the delimiting space, if any).
fn control_word(input: &[u8], at: usize) -> (&[u8], Option<i64>, usize) {
    let mut end = at;
    while end < input.len() && input[end].is_ascii_alphabetic() {
        end += 1;
    }
    let name = &input[at..end];
    let number_start = end;
    if end < input.len() && input[end] == b'-' {
        end += 1;
    }
    while end < input.len() && input[end].is_ascii_digit() && end - number_start < 12 {
        end += 1;
    }
    let number = std::str::from_utf8(&input[number_start..end])
        .ok()
        .and_then(|text| text.parse().ok());
    if end < input.len() && input[end] == b' ' {
        end += 1;
    }
    (name, number, end)
}

/// Where the control sequence starting with the backslash at `at` ends, `\binN` data included.
fn control_end(input: &[u8], at: usize) -> usize {
    let Some(&next) = input.get(at + 1) else {
        return input.len();
    };
    if !next.is_ascii_alphabetic() {
        // A control symbol: `\{`, `\'hh`, `\*`, ...
        return if next == b'\'' {
            (at + 4).min(input.len())
        } else {
            at + 2
        };
    }
    let (name, number, end) = control_word(input, at + 1);
    if name == b"bin" {
        let skip = usize::try_from(number.unwrap_or(0).max(0)).unwrap_or(usize::MAX);
        return end.saturating_add(skip).min(input.len());
    }
    end
}

/// The destination a group starting with `{` at `at` names (its first control word, after an
/// optional `\*`).
fn destination(input: &[u8], at: usize) -> &[u8] {
    let mut cursor = at + 1;
    while cursor < input.len() && matches!(input[cursor], b'\r' | b'\n') {
        cursor += 1;
    }
    if input[cursor..].starts_with(b"\\*") {
        cursor += 2;
        while cursor < input.len() && matches!(input[cursor], b' ' | b'\r' | b'\n') {
            cursor += 1;
        }
    }
    if input.get(cursor) != Some(&b'\\') {
        return b"";
    }
    control_word(input, cursor + 1).0
}

/// Where the group starting with `{` at `at` ends (after its `}`), or `None` if it never does.
fn group_end(input: &[u8], at: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut cursor = at;
    while cursor < input.len() {
        match input[cursor] {
            b'{' => {
                depth += 1;
                cursor += 1;
            }
            b'}' => {
                depth -= 1;
                cursor += 1;
                if depth == 0 {
                    return Some(cursor);
                }
            }
            b'\\' => cursor = control_end(input, cursor),
            _ => cursor += 1,
        }
    }
    None
}

/// The text of a group without its control words and braces (field instructions, paths).
fn plain_text(group: &[u8]) -> String {
    let mut text = Vec::new();
    let mut cursor = 0;
    while cursor < group.len() {
        match group[cursor] {
            b'\\' => cursor = control_end(group, cursor),
            b'{' | b'}' | b'\r' | b'\n' => cursor += 1,
            byte => {
                text.push(byte);
                cursor += 1;
            }
        }
    }
    String::from_utf8_lossy(&text).trim().to_string()
}

/// The text after a control word inside a group (`{\*\objclass Package}` gives `Package`).
fn value_of(group: &[u8], word: &[u8]) -> String {
    let mut needle = b"\\".to_vec();
    needle.extend_from_slice(word);
    let Some(at) = group.windows(needle.len()).position(|w| w == needle) else {
        return String::new();
    };
    let rest = &group[at + needle.len()..];
    let end = rest.iter().position(|b| *b == b'}').unwrap_or(rest.len());
    plain_text(&rest[..end])
}

/// What a group is, when it is removed content: its kind and what identifies it.
fn classify(group: &[u8], name: &[u8]) -> Option<(ActiveObject, String)> {
    let found = match name {
        b"object" => {
            let class = value_of(group, b"objclass");
            let class = if class.is_empty() {
                "unnamed".into()
            } else {
                class
            };
            (
                ActiveObject::OleObject,
                format!("{class} object, {} bytes", group.len()),
            )
        }
        b"objdata" | b"datastore" => (
            ActiveObject::OleObject,
            format!(
                "\\{} data, {} bytes",
                String::from_utf8_lossy(name),
                group.len()
            ),
        ),
        b"template" => (
            ActiveObject::ExternalReference,
            format!("attached template {}", plain_text(group)),
        ),
        b"info" | b"userprops" => (
            ActiveObject::Metadata,
            format!("document {}", String::from_utf8_lossy(name)),
        ),
        b"fldinst" => {
            let instruction = plain_text(group);
            let kind = crate::field_kind(&instruction)?;
            (kind, format!("field {instruction}"))
        }
        _ => return None,
    };
    Some(found)
}

/// Destinations [`classify`] may remove: only their groups are measured.
const CANDIDATES: [&[u8]; 7] = [
    b"object",
    b"objdata",
    b"datastore",
    b"template",
    b"info",
    b"userprops",
    b"fldinst",
];

/// Rebuilds an RTF document without its active content.
pub(crate) fn rebuild(
    input: &[u8],
    policy: &CdrPolicy,
    deadline: Instant,
) -> Result<Rebuilt, Failure> {
    let mut removals = Removals::default();
    let mut out = Vec::with_capacity(input.len());
    let mut depth = 0usize;
    let mut groups = 0usize;
    let mut cursor = 0;
    while cursor < input.len() {
        match input[cursor] {
            b'{' => {
                groups += 1;
                if groups.is_multiple_of(4096) && Instant::now() > deadline {
                    return Err(Failure::timed_out());
                }
                let name = destination(input, cursor);
                if CANDIDATES.contains(&name) {
                    let end = group_end(input, cursor)
                        .ok_or_else(|| Failure::invalid("a group is never closed"))?;
                    if let Some((kind, detail)) = classify(&input[cursor..end], name) {
                        let removed = policy.removes(kind);
                        removals.record(kind, removed, &detail);
                        if removed {
                            cursor = end;
                            continue;
                        }
                    }
                }
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Failure::invalid(format!(
                        "groups nested deeper than {MAX_DEPTH} levels"
                    )));
                }
                out.push(b'{');
                cursor += 1;
            }
            b'}' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| Failure::invalid("a group is closed that was never opened"))?;
                out.push(b'}');
                cursor += 1;
                if depth == 0 {
                    break;
                }
            }
            b'\\' => {
                let end = control_end(input, cursor);
                out.extend_from_slice(&input[cursor..end]);
                cursor = end;
            }
            byte => {
                out.push(byte);
                cursor += 1;
            }
        }
    }
    if depth != 0 {
        return Err(Failure::invalid("the document ends inside a group"));
    }
    let rest = &input[cursor..];
    if rest.iter().any(|b| !b.is_ascii_whitespace() && *b != 0) {
        removals.record(
            ActiveObject::TrailingData,
            true,
            &format!("{} bytes after the end of the document", rest.len()),
        );
    }
    out.push(b'\n');
    Ok(Rebuilt {
        bytes: out,
        removals,
        signed: false,
        ..Rebuilt::default()
    })
}
