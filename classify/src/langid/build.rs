//! Building the profile file of [`model`](super::model) from labelled lines: what
//! `examples/langid_profiles.rs` writes to `classify/data/langid-profiles.tsv`, and what
//! `examples/langid_dev.rs` builds in memory to compare training choices on a development
//! split without touching the held-out lines.
//!
//! Each line is prepared as the detector prepares text, and the 1- to 4-grams of its words in
//! the language's own script, and the words themselves, are counted. A language's script is
//! the one of its label (`uzb-Cyrl`), or else the script most of its letters are in. 4-grams
//! and words seen fewer than [`MIN_COUNT`] times in a language are left out (single letters,
//! bigrams and trigrams are always kept); the totals per order are written before that, so
//! the probabilities stay those of the full counts. Output is sorted, so a rerun on the same
//! input gives the same bytes.

use super::eval::Sample;
use super::model::{feature_of, for_each_gram, FEATURES};
use super::prepare::{prepare, script_of, Script};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// Grams of order 4 and words seen fewer times than this in a language are left out (shorter
/// grams are all kept): a third of the file, for 0.2 point of accuracy.
pub const MIN_COUNT: u32 = 2;

/// The profile file for these training lines.
pub fn profiles(samples: &[Sample]) -> String {
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
        .filter_map(|(id, counts)| {
            let main = counts
                .iter()
                .max_by_key(|(s, n)| (**n, std::cmp::Reverse(**s)))
                .map(|(s, _)| *s)?;
            let code = labelled
                .get(id)
                .cloned()
                .unwrap_or_else(|| main.iso15924().to_string());
            Some((id.clone(), (main, code)))
        })
        .collect();
    let mut counts: BTreeMap<String, HashMap<String, u32>> = BTreeMap::new();
    for (id, p) in &prepared {
        let Some(&(own, _)) = script_of_lang.get(id) else {
            continue;
        };
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
    out
}
