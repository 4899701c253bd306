//! Decoding under limits: a decompression bomb (a tiny PNG declaring a huge image) and images
//! over each limit fail with an error naming the declared size, before any pixel buffer is
//! allocated; every supported format decodes; garbage is refused by name.

use classify::pdq::{hash_image, hash_image_bytes, DecodeLimits, PdqError};
use image::{DynamicImage, ImageFormat, RgbImage};
use std::io::Cursor;

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A valid-looking PNG header declaring `width`×`height` 8-bit RGB, with a few bytes of zlib
/// data: decoding it fully would need width × height × 3 bytes.
fn bomb_png(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    // zlib stream of a run of zeros (stored empty block is enough for the header check).
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

#[test]
fn decompression_bomb_png_is_refused_by_its_declared_size() {
    let bomb = bomb_png(100_000, 100_000);
    assert!(bomb.len() < 100);
    let err = hash_image_bytes(&bomb, &DecodeLimits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            PdqError::Dimensions {
                width: 100_000,
                height: 100_000,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("100000×100000"), "{message}");

    // Within the side limits but too many pixels, or too much memory.
    let err = hash_image_bytes(&bomb_png(10_000, 10_000), &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, PdqError::Pixels { .. }), "{err:?}");
    let limits = DecodeLimits {
        max_alloc: 1 << 20,
        ..DecodeLimits::default()
    };
    let err = hash_image_bytes(&bomb_png(1000, 1000), &limits).unwrap_err();
    assert!(
        matches!(
            err,
            PdqError::Memory {
                needed: 7_000_000,
                max_alloc: 1_048_576,
                ..
            }
        ),
        "{err:?}"
    );
}

fn sample() -> DynamicImage {
    // Smooth shapes, like a photo: PDQ is built to survive a JPEG re-encode of those.
    DynamicImage::ImageRgb8(RgbImage::from_fn(160, 120, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let disc = if (fx - 100.0).hypot(fy - 50.0) < 30.0 {
            200.0
        } else {
            40.0
        };
        image::Rgb([
            (128.0 + 100.0 * (fx / 23.0).sin()) as u8,
            (128.0 + 100.0 * (fy / 31.0).cos()) as u8,
            disc as u8,
        ])
    }))
}

#[test]
fn every_supported_format_decodes_and_hashes_the_same_pixels() {
    let img = sample();
    let want = hash_image(&img);
    assert!(want.quality > 0);
    for format in [
        ImageFormat::Png,
        ImageFormat::Bmp,
        ImageFormat::WebP,
        ImageFormat::Gif,
    ] {
        let mut bytes = Cursor::new(Vec::new());
        let source = if format == ImageFormat::Gif {
            // GIF is paletted; compare against the image as GIF stores it.
            DynamicImage::ImageRgba8(img.to_rgba8())
        } else {
            img.clone()
        };
        source.write_to(&mut bytes, format).unwrap();
        let got = hash_image_bytes(bytes.get_ref(), &DecodeLimits::default()).unwrap();
        let decoded = image::load_from_memory(bytes.get_ref()).unwrap();
        assert_eq!(got, hash_image(&decoded), "{format:?}");
        if format != ImageFormat::Gif {
            // Lossless formats give back the very pixels.
            assert_eq!(got, want, "{format:?}");
        }
    }
    // A photo (synthetic pictures put their energy in a few coefficients and leave the rest
    // of the bits to noise, so they are no test of robustness).
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/pdq/labelme/q1050.jpg"
    );
    let photo = image::load_from_memory(&std::fs::read(path).unwrap()).unwrap();
    let want = hash_image(&photo);
    let mut jpeg = Cursor::new(Vec::new());
    photo.write_to(&mut jpeg, ImageFormat::Jpeg).unwrap();
    let got = hash_image_bytes(jpeg.get_ref(), &DecodeLimits::default()).unwrap();
    assert!(
        got.distance(&want) <= 16,
        "JPEG re-encode moved {} bits",
        got.distance(&want)
    );
}

#[test]
fn garbage_and_truncated_images_are_clear_errors() {
    let err = hash_image_bytes(b"<html>not an image</html>", &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, PdqError::UnsupportedFormat(_)), "{err:?}");
    let mut png = Cursor::new(Vec::new());
    sample().write_to(&mut png, ImageFormat::Png).unwrap();
    let cut = &png.get_ref()[..png.get_ref().len() / 2];
    let err = hash_image_bytes(cut, &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, PdqError::Decode(_)), "{err:?}");
    // TIFF is a real format we do not decode.
    let err = hash_image_bytes(b"II*\0\x08\0\0\0", &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, PdqError::UnsupportedFormat(_)), "{err:?}");
}

#[test]
fn flat_and_tiny_images_get_quality_zero() {
    let flat = DynamicImage::ImageRgb8(RgbImage::from_pixel(300, 200, image::Rgb([90, 90, 90])));
    let h = hash_image(&flat);
    assert_eq!(h.quality, 0);
    assert!(!h.is_matchable());
    let tiny = DynamicImage::ImageRgb8(RgbImage::from_pixel(4, 4, image::Rgb([1, 2, 3])));
    assert_eq!(hash_image(&tiny).quality, 0);
}
