//! The single-stream decompressors (gzip, bzip2, xz, lzip, zstd and lz4, each with a tar inside
//! opened in one step) on arbitrary bytes; the first byte picks the format.
#![no_main]

use palisade_extract::Format;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let format = match pick % 6 {
        0 => Format::Gzip,
        1 => Format::Bzip2,
        2 => Format::Xz,
        3 => Format::Lzip,
        4 => Format::Zstd,
        _ => Format::Lz4,
    };
    palisade_fuzz::extract(format, rest);
});
