//! E-mail messages (RFC 5322 with MIME, as `.eml`): the subject and the people it is from and
//! to (`header Subject`), every text body line by line (`body line 3`, HTML bodies as their
//! text), text attachments (`attachment notes.txt line 2`) and attached messages, decoded
//! from base64, quoted-printable and their character sets by mail-parser. Attachments that
//! are not text are named in the notes: DLP does not read them inside the message.

use std::path::Path;

use mail_parser::{Message, MessageParser, MimeHeaders};

use super::{Collector, Stop};
use crate::text::{Piece, lines};

/// Deepest attached message read.
const MAX_DEPTH: usize = 8;
/// Attachments named in a note at most.
const MAX_NAMED: usize = 10;

/// Header fields that open messages, at least two of which a message's header has.
const FIELDS: &[&str] = &[
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "received",
    "message-id",
    "mime-version",
    "return-path",
    "delivered-to",
    "reply-to",
    "content-type",
];

/// Whether text starts as an e-mail message: a header block of well-formed fields with at
/// least two that messages carry, ended by an empty line.
pub(crate) fn is_message(head: &[u8]) -> bool {
    let head = String::from_utf8_lossy(head);
    let mut known = 0usize;
    for (at, line) in head.lines().enumerate() {
        if line.is_empty() {
            return at > 0 && known >= 2;
        }
        if line.starts_with([' ', '\t']) && at > 0 {
            continue;
        }
        let Some((name, _)) = line.split_once(':') else {
            return false;
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return false;
        }
        if FIELDS.contains(&name.to_ascii_lowercase().as_str()) {
            known += 1;
        }
    }
    false
}

pub(crate) fn extract(path: &Path, into: &mut Collector) -> Result<(), Stop> {
    let raw = std::fs::read(path)?;
    let message = MessageParser::default()
        .parse(&raw)
        .ok_or_else(|| Stop::Invalid("not a readable e-mail message".into()))?;
    let mut unread = Vec::new();
    read_message(&message, "", 0, into, &mut unread)?;
    if !unread.is_empty() {
        let count = unread.len();
        unread.truncate(MAX_NAMED);
        into.note(format!(
            "{count} attachments that are not text were not examined: {}",
            unread.join(", ")
        ));
    }
    Ok(())
}

fn read_message(
    message: &Message<'_>,
    prefix: &str,
    depth: usize,
    into: &mut Collector,
    unread: &mut Vec<String>,
) -> Result<(), Stop> {
    if let Some(subject) = message.subject() {
        into.push(Piece::new(format!("{prefix}header Subject"), subject))?;
    }
    for (name, addresses) in [
        ("From", message.from()),
        ("To", message.to()),
        ("Cc", message.cc()),
    ] {
        let Some(addresses) = addresses else {
            continue;
        };
        let text: Vec<String> = addresses
            .iter()
            .map(|address| {
                format!(
                    "{} <{}>",
                    address.name().unwrap_or_default(),
                    address.address().unwrap_or_default()
                )
            })
            .collect();
        into.push(Piece::new(
            format!("{prefix}header {name}"),
            text.join(", "),
        ))?;
    }
    let bodies = message.text_body_count();
    for at in 0..bodies {
        let Some(text) = message.body_text(at) else {
            continue;
        };
        let body = if bodies > 1 {
            format!("{prefix}body {} ", at + 1)
        } else {
            format!("{prefix}body ")
        };
        for mut piece in lines(&text) {
            piece.location = format!("{body}{}", piece.location);
            into.push(piece)?;
        }
    }
    for (at, attachment) in message.attachments().enumerate() {
        let name = attachment
            .attachment_name()
            .map_or_else(|| format!("#{}", at + 1), str::to_string);
        if let Some(inner) = attachment.message() {
            if depth + 1 >= MAX_DEPTH {
                unread.push(format!("{name} (a message nested too deep)"));
                continue;
            }
            read_message(
                inner,
                &format!("{prefix}attached message {name}: "),
                depth + 1,
                into,
                unread,
            )?;
        } else if attachment.is_text() {
            let text = attachment.text_contents().unwrap_or_default();
            for mut piece in lines(text) {
                piece.location = format!("{prefix}attachment {name} {}", piece.location);
                into.push(piece)?;
            }
        } else {
            unread.push(name);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_told_from_text_by_their_header() {
        assert!(is_message(
            b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody"
        ));
        assert!(is_message(
            b"Received: from x\r\n\tby y\r\nMessage-ID: <1@x>\r\n\r\n"
        ));
        assert!(!is_message(b"Subject: only one field\r\n\r\nbody"));
        assert!(!is_message(b"name,card\nAda,4556\n"));
        assert!(!is_message(b"Note: From: To: nothing\n\n"));
    }
}
