//! Decoding of upload bodies by `content-encoding`: the first line is the header's value, the
//! rest the body. Decoded bytes never exceed the limit and come in bounded pieces.
#![no_main]

use palisade_blobstore::{ContentEncoding, IngestError, decode_body};

const LIMIT: u64 = 1 << 20;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let header = String::from_utf8_lossy(&data[..split]);
    let body = data.get(split + 1..).unwrap_or_default();
    // Header values the parser does not know are refused before any body is read; then the
    // body is tried as each encoding, so that every decoder sees every input.
    let _ = ContentEncoding::parse(&header);
    for encoding in [
        ContentEncoding::Identity,
        ContentEncoding::Gzip,
        ContentEncoding::Base64,
    ] {
        let mut decoded = Vec::new();
        let mut source = body;
        let outcome = decode_body(encoding, &mut source, LIMIT, &mut |chunk| {
            assert!(!chunk.is_empty() && chunk.len() <= 256 * 1024);
            decoded.extend_from_slice(chunk);
            Ok(())
        });
        match outcome {
            Ok(size) => {
                assert_eq!(size, decoded.len() as u64);
                assert!(size <= LIMIT);
                match encoding {
                    ContentEncoding::Identity => assert_eq!(decoded, body),
                    ContentEncoding::Base64 => assert!(size <= body.len() as u64 * 3 / 4 + 3),
                    ContentEncoding::Gzip => {}
                }
            }
            Err(IngestError::TooLarge { limit }) => assert_eq!(limit, LIMIT),
            Err(IngestError::Client(_)) => assert_ne!(encoding, ContentEncoding::Identity),
            Err(other) => panic!("{encoding:?}: {other}"),
        }
    }
});
