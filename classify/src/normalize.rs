//! Text normalisation for matching, with a map back to the original bytes.
//!
//! Keywords and documents go through the same [`normalize`], so an obfuscated spelling in a
//! document meets the plain spelling in a list. The steps, in order:
//!
//! 1. **NFKC**, one *cluster* at a time (a starter and the marks that follow it), so that every
//!    output character can be traced to the cluster it came from. Presentation forms (ﻻ),
//!    full-width Latin (ＩＳＩＳ) and ligatures fold here.
//! 2. **Removal** of format characters (general category Cf: ZWSP, ZWNJ, ZWJ, bidi marks, soft
//!    hyphen, BOM, …), the Arabic tatweel and the Arabic harakat and Quranic marks.
//! 3. **Cyrillic/Latin look-alikes** in a word that mixes the two scripts are turned into the
//!    word's own script ("Poccия" → "Россия"). The word's script is the one with more letters
//!    that have no look-alike in the other ("и", "я" outvote "P", "o", "c", "c"); on a tie, the
//!    one with more letters; on a second tie the word is left alone.
//! 4. **Lower case**, with the Turkish fix (İ → i, ı → i, so that "ISIS" typed on a Turkish
//!    keyboard still matches) and final sigma ς → σ.
//! 5. **Arabic-script folds**: yeh ي ی ى ے → ي; kaf ك ک → ك; heh ه ہ ە ۀ ۂ → ه; alef with
//!    hamza or madda أ إ آ ٱ → ا; teh marbuta ة → ه (writers use the two interchangeably at the
//!    end of a word, so folding gains recall and the keyword is folded the same way);
//!    Arabic-Indic and Extended Arabic-Indic digits → 0-9.
//! 6. **Traditional → simplified Chinese** (東 → 东, 蘭 → 兰) with OpenCC (crate
//!    `ferrous-opencc`): its phrase-aware conversion of each run of Han characters where that
//!    keeps the run's length (回覆 → 回复), then its character table; either way every output
//!    character still maps to the one traditional character it came from.
//! 7. **Whitespace** runs become one space.
//!
//! Not done yet: Greek look-alikes, a loose fold for Kazakh/Kyrgyz/Tajik letters typed on a
//! Russian keyboard.

mod t2s;

pub(crate) use t2s::{han_form, HanForm};

use std::ops::{ControlFlow, Range};
use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// Normalised text and the way back from each of its bytes to the byte range of the original
/// text it came from (the whole NFKC cluster, so always on char boundaries).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Normalized {
    pub text: String,
    /// Pieces of `text`, in order, each starting where the previous one ends (see [`Piece`]).
    /// Most text is one long parallel piece, so the map costs nothing per byte.
    pieces: Vec<Piece>,
}

/// A run of the normalised text from `norm` to the next piece (or the end). Either
/// *parallel* (`src_end == PARALLEL`): every character of it came from a source character
/// of the same byte length, one after the other from `src`, so a byte's source is found by
/// its offset; or *whole*: every byte of it came from the source range `src..src_end` (a
/// character whose length changed, the characters of one expanded cluster, a whitespace run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    norm: usize,
    src: usize,
    src_end: usize,
}

const PARALLEL: usize = usize::MAX;

impl Normalized {
    /// The original byte range behind a non-empty normalised byte range. Characters removed
    /// between the two ends (zero-width, tatweel) fall inside; ones removed at the very edges
    /// are left out.
    pub fn source_range(&self, norm: Range<usize>) -> Range<usize> {
        debug_assert!(norm.start < norm.end && norm.end <= self.text.len());
        self.source_of(norm.start).start..self.source_of(norm.end - 1).end
    }

    /// The original byte range that produced normalised byte `i` (every byte of one
    /// normalised character has the same).
    pub fn source_of(&self, i: usize) -> Range<usize> {
        let p = self.pieces[self.pieces.partition_point(|p| p.norm <= i) - 1];
        if p.src_end != PARALLEL {
            return p.src..p.src_end;
        }
        let mut start = i;
        while !self.text.is_char_boundary(start) {
            start -= 1;
        }
        let len = self.text[start..].chars().next().map_or(1, char::len_utf8);
        let at = p.src + (start - p.norm);
        at..at + len
    }

    /// Appends `c`, which came from the source range `src`.
    #[inline]
    fn push(&mut self, c: char, src: Range<usize>, run: &mut ParallelEnd) {
        let at = self.text.len();
        let len = c.len_utf8();
        self.text.push(c);
        if len == src.end - src.start {
            if run.norm == at && run.src == src.start {
                // Continues the parallel piece: nothing to record.
            } else {
                self.pieces.push(Piece {
                    norm: at,
                    src: src.start,
                    src_end: PARALLEL,
                });
            }
            *run = ParallelEnd {
                norm: at + len,
                src: src.end,
            };
        } else {
            // Several characters of one cluster share one piece.
            let same = self
                .pieces
                .last()
                .is_some_and(|p| p.src == src.start && p.src_end == src.end);
            if !same {
                self.pieces.push(Piece {
                    norm: at,
                    src: src.start,
                    src_end: src.end,
                });
            }
            *run = ParallelEnd::NONE;
        }
    }

    /// Widens the source of the last character (a space, one byte) to end at `end`.
    fn widen_last(&mut self, end: usize, run: &mut ParallelEnd) {
        let at = self.text.len() - 1;
        let last = self.pieces.last_mut().expect("a character was pushed");
        // Where the space came from: by its offset in a parallel piece, or the piece's
        // whole range (the space was one of the characters of an expanded cluster).
        let src = if last.src_end == PARALLEL {
            last.src + (at - last.norm)
        } else {
            last.src
        };
        if last.norm == at {
            *last = Piece {
                norm: at,
                src,
                src_end: end,
            };
        } else {
            self.pieces.push(Piece {
                norm: at,
                src,
                src_end: end,
            });
        }
        *run = ParallelEnd::NONE;
    }

    /// Cuts the text (and the map) back to `len` bytes, a char boundary.
    fn truncate(&mut self, len: usize, run: &mut ParallelEnd) {
        self.text.truncate(len);
        while self.pieces.last().is_some_and(|p| p.norm >= len) {
            self.pieces.pop();
        }
        *run = match self.pieces.last() {
            Some(p) if p.src_end == PARALLEL => ParallelEnd {
                norm: len,
                src: p.src + (len - p.norm),
            },
            _ => ParallelEnd::NONE,
        };
    }
}

/// Where the last parallel piece ends, in the output and in the source: a character that
/// continues both extends it.
#[derive(Clone, Copy)]
struct ParallelEnd {
    norm: usize,
    src: usize,
}

impl ParallelEnd {
    const NONE: ParallelEnd = ParallelEnd {
        norm: usize::MAX,
        src: usize::MAX,
    };
}

/// Normalises `text` for matching (see the module documentation for the steps).
pub fn normalize(text: &str) -> Normalized {
    // One pass: each character NFKC'd and kept or dropped (steps 1–2), then written out
    // folded (steps 4–7). A word is only kept aside (re-read from the source) once it turns
    // out to mix Latin and Cyrillic; it is then folded (step 3) and written again.
    let mut w = Writer {
        source: text,
        out: Normalized {
            text: String::with_capacity(text.len()),
            pieces: Vec::new(),
        },
        run: ParallelEnd::NONE,
        in_space: false,
        word_chars: 0,
        word_start: 0,
        word_src: 0,
        word_skip: 0,
        word: Vec::new(),
        mixed: false,
        scripts: [false; 2],
        phrases: Vec::new(),
        phrases_done: 0,
    };
    for_each_kept(text, 0, |c, src, nth| {
        w.feed(c, src, nth);
        ControlFlow::Continue(())
    });
    w.end_word();
    w.out
}

/// The output being written, and the word being read.
struct Writer<'a> {
    source: &'a str,
    out: Normalized,
    run: ParallelEnd,
    in_space: bool,
    /// Characters of the current word so far (0: not in a word).
    word_chars: usize,
    /// Where the current word starts in the output…
    word_start: usize,
    /// …and in the source: the start of its first character's cluster, and how many kept
    /// characters of that cluster come before it.
    word_src: usize,
    word_skip: usize,
    /// The current word's characters (before steps 4–7) and where each came from; only
    /// filled once the word mixes the scripts (`mixed`).
    word: Vec<(char, Range<usize>)>,
    mixed: bool,
    /// Whether the current word has Latin, Cyrillic letters.
    scripts: [bool; 2],
    /// Step 6's phrase fold: (byte offset in the source, simplified char), sorted, for the
    /// runs of Han characters met so far; `phrases_done` is where the last run ended.
    phrases: Vec<(usize, char)>,
    phrases_done: usize,
}

/// The characters OpenCC's phrase table simplifies differently from its character table,
/// for the run of Han characters of `text` that starts at `start`, by their byte offset in
/// `text`; returns where the run ends. Han characters are NFKC-stable, so the offset is that
/// of the character in the normalised stream too.
fn phrase_folds(text: &str, start: usize, out: &mut Vec<(usize, char)>) -> usize {
    let end = text[start..]
        .char_indices()
        .find(|&(_, c)| !t2s::in_han_blocks(c))
        .map_or(text.len(), |(i, _)| start + i);
    let run = &text[start..end];
    // Up to the first character that begins a phrase, OpenCC converts character by
    // character, which the character table does too (see `t2s::phrase_part`).
    let from = if reference_path() {
        Some(0)
    } else {
        t2s::phrase_part(run)
    };
    let Some(from) = from else {
        return end;
    };
    let (start, run) = (start + from, &run[from..]);
    if run.chars().nth(1).is_some() {
        if let Some(folded) = t2s::phrase_fold(run) {
            for ((i, c), f) in run.char_indices().zip(folded) {
                if c != f {
                    out.push((start + i, f));
                }
            }
        }
    }
    end
}

// Tests compare the fold as it is with the way it was (OpenCC's phrase conversion on whole
// runs of Han characters; ASCII through the general path), which must give the same.
#[cfg(test)]
thread_local! {
    static REFERENCE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(test)]
fn reference_path() -> bool {
    REFERENCE.with(std::cell::Cell::get)
}

#[cfg(not(test))]
#[inline(always)]
fn reference_path() -> bool {
    false
}

/// [`normalize`] the way it was before [`t2s::phrase_part`] and [`Writer::feed_ascii`],
/// for the tests that show the two agree.
#[cfg(test)]
pub(crate) fn normalize_reference(text: &str) -> Normalized {
    REFERENCE.with(|w| w.set(true));
    let out = normalize(text);
    REFERENCE.with(|w| w.set(false));
    out
}

impl Writer<'_> {
    /// One kept character, the `nth` kept one of its cluster.
    #[inline]
    fn feed(&mut self, c: char, src: Range<usize>, nth: usize) {
        if c.is_ascii() && !reference_path() {
            self.feed_ascii(c as u8, src, nth);
            return;
        }
        // The basic Cyrillic and Arabic letters, most of the text after ASCII: a letter of a
        // word, and steps 4–7 come down to an offset or `fold_letter`.
        let u = c as u32;
        let fast = match u {
            0x410..=0x42F => Some((Some(Script::Cyrillic), char::from_u32(u + 0x20))),
            0x430..=0x44F => Some((Some(Script::Cyrillic), Some(c))),
            0x621..=0x63F | 0x641..=0x64A => Some((None, Some(fold_letter(c)))),
            _ => None,
        };
        if let Some((script, Some(folded))) = fast {
            self.letter(c, script, &src, nth);
            self.in_space = false;
            self.out.push(folded, src, &mut self.run);
            return;
        }
        if is_alphanumeric(c) {
            self.letter(c, script_of(c), &src, nth);
        } else if self.word_chars > 0 {
            self.end_word();
        }
        self.emit(c, src);
    }

    /// [`Writer::feed`] for an ASCII character, what most of a page is: a letter or digit
    /// of a word, a space, or punctuation, whose steps 4–7 are at most a lower-casing.
    #[inline]
    fn feed_ascii(&mut self, b: u8, src: Range<usize>, nth: usize) {
        if b.is_ascii_alphanumeric() {
            let script = b.is_ascii_alphabetic().then_some(Script::Latin);
            self.letter(b as char, script, &src, nth);
            self.in_space = false;
            self.out
                .push(b.to_ascii_lowercase() as char, src, &mut self.run);
            return;
        }
        if self.word_chars > 0 {
            self.end_word();
        }
        if b.is_ascii_whitespace() || b == 0x0B {
            self.space(src);
        } else {
            self.in_space = false;
            self.out.push(b as char, src, &mut self.run);
        }
    }

    /// Word bookkeeping for a letter or digit.
    #[inline]
    fn letter(&mut self, c: char, script: Option<Script>, src: &Range<usize>, nth: usize) {
        if self.word_chars == 0 {
            self.word_start = self.out.text.len();
            self.word_src = src.start;
            self.word_skip = nth;
        }
        if let Some(s) = script {
            self.scripts[s as usize] = true;
            if !self.mixed && self.scripts == [true, true] {
                self.reread_word();
            }
        }
        if self.mixed {
            self.word.push((c, src.clone()));
        }
        self.word_chars += 1;
    }

    /// The word turned out to mix the scripts: its characters so far, as they were before
    /// steps 4–7, read again from the source (the clusters from its start are the same).
    #[cold]
    fn reread_word(&mut self) {
        self.mixed = true;
        self.word.clear();
        let (mut skip, want) = (self.word_skip, self.word_chars);
        let word = &mut self.word;
        if want > 0 {
            for_each_kept(self.source, self.word_src, |c, src, _| {
                if skip > 0 {
                    skip -= 1;
                    return ControlFlow::Continue(());
                }
                word.push((c, src));
                if word.len() == want {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
        }
    }

    /// Step 3 for the word just read: if it mixes the scripts, it is folded and written
    /// again over its first writing.
    fn end_word(&mut self) {
        if self.mixed {
            let mut word = std::mem::take(&mut self.word);
            fold_word(&mut word);
            self.out.truncate(self.word_start, &mut self.run);
            for (c, src) in word.drain(..) {
                self.emit(c, src);
            }
            self.word = word;
            self.mixed = false;
        }
        self.word_chars = 0;
        self.scripts = [false; 2];
    }

    /// Steps 4–7 for one character.
    #[inline]
    fn emit(&mut self, c: char, src: Range<usize>) {
        if c.is_ascii() {
            if c.is_ascii_whitespace() || c == '\u{0B}' {
                self.space(src);
            } else {
                self.in_space = false;
                self.out.push(c.to_ascii_lowercase(), src, &mut self.run);
            }
            return;
        }
        if c.is_whitespace() {
            self.space(src);
            return;
        }
        self.in_space = false;
        if t2s::in_han_blocks(c) {
            // Han has no case and no other fold; each simplified char maps to the source.
            if src.start >= self.phrases_done {
                self.phrases_done = phrase_folds(self.source, src.start, &mut self.phrases);
            }
            let c = match self.phrases.binary_search_by_key(&src.start, |p| p.0) {
                Ok(i) if src.end - src.start == c.len_utf8() => self.phrases[i].1,
                _ => c,
            };
            if let Some(simple) = t2s::simplified(c) {
                for s in simple.chars() {
                    self.out.push(s, src.clone(), &mut self.run);
                }
                return;
            }
            self.out.push(c, src, &mut self.run);
            return;
        }
        self.out.push(fold_letter(lower(c)), src, &mut self.run);
    }

    fn space(&mut self, src: Range<usize>) {
        if self.in_space {
            // Widen the single space over the whole run.
            self.out.widen_last(src.end, &mut self.run);
        } else {
            self.out.push(' ', src, &mut self.run);
            self.in_space = true;
        }
    }
}

/// Steps 1 and 2: NFKC per cluster, then what carries no meaning for matching dropped;
/// `f(char, source range, n)` for every character kept, the `n`th kept one of its cluster,
/// from the cluster that starts at byte `from` on, until `f` breaks.
pub(crate) fn for_each_kept(
    text: &str,
    from: usize,
    mut f: impl FnMut(char, Range<usize>, usize) -> ControlFlow<()>,
) {
    let keep = |c: char| !is_format(c) && !is_arabic_mark(c);
    let bytes = text.as_bytes();
    let mut iter = text[from..].char_indices().map(|(j, c)| (from + j, c));
    // One character of look-ahead, with whether it is NFKC-stable (worked out once).
    let mut next = iter.next().map(|(j, c)| (j, c, nfkc_stable(c)));
    while let Some((i, c, stable)) = next {
        next = iter.next().map(|(j, c)| (j, c, nfkc_stable(c)));
        if c.is_ascii() && bytes.get(i + 1).is_none_or(|b| b.is_ascii()) {
            // ASCII followed by ASCII: a cluster of its own, stable, never dropped.
            if f(c, i..i + 1, 0).is_break() {
                return;
            }
            continue;
        }
        // The cluster runs until the next character that can start one.
        let mut end = i + c.len_utf8();
        while let Some((j, d, d_stable)) = next {
            if d_stable || starts_cluster(d) {
                break;
            }
            end = j + d.len_utf8();
            next = iter.next().map(|(j, c)| (j, c, nfkc_stable(c)));
        }
        if end - i == c.len_utf8() && stable {
            // A character on its own that NFKC leaves as it is.
            if keep(c) && f(c, i..end, 0).is_break() {
                return;
            }
        } else {
            let mut nth = 0;
            for n in text[i..end].nfkc() {
                if keep(n) {
                    if f(n, i..end, nth).is_break() {
                        return;
                    }
                    nth += 1;
                }
            }
        }
    }
}

/// A character that NFKC never combines with what precedes it.
#[inline]
fn starts_cluster(c: char) -> bool {
    if nfkc_stable(c) {
        return true;
    }
    canonical_combining_class(c) == 0 && is_nfkc_quick(std::iter::once(c)) != IsNormalized::Maybe
}

/// Characters of the common blocks that NFKC leaves alone, that start a cluster, and that
/// nothing before them combines with: no table lookup needed. (The two lookups per
/// character this saves were most of the time of normalising Russian, Arabic or Chinese.)
/// Kept to what the Unicode data says for the whole range: NFKC_QC=Yes and ccc=0, and not
/// a second part of a composition (those are NFC_QC=Maybe).
#[inline(always)]
pub(crate) fn nfkc_stable(c: char) -> bool {
    // ASCII and the basic Cyrillic, Arabic and Han letters first, inline: every character
    // is looked at here once, and most are of those.
    let u = c as u32;
    u < 0x80
        || (0x400..=0x482).contains(&u)
        || (0x621..=0x64A).contains(&u)
        || (0x4E00..=0x9FFF).contains(&u)
        || nfkc_stable_listed(c)
}

/// [`nfkc_stable`] by the full list of ranges (which includes the shortcut's).
#[inline(never)]
fn nfkc_stable_listed(c: char) -> bool {
    matches!(c as u32,
        0x00..=0x7F | 0xA1..=0xA7 | 0xA9 | 0xAB | 0xAC | 0xAE | 0xB0 | 0xB1 | 0xB6 | 0xB7 | 0xBB
        | 0x60C | 0x61B | 0x61F | 0x6D4 | 0x2010 | 0x2012..=0x2016 | 0x2018..=0x2023 | 0x2030
        | 0x3001..=0x3003 | 0x3008..=0x3011 | 0xC0..=0x131 | 0x134..=0x13E | 0x141..=0x148 | 0x14A..=0x17E
        | 0x400..=0x482 | 0x48A..=0x52F | 0x621..=0x64A | 0x660..=0x66F | 0x671..=0x674 | 0x679..=0x6D3
        | 0x6D5 | 0x6E5..=0x6E6 | 0x6EE..=0x6FF | 0x4E00..=0x9FFF)
}

/// General category Cf (Unicode 15.1).
#[inline]
pub(crate) fn is_format(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// Tatweel, harakat and Quranic annotation marks: decoration, or optional vowels.
#[inline]
pub(crate) fn is_arabic_mark(c: char) -> bool {
    matches!(c as u32,
        0x0610..=0x061A | 0x0640 | 0x064B..=0x065F | 0x0670 | 0x06D6..=0x06DC
        | 0x06DF..=0x06E8 | 0x06EA..=0x06ED | 0x08CA..=0x08E1 | 0x08E3..=0x08FF)
}

#[inline]
fn lower(c: char) -> char {
    match c {
        // Turkish dotted capital and dotless small i: plain i, or "ISIS" would not match.
        'İ' | 'ı' => 'i',
        'ς' => 'σ',
        _ if c.is_ascii() => c.to_ascii_lowercase(),
        // Cyrillic capitals; then the blocks without case (Arabic, Han) and small Cyrillic.
        'А'..='Я' => char::from_u32(c as u32 + 0x20).unwrap_or(c),
        'Ѐ'..='Џ' => char::from_u32(c as u32 + 0x50).unwrap_or(c),
        'а'..='я' | '\u{0600}'..='\u{06FF}' | '\u{4E00}'..='\u{9FFF}' => c,
        // General punctuation (dashes, quotes): no case.
        '\u{2000}'..='\u{206F}' => c,
        // Accented Latin, Greek, the rest of Cyrillic: a table made by `lower_by_rule`.
        _ if (c as u32) < LOWER_TABLE_END => lower_table()[c as usize],
        _ => lower_by_rule(c),
    }
}

/// The characters below this go through [`lower_table`].
const LOWER_TABLE_END: u32 = 0x530;

/// [`lower_by_rule`] for every character below [`LOWER_TABLE_END`], looked up instead of
/// searched for in the standard library's case tables (the search was 1.4 % of
/// classifying: French, German and Turkish letters, Kazakh and Ukrainian ones).
fn lower_table() -> &'static [char] {
    static TABLE: std::sync::OnceLock<Vec<char>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (0..LOWER_TABLE_END)
            .map(|u| char::from_u32(u).map_or('\0', lower_by_rule))
            .collect()
    })
}

/// `c`'s lower case when it is one character, otherwise `c`.
fn lower_by_rule(c: char) -> char {
    let mut l = c.to_lowercase();
    // Only İ lower-cases to more than one char, and it is handled above.
    match (l.next(), l.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

#[inline]
fn fold_letter(c: char) -> char {
    match c {
        'ی' | 'ى' | 'ے' => 'ي',
        'ک' => 'ك',
        'ہ' | 'ە' | 'ۀ' | 'ۂ' | 'ة' => 'ه',
        'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
        '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
        '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
        _ => c,
    }
}

/// The two scripts whose look-alike letters are resolved.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Script {
    Latin,
    Cyrillic,
}

pub(crate) use Script as LookAlikeScript;

#[inline]
fn script_of(c: char) -> Option<Script> {
    match c as u32 {
        0x41..=0x5A | 0x61..=0x7A | 0xC0..=0xD6 | 0xD8..=0xF6 | 0xF8..=0x24F | 0x1E00..=0x1EFF => {
            Some(Script::Latin)
        }
        0x400..=0x52F => Some(Script::Cyrillic),
        _ => None,
    }
}

/// Case-aware Latin ↔ Cyrillic look-alikes, as (Latin, Cyrillic).
const LOOK_ALIKES: [(char, char); 31] = [
    ('A', 'А'),
    ('B', 'В'),
    ('C', 'С'),
    ('E', 'Е'),
    ('H', 'Н'),
    ('I', 'І'),
    ('J', 'Ј'),
    ('K', 'К'),
    ('M', 'М'),
    ('O', 'О'),
    ('P', 'Р'),
    ('S', 'Ѕ'),
    ('T', 'Т'),
    ('X', 'Х'),
    ('Y', 'У'),
    ('a', 'а'),
    ('c', 'с'),
    ('e', 'е'),
    ('h', 'һ'),
    ('i', 'і'),
    ('j', 'ј'),
    ('k', 'к'),
    ('o', 'о'),
    ('p', 'р'),
    ('s', 'ѕ'),
    ('x', 'х'),
    ('y', 'у'),
    ('ë', 'ё'),
    ('Ë', 'Ё'),
    ('Ï', 'Ї'),
    ('ï', 'ї'),
];

/// The look-alike of `c` in the other script, if any.
fn look_alike(c: char, to: Script) -> Option<char> {
    match to {
        Script::Cyrillic => LOOK_ALIKES.iter().find(|p| p.0 == c).map(|p| p.1),
        Script::Latin => LOOK_ALIKES.iter().find(|p| p.1 == c).map(|p| p.0),
    }
}

fn other(s: Script) -> Script {
    match s {
        Script::Latin => Script::Cyrillic,
        Script::Cyrillic => Script::Latin,
    }
}

/// A letter, digit or mark inside a word, without `char::is_alphanumeric`'s table search
/// for the common blocks (it was a fifth of the time of normalising Arabic or Chinese).
#[inline]
fn is_alphanumeric(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    match c as u32 {
        0x660..=0x669 | 0x6F0..=0x6F9 => true,
        _ => crate::langid::prepare::script_of(c).is_some() || c.is_numeric(),
    }
}

fn fold_word(word: &mut [(char, Range<usize>)]) {
    let mut letters: Vec<char> = word.iter().map(|(c, _)| *c).collect();
    if fold_look_alikes(&mut letters) {
        for ((c, _), l) in word.iter_mut().zip(letters) {
            *c = l;
        }
    }
}

/// Step 3 on one word (a run of letters and digits): when it mixes Latin and Cyrillic, its
/// look-alike letters are turned into the word's own script. Returns whether it changed
/// anything. Shared with language ID, which must see "Poccия" as Russian too.
pub(crate) fn fold_look_alikes(word: &mut [char]) -> bool {
    // [Latin, Cyrillic] counts of all letters; most words have one script and stop here.
    let mut all = [0usize; 2];
    for s in word.iter().filter_map(|c| script_of(*c)) {
        all[s as usize] += 1;
    }
    if all[0] == 0 || all[1] == 0 {
        return false;
    }
    // A mixed word: count the letters without a look-alike too.
    let mut own = [0usize; 2];
    for c in word.iter() {
        if let Some(s) = script_of(*c).filter(|&s| look_alike(*c, other(s)).is_none()) {
            own[s as usize] += 1;
        }
    }
    let target = match own[0].cmp(&own[1]).then(all[0].cmp(&all[1])) {
        std::cmp::Ordering::Greater => Script::Latin,
        std::cmp::Ordering::Less => Script::Cyrillic,
        std::cmp::Ordering::Equal => return false,
    };
    convert_look_alikes(word, target)
}

/// Turns every letter of `word` that has a look-alike in `to` into it (a word typed wholly
/// in look-alikes of the other script: "coc" in a Russian text). Returns whether anything
/// changed.
pub(crate) fn convert_look_alikes(word: &mut [char], to: LookAlikeScript) -> bool {
    let mut changed = false;
    for c in word.iter_mut() {
        if script_of(*c) == Some(other(to)) {
            if let Some(t) = look_alike(*c, to) {
                *c = t;
                changed = true;
            }
        }
    }
    changed
}

/// Whether every letter of `word` is Latin or Cyrillic and has a look-alike in the other
/// script; `Some(script)` of those letters when they are all of one script.
pub(crate) fn all_look_alikes(word: &[char]) -> Option<LookAlikeScript> {
    let mut from = None;
    for &c in word {
        let s = script_of(c)?;
        if *from.get_or_insert(s) != s || look_alike(c, other(s)).is_none() {
            return None;
        }
    }
    from
}

/// For a normalised keyword written wholly in look-alike letters of one script, the same
/// keyword spelled in the other script ("isis" → "іѕіѕ"). Such a word in a document is not
/// mixed, so step 3 cannot catch it; the classifier searches for both spellings instead.
pub(crate) fn look_alike_variant(normalized: &str) -> Option<String> {
    let mut from = None;
    let mut out = String::with_capacity(normalized.len() * 2);
    for c in normalized.chars() {
        match script_of(c) {
            None => out.push(c),
            Some(s) => {
                if *from.get_or_insert(s) != s {
                    return None;
                }
                // A letter without a look-alike (l, т) means no variant.
                out.push(look_alike(c, other(s))?);
            }
        }
    }
    from.map(|_| out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The source range of every normalised byte.
    fn map_of(n: &Normalized) -> Vec<Range<usize>> {
        (0..n.text.len()).map(|i| n.source_of(i)).collect()
    }

    /// Normalises `original`, finds `needle` (normalised) in it, and returns the original
    /// slice it maps back to.
    fn find_back<'a>(original: &'a str, needle: &str) -> Option<&'a str> {
        let n = normalize(original);
        let k = normalize(needle).text;
        let at = n.text.find(&k)?;
        Some(&original[n.source_range(at..at + k.len())])
    }

    #[test]
    fn map_covers_every_byte_on_char_boundaries() {
        let s = "Ａ\u{200B}ـبَ ﻻ  x\u{0301}İ";
        let n = normalize(s);
        for i in 0..n.text.len() {
            let r = n.source_of(i);
            assert!(s.is_char_boundary(r.start) && s.is_char_boundary(r.end) && r.start < r.end);
        }
    }

    #[test]
    fn the_lower_case_shortcuts_are_the_rule() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let want = match c {
                'İ' | 'ı' => 'i',
                'ς' => 'σ',
                _ => lower_by_rule(c),
            };
            assert_eq!(lower(c), want, "{c:?}");
        }
    }

    #[test]
    fn the_stable_ranges_are_stable() {
        // The inline shortcut says nothing the full list does not.
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            assert_eq!(
                nfkc_stable(c),
                c.is_ascii() || nfkc_stable_listed(c),
                "{c:?}"
            );
        }
        for c in (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|&c| nfkc_stable(c))
        {
            assert_eq!(canonical_combining_class(c), 0, "{c:?}");
            assert_eq!(
                is_nfkc_quick(std::iter::once(c)),
                IsNormalized::Yes,
                "{c:?}"
            );
            let n: String = c.to_string().nfkc().collect();
            assert_eq!(n, c.to_string(), "{c:?}");
        }
    }

    #[test]
    fn steps_table() {
        let cases = [
            ("ＩＳＩＳ", "isis"),
            ("İSTANBUL ıslam", "istanbul islam"),
            ("Poccия", "россия"),
            ("ТЕPPОР", "террор"),
            ("Islamic\u{00A0}\t\n State", "islamic state"),
            ("دا\u{200B}عش", "داعش"),
            ("داعـــش", "داعش"),
            ("دَاعِشٌ", "داعش"),
            ("ﻻ", "لا"),
            ("ﷲ", "الله"),
            ("ی ى ے ي", "ي ي ي ي"),
            ("ک ك", "ك ك"),
            ("ہ ە ۀ ه ة", "ه ه ه ه ه"),
            ("أ إ آ ٱ", "ا ا ا ا"),
            ("٢٠٢٦ ۲۰۲۶", "2026 2026"),
            ("ΟΔΟΣ", "οδοσ"),
            ("so\u{00AD}ft \u{202E}bidi\u{202C}", "soft bidi"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input).text, want, "input {input:?}");
        }
    }

    #[test]
    fn plain_words_of_one_script_are_left_alone() {
        // Real Latin and Russian words with look-alike letters only must not flip script.
        assert_eq!(normalize("cocoa сосна").text, "cocoa сосна");
        // A tie on both counts: left as it is.
        assert_eq!(normalize("aа").text, "aа");
    }

    #[test]
    fn zero_width_inside_a_term_maps_back() {
        let s = "Report: Is\u{200B}lamic St\u{200D}ate claimed";
        assert_eq!(
            find_back(s, "Islamic State"),
            Some("Is\u{200B}lamic St\u{200D}ate")
        );
    }

    #[test]
    fn tatweel_and_harakat_map_back() {
        let s = "بيان من داعـــشٌ اليوم";
        assert_eq!(find_back(s, "داعش"), Some("داعـــشٌ"));
    }

    #[test]
    fn presentation_forms_map_back() {
        // ﻻ (U+FEFB) is one original char that becomes two letters.
        let s = "قال ﻻ شيء";
        let n = normalize(s);
        let at = n.text.find("لا").unwrap();
        assert_eq!(&s[n.source_range(at..at + "لا".len())], "ﻻ");
        // Half of the ligature maps to the whole original char.
        assert_eq!(&s[n.source_range(at..at + "ل".len())], "ﻻ");
    }

    #[test]
    fn persian_and_arabic_letters_meet() {
        // Persian keheh and farsi yeh in the text; Arabic kaf and yeh in the keyword.
        let s = "خبر درباره کشور ایران";
        assert_eq!(find_back(s, "كشور"), Some("کشور"));
        assert_eq!(find_back(s, "ايران"), Some("ایران"));
    }

    #[test]
    fn full_width_turkish_and_mixed_script_map_back() {
        let s = "the ＩＳＩＳ group";
        assert_eq!(find_back(s, "isis"), Some("ＩＳＩＳ"));
        let s = "İSİD açıklaması";
        assert_eq!(find_back(s, "isid"), Some("İSİD"));
        let s = "новости: Poccия и мир";
        assert_eq!(find_back(s, "Россия"), Some("Poccия"));
    }

    #[test]
    fn pieces_of_the_map_join_up() {
        // An expanded cluster that starts with a space (¨ is " ̈") followed by more
        // whitespace, a length-changing fold (İ), a mixed word read again from the source
        // after a combining mark and a zero-width character, and a word starting inside a
        // cluster (½ is "1⁄2").
        let s = "a\u{00A8} \t b İx Pо\u{0301}c\u{200B}cия ½Poccия";
        let n = normalize(s);
        assert_eq!(n.text, "a \u{0308} b ix ро\u{0301}ссия 1⁄2россия");
        let map = map_of(&n);
        let src: Vec<&str> = map.iter().map(|r| &s[r.clone()]).collect();
        assert_eq!(src[1], "\u{00A8}");
        assert_eq!(src[2], "\u{00A8}");
        assert_eq!(src[4], " \t ");
        assert_eq!(src[7], "İ");
        assert_eq!(find_back(s, "россия"), Some("Poccия"));
        assert_eq!(
            find_back(s, "ро\u{0301}ссия"),
            Some("Pо\u{0301}c\u{200B}cия")
        );
        assert_eq!(find_back(s, "2россия"), Some("½Poccия"));
        // The map is a handful of pieces, not an entry per byte.
        assert!(n.pieces.len() < 20, "{:?}", n.pieces);
        let plain = normalize(&"Обычный русский текст без сюрпризов. ".repeat(50));
        assert_eq!(plain.pieces.len(), 1);
    }

    #[test]
    fn whitespace_runs_map_to_the_whole_run() {
        let s = "a \t\n b";
        let n = normalize(s);
        assert_eq!(n.text, "a b");
        assert_eq!(n.source_of(1), 1..5);
    }

    #[test]
    fn variants() {
        assert_eq!(look_alike_variant("isis").as_deref(), Some("іѕіѕ"));
        assert_eq!(look_alike_variant("сос").as_deref(), Some("coc"));
        assert_eq!(look_alike_variant("islamic state"), None);
        assert_eq!(look_alike_variant("داعش"), None);
    }

    #[test]
    fn traditional_chinese_meets_simplified_and_maps_back() {
        let s = "據報道，東突厥斯坦伊斯蘭運動在網上發布了視頻。";
        assert_eq!(
            find_back(s, "东突厥斯坦伊斯兰运动"),
            Some("東突厥斯坦伊斯蘭運動")
        );
        // A traditional keyword meets simplified text too: both sides fold.
        let simple = "据报道，东突厥斯坦伊斯兰运动在网上发布了视频。";
        assert_eq!(
            find_back(simple, "東突厥斯坦伊斯蘭運動"),
            Some("东突厥斯坦伊斯兰运动")
        );
        // Every normalised byte of a folded char maps to that one traditional char.
        let n = normalize("蘭");
        assert_eq!(n.text, "兰");
        assert_eq!(map_of(&n), vec![0..3; 3]);
    }

    #[test]
    fn simplified_text_is_unchanged() {
        // (No full-width comma: NFKC turns that into ",", which is not what is tested here.)
        let s = "外交部发言人今天在记者会上表示双方将在下周继续就贸易问题举行会谈。苎 于";
        let n = normalize(s);
        assert_eq!(n.text, s);
        let identity: Vec<Range<usize>> = s
            .char_indices()
            .flat_map(|(i, c)| std::iter::repeat_n(i..i + c.len_utf8(), c.len_utf8()))
            .collect();
        assert_eq!(map_of(&n), identity);
        // Known: per character, 乾 is always 干, even in simplified 乾隆 (OpenCC's phrase table
        // keeps it there). Keywords fold the same way, so they still meet.
        assert_eq!(find_back("清乾隆年间", "乾隆"), Some("乾隆"));
    }

    #[test]
    fn mixed_text_keeps_its_map_on_char_boundaries() {
        let s = "ＩＳＩＳ與東突\u{200B}厥 Poccия 國際 𠀀 ok";
        let n = normalize(s);
        assert_eq!(n.text, "isis与东突厥 россия 国际 𠀀 ok");
        let map = map_of(&n);
        for (i, r) in map.iter().enumerate() {
            assert!(s.is_char_boundary(r.start) && s.is_char_boundary(r.end) && r.start < r.end);
            // All bytes of one normalised char share one source range.
            if !n.text.is_char_boundary(i) {
                assert_eq!(*r, map[i - 1]);
            }
        }
        assert_eq!(find_back(s, "国际"), Some("國際"));
        assert_eq!(find_back(s, "东突厥"), Some("東突\u{200B}厥"));
        // Folding is idempotent: normalised text normalises to itself.
        assert_eq!(normalize(&n.text).text, n.text);
    }

    #[test]
    fn the_ascii_path_agrees_with_the_general_one() {
        // Every kind of character the fold treats apart, ASCII most often.
        let alphabet: Vec<char> =
            "aAzZ09 \t\n\x0b\r.,-_'İıIiHhPpCcOoEe\u{301}\u{200B}\u{a0}\u{3000}ＩＳｓ\
                                   РрСсОоЕеНнЖжЁё ايیکةـَ٣۳中國回覆ﻻ😀"
                .chars()
                .collect();
        let mut rng = crate::test_rng::Rng(0xD1B5_4A32_D192_ED03u64);
        let mut next = |n: usize| rng.below(n);
        for _ in 0..50_000 {
            let len = next(40);
            let text: String = (0..len)
                .map(|_| {
                    if next(2) == 0 {
                        alphabet[next(24)]
                    } else {
                        alphabet[next(alphabet.len())]
                    }
                })
                .collect();
            let (new, old) = (normalize(&text), normalize_reference(&text));
            assert_eq!(new.text, old.text, "{text:?}");
            assert_eq!(map_of(&new), map_of(&old), "{text:?}");
            assert_eq!(new, old, "{text:?}");
        }
    }
}
