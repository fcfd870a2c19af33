//! Files written into HTML (or any text) as base64 `data:` URIs, such as
//! `<a href="data:application/octet-stream;base64,TVqQ…">`.

use base64::Engine;

use super::Found;
use crate::{ExtractError, find};

/// Longest media type and parameters read before the comma.
pub(super) const MAX_HEADER: usize = 256;

/// Whether the text carries a base64 `data:` URI.
pub(super) fn has_data_uri(text: &[u8]) -> bool {
    uris(text).next().is_some()
}

/// Each base64 `data:` URI: where its data starts.
fn uris(text: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        while let Some(offset) = find(&text[at..], b"data:") {
            let start = at + offset + 5;
            at = start;
            let window = &text[start..text.len().min(start + MAX_HEADER)];
            let Some(comma) = window.iter().position(|b| *b == b',') else {
                continue;
            };
            let header = &window[..comma];
            let plain = header
                .iter()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'<' | b'>'));
            if plain && header.to_ascii_lowercase().ends_with(b";base64") {
                return Some(start + comma + 1);
            }
        }
        None
    })
}

pub(super) fn data_uris(bytes: &[u8], found: &mut Found<'_, '_>) -> Result<(), ExtractError> {
    let mut count = 0;
    for start in uris(bytes) {
        let encoded: Vec<u8> = bytes[start..]
            .iter()
            .copied()
            .take_while(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(b, b'+' | b'/' | b'=' | b'\r' | b'\n' | b' ' | b'\t')
            })
            .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
            .collect();
        let Ok(data) = base64::engine::general_purpose::STANDARD_NO_PAD.decode(&encoded) else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        count += 1;
        if !found.add(&format!("data-uri-{count}"), &data)? {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_base64_data_uris_count() {
        assert!(has_data_uri(
            b"<img src=\"data:image/png;base64,iVBORw0KGgo=\">"
        ));
        assert!(!has_data_uri(b"<img src=\"data:image/svg+xml,<svg/>\">"));
        assert!(!has_data_uri(b"the data: is ready; base64, of course"));
    }
}
