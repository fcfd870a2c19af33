//! The Zip reader on arbitrary bytes, under a small extraction budget.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    palisade_fuzz::extract(palisade_extract::Format::Zip, data);
});
