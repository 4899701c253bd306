//! Regenerates `classify/data/langid-profiles.tsv`, the character n-gram profiles language ID
//! compiles in, from the training half of the development data:
//!
//! `cargo run -p classify --release --example langid_profiles -- fixtures/langid/train.tsv classify/data/langid-profiles.tsv`
//!
//! What is counted and what is pruned: [`classify::langid::build`].

use classify::langid::build::profiles;
use classify::langid::eval::parse_tsv;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: langid_profiles TRAIN.tsv OUT.tsv");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(input).unwrap_or_else(|e| {
        eprintln!("cannot read {input}: {e}");
        std::process::exit(1)
    });
    let samples = parse_tsv(&text).unwrap_or_else(|e| {
        eprintln!("{input}:{e}");
        std::process::exit(1)
    });
    let out = profiles(&samples);
    std::fs::write(output, &out).unwrap_or_else(|e| {
        eprintln!("cannot write {output}: {e}");
        std::process::exit(1)
    });
    let grams = out
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("@lang"))
        .count();
    eprintln!("{grams} grams, {} bytes -> {output}", out.len());
}
