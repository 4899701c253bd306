//! PDQ perceptual hashing of images (Meta's 256-bit photo hash), pure and synchronous: the
//! caller passes the fetched bytes, nothing here does I/O.
//!
//! Data flows: bytes → [`decode`] (format sniffed, header dimensions and memory checked
//! against [`DecodeLimits`] before any pixel is decoded) → luminance `f32` buffer →
//! [`algorithm`] (box-filter blur, 64×64 decimation, quality, 16×16 DCT, median threshold) →
//! [`PdqHash`] (256 bits + quality 0–100). [`hash_image_bytes_dihedral`] derives the hashes of
//! the seven rotations and flips from the same DCT ([`DihedralHashes`]), so a rotated or
//! mirrored copy can be matched without hashing it again. Those derived variants are only
//! approximate on images of a few hundred pixels, so the pipeline hashes with
//! [`hash_image_bytes_for_matching`], which hashes the rotated and flipped pixels themselves
//! up to [`EXACT_VARIANTS_MAX_PIXELS`] (see `variants`).
//!
//! Matching lives in [`crate::index`]: [`crate::index::PdqIndex::search`] refuses hashes whose
//! quality is below [`MIN_MATCH_QUALITY`] (50) and takes the list's largest Hamming distance
//! ([`DEFAULT_MAX_DISTANCE`] = 31).
//!
//! ```
//! use classify::pdq::{hash_image_bytes, DecodeLimits, PdqError};
//! let err = hash_image_bytes(b"not an image", &DecodeLimits::default()).unwrap_err();
//! assert!(matches!(err, PdqError::UnsupportedFormat(_)));
//! ```

pub mod algorithm;
mod decode;
mod hash;
mod variants;

pub use algorithm::{hash_luma, hash_luma_dihedral, MIN_HASHABLE_SIDE};
pub use decode::{
    hash_image, hash_image_bytes, hash_image_bytes_dihedral, hash_image_dihedral, luma_of_bytes,
    luma_of_image, DecodeLimits, PdqError,
};
pub use hash::{
    bits_from_hex, bits_to_hex, distance, Dihedral, DihedralHashes, HexError, PdqBits, PdqHash,
    DEFAULT_MAX_DISTANCE, MIN_MATCH_QUALITY,
};
pub use variants::{
    hash_image_bytes_for_matching, hash_luma_dihedral_exact, EXACT_VARIANTS_MAX_PIXELS,
};
