//! The eight dihedral hashes an image is matched with, hashed from the rotated and flipped
//! pixels when the image is small enough to afford it.
//!
//! [`hash_luma_dihedral`](super::hash_luma_dihedral) derives the seven variants from the
//! original's DCT, as Meta's reference does. That is exact only for a mirror-symmetric
//! downsampling, which PDQ's is not (an even box window leans a pixel forward; cell centres
//! round down). On photos of a few hundred pixels a side the derived variant of a flipped
//! copy lands 22–98 bits from the original's hash (docs/pdq.md), so a list threshold of 31
//! misses most flipped copies. Hashing the transformed luminance instead makes the variant
//! equal, bit for bit, to the hash of the transformed image: a lossless flip or rotation of a
//! listed image matches at distance 0 whatever its size.
//!
//! Data flows: bytes → [`luma_of_bytes`] (limits checked) → for each [`Dihedral`] the luminance
//! is copied in that orientation into one scratch buffer → [`hash_luma`]. Up to
//! [`EXACT_VARIANTS_MAX_PIXELS`] this costs eight hashes (one scratch buffer of 4 bytes a
//! pixel beyond what [`DecodeLimits`] accounts for, at most 2 MiB); above it the derived
//! variants are used (one hash).

use super::algorithm::{hash_luma, hash_luma_dihedral};
use super::decode::{luma_of_bytes, DecodeLimits, PdqError};
use super::hash::{Dihedral, DihedralHashes};

/// Largest image (width × height, 512 Ki pixels, e.g. 724×724 or 800×600) whose variants are
/// hashed from the transformed pixels. Eight hashes cost about six times one (criterion,
/// `pdq_matching_jpeg`: decode + 8 exact hashes of a 640×480 JPEG 8.8 ms against 1.5 ms
/// derived; of a 1000×1000 one 38 ms against 5.6 ms), so larger images, where the derived
/// variants also come closer, keep the derived ones.
pub const EXACT_VARIANTS_MAX_PIXELS: usize = 1 << 19;

/// Decodes `bytes` under `limits` and returns the eight hashes to match the image with:
/// pixel-exact variants up to [`EXACT_VARIANTS_MAX_PIXELS`], DCT-derived ones above. The
/// quality is the unrotated image's.
pub fn hash_image_bytes_for_matching(
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<DihedralHashes, PdqError> {
    let (mut luma, w, h) = luma_of_bytes(bytes, limits)?;
    Ok(if w * h <= EXACT_VARIANTS_MAX_PIXELS {
        hash_luma_dihedral_exact(&luma, w, h)
    } else {
        hash_luma_dihedral(&mut luma, w, h)
    })
}

/// The eight hashes of `luma` (`width × height`, row-major) and of its rotations and flips,
/// each hashed from the transformed pixels. `luma` is left unchanged.
pub fn hash_luma_dihedral_exact(luma: &[f32], width: usize, height: usize) -> DihedralHashes {
    assert_eq!(
        luma.len(),
        width * height,
        "luma buffer is not width × height"
    );
    let mut scratch = vec![0f32; luma.len()];
    let mut bits = [[0u8; 32]; 8];
    let mut quality = 0;
    for d in Dihedral::ALL {
        let (w, h) = transform(luma, width, height, d, &mut scratch);
        let hash = hash_luma(&mut scratch, w, h);
        if d == Dihedral::Original {
            quality = hash.quality;
        }
        bits[d as usize] = hash.bits;
    }
    DihedralHashes { bits, quality }
}

/// Where input pixel `(x, y)` of a `width × height` image goes: `(x, y, width, height)` →
/// output `(x, y)`.
type Place = fn(usize, usize, usize, usize) -> (usize, usize);

/// Writes `luma` in orientation `d` into `out` (same length); returns the new width and
/// height. The orientations are the `image::imageops` operations [`Dihedral`] documents.
fn transform(
    luma: &[f32],
    width: usize,
    height: usize,
    d: Dihedral,
    out: &mut [f32],
) -> (usize, usize) {
    let (w, h) = (width, height);
    // (output width, output height) and where input pixel (x, y) goes.
    let (ow, oh, at): (usize, usize, Place) = match d {
        Dihedral::Original => (w, h, |x, y, _, _| (x, y)),
        // A quarter turn anticlockwise (`rotate270`).
        Dihedral::Rotate90 => (h, w, |x, y, w, _| (y, w - 1 - x)),
        Dihedral::Rotate180 => (w, h, |x, y, w, h| (w - 1 - x, h - 1 - y)),
        // A quarter turn clockwise (`rotate90`).
        Dihedral::Rotate270 => (h, w, |x, y, _, h| (h - 1 - y, x)),
        // `flip_vertical`.
        Dihedral::FlipX => (w, h, |x, y, _, h| (x, h - 1 - y)),
        // `flip_horizontal`.
        Dihedral::FlipY => (w, h, |x, y, w, _| (w - 1 - x, y)),
        // Mirror on the main diagonal.
        Dihedral::FlipPlus1 => (h, w, |x, y, _, _| (y, x)),
        // Mirror on the anti-diagonal.
        Dihedral::FlipMinus1 => (h, w, |x, y, w, h| (h - 1 - y, w - 1 - x)),
    };
    for y in 0..h {
        let row = &luma[y * w..(y + 1) * w];
        for (x, &v) in row.iter().enumerate() {
            let (ox, oy) = at(x, y, w, h);
            out[oy * ow + ox] = v;
        }
    }
    (ow, oh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdq::{hash_image, luma_of_image};
    use image::{imageops, DynamicImage, ImageBuffer, Rgb};

    /// A 300×200 picture with detail at several scales and no symmetry.
    fn picture() -> DynamicImage {
        DynamicImage::ImageRgb8(ImageBuffer::from_fn(300, 200, |x, y| {
            let v = ((x * 7 + y * 3) % 251) as u8 ^ ((x / 17 + y / 11) as u8).wrapping_mul(37);
            Rgb([v, (x % 200) as u8, (y * 2 % 256) as u8])
        }))
    }

    /// Mirror on the main diagonal: (x, y) → (y, x).
    fn transpose(img: &DynamicImage) -> DynamicImage {
        DynamicImage::ImageRgba8(imageops::rotate90(&imageops::flip_vertical(img)))
    }

    #[test]
    fn each_variant_is_the_hash_of_the_transformed_image() {
        let img = picture();
        let (luma, w, h) = luma_of_image(&img);
        let v = hash_luma_dihedral_exact(&luma, w, h);
        let cases = [
            (Dihedral::Original, img.clone()),
            (Dihedral::Rotate90, img.rotate270()),
            (Dihedral::Rotate180, img.rotate180()),
            (Dihedral::Rotate270, img.rotate90()),
            (Dihedral::FlipX, img.flipv()),
            (Dihedral::FlipY, img.fliph()),
            (Dihedral::FlipPlus1, transpose(&img)),
            // Mirror on the anti-diagonal: transpose, then a half turn.
            (Dihedral::FlipMinus1, transpose(&img).rotate180()),
        ];
        for (d, t) in cases {
            assert_eq!(v.get(d).bits, hash_image(&t).bits, "{d}");
        }
        assert_eq!(v.quality, hash_image(&img).quality);
        // The buffer is left as it was.
        assert_eq!(luma, luma_of_image(&img).0);
    }

    #[test]
    fn a_flipped_copy_finds_the_original_at_distance_zero() {
        let img = picture();
        let original = hash_image(&img).bits;
        for copy in [img.fliph(), img.flipv(), img.rotate90(), img.rotate180()] {
            let (luma, w, h) = luma_of_image(&copy);
            let v = hash_luma_dihedral_exact(&luma, w, h);
            assert!(
                v.bits.contains(&original),
                "no variant of the copy is the original's hash"
            );
        }
    }
}
