//! TNEF (`winmail.dat`), the wrapper Outlook and Exchange put around a message's attachments.
//! A stream of attributes, each a level, an id, a length, the data and a checksum; every
//! attachment starts with `attAttachRendData`, carries its bytes in `attAttachData` and its
//! name in `attAttachTitle` (after the data). Attachment data streams straight into members;
//! other attributes are skipped without being held.

use std::io::{BufReader, Read};
use std::path::Path;

use crate::{ExtractError, Extractor, Outcome, sanitise, settle};

/// The signature that starts a TNEF stream (little-endian 0x223E9F78).
pub(crate) const SIGNATURE: [u8; 4] = [0x78, 0x9f, 0x3e, 0x22];

const ATTACH_REND_DATA: u32 = 0x0006_9002;
const ATTACH_DATA: u32 = 0x0006_800f;
const ATTACH_TITLE: u32 = 0x0001_8010;

/// Longest attachment title read.
const MAX_TITLE: u32 = 4096;

impl Extractor<'_> {
    pub(crate) fn tnef(&self, path: &Path, outcome: &mut Outcome) -> Result<(), ExtractError> {
        let mut input = BufReader::new(std::fs::File::open(path)?);
        let mut header = [0u8; 6];
        input
            .read_exact(&mut header)
            .map_err(|_| corrupt("shorter than its header"))?;
        if header[..4] != SIGNATURE {
            return Err(corrupt("no TNEF signature"));
        }
        // Index of the current attachment's member, if its data has been read.
        let mut current: Option<usize> = None;
        let mut attachments = 0usize;
        loop {
            let mut attribute = [0u8; 9];
            // Writers leave stray bytes at the end (a new line): fewer than an attribute's
            // header end the stream.
            let read = std::io::copy(
                &mut (&mut input).take(attribute.len() as u64),
                &mut &mut attribute[..],
            )?;
            if read < attribute.len() as u64 {
                return Ok(());
            }
            let id = u32::from_le_bytes(attribute[1..5].try_into().expect("4 bytes"));
            let length = u32::from_le_bytes(attribute[5..9].try_into().expect("4 bytes"));
            match id {
                ATTACH_REND_DATA => {
                    attachments += 1;
                    current = None;
                    skip(&mut input, u64::from(length))?;
                }
                ATTACH_DATA => {
                    let name = format!("attachment-{}", attachments.max(1));
                    let mut data = (&mut input).take(u64::from(length));
                    let copied = self.copy(&mut data, name.clone(), None, outcome)?;
                    if !settle(copied, outcome, &name)? {
                        return Ok(());
                    }
                    if outcome.members.last().map(|m| m.size) != Some(u64::from(length)) {
                        return Err(corrupt("an attachment is cut short"));
                    }
                    current = Some(outcome.members.len() - 1);
                }
                ATTACH_TITLE if length <= MAX_TITLE => {
                    let mut title = vec![0u8; length as usize];
                    input
                        .read_exact(&mut title)
                        .map_err(|_| corrupt("a title is cut short"))?;
                    let end = title.iter().position(|b| *b == 0).unwrap_or(title.len());
                    let title = String::from_utf8_lossy(&title[..end]).into_owned();
                    if let Some(member) = current.and_then(|i| outcome.members.get_mut(i))
                        && !title.trim().is_empty()
                    {
                        member.name = sanitise(&title, member.index);
                    }
                }
                _ => skip(&mut input, u64::from(length))?,
            }
            // The checksum.
            skip(&mut input, 2)?;
        }
    }
}

fn corrupt(what: &str) -> ExtractError {
    ExtractError::Corrupt(format!("TNEF: {what}"))
}

fn skip(input: &mut impl Read, length: u64) -> Result<(), ExtractError> {
    let skipped = std::io::copy(&mut input.take(length), &mut std::io::sink())?;
    if skipped != length {
        return Err(corrupt("an attribute is cut short"));
    }
    Ok(())
}
