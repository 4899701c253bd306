//! Exact SHA-256 / MD5 lookup: a sorted array of `(digest, id)` pairs and a table of where
//! each leading-bits prefix starts, so a lookup is one table read plus a short binary search
//! inside a bucket of a few entries.
//!
//! Memory is `N + 4` bytes an entry plus 4 bytes a bucket (about one bucket per four
//! entries): 10M SHA-256 digests take 360 MB + 8 MB, 10M MD5 digests 200 MB + 8 MB. Building
//! sorts the pairs in place, so [`DigestSet::from_pairs`] needs no second copy.

/// A set of fixed-size digests, each with the caller's id (e.g. the list entry it came from);
/// one digest may carry several ids. Immutable once built; share it behind an `Arc`.
#[derive(Debug)]
pub struct DigestSet<const N: usize> {
    /// Sorted by digest, then id.
    entries: Vec<([u8; N], u32)>,
    /// `starts[p]` is the first entry whose leading `prefix_bits` bits are `>= p`.
    starts: Vec<u32>,
    prefix_bits: u32,
}

/// Exact SHA-256 set.
pub type Sha256Set = DigestSet<32>;
/// Exact MD5 set.
pub type Md5Set = DigestSet<16>;

/// A hex string that is not a digest of the expected length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestHexError {
    #[error("expected {expected} hex digits, found {found} characters")]
    Length { expected: usize, found: usize },
    #[error("character {position} is not a hex digit")]
    NotHex { position: usize },
}

/// Parses `2 * N` hex digits, either case; surrounding whitespace is ignored.
pub fn parse_hex_digest<const N: usize>(hex: &str) -> Result<[u8; N], DigestHexError> {
    let s = hex.trim();
    if s.len() != 2 * N {
        return Err(DigestHexError::Length {
            expected: 2 * N,
            found: s.chars().count(),
        });
    }
    if let Some(position) = s.bytes().position(|b| !b.is_ascii_hexdigit()) {
        return Err(DigestHexError::NotHex {
            position: position + 1,
        });
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|_| DigestHexError::NotHex { position: 1 })?;
    Ok(out)
}

impl<const N: usize> DigestSet<N> {
    /// Builds from digests whose ids are their positions (0, 1, 2, …). Give an exact-size
    /// iterator (or a `Vec`) so the array is allocated once at its final size.
    pub fn new(digests: impl IntoIterator<Item = [u8; N]>) -> Self {
        let iter = digests.into_iter();
        let mut pairs = Vec::with_capacity(iter.size_hint().0);
        for (id, d) in iter.enumerate() {
            pairs.push((d, id_of(id)));
        }
        Self::from_pairs(pairs)
    }

    /// Builds from `(digest, id)` pairs, sorting them in place.
    pub fn from_pairs(mut entries: Vec<([u8; N], u32)>) -> Self {
        assert!(N >= 4, "digests shorter than 4 bytes are not supported");
        entries.sort_unstable();
        entries.shrink_to_fit();
        // About four entries a bucket, at most 2^24 buckets (64 MB).
        let prefix_bits = (usize::BITS - entries.len().leading_zeros())
            .saturating_sub(2)
            .min(24);
        let mut starts = vec![0u32; (1usize << prefix_bits) + 1];
        let mut i = 0usize;
        for (p, start) in starts.iter_mut().enumerate() {
            while i < entries.len() && (prefix_of(&entries[i].0, prefix_bits) as usize) < p {
                i += 1;
            }
            *start = id_of(i);
        }
        DigestSet {
            entries,
            starts,
            prefix_bits,
        }
    }

    /// Number of `(digest, id)` pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The ids stored with `digest`, ascending; empty when it is not in the set.
    pub fn get(&self, digest: &[u8; N]) -> impl Iterator<Item = u32> + '_ {
        let p = prefix_of(digest, self.prefix_bits) as usize;
        let bucket = &self.entries[self.starts[p] as usize..self.starts[p + 1] as usize];
        let first = bucket.partition_point(|(d, _)| d < digest);
        let digest = *digest;
        bucket[first..]
            .iter()
            .take_while(move |(d, _)| *d == digest)
            .map(|&(_, id)| id)
    }

    /// Whether `digest` is in the set.
    pub fn contains(&self, digest: &[u8; N]) -> bool {
        self.get(digest).next().is_some()
    }

    /// Heap bytes held (entries and prefix table).
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<([u8; N], u32)>() + self.starts.len() * 4
    }
}

fn prefix_of(digest: &[u8], bits: u32) -> u32 {
    if bits == 0 {
        return 0;
    }
    let lead = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    lead >> (32 - bits)
}

fn id_of(i: usize) -> u32 {
    u32::try_from(i).expect("more than 4 billion entries in one index")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_id_of_a_digest_and_nothing_else() {
        let a = [1u8; 16];
        let b = [2u8; 16];
        let c = [0xffu8; 16];
        let set = Md5Set::new(vec![b, a, c, b]);
        assert_eq!(set.get(&b).collect::<Vec<_>>(), vec![0, 3]);
        assert_eq!(set.get(&a).collect::<Vec<_>>(), vec![1]);
        assert!(set.contains(&c));
        assert!(!set.contains(&[3u8; 16]));
        assert!(!Md5Set::new(Vec::new()).contains(&a));
    }

    #[test]
    fn parses_hex_in_either_case_and_names_the_bad_character() {
        let lower = "d41d8cd98f00b204e9800998ecf8427e";
        let d: [u8; 16] = parse_hex_digest(&lower.to_uppercase()).unwrap();
        assert_eq!(hex::encode(d), lower);
        assert_eq!(
            parse_hex_digest::<32>(lower),
            Err(DigestHexError::Length {
                expected: 64,
                found: 32
            })
        );
        assert_eq!(
            parse_hex_digest::<16>("d41d8cd98f00b204e9800998ecf8427x"),
            Err(DigestHexError::NotHex { position: 32 })
        );
    }
}
