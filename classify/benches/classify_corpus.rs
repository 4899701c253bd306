//! Classification throughput: a mixed-language corpus of ~10 KB documents (ten languages,
//! see `support/corpus.rs`) against 100,000 keywords in those ten languages, normalisation,
//! matching, scores and language ID included, on one thread. Criterion reports MB/s of
//! extracted text.
//!
//! `cargo bench -p classify --bench classify_corpus`

#[path = "support/corpus.rs"]
mod corpus;

use classify::{Classifier, Document};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shared::lists::ListSet;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let data = corpus::generate(100_000, 100, 10 * 1024);
    let dir = std::env::temp_dir().join(format!("classify-bench-{}", std::process::id()));
    corpus::write_lists(&dir, &data.keywords).expect("write lists");
    let lists = ListSet::load_dir(&dir).expect("load lists");
    let _ = std::fs::remove_dir_all(&dir);
    let classifier = Classifier::new(&lists).expect("build");
    drop(lists);
    let mut group = c.benchmark_group("classify");
    group.throughput(Throughput::Bytes(data.bytes() as u64));
    group.sample_size(10);
    group.bench_function("100k_keywords_100_docs_of_10KB", |b| {
        b.iter(|| {
            for d in &data.documents {
                black_box(classifier.classify(&Document::text(black_box(d))));
            }
        })
    });
    group.bench_function("normalize_100_docs_of_10KB", |b| {
        b.iter(|| {
            for d in &data.documents {
                black_box(classify::normalize::normalize(black_box(d)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
