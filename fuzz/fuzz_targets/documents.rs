//! The readers of what documents embed (PDF attachments, Office and RTF objects, data: URIs)
//! on arbitrary bytes; the first byte picks the format.
#![no_main]

use palisade_extract::Format;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let format = match pick % 5 {
        0 => Format::Pdf,
        1 => Format::Rtf,
        2 => Format::OfficeObjects,
        3 => Format::OfficeOpenXmlObjects,
        _ => Format::Html,
    };
    palisade_fuzz::extract(format, rest);
});
