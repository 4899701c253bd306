//! Compares training choices for language ID without looking at the held-out lines: builds
//! profiles in memory from TRAIN.tsv (as `langid_profiles` would) and prints the accuracy
//! table on DEV.tsv, a development split drawn from the training pool only
//! (`python3 bench/langid_data.py … --dev --out DIR` writes both).
//!
//! `cargo run -p classify --release --example langid_dev -- DIR/train.tsv DIR/dev.tsv [ROWS]`
//!
//! ROWS, if given, is a comma-separated list of labels whose rows are printed (default all).

use classify::langid::build::profiles;
use classify::langid::eval::{evaluate, parse_tsv, Variant};
use classify::langid::language_with;
use classify::langid::model::parse;

fn read(path: &str) -> Vec<classify::langid::eval::Sample> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        eprintln!("cannot read {path}: {e}");
        std::process::exit(1)
    });
    parse_tsv(&text).unwrap_or_else(|e| {
        eprintln!("{path}:{e}");
        std::process::exit(1)
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: langid_dev TRAIN.tsv DEV.tsv [LABEL,LABEL…]");
        std::process::exit(2);
    }
    let train = read(&args[0]);
    let dev = read(&args[1]);
    let file = profiles(&train);
    let model = parse(&file).unwrap_or_else(|e| {
        eprintln!("profiles: {e}");
        std::process::exit(1)
    });
    let table = evaluate(&dev, true, |t| language_with(&model, t));
    let keep: Option<Vec<&str>> = args.get(2).map(|s| s.split(',').collect());
    for line in table.markdown().lines() {
        let label = line.split('|').nth(1).unwrap_or("").trim();
        if keep
            .as_ref()
            .is_none_or(|k| k.contains(&label) || label.starts_with("**") || label == "language")
        {
            println!("{line}");
        }
    }
    if let Some(k) = &keep {
        println!("\nsentence misses in those rows (line, label → answer, text):");
        for (line, variant, label, said, text) in &table.misses {
            if *variant == Variant::Sentence && k.contains(&label.as_str()) {
                println!("{line}\t{label} → {said}\t{text}");
            }
        }
    }
    let all = table.total(None);
    println!(
        "\nprofiles {} bytes; dev sentence {:.2} %, two words {:.2} %, obfuscated {:.2} %",
        file.len(),
        all[0].percent(),
        all[1].percent(),
        all[2].percent()
    );
}
