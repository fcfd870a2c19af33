//! Objects embedded in RTF: the hexadecimal data of every `\objdata` group, an OLE 1 object
//! (version, format, class name, topic, item, then the native data). A `Package` object gives
//! the file it packages; any other gives its native data, often an OLE 2 compound file that is
//! opened in turn. Data without the OLE 1 header is taken as it is.

use super::Found;
use crate::{ExtractError, find};

pub(super) fn objects(bytes: &[u8], found: &mut Found<'_, '_>) -> Result<(), ExtractError> {
    let mut at = 0;
    let mut count = 0;
    while let Some(offset) = find(&bytes[at..], b"\\objdata") {
        at += offset + b"\\objdata".len();
        // A longer control word (`\objdatax`) is not this one.
        if bytes.get(at).is_some_and(u8::is_ascii_alphabetic) {
            continue;
        }
        let (data, end) = hex_group(&bytes[at..]);
        at += end;
        if data.is_empty() {
            continue;
        }
        count += 1;
        let fallback = format!("object-{count}");
        let carry_on = match ole1(&data) {
            Some((class, native)) if class.eq_ignore_ascii_case("Package") => {
                found.add_native(native, &fallback)?
            }
            Some((class, native)) => {
                let class: String = class
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
                    .collect();
                found.add(&format!("{fallback} ({class})"), native)?
            }
            // No OLE 1 header: the data as it is (often a compound file).
            None => found.add(&fallback, &data)?,
        };
        if !carry_on {
            break;
        }
    }
    Ok(())
}

/// The bytes written as hexadecimal digits up to the end of the group (`}`), white space and
/// control words between them ignored, and where the group ends.
fn hex_group(text: &[u8]) -> (Vec<u8>, usize) {
    let mut data = Vec::new();
    let mut high: Option<u8> = None;
    let mut at = 0;
    while at < text.len() {
        let byte = text[at];
        match byte {
            b'}' => break,
            b'\\' => {
                // Skip a control word and its numeric parameter.
                at += 1;
                while at < text.len() && (text[at].is_ascii_alphanumeric() || text[at] == b'-') {
                    at += 1;
                }
                continue;
            }
            b'{' => {}
            _ => {
                if let Some(digit) = (byte as char).to_digit(16) {
                    let digit = digit as u8;
                    match high.take() {
                        Some(h) => data.push((h << 4) | digit),
                        None => high = Some(digit),
                    }
                }
            }
        }
        at += 1;
    }
    (data, at)
}

/// An embedded OLE 1 object: its class name and native data.
fn ole1(data: &[u8]) -> Option<(String, &[u8])> {
    let u32_at = |at: usize| -> Option<usize> {
        Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    // Version, then format 2: an embedded object.
    if u32_at(4)? != 2 {
        return None;
    }
    let mut at = 8;
    let mut class = String::new();
    for field in 0..3 {
        let length = u32_at(at)?;
        let value = data.get(at + 4..at.checked_add(4 + length)?)?;
        if field == 0 {
            let end = value.iter().position(|b| *b == 0).unwrap_or(value.len());
            class = String::from_utf8_lossy(&value[..end]).into_owned();
        }
        at += 4 + length;
    }
    let size = u32_at(at)?;
    let native = data.get(at + 4..)?;
    Some((class, &native[..size.min(native.len())]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits_are_read_across_white_space_and_control_words() {
        let (data, end) = hex_group(b" 01 0a\r\nFf\\par 0 2}rest");
        assert_eq!(data, [0x01, 0x0a, 0xff, 0x02]);
        assert_eq!(&b" 01 0a\r\nFf\\par 0 2}rest"[end..], b"}rest");
    }

    #[test]
    fn an_ole1_header_gives_the_class_and_the_native_data() {
        let mut data = Vec::new();
        data.extend_from_slice(&0x0501u32.to_le_bytes());
        data.extend_from_slice(&2u32.to_le_bytes());
        for field in [&b"Package\0"[..], b"\0", b"\0"] {
            data.extend_from_slice(&(field.len() as u32).to_le_bytes());
            data.extend_from_slice(field);
        }
        data.extend_from_slice(&3u32.to_le_bytes());
        data.extend_from_slice(b"abc");
        assert_eq!(ole1(&data), Some(("Package".to_string(), &b"abc"[..])));
        assert_eq!(ole1(&data[..20]), None);
    }
}
