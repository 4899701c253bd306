//! Synthetic PDQ data for the index benchmarks (shared by `benches/index_query.rs` and
//! `examples/pdq_index_bench.rs`): a deterministic generator, indexed sets with and without
//! near-duplicate clusters, and a realistic query mix.
//!
//! Uniformly random 256-bit hashes are the easiest case for multi-index hashing (buckets are
//! even and a random query shares no bucket with anything close), so the "clustered" set
//! puts half its hashes in clusters of near-duplicates (a centre plus copies with 0–24 bits
//! flipped, as re-encodes, crops and edits of one picture produce), which makes the buckets
//! uneven and gives the near-duplicate queries many true matches to verify.

#![allow(dead_code)]

/// SplitMix64: small, fast, deterministic.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn hash(&mut self) -> [u8; 32] {
        let mut h = [0u8; 32];
        for chunk in h.chunks_exact_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        h
    }

    /// `h` with exactly `k` distinct bits flipped.
    pub fn flip(&mut self, h: &[u8; 32], k: u32) -> [u8; 32] {
        let mut out = *h;
        let mut done = [false; 256];
        let mut n = 0;
        while n < k {
            let bit = self.below(256) as usize;
            if !done[bit] {
                done[bit] = true;
                out[bit / 8] ^= 1 << (bit % 8);
                n += 1;
            }
        }
        out
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Independent uniform hashes.
    Random,
    /// Half uniform, half in clusters of 2–64 near-duplicates (0–24 bits from the centre).
    Clustered,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "random" => Some(Kind::Random),
            "clustered" => Some(Kind::Clustered),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Random => "random",
            Kind::Clustered => "clustered",
        }
    }
}

/// `n` indexed hashes (allocated once, at their final size).
pub fn indexed(n: usize, kind: Kind, seed: u64) -> Vec<[u8; 32]> {
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let centre = rng.hash();
        out.push(centre);
        if kind == Kind::Clustered && rng.below(2) == 0 {
            let size = 1 + rng.below(63) as usize;
            for _ in 0..size.min(n - out.len()) {
                let k = rng.below(25) as u32;
                out.push(rng.flip(&centre, k));
            }
        }
    }
    out
}

/// The query mix: `near_percent` % copies of indexed hashes with 0–31 bits flipped (each has
/// at least one match at distance ≤ 31), the rest fresh random hashes (almost surely misses).
pub fn queries(indexed: &[[u8; 32]], count: usize, near_percent: u64, seed: u64) -> Vec<[u8; 32]> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|_| {
            if rng.below(100) < near_percent {
                let base = indexed[rng.below(indexed.len() as u64) as usize];
                let k = rng.below(32) as u32;
                rng.flip(&base, k)
            } else {
                rng.hash()
            }
        })
        .collect()
}

/// This process's peak and current resident memory (VmHWM, VmRSS) in kB, from
/// /proc/self/status (Linux).
pub fn memory_kb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}
