//! A small YAML emitter for JSON values: block mappings and sequences, strings double-quoted.
//! JSON string escapes are valid in YAML double-quoted scalars, so every value round-trips.

use serde_json::Value;

/// Appends `value` as the body of a YAML document (no `---`/`...` markers).
pub fn write_document(out: &mut String, value: &Value) {
    write_block(out, value, 0);
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some("null".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(Value::String(s.clone()).to_string()),
        Value::Array(items) if items.is_empty() => Some("[]".into()),
        Value::Object(map) if map.is_empty() => Some("{}".into()),
        _ => None,
    }
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
            && line.chars().all(|c| !c.is_control())
    });
    plain.then_some(lines)
}

fn yaml_key(key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !key.starts_with('-');
    if plain {
        key.to_string()
    } else {
        Value::String(key.to_string()).to_string()
    }
}

fn write_block(out: &mut String, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, item) in map {
                let key = yaml_key(key);
                if let Some(lines) = literal_block(item) {
                    out.push_str(&format!("{pad}{key}: |\n"));
                    for line in lines {
                        out.push_str(&format!("{pad}  {line}\n"));
                    }
                    continue;
                }
                match scalar(item) {
                    Some(text) => out.push_str(&format!("{pad}{key}: {text}\n")),
                    None => {
                        out.push_str(&format!("{pad}{key}:\n"));
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
}
