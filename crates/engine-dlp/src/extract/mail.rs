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

/// Whether text starts as an e-mail message (decided where extraction decides it).
pub(crate) use palisade_extract::is_message;

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
