//! A deterministic mixed-language corpus and keyword lists for the classification benches
//! (`benches/classify_corpus.rs`, `examples/classify_corpus.rs` and through it
//! `bench/classify_vs_python.py`).
//!
//! Text comes from `fixtures/langid/train.tsv` (UDHR, GTK and Firefox translations), so the
//! documents read like text in ten languages: Russian, Chinese, Urdu, Arabic, Persian,
//! Kazakh, Turkish, English, French and German. Each document is about `doc_bytes` long: 70 %
//! paragraphs in its main language, 30 % in a second one, paragraphs separated by blank lines.
//! Keywords are the same number per language: real words of the text (so documents do
//! match: about 15 hits per 10 KB document) and pseudo-words made of the language's own letters
//! (so the automaton is the size asked for). Match modes: 70 % word, 20 % prefix, 10 %
//! substring. Everything is drawn from a fixed-seed xorshift generator.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub const LANGUAGES: [&str; 10] = [
    "rus", "cmn-Hans", "urd", "ara", "pes", "kaz", "tur", "eng", "fra", "deu",
];

/// How many real words a language may give (the rest of its keywords are pseudo-words).
const REAL_WORDS: usize = 50;

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

pub struct Keyword {
    pub term: String,
    pub lang: &'static str,
    /// `word`, `prefix` or `substring`.
    pub mode: &'static str,
}

pub struct Corpus {
    pub keywords: Vec<Keyword>,
    pub documents: Vec<String>,
}

impl Corpus {
    pub fn bytes(&self) -> usize {
        self.documents.iter().map(String::len).sum()
    }
}

/// The training lines of the bench languages, from the repository's fixtures.
pub fn lines() -> BTreeMap<&'static str, Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/langid/train.tsv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut out: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let mut f = line.splitn(3, '\t');
        let (Some(code), Some(_), Some(t)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if let Some(&lang) = LANGUAGES.iter().find(|&&l| l == code) {
            out.entry(lang).or_default().push(t.to_string());
        }
    }
    out
}

fn is_han(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF)
}

/// `n_keywords` keywords and `n_docs` documents of about `doc_bytes` each.
pub fn generate(n_keywords: usize, n_docs: usize, doc_bytes: usize) -> Corpus {
    let lines = lines();
    let mut rng = Rng::new(0x5EED_2026);
    let mut keywords = Vec::with_capacity(n_keywords);
    let mut seen = BTreeSet::new();
    let per_lang = n_keywords / LANGUAGES.len();
    for (li, &lang) in LANGUAGES.iter().enumerate() {
        let text = &lines[lang];
        let han = lang.starts_with("cmn");
        // Real words (Chinese: 3-character runs), then the letter inventory.
        let mut real: Vec<String> = Vec::new();
        let mut letters: BTreeSet<char> = BTreeSet::new();
        for l in text {
            if han {
                let cs: Vec<char> = l.chars().filter(|&c| is_han(c)).collect();
                letters.extend(cs.iter().copied());
                for w in cs.chunks(3).filter(|w| w.len() == 3) {
                    real.push(w.iter().collect());
                }
            } else {
                for w in l.split(|c: char| !c.is_alphabetic()) {
                    letters.extend(w.chars().flat_map(char::to_lowercase));
                    if w.chars().count() >= 5 {
                        real.push(w.to_lowercase());
                    }
                }
            }
        }
        real.sort();
        real.dedup();
        let letters: Vec<char> = letters.into_iter().collect();
        let quota = if li == LANGUAGES.len() - 1 {
            n_keywords - keywords.len()
        } else {
            per_lang
        };
        let mut made = 0;
        let mut real_used = 0;
        while made < quota {
            let term = if real_used < REAL_WORDS.min(real.len()) {
                real_used += 1;
                real[rng.below(real.len())].clone()
            } else {
                let len = if han {
                    4 + rng.below(2)
                } else {
                    6 + rng.below(7)
                };
                (0..len)
                    .map(|_| letters[rng.below(letters.len())])
                    .collect()
            };
            if !seen.insert(term.clone()) {
                continue;
            }
            let mode = match rng.below(10) {
                0..=6 => "word",
                7 | 8 => "prefix",
                _ => "substring",
            };
            keywords.push(Keyword { term, lang, mode });
            made += 1;
        }
    }
    let mut documents = Vec::with_capacity(n_docs);
    for d in 0..n_docs {
        let main = LANGUAGES[d % LANGUAGES.len()];
        let second = LANGUAGES[(d * 7 + 3) % LANGUAGES.len()];
        let mut doc = String::with_capacity(doc_bytes + 512);
        while doc.len() < doc_bytes {
            let lang = if rng.below(10) < 7 { main } else { second };
            let pool = &lines[lang];
            // A paragraph of two to five lines.
            for _ in 0..2 + rng.below(4) {
                doc.push_str(&pool[rng.below(pool.len())]);
                doc.push(' ');
            }
            doc.push_str("\n\n");
        }
        documents.push(doc);
    }
    Corpus {
        keywords,
        documents,
    }
}

/// Writes the keywords as one list directory (`<dir>/bench-kw/list.toml` and
/// `entries.jsonl`) in the LISTS.md format.
pub fn write_lists(dir: &Path, keywords: &[Keyword]) -> std::io::Result<()> {
    let list = dir.join("bench-kw");
    std::fs::create_dir_all(&list)?;
    std::fs::write(
        list.join("list.toml"),
        "id = \"bench-kw\"\nname = \"Bench keywords\"\nkind = \"keywords\"\nowner = \"bench\"\n\
         trust = \"high\"\nversion = \"2026-01-01.1\"\nnegative = false\nenabled = true\n\
         default_category = \"glorification_apology\"\n",
    )?;
    let mut out = String::with_capacity(keywords.len() * 64);
    for (i, k) in keywords.iter().enumerate() {
        let term = k.term.replace('\\', "\\\\").replace('"', "\\\"");
        let lang = k.lang.split('-').next().unwrap_or(k.lang);
        out.push_str(&format!(
            "{{\"id\": \"k{i}\", \"term\": \"{term}\", \"lang\": \"{lang}\", \"match\": \"{}\"}}\n",
            k.mode
        ));
    }
    std::fs::write(list.join("entries.jsonl"), out)
}
