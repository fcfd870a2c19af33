//! Archives inside Windows executables: a Nullsoft installer's data, or a cabinet that a
//! self-extracting installer carries after its code. Found by their signatures in the first
//! [`SEARCHED`] bytes, the way the formats' own readers find them.

use std::io::{Read, Seek, SeekFrom};

use crate::{Format, find};

/// How far into an executable the archive signatures are looked for.
const SEARCHED: u64 = 64 << 20;

/// NSIS's first header: flags, then this signature, at a 512-byte boundary.
const NSIS: &[u8] = b"\xef\xbe\xad\xdeNullsoftInst";

/// A cabinet's signature, its reserved field, and (at 24) version 1.3.
const CAB: &[u8] = b"MSCF\0\0\0\0";

/// The archive a Windows executable (starting `MZ`) carries, if any.
pub(crate) fn detect(file: &mut (impl Read + Seek)) -> std::io::Result<Option<Format>> {
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
        if let Some(format) = search(&window, window_start) {
            return Ok(Some(format));
        }
        let drop = window.len().saturating_sub(keep);
        window.drain(..drop);
        window_start += drop as u64;
    }
}

/// An installer's signature in `window`, which starts at `start` in the file.
fn search(window: &[u8], start: u64) -> Option<Format> {
    let mut at = 0;
    while let Some(found) = find(&window[at..], &NSIS[..4]) {
        let offset = at + found;
        // The signature follows four bytes of flags at a 512-byte boundary of the file.
        if (start + offset as u64) % 512 == 4 && window[offset..].starts_with(NSIS) {
            return Some(Format::Nsis);
        }
        at = offset + 1;
    }
    let mut at = 0;
    while let Some(found) = find(&window[at..], CAB) {
        let offset = at + found;
        if window.get(offset + 24..offset + 26) == Some(&[3, 1]) {
            return Some(Format::Cab);
        }
        at = offset + 1;
    }
    None
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
