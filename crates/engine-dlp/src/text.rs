//! Text for the recognizers, each piece with where it is in the file.
//!
//! Plain text (and CSV, JSON, XML, HTML, Markdown, logs) is decoded by its byte order mark,
//! else as UTF-16 when every other byte is mostly zero, else as UTF-8 when it is valid UTF-8,
//! else as Windows-1252 (which decodes any byte), and is located by line.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// A piece of a file's text and where it is (`line 12`, `page 3`, `Sheet1!B4`, `file name`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub location: String,
    pub text: String,
}

/// The file's bytes decoded as text, and the encoding they were read in.
pub fn decode(bytes: &[u8]) -> (String, &'static Encoding) {
    let encoding = detect(bytes);
    let (text, _, _) = encoding.decode(bytes);
    (text.into_owned(), encoding)
}

fn detect(bytes: &[u8]) -> &'static Encoding {
    if let Some((encoding, _)) = Encoding::for_bom(bytes) {
        return encoding;
    }
    // Before UTF-8: UTF-16 text of ASCII characters is valid UTF-8 too (its zero bytes).
    if let Some(encoding) = utf16_by_zeros(bytes) {
        return encoding;
    }
    if std::str::from_utf8(bytes).is_ok() {
        return UTF_8;
    }
    WINDOWS_1252
}

fn utf16_by_zeros(bytes: &[u8]) -> Option<&'static Encoding> {
    let sample = &bytes[..bytes.len().min(64 * 1024) & !1];
    let pairs = sample.len() / 2;
    if pairs >= 4 {
        let zero_at = |offset: usize| {
            sample
                .iter()
                .skip(offset)
                .step_by(2)
                .filter(|b| **b == 0)
                .count()
        };
        // ASCII-range text in UTF-16 has a zero byte in nearly every pair, on one side.
        let (even, odd) = (zero_at(0), zero_at(1));
        if odd * 10 >= pairs * 7 && even * 10 < pairs {
            return Some(UTF_16LE);
        }
        if even * 10 >= pairs * 7 && odd * 10 < pairs {
            return Some(UTF_16BE);
        }
    }
    None
}

/// The file read as plain text: `None` when it is not text (it holds NUL or other control
/// characters beyond a few, as binary formats do).
pub fn plain(bytes: &[u8]) -> Option<String> {
    let (text, _) = decode(bytes);
    let mut chars = 0usize;
    let mut control = 0usize;
    for c in text.chars() {
        chars += 1;
        if c == '\0' {
            return None;
        }
        if c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}') {
            control += 1;
        }
    }
    (control * 100 <= chars).then_some(text)
}

/// Plain text as pieces, one per line with text (`line N`, counted from 1).
pub fn lines(text: &str) -> Vec<Piece> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(at, line)| Piece {
            location: format!("line {}", at + 1),
            text: line.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_detected_by_mark_validity_and_zero_bytes() {
        let text = "Card 4556 7375 8689 9855 – paid";
        assert_eq!(decode(text.as_bytes()), (text.to_string(), UTF_8));
        let mut le = vec![0xff, 0xfe];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(decode(&le), (text.to_string(), UTF_16LE));
        let unmarked: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(decode(&unmarked), (text.to_string(), UTF_16BE));
        // Windows-1252: an en dash is 0x96, and é 0xe9.
        let legacy = b"Caf\xe9 \x96 4556 7375 8689 9855";
        assert_eq!(
            decode(legacy),
            ("Café – 4556 7375 8689 9855".to_string(), WINDOWS_1252)
        );
    }

    #[test]
    fn binary_files_are_not_read_as_text() {
        assert!(plain(b"%PDF-1.7\n\x00\x01\x02 stream").is_none());
        assert!(plain(b"MZ\x90\x00\x03").is_none());
        let control: Vec<u8> = (0..200u8)
            .map(|i| if i % 10 == 0 { 1 } else { b'a' })
            .collect();
        assert!(plain(&control).is_none());
        assert_eq!(
            plain(b"name,card\nAda,4556737586899855\n")
                .unwrap()
                .lines()
                .count(),
            2
        );
    }

    #[test]
    fn lines_are_numbered_from_one_and_blank_ones_left_out() {
        assert_eq!(
            lines("first\r\n\n  \nfourth"),
            vec![
                Piece {
                    location: "line 1".into(),
                    text: "first".into()
                },
                Piece {
                    location: "line 4".into(),
                    text: "fourth".into()
                },
            ]
        );
    }
}
