//! Plain text, masked byte for byte: each byte (each UTF-16 code unit) of a value becomes the
//! mask character in the file's own encoding, so the copy has the same length, lines and
//! encoding as the file.

use std::path::Path;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE};

use super::{Failure, MASK, Targets};
use crate::text::decode;

pub(super) fn redact(source: &Path, targets: &Targets, copy: &Path) -> Result<(), Failure> {
    let mut bytes = std::fs::read(source)?;
    let (text, encoding) = decode(&bytes);
    let ranges = targets.find(&text);
    let unit = if encoding == UTF_16LE || encoding == UTF_16BE {
        2
    } else {
        1
    };
    // Where the decoded text starts in the file, past a byte order mark.
    let mut at = Encoding::for_bom(&bytes).map_or(0, |(_, length)| length);
    let mut ranges = ranges.iter().peekable();
    for (offset, c) in text.char_indices() {
        let width = if unit == 2 {
            c.len_utf16() * 2
        } else if encoding == encoding_rs::UTF_8 {
            c.len_utf8()
        } else {
            1
        };
        // UTF-16 cut after an odd byte: the last one decodes as U+FFFD, of that one byte.
        let width = width.min(bytes.len().saturating_sub(at)).max(1);
        while ranges.peek().is_some_and(|range| range.end <= offset) {
            ranges.next();
        }
        if ranges.peek().is_some_and(|range| range.start <= offset) && !c.is_whitespace() {
            let Some(span) = bytes.get_mut(at..at + width) else {
                break;
            };
            for code_unit in span.chunks_mut(unit) {
                code_unit.copy_from_slice(&mask_unit(encoding));
            }
        }
        at += width;
    }
    if at != bytes.len() {
        return Err(Failure(format!(
            "the text's {} encoding does not map back to its bytes one for one",
            encoding.name()
        )));
    }
    std::fs::write(copy, &bytes)?;
    Ok(())
}

/// The mask character as one code unit of the encoding.
fn mask_unit(encoding: &'static Encoding) -> Vec<u8> {
    let mask = MASK as u16;
    if encoding == UTF_16LE {
        mask.to_le_bytes().to_vec()
    } else if encoding == UTF_16BE {
        mask.to_be_bytes().to_vec()
    } else {
        vec![MASK as u8]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(bytes: &[u8], values: &[&str]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let (source, copy) = (dir.path().join("in"), dir.path().join("out"));
        std::fs::write(&source, bytes).unwrap();
        redact(&source, &Targets::new(values.iter().copied()), &copy)
            .map_err(|failure| failure.0)
            .unwrap();
        std::fs::read(copy).unwrap()
    }

    #[test]
    fn each_byte_of_a_value_is_masked_in_the_files_own_encoding() {
        assert_eq!(
            redacted(
                "Café card 4556 7375\r\n8689 9855 end".as_bytes(),
                &["4556 7375 8689 9855"]
            ),
            "Café card **** ****\r\n**** **** end".as_bytes()
        );
        // Windows-1252: the é (0xe9) inside a custom value is one byte, masked as one.
        assert_eq!(
            redacted(b"ref X\xe9-42 ok \x96", &["X\u{e9}-42"]),
            b"ref ***** ok \x96"
        );
        // UTF-16 with its byte order mark: every code unit of the value, in the same order.
        let utf16 = |text: &str| -> Vec<u8> {
            let mut bytes = vec![0xff, 0xfe];
            bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            bytes
        };
        assert_eq!(
            redacted(&utf16("ssn 536-22-8726."), &["536-22-8726"]),
            utf16("ssn ***********.")
        );
        // Cut after an odd byte, as a truncated log is: the stray byte stays as it was.
        let mut cut = utf16("ssn 536-22-8726 x");
        cut.pop();
        let mut masked = utf16("ssn *********** x");
        masked.pop();
        assert_eq!(redacted(&cut, &["536-22-8726"]), masked);
    }
}
