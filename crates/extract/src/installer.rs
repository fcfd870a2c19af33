//! Archives inside Windows executables: a Nullsoft installer's data, a cabinet that a
//! self-extracting installer carries after its code, or the files of an InstallShield setup
//! (its classic `InstallShield` layout). Found by their signatures in the first [`SEARCHED`]
//! bytes, the way the formats' own readers find them.
//!
//! An InstallShield setup stores its files one after the other after a 46-byte header: each
//! a 312-byte entry (a 260-byte name, flags, the stored length) and the stored bytes. Flags 2
//! and 4 mean the bytes are obfuscated with a key made from the file's name (each byte's
//! halves swapped, XORed with the key and inverted; with flag 4 the key restarts every
//! 1024 bytes); the result is often zlib-compressed.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::{ExtractError, Extractor, Format, Outcome, find, sanitise, settle};

/// How far into an executable the archive signatures are looked for.
const SEARCHED: u64 = 64 << 20;

/// NSIS's first header: flags, then this signature, at a 512-byte boundary.
const NSIS: &[u8] = b"\xef\xbe\xad\xdeNullsoftInst";

/// A cabinet's signature, its reserved field, and (at 24) version 1.3.
const CAB: &[u8] = b"MSCF\0\0\0\0";

/// InstallShield's classic signature, then the number of files.
const INSTALLSHIELD: &[u8] = b"InstallShield\0";

/// The size of InstallShield's header and of each file's entry.
const IS_HEADER: u64 = 46;
const IS_ENTRY: usize = 312;

/// XORed with each byte of a file's name to make its key.
const IS_SEED: [u8; 4] = [0x13, 0x35, 0x86, 0x07];

/// The archive a Windows executable (starting `MZ`) carries, if any.
pub(crate) fn detect(file: &mut (impl Read + Seek)) -> std::io::Result<Option<Format>> {
    Ok(locate(file)?.map(|(format, _)| format))
}

/// The archive a Windows executable carries and where its signature is.
fn locate(file: &mut (impl Read + Seek)) -> std::io::Result<Option<(Format, u64)>> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = file.take(SEARCHED);
    let block = 1 << 20;
    // Each window keeps the end of the last one, so a signature across the seam is found.
    let keep = 64;
    let mut window: Vec<u8> = Vec::with_capacity(block + keep);
    let mut window_start = 0u64;
    loop {
        let before = window.len();
        (&mut reader).take(block as u64).read_to_end(&mut window)?;
        if window.len() == before {
            return Ok(None);
        }
        if let Some(found) = search(&window, window_start) {
            return Ok(Some(found));
        }
        let drop = window.len().saturating_sub(keep);
        window.drain(..drop);
        window_start += drop as u64;
    }
}

/// An installer's signature in `window`, which starts at `start` in the file, and where it is.
fn search(window: &[u8], start: u64) -> Option<(Format, u64)> {
    let at_file = |offset: usize| start + offset as u64;
    let mut at = 0;
    while let Some(found) = find(&window[at..], &NSIS[..4]) {
        let offset = at + found;
        // The signature follows four bytes of flags at a 512-byte boundary of the file.
        if at_file(offset) % 512 == 4 && window[offset..].starts_with(NSIS) {
            return Some((Format::Nsis, at_file(offset)));
        }
        at = offset + 1;
    }
    let mut at = 0;
    while let Some(found) = find(&window[at..], CAB) {
        let offset = at + found;
        if window.get(offset + 24..offset + 26) == Some(&[3, 1]) {
            return Some((Format::Cab, at_file(offset)));
        }
        at = offset + 1;
    }
    let mut at = 0;
    while let Some(found) = find(&window[at..], INSTALLSHIELD) {
        let offset = at + found;
        // A setup has files, and the first one's name is text (the program's own strings
        // hold the word too).
        let count = window
            .get(offset + 14..offset + 16)
            .map(|c| u16::from_le_bytes([c[0], c[1]]));
        let first = offset + IS_HEADER as usize;
        let named = window
            .get(first..first + 8)
            .is_some_and(|name| name.iter().all(|b| b.is_ascii_graphic()));
        if count.is_some_and(|count| count > 0) && named {
            return Some((Format::InstallShield, at_file(offset)));
        }
        at = offset + 1;
    }
    None
}

impl Extractor<'_> {
    pub(crate) fn installshield(
        &self,
        path: &Path,
        outcome: &mut Outcome,
    ) -> Result<(), ExtractError> {
        let mut file = std::fs::File::open(path)?;
        let Some((Format::InstallShield, offset)) = locate(&mut file)? else {
            return Err(corrupt("no setup header"));
        };
        file.seek(SeekFrom::Start(offset + 14))?;
        let mut input = BufReader::new(file);
        let mut count = [0u8; 2];
        input.read_exact(&mut count)?;
        let count = u16::from_le_bytes(count);
        std::io::copy(&mut (&mut input).take(IS_HEADER - 16), &mut std::io::sink())?;
        for _ in 0..count {
            let mut entry = [0u8; IS_ENTRY];
            input
                .read_exact(&mut entry)
                .map_err(|_| corrupt("a file entry is cut short"))?;
            let name_end = entry[..260].iter().position(|b| *b == 0).unwrap_or(260);
            let name = &entry[..name_end];
            let flags = u32::from_le_bytes(entry[260..264].try_into().expect("4 bytes"));
            let length = u32::from_le_bytes(entry[268..272].try_into().expect("4 bytes"));
            let display = String::from_utf8_lossy(name).into_owned();
            let stored = (&mut input).take(u64::from(length));
            let mut plain = Plain {
                inner: stored,
                key: (flags & 6 != 0)
                    .then(|| {
                        name.iter()
                            .zip(IS_SEED.iter().cycle())
                            .map(|(b, s)| b ^ s)
                            .collect()
                    })
                    .filter(|key: &Vec<u8>| !key.is_empty()),
                blocks: flags & 4 != 0,
                at: 0,
            };
            let mut head = [0u8; 2];
            let got = read_up_to(&mut plain, &mut head)?;
            let head = &head[..got];
            let rest = head.chain(&mut plain);
            // zlib: a deflate method byte and a header that is a multiple of 31.
            let zlib = head.len() == 2
                && head[0] & 0x0f == 8
                && (u16::from(head[0]) << 8 | u16::from(head[1])) % 31 == 0;
            let copied = if zlib {
                let mut inflated = flate2::read::ZlibDecoder::new(rest);
                self.copy(
                    &mut inflated,
                    display.clone(),
                    Some(u64::from(length)),
                    outcome,
                )?
            } else {
                let mut rest = rest;
                self.copy(&mut rest, display.clone(), None, outcome)?
            };
            if !settle(copied, outcome, &display)? {
                return Ok(());
            }
            // What the decoder left of the stored bytes is skipped to reach the next entry.
            std::io::copy(&mut plain.inner, &mut std::io::sink())?;
            if plain.inner.limit() != 0 {
                return Err(corrupt(&format!("{} is cut short", sanitise(&display, 0))));
            }
        }
        Ok(())
    }
}

fn corrupt(what: &str) -> ExtractError {
    ExtractError::Corrupt(format!("InstallShield setup: {what}"))
}

/// Reads until `buf` is full or the input ends.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// A stored InstallShield file with its obfuscation undone as it is read.
struct Plain<R> {
    inner: R,
    key: Option<Vec<u8>>,
    /// The key restarts every 1024 bytes.
    blocks: bool,
    at: usize,
}

impl<R: Read> Read for Plain<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(key) = &self.key {
            for byte in &mut buf[..n] {
                let position = if self.blocks { self.at % 1024 } else { self.at };
                *byte = !(key[position % key.len()] ^ byte.rotate_left(4));
                self.at += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installer_signatures_are_found_where_their_readers_look() {
        let mut exe = vec![0u8; 4096];
        exe[..2].copy_from_slice(b"MZ");
        let mut nsis = exe.clone();
        nsis[1024 + 4..1024 + 4 + NSIS.len()].copy_from_slice(NSIS);
        assert_eq!(
            detect(&mut std::io::Cursor::new(&nsis)).unwrap(),
            Some(Format::Nsis)
        );
        // Off a 512-byte boundary it is just bytes.
        let mut stray = exe.clone();
        stray[1000..1000 + NSIS.len()].copy_from_slice(NSIS);
        assert_eq!(detect(&mut std::io::Cursor::new(&stray)).unwrap(), None);

        let mut cab = exe.clone();
        cab[3000..3008].copy_from_slice(CAB);
        cab[3024..3026].copy_from_slice(&[3, 1]);
        assert_eq!(
            detect(&mut std::io::Cursor::new(&cab)).unwrap(),
            Some(Format::Cab)
        );
        assert_eq!(detect(&mut std::io::Cursor::new(&exe)).unwrap(), None);
    }

    #[test]
    fn an_installshield_setup_is_told_from_the_word_in_a_program() {
        let mut exe = vec![0u8; 4096];
        exe[..2].copy_from_slice(b"MZ");
        // The word in the program's strings: no files follow it.
        exe[500..514].copy_from_slice(INSTALLSHIELD);
        exe[516..521].copy_from_slice(b".text");
        assert_eq!(detect(&mut std::io::Cursor::new(&exe)).unwrap(), None);
        // A setup: one file, whose name starts its entry after the 46-byte header.
        exe[2000..2014].copy_from_slice(INSTALLSHIELD);
        exe[2014] = 1;
        exe[2046..2056].copy_from_slice(b"Setup.ini\0");
        assert_eq!(
            locate(&mut std::io::Cursor::new(&exe)).unwrap(),
            Some((Format::InstallShield, 2000))
        );
    }

    #[test]
    fn obfuscated_bytes_are_restored_with_the_name_key() {
        // Obfuscate as the setup writer does, then read back.
        let key: Vec<u8> = b"a.txt"
            .iter()
            .zip(IS_SEED.iter().cycle())
            .map(|(b, s)| b ^ s)
            .collect();
        let plain: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        for blocks in [false, true] {
            let stored: Vec<u8> = plain
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let position = if blocks { i % 1024 } else { i };
                    (!b ^ key[position % key.len()]).rotate_left(4)
                })
                .collect();
            let mut reader = Plain {
                inner: &stored[..],
                key: Some(key.clone()),
                blocks,
                at: 0,
            };
            let mut back = Vec::new();
            reader.read_to_end(&mut back).unwrap();
            assert_eq!(back, plain, "blocks {blocks}");
        }
    }

    #[test]
    fn a_signature_across_the_seam_of_two_windows_is_found() {
        let mut exe = vec![0u8; (1 << 20) + 4096];
        exe[..2].copy_from_slice(b"MZ");
        let at = (1 << 20) - 4;
        exe[at..at + 8].copy_from_slice(CAB);
        exe[at + 24..at + 26].copy_from_slice(&[3, 1]);
        assert_eq!(
            detect(&mut std::io::Cursor::new(&exe)).unwrap(),
            Some(Format::Cab)
        );
    }
}
