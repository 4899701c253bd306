//! Regenerates `classify/data/langid-profiles.tsv`, the character n-gram profiles language ID
//! compiles in, from the training half of the development data:
//!
//! `cargo run -p classify --release --example langid_profiles -- fixtures/langid/train.tsv classify/data/langid-profiles.tsv`
//!
//! Each line of the input (`code<TAB>source<TAB>text`) is prepared as the detector prepares
//! text, and the 1- to 4-grams of its words in the language's own script, and the words
//! themselves, are counted. A
//! language's script is the one of its label (`uzb-Cyrl`), or else the script most of its
//! letters are in. 4-grams and words seen fewer than `MIN_COUNT` times in a language are left out (single
//! letters, bigrams and trigrams are always kept); the totals per order are written before that, so the
//! probabilities stay those of the full counts. Output is sorted, so a rerun on the same
//! input gives the same bytes.

use classify::langid::eval::parse_tsv;
use classify::langid::model::{feature_of, for_each_gram, FEATURES};
use classify::langid::prepare::{prepare, script_of, Script};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// Grams of order 4 and words seen fewer times than this in a language are left out (shorter
/// grams are all kept): a third of the file, for 0.2 point of accuracy.
const MIN_COUNT: u32 = 2;

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
    // The script of each language: from its label, or the majority of its letters.
    let mut letters: BTreeMap<String, HashMap<Script, usize>> = BTreeMap::new();
    let mut labelled: HashMap<String, String> = HashMap::new();
    let prepared: Vec<(String, String)> = samples
        .iter()
        .map(|s| {
            let p = prepare(&s.text);
            let counts = letters.entry(s.label()).or_default();
            for c in p.chars().filter_map(script_of) {
                *counts.entry(c).or_default() += 1;
            }
            if let Some(sc) = &s.script {
                labelled.insert(s.label(), sc.clone());
            }
            (s.label(), p)
        })
        .collect();
    let script_of_lang: BTreeMap<String, (Script, String)> = letters
        .iter()
        .map(|(id, counts)| {
            let main = counts
                .iter()
                .max_by_key(|(s, n)| (**n, std::cmp::Reverse(**s)))
                .map(|(s, _)| *s)
                .expect("a language with letters");
            let code = labelled
                .get(id)
                .cloned()
                .unwrap_or_else(|| main.iso15924().to_string());
            (id.clone(), (main, code))
        })
        .collect();
    let mut counts: BTreeMap<String, HashMap<String, u32>> = BTreeMap::new();
    for (id, p) in &prepared {
        let own = script_of_lang[id].0;
        let c = counts.entry(id.clone()).or_default();
        for_each_gram(p, |script, gram| {
            if script == own {
                *c.entry(gram.iter().collect()).or_default() += 1;
            }
        });
    }
    let mut out = String::new();
    out.push_str(
        "# Character 1- to 4-gram and word profiles for language ID. Generated from fixtures/langid/train.tsv by\n\
         # `cargo run -p classify --release --example langid_profiles -- fixtures/langid/train.tsv classify/data/langid-profiles.tsv`;\n\
         # do not edit. @lang: id, ISO 15924 script, grams per order and words before pruning. Then: gram or word, id=count,…\n",
    );
    for (id, c) in &counts {
        let mut totals = [0u64; FEATURES];
        for (g, n) in c {
            totals[feature_of(g.chars().count())] += u64::from(*n);
        }
        let t: Vec<String> = totals.iter().map(u64::to_string).collect();
        let _ = writeln!(
            out,
            "@lang\t{id}\t{}\t{}",
            script_of_lang[id].1,
            t.join(" ")
        );
    }
    let mut grams: BTreeMap<&str, Vec<(&str, u32)>> = BTreeMap::new();
    for (id, c) in &counts {
        for (g, &n) in c {
            if n >= MIN_COUNT || g.chars().count() < 4 {
                grams.entry(g.as_str()).or_default().push((id.as_str(), n));
            }
        }
    }
    for (g, entries) in &grams {
        let e: Vec<String> = entries.iter().map(|(id, n)| format!("{id}={n}")).collect();
        let _ = writeln!(out, "{g}\t{}", e.join(","));
    }
    std::fs::write(output, &out).unwrap_or_else(|e| {
        eprintln!("cannot write {output}: {e}");
        std::process::exit(1)
    });
    eprintln!(
        "{} languages, {} grams, {} bytes -> {output}",
        counts.len(),
        grams.len(),
        out.len()
    );
}
