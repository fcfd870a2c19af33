//! E-mail messages, mailboxes and TNEF on arbitrary bytes; the first byte picks the format.
#![no_main]

use palisade_extract::Format;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let format = match pick % 3 {
        0 => Format::Mail,
        1 => Format::Mbox,
        _ => Format::Tnef,
    };
    palisade_fuzz::extract(format, rest);
});
