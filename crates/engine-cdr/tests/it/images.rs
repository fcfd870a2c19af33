//! Images: metadata written by exiftool and bytes appended after the image are gone from the
//! re-encoded copy, by exiftool's and Pillow's judgement, and the dimensions stay.

use std::path::Path;
use std::process::Command;

use image::{ImageFormat, RgbImage};
use palisade_model::{CdrAction, CdrPolicy, SanitizationResult};

use crate::{contains, sanitize};

const WIDTH: u32 = 37;
const HEIGHT: u32 = 23;

/// A gradient image in `format`.
fn picture(format: ImageFormat) -> Vec<u8> {
    let image = RgbImage::from_fn(WIDTH, HEIGHT, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 11) as u8, ((x + y) * 3) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn exiftool(args: &[&str], file: &Path) -> String {
    let out = Command::new("exiftool")
        .args(args)
        .arg(file)
        .output()
        .expect("exiftool is installed (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "exiftool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The image with GPS, EXIF, XMP and a comment written into it by exiftool (what the format
/// can hold), and bytes appended after its end where `trailing`.
fn with_metadata(format: ImageFormat, extension: &str, trailing: bool) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("in.{extension}"));
    std::fs::write(&file, picture(format)).unwrap();
    exiftool(
        &[
            "-q",
            "-overwrite_original",
            "-GPSLatitude=48.8566",
            "-GPSLatitudeRef=N",
            "-GPSLongitude=2.3522",
            "-GPSLongitudeRef=E",
            "-EXIF:Artist=secret_artist",
            "-XMP-dc:Creator=secret_creator",
            "-Comment=secret_comment",
        ],
        &file,
    );
    let mut bytes = std::fs::read(&file).unwrap();
    if trailing {
        bytes.extend_from_slice(b"TRAILING-PAYLOAD");
    }
    bytes
}

/// Pillow's reading of an image: format and size, after decoding every pixel.
fn pillow(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("copy");
    std::fs::write(&file, bytes).unwrap();
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys; from PIL import Image; im = Image.open(sys.argv[1]); im.load(); \
             print(im.format, im.size[0], im.size[1])",
        ])
        .arg(&file)
        .output()
        .expect("python3 with Pillow (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "Pillow: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn images_come_back_re_encoded_with_their_size_and_without_metadata_or_appended_bytes() {
    let cases = [
        (ImageFormat::Jpeg, "jpg", "JPEG", true, true),
        (ImageFormat::Png, "png", "PNG", true, true),
        (ImageFormat::Gif, "gif", "GIF", true, true),
        (ImageFormat::Tiff, "tif", "TIFF", true, false),
        (ImageFormat::WebP, "webp", "WEBP", true, false),
        (ImageFormat::Bmp, "bmp", "BMP", false, false),
    ];
    for (format, extension, pillow_name, metadata, trailing) in cases {
        let original = if metadata {
            with_metadata(format, extension, trailing)
        } else {
            picture(format)
        };
        if metadata {
            assert!(
                contains(&original, "secret_") || contains(&original, "48"),
                "{extension}: exiftool wrote its metadata"
            );
        }
        let name = format!("photo.{extension}");
        let run = sanitize(&name, &original, CdrPolicy::default());
        let details = run.details();
        assert_eq!(
            details.result,
            SanitizationResult::Sanitized,
            "{extension}: {details:?}"
        );
        assert_eq!(
            run.finding.outputs[0].name,
            format!("photo_sanitized.{extension}")
        );
        let image = details
            .details
            .iter()
            .find(|item| item.object_name == "Image")
            .expect("the image is reported rebuilt");
        assert_eq!(image.action, CdrAction::Sanitized);
        let counts = run.counts();
        if metadata {
            assert!(
                counts.get("Metadata").is_some_and(|n| *n >= 1),
                "{extension}: {details:?}"
            );
        }
        if trailing {
            assert_eq!(
                counts.get("Data outside the document"),
                Some(&1),
                "{extension}: {details:?}"
            );
        }

        let copy = run.output();
        for marker in ["secret_", "TRAILING-PAYLOAD"] {
            assert!(
                !contains(copy, marker),
                "{extension}: {marker} is in the copy"
            );
        }
        assert_eq!(
            pillow(copy),
            format!("{pillow_name} {WIDTH} {HEIGHT}"),
            "{extension}"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("copy.{extension}"));
        std::fs::write(&file, copy).unwrap();
        let tags = exiftool(&["-j", "-G", "-a"], &file);
        // TIFF keeps its image structure in IFD0, which exiftool lists as EXIF tags; any
        // other format's copy has no EXIF at all.
        let exif_group = (format != ImageFormat::Tiff).then_some("\"EXIF:");
        for group in [
            "GPS", "XMP", "IPTC", "Comment", "secret", "Artist", "ExifIFD",
        ]
        .into_iter()
        .chain(exif_group)
        {
            assert!(
                !tags.contains(group),
                "{extension}: exiftool still finds {group}: {tags}"
            );
        }

        let again = sanitize(&name, copy, CdrPolicy::default());
        assert!(
            again
                .details()
                .details
                .iter()
                .all(|item| item.action == CdrAction::Sanitized),
            "{extension}: a copy sanitized again loses nothing: {:?}",
            again.details()
        );
        let twice = sanitize(&name, &original, CdrPolicy::default());
        assert_eq!(
            twice.output(),
            copy,
            "{extension}: the same bytes every time"
        );
    }
}

#[test]
fn an_animation_keeps_its_frames_and_broken_or_huge_images_fail_with_the_reason() {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame, RgbaImage};
    let mut gif = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut gif);
        encoder.set_repeat(Repeat::Infinite).unwrap();
        let frames = (0..3).map(|i| {
            Frame::from_parts(
                RgbaImage::from_pixel(8, 8, image::Rgba([i * 80, 0, 0, 255])),
                0,
                0,
                Delay::from_numer_denom_ms(100, 1),
            )
        });
        encoder.encode_frames(frames).unwrap();
    }
    let run = sanitize("anim.gif", &gif, CdrPolicy::default());
    let image = run
        .details()
        .details
        .iter()
        .find(|item| item.object_name == "Image")
        .unwrap();
    assert!(
        image.object_details[0].contains("3 frames"),
        "{:?}",
        image.object_details
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("copy.gif");
    std::fs::write(&file, run.output()).unwrap();
    let frames = Command::new("python3")
        .args([
            "-c",
            "import sys; from PIL import Image; im = Image.open(sys.argv[1]); print(im.n_frames)",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&frames.stdout).trim(), "3");

    let mut broken = picture(ImageFormat::Png);
    broken.truncate(40);
    let run = sanitize("broken.png", &broken, CdrPolicy::default());
    assert_eq!(run.details().result, SanitizationResult::Failed);
    assert!(run.output.is_none());

    // A PNG header claiming 100000 x 100000 pixels is refused before anything is allocated.
    let mut huge = picture(ImageFormat::Png);
    huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    huge[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let run = sanitize("huge.png", &huge, CdrPolicy::default());
    assert_eq!(run.details().result, SanitizationResult::Failed);
    assert!(run.output.is_none());
}
