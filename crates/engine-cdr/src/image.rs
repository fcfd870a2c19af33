//! Images (JPEG, PNG, GIF, BMP, TIFF, WebP): decoded under size limits and re-encoded in the
//! same format from the pixels alone, so the dimensions stay and EXIF (with GPS), XMP,
//! comments, private chunks and bytes after the image's end are gone. The colour profile is
//! carried over where the format has one. GIF animations keep every frame.
//!
//! What the original carried is found by walking its segments (JPEG markers, PNG chunks, GIF
//! blocks, WebP chunks, TIFF tags) before decoding, and reported as metadata or data outside
//! the document; the re-encoding itself is reported as the image `sanitized`.

use std::io::Cursor;
use std::time::Instant;

use image::codecs::bmp::BmpEncoder;
use image::codecs::gif::{GifDecoder, GifEncoder, Repeat};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::tiff::TiffEncoder;
use image::codecs::webp::WebPEncoder;
use image::{
    AnimationDecoder, DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, Limits,
};
use palisade_model::ActiveObject;

use crate::{Failure, Rebuilt, Removals};

/// Largest width or height decoded.
const MAX_SIDE: u32 = 30_000;
/// Most memory a decoder may allocate for one image (or all frames of an animation).
const MAX_ALLOC: u64 = 512 << 20;
/// Most frames of an animation.
const MAX_FRAMES: usize = 2_000;
/// JPEG quality of the re-encoded copy.
const JPEG_QUALITY: u8 = 92;

/// An image format the engine rebuilds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Jpeg,
    Png,
    Gif,
    Bmp,
    Tiff,
    WebP,
}

impl Kind {
    /// What the first bytes say the file is.
    pub(crate) fn detect(head: &[u8]) -> Option<Kind> {
        Some(match head {
            [0xff, 0xd8, 0xff, ..] => Kind::Jpeg,
            [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, ..] => Kind::Png,
            [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Kind::Gif,
            [b'B', b'M', ..] => Kind::Bmp,
            [b'I', b'I', 42, 0, ..] | [b'M', b'M', 0, 42, ..] => Kind::Tiff,
            [
                b'R',
                b'I',
                b'F',
                b'F',
                _,
                _,
                _,
                _,
                b'W',
                b'E',
                b'B',
                b'P',
                ..,
            ] => Kind::WebP,
            _ => return None,
        })
    }

    /// The name rules use.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Jpeg => "jpeg",
            Kind::Png => "png",
            Kind::Gif => "gif",
            Kind::Bmp => "bmp",
            Kind::Tiff => "tiff",
            Kind::WebP => "webp",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Jpeg => "JPEG",
            Kind::Png => "PNG",
            Kind::Gif => "GIF",
            Kind::Bmp => "BMP",
            Kind::Tiff => "TIFF",
            Kind::WebP => "WebP",
        }
    }

    /// File extensions of the format; the first is the one a copy gets when the submitted
    /// name has none of them.
    pub(crate) fn extensions(self) -> &'static [&'static str] {
        match self {
            Kind::Jpeg => &["jpg", "jpeg", "jpe"],
            Kind::Png => &["png"],
            Kind::Gif => &["gif"],
            Kind::Bmp => &["bmp"],
            Kind::Tiff => &["tif", "tiff"],
            Kind::WebP => &["webp"],
        }
    }

    fn format(self) -> ImageFormat {
        match self {
            Kind::Jpeg => ImageFormat::Jpeg,
            Kind::Png => ImageFormat::Png,
            Kind::Gif => ImageFormat::Gif,
            Kind::Bmp => ImageFormat::Bmp,
            Kind::Tiff => ImageFormat::Tiff,
            Kind::WebP => ImageFormat::WebP,
        }
    }
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

fn decode_failure(kind: Kind, error: image::ImageError) -> Failure {
    match error {
        image::ImageError::Limits(limit) => Failure {
            category: palisade_model::FailureCategory::ExceededFileSize,
            reason: format!("the image is larger than Deep CDR decodes: {limit}"),
        },
        image::ImageError::Unsupported(what) => Failure {
            category: palisade_model::FailureCategory::UnsupportedVersion,
            reason: format!("{} variant not supported: {what}", kind.label()),
        },
        other => Failure::invalid(format!("not a readable {}: {other}", kind.label())),
    }
}

/// Rebuilds an image from its pixels.
pub(crate) fn rebuild(input: &[u8], kind: Kind, deadline: Instant) -> Result<Rebuilt, Failure> {
    let mut removals = Removals::default();
    survey(input, kind, &mut removals);
    let mut out = Vec::with_capacity(input.len());
    let (width, height, frames) = if kind == Kind::Gif {
        gif(input, &mut out)?
    } else {
        still(input, kind, &mut out)?
    };
    if Instant::now() > deadline {
        return Err(Failure::timed_out());
    }
    let frames = if frames > 1 {
        format!(", {frames} frames")
    } else {
        String::new()
    };
    removals.rebuilt(
        "Image",
        &format!("re-encoded {width}x{height} {}{frames}", kind.label()),
    );
    Ok(Rebuilt {
        bytes: out,
        removals,
        signed: false,
        ..Rebuilt::default()
    })
}

/// A still image: decoded, then encoded anew with its colour profile.
fn still(input: &[u8], kind: Kind, out: &mut Vec<u8>) -> Result<(u32, u32, usize), Failure> {
    let fail = |error| decode_failure(kind, error);
    let mut reader = ImageReader::with_format(Cursor::new(input), kind.format());
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(fail)?;
    let icc = decoder.icc_profile().ok().flatten();
    let (width, height) = decoder.dimensions();
    let mut image = DynamicImage::from_decoder(decoder).map_err(fail)?;
    let written = match kind {
        Kind::Jpeg => {
            if !matches!(
                image,
                DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_)
            ) {
                image = DynamicImage::ImageRgb8(image.to_rgb8());
            }
            let mut encoder = JpegEncoder::new_with_quality(&mut *out, JPEG_QUALITY);
            keep_profile(&mut encoder, icc);
            image.write_with_encoder(encoder)
        }
        Kind::Png => {
            let mut encoder = PngEncoder::new(&mut *out);
            keep_profile(&mut encoder, icc);
            image.write_with_encoder(encoder)
        }
        Kind::Bmp => image.write_with_encoder(BmpEncoder::new(&mut *out)),
        Kind::Tiff => {
            let mut encoder = TiffEncoder::new(Cursor::new(&mut *out));
            keep_profile(&mut encoder, icc);
            image.write_with_encoder(encoder)
        }
        Kind::WebP => {
            if !matches!(
                image,
                DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_)
            ) {
                image = if image.color().has_alpha() {
                    DynamicImage::ImageRgba8(image.to_rgba8())
                } else {
                    DynamicImage::ImageRgb8(image.to_rgb8())
                };
            }
            let mut encoder = WebPEncoder::new_lossless(&mut *out);
            keep_profile(&mut encoder, icc);
            image.write_with_encoder(encoder)
        }
        Kind::Gif => unreachable!("animations are rebuilt frame by frame"),
    };
    written.map_err(|error| Failure::failed(format!("re-encoding the image: {error}")))?;
    Ok((width, height, 1))
}

fn keep_profile(encoder: &mut impl ImageEncoder, icc: Option<Vec<u8>>) {
    if let Some(icc) = icc {
        // A format or encoder without profiles writes the pixels as they are.
        let _ = encoder.set_icc_profile(icc);
    }
}

/// A GIF: every frame decoded and encoded anew, with its delay, looping as animations do.
fn gif(input: &[u8], out: &mut Vec<u8>) -> Result<(u32, u32, usize), Failure> {
    let fail = |error| decode_failure(Kind::Gif, error);
    let mut decoder = GifDecoder::new(Cursor::new(input)).map_err(fail)?;
    decoder.set_limits(limits()).map_err(fail)?;
    let (width, height) = decoder.dimensions();
    let frame_bytes = u64::from(width) * u64::from(height) * 4;
    let mut frames = Vec::new();
    for frame in decoder.into_frames() {
        frames.push(frame.map_err(fail)?);
        if frames.len() > MAX_FRAMES || frame_bytes * frames.len() as u64 > MAX_ALLOC {
            return Err(Failure {
                category: palisade_model::FailureCategory::ExceededFileSize,
                reason: format!(
                    "the animation has more frames than Deep CDR decodes ({MAX_FRAMES} or {} MiB)",
                    MAX_ALLOC >> 20
                ),
            });
        }
    }
    let count = frames.len();
    let mut encoder = GifEncoder::new(&mut *out);
    if count > 1 {
        encoder
            .set_repeat(Repeat::Infinite)
            .map_err(|error| Failure::failed(format!("re-encoding the animation: {error}")))?;
    }
    encoder
        .encode_frames(frames)
        .map_err(|error| Failure::failed(format!("re-encoding the animation: {error}")))?;
    drop(encoder);
    Ok((width, height, count))
}

/// Records what the original carries besides its pixels.
fn survey(input: &[u8], kind: Kind, removals: &mut Removals) {
    let mut found = Found::default();
    match kind {
        Kind::Jpeg => jpeg_segments(input, &mut found),
        Kind::Png => png_chunks(input, &mut found),
        Kind::Gif => gif_blocks(input, &mut found),
        Kind::WebP => webp_chunks(input, &mut found),
        Kind::Tiff => tiff_tags(input, &mut found),
        Kind::Bmp => {}
    }
    for detail in found.metadata {
        removals.record(ActiveObject::Metadata, true, &detail);
    }
    if found.trailing > 0 {
        removals.record(
            ActiveObject::TrailingData,
            true,
            &format!("{} bytes after the end of the image", found.trailing),
        );
    }
}

#[derive(Default)]
struct Found {
    metadata: Vec<String>,
    trailing: usize,
}

impl Found {
    fn metadata(&mut self, what: impl Into<String>) {
        self.metadata.push(what.into());
    }
}

/// EXIF, and whether it holds a GPS directory (tag 0x8825 in either byte order).
fn exif(data: &[u8]) -> String {
    let gps = data
        .windows(2)
        .any(|w| w == [0x88, 0x25] || w == [0x25, 0x88]);
    if gps {
        "EXIF (with GPS location)".into()
    } else {
        "EXIF".into()
    }
}

fn jpeg_segments(input: &[u8], found: &mut Found) {
    let mut at = 2;
    while at + 4 <= input.len() {
        if input[at] != 0xff {
            return;
        }
        let marker = input[at + 1];
        if marker == 0xff {
            at += 1;
            continue;
        }
        if marker == 0xd9 {
            found.trailing = input.len() - at - 2;
            return;
        }
        let len = usize::from(u16::from_be_bytes([input[at + 2], input[at + 3]]));
        let body = &input[(at + 4).min(input.len())..(at + 2 + len).min(input.len())];
        match marker {
            0xe1 if body.starts_with(b"Exif\0") => found.metadata(exif(body)),
            0xe1 if body.starts_with(b"http://ns.adobe.com/xap/1.0/") => found.metadata("XMP"),
            0xed => found.metadata("Photoshop data (IPTC)"),
            0xfe => found.metadata("comment"),
            // APP0 (JFIF), APP2 (colour profile) and APP14 (Adobe colour transform) are part of
            // how the pixels are read.
            0xe0 | 0xe2 | 0xee => {}
            0xe1..=0xef => found.metadata(format!("application data (APP{})", marker - 0xe0)),
            _ => {}
        }
        if marker == 0xda {
            // Entropy-coded data follows: the end is the last EOI.
            if let Some(end) = input.windows(2).rposition(|w| w == [0xff, 0xd9])
                && end > at
            {
                found.trailing = input.len() - end - 2;
            }
            return;
        }
        at += 2 + len;
    }
}

fn png_chunks(input: &[u8], found: &mut Found) {
    let mut at = 8;
    while at + 12 <= input.len() {
        let len = u32::from_be_bytes([input[at], input[at + 1], input[at + 2], input[at + 3]]);
        let Ok(len) = usize::try_from(len) else {
            return;
        };
        let kind = &input[at + 4..at + 8];
        let body = &input[(at + 8).min(input.len())..(at + 8).saturating_add(len).min(input.len())];
        match kind {
            b"IEND" => {
                found.trailing = input.len().saturating_sub(at + 12);
                return;
            }
            b"eXIf" => found.metadata(exif(body)),
            b"iTXt" if body.starts_with(b"XML:com.adobe.xmp\0") => found.metadata("XMP"),
            b"tEXt" | b"zTXt" | b"iTXt" => {
                let key: String = body
                    .iter()
                    .take_while(|b| **b != 0)
                    .take(40)
                    .map(|b| char::from(*b))
                    .collect();
                found.metadata(format!("text ({key})"));
            }
            b"tIME" => found.metadata("modification time"),
            _ if kind[0].is_ascii_lowercase()
                && !matches!(
                    kind,
                    b"gAMA"
                        | b"cHRM"
                        | b"sRGB"
                        | b"iCCP"
                        | b"sBIT"
                        | b"bKGD"
                        | b"tRNS"
                        | b"pHYs"
                        | b"hIST"
                        | b"sPLT"
                        | b"acTL"
                        | b"fcTL"
                        | b"fdAT"
                        | b"cICP"
                        | b"mDCv"
                        | b"cLLi"
                ) =>
            {
                found.metadata(format!("private chunk {}", String::from_utf8_lossy(kind)));
            }
            _ => {}
        }
        at = at.saturating_add(12).saturating_add(len);
    }
}

/// Skips GIF data sub-blocks from `at`; the position after the terminator.
fn gif_sub_blocks(input: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = usize::from(*input.get(at)?);
        at += 1;
        if len == 0 {
            return Some(at);
        }
        at += len;
    }
}

fn gif_blocks(input: &[u8], found: &mut Found) {
    let Some(flags) = input.get(10) else {
        return;
    };
    let mut at = 13;
    if flags & 0x80 != 0 {
        at += 3 << ((flags & 7) + 1);
    }
    while let Some(&block) = input.get(at) {
        match block {
            0x3b => {
                found.trailing = input.len() - at - 1;
                return;
            }
            0x2c => {
                let Some(local) = input.get(at + 9) else {
                    return;
                };
                at += 10;
                if local & 0x80 != 0 {
                    at += 3 << ((local & 7) + 1);
                }
                // The LZW minimum code size, then the image data.
                let Some(next) = gif_sub_blocks(input, at + 1) else {
                    return;
                };
                at = next;
            }
            0x21 => {
                let label = input.get(at + 1).copied().unwrap_or(0);
                match label {
                    0xfe => found.metadata("comment"),
                    0xff => {
                        let id = input.get(at + 3..at + 14).unwrap_or_default();
                        if id == b"XMP DataXMP" {
                            found.metadata("XMP");
                        } else if id != b"NETSCAPE2.0" && id != b"ANIMEXTS1.0" {
                            found.metadata(format!(
                                "application extension {}",
                                String::from_utf8_lossy(id)
                            ));
                        }
                    }
                    0x01 => found.metadata("plain text extension"),
                    _ => {}
                }
                let Some(next) = gif_sub_blocks(input, at + 2) else {
                    return;
                };
                at = next;
            }
            _ => return,
        }
    }
}

fn webp_chunks(input: &[u8], found: &mut Found) {
    let declared = input
        .get(4..8)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize + 8)
        .unwrap_or(input.len());
    if declared < input.len() {
        found.trailing = input.len() - declared;
    }
    let mut at = 12;
    while at + 8 <= input.len().min(declared) {
        let kind = &input[at..at + 4];
        let len = u32::from_le_bytes([input[at + 4], input[at + 5], input[at + 6], input[at + 7]])
            as usize;
        match kind {
            b"EXIF" => {
                let body = &input[(at + 8).min(input.len())..(at + 8 + len).min(input.len())];
                found.metadata(exif(body));
            }
            b"XMP " => found.metadata("XMP"),
            _ => {}
        }
        at = at.saturating_add(8).saturating_add(len + (len & 1));
    }
}

fn tiff_tags(input: &[u8], found: &mut Found) {
    let little = input.starts_with(b"II");
    let u16_at = |at: usize| -> Option<u16> {
        let b = input.get(at..at + 2)?;
        Some(if little {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b = input.get(at..at + 4)?;
        Some(if little {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        } else {
            u32::from_be_bytes([b[0], b[1], b[2], b[3]])
        })
    };
    let Some(ifd) = u32_at(4).map(|o| o as usize) else {
        return;
    };
    let Some(entries) = u16_at(ifd) else {
        return;
    };
    for i in 0..usize::from(entries) {
        let Some(tag) = u16_at(ifd + 2 + i * 12) else {
            return;
        };
        match tag {
            0x8769 => found.metadata("EXIF"),
            0x8825 => found.metadata("GPS location"),
            0x02bc => found.metadata("XMP"),
            0x83bb => found.metadata("IPTC"),
            0x8649 => found.metadata("Photoshop data"),
            0x010e => found.metadata("image description"),
            0x013b => found.metadata("artist"),
            0x8298 => found.metadata("copyright"),
            0x0131 => found.metadata("software"),
            0x0132 => found.metadata("date and time"),
            _ => {}
        }
    }
}
