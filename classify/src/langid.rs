//! Language identification: the document's main language and the shares of a mixed document.
//!
//! Everything goes through [`detect`], the one place that calls a detector (whatlang 0.18
//! today), so a better detector can replace it without touching the callers. Text is NFKC'd
//! and stripped of format characters first: one zero-width space between letters takes
//! whatlang to chance on Urdu and Persian.
//!
//! whatlang has no Kazakh and calls it Belarusian or Russian with full confidence; a letter
//! rule, [`kazakh`], answers for Cyrillic Kazakh before whatlang is asked.

use crate::normalize::nfkc_strip_format;
use shared::{LanguageGuess, LanguageShare};

/// Below this many letters (Han and kana count [`CJK_WEIGHT`] each) we do not guess: a
/// confident wrong answer is worse than none.
pub const MIN_LETTERS: usize = 20;
/// A Han or kana character carries about a word's worth of information.
pub const CJK_WEIGHT: usize = 3;
/// Under this confidence an answer whatlang itself calls unreliable is dropped.
pub const MIN_CONFIDENCE: f64 = 0.5;
/// Detection looks at this many bytes of a text at most; trigram statistics settle long
/// before, and a huge page must not cost seconds.
pub const MAX_DETECT_BYTES: usize = 8 * 1024;
/// A segment shorter than this (in weighted letters) is merged with its neighbour when they
/// share a script.
pub const MIN_SEGMENT_LETTERS: usize = 40;
/// A run of another script shorter than this (weighted letters) stays in its neighbour's
/// segment.
pub const MIN_RUN_LETTERS: usize = 12;
/// About the most segments detected for one document; beyond that they are grouped.
pub const MAX_SEGMENTS: usize = 256;

/// The detector's answer for one piece of text, or `None` when there is too little to tell.
pub fn detect(text: &str) -> Option<LanguageGuess> {
    if weighted_letters(text) < MIN_LETTERS {
        return None;
    }
    let text = prefix(text, MAX_DETECT_BYTES);
    if let Some(kaz) = kazakh(text) {
        return Some(kaz);
    }
    let info = whatlang::detect(text)?;
    if !info.is_reliable() && info.confidence() < MIN_CONFIDENCE {
        return None;
    }
    Some(LanguageGuess {
        // whatlang's codes are ISO 639-3 already (Cmn → "cmn", Ara → "ara").
        code: info.lang().code().to_string(),
        confidence: round3(info.confidence()),
        script: info.script().name().to_string(),
    })
}

/// Minimum share of Cyrillic words with a Kazakh letter for [`kazakh`] to answer. Chosen on
/// the sentence table in `tests/kazakh_langid.rs`: Kazakh sentences lie at 0.33–1.0, Russian
/// ones naming a Kazakh place (Байқоңыр) at up to 0.125. The share of Kazakh *letters* among
/// Cyrillic letters separates worse (Kazakh from 0.054, that Russian sentence 0.043).
pub const KAZ_MIN_WORD_SHARE: f64 = 0.2;

/// Kazakh-in-Cyrillic by its letters; `None` when the text is not clearly Kazakh (whatlang then
/// answers). One function, so a fuller language-ID can replace it.
///
/// Letters are counted over Cyrillic letters (lower-cased):
///
/// - *core* `і қ ғ ұ`: Kazakh has at least one of them in nearly every sentence; Kyrgyz,
///   Mongolian and Tatar have none;
/// - *extra* `ә ғ қ ұ һ ң ө ү`: Kazakh letters that Ukrainian and Belarusian lack (their `і`
///   is not enough on its own);
/// - *foreign* `ї є ґ ў ҳ ӣ ӯ ҷ җ ҡ ҙ ҫ`: Ukrainian, Belarusian, Uzbek, Tajik, Tatar and
///   Bashkir letters that Kazakh does not use.
///
/// The answer is `kaz` when Cyrillic has most of the letters (and at least [`MIN_LETTERS`]),
/// there is at least one core and one extra letter, foreign letters are under a fifth of the
/// Kazakh ones (`і` and the extras), and at least [`KAZ_MIN_WORD_SHARE`] of the Cyrillic words
/// have a Kazakh letter. The confidence grows with that share: 0.5 at the threshold, 1.0 at
/// twice it.
pub fn kazakh(text: &str) -> Option<LanguageGuess> {
    let (mut letters, mut cyrillic, mut core, mut extra, mut kazakh, mut foreign) =
        (0usize, 0usize, 0usize, 0usize, 0usize, 0usize);
    let (mut cyrillic_words, mut kazakh_words) = (0usize, 0usize);
    for word in text.split(|c: char| !c.is_alphabetic()) {
        let (mut cyr_word, mut kaz_word) = (false, false);
        for c in word.chars() {
            letters += 1;
            if !matches!(c as u32, 0x400..=0x52F) {
                continue;
            }
            cyrillic += 1;
            cyr_word = true;
            let l = c.to_lowercase().next().unwrap_or(c);
            let is_core = matches!(l, 'і' | 'қ' | 'ғ' | 'ұ');
            let is_extra = matches!(l, 'ә' | 'ғ' | 'қ' | 'ұ' | 'һ' | 'ң' | 'ө' | 'ү');
            core += usize::from(is_core);
            extra += usize::from(is_extra);
            kazakh += usize::from(is_core || is_extra);
            kaz_word |= is_core || is_extra;
            foreign += usize::from(matches!(
                l,
                'ї' | 'є' | 'ґ' | 'ў' | 'ҳ' | 'ӣ' | 'ӯ' | 'ҷ' | 'җ' | 'ҡ' | 'ҙ' | 'ҫ'
            ));
        }
        cyrillic_words += usize::from(cyr_word);
        kazakh_words += usize::from(kaz_word);
    }
    if cyrillic < MIN_LETTERS || cyrillic * 2 < letters || core == 0 || extra == 0 {
        return None;
    }
    if foreign * 5 >= kazakh {
        return None;
    }
    let share = kazakh_words as f64 / cyrillic_words as f64;
    if share < KAZ_MIN_WORD_SHARE {
        return None;
    }
    Some(LanguageGuess {
        code: "kaz".to_string(),
        confidence: round3((0.5 * share / KAZ_MIN_WORD_SHARE).min(1.0)),
        script: "Cyrillic".to_string(),
    })
}

/// Both answers for a document (raw extracted text), preparing the text once. A document
/// with a main language but no segment long enough to tell gets that language as its only
/// share.
pub fn identify(text: &str) -> (Option<LanguageGuess>, Vec<LanguageShare>) {
    let prepared = nfkc_strip_format(text);
    let guess = detect(&prepared);
    let mut shares = shares(&prepared);
    if let (Some(g), true) = (&guess, shares.is_empty()) {
        shares.push(LanguageShare {
            code: g.code.clone(),
            share: 1.0,
        });
    }
    (guess, shares)
}

/// The main language of a whole document (raw extracted text).
pub fn language(text: &str) -> Option<LanguageGuess> {
    detect(&nfkc_strip_format(text))
}

/// The languages of a document (raw extracted text) and their shares by letter count,
/// largest first. Segments are paragraphs and script changes; short ones are merged with a
/// same-script neighbour. Segments too short or too unclear to tell count toward no share.
pub fn languages(text: &str) -> Vec<LanguageShare> {
    shares(&nfkc_strip_format(text))
}

fn shares(prepared: &str) -> Vec<LanguageShare> {
    let mut segments = segments(prepared);
    if segments.len() > MAX_SEGMENTS {
        segments = regroup(segments);
    }
    let mut by_code: Vec<(String, usize)> = Vec::new();
    for seg in &segments {
        let Some(g) = detect(&seg.text) else { continue };
        match by_code.iter_mut().find(|(c, _)| *c == g.code) {
            Some((_, n)) => *n += seg.letters,
            None => by_code.push((g.code, seg.letters)),
        }
    }
    let total: usize = by_code.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return Vec::new();
    }
    by_code.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    by_code
        .into_iter()
        .map(|(code, n)| LanguageShare {
            code,
            share: round3(n as f64 / total as f64),
        })
        .collect()
}

#[derive(Debug)]
struct Segment {
    text: String,
    script: Option<whatlang::Script>,
    letters: usize,
}

fn segments(text: &str) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let mut after_blank = false;
    for line in text.lines() {
        if line.trim().is_empty() {
            after_blank = true;
            continue;
        }
        for (piece, script, letters) in script_runs(line) {
            match out.last_mut() {
                // Same script: one paragraph stays one segment; across a blank line only a
                // short piece is merged.
                Some(cur)
                    if cur.script == script
                        && (!after_blank
                            || cur.letters < MIN_SEGMENT_LETTERS
                            || letters < MIN_SEGMENT_LETTERS) =>
                {
                    cur.text.push('\n');
                    cur.text.push_str(piece);
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

/// Too many segments: join each script's segments, in order, in groups, so that every
/// letter still counts and about [`MAX_SEGMENTS`] detections are made. (Sampling would
/// alias with a page that repeats a pattern of languages.)
fn regroup(segments: Vec<Segment>) -> Vec<Segment> {
    let size = segments.len().div_ceil(MAX_SEGMENTS);
    let mut done = Vec::new();
    // Per script: the group being filled and how many segments it holds.
    let mut open: Vec<(Segment, usize)> = Vec::new();
    for seg in segments {
        match open.iter_mut().position(|(g, _)| g.script == seg.script) {
            Some(i) => {
                let (g, n) = &mut open[i];
                g.text.push('\n');
                g.text.push_str(&seg.text);
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

/// A line cut where the script changes ("ИГИЛ — Islamic State" is two pieces). A run of
/// fewer than [`MIN_RUN_LETTERS`] joins its neighbour, so a brand name does not cut a
/// Russian sentence into pieces too short to tell.
fn script_runs(line: &str) -> Vec<(&str, Option<whatlang::Script>, usize)> {
    // (start, end, script, weighted letters)
    let mut runs: Vec<(usize, usize, Option<whatlang::Script>, usize)> = Vec::new();
    for (i, c) in line.char_indices() {
        let end = i + c.len_utf8();
        let class = script_class(c);
        match (class, runs.last_mut()) {
            (None, Some(r)) => r.1 = end,
            (Some(k), Some(r)) if r.2.is_none() || r.2 == Some(k) => {
                r.1 = end;
                r.2 = Some(k);
                r.3 += letter_weight(c);
            }
            (None, None) => runs.push((i, end, None, 0)),
            (Some(k), _) => runs.push((i, end, Some(k), letter_weight(c))),
        }
    }
    let mut merged: Vec<(usize, usize, Option<whatlang::Script>, usize)> = Vec::new();
    for r in runs {
        match merged.last_mut() {
            Some(prev) if prev.2 == r.2 || prev.3 < MIN_RUN_LETTERS || r.3 < MIN_RUN_LETTERS => {
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

/// The script of a letter, with Han and kana as one (Japanese mixes them in every
/// sentence); `None` for anything else.
fn script_class(c: char) -> Option<whatlang::Script> {
    use whatlang::Script;
    if !c.is_alphabetic() {
        return None;
    }
    // The common cases without asking whatlang.
    match c as u32 {
        0x41..=0x5A | 0x61..=0x7A => return Some(Script::Latin),
        0x400..=0x4FF => return Some(Script::Cyrillic),
        0x600..=0x6FF => return Some(Script::Arabic),
        _ => {}
    }
    let mut buf = [0u8; 4];
    match whatlang::detect_script(c.encode_utf8(&mut buf))? {
        Script::Hiragana | Script::Katakana => Some(Script::Mandarin),
        s => Some(s),
    }
}

fn weighted_letters(text: &str) -> usize {
    text.chars().map(letter_weight).sum()
}

fn letter_weight(c: char) -> usize {
    match c {
        _ if !c.is_alphabetic() => 0,
        _ if is_cjk(c) => CJK_WEIGHT,
        _ => 1,
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3FFFF)
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
        for (text, code) in [
            (RUS, "rus"),
            (CMN, "cmn"),
            (URD, "urd"),
            (ARA, "ara"),
            (PES, "pes"),
            (ENG, "eng"),
        ] {
            let g = language(text).unwrap_or_else(|| panic!("no guess for {code}"));
            assert_eq!(g.code, code, "{text}");
            assert!(g.confidence > 0.0 && g.confidence <= 1.0);
        }
        assert_eq!(language(CMN).unwrap().script, "Mandarin");
        assert_eq!(language(URD).unwrap().script, "Arabic");
    }

    #[test]
    fn zero_width_obfuscation_does_not_hide_urdu() {
        let obfuscated: String = URD.chars().flat_map(|c| [c, '\u{200B}']).collect();
        assert_eq!(language(&obfuscated).unwrap().code, "urd");
    }

    #[test]
    fn too_little_text_is_null() {
        assert_eq!(language(""), None);
        assert_eq!(language("Islamic State"), None);
        assert_eq!(language("ИГИЛ"), None);
        assert_eq!(language("داعش"), None);
        assert_eq!(language("12345 67890 !!! ???"), None);
        assert_eq!(languages("ИГИЛ"), vec![]);
    }

    #[test]
    fn mixed_document_shares() {
        let doc = format!("{RUS}\n\n{ENG}\n{ENG}\n\n{CMN}");
        let shares = languages(&doc);
        let codes: Vec<&str> = shares.iter().map(|s| s.code.as_str()).collect();
        assert_eq!(codes, ["eng", "rus", "cmn"], "{shares:?}");
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
        let para = format!("{RUS} {ARA} {ENG}\n\n").repeat(1000);
        assert_eq!(languages(&para).len(), 3, "sampling keeps every language");
        // A short foreign name stays inside its sentence.
        let runs = script_runs("Компания YouTube сообщила сегодня о новых правилах");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].1, Some(whatlang::Script::Cyrillic));
        // Kanji and kana are one run.
        let runs = script_runs("外務省の報道官は今日、会談が来週も続くと述べた");
        assert_eq!(runs.len(), 1, "{runs:?}");
    }

    #[test]
    fn short_lines_of_one_script_are_merged() {
        // Each line alone is too short to tell; together they are a paragraph.
        let doc = "Переговоры продолжатся\nв столице на следующей неделе\nсообщило министерство";
        assert_eq!(segments(doc).len(), 1);
        assert_eq!(languages(doc)[0].code, "rus");
    }
}
