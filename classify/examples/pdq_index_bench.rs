//! PDQ index at scale: build time, queries/s on one core, memory (VmHWM / VmRSS), and a check
//! against the linear scan on a sample of queries.
//!
//! ```text
//! cargo run --release -p classify --example pdq_index_bench -- 10000000 [random|clustered] [queries]
//! ```
//!
//! Run one size and data kind per process so VmHWM is that configuration's peak. The query
//! mix is 90 % fresh random hashes (misses) and 10 % copies of indexed hashes with 0–31 bits
//! flipped (hits); both parts are also timed alone.

#[path = "../benches/support/pdq_data.rs"]
mod pdq_data;

use classify::index::{brute_force_search, PdqIndex};
use pdq_data::{indexed, memory_kb, queries, Kind};
use std::time::Instant;

const MAX_DISTANCE: u32 = 31;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map_or(10_000_000, |s| {
        s.replace('_', "")
            .parse()
            .expect("first argument: number of hashes")
    });
    let kind = args
        .get(1)
        .map_or(Some(Kind::Clustered), |s| Kind::parse(s))
        .expect("second argument: random or clustered");
    let query_count: usize = args
        .get(2)
        .map_or(20_000, |s| s.parse().expect("third argument: queries"));

    let started = Instant::now();
    let hashes = indexed(n, kind, 42);
    let generated = started.elapsed();
    let (hwm_data, _) = memory_kb();

    let mix = queries(&hashes, query_count, 10, 7);
    let misses = queries(&hashes, query_count, 0, 8);
    let hits = queries(&hashes, query_count / 4, 100, 9);
    // Kept for the brute-force check; 200 queries of each part.
    let sample: Vec<[u8; 32]> = mix
        .iter()
        .take(100)
        .chain(hits.iter().take(100))
        .copied()
        .collect();
    let brute_expected: Vec<_> = if n <= 20_000_000 {
        sample
            .iter()
            .map(|q| brute_force_search(&hashes, q, MAX_DISTANCE))
            .collect()
    } else {
        Vec::new()
    };

    let started = Instant::now();
    let index = PdqIndex::new(hashes);
    let build = started.elapsed();
    let (hwm_built, rss_built) = memory_kb();

    println!(
        "PDQ index: {n} hashes ({}), distance ≤ {MAX_DISTANCE}",
        kind.name()
    );
    println!("  generate:  {:.2} s", generated.as_secs_f64());
    println!("  build:     {:.2} s", build.as_secs_f64());
    println!(
        "  heap:      {:.1} MB ({:.1} B per hash)",
        index.heap_bytes() as f64 / 1e6,
        index.heap_bytes() as f64 / n.max(1) as f64
    );
    println!(
        "  memory:    VmRSS {:.1} MB after build, VmHWM {:.1} MB (data alone {:.1} MB)",
        rss_built as f64 / 1e3,
        hwm_built as f64 / 1e3,
        hwm_data as f64 / 1e3
    );

    for (label, set) in [
        ("mix 90/10", &mix),
        ("misses", &misses),
        ("near-dups", &hits),
    ] {
        // Warm-up pass over a few queries, then the timed pass.
        for q in set.iter().take(100) {
            std::hint::black_box(index.search_bits(q, MAX_DISTANCE));
        }
        let started = Instant::now();
        let mut matches = 0usize;
        for q in set.iter() {
            matches += std::hint::black_box(index.search_bits(q, MAX_DISTANCE)).len();
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "  {label:<10} {:>9.0} queries/s  ({:.1} µs/query, {:.2} matches/query, {} queries)",
            set.len() as f64 / secs,
            secs * 1e6 / set.len() as f64,
            matches as f64 / set.len() as f64,
            set.len()
        );
    }

    if !brute_expected.is_empty() {
        let mut agree = 0;
        for (q, want) in sample.iter().zip(&brute_expected) {
            let got = index.search_bits(q, MAX_DISTANCE);
            assert_eq!(
                &got,
                want,
                "index and linear scan disagree on {}",
                hex_of(q)
            );
            agree += 1;
        }
        println!("  check:     {agree} queries give exactly the linear scan's matches");
    }
    let (hwm_end, rss_end) = memory_kb();
    println!(
        "  final:     VmRSS {:.1} MB, VmHWM {:.1} MB",
        rss_end as f64 / 1e3,
        hwm_end as f64 / 1e3
    );
}

fn hex_of(h: &[u8; 32]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}
