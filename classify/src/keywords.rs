//! The keyword search: every occurrence of every normalised keyword in a normalised text,
//! exactly as one overlapping Aho-Corasick search over all of them would report it (same
//! occurrences, same order), at about a third of the cost.
//!
//! The distinct patterns are split three ways:
//!
//! - **word start**: patterns every owner of which needs a start boundary (`word`, `prefix`)
//!   and that begin with a letter or digit of a script written with spaces — a match
//!   beginning inside a word would fail the boundary anyway. Most keywords are these. A
//!   [`trie`] of them is walked only from word starts.
//! - **anywhere**: the rest (`substring` entries, Han, kana and Thai terms, terms that begin
//!   with a non-letter): a second trie, walked from every character.
//! - **long**: patterns over [`MAX_TRIE_PATTERN`] bytes, in an Aho-Corasick automaton, so a
//!   trie walk is never longer than that and the search stays linear in the text.
//!
//! Each trie carries a filter on its patterns' first three characters, so that at most
//! positions a walk is one bit test; the walks that do start mostly end within a few bytes.
//! A full Aho-Corasick automaton over 100k terms instead moves through its states at every
//! byte (a cache miss or so each) and was the third of the classifier's time.
//!
//! Data flow: [`Keywords::build`] takes the normalised patterns with their entries, sorts and
//! deduplicates them (one pattern, several owners), splits them and compiles the parts;
//! [`Keywords::find`] returns `(end, start, pattern)` occurrences sorted by end, then by
//! start, which is the order of the single overlapping search (at one end, longer patterns
//! first); the classifier then checks each owner's boundaries with [`boundaries_ok`].

use aho_corasick::AhoCorasick;
use shared::lists::MatchMode;
use std::sync::OnceLock;
use trie::{Start, Trie, DEEP, NO_CHAR};

mod trie;

/// Patterns longer than this (bytes) go to the Aho-Corasick automaton, which keeps the
/// search linear in the text however the patterns look: a trie walk is at most this long.
pub(crate) const MAX_TRIE_PATTERN: usize = 64;

/// One occurrence of a distinct pattern: `(end, start, pattern)`, byte offsets in the
/// normalised text.
pub(crate) type Found = (usize, usize, u32);

pub(crate) struct Keywords {
    /// Patterns that may start at any character: a deep trie for those of [`DEEP`]
    /// characters or more and a shallow one for the rest, each there only if it has any.
    anywhere: Vec<Trie>,
    /// Patterns that only count at a word start, the same way.
    at_word_start: Vec<Trie>,
    /// Patterns longer than [`MAX_TRIE_PATTERN`], and each one's pattern number.
    long: Option<(AhoCorasick, Vec<u32>)>,
    /// Entries behind each pattern (one normalised term may be in several lists): pattern
    /// `p`'s are `owners[owner_starts[p]..owner_starts[p + 1]]`.
    owner_starts: Vec<u32>,
    owners: Vec<u32>,
}

/// Which search a distinct pattern goes to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Anywhere,
    WordStart,
    Long,
}

impl Keywords {
    /// Compiles `patterns`, given as `(start, length, entry)` runs of `text`. `mode` says an
    /// entry's match mode. `None` when there is no pattern; `Err` with the automaton's
    /// complaint when one cannot be built.
    pub(crate) fn build(
        text: &str,
        mut patterns: Vec<(u32, u32, u32)>,
        mode: impl Fn(u32) -> MatchMode,
    ) -> Result<Option<Keywords>, String> {
        if patterns.is_empty() {
            return Ok(None);
        }
        let slice = |&(s, l, _): &(u32, u32, u32)| &text[s as usize..(s + l) as usize];
        patterns.sort_unstable_by(|a, b| slice(a).cmp(slice(b)).then(a.2.cmp(&b.2)));
        patterns.dedup_by(|a, b| a.2 == b.2 && slice(a) == slice(b));
        // Distinct patterns in byte order (what the tries need), each with its owners and
        // the search it goes to: word start when every owner needs a start boundary and
        // the pattern begins with a letter or digit of a script written with spaces.
        let mut distinct: Vec<(u32, u32, Part)> = Vec::new();
        let mut owner_starts: Vec<u32> = Vec::new();
        let mut owners: Vec<u32> = Vec::with_capacity(patterns.len());
        for (i, p) in patterns.iter().enumerate() {
            let needs_start = mode(p.2) != MatchMode::Substring;
            if i == 0 || slice(&patterns[i - 1]) != slice(p) {
                let first = slice(p).chars().next();
                let part = if p.1 as usize > MAX_TRIE_PATTERN {
                    Part::Long
                } else if needs_start && first.is_some_and(word_letter) {
                    Part::WordStart
                } else {
                    Part::Anywhere
                };
                distinct.push((p.0, p.1, part));
                owner_starts.push(owners.len() as u32);
            } else if !needs_start {
                let last = &mut distinct.last_mut().expect("pushed before").2;
                if *last == Part::WordStart {
                    *last = Part::Anywhere;
                }
            }
            owners.push(p.2);
        }
        owner_starts.push(owners.len() as u32);
        drop(patterns);
        owner_starts.shrink_to_fit();
        let bytes = |s: u32, l: u32| &text.as_bytes()[s as usize..(s + l) as usize];
        let tries = |part: Part| {
            let mut tries = Vec::new();
            for deep in [true, false] {
                let (keys, ids): (Vec<&[u8]>, Vec<u32>) = (distinct.iter().enumerate())
                    .filter(|(_, d)| d.2 == part)
                    .map(|(id, &(s, l, _))| (bytes(s, l), id as u32))
                    .filter(|(k, _)| {
                        let text = std::str::from_utf8(k).expect("patterns are text");
                        text.chars().nth(DEEP - 1).is_some() == deep
                    })
                    .unzip();
                if !keys.is_empty() {
                    tries.push(Trie::new(&keys, &ids));
                }
            }
            tries
        };
        let at_word_start = tries(Part::WordStart);
        let anywhere = tries(Part::Anywhere);
        let long_ids: Vec<u32> = (0..distinct.len() as u32)
            .filter(|&id| distinct[id as usize].2 == Part::Long)
            .collect();
        let long = if long_ids.is_empty() {
            None
        } else {
            let automaton = AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::Standard)
                .build(long_ids.iter().map(|&id| {
                    let (s, l, _) = distinct[id as usize];
                    bytes(s, l)
                }))
                .map_err(|e| format!("keyword automaton refused: {e}"))?;
            Some((automaton, long_ids))
        };
        Ok(Some(Keywords {
            anywhere,
            at_word_start,
            long,
            owner_starts,
            owners,
        }))
    }

    pub(crate) fn owners_of(&self, pattern: u32) -> &[u32] {
        let p = pattern as usize;
        let (a, b) = (self.owner_starts[p], self.owner_starts[p + 1]);
        &self.owners[a as usize..b as usize]
    }

    /// Every occurrence of every pattern in `text` (overlapping ones too), sorted by end,
    /// then by start — the order of one overlapping Aho-Corasick search — into `found`
    /// (cleared first). Word-start patterns are only looked for where a word starts, which
    /// is all their owners can accept.
    pub(crate) fn find(&self, text: &str, found: &mut Vec<Found>) {
        found.clear();
        if let Some((automaton, ids)) = &self.long {
            for m in automaton.find_overlapping_iter(text) {
                found.push((m.end(), m.start(), ids[m.pattern().as_usize()]));
            }
        }
        if !self.anywhere.is_empty() || !self.at_word_start.is_empty() {
            self.walk_tries(text, found);
        }
        // (end, start) names one pattern, so the order is total.
        found.sort_unstable();
    }

    /// One pass over the characters of `text`, each with the two after it, walking the
    /// anywhere trie from every character and the word-start trie from every word start
    /// (each trie's filter turns most of them away at once).
    fn walk_tries(&self, text: &str, found: &mut Vec<Found>) {
        let bytes = text.as_bytes();
        let letters = word_letters();
        let mut chars = [NO_CHAR; DEEP];
        let mut lens = [0usize; DEEP];
        let mut next = 0;
        for k in 0..DEEP {
            (chars[k], lens[k]) = decode(bytes, next);
            next += lens[k];
        }
        let mut at = 0;
        // The character before is a letter or digit of a script written with spaces.
        let mut in_word = false;
        while at < bytes.len() {
            let a = chars[0];
            let letter = match letters.get(a as usize / 64) {
                Some(w) => w >> (a % 64) & 1 == 1,
                None => word_letter(char::from_u32(a).expect("decoded from UTF-8")),
            };
            let rest = &bytes[at..];
            let start = Start::new(&chars, &lens);
            let mut report = |len: usize, pattern: u32| found.push((at + len, at, pattern));
            for t in &self.anywhere {
                t.prefixes_at(rest, &start, &mut report);
            }
            if letter && !in_word {
                for t in &self.at_word_start {
                    t.prefixes_at(rest, &start, &mut report);
                }
            }
            in_word = letter;
            at += lens[0];
            chars.copy_within(1.., 0);
            lens.copy_within(1.., 0);
            (chars[DEEP - 1], lens[DEEP - 1]) = decode(bytes, next);
            next += lens[DEEP - 1];
        }
    }
}

/// The character at `i` of UTF-8 `bytes` and its length, or ([`NO_CHAR`], 0) at the end.
#[inline(always)]
fn decode(bytes: &[u8], i: usize) -> (u32, usize) {
    let Some(&x) = bytes.get(i) else {
        return (NO_CHAR, 0);
    };
    let more = |k: usize| (bytes[i + k] & 0x3F) as u32;
    match x {
        0..=0x7F => (x as u32, 1),
        0xC0..=0xDF => (((x & 0x1F) as u32) << 6 | more(1), 2),
        0xE0..=0xEF => (((x & 0x0F) as u32) << 12 | more(1) << 6 | more(2), 3),
        _ => (
            ((x & 0x07) as u32) << 18 | more(1) << 12 | more(2) << 6 | more(3),
            4,
        ),
    }
}

/// [`word_letter`] for the BMP, one bit per character.
fn word_letters() -> &'static [u64] {
    static BMP: OnceLock<Vec<u64>> = OnceLock::new();
    BMP.get_or_init(|| {
        let mut bits = vec![0u64; 0x10000 / 64];
        for (i, c) in (0..0x10000u32).filter_map(|i| Some((i, char::from_u32(i)?))) {
            if c.is_alphanumeric() && !written_without_spaces(c) {
                bits[i as usize / 64] |= 1 << (i % 64);
            }
        }
        bits
    })
}

/// A letter or digit of a script written with spaces: where a word-start pattern may begin.
fn word_letter(c: char) -> bool {
    c.is_alphanumeric() && !written_without_spaces(c)
}

/// Whether a hit at `start..end` of normalised `text` respects the entry's match mode. A
/// boundary only applies where the term itself begins or ends with a letter or digit (like
/// `\b`), and never next to scripts written without spaces.
pub(crate) fn boundaries_ok(text: &str, start: usize, end: usize, mode: MatchMode) -> bool {
    let start_ok = || {
        edge_ok(
            text[..start].chars().next_back(),
            text[start..].chars().next(),
        )
    };
    let end_ok = || edge_ok(text[end..].chars().next(), text[..end].chars().next_back());
    match mode {
        MatchMode::Substring => true,
        MatchMode::Prefix => start_ok(),
        MatchMode::Word => start_ok() && end_ok(),
    }
}

fn edge_ok(outside: Option<char>, inside: Option<char>) -> bool {
    match (outside, inside) {
        (Some(o), Some(i)) if o.is_alphanumeric() && i.is_alphanumeric() => {
            written_without_spaces(o) || written_without_spaces(i)
        }
        _ => true,
    }
}

/// Han, Hiragana, Katakana (and Thai, Lao, Myanmar, Khmer): no spaces between words, so
/// every match there is a substring match.
fn written_without_spaces(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF | 0x1000..=0x109F | 0x1780..=0x17FF | 0x3040..=0x30FF | 0x31F0..=0x31FF
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xFF66..=0xFF9F | 0x20000..=0x3FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_rng::Rng;

    /// Letters of spaced and unspaced scripts, digits, marks, spaces and punctuation, a
    /// supplementary-plane Han character and an emoji: few enough that patterns overlap.
    const ALPHABET: &[char] = &[
        'a',
        'b',
        'c',
        'é',
        'а',
        'б',
        'ا',
        'ب',
        '1',
        ' ',
        ' ',
        '-',
        '.',
        '伊',
        '斯',
        'ア',
        'ก',
        '\u{20000}',
        '\u{1F600}',
        '\u{301}',
    ];

    fn random_string(rng: &mut Rng, max: usize) -> String {
        let n = 1 + rng.below(max);
        (0..n)
            .map(|_| ALPHABET[rng.below(ALPHABET.len())])
            .collect()
    }

    /// What the classifier did before the split: one Aho-Corasick automaton over all
    /// distinct patterns, one overlapping search, each owner's boundaries checked.
    fn reference(
        text: &str,
        patterns: &[(String, u32)],
        modes: &[MatchMode],
    ) -> Vec<(usize, usize, u32)> {
        let mut distinct: Vec<(&str, Vec<u32>)> = Vec::new();
        let mut sorted: Vec<&(String, u32)> = patterns.iter().collect();
        sorted.sort();
        sorted.dedup();
        for (p, e) in sorted {
            match distinct.last_mut() {
                Some((q, owners)) if q == p => owners.push(*e),
                _ => distinct.push((p, vec![*e])),
            }
        }
        let ac = AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::Standard)
            .build(distinct.iter().map(|d| d.0))
            .unwrap();
        let mut out = Vec::new();
        for m in ac.find_overlapping_iter(text) {
            for &e in &distinct[m.pattern().as_usize()].1 {
                if boundaries_ok(text, m.start(), m.end(), modes[e as usize]) {
                    out.push((m.start(), m.end(), e));
                }
            }
        }
        out
    }

    fn split(
        text: &str,
        patterns: &[(String, u32)],
        modes: &[MatchMode],
    ) -> Vec<(usize, usize, u32)> {
        let mut all = String::new();
        let mut runs = Vec::new();
        for (p, e) in patterns {
            runs.push((all.len() as u32, p.len() as u32, *e));
            all.push_str(p);
        }
        let k = Keywords::build(&all, runs, |e| modes[e as usize])
            .unwrap()
            .unwrap();
        let mut found = Vec::new();
        k.find(text, &mut found);
        let mut out = Vec::new();
        for (end, start, p) in found {
            for &e in k.owners_of(p) {
                if boundaries_ok(text, start, end, modes[e as usize]) {
                    out.push((start, end, e));
                }
            }
        }
        out
    }

    #[test]
    fn same_hits_in_the_same_order_as_one_overlapping_search() {
        let mut rng = Rng(0x5EED_0003);
        let mut hits = 0;
        for round in 0..200 {
            let n = 1 + rng.below(40);
            let modes: Vec<MatchMode> = (0..n)
                .map(|_| [MatchMode::Word, MatchMode::Prefix, MatchMode::Substring][rng.below(3)])
                .collect();
            let mut patterns: Vec<(String, u32)> = Vec::new();
            for e in 0..n as u32 {
                // Now and then the same term in another entry (another mode), or a term
                // longer than a trie takes.
                let term = if e > 0 && rng.below(6) == 0 {
                    patterns[rng.below(patterns.len())].0.clone()
                } else if rng.below(25) == 0 {
                    random_string(&mut rng, 3).repeat(30)
                } else {
                    random_string(&mut rng, 7)
                };
                patterns.push((term, e));
            }
            for _ in 0..5 {
                let mut text = random_string(&mut rng, 300);
                if rng.below(2) == 0 {
                    // Plant some of the patterns.
                    for _ in 0..5 {
                        text.push_str(&patterns[rng.below(n)].0);
                        text.push_str(&random_string(&mut rng, 3));
                    }
                }
                let want = reference(&text, &patterns, &modes);
                assert_eq!(
                    split(&text, &patterns, &modes),
                    want,
                    "round {round}: {text:?} {patterns:?}"
                );
                hits += want.len();
            }
        }
        assert!(hits > 5_000, "{hits}");
    }

    #[test]
    fn same_hits_on_the_bench_corpus_languages() {
        // Real words of ten languages as terms, in every mode, against mixed text.
        let words = [
            "государство",
            "заявление",
            "伊斯兰国",
            "声明",
            "حکومت",
            "الدولة",
            "دولت",
            "мемлекет",
            "devlet",
            "state",
            "islamic state",
            "état",
            "staat",
            "ال",
            "ст",
            "st",
            "го",
            "国",
        ];
        let modes = [MatchMode::Word, MatchMode::Prefix, MatchMode::Substring];
        let mut patterns = Vec::new();
        let mut entry_modes = Vec::new();
        for (i, w) in words.iter().enumerate() {
            for (j, m) in modes.iter().enumerate() {
                if (i + j) % 2 == 0 || w.chars().count() < 3 {
                    patterns.push((w.to_string(), entry_modes.len() as u32));
                    entry_modes.push(*m);
                }
            }
        }
        let text = "заявление государства: государство; the islamic state's statement, état, \
                    staaten. 他说伊斯兰国的声明 الدولة الإسلامية دولت حکومتی мемлекеттік devletin";
        let want = reference(text, &patterns, &entry_modes);
        assert_eq!(split(text, &patterns, &entry_modes), want);
        assert!(want.len() > 20, "{want:?}");
    }
}
