//! E-mail as a container. A message (RFC 5322 with MIME, `.eml`) gives every leaf MIME part as
//! a member: attachments under their file names, bodies as `body.txt` or `body.html`, attached
//! messages as `.eml` files (opened in turn), decoded from base64 and quoted-printable by
//! mail-parser, and uuencoded files (a part so encoded, or `begin` blocks inside a text body)
//! decoded here. A mailbox (`mbox`) gives each message as a member, read a line at a time.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use mail_parser::{MessageParser, MimeHeaders, PartType};

use crate::{ExtractError, Extractor, Outcome, settle};

/// Largest message parsed; it is parsed in memory. A mailbox holding larger messages is
/// still opened, and such a message is then refused on its own.
const MAX_MESSAGE: u64 = 64 << 20;

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
pub fn is_message(head: &[u8]) -> bool {
    let mut known = 0usize;
    for (at, line) in head.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return at > 0 && known >= 2;
        }
        if line.starts_with(b" ") || line.starts_with(b"\t") {
            if at == 0 {
                return false;
            }
            continue;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            return false;
        };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|b| b.is_ascii_graphic()) {
            return false;
        }
        if FIELDS
            .iter()
            .any(|field| name.eq_ignore_ascii_case(field.as_bytes()))
        {
            known += 1;
        }
    }
    false
}

/// Whether text starts as a mailbox: a `From ` separator line, then a message.
pub(crate) fn is_mailbox(head: &[u8]) -> bool {
    head.starts_with(b"From ")
        && head
            .iter()
            .position(|b| *b == b'\n')
            .is_some_and(|end| is_message(&head[end + 1..]))
}

impl Extractor<'_> {
    pub(crate) fn mail(&self, path: &Path, outcome: &mut Outcome) -> Result<(), ExtractError> {
        let size = std::fs::metadata(path)?.len();
        if size > MAX_MESSAGE {
            return Err(ExtractError::Corrupt(format!(
                "an e-mail message of {size} bytes; messages up to {MAX_MESSAGE} bytes are opened"
            )));
        }
        let raw = std::fs::read(path)?;
        let message = MessageParser::default()
            .parse(&raw)
            .ok_or_else(|| ExtractError::Corrupt("not a readable e-mail message".into()))?;
        let mut names = Names::default();
        for (index, part) in message.parts.iter().enumerate() {
            let (name, bytes): (String, std::borrow::Cow<'_, [u8]>) = match &part.body {
                PartType::Multipart(_) => continue,
                PartType::Message(inner) => (
                    names.take(part.attachment_name(), "message", ".eml"),
                    inner.raw_message.clone(),
                ),
                PartType::Text(text) | PartType::Html(text) => {
                    let html = matches!(part.body, PartType::Html(_));
                    // Text that carries uuencoded files gives them as members too.
                    for (uu_name, decoded) in uudecode_all(text.as_bytes()) {
                        let name = names.take(Some(&uu_name), "file", "");
                        if !self.member(&decoded, name, outcome)? {
                            return Ok(());
                        }
                    }
                    let fallback = if html { "body.html" } else { "body.txt" };
                    let (stem, extension) = fallback.split_once('.').unwrap_or_default();
                    (
                        names.take(part.attachment_name(), stem, &format!(".{extension}")),
                        std::borrow::Cow::Borrowed(text.as_bytes()),
                    )
                }
                PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
                    let uuencoded = part
                        .content_transfer_encoding()
                        .is_some_and(|cte| cte.to_ascii_lowercase().contains("uue"));
                    let decoded = uuencoded
                        .then(|| uudecode_all(bytes).into_iter().next())
                        .flatten();
                    let fallback = format!("part-{index}");
                    match decoded {
                        Some((uu_name, data)) => (
                            names.take(part.attachment_name().or(Some(&uu_name)), &fallback, ""),
                            std::borrow::Cow::Owned(data),
                        ),
                        None => (
                            names.take(part.attachment_name(), &fallback, ".bin"),
                            bytes.clone(),
                        ),
                    }
                }
            };
            if !self.member(&bytes, name, outcome)? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Copies bytes held in memory into a member; `false` when a limit stopped extraction.
    fn member(
        &self,
        bytes: &[u8],
        name: String,
        outcome: &mut Outcome,
    ) -> Result<bool, ExtractError> {
        let copied = self.copy(&mut &bytes[..], name.clone(), None, outcome)?;
        settle(copied, outcome, &name)
    }

    /// Each message of a mailbox as a member, without its `From ` separator line.
    pub(crate) fn mailbox(&self, path: &Path, outcome: &mut Outcome) -> Result<(), ExtractError> {
        let mut input = BufReader::new(std::fs::File::open(path)?);
        let mut separator = Vec::new();
        input.read_until(b'\n', &mut separator)?;
        let mut count = 0usize;
        loop {
            count += 1;
            let mut message = Message {
                input: &mut input,
                line: Vec::new(),
                at: 0,
                blank_before: false,
                ended: false,
            };
            let copied = self.copy(&mut message, format!("message-{count}.eml"), None, outcome)?;
            let ended = message.ended;
            if !settle(copied, outcome, &format!("message {count}"))? {
                return Ok(());
            }
            if !ended {
                return Ok(());
            }
        }
    }
}

/// One message of a mailbox, read up to the next separator (a `From ` line after an empty
/// line) or the end of the file.
struct Message<'a, R> {
    input: &'a mut R,
    line: Vec<u8>,
    at: usize,
    blank_before: bool,
    /// Whether a separator ended it (another message follows).
    ended: bool,
}

impl<R: BufRead> Read for Message<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.line.len() {
            if self.ended {
                return Ok(0);
            }
            self.line.clear();
            self.at = 0;
            // Lines are read whole, so a separator is never missed across reads; a line
            // without an end is bounded by the member limits of the copy.
            (&mut *self.input)
                .take(1 << 20)
                .read_until(b'\n', &mut self.line)?;
            if self.line.is_empty() {
                return Ok(0);
            }
            if self.blank_before && self.line.starts_with(b"From ") {
                self.ended = true;
                self.line.clear();
                return Ok(0);
            }
            self.blank_before = matches!(self.line.as_slice(), b"\n" | b"\r\n");
        }
        let n = buf.len().min(self.line.len() - self.at);
        buf[..n].copy_from_slice(&self.line[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Member names, each used once: a repeated name gets ` (2)`, ` (3)`… before its extension.
#[derive(Default)]
struct Names(std::collections::HashMap<String, usize>);

impl Names {
    fn take(&mut self, given: Option<&str>, stem: &str, extension: &str) -> String {
        let name = match given.map(str::trim).filter(|n| !n.is_empty()) {
            Some(given) => given.to_string(),
            None => format!("{stem}{extension}"),
        };
        let seen = self.0.entry(name.clone()).or_insert(0);
        *seen += 1;
        if *seen == 1 {
            return name;
        }
        match name.rsplit_once('.') {
            Some((base, ext)) if !base.is_empty() => format!("{base} ({seen}).{ext}"),
            _ => format!("{name} ({seen})"),
        }
    }
}

/// Every uuencoded file in `text`: a `begin MODE NAME` line, encoded lines, and `end`.
pub(crate) fn uudecode_all(text: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut lines = text
        .split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix(b"begin ") else {
            continue;
        };
        let Some((mode, name)) = std::str::from_utf8(rest)
            .ok()
            .and_then(|rest| rest.trim().split_once(' '))
        else {
            continue;
        };
        if mode.is_empty() || !mode.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            continue;
        }
        let mut data = Vec::new();
        for encoded in lines.by_ref() {
            if encoded == b"end" || encoded.is_empty() {
                break;
            }
            let length = usize::from((encoded[0].wrapping_sub(b' ')) & 0x3f);
            if length == 0 {
                continue;
            }
            let sextet = |b: u8| (b.wrapping_sub(b' ')) & 0x3f;
            let mut decoded = Vec::with_capacity(length + 2);
            for group in encoded[1..].chunks(4) {
                let mut four = [b'`'; 4];
                four[..group.len()].copy_from_slice(group);
                let [a, b, c, d] = four.map(sextet);
                decoded.extend_from_slice(&[
                    (a << 2) | (b >> 4),
                    (b << 4) | (c >> 2),
                    (c << 6) | d,
                ]);
            }
            decoded.truncate(length);
            data.extend_from_slice(&decoded);
        }
        files.push((name.trim().to_string(), data));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_mailboxes_are_told_from_other_text() {
        assert!(is_message(
            b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody"
        ));
        assert!(is_message(
            b"Received: from x\n\tby y\nFrom: a@example.com\nDate: today\n\nbody"
        ));
        assert!(!is_message(b"Subject: only one field\r\n\r\nbody"));
        assert!(!is_message(b"name,card\nAda,4556\n"));
        assert!(!is_message(b"Note: From: To: nothing\n\n"));
        assert!(is_mailbox(
            b"From a@example.com Thu Jul 31 13:49:50 2008\nFrom: a@example.com\nTo: b\n\nhi\n"
        ));
        assert!(!is_mailbox(b"From here to there\nwe walked\n"));
    }

    #[test]
    fn uuencoded_files_are_decoded_whole() {
        // `Cat` uuencoded, then a second file of 0 bytes.
        let text = b"intro\nbegin 644 cat.txt\n#0V%T\n`\nend\nmore\nbegin 600 empty\n`\nend\n";
        assert_eq!(
            uudecode_all(text),
            vec![
                ("cat.txt".to_string(), b"Cat".to_vec()),
                ("empty".to_string(), Vec::new()),
            ]
        );
        assert!(uudecode_all(b"begin here\nnothing\n").is_empty());
    }

    #[test]
    fn repeated_names_are_told_apart() {
        let mut names = Names::default();
        assert_eq!(names.take(Some("a.txt"), "part", ".bin"), "a.txt");
        assert_eq!(names.take(Some("a.txt"), "part", ".bin"), "a (2).txt");
        assert_eq!(names.take(None, "body", ".txt"), "body.txt");
        assert_eq!(names.take(Some(" "), "body", ".txt"), "body (2).txt");
    }
}
