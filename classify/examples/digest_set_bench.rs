//! Exact-digest sets at scale: build time, lookups/s on one core (10 % hits), memory (VmHWM /
//! VmRSS from /proc/self/status).
//!
//! ```text
//! cargo run --release -p classify --example digest_set_bench -- 10000000 sha256
//! cargo run --release -p classify --example digest_set_bench -- 10000000 md5
//! ```
//!
//! One algorithm per process, so VmHWM is that set's peak. The digests are generated straight
//! into the set's build vector (as a list loader streaming entries would), so the peak is
//! the set itself plus the 100k probe digests.

#[path = "../benches/support/pdq_data.rs"]
mod pdq_data;

use classify::index::DigestSet;
use pdq_data::{memory_kb, Rng};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map_or(10_000_000, |s| {
        s.replace('_', "")
            .parse()
            .expect("first argument: number of digests")
    });
    match args.get(1).map_or("sha256", String::as_str) {
        "sha256" => run::<32>(n, "SHA-256"),
        "md5" => run::<16>(n, "MD5"),
        other => panic!("second argument: sha256 or md5, not {other:?}"),
    }
}

fn digest<const N: usize>(rng: &mut Rng) -> [u8; N] {
    let mut d = [0u8; N];
    for chunk in d.chunks_mut(8) {
        let bytes = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    d
}

fn run<const N: usize>(n: usize, name: &str) {
    let mut rng = Rng(11);
    let started = Instant::now();
    let pairs: Vec<([u8; N], u32)> = (0..n as u32).map(|id| (digest(&mut rng), id)).collect();
    let generated = started.elapsed();
    // Probes: every tenth is a stored digest (regenerated from the same seed), the rest new.
    let mut replay = Rng(11);
    let mut probes = Vec::with_capacity(100_000);
    for k in 0..100_000usize {
        let stored: [u8; N] = digest(&mut replay);
        probes.push(if k % 10 == 0 && k < n {
            stored
        } else {
            digest(&mut rng)
        });
    }

    let started = Instant::now();
    let set = DigestSet::<N>::from_pairs(pairs);
    let build = started.elapsed();
    let (hwm, rss) = memory_kb();

    let started = Instant::now();
    let mut hits = 0usize;
    for _ in 0..10 {
        hits += probes.iter().filter(|p| set.contains(p)).count();
    }
    let secs = started.elapsed().as_secs_f64();
    let lookups = probes.len() * 10;

    println!("{name} set: {n} digests");
    println!(
        "  generate: {:.2} s, build (sort + prefix table): {:.2} s",
        generated.as_secs_f64(),
        build.as_secs_f64()
    );
    println!(
        "  heap:     {:.1} MB ({:.1} B per digest)",
        set.heap_bytes() as f64 / 1e6,
        set.heap_bytes() as f64 / n.max(1) as f64
    );
    println!(
        "  memory:   VmRSS {:.1} MB, VmHWM {:.1} MB",
        rss as f64 / 1e3,
        hwm as f64 / 1e3
    );
    println!(
        "  lookups:  {:.2} M/s ({:.0} ns each), {} hits of {lookups}",
        lookups as f64 / secs / 1e6,
        secs * 1e9 / lookups as f64,
        hits
    );
}
