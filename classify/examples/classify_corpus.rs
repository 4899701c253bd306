//! The Rust side of `bench/classify_vs_python.py`, and the 1M-keyword build measurement.
//!
//! ```text
//! classify_corpus write DIR [KEYWORDS [DOCS [DOC_BYTES]]]   corpus → DIR/lists, DIR/docs.txt, DIR/keywords.tsv
//! classify_corpus run DIR [SECONDS]                          classify every document, print JSON figures
//! classify_corpus digest DIR                                 SHA-256 of every document's classification
//! classify_corpus build KEYWORDS                             build time and memory for that many keywords
//! classify_corpus build DIR/lists                            the same for lists written by `write`
//! ```
//!
//! `docs.txt` holds one document per record, records separated by a line with a single
//! form feed (documents contain newlines). `keywords.tsv` is `term<TAB>mode` for the Python
//! side. `run` builds the classifier from `DIR/lists` as the service would
//! (`ListSet::load_dir` + `Classifier::new`), then classifies the documents on one thread,
//! round after round until SECONDS (default 3) have passed, and prints MB/s of extracted
//! text, by the wall clock and by the thread's own CPU time (the machine is shared). `build` prints the build time and the process's resident memory (VmRSS, and the
//! peak VmHWM, from /proc/self/status) once the lists are dropped and only the classifier
//! is left, and VmRSS before loading, with the lists loaded, and just after the build.
//! `digest` prints the SHA-256 of the JSON of every document's classification, one after
//! the other, and the same for the language answers alone: a change meant only to make
//! classifying faster must leave both as they were (build the previous commit's example and
//! compare).

#[path = "../benches/support/corpus.rs"]
mod corpus;

use classify::{Classifier, Document};
use shared::lists::ListSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

const SEPARATOR: &str = "\n\u{c}\n";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: usize| {
        args.get(i)
            .map(|s| s.parse().expect("a number"))
            .unwrap_or(default)
    };
    match args.first().map(String::as_str) {
        Some("write") => write(
            Path::new(&args[1]),
            num(2, 100_000),
            num(3, 300),
            num(4, 10_240),
        ),
        Some("run") => run(
            Path::new(&args[1]),
            args.get(2).map_or(3.0, |s| s.parse().expect("seconds")),
        ),
        Some("digest") => digest(Path::new(&args[1])),
        Some("build") => match args.get(1).map(|a| a.parse::<usize>()) {
            Some(Err(_)) => build_from(Path::new(&args[1]), None),
            _ => build(num(1, 1_000_000)),
        },
        _ => {
            eprintln!("usage: classify_corpus write DIR [KEYWORDS [DOCS [DOC_BYTES]]] | run DIR [SECONDS] | digest DIR | build KEYWORDS");
            std::process::exit(2);
        }
    }
}

fn write(dir: &Path, keywords: usize, docs: usize, doc_bytes: usize) {
    let c = corpus::generate(keywords, docs, doc_bytes);
    std::fs::create_dir_all(dir).expect("create dir");
    corpus::write_lists(&dir.join("lists"), &c.keywords).expect("write lists");
    std::fs::write(dir.join("docs.txt"), c.documents.join(SEPARATOR)).expect("write docs");
    let kw: String = c
        .keywords
        .iter()
        .map(|k| format!("{}\t{}\n", k.term, k.mode))
        .collect();
    std::fs::write(dir.join("keywords.tsv"), kw).expect("write keywords");
    println!(
        "{{\"keywords\": {}, \"documents\": {}, \"bytes\": {}}}",
        c.keywords.len(),
        c.documents.len(),
        c.bytes()
    );
}

fn load(dir: &Path) -> (Classifier, f64) {
    let t = Instant::now();
    let lists = ListSet::load_dir(dir).unwrap_or_else(|e| panic!("lists: {e:?}"));
    let c = Classifier::from_lists(lists).unwrap_or_else(|e| panic!("build: {e}"));
    (c, t.elapsed().as_secs_f64())
}

fn run(dir: &Path, seconds: f64) {
    let (classifier, build_s) = load(&dir.join("lists"));
    let text = std::fs::read_to_string(dir.join("docs.txt")).expect("read docs");
    let docs: Vec<&str> = text.split(SEPARATOR).collect();
    let bytes: usize = docs.iter().map(|d| d.len()).sum();
    // One warm-up round (first use builds the language profiles and the t2s table).
    let mut matches = 0usize;
    for d in &docs {
        matches += classifier.classify(&Document::text(d)).matches.len();
    }
    let t = Instant::now();
    let cpu0 = thread_cpu_ns();
    let mut rounds = 0usize;
    while rounds == 0 || t.elapsed().as_secs_f64() < seconds {
        for d in &docs {
            std::hint::black_box(classifier.classify(&Document::text(d)));
        }
        rounds += 1;
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = (thread_cpu_ns() - cpu0) as f64 / 1e9;
    println!(
        "{{\"build_s\": {build_s:.3}, \"documents\": {}, \"bytes\": {bytes}, \"matches\": {matches}, \"rounds\": {rounds}, \"seconds\": {secs:.3}, \"mb_per_s\": {:.2}, \"cpu_seconds\": {cpu:.3}, \"mb_per_cpu_s\": {:.2}}}",
        docs.len(),
        (bytes * rounds) as f64 / secs / 1e6,
        (bytes * rounds) as f64 / cpu / 1e6
    );
}

fn digest(dir: &Path) {
    use sha2::{Digest, Sha256};
    let (classifier, _) = load(&dir.join("lists"));
    let text = std::fs::read_to_string(dir.join("docs.txt")).expect("read docs");
    let (mut all, mut languages) = (Sha256::new(), Sha256::new());
    let (mut docs, mut matches) = (0usize, 0usize);
    for d in text.split(SEPARATOR) {
        let c = classifier.classify(&Document::text(d));
        all.update(serde_json::to_vec(&c).expect("JSON"));
        all.update(b"\n");
        languages.update(serde_json::to_vec(&(&c.language, &c.languages)).expect("JSON"));
        languages.update(b"\n");
        docs += 1;
        matches += c.matches.len();
    }
    println!(
        "{{\"documents\": {docs}, \"matches\": {matches}, \"classifications_sha256\": \"{}\", \"languages_sha256\": \"{}\"}}",
        hex(&all.finalize()),
        hex(&languages.finalize())
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Nanoseconds this thread has run on a CPU (`/proc/thread-self/schedstat`), so that a
/// figure taken on a busy shared machine counts only our own time; 0 where unavailable.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l[field.len()..].trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

fn build(n: usize) {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("classify-build-{n}-{}", std::process::id()));
    {
        let c = corpus::generate(n, 0, 0);
        corpus::write_lists(&dir, &c.keywords).expect("write lists");
    }
    build_from(&dir, Some(n));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Loads and builds the lists of `dir`; with `generated`, the keywords were generated in
/// this process just before (their memory counts in VmHWM, and may stay in VmRSS).
fn build_from(dir: &Path, generated: Option<usize>) {
    let rss_start = status("VmRSS:");
    let t = Instant::now();
    let lists = ListSet::load_dir(dir).unwrap_or_else(|e| panic!("lists: {e:?}"));
    let loaded = t.elapsed().as_secs_f64();
    let rss_loaded = status("VmRSS:");
    let t = Instant::now();
    let classifier = Classifier::from_lists(lists).unwrap_or_else(|e| panic!("build: {e}"));
    let built = t.elapsed().as_secs_f64();
    let rss_built = status("VmRSS:");
    let probe = classifier.classify(&Document::text("warm-up text, nothing to find"));
    std::hint::black_box(probe);
    println!(
        "{{\"generated_here\": {}, \"load_s\": {loaded:.2}, \"build_s\": {built:.2}, \"vm_rss_start\": \"{rss_start}\", \"vm_rss_lists_loaded\": \"{rss_loaded}\", \"vm_rss_built\": \"{rss_built}\", \"vm_rss\": \"{}\", \"vm_hwm\": \"{}\", \"stats\": \"{:?}\"}}",
        generated.is_some(),
        status("VmRSS:"),
        status("VmHWM:"),
        classifier.stats()
    );
}
