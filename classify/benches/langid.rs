//! Language ID per 2 KB document: `langid::language` (the main language) and
//! `langid::identify` (main language and the shares of segments, what the classifier calls),
//! over 2 KB prefixes of the bench corpus's documents (ten languages, mixed paragraphs).
//! Criterion reports the time per batch of 100 documents; divide by 100 for one.
//!
//! `cargo bench -p classify --bench langid`

#[path = "support/corpus.rs"]
mod corpus;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

fn prefix(s: &str, n: usize) -> &str {
    let mut end = n.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn bench(c: &mut Criterion) {
    let data = corpus::generate(10, 100, 4 * 1024);
    let docs: Vec<&str> = data.documents.iter().map(|d| prefix(d, 2048)).collect();
    // The profiles load on first use; not part of the measurement.
    let _ = classify::langid::language(docs[0]);
    let mut group = c.benchmark_group("langid");
    group.throughput(Throughput::Elements(docs.len() as u64));
    group.bench_function("language_100_docs_of_2KB", |b| {
        b.iter(|| {
            for d in &docs {
                black_box(classify::langid::language(black_box(d)));
            }
        })
    });
    group.bench_function("identify_100_docs_of_2KB", |b| {
        b.iter(|| {
            for d in &docs {
                black_box(classify::langid::identify(black_box(d)));
            }
        })
    });
    let sentence = "Министерство иностранных дел сообщило сегодня, что переговоры продолжатся.";
    group.throughput(Throughput::Elements(1));
    group.bench_function("language_one_sentence", |b| {
        b.iter(|| black_box(classify::langid::language(black_box(sentence))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
