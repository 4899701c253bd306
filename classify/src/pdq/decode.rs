//! Image bytes → luminance, under limits: the format is sniffed from the bytes (png, jpeg, gif,
//! webp, bmp), the header's dimensions are checked against [`DecodeLimits`] before any pixel is
//! decoded, and so is the memory the decode and the luminance buffer will need. A
//! decompression bomb (a small file declaring a huge image) fails here with an error naming
//! the declared size; nothing of that size is allocated.

use super::algorithm::{hash_luma, hash_luma_dihedral};
use super::hash::{DihedralHashes, PdqHash};
use image::{DynamicImage, ImageDecoder, ImageError, ImageReader};
use std::io::Cursor;

/// What one image may cost to decode and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest width in pixels.
    pub max_width: u32,
    /// Largest height in pixels.
    pub max_height: u32,
    /// Largest width × height.
    pub max_pixels: u64,
    /// Largest memory for the decoded pixels plus the 4-byte-per-pixel luminance buffer.
    pub max_alloc: u64,
}

impl Default for DecodeLimits {
    /// 12,000 px a side, 36 megapixels, 256 MiB: every photo a page is likely to carry (a
    /// 36 MP RGB image needs 108 MB decoded plus 144 MB of luminance).
    fn default() -> Self {
        DecodeLimits {
            max_width: 12_000,
            max_height: 12_000,
            max_pixels: 36_000_000,
            max_alloc: 256 << 20,
        }
    }
}

/// Why an image could not be hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdqError {
    #[error("not an image in a supported format (png, jpeg, gif, webp, bmp): {0}")]
    UnsupportedFormat(String),
    #[error("image declares {width}×{height} pixels, over the limit of {max_width}×{max_height}")]
    Dimensions {
        width: u32,
        height: u32,
        max_width: u32,
        max_height: u32,
    },
    #[error("image declares {width}×{height} = {} pixels, over the limit of {max_pixels}", *.width as u64 * *.height as u64)]
    Pixels {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    #[error("image of {width}×{height} needs {needed} bytes to decode and hash, over the limit of {max_alloc}")]
    Memory {
        width: u32,
        height: u32,
        needed: u64,
        max_alloc: u64,
    },
    #[error("image decoder limit reached: {0}")]
    DecoderLimit(String),
    #[error("image could not be decoded: {0}")]
    Decode(String),
}

/// Decodes `bytes` under `limits` and hashes the image.
pub fn hash_image_bytes(bytes: &[u8], limits: &DecodeLimits) -> Result<PdqHash, PdqError> {
    let (mut luma, w, h) = luma_of_bytes(bytes, limits)?;
    Ok(hash_luma(&mut luma, w, h))
}

/// Decodes `bytes` under `limits` and hashes the image and its seven rotations and flips.
pub fn hash_image_bytes_dihedral(
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<DihedralHashes, PdqError> {
    let (mut luma, w, h) = luma_of_bytes(bytes, limits)?;
    Ok(hash_luma_dihedral(&mut luma, w, h))
}

/// Hashes an image already decoded (alpha is ignored, as in the reference tools).
pub fn hash_image(image: &DynamicImage) -> PdqHash {
    let (mut luma, w, h) = luma_of_image(image);
    hash_luma(&mut luma, w, h)
}

/// The eight dihedral hashes of an image already decoded.
pub fn hash_image_dihedral(image: &DynamicImage) -> DihedralHashes {
    let (mut luma, w, h) = luma_of_image(image);
    hash_luma_dihedral(&mut luma, w, h)
}

/// Sniffs, checks and decodes; returns the luminance buffer and its width and height.
pub fn luma_of_bytes(
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<(Vec<f32>, usize, usize), PdqError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PdqError::Decode(e.to_string()))?;
    if reader.format().is_none() {
        return Err(PdqError::UnsupportedFormat(
            "the first bytes match no known image signature".into(),
        ));
    }
    // The decoders get the allocation limit for their own buffers; the dimensions are checked
    // below, from the header, so that the error names the declared size.
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(decoder_limits);
    // Reading the header only: nothing the size of the image is allocated yet.
    let decoder = reader.into_decoder().map_err(|e| map_error(e, limits))?;
    let (width, height) = decoder.dimensions();
    check(width, height, decoder.total_bytes(), limits)?;
    let image = DynamicImage::from_decoder(decoder).map_err(|e| map_error(e, limits))?;
    Ok(luma_of_image(&image))
}

fn check(width: u32, height: u32, decoded: u64, limits: &DecodeLimits) -> Result<(), PdqError> {
    if width > limits.max_width || height > limits.max_height {
        return Err(PdqError::Dimensions {
            width,
            height,
            max_width: limits.max_width,
            max_height: limits.max_height,
        });
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(PdqError::Pixels {
            width,
            height,
            max_pixels: limits.max_pixels,
        });
    }
    let needed = decoded.saturating_add(pixels * 4);
    if needed > limits.max_alloc {
        return Err(PdqError::Memory {
            width,
            height,
            needed,
            max_alloc: limits.max_alloc,
        });
    }
    Ok(())
}

fn map_error(e: ImageError, limits: &DecodeLimits) -> PdqError {
    match e {
        ImageError::Unsupported(u) => PdqError::UnsupportedFormat(u.to_string()),
        ImageError::Limits(l) => PdqError::DecoderLimit(format!(
            "{l} (limits: {}×{} px, {} bytes)",
            limits.max_width, limits.max_height, limits.max_alloc
        )),
        other => PdqError::Decode(other.to_string()),
    }
}

/// Luminance `0.299 R + 0.587 G + 0.114 B` in `f32`, row-major; grey images are used as they
/// are and alpha is dropped (not composited), like the reference tools.
pub fn luma_of_image(image: &DynamicImage) -> (Vec<f32>, usize, usize) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let luma = match image {
        DynamicImage::ImageLuma8(g) => g.as_raw().iter().map(|&v| f32::from(v)).collect(),
        DynamicImage::ImageLumaA8(g) => g
            .as_raw()
            .chunks_exact(2)
            .map(|p| f32::from(p[0]))
            .collect(),
        DynamicImage::ImageRgb8(rgb) => rgb.as_raw().chunks_exact(3).map(luma_of).collect(),
        DynamicImage::ImageRgba8(rgba) => rgba.as_raw().chunks_exact(4).map(luma_of).collect(),
        other => other
            .to_rgb8()
            .as_raw()
            .chunks_exact(3)
            .map(luma_of)
            .collect(),
    };
    (luma, w, h)
}

#[inline]
fn luma_of(p: &[u8]) -> f32 {
    0.299f32 * f32::from(p[0]) + 0.587f32 * f32::from(p[1]) + 0.114f32 * f32::from(p[2])
}
