//! A small YAML emitter for JSON values: block mappings and sequences, strings double-quoted
//! with every unprintable character escaped, keys that could read as another type quoted, and
//! keys too long to be implicit written as `? key` entries, so that every value reads back the
//! same in YAML 1.2 and 1.1 readers (`fuzz/fuzz_targets/yaml.rs` checks this with yaml-rust2).

use serde_json::Value;

/// Appends `value` as the body of a YAML document (no `---`/`...` markers).
pub fn write_document(out: &mut String, value: &Value) {
    write_block(out, value, 0);
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some("null".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(number(n)),
        Value::String(s) => Some(quoted(s)),
        Value::Array(items) if items.is_empty() => Some("[]".into()),
        Value::Object(map) if map.is_empty() => Some("{}".into()),
        _ => None,
    }
}

/// A number as every YAML reader takes it: floats keep a `.` and a signed exponent (YAML 1.1
/// readers such as PyYAML take `1e300` for a string).
fn number(n: &serde_json::Number) -> String {
    let text = n.to_string();
    if !n.is_f64() {
        return text;
    }
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m.to_string(), Some(e.to_string())),
        None => (text, None),
    };
    let mantissa = if mantissa.contains('.') {
        mantissa
    } else {
        format!("{mantissa}.0")
    };
    match exponent {
        Some(e) if e.starts_with(['+', '-']) => format!("{mantissa}e{e}"),
        Some(e) => format!("{mantissa}e+{e}"),
        None => mantissa,
    }
}

/// Whether a character may stand as itself in a YAML document, for YAML 1.2 and 1.1 readers
/// alike: printable, and not one of the characters YAML 1.1 reads as a line break (NEL, LS, PS)
/// or a byte order mark.
fn printable(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{2027}' | '\u{202a}'..='\u{d7ff}' | '\u{e000}'..='\u{fefe}' | '\u{ff00}'..='\u{fffd}' | '\u{10000}'..)
}

/// A double-quoted scalar: `"` and `\` escaped, and every character that is not [`printable`]
/// as a YAML escape, so that the text reads back exactly.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if printable(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// Multi-line text that a literal block (`|`) carries exactly: printable lines, one final newline.
fn literal_block(value: &Value) -> Option<Vec<&str>> {
    let Value::String(text) = value else {
        return None;
    };
    let body = text.strip_suffix('\n')?;
    if !body.contains('\n') || body.ends_with('\n') {
        return None;
    }
    let lines: Vec<&str> = body.split('\n').collect();
    let plain = lines.iter().all(|line| {
        !line.is_empty()
            && !line.starts_with(' ')
            && !line.ends_with(' ')
            && line.chars().all(printable)
    });
    plain.then_some(lines)
}

/// Words YAML 1.1 or 1.2 readers take for something other than a string when unquoted.
const RESERVED: [&str; 11] = [
    "true", "false", "null", "yes", "no", "on", "off", "y", "n", "nan", "inf",
];

/// Longest key written as an implicit key (YAML allows 1024 characters; longer ones are
/// written as explicit `? key` entries).
const IMPLICIT_KEY_CHARS: usize = 1000;

fn yaml_key(key: &str) -> String {
    let plain = key
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !RESERVED.contains(&key.to_ascii_lowercase().as_str());
    if plain { key.to_string() } else { quoted(key) }
}

/// Writes `key` and the indicator its value follows: `key:` or, for a key too long to be
/// implicit, `? key` on its own line then `:`.
fn write_key(out: &mut String, pad: &str, key: &str) {
    let key = yaml_key(key);
    if key.chars().count() > IMPLICIT_KEY_CHARS {
        out.push_str(&format!("{pad}? {key}\n{pad}:"));
    } else {
        out.push_str(&format!("{pad}{key}:"));
    }
}

fn write_block(out: &mut String, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, item) in map {
                write_key(out, &pad, key);
                if let Some(lines) = literal_block(item) {
                    out.push_str(" |\n");
                    for line in lines {
                        out.push_str(&format!("{pad}  {line}\n"));
                    }
                    continue;
                }
                match scalar(item) {
                    Some(text) => out.push_str(&format!(" {text}\n")),
                    None => {
                        out.push('\n');
                        write_block(out, item, indent + 2);
                    }
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                match scalar(item) {
                    Some(text) => out.push_str(&format!("{pad}- {text}\n")),
                    None => {
                        // The first line of a nested block goes after the dash.
                        let mut nested = String::new();
                        write_block(&mut nested, item, indent + 2);
                        let trimmed = nested.trim_start_matches(' ');
                        out.push_str(&format!("{pad}- {trimmed}"));
                    }
                }
            }
        }
        other => {
            if let Some(text) = scalar(other) {
                out.push_str(&format!("{pad}{text}\n"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_values_become_block_yaml() {
        // Keys in sorted order, so the expectation holds whether or not maps keep insertion order.
        let value = serde_json::json!({
            "batch_id": "ab",
            "empty": [],
            "files": [{"data_id": "x", "size": 3, "verdicts": ["Infected"]}],
            "pem": "-----BEGIN X-----\nAAAA\n-----END X-----\n",
            "quote": "a \"b\"\n",
        });
        let mut out = String::new();
        write_document(&mut out, &value);
        assert_eq!(
            out,
            "batch_id: \"ab\"\nempty: []\nfiles:\n  - data_id: \"x\"\n    size: 3\n    verdicts:\n      - \"Infected\"\npem: |\n  -----BEGIN X-----\n  AAAA\n  -----END X-----\nquote: \"a \\\"b\\\"\\n\"\n"
        );
    }

    #[test]
    fn keys_and_text_that_could_read_as_something_else_are_quoted_or_escaped() {
        let long = "a long name ".repeat(100);
        let value = serde_json::json!({
            "yes": 1,
            "123": 2.5e300,
            "tab\there": "\u{7f}\u{85}\u{2028}\u{feff}\u{fffe}ok",
            long.clone(): 0.5,
        });
        let mut out = String::new();
        write_document(&mut out, &value);
        assert!(out.contains("\"yes\": 1\n"), "{out}");
        assert!(out.contains("\"123\": 2.5e+300\n"), "{out}");
        assert!(
            out.contains("\"tab\\there\": \"\\u007f\\u0085\\u2028\\ufeff\\ufffeok\"\n"),
            "{out}"
        );
        assert!(out.contains(&format!("? \"{long}\"\n: 0.5\n")), "{out}");
    }
}
