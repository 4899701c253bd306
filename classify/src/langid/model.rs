//! Character n-gram profiles of our own and the naive-Bayes score over them.
//!
//! The profiles are counts of character 1- to 4-grams of words (padded with a space at each
//! end), and of whole words of three letters or more, in the training half of `fixtures/langid/` (UDHR, GTK and Firefox translations),
//! after [`prepare`](super::prepare::prepare). They live in `classify/data/langid-profiles.tsv`,
//! written by `cargo run -p classify --release --example langid_profiles` and compiled in,
//! so the crate needs no data at run time. Grams seen once in a language are left out of the
//! file (they halve it and cost 0.1 point of accuracy).
//!
//! Languages are grouped by script, and a text is only scored against the languages of its
//! main script: Cyrillic Kazakh never competes with Persian. Within a group, a language's
//! score is `Σ ln P(gram | language)` over the grams of the text's words in that script, with
//! add-α smoothing per gram order. A gram that some language of the group has and another
//! has not costs the other its own "unseen" probability. A gram no language of the group has
//! is skipped: it says nothing about which of them wrote the text, and charging each
//! language its unseen probability for it only favoured the languages with the least
//! training text (measured on a development split of the training lines, never the held-out
//! ones: 99.33 → 99.39 % of sentences, 95.98 → 96.10 % of two-word texts).
//!
//! The file is parsed once, on first use (about 40 ms in a release build); a lookup is one
//! probe in a hash table keyed by a 64-bit hash of the gram's characters.

use super::prepare::{is_word_char, script_of, Script};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Highest gram order.
pub const ORDERS: usize = 4;
/// Kinds of feature: the gram orders, and whole words of at least [`MIN_WORD_FEATURE`]
/// letters (shorter ones are a gram already).
pub const FEATURES: usize = ORDERS + 1;
/// See [`FEATURES`].
pub const MIN_WORD_FEATURE: usize = 3;

/// The feature kind (0-based) of a gram or padded word of `len` characters.
pub fn feature_of(len: usize) -> usize {
    len.min(FEATURES) - 1
}
/// Add-α smoothing. Chosen on the training data's held-out split in a prototype: 0.1 beat
/// 0.5 and 1.0 by 0.1–0.5 point on two-word texts.
pub const ALPHA: f64 = 0.1;

/// The profile file compiled into the crate.
pub const PROFILES: &str = include_str!("../../data/langid-profiles.tsv");

/// One modelled language.
#[derive(Debug, Clone)]
pub struct Lang {
    /// `rus`, `uzb-Cyrl`, `cmn-Hant`: the ISO 639-3 code, and a script where a language is
    /// modelled in two.
    pub id: String,
    /// The ISO 639-3 code alone.
    pub code: String,
    /// ISO 15924 as the profile gives it (`Cyrl`, `Hans`, …).
    pub script_code: String,
}

/// The languages of one script and their gram table.
pub struct Group {
    pub script: Script,
    pub langs: Vec<Lang>,
    /// Gram key → the `langs.len()` log-probabilities of the gram, side by side.
    table: Table,
}

/// All groups.
pub struct Model {
    pub groups: Vec<Group>,
}

impl Model {
    pub fn group(&self, script: Script) -> Option<&Group> {
        self.groups.iter().find(|g| g.script == script)
    }
}

/// The compiled-in model.
pub fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| parse(PROFILES).expect("compiled-in langid profiles parse"))
}

/// What a group's score of one text comes to.
#[derive(Debug, Clone)]
pub struct Scores {
    /// Per language of the group, `Σ ln P`.
    pub log_p: Vec<f64>,
    /// Grams scored.
    pub grams: usize,
}

impl Scores {
    /// Indices of the best and the second-best language.
    pub fn top2(&self) -> (usize, Option<usize>) {
        let mut best = 0;
        let mut second: Option<usize> = None;
        for i in 1..self.log_p.len() {
            if self.log_p[i] > self.log_p[best] {
                second = Some(best);
                best = i;
            } else if second.is_none_or(|s| self.log_p[i] > self.log_p[s]) {
                second = Some(i);
            }
        }
        (best, second)
    }
}

impl Group {
    /// Scores the words of `text` (prepared) written in this group's script, up to
    /// `max_letters` of their letters.
    pub fn score(&self, text: &str, max_letters: usize) -> Scores {
        self.score_until(text, max_letters, Decisive::NEVER)
    }

    /// [`score`](Self::score), stopping early after the first word at which `decisive`
    /// says the text is decided.
    pub fn score_until(&self, text: &str, max_letters: usize, decisive: Decisive) -> Scores {
        let k = self.langs.len();
        let mut log_p = vec![0.0f64; k];
        let mut grams = 0usize;
        let mut letters = 0usize;
        let mut word: Vec<char> = Vec::with_capacity(32);
        let mut keys: Vec<u64> = Vec::with_capacity(160);
        let mut chars = text.chars().peekable();
        while letters < max_letters {
            // Skip to the next word.
            while chars.peek().is_some_and(|&c| !is_word_char(c)) {
                chars.next();
            }
            let Some(&first) = chars.peek() else { break };
            word.clear();
            word.push(' ');
            while let Some(&c) = chars.peek() {
                if !is_word_char(c) {
                    break;
                }
                word.push(c);
                chars.next();
            }
            if script_of(first) != Some(self.script) {
                continue;
            }
            word.push(' ');
            letters += word.len() - 2;
            keys.clear();
            for_each_key(&word, |_, key| keys.push(key));
            grams += keys.len();
            // The word's slots are loaded first, all at once, with no branch between the
            // loads, so that their cache misses overlap; the lookups then find them cached.
            std::hint::black_box(keys.iter().fold(0, |acc, &key| acc ^ self.table.touch(key)));
            for &key in &keys {
                // A gram no language of the group has is no evidence (see the module doc).
                if let Some(row) = self.table.get(key) {
                    for (acc, &p) in log_p.iter_mut().zip(row) {
                        *acc += f64::from(f32::from_bits(p));
                    }
                }
            }
            if letters >= decisive.min_letters && lead(&log_p) >= decisive.margin {
                break;
            }
        }
        Scores { log_p, grams }
    }
}

/// When scoring may stop before its letter budget: once `min_letters` letters are scored
/// and the best language leads the runner-up by `margin` nats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decisive {
    pub min_letters: usize,
    pub margin: f64,
}

impl Decisive {
    /// Scores the whole budget.
    pub const NEVER: Decisive = Decisive {
        min_letters: usize::MAX,
        margin: f64::INFINITY,
    };
}

/// How far the best of `log_p` is ahead of the second best (infinite with one language).
fn lead(log_p: &[f64]) -> f64 {
    let (mut best, mut second) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for &x in log_p {
        if x > best {
            second = best;
            best = x;
        } else if x > second {
            second = x;
        }
    }
    best - second
}

const SEED: u64 = 0x243F_6A88_85A3_08D3;
const MUL: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(h: u64, c: char) -> u64 {
    (h ^ u64::from(c)).wrapping_mul(MUL).rotate_left(29)
}

/// The table key of a gram (its characters, last to first, through [`mix`]).
pub fn gram_key(gram: &[char]) -> u64 {
    gram.iter().rev().fold(SEED, |h, &c| mix(h, c))
}

/// Calls `f(feature, key)` for every gram of a padded word (`' '` + letters + `' '`), except
/// the lone space, and for the whole word when it has [`MIN_WORD_FEATURE`] letters or more.
fn for_each_key(word: &[char], mut f: impl FnMut(usize, u64)) {
    for end in 0..word.len() {
        let mut h = SEED;
        for order in 1..=ORDERS.min(end + 1) {
            let c = word[end + 1 - order];
            h = mix(h, c);
            if order == 1 && c == ' ' {
                continue;
            }
            f(order - 1, h);
        }
    }
    if word.len() >= MIN_WORD_FEATURE + 2 {
        f(ORDERS, gram_key(word));
    }
}

/// Calls `f(script, gram)` for every gram of every word of a prepared text, and for every
/// padded word of [`MIN_WORD_FEATURE`] letters or more, the way [`Group::score`] sees them.
/// For building profiles.
pub fn for_each_gram(text: &str, mut f: impl FnMut(Script, &[char])) {
    let mut word: Vec<char> = Vec::new();
    let mut flush = |word: &mut Vec<char>| {
        if word.is_empty() {
            return;
        }
        let script = script_of(word[0]).unwrap_or(Script::Other);
        word.insert(0, ' ');
        word.push(' ');
        for end in 0..word.len() {
            for order in 1..=ORDERS.min(end + 1) {
                let gram = &word[end + 1 - order..=end];
                if gram != [' '] {
                    f(script, gram);
                }
            }
        }
        if word.len() >= MIN_WORD_FEATURE + 2 {
            f(script, word);
        }
        word.clear();
    };
    for c in text.chars() {
        if is_word_char(c) {
            word.push(c);
        } else {
            flush(&mut word);
        }
    }
    flush(&mut word);
}

/// Gram key → row of log-probabilities, open addressing with linear probing, the row stored
/// beside its key in a slot of 16, 32 or 64 bytes that never straddles a cache line: a
/// lookup is one cache miss (with the rows apart it was two, and those two misses were 60 %
/// of the time of scoring). Keys are already mixed; key 0 marks an empty slot (a gram
/// hashing to 0 would be dropped at build, and `parse` says so).
struct Table {
    lines: Vec<Line>,
    /// 32-bit words per slot: the key (two words), the row, padding.
    slot_words: usize,
    /// Languages per row.
    k: usize,
    mask: usize,
}

/// Languages of one script at most: a slot (key and row) fits in a cache line.
pub const MAX_GROUP_LANGS: usize = 14;

/// One cache line of slots.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u32; 16]);

impl Table {
    /// A table for `n` grams with rows of `k` log-probabilities (at most [`MAX_GROUP_LANGS`]).
    fn new(n: usize, k: usize) -> Table {
        let slot_words = (k + 2).next_power_of_two().max(4);
        debug_assert!(k <= MAX_GROUP_LANGS);
        let size = (n.max(1) * 2).next_power_of_two();
        Table {
            lines: vec![Line([0; 16]); (size * slot_words).div_ceil(16)],
            slot_words,
            k,
            mask: size - 1,
        }
    }

    fn first_slot(&self, key: u64) -> usize {
        (key.wrapping_mul(MUL) >> 32) as usize & self.mask
    }

    /// The slot's words: key low, key high, row.
    #[inline]
    fn slot(&self, i: usize) -> &[u32] {
        let w = i * self.slot_words;
        let at = w & 15;
        &self.lines[w >> 4].0[at..at + 2 + self.k]
    }

    /// Stores `row` under `key`; false when the key is there already (or is 0).
    fn insert(&mut self, key: u64, row: &[f32]) -> bool {
        debug_assert_eq!(row.len(), self.k);
        if key == 0 {
            return false;
        }
        let mut i = self.first_slot(key);
        loop {
            let slot = self.slot(i);
            let k = u64::from(slot[0]) | u64::from(slot[1]) << 32;
            if k == key {
                return false;
            }
            if k == 0 {
                let w = i * self.slot_words;
                let at = w & 15;
                let words = &mut self.lines[w >> 4].0[at..at + 2 + self.k];
                words[0] = key as u32;
                words[1] = (key >> 32) as u32;
                for (dst, p) in words[2..].iter_mut().zip(row) {
                    *dst = p.to_bits();
                }
                return true;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The first word of the first slot `key` could be in: a load that brings its line into
    /// the cache.
    #[inline]
    fn touch(&self, key: u64) -> u32 {
        let w = self.first_slot(key) * self.slot_words;
        self.lines[w >> 4].0[w & 15]
    }

    /// The row of `key` (`f32` bits), if the key is there.
    #[inline]
    fn get(&self, key: u64) -> Option<&[u32]> {
        let mut i = self.first_slot(key);
        loop {
            let slot = self.slot(i);
            let k = u64::from(slot[0]) | u64::from(slot[1]) << 32;
            if k == key {
                return Some(&slot[2..]);
            }
            if k == 0 {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// A problem in a profile file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("langid profiles line {line}: {message}")]
pub struct ProfileError {
    pub line: usize,
    pub message: String,
}

/// A gram and its (language index, count) pairs, as parsed.
type GramCounts = (Vec<char>, Vec<(usize, u32)>);

/// Parses a profile file:
///
/// ```text
/// # comments
/// @lang <TAB> id <TAB> ISO 15924 <TAB> grams of order 1 … 4, and words, seen in training
/// gram or padded word <TAB> id=count,id=count,…
/// ```
pub fn parse(text: &str) -> Result<Model, ProfileError> {
    let err = |line: usize, message: String| ProfileError { line, message };
    let mut langs: Vec<(Lang, Script, [u64; FEATURES])> = Vec::new();
    let mut grams: Vec<GramCounts> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split('\t');
        let first = fields.next().unwrap_or_default();
        if first == "@lang" {
            let (Some(id), Some(sc), Some(totals)) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(err(n, "@lang needs id, script and totals".into()));
            };
            let script =
                Script::from_iso15924(sc).ok_or_else(|| err(n, format!("unknown script {sc}")))?;
            let mut t = [0u64; FEATURES];
            let parts: Vec<&str> = totals.split(' ').collect();
            if parts.len() != FEATURES {
                return Err(err(n, format!("{FEATURES} totals expected")));
            }
            for (slot, p) in t.iter_mut().zip(parts) {
                *slot = p.parse().map_err(|_| err(n, format!("bad total {p:?}")))?;
            }
            let code = id.split('-').next().unwrap_or(id).to_string();
            langs.push((
                Lang {
                    id: id.to_string(),
                    code,
                    script_code: sc.to_string(),
                },
                script,
                t,
            ));
            continue;
        }
        let Some(counts) = fields.next() else {
            return Err(err(n, "gram line needs a tab and counts".into()));
        };
        let gram: Vec<char> = first.chars().collect();
        if gram.is_empty() || (gram.len() > ORDERS && gram.len() < MIN_WORD_FEATURE + 2) {
            return Err(err(
                n,
                format!("gram {first:?} is neither a gram nor a padded word"),
            ));
        }
        let mut entries = Vec::new();
        for kv in counts.split(',') {
            let (id, c) = kv
                .split_once('=')
                .ok_or_else(|| err(n, format!("bad count {kv:?}")))?;
            let li = langs
                .iter()
                .position(|l| l.0.id == id)
                .ok_or_else(|| err(n, format!("unknown language {id:?}")))?;
            let c: u32 = c.parse().map_err(|_| err(n, format!("bad count {kv:?}")))?;
            entries.push((li, c));
        }
        grams.push((gram, entries));
    }
    // Group the languages by script, in a stable order.
    let mut by_script: BTreeMap<Script, Vec<usize>> = BTreeMap::new();
    for (i, l) in langs.iter().enumerate() {
        by_script.entry(l.1).or_default().push(i);
    }
    let mut groups = Vec::new();
    for (script, members) in by_script {
        let k = members.len();
        let slot = |li: usize| members.iter().position(|&m| m == li);
        // Which grams this group has, and its vocabulary per order.
        let mine: Vec<&GramCounts> = grams
            .iter()
            .filter(|(_, e)| e.iter().any(|&(li, _)| slot(li).is_some()))
            .collect();
        let mut vocab = [0u64; FEATURES];
        for (g, _) in &mine {
            vocab[feature_of(g.len())] += 1;
        }
        let denom = |li: usize, order: usize| {
            langs[li].2[order] as f64 + ALPHA * vocab[order].max(1) as f64
        };
        let unseen: [Vec<f64>; FEATURES] = std::array::from_fn(|o| {
            members
                .iter()
                .map(|&li| (ALPHA / denom(li, o)).ln())
                .collect()
        });
        if k > MAX_GROUP_LANGS {
            return Err(err(
                0,
                format!("{k} languages of script {script:?}: at most {MAX_GROUP_LANGS}"),
            ));
        }
        let mut table = Table::new(mine.len(), k);
        let mut row = vec![0f32; k];
        for (g, entries) in mine {
            let o = feature_of(g.len());
            let key = gram_key(g);
            for (r, &u) in row.iter_mut().zip(&unseen[o]) {
                *r = u as f32;
            }
            for &(li, c) in entries {
                if let Some(s) = slot(li) {
                    row[s] = ((f64::from(c) + ALPHA) / denom(li, o)).ln() as f32;
                }
            }
            if !table.insert(key, &row) {
                return Err(err(0, format!("gram {g:?}: its key is taken (or 0)")));
            }
        }
        groups.push(Group {
            script,
            langs: members.iter().map(|&li| langs[li].0.clone()).collect(),
            table,
        });
    }
    Ok(Model { groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_keys_are_the_builder_keys() {
        let text = "съешь ещё этих булок";
        let mut built = Vec::new();
        for_each_gram(text, |_, g| built.push(gram_key(g)));
        let mut run = Vec::new();
        for w in text.split(' ') {
            let padded: Vec<char> = std::iter::once(' ')
                .chain(w.chars())
                .chain(std::iter::once(' '))
                .collect();
            for_each_key(&padded, |_, k| run.push(k));
        }
        built.sort_unstable();
        run.sort_unstable();
        assert_eq!(built, run);
        // " a", "ab", " ab", … : 4 orders, the lone space left out; "ab" is too short a word.
        let mut n = 0;
        for_each_gram("ab", |_, _| n += 1);
        assert_eq!(n, 2 + 3 + 2 + 1);
        let mut n = 0;
        for_each_gram("abc", |_, _| n += 1);
        assert_eq!(n, 3 + 4 + 3 + 2 + 1);
    }

    #[test]
    fn the_compiled_in_model_loads() {
        let m = model();
        let ids: Vec<&str> = m
            .groups
            .iter()
            .flat_map(|g| g.langs.iter().map(|l| l.id.as_str()))
            .collect();
        for id in [
            "rus", "cmn-Hans", "cmn-Hant", "urd", "ara", "pes", "pus", "uig", "kaz", "kir", "tgk",
            "uzb-Latn", "uzb-Cyrl", "tur", "aze", "hin", "ben", "ukr", "bel", "bul", "srp", "mon",
            "eng", "fra", "deu", "spa", "ind",
        ] {
            assert!(ids.contains(&id), "{id} missing from {ids:?}");
        }
        let cyr = m.group(Script::Cyrillic).unwrap();
        let s = cyr.score("министерство иностранных дел сообщило", 1000);
        let (best, second) = s.top2();
        assert_eq!(cyr.langs[best].id, "rus");
        assert!(second.is_some() && s.grams > 50);
    }

    #[test]
    fn decided_texts_stop_early_with_the_same_winner() {
        let cyr = model().group(Script::Cyrillic).unwrap();
        let text = "министерство иностранных дел сообщило сегодня что переговоры о торговле \
                    продолжатся на следующей неделе в столице и в них примут участие министры"
            .repeat(3);
        let full = cyr.score(&text, 300);
        let early = cyr.score_until(
            &text,
            300,
            Decisive {
                min_letters: 100,
                margin: 40.0,
            },
        );
        assert_eq!(full.top2().0, early.top2().0);
        assert!(early.grams < full.grams, "{} {}", early.grams, full.grams);
        assert!(lead(&early.log_p) >= 40.0);
        // Never before the letter minimum.
        let never = cyr.score_until(
            &text,
            300,
            Decisive {
                min_letters: 1000,
                margin: 40.0,
            },
        );
        assert_eq!(never.grams, full.grams);
    }

    #[test]
    fn too_many_languages_of_one_script_are_refused() {
        let mut file = String::new();
        for i in 0..=MAX_GROUP_LANGS {
            file.push_str(&format!("@lang\tl{i}\tCyrl\t1 1 1 1 1\n"));
        }
        file.push_str("аб\tl0=1\n");
        let e = parse(&file).err().unwrap();
        assert!(e.message.contains("at most 14"), "{e}");
    }

    #[test]
    fn bad_profile_lines_are_named() {
        let e = parse("@lang\trus\tCyrl\t1 2 3 4 5\nab\tzzz=3\n")
            .err()
            .unwrap();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("zzz"));
        let e = parse("@lang\trus\tQqqq\t1 2 3 4 5\n").err().unwrap();
        assert_eq!(e.line, 1);
    }
}
