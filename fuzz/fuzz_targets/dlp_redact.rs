//! Proactive DLP's redaction on arbitrary bytes: the file is read as the engine reads it, and
//! a word of its text (the first run of four or more letters and digits) is redacted as a
//! value would be. Failing to redact is fine; panics are not, nor a copy said to be redacted
//! that is missing or that still shows the word.
#![no_main]

use std::time::{Duration, Instant};

use palisade_engine_dlp::redact::{Redaction, Targets, redact};
use palisade_engine_dlp::{Format, extract};

/// Text examined per input.
const BUDGET: u64 = 64 << 10;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dir = palisade_fuzz::scratch();
    let (path, copy) = (dir.join("document"), dir.join("copy"));
    std::fs::write(&path, data).expect("write the document");
    let _ = std::fs::remove_file(&copy);
    let Ok(Some(format)) = Format::detect(&path) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let extraction = extract(&path, format, BUDGET, deadline);
    if extraction.failure.is_some() || extraction.unread.is_some() || !extraction.notes.is_empty() {
        return;
    }
    let word = extraction.pieces.iter().find_map(|piece| {
        piece
            .text
            .split(|c: char| !c.is_ascii_alphanumeric())
            .find(|word| word.len() >= 4)
            .map(str::to_string)
    });
    let Some(word) = word else {
        return;
    };
    let targets = Targets::new([word.as_str()]);
    match redact(&path, format, &targets, true, &copy, deadline) {
        Redaction::Redacted { .. } => {
            assert!(copy.exists(), "a redacted copy that was not written");
            let again = extract(&copy, format, u64::MAX, deadline);
            for piece in &again.pieces {
                assert!(
                    targets.find(&piece.text).is_empty(),
                    "{word:?} is still in the copy: {piece:?}"
                );
            }
        }
        Redaction::NotRedacted(_) | Redaction::Failed(_) => {
            assert!(
                !copy.exists(),
                "a copy left behind by a redaction that failed"
            );
        }
    }
});
