//! The PDQ index returns exactly what the linear scan returns — on random hashes, on
//! near-duplicates planted at every distance around the threshold, at thresholds other than
//! 31 — and the exact-digest sets agree with a `HashSet`.

use classify::index::{brute_force_search, Md5Set, PdqIndex, PdqMatch, Sha256Set};
use classify::pdq::{Dihedral, DihedralHashes, PdqHash};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

fn flip(h: &[u8; 32], bits: &[u8]) -> [u8; 32] {
    let mut out = *h;
    for &b in bits {
        out[usize::from(b) / 8] ^= 1 << (b % 8);
    }
    out
}

/// A hash and a list of distinct bit positions to flip in it.
fn hash_and_bits(max_bits: usize) -> impl Strategy<Value = ([u8; 32], Vec<u8>)> {
    (
        any::<[u8; 32]>(),
        proptest::sample::subsequence((0..=255u8).collect::<Vec<_>>(), 0..=max_bits),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random indexed hashes plus clusters of near-duplicates of a few centres (0–40 bits
    /// away); queries are the centres, near copies of them and random hashes.
    #[test]
    fn mih_equals_linear_scan(
        randoms in proptest::collection::vec(any::<[u8; 32]>(), 0..400),
        clusters in proptest::collection::vec(
            (hash_and_bits(0), proptest::collection::vec(hash_and_bits(40), 1..30)), 1..6),
        query_flips in proptest::collection::vec(hash_and_bits(40), 1..10),
        threshold in prop_oneof![Just(31u32), 0u32..=80],
    ) {
        let mut hashes = randoms;
        let mut centres = Vec::new();
        for ((centre, _), members) in &clusters {
            centres.push(*centre);
            hashes.push(*centre);
            for (_, bits) in members {
                hashes.push(flip(centre, bits));
            }
        }
        let index = PdqIndex::mih(hashes.clone());
        let mut queries: Vec<[u8; 32]> = centres.clone();
        for (i, (random, bits)) in query_flips.iter().enumerate() {
            queries.push(flip(&centres[i % centres.len()], bits));
            queries.push(*random);
        }
        for q in &queries {
            let want = brute_force_search(&hashes, q, threshold);
            prop_assert_eq!(index.search_bits(q, threshold), want);
        }
    }
}

/// Every distance from 0 to 40 from an indexed hash, with the flipped bits spread as evenly
/// as possible over the 16 words (the worst case for a pigeonhole index).
#[test]
fn planted_near_duplicates_at_every_distance() {
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut hashes: Vec<[u8; 32]> = (0..20_000)
        .map(|_| {
            let mut h = [0u8; 32];
            for c in h.chunks_exact_mut(8) {
                c.copy_from_slice(&next().to_le_bytes());
            }
            h
        })
        .collect();
    let base = hashes[777];
    let mut planted = HashMap::new();
    for d in 0..=40u32 {
        // Bit k of word (k mod 16): spreads the differences round-robin over the words.
        let bits: Vec<u8> = (0..d).map(|k| ((k % 16) * 16 + k / 16) as u8).collect();
        planted.insert(hashes.len() as u32, d);
        hashes.push(flip(&base, &bits));
    }
    let index = PdqIndex::mih(hashes.clone());
    for threshold in [0u32, 7, 8, 15, 16, 30, 31, 32, 40] {
        let got = index.search_bits(&base, threshold);
        assert_eq!(
            got,
            brute_force_search(&hashes, &base, threshold),
            "threshold {threshold}"
        );
        for (&id, &d) in &planted {
            let found = got.contains(&PdqMatch { id, distance: d });
            assert_eq!(
                found,
                d <= threshold,
                "distance {d} at threshold {threshold}"
            );
        }
    }
}

#[test]
fn low_quality_queries_are_refused_and_dihedral_finds_the_rotation() {
    let stored = [0x3cu8; 32];
    let other = [0xa5u8; 32];
    let index = PdqIndex::new(vec![other, stored]);
    let mut bits = [[0u8; 32]; 8];
    for (k, b) in bits.iter_mut().enumerate() {
        *b = [k as u8; 32];
    }
    // The image's 90° rotation is (2 bits away from) the stored hash.
    bits[Dihedral::Rotate90 as usize] = flip(&stored, &[3, 200]);
    let query = DihedralHashes { bits, quality: 80 };
    let found = index.search_dihedral(&query, 31).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].id, found[0].distance, found[0].variant),
        (1, 2, Dihedral::Rotate90)
    );

    let low = DihedralHashes { bits, quality: 40 };
    assert_eq!(index.search_dihedral(&low, 31).unwrap_err().quality, 40);
    let plain = PdqHash {
        bits: stored,
        quality: 49,
    };
    assert!(index.search(&plain, 31).is_err());
    let plain = PdqHash {
        bits: stored,
        quality: 50,
    };
    assert_eq!(
        index.search(&plain, 31).unwrap(),
        vec![PdqMatch { id: 1, distance: 0 }]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn digest_sets_agree_with_a_hash_set(
        stored in proptest::collection::vec(any::<[u8; 32]>(), 0..3000),
        dup_every in 1usize..50,
        probes in proptest::collection::vec(any::<[u8; 32]>(), 0..50),
    ) {
        // Some digests appear more than once (the same file in two lists).
        let mut all = stored.clone();
        all.extend(stored.iter().step_by(dup_every).copied());
        let set = Sha256Set::new(all.iter().copied());
        let md5 = Md5Set::new(all.iter().map(|d| <[u8; 16]>::try_from(&d[..16]).unwrap()));
        let mut want: HashMap<[u8; 32], Vec<u32>> = HashMap::new();
        for (id, d) in all.iter().enumerate() {
            want.entry(*d).or_default().push(id as u32);
        }
        for d in stored.iter().chain(&probes) {
            let got: Vec<u32> = set.get(d).collect();
            prop_assert_eq!(got, want.get(d).cloned().unwrap_or_default());
            let short: [u8; 16] = d[..16].try_into().unwrap();
            prop_assert_eq!(md5.contains(&short), all.iter().any(|a| a[..16] == short));
        }
        let distinct: HashSet<_> = all.iter().collect();
        prop_assert_eq!(set.len(), all.len());
        prop_assert!(distinct.len() <= set.len());
    }
}
