//! Query latency of the PDQ index (multi-index hashing against the linear scan) at 10k and 1M
//! hashes, distance 31, on the realistic mix (90 % misses, 10 % near-duplicates), plus exact
//! SHA-256 lookups at 1M. `cargo bench -p classify --bench index_query`.
//! The 10M figures come from `examples/pdq_index_bench.rs` (criterion is awkward at that size).

#[path = "support/pdq_data.rs"]
mod pdq_data;

use classify::index::{brute_force_search, PdqIndex, Sha256Set};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pdq_data::{indexed, queries, Kind, Rng};
use std::hint::black_box;

fn pdq(c: &mut Criterion) {
    let mut group = c.benchmark_group("pdq_query_mix_d31");
    for n in [10_000usize, 1_000_000] {
        for kind in [Kind::Random, Kind::Clustered] {
            let hashes = indexed(n, kind, 42);
            let mix = queries(&hashes, 1000, 10, 7);
            let mih = PdqIndex::mih(hashes.clone());
            group.throughput(Throughput::Elements(mix.len() as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("mih_{}", kind.name()), n),
                &mix,
                |b, mix| {
                    b.iter(|| {
                        for q in mix {
                            black_box(mih.search_bits(q, 31));
                        }
                    })
                },
            );
            if kind == Kind::Clustered {
                let few = &mix[..if n > 100_000 { 20 } else { 1000 }];
                group.throughput(Throughput::Elements(few.len() as u64));
                group.bench_with_input(BenchmarkId::new("linear", n), few, |b, few| {
                    b.iter(|| {
                        for q in few {
                            black_box(brute_force_search(&hashes, q, 31));
                        }
                    })
                });
            }
        }
    }
    group.finish();
}

fn crossover(c: &mut Criterion) {
    // Where MIH starts to beat the scan (sets MIH_MIN_LEN).
    let mut group = c.benchmark_group("pdq_crossover_d31");
    for n in [1_000usize, 2_000, 4_000, 8_000] {
        let hashes = indexed(n, Kind::Clustered, 42);
        let mix = queries(&hashes, 500, 10, 7);
        let mih = PdqIndex::mih(hashes.clone());
        let linear = PdqIndex::linear(hashes);
        group.throughput(Throughput::Elements(mix.len() as u64));
        group.bench_with_input(BenchmarkId::new("mih", n), &mix, |b, mix| {
            b.iter(|| {
                mix.iter()
                    .for_each(|q| drop(black_box(mih.search_bits(q, 31))))
            })
        });
        group.bench_with_input(BenchmarkId::new("linear", n), &mix, |b, mix| {
            b.iter(|| {
                mix.iter()
                    .for_each(|q| drop(black_box(linear.search_bits(q, 31))))
            })
        });
    }
    group.finish();
}

fn exact(c: &mut Criterion) {
    let mut rng = Rng(3);
    let digests: Vec<[u8; 32]> = (0..1_000_000).map(|_| rng.hash()).collect();
    let set = Sha256Set::new(digests.iter().copied());
    let probes: Vec<[u8; 32]> = (0..1000)
        .map(|k| {
            if k % 10 == 0 {
                digests[k * 997]
            } else {
                rng.hash()
            }
        })
        .collect();
    let mut group = c.benchmark_group("sha256_set_1M");
    group.throughput(Throughput::Elements(probes.len() as u64));
    group.bench_function("lookup_10pct_hits", |b| {
        b.iter(|| probes.iter().filter(|p| set.contains(p)).count())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = pdq, crossover, exact
}
criterion_main!(benches);
