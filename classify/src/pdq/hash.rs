//! The PDQ hash value: 256 bits plus the image's quality, its hex form, Hamming distance, and
//! the eight dihedral variants of one image.
//!
//! Byte order follows the published hex form: `bits[0]` holds the first two hex digits. In the
//! reference implementation the hash is sixteen 16-bit words printed from word 15 down to word 0,
//! so DCT coefficient `k` (row-major over the 16×16 block) is bit `k % 16` of word `k / 16`;
//! [`PdqHash::from_hex`] and [`PdqHash::to_hex`] therefore round-trip with every other PDQ tool.

use std::fmt;

/// Images whose quality is below this are not matched (Meta's recommendation: discard ≤ 49).
pub const MIN_MATCH_QUALITY: u8 = 50;

/// The default largest Hamming distance that counts as a match (Meta's recommendation).
pub const DEFAULT_MAX_DISTANCE: u32 = 31;

/// 256 PDQ bits, in the byte order of the published hex form.
pub type PdqBits = [u8; 32];

/// A PDQ hash and the quality (0–100) of the image it was computed from.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PdqHash {
    pub bits: PdqBits,
    pub quality: u8,
}

/// A hex string that is not a PDQ hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    #[error("a PDQ hash is 64 hex digits, this one has {0} characters")]
    Length(usize),
    #[error("character {position} of the PDQ hash is not a hex digit")]
    NotHex { position: usize },
}

impl PdqHash {
    /// Whether this hash may be matched at all: quality at least [`MIN_MATCH_QUALITY`].
    pub fn is_matchable(&self) -> bool {
        self.quality >= MIN_MATCH_QUALITY
    }

    /// Hamming distance between the two hashes' bits (quality is not compared).
    pub fn distance(&self, other: &PdqHash) -> u32 {
        distance(&self.bits, &other.bits)
    }

    /// The bits as 64 lower-case hex digits, the form every PDQ tool prints.
    pub fn to_hex(&self) -> String {
        bits_to_hex(&self.bits)
    }

    /// Parses 64 hex digits (either case, surrounding whitespace ignored) with the given quality.
    pub fn from_hex(hex: &str, quality: u8) -> Result<PdqHash, HexError> {
        Ok(PdqHash {
            bits: bits_from_hex(hex)?,
            quality,
        })
    }
}

impl fmt::Debug for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PdqHash({} q={})", self.to_hex(), self.quality)
    }
}

impl fmt::Display for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// 64 lower-case hex digits.
pub fn bits_to_hex(bits: &PdqBits) -> String {
    hex::encode(bits)
}

/// Parses 64 hex digits, either case; surrounding whitespace is ignored.
pub fn bits_from_hex(hex: &str) -> Result<PdqBits, HexError> {
    let s = hex.trim();
    if s.len() != 64 {
        return Err(HexError::Length(s.chars().count()));
    }
    if let Some(position) = s.bytes().position(|b| !b.is_ascii_hexdigit()) {
        return Err(HexError::NotHex {
            position: position + 1,
        });
    }
    let mut bits = [0u8; 32];
    hex::decode_to_slice(s, &mut bits).map_err(|_| HexError::NotHex { position: 1 })?;
    Ok(bits)
}

/// Hamming distance between two 256-bit hashes.
#[inline]
pub fn distance(a: &PdqBits, b: &PdqBits) -> u32 {
    let mut d = 0;
    for i in 0..4 {
        let x = u64::from_le_bytes(a[i * 8..i * 8 + 8].try_into().unwrap());
        let y = u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap());
        d += (x ^ y).count_ones();
    }
    d
}

/// Sets bit `k` (0..256, row-major over the 16×16 DCT block) in the published byte order.
#[inline]
pub(crate) fn set_bit(bits: &mut PdqBits, k: usize) {
    let word = k >> 4;
    let bit = k & 15;
    let byte = 2 * (15 - word) + usize::from(bit < 8);
    bits[byte] |= 1 << (bit & 7);
}

/// The eight rotations and reflections of an image (PDQ's "dihedral" variants), named as in
/// Meta's reference. Each one is the hash the transformed image would have, derived from the
/// original's DCT by sign changes and a transpose, without hashing the image again.
///
/// In `image::imageops` terms (checked against the reference's `dih/` photos in the tests):
/// `Rotate90` = `rotate270` (a quarter turn anticlockwise), `Rotate180` = `rotate180`,
/// `Rotate270` = `rotate90` (a quarter turn clockwise), `FlipX` = `flip_vertical`,
/// `FlipY` = `flip_horizontal`, `FlipPlus1` = transpose (mirror on the main diagonal),
/// `FlipMinus1` = mirror on the anti-diagonal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dihedral {
    Original,
    Rotate90,
    Rotate180,
    Rotate270,
    FlipX,
    FlipY,
    FlipPlus1,
    FlipMinus1,
}

impl Dihedral {
    /// All eight, `Original` first.
    pub const ALL: [Dihedral; 8] = [
        Dihedral::Original,
        Dihedral::Rotate90,
        Dihedral::Rotate180,
        Dihedral::Rotate270,
        Dihedral::FlipX,
        Dihedral::FlipY,
        Dihedral::FlipPlus1,
        Dihedral::FlipMinus1,
    ];

    /// Stable name for reports and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Dihedral::Original => "original",
            Dihedral::Rotate90 => "rotate90",
            Dihedral::Rotate180 => "rotate180",
            Dihedral::Rotate270 => "rotate270",
            Dihedral::FlipX => "flipx",
            Dihedral::FlipY => "flipy",
            Dihedral::FlipPlus1 => "flipplus1",
            Dihedral::FlipMinus1 => "flipminus1",
        }
    }

    /// How the variant's 16×16 DCT block comes from the original's: negate coefficient (i, j)
    /// when `i` is even (`rows`), when `j` is even (`cols`), then transpose (`transpose`).
    /// Row `i` holds vertical frequency `i + 1`, which changes sign under a vertical flip
    /// exactly when it is odd.
    pub(crate) fn dct_map(self) -> (bool, bool, bool) {
        match self {
            Dihedral::Original => (false, false, false),
            Dihedral::Rotate90 => (false, true, true),
            Dihedral::Rotate180 => (true, true, false),
            Dihedral::Rotate270 => (true, false, true),
            Dihedral::FlipX => (true, false, false),
            Dihedral::FlipY => (false, true, false),
            Dihedral::FlipPlus1 => (false, false, true),
            Dihedral::FlipMinus1 => (true, true, true),
        }
    }
}

impl fmt::Display for Dihedral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The hashes of all eight dihedral variants of one image, indexed by [`Dihedral`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DihedralHashes {
    pub bits: [PdqBits; 8],
    pub quality: u8,
}

impl DihedralHashes {
    /// The variant's hash, with the image's quality.
    pub fn get(&self, which: Dihedral) -> PdqHash {
        PdqHash {
            bits: self.bits[which as usize],
            quality: self.quality,
        }
    }

    /// The unrotated image's hash.
    pub fn original(&self) -> PdqHash {
        self.get(Dihedral::Original)
    }

    /// `(variant, hash)` for all eight.
    pub fn iter(&self) -> impl Iterator<Item = (Dihedral, PdqHash)> + '_ {
        Dihedral::ALL.iter().map(move |&d| (d, self.get(d)))
    }

    /// Whether these hashes may be matched at all (see [`PdqHash::is_matchable`]).
    pub fn is_matchable(&self) -> bool {
        self.quality >= MIN_MATCH_QUALITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_bad_input() {
        let hex = "d8f8f0cce0f4a84f0e370a22028f67f0b36e2ed596623e1d33e6b39c4e9c9b22";
        let h = PdqHash::from_hex(&hex.to_uppercase(), 80).unwrap();
        assert_eq!(h.to_hex(), hex);
        assert_eq!(h.quality, 80);
        assert_eq!(bits_from_hex("abc"), Err(HexError::Length(3)));
        let bad = format!("{}g{}", &hex[..10], &hex[11..]);
        assert_eq!(bits_from_hex(&bad), Err(HexError::NotHex { position: 11 }));
    }

    #[test]
    fn bit_layout_matches_the_reference_word_order() {
        // Bit 0 is the lowest bit of word 0, which the reference prints last.
        let mut b = [0u8; 32];
        set_bit(&mut b, 0);
        assert_eq!(bits_to_hex(&b), format!("{}0001", "0".repeat(60)));
        let mut b = [0u8; 32];
        set_bit(&mut b, 255);
        assert_eq!(bits_to_hex(&b), format!("8000{}", "0".repeat(60)));
        let mut b = [0u8; 32];
        set_bit(&mut b, 16 + 9);
        assert_eq!(
            bits_to_hex(&b),
            format!("{}0200{}", "0".repeat(56), "0".repeat(4))
        );
    }

    #[test]
    fn distance_counts_differing_bits() {
        let a = [0u8; 32];
        let mut b = [0u8; 32];
        assert_eq!(distance(&a, &b), 0);
        b[0] = 0b1011;
        b[31] = 0x80;
        assert_eq!(distance(&a, &b), 4);
        assert_eq!(distance(&[0xff; 32], &a), 256);
    }

    #[test]
    fn quality_gate() {
        let mut h = PdqHash {
            bits: [0; 32],
            quality: 49,
        };
        assert!(!h.is_matchable());
        h.quality = 50;
        assert!(h.is_matchable());
    }
}
