//! Images encoded at runtime for sanitization tests and benchmarks.

/// A `width` x `height` photo-like image (a gradient with noise, so it compresses like a
/// photograph) in `format`.
pub fn photo(format: image::ImageFormat, width: u32, height: u32) -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let noise = (state >> 27) as u8;
        image::Rgb([
            ((x * 255 / width.max(1)) as u8).wrapping_add(noise),
            ((y * 255 / height.max(1)) as u8).wrapping_add(noise),
            (((x + y) * 128 / (width + height).max(1)) as u8).wrapping_add(noise),
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, format)
        .expect("the image crate encodes its own images");
    out.into_inner()
}
