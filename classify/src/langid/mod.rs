//! Language identification: the document's main language (ISO 639-3 code, confidence,
//! script) and the shares of a mixed document.
//!
//! Data flow: raw text → [`prepare`] (NFKC, format characters, tatweel and harakat out,
//! lower case, Latin/Cyrillic look-alikes resolved) → letters counted per script → the main
//! script picks the candidates → [`model`] scores the candidates with character n-gram
//! profiles of our own → the best one, with a confidence from its margin over the runner-up.
//! Scripts we have no profiles for (Greek, Hangul, Japanese kana, Thai, …) go to whatlang.
//!
//! Why not whatlang for everything (measured on `fixtures/langid/heldout.tsv`, see
//! `docs/langid.md`): it has no Pashto, Uyghur, Kazakh, Kyrgyz, Tajik, Mongolian or Cyrillic
//! Uzbek and names them confidently wrong; it confuses Russian with Bulgarian and Urdu with
//! Persian; and at about 200 µs per 2 KB it is four times over our budget. The profiles know
//! every language of LANGUAGES.md, are scored only against the languages of the text's own
//! script, and take a few microseconds.
//!
//! `null` (`None`) rather than a confident wrong answer: under [`MIN_LETTERS`] letters, or
//! when the best language's margin gives a confidence under [`MIN_CONFIDENCE`].

pub mod build;
pub mod eval;
pub mod model;
pub mod prepare;

use crate::normalize::{han_form, HanForm};
use model::{model, Group, Model};
use prepare::{letter_weight, script_of, Script};
pub use prepare::{prepare, prepare_into, CJK_WEIGHT};
use shared::{LanguageGuess, LanguageShare};
use std::ops::Range;

/// Below this many letters (Han and kana count [`CJK_WEIGHT`] each) we do not guess, unless
/// they make [`MIN_WORDS`] words or more; never below [`MIN_LETTERS_IN_WORDS`]. ("ИГИЛ" and
/// "داعش" alone are null; "اس کے", Urdu for "its", is not.)
pub const MIN_LETTERS: usize = 6;
/// See [`MIN_LETTERS`].
pub const MIN_WORDS: usize = 2;
/// See [`MIN_LETTERS`].
pub const MIN_LETTERS_IN_WORDS: usize = 3;
/// Confidence is `1 − exp(−margin / CONFIDENCE_SCALE)`, the margin being the best language's
/// log-likelihood lead (in nats) over the runner-up: a lead of about 3.5 nats is 0.5.
pub const CONFIDENCE_SCALE: f64 = 5.0;
/// Under this confidence there is no answer: the best two languages are about tied.
pub const MIN_CONFIDENCE: f64 = 0.1;
/// Letters scored for one detection; the scores settle long before (the held-out lines are
/// mostly shorter), and a huge page must not cost milliseconds.
pub const MAX_DETECT_LETTERS: usize = 300;
/// Letters scored over all the segments of one document together (each gets its share,
/// and at least [`MIN_SEGMENT_SAMPLE`]).
pub const DOCUMENT_BUDGET_LETTERS: usize = 300;
/// See [`DOCUMENT_BUDGET_LETTERS`].
pub const MIN_SEGMENT_SAMPLE: usize = 40;
/// Bytes of raw text prepared per letter to be scored: enough for four-byte letters, or
/// two-byte ones with spaces and punctuation between words.
pub const BYTES_PER_LETTER: usize = 4;
/// Bytes of a document that are segmented: the shares of a page are those of its first
/// 64 KB.
pub const MAX_IDENTIFY_BYTES: usize = 64 * 1024;
/// A segment shorter than this (in weighted letters) is merged with its neighbour when they
/// share a script.
pub const MIN_SEGMENT_LETTERS: usize = 40;
/// A run of another script shorter than this (weighted letters) stays in its neighbour's
/// segment.
pub const MIN_RUN_LETTERS: usize = 12;
/// At most this many segments are detected for one document; beyond that they are grouped.
pub const MAX_SEGMENTS: usize = 10;
/// Scoring stops early once [`DECISIVE_LETTERS`] letters are scored and the best language
/// leads the runner-up by this many nats: the confidence is then 0.9997 or more (1.0 as
/// reported, to three decimals), and the rest of the sample would have to overturn odds of
/// e⁴⁰ to one. Measured on the held-out lines and their obfuscated copies, and on the bench
/// corpus: not one answer or share changes (with no letter minimum, 265 answers did: lines
/// that open with a few English words were stopped on them), and `language` on a 2 KB
/// document takes about half the time.
pub const DECISIVE_MARGIN: f64 = 40.0;
/// See [`DECISIVE_MARGIN`].
pub const DECISIVE_LETTERS: usize = 100;
const DECISIVE: model::Decisive = model::Decisive {
    min_letters: DECISIVE_LETTERS,
    margin: DECISIVE_MARGIN,
};

/// The main language of a text (raw, as extracted), or `None` when there is too little to
/// tell or the best two candidates are about tied.
pub fn language(text: &str) -> Option<LanguageGuess> {
    sample(text, MAX_DETECT_LETTERS)
}

/// Prepares as much of the start of `text` as `max_letters` letters need, and detects.
fn sample(text: &str, max_letters: usize) -> Option<LanguageGuess> {
    sample_with(text, max_letters, &mut String::new())
}

/// [`sample`], preparing into `scratch`.
fn sample_with(text: &str, max_letters: usize, scratch: &mut String) -> Option<LanguageGuess> {
    let raw = prefix(text, max_letters * BYTES_PER_LETTER);
    prepare_into(raw, scratch);
    detect_prepared(scratch, max_letters)
}

/// Same as [`language`] (the name older callers use).
pub fn detect(text: &str) -> Option<LanguageGuess> {
    language(text)
}

/// Both answers for a document (raw extracted text), preparing the text once. The main
/// language is the one with the largest share, its confidence the letter-weighted mean of
/// its segments'. A document with one segment is detected whole.
pub fn identify(text: &str) -> (Option<LanguageGuess>, Vec<LanguageShare>) {
    // Segments are cut in the raw text (format characters and look-alikes do not make
    // letters of another script long enough to cut a run); only the samples are prepared.
    let mut texts = String::new();
    let mut segs = segments(prefix(text, MAX_IDENTIFY_BYTES), &mut texts);
    if segs.len() > MAX_SEGMENTS {
        let mut grouped = String::with_capacity(texts.len() + MAX_SEGMENTS);
        segs = regroup(segs, &texts, &mut grouped);
        texts = grouped;
    }
    let samples: Vec<(&str, usize)> = (segs.iter())
        .map(|s| (&texts[s.text.clone()], s.letters))
        .collect();
    from_segments(text, &samples)
}

/// [`identify`] once the document is cut into segments, each given as its text (at least
/// what is sampled of it) and its letters.
fn from_segments(
    text: &str,
    segs: &[(&str, usize)],
) -> (Option<LanguageGuess>, Vec<LanguageShare>) {
    if segs.len() <= 1 {
        let guess = language(text);
        let shares = guess
            .iter()
            .map(|g| LanguageShare {
                code: g.code.clone(),
                share: 1.0,
            })
            .collect();
        return (guess, shares);
    }
    let per_segment =
        (DOCUMENT_BUDGET_LETTERS / segs.len()).clamp(MIN_SEGMENT_SAMPLE, MAX_DETECT_LETTERS);
    // Per language: letters, confidence × letters, and the guess with the most letters.
    let mut by_code: Vec<(String, usize, f64, LanguageGuess, usize)> = Vec::new();
    let mut scratch = String::with_capacity(per_segment * BYTES_PER_LETTER);
    for &(seg_text, seg_letters) in segs {
        let Some(g) = sample_with(seg_text, per_segment, &mut scratch) else {
            continue;
        };
        match by_code.iter_mut().find(|e| e.0 == g.code) {
            Some(e) => {
                e.1 += seg_letters;
                e.2 += g.confidence * seg_letters as f64;
                if seg_letters > e.4 {
                    e.3 = g;
                    e.4 = seg_letters;
                }
            }
            None => by_code.push((
                g.code.clone(),
                seg_letters,
                g.confidence * seg_letters as f64,
                g,
                seg_letters,
            )),
        }
    }
    let total: usize = by_code.iter().map(|e| e.1).sum();
    if total == 0 {
        let guess = language(text);
        let shares = guess
            .iter()
            .map(|g| LanguageShare {
                code: g.code.clone(),
                share: 1.0,
            })
            .collect();
        return (guess, shares);
    }
    by_code.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let main = &by_code[0];
    let guess = LanguageGuess {
        confidence: round3(main.2 / main.1 as f64),
        ..main.3.clone()
    };
    let shares = by_code
        .iter()
        .map(|e| LanguageShare {
            code: e.0.clone(),
            share: round3(e.1 as f64 / total as f64),
        })
        .collect();
    (Some(guess), shares)
}

/// The languages of a document (raw extracted text) and their shares by letter count,
/// largest first. Segments are paragraphs and script changes; short ones are merged with a
/// same-script neighbour. Segments too short or too unclear to tell count toward no share.
pub fn languages(text: &str) -> Vec<LanguageShare> {
    identify(text).1
}

/// Letters per script of a prepared text, weighted, over its first `max_letters` letters.
fn script_letters(text: &str, max_letters: usize) -> Vec<(Script, usize)> {
    let mut counts: Vec<(Script, usize)> = Vec::with_capacity(4);
    let mut n = 0;
    for c in text.chars() {
        let Some(s) = script_of(c) else { continue };
        n += 1;
        let w = letter_weight(c);
        match counts.iter_mut().find(|e| e.0 == s) {
            Some(e) => e.1 += w,
            None => counts.push((s, w)),
        }
        if n >= max_letters * 4 {
            break;
        }
    }
    counts
}

/// [`language`] with other profiles than the compiled-in ones (for comparing training
/// choices: `examples/langid_dev.rs`).
pub fn language_with(model: &Model, text: &str) -> Option<LanguageGuess> {
    let raw = prefix(text, MAX_DETECT_LETTERS * BYTES_PER_LETTER);
    detect_prepared_with(model, &prepare(raw), MAX_DETECT_LETTERS)
}

/// The detector on prepared text, scoring at most `max_letters` letters.
pub fn detect_prepared(text: &str, max_letters: usize) -> Option<LanguageGuess> {
    detect_prepared_with(model(), text, max_letters)
}

fn detect_prepared_with(model: &Model, text: &str, max_letters: usize) -> Option<LanguageGuess> {
    let counts = script_letters(text, max_letters);
    let total: usize = counts.iter().map(|e| e.1).sum();
    if !enough(text, total) {
        return None;
    }
    let count = |s: Script| counts.iter().find(|e| e.0 == s).map_or(0, |e| e.1);
    let (mut main, mut letters) = counts
        .iter()
        .copied()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))?;
    // Kanji and kana: Japanese when kana make up a fifth of them; Chinese otherwise.
    let (han, kana) = (count(Script::Han), count(Script::Kana));
    if matches!(main, Script::Han | Script::Kana) {
        (main, letters) = if kana * 5 >= han + kana {
            (Script::Kana, han + kana)
        } else {
            (Script::Han, han + kana)
        };
    }
    if !enough(text, letters) {
        return None;
    }
    if main == Script::Han {
        return Some(chinese(text, letters, max_letters));
    }
    match model.group(main) {
        Some(group) => from_profiles(group, text, letters, max_letters),
        None => from_whatlang(text),
    }
}

/// Whether `letters` letters of `text` are enough to guess from (see [`MIN_LETTERS`]).
fn enough(text: &str, letters: usize) -> bool {
    if letters >= MIN_LETTERS {
        return true;
    }
    if letters < MIN_LETTERS_IN_WORDS {
        return false;
    }
    let mut words = 0;
    let mut in_word = false;
    for c in text.chars() {
        let w = script_of(c).is_some();
        words += usize::from(w && !in_word);
        in_word = w;
    }
    words >= MIN_WORDS
}

/// Han without (enough) kana is Chinese. Simplified or traditional goes by the characters
/// that exist in only one of the two forms (OpenCC's table): `Hans` or `Hant` when one
/// form has more of them, `Hani` when the text has none or as many of each. (The n-gram
/// profiles, trained on interface strings, got the form of 18 % of the UDHR's traditional
/// sentences wrong; the letter rule none.) The confidence grows with length, as for the
/// other scripts we model one language of.
fn chinese(text: &str, letters: usize, max_letters: usize) -> LanguageGuess {
    let (mut simplified, mut traditional) = (0usize, 0usize);
    for c in text.chars().take(max_letters * 2) {
        match han_form(c) {
            Some(HanForm::Simplified) => simplified += 1,
            Some(HanForm::Traditional) => traditional += 1,
            None => {}
        }
    }
    let script_code = match simplified.cmp(&traditional) {
        std::cmp::Ordering::Greater => "Hans",
        std::cmp::Ordering::Less => "Hant",
        std::cmp::Ordering::Equal => "Hani",
    };
    LanguageGuess {
        code: "cmn".to_string(),
        confidence: round3(length_confidence(letters)),
        script: Script::Han.name().to_string(),
        script_code: script_code.to_string(),
    }
}

/// For a script we model one language of: 0.4 at 5 letters, 0.86 at 20, 0.99 at 50.
fn length_confidence(letters: usize) -> f64 {
    1.0 - (-(letters as f64) / 10.0).exp()
}

fn from_profiles(
    group: &Group,
    text: &str,
    letters: usize,
    max_letters: usize,
) -> Option<LanguageGuess> {
    let (best, confidence) = if group.langs.len() == 1 {
        // One language of its script here (Hindi, Bengali): the confidence grows with length.
        (0, length_confidence(letters))
    } else {
        let scores = group.score_until(text, max_letters, DECISIVE);
        let (best, second) = scores.top2();
        let margin = second.map_or(f64::INFINITY, |s| scores.log_p[best] - scores.log_p[s]);
        (best, 1.0 - (-margin / CONFIDENCE_SCALE).exp())
    };
    if confidence < MIN_CONFIDENCE {
        return None;
    }
    let lang = &group.langs[best];
    Some(LanguageGuess {
        code: lang.code.clone(),
        confidence: round3(confidence),
        script: group.script.name().to_string(),
        script_code: lang.script_code.clone(),
    })
}

/// Scripts we have no profiles for. whatlang looks at 1 KB at most.
fn from_whatlang(text: &str) -> Option<LanguageGuess> {
    let info = whatlang::detect(prefix(text, 1024))?;
    if !info.is_reliable() && info.confidence() < 0.5 {
        return None;
    }
    let script = info.script();
    Some(LanguageGuess {
        // whatlang's codes are ISO 639-3 already.
        code: info.lang().code().to_string(),
        confidence: round3(info.confidence()),
        script: script.name().to_string(),
        script_code: whatlang_iso15924(script).to_string(),
    })
}

fn whatlang_iso15924(s: whatlang::Script) -> &'static str {
    use whatlang::Script as W;
    match s {
        W::Arabic => "Arab",
        W::Armenian => "Armn",
        W::Bengali => "Beng",
        W::Cyrillic => "Cyrl",
        W::Devanagari => "Deva",
        W::Ethiopic => "Ethi",
        W::Georgian => "Geor",
        W::Greek => "Grek",
        W::Gujarati => "Gujr",
        W::Gurmukhi => "Guru",
        W::Hangul => "Hang",
        W::Hebrew => "Hebr",
        W::Hiragana | W::Katakana => "Jpan",
        W::Kannada => "Knda",
        W::Khmer => "Khmr",
        W::Latin => "Latn",
        W::Malayalam => "Mlym",
        W::Mandarin => "Hani",
        W::Myanmar => "Mymr",
        W::Oriya => "Orya",
        W::Sinhala => "Sinh",
        W::Tamil => "Taml",
        W::Telugu => "Telu",
        W::Thai => "Thai",
    }
}

/// A segment keeps about this much of its text: all that [`MAX_DETECT_LETTERS`] need.
const SEGMENT_TEXT_BYTES: usize = MAX_DETECT_LETTERS * BYTES_PER_LETTER;

#[derive(Debug)]
struct Segment {
    /// Where the segment's text is in the buffer of the segments' texts: all of it, or at
    /// least its first [`SEGMENT_TEXT_BYTES`].
    text: Range<usize>,
    script: Option<Script>,
    letters: usize,
}

/// The segments of `text`; their texts are written one after the other into `texts`
/// (one buffer for all: segments of a page were a few kilobytes of allocations each).
fn segments(text: &str, texts: &mut String) -> Vec<Segment> {
    texts.clear();
    texts.reserve(text.len().min(MAX_SEGMENTS * 2 * SEGMENT_TEXT_BYTES));
    let mut out: Vec<Segment> = Vec::new();
    let mut after_blank = false;
    let mut runs = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            after_blank = true;
            continue;
        }
        script_runs(line, &mut runs);
        for &(start, end, script, letters) in &runs {
            let piece = &line[start..end];
            match out.last_mut() {
                // Same script: one paragraph stays one segment; across a blank line only a
                // short piece is merged.
                Some(cur)
                    if cur.script == script
                        && (!after_blank
                            || cur.letters < MIN_SEGMENT_LETTERS
                            || letters < MIN_SEGMENT_LETTERS) =>
                {
                    // Only the start of a segment is ever sampled. (The current segment's
                    // text is the end of the buffer.)
                    if cur.text.len() < SEGMENT_TEXT_BYTES {
                        texts.push('\n');
                        texts.push_str(head(piece));
                        cur.text.end = texts.len();
                    }
                    cur.letters += letters;
                }
                _ => {
                    let at = texts.len();
                    texts.push_str(head(piece));
                    out.push(Segment {
                        text: at..texts.len(),
                        script,
                        letters,
                    })
                }
            }
            after_blank = false;
        }
    }
    out
}

/// The part of a piece a segment keeps: its first [`SEGMENT_TEXT_BYTES`], up to the end of
/// the character that crosses that mark. The samples look at no more (`prefix` of at most
/// that many bytes, which needs to see the character after its cut), and once a segment's
/// text is that long nothing more is appended, so keeping the whole piece would change no
/// sample: it only cost copying every paragraph.
fn head(piece: &str) -> &str {
    let mut end = SEGMENT_TEXT_BYTES.min(piece.len());
    while !piece.is_char_boundary(end) {
        end += 1;
    }
    &piece[..end]
}

/// Too many segments: join each script's segments, in order, in groups, so that every
/// letter still counts and about [`MAX_SEGMENTS`] detections are made. (Sampling would
/// alias with a page that repeats a pattern of languages.) The segments' texts are in
/// `texts`; the groups' are written into `grouped`.
fn regroup(segments: Vec<Segment>, texts: &str, grouped: &mut String) -> Vec<Segment> {
    let size = segments.len().div_ceil(MAX_SEGMENTS);
    // A group: its script, letters and members (indices into `segments`).
    struct Group {
        script: Option<Script>,
        letters: usize,
        members: Vec<usize>,
    }
    let mut done: Vec<Group> = Vec::new();
    // Per script: the group being filled.
    let mut open: Vec<Group> = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        match open.iter_mut().position(|g| g.script == seg.script) {
            Some(k) => {
                let g = &mut open[k];
                g.letters += seg.letters;
                g.members.push(i);
                if g.members.len() == size {
                    done.push(open.swap_remove(k));
                }
            }
            None => {
                let g = Group {
                    script: seg.script,
                    letters: seg.letters,
                    members: vec![i],
                };
                if size == 1 {
                    done.push(g);
                } else {
                    open.push(g);
                }
            }
        }
    }
    done.extend(open);
    grouped.clear();
    done.into_iter()
        .map(|g| {
            let at = grouped.len();
            for (n, &m) in g.members.iter().enumerate() {
                // As when appending one segment to the group's text after another: only
                // while the text is shorter than what is sampled.
                if n > 0 {
                    if grouped.len() - at >= SEGMENT_TEXT_BYTES {
                        break;
                    }
                    grouped.push('\n');
                }
                grouped.push_str(&texts[segments[m].text.clone()]);
            }
            Segment {
                text: at..grouped.len(),
                script: g.script,
                letters: g.letters,
            }
        })
        .collect()
}

/// A line cut where the script changes ("игил — Islamic State" is two pieces), into `runs`
/// as `(start, end, script, weighted letters)`. A run of fewer than [`MIN_RUN_LETTERS`]
/// joins its neighbour, so a brand name does not cut a Russian sentence into pieces too
/// short to tell.
///
/// One pass: a run starts where a letter of another script than the run's comes (the first
/// at the line's start) and ends where the next begins; each finished run is merged at once
/// with the one before it when either is short. Characters that are no letter only extend
/// the run they are in, and ASCII is decided without decoding.
fn script_runs(line: &str, runs: &mut Vec<(usize, usize, Option<Script>, usize)>) {
    runs.clear();
    let bytes = line.as_bytes();
    let (mut start, mut class, mut letters) = (0usize, None::<Script>, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        let at = i;
        let b = bytes[i];
        let k = if b < 0x80 {
            i += 1;
            let alpha = (b | 0x20).wrapping_sub(b'a') < 26;
            // Inside a Latin run (most of a Latin page), counting is all there is to do.
            if class == Some(Script::Latin) {
                letters += usize::from(alpha);
                continue;
            }
            if !alpha {
                continue;
            }
            Script::Latin
        } else {
            let c = line[i..].chars().next().expect("a char boundary");
            i += c.len_utf8();
            match run_class(c) {
                Some(k) => k,
                None => continue,
            }
        };
        if class != Some(k) {
            if class.is_some() {
                merge_run(runs, (start, at, class, letters));
                (start, letters) = (at, 0);
            }
            class = Some(k);
        }
        letters += if k == Script::Han { CJK_WEIGHT } else { 1 };
    }
    merge_run(runs, (start, line.len(), class, letters));
    runs.retain(|r| r.3 > 0);
}

/// Appends run `r` to `runs`, or joins it to the last one when they share a script or
/// either is shorter than [`MIN_RUN_LETTERS`] (the script of the longer one wins).
#[inline]
fn merge_run(
    runs: &mut Vec<(usize, usize, Option<Script>, usize)>,
    r: (usize, usize, Option<Script>, usize),
) {
    match runs.last_mut() {
        Some(prev) if prev.2 == r.2 || prev.3 < MIN_RUN_LETTERS || r.3 < MIN_RUN_LETTERS => {
            if r.3 > prev.3 {
                prev.2 = r.2;
            }
            prev.1 = r.1;
            prev.3 += r.3;
        }
        _ => runs.push(r),
    }
}

/// The script of a letter for cutting runs, with Han and kana as one (Japanese mixes them
/// in every sentence); `None` for anything else.
#[inline]
fn run_class(c: char) -> Option<Script> {
    // Most characters of a page: ASCII letters, spaces and punctuation, basic Cyrillic and
    // Arabic letters, the common Han block (what `script_of` says of them, without its
    // search through the ranges).
    match c as u32 {
        0x41..=0x5A | 0x61..=0x7A => return Some(Script::Latin),
        0..=0x40 | 0x5B..=0x60 | 0x7B..=0x7F => return None,
        0x410..=0x44F => return Some(Script::Cyrillic),
        0x621..=0x64A => return Some(Script::Arabic),
        0x4E00..=0x9FFF => return Some(Script::Han),
        _ => {}
    }
    match script_of(c)? {
        Script::Kana => Some(Script::Han),
        s => Some(s),
    }
}

fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    // Short, harmless news-style samples written for these tests.
    const RUS: &str = "Министерство иностранных дел сообщило сегодня, что переговоры о торговле \
                       продолжатся на следующей неделе в столице.";
    const CMN: &str = "外交部发言人今天在记者会上表示，双方将在下周继续就贸易问题举行会谈。";
    const CMN_HANT: &str = "外交部發言人今天在記者會上表示，雙方將在下週繼續就貿易問題舉行會談。";
    const URD: &str = "وزارت خارجہ کے ترجمان نے آج کہا ہے کہ دونوں ممالک کے درمیان تجارت پر \
                       بات چیت اگلے ہفتے بھی جاری رہے گی اور اس میں کئی وزیر شرکت کریں گے۔";
    const ARA: &str = "قالت وزارة الخارجية اليوم إن المحادثات بشأن التجارة ستستمر الأسبوع \
                       المقبل في العاصمة بمشاركة عدد من الوزراء.";
    const PES: &str = "سخنگوی وزارت امور خارجه امروز گفت که گفتگوها درباره تجارت هفته آینده \
                       در پایتخت ادامه خواهد یافت و چند وزیر نیز در آن شرکت می‌کنند.";
    const ENG: &str = "The foreign ministry said today that talks on trade will continue next \
                       week in the capital, with several ministers taking part.";

    #[test]
    fn detects_each_sample() {
        for (text, code, script) in [
            (RUS, "rus", "Cyrl"),
            (CMN, "cmn", "Hans"),
            (CMN_HANT, "cmn", "Hant"),
            (URD, "urd", "Arab"),
            (ARA, "ara", "Arab"),
            (PES, "pes", "Arab"),
            (ENG, "eng", "Latn"),
        ] {
            let g = language(text).unwrap_or_else(|| panic!("no guess for {code}"));
            assert_eq!(
                (g.code.as_str(), g.script_code.as_str()),
                (code, script),
                "{text}"
            );
            assert!(g.confidence > 0.9 && g.confidence <= 1.0, "{g:?}");
        }
        assert_eq!(language(CMN).unwrap().script, "Mandarin");
        assert_eq!(language(URD).unwrap().script, "Arabic");
    }

    #[test]
    fn obfuscation_does_not_change_the_answer() {
        let zw: String = URD.chars().flat_map(|c| [c, '\u{200B}']).collect();
        assert_eq!(language(&zw).unwrap().code, "urd");
        let tatweel = ARA.replace('ل', "لـــ");
        assert_eq!(language(&tatweel).unwrap().code, "ara");
        let look_alikes = RUS.replace('о', "o").replace('е', "e").replace('а', "a");
        assert_eq!(language(&look_alikes).unwrap().code, "rus");
    }

    #[test]
    fn other_scripts_go_to_whatlang() {
        let ell = "Το υπουργείο εξωτερικών ανακοίνωσε σήμερα ότι οι συνομιλίες θα συνεχιστούν.";
        let g = language(ell).unwrap();
        assert_eq!((g.code.as_str(), g.script_code.as_str()), ("ell", "Grek"));
        let jpn = "外務省の報道官は今日、会談が来週も続くと述べた。";
        assert_eq!(language(jpn).unwrap().code, "jpn");
    }

    #[test]
    fn too_little_text_is_null() {
        assert_eq!(language(""), None);
        assert_eq!(language("ИГИЛ"), None);
        assert_eq!(language("داعش"), None);
        assert_eq!(language("12345 67890 !!! ???"), None);
        assert_eq!(language("\u{200B}\u{200B}ـــ"), None);
        assert_eq!(languages("ИГИЛ"), vec![]);
    }

    #[test]
    fn mixed_document_shares() {
        let doc = format!("{RUS}\n\n{ENG}\n{ENG}\n\n{CMN}");
        let (main, shares) = identify(&doc);
        let codes: Vec<&str> = shares.iter().map(|s| s.code.as_str()).collect();
        assert_eq!(codes, ["eng", "rus", "cmn"], "{shares:?}");
        assert_eq!(main.unwrap().code, "eng");
        let sum: f64 = shares.iter().map(|s| s.share).sum();
        assert!((sum - 1.0).abs() < 0.01);
        assert!(shares.windows(2).all(|w| w[0].share >= w[1].share));
    }

    #[test]
    fn one_line_of_three_scripts_is_three_segments() {
        let doc = format!("{RUS} {ARA} {ENG}");
        let mut codes: Vec<String> = languages(&doc).into_iter().map(|s| s.code).collect();
        codes.sort();
        assert_eq!(codes, ["ara", "eng", "rus"]);
        let para = format!("{RUS} {ARA} {ENG}\n\n").repeat(200);
        assert_eq!(languages(&para).len(), 3, "grouping keeps every language");
        // A short foreign name stays inside its sentence.
        let mut runs = Vec::new();
        script_runs(
            "компания YouTube сообщила сегодня о новых правилах",
            &mut runs,
        );
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].2, Some(Script::Cyrillic));
        // Kanji and kana are one run.
        script_runs("外務省の報道官は今日、会談が来週も続くと述べた", &mut runs);
        assert_eq!(runs.len(), 1, "{runs:?}");
    }

    #[test]
    fn run_classes_agree_with_script_of() {
        for c in (0..0x11000u32).filter_map(char::from_u32) {
            let want = match script_of(c) {
                Some(Script::Kana) => Some(Script::Han),
                s => s,
            };
            assert_eq!(run_class(c), want, "{c:?}");
        }
    }

    #[test]
    fn short_lines_of_one_script_are_merged() {
        // Each line alone is short; together they are a paragraph.
        let doc = "Переговоры продолжатся\nв столице на следующей неделе\nсообщило министерство";
        assert_eq!(segments(doc, &mut String::new()).len(), 1);
        assert_eq!(languages(doc)[0].code, "rus");
    }

    /// The segmentation as it was before it went to one pass and kept only the head of each
    /// piece: the reference the faster one must agree with.
    mod reference {
        use super::super::{run_class, Script, CJK_WEIGHT, MIN_RUN_LETTERS};
        use super::super::{MIN_SEGMENT_LETTERS, SEGMENT_TEXT_BYTES};

        pub(super) struct Segment {
            pub text: String,
            pub script: Option<Script>,
            pub letters: usize,
        }

        pub(super) fn segments(text: &str) -> Vec<Segment> {
            let mut out: Vec<Segment> = Vec::new();
            let mut after_blank = false;
            for line in text.lines() {
                if line.trim().is_empty() {
                    after_blank = true;
                    continue;
                }
                for (piece, script, letters) in script_runs(line) {
                    match out.last_mut() {
                        Some(cur)
                            if cur.script == script
                                && (!after_blank
                                    || cur.letters < MIN_SEGMENT_LETTERS
                                    || letters < MIN_SEGMENT_LETTERS) =>
                        {
                            if cur.text.len() < SEGMENT_TEXT_BYTES {
                                cur.text.push('\n');
                                cur.text.push_str(piece);
                            }
                            cur.letters += letters;
                        }
                        _ => out.push(Segment {
                            text: piece.to_string(),
                            script,
                            letters,
                        }),
                    }
                    after_blank = false;
                }
            }
            out
        }

        pub(super) fn regroup(segments: Vec<Segment>) -> Vec<Segment> {
            let size = segments.len().div_ceil(super::super::MAX_SEGMENTS);
            let mut done = Vec::new();
            let mut open: Vec<(Segment, usize)> = Vec::new();
            for seg in segments {
                match open.iter_mut().position(|(g, _)| g.script == seg.script) {
                    Some(i) => {
                        let (g, n) = &mut open[i];
                        if g.text.len() < SEGMENT_TEXT_BYTES {
                            g.text.push('\n');
                            g.text.push_str(&seg.text);
                        }
                        g.letters += seg.letters;
                        *n += 1;
                        if *n == size {
                            done.push(open.swap_remove(i).0);
                        }
                    }
                    None if size == 1 => done.push(seg),
                    None => open.push((seg, 1)),
                }
            }
            done.extend(open.into_iter().map(|(g, _)| g));
            done
        }

        fn script_runs(line: &str) -> Vec<(&str, Option<Script>, usize)> {
            let mut runs: Vec<(usize, usize, Option<Script>, usize)> = Vec::new();
            for (i, c) in line.char_indices() {
                let end = i + c.len_utf8();
                let class = run_class(c);
                let weight = match class {
                    None => 0,
                    Some(Script::Han) => CJK_WEIGHT,
                    Some(_) => 1,
                };
                match (class, runs.last_mut()) {
                    (None, Some(r)) => r.1 = end,
                    (Some(k), Some(r)) if r.2.is_none() || r.2 == Some(k) => {
                        r.1 = end;
                        r.2 = Some(k);
                        r.3 += weight;
                    }
                    (None, None) => runs.push((i, end, None, 0)),
                    (Some(k), _) => runs.push((i, end, Some(k), weight)),
                }
            }
            let mut merged: Vec<(usize, usize, Option<Script>, usize)> = Vec::new();
            for r in runs {
                match merged.last_mut() {
                    Some(prev)
                        if prev.2 == r.2 || prev.3 < MIN_RUN_LETTERS || r.3 < MIN_RUN_LETTERS =>
                    {
                        if r.3 > prev.3 {
                            prev.2 = r.2;
                        }
                        prev.1 = r.1;
                        prev.3 += r.3;
                    }
                    _ => merged.push(r),
                }
            }
            merged
                .into_iter()
                .filter(|r| r.3 > 0)
                .map(|(s, e, k, n)| (&line[s..e], k, n))
                .collect()
        }
    }

    /// What the detector can see of a segment: its script, its letters, and every sample
    /// `sample` may take of its text (at most [`MAX_DETECT_LETTERS`] letters' worth).
    fn seen(
        script: Option<Script>,
        letters: usize,
        text: &str,
    ) -> (Option<Script>, usize, Vec<&str>) {
        let samples = (MIN_SEGMENT_SAMPLE..=MAX_DETECT_LETTERS)
            .map(|n| prefix(text, n * BYTES_PER_LETTER))
            .collect();
        (script, letters, samples)
    }

    fn assert_segments_agree(doc: &str) {
        let mut texts = String::new();
        let new = segments(doc, &mut texts);
        let old = reference::segments(doc);
        let view_new: Vec<_> = new
            .iter()
            .map(|s| seen(s.script, s.letters, &texts[s.text.clone()]))
            .collect();
        let view_old: Vec<_> = old
            .iter()
            .map(|s| seen(s.script, s.letters, &s.text))
            .collect();
        assert_eq!(view_new, view_old, "{doc:?}");
        // Grouped the same way too (as when there are more than MAX_SEGMENTS).
        let mut grouped = String::new();
        let new = regroup(new, &texts, &mut grouped);
        let old = reference::regroup(old);
        let view_new: Vec<_> = new
            .iter()
            .map(|s| seen(s.script, s.letters, &grouped[s.text.clone()]))
            .collect();
        let view_old: Vec<_> = old
            .iter()
            .map(|s| seen(s.script, s.letters, &s.text))
            .collect();
        assert_eq!(view_new, view_old, "{doc:?}");
        // And so the answers: identify() against the reference segmentation's.
        let mut old = reference::segments(doc);
        if old.len() > MAX_SEGMENTS {
            old = reference::regroup(old);
        }
        let samples: Vec<(&str, usize)> =
            old.iter().map(|s| (s.text.as_str(), s.letters)).collect();
        assert_eq!(identify(doc), from_segments(doc, &samples), "{doc:?}");
    }

    #[test]
    fn one_pass_segmentation_agrees_with_the_reference() {
        let heldout = include_str!("../../../fixtures/langid/heldout.tsv");
        let lines: Vec<&str> = heldout
            .lines()
            .filter_map(|l| l.splitn(3, '\t').nth(2))
            .collect();
        let mut rng = crate::test_rng::Rng(0x2545_F491_4F6C_DD1Du64);
        let mut next = |n: usize| rng.below(n);
        // Documents of held-out lines, paragraphs of 1 to 30 lines (some far over the
        // bytes a segment keeps), joined by spaces, newlines or blank lines.
        for _ in 0..300 {
            let mut doc = String::new();
            for _ in 0..1 + next(40) {
                doc.push_str(lines[next(lines.len())]);
                doc.push_str(["", " ", "\n", "\n\n", " \n \n"][next(5)]);
            }
            assert_segments_agree(&doc);
            // Obfuscated (zero-width characters, tatweel, look-alikes).
            let obfuscated: String = doc
                .chars()
                .flat_map(|c| {
                    let swap = match c {
                        'о' => 'o',
                        'а' => 'a',
                        'e' => 'е',
                        c => c,
                    };
                    [swap, ['\u{200B}', '\u{0640}', '\u{200C}'][(c as usize) % 3]]
                })
                .collect();
            assert_segments_agree(&obfuscated);
        }
        // Random text over an alphabet of every kind of character the runs tell apart.
        let alphabet: Vec<char> =
            "ab zZ9,.-\n\t\r\u{a0}жЖё ыيپے٣ًـ中國の カ한αßé\u{200B}\u{301}कক😀\u{20000}"
                .chars()
                .collect();
        for _ in 0..1000 {
            let len = next(2000);
            let mut doc = String::new();
            let mut c = alphabet[0];
            for _ in 0..len {
                // Runs of the same character now and then, so that long runs form.
                if next(3) > 0 {
                    c = alphabet[next(alphabet.len())];
                }
                doc.push(c);
            }
            assert_segments_agree(&doc);
        }
    }
}
