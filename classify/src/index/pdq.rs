//! PDQ near-duplicate search: every indexed hash within a Hamming distance of the query,
//! exactly what a linear scan returns, in well under a millisecond at ten million hashes.
//!
//! Multi-index hashing with a paired filter. The 256 bits are eight 32-bit chunks, each two
//! 16-bit words `a` and `b`. If a hash is within `τ` of the query, some chunk differs in at
//! most `R = ⌊τ/8⌋` bits (pigeonhole: eight chunks each over `R` would make more than `τ`),
//! and then `a` or `b` differs in at most `⌊R/2⌋` bits. So there are sixteen tables, one per
//! word; table `t` buckets every hash by its word `t` (65,536 buckets) and stores, beside each
//! id, the other word of the pair. A query visits in each table the buckets within `⌊R/2⌋`
//! bits of its own word (17 buckets at τ = 31), keeps entries whose pair differs in at most
//! `R` bits — a 2-byte check over a contiguous array — and only for those reads the full
//! hash. At τ = 31 a random hash passes the pair check with probability about 0.4 %, so of the
//! ~42,000 bucket entries a query at 10M visits only ~110 need the 32-byte comparison.
//!
//! Memory: 32 bytes a hash, plus 6 bytes (id + partner word) per hash per table, plus 256 KB
//! of bucket offsets per table: 128 bytes a hash, 1.28 GB at 10M. Queries at τ ≥ 64 (where
//! the buckets visited would cover most of each table) fall back to the linear scan, as do
//! indexes built with [`PdqIndex::linear`].

use crate::pdq::{distance, Dihedral, DihedralHashes, PdqBits, PdqHash, MIN_MATCH_QUALITY};
use std::sync::OnceLock;

const TABLES: usize = 16;
const BUCKETS: usize = 1 << 16;
const FILTER_BLOCK: usize = 16;
/// Below this many hashes [`PdqIndex::new`] scans instead: a scan of 1,000 costs about 5 µs
/// a query, and skips the tables' fixed 4 MB of bucket offsets (docs/pdq.md).
pub const MIH_MIN_LEN: usize = 1024;

/// One indexed hash within the distance asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PdqMatch {
    /// Position of the hash in the vector the index was built from.
    pub id: u32,
    pub distance: u32,
}

/// One indexed hash within the distance of some rotation or flip of the query image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DihedralMatch {
    pub id: u32,
    /// The smallest distance over the variants.
    pub distance: u32,
    /// The variant at that distance (the first in [`Dihedral::ALL`] order on a tie).
    pub variant: Dihedral,
}

/// A query hash of too low quality to be matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("PDQ quality {quality} is below {MIN_MATCH_QUALITY}: such images are not matched")]
pub struct LowQuality {
    pub quality: u8,
}

/// The index. Immutable once built; `Send + Sync`, share it behind an `Arc` (it is not
/// `Clone`: at 10M hashes a copy is 1.3 GB).
#[derive(Debug)]
pub struct PdqIndex {
    hashes: Vec<PdqBits>,
    /// Empty for a linear index.
    tables: Vec<Table>,
}

/// One bucket to visit: its table, range, and how many bits the pair word may differ by.
struct Probe {
    table: u8,
    budget: u8,
    start: u32,
    end: u32,
}

#[derive(Debug)]
struct Table {
    /// `offsets[k]..offsets[k + 1]` is bucket `k` in `ids` and `partners`.
    offsets: Vec<u32>,
    ids: Vec<u32>,
    partners: Vec<u16>,
}

impl PdqIndex {
    /// Indexes `hashes`; a hash's id is its position. Small sets (under [`MIH_MIN_LEN`]) are
    /// scanned, larger ones get the multi-index tables.
    pub fn new(hashes: Vec<PdqBits>) -> Self {
        if hashes.len() < MIH_MIN_LEN {
            Self::linear(hashes)
        } else {
            Self::mih(hashes)
        }
    }

    /// An index that always scans.
    pub fn linear(hashes: Vec<PdqBits>) -> Self {
        check_len(hashes.len());
        PdqIndex {
            hashes,
            tables: Vec::new(),
        }
    }

    /// An index with multi-index tables whatever its size.
    pub fn mih(hashes: Vec<PdqBits>) -> Self {
        check_len(hashes.len());
        let tables = (0..TABLES).map(|t| Table::build(&hashes, t)).collect();
        PdqIndex { hashes, tables }
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The hash with this id.
    pub fn get(&self, id: u32) -> Option<&PdqBits> {
        self.hashes.get(id as usize)
    }

    /// Heap bytes held by the hashes and tables.
    pub fn heap_bytes(&self) -> usize {
        self.hashes.capacity() * 32
            + self
                .tables
                .iter()
                .map(|t| {
                    t.offsets.capacity() * 4 + t.ids.capacity() * 4 + t.partners.capacity() * 2
                })
                .sum::<usize>()
    }

    /// Every indexed hash within `max_distance` of an image's hash, by id; refused when the
    /// image's quality is below [`MIN_MATCH_QUALITY`].
    pub fn search(&self, query: &PdqHash, max_distance: u32) -> Result<Vec<PdqMatch>, LowQuality> {
        if !query.is_matchable() {
            return Err(LowQuality {
                quality: query.quality,
            });
        }
        Ok(self.search_bits(&query.bits, max_distance))
    }

    /// [`search`](Self::search) for all eight rotations and flips of the image: each indexed
    /// hash once, with its smallest distance and the variant that gave it.
    pub fn search_dihedral(
        &self,
        query: &DihedralHashes,
        max_distance: u32,
    ) -> Result<Vec<DihedralMatch>, LowQuality> {
        if !query.is_matchable() {
            return Err(LowQuality {
                quality: query.quality,
            });
        }
        let mut all = Vec::new();
        for (k, &variant) in Dihedral::ALL.iter().enumerate() {
            let bits = &query.bits[k];
            // A symmetric image has equal variants; search each distinct hash once.
            if query.bits[..k].contains(bits) {
                continue;
            }
            all.extend(
                self.search_bits(bits, max_distance)
                    .into_iter()
                    .map(|m| DihedralMatch {
                        id: m.id,
                        distance: m.distance,
                        variant,
                    }),
            );
        }
        all.sort_unstable_by_key(|m| (m.id, m.distance, m.variant));
        all.dedup_by_key(|m| m.id);
        Ok(all)
    }

    /// Every indexed hash within `max_distance` of `query`, ascending by id, whatever the
    /// query's quality (for tests, tools and hashes from a list).
    pub fn search_bits(&self, query: &PdqBits, max_distance: u32) -> Vec<PdqMatch> {
        let max_distance = max_distance.min(256);
        let chunk_budget = max_distance / 8;
        let key_radius = chunk_budget / 2;
        if self.tables.is_empty() || key_radius >= 4 {
            return brute_force_search(&self.hashes, query, max_distance);
        }
        let masks = masks_within(key_radius);
        // The work is a few hundred scattered bucket reads, so it runs in stages that each
        // issue independent loads the processor can overlap, instead of one loop where every
        // bucket's first read waits for the previous bucket's scan to finish.
        // 1. Bucket bounds.
        let mut probes = Vec::with_capacity(TABLES * masks.len());
        for (t, table) in self.tables.iter().enumerate() {
            let key = word(query, t);
            for &mask in masks {
                let bucket = usize::from(key ^ mask);
                let (start, end) = (table.offsets[bucket], table.offsets[bucket + 1]);
                if start < end {
                    probes.push(Probe {
                        table: t as u8,
                        budget: (chunk_budget - mask.count_ones()) as u8,
                        start,
                        end,
                    });
                }
            }
        }
        // 2. Bring the buckets' partner words into cache, one read per cache line.
        let mut touched = 0u16;
        for p in &probes {
            let partners = &self.tables[usize::from(p.table)].partners;
            for i in (p.start..p.end).step_by(32) {
                touched ^= partners[i as usize];
            }
        }
        std::hint::black_box(touched);
        // 3. The pair filter; survivors' ids.
        let mut candidates = Vec::new();
        for p in &probes {
            let t = usize::from(p.table);
            let table = &self.tables[t];
            let partner = word(query, t ^ 1);
            let budget = u32::from(p.budget);
            let (start, end) = (p.start as usize, p.end as usize);
            // Blocks of 16 first test "any survivor?" with a branch-free reduction the
            // compiler vectorises; about one block in twenty has one and is rescanned.
            let slice = &table.partners[start..end];
            let blocks = slice.chunks_exact(FILTER_BLOCK);
            let tail = blocks.remainder();
            for (b, block) in blocks.enumerate() {
                let any = block.iter().fold(false, |any, &x| {
                    any | ((x ^ partner).count_ones() <= budget)
                });
                if any {
                    let base = start + b * FILTER_BLOCK;
                    for (k, &x) in block.iter().enumerate() {
                        if (x ^ partner).count_ones() <= budget {
                            candidates.push(table.ids[base + k]);
                        }
                    }
                }
            }
            let base = end - tail.len();
            for (k, &x) in tail.iter().enumerate() {
                if (x ^ partner).count_ones() <= budget {
                    candidates.push(table.ids[base + k]);
                }
            }
        }
        // 4. Full distances.
        let mut found = Vec::new();
        for id in candidates {
            let d = distance(&self.hashes[id as usize], query);
            if d <= max_distance {
                found.push(PdqMatch { id, distance: d });
            }
        }
        // A close hash is found once per chunk it is close in.
        found.sort_unstable();
        found.dedup();
        found
    }
}

impl Table {
    /// Counting sort of all hashes by word `t`, keeping ids in ascending order in a bucket.
    fn build(hashes: &[PdqBits], t: usize) -> Table {
        let mut offsets = vec![0u32; BUCKETS + 1];
        for h in hashes {
            offsets[usize::from(word(h, t)) + 1] += 1;
        }
        for k in 0..BUCKETS {
            offsets[k + 1] += offsets[k];
        }
        let mut next = offsets.clone();
        let mut ids = vec![0u32; hashes.len()];
        let mut partners = vec![0u16; hashes.len()];
        for (id, h) in hashes.iter().enumerate() {
            let slot = &mut next[usize::from(word(h, t))];
            ids[*slot as usize] = id as u32;
            partners[*slot as usize] = word(h, t ^ 1);
            *slot += 1;
        }
        Table {
            offsets,
            ids,
            partners,
        }
    }
}

/// 16-bit word `t` (0..16) of a hash.
#[inline]
fn word(h: &PdqBits, t: usize) -> u16 {
    u16::from_le_bytes([h[2 * t], h[2 * t + 1]])
}

/// All 16-bit masks of at most `radius` set bits (radius ≤ 3), fewest bits first.
fn masks_within(radius: u32) -> &'static [u16] {
    static BY_WEIGHT: OnceLock<(Vec<u16>, [usize; 5])> = OnceLock::new();
    let (masks, ends) = BY_WEIGHT.get_or_init(|| {
        let mut masks: Vec<u16> = (0..=u16::MAX).filter(|m| m.count_ones() <= 4).collect();
        masks.sort_by_key(|m| (m.count_ones(), *m));
        let mut ends = [0usize; 5];
        for (r, end) in ends.iter_mut().enumerate() {
            *end = masks
                .iter()
                .filter(|m| m.count_ones() as usize <= r)
                .count();
        }
        (masks, ends)
    });
    &masks[..ends[radius as usize]]
}

fn check_len(n: usize) {
    assert!(
        n < u32::MAX as usize,
        "a PDQ index holds fewer than 2^32 hashes"
    );
}

/// The reference: compares the query with every hash. Ascending by id.
pub fn brute_force_search(hashes: &[PdqBits], query: &PdqBits, max_distance: u32) -> Vec<PdqMatch> {
    hashes
        .iter()
        .enumerate()
        .filter_map(|(id, h)| {
            let d = distance(h, query);
            (d <= max_distance).then_some(PdqMatch {
                id: id as u32,
                distance: d,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_sets_have_binomial_sizes() {
        assert_eq!(masks_within(0), &[0]);
        assert_eq!(masks_within(1).len(), 17);
        assert_eq!(masks_within(2).len(), 137);
        assert_eq!(masks_within(3).len(), 697);
    }

    #[test]
    fn distance_31_matches_and_32_does_not() {
        let base = [0u8; 32];
        let mut at31 = [0u8; 32];
        let mut at32 = [0u8; 32];
        // Spread the differing bits over every word so no chunk is close: the hardest case
        // for the pigeonhole.
        let mut flipped = 0;
        'outer: for bit in 0..8 {
            for byte in 0..32 {
                if flipped == 32 {
                    break 'outer;
                }
                if flipped < 31 {
                    at31[byte] |= 1 << bit;
                }
                at32[byte] |= 1 << bit;
                flipped += 1;
            }
        }
        let mut hashes = vec![at31, at32];
        hashes.extend((0..5000u32).map(|k| {
            let mut h = [0x55u8; 32];
            h[..4].copy_from_slice(&k.to_le_bytes());
            h
        }));
        let index = PdqIndex::mih(hashes.clone());
        let found = index.search_bits(&base, 31);
        assert_eq!(
            found,
            vec![PdqMatch {
                id: 0,
                distance: 31
            }]
        );
        assert_eq!(found, brute_force_search(&hashes, &base, 31));
        let q = PdqHash {
            bits: base,
            quality: 49,
        };
        assert_eq!(index.search(&q, 31), Err(LowQuality { quality: 49 }));
    }
}
