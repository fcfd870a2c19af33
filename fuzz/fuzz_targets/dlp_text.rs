//! Proactive DLP's text extraction on arbitrary bytes (every format it reads, told by the
//! bytes as in the engine), then the recognizers and the report over what was read. Errors
//! (damaged documents) are fine; panics, and pieces that break their own bounds, are not.
#![no_main]

use std::time::{Duration, Instant};

use palisade_engine_dlp::report::assess;
use palisade_engine_dlp::{Format, Recognizers, extract};
use palisade_model::DlpPolicy;

/// Text examined per input: small, so that the budget is reached often.
const BUDGET: u64 = 64 << 10;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let path = palisade_fuzz::scratch().join("document");
    std::fs::write(&path, data).expect("write the document");
    let Ok(Some(format)) = Format::detect(&path) else {
        return;
    };
    let extraction = extract(
        &path,
        format,
        BUDGET,
        Instant::now() + Duration::from_secs(5),
    );
    let mut total = 0u64;
    for piece in &extraction.pieces {
        total += piece.text.len() as u64;
        assert!(piece.lead <= piece.text.len(), "{piece:?}");
        for mark in &piece.marks {
            assert!(piece.text.is_char_boundary(mark.at), "{piece:?}");
        }
        if let Some(at) = piece.across {
            assert!(piece.text.is_char_boundary(at), "{piece:?}");
        }
    }
    assert!(total <= BUDGET, "{total} bytes of text past the budget");
    let policy = DlpPolicy::default();
    let recognizers = Recognizers::new(&policy).expect("the built-in recognizers");
    let _ = assess(
        &extraction.pieces,
        &recognizers,
        &policy,
        Default::default(),
    );
});
