//! The text language ID looks at, and the scripts of its letters.
//!
//! [`prepare`] does to a text what an obfuscator undoes, but folds nothing a detector needs:
//!
//! 1. NFKC (presentation forms, full-width Latin, ligatures);
//! 2. format characters (general category Cf: zero-width, ZWNJ, bidi marks, soft hyphen),
//!    tatweel and harakat removed;
//! 3. lower case (İ → i; the Turkish ı is kept, it is a Turkish and Azerbaijani letter);
//! 4. Latin/Cyrillic look-alikes: a word mixing the two scripts gets its own script back
//!    ("Poccия" → "россия"), and a word written wholly in look-alikes of the text's minority
//!    script is turned into the majority one ("coc" among Russian words → "сос").
//!
//! Unlike the matching fold it keeps Arabic, Persian and Urdu letters apart (ي ی ے, ك ک,
//! ه ہ ە): they are what tells those languages apart.

use crate::normalize::{
    all_look_alikes, convert_look_alikes, fold_look_alikes, for_each_kept, is_arabic_mark,
    is_format, LookAlikeScript,
};
use std::ops::ControlFlow;
use unicode_normalization::char::canonical_combining_class;

/// The scripts language ID tells apart. `Other` goes to whatlang.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Script {
    Latin,
    Cyrillic,
    Arabic,
    /// Han ideographs (Chinese, or Japanese kanji).
    Han,
    /// Hiragana and katakana.
    Kana,
    Devanagari,
    Bengali,
    Other,
}

impl Script {
    /// ISO 15924 code (`Han` is refined to `Hans`/`Hant` by the detector).
    pub fn iso15924(self) -> &'static str {
        match self {
            Script::Latin => "Latn",
            Script::Cyrillic => "Cyrl",
            Script::Arabic => "Arab",
            Script::Han => "Hani",
            Script::Kana => "Jpan",
            Script::Devanagari => "Deva",
            Script::Bengali => "Beng",
            Script::Other => "Zyyy",
        }
    }

    /// The script's name as whatlang spells it (the `script` field of CONTRACTS.md).
    pub fn name(self) -> &'static str {
        match self {
            Script::Latin => "Latin",
            Script::Cyrillic => "Cyrillic",
            Script::Arabic => "Arabic",
            Script::Han => "Mandarin",
            Script::Kana => "Katakana",
            Script::Devanagari => "Devanagari",
            Script::Bengali => "Bengali",
            Script::Other => "Other",
        }
    }

    /// From an ISO 15924 code as the profile file writes it.
    pub fn from_iso15924(code: &str) -> Option<Script> {
        Some(match code {
            "Latn" => Script::Latin,
            "Cyrl" => Script::Cyrillic,
            "Arab" => Script::Arabic,
            "Hani" | "Hans" | "Hant" => Script::Han,
            "Deva" => Script::Devanagari,
            "Beng" => Script::Bengali,
            _ => return None,
        })
    }
}

/// The script of a letter (or a combining mark inside a word); `None` for anything that is
/// not part of a word (digits, punctuation, spaces, symbols). The blocks our languages use
/// are decided by code point ranges: `char::is_alphabetic` costs a table search per call and
/// was 40 % of language ID's time.
#[inline]
pub fn script_of(c: char) -> Option<Script> {
    let u = c as u32;
    let s = match u {
        0x41..=0x5A | 0x61..=0x7A => Script::Latin,
        0..=0xBF | 0xD7 | 0xF7 => return None,
        0xC0..=0x2AF | 0x300..=0x36F | 0x1E00..=0x1EFF => Script::Latin,
        0x482 => return None,
        0x400..=0x52F => Script::Cyrillic,
        0x620..=0x65F
        | 0x66E..=0x6D3
        | 0x6D5..=0x6DC
        | 0x6DF..=0x6E8
        | 0x6EA..=0x6EF
        | 0x6FA..=0x6FC
        | 0x6FF
        | 0x750..=0x77F => Script::Arabic,
        0x600..=0x6FF => return None,
        0x964..=0x970 => return None,
        0x900..=0x97F => Script::Devanagari,
        0x9E6..=0x9EF | 0x9F2..=0x9FB | 0x9FD => return None,
        0x980..=0x9FF => Script::Bengali,
        0x3005 | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3FFFF => {
            Script::Han
        }
        0x3041..=0x3096
        | 0x3099..=0x309F
        | 0x30A1..=0x30FA
        | 0x30FC..=0x30FF
        | 0x31F0..=0x31FF
        | 0xFF66..=0xFF9F => Script::Kana,
        0x2000..=0x2BFF | 0x3000..=0x303F | 0xFE00..=0xFE6F | 0xFF00..=0xFF65 => return None,
        _ => {
            if !(c.is_alphabetic() || canonical_combining_class(c) != 0) {
                return None;
            }
            match u {
                0x870..=0x8FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => Script::Arabic,
                0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => Script::Cyrillic,
                0xA8E0..=0xA8FF => Script::Devanagari,
                _ => Script::Other,
            }
        }
    };
    Some(s)
}

/// Letters and the combining marks inside words (Devanagari and Bengali vowel signs and
/// viramas). Digits and punctuation separate words.
pub fn is_word_char(c: char) -> bool {
    script_of(c).is_some()
}

/// How much a letter counts toward "enough text to tell": a Han or kana character carries
/// about a word's worth of information, so it counts [`CJK_WEIGHT`].
pub fn letter_weight(c: char) -> usize {
    match script_of(c) {
        None => 0,
        Some(Script::Han | Script::Kana) => CJK_WEIGHT,
        Some(_) => 1,
    }
}

/// See [`letter_weight`].
pub const CJK_WEIGHT: usize = 3;

/// The text a detector should see (see the module documentation).
pub fn prepare(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    prepare_into(text, &mut out);
    out
}

/// [`prepare`] into `out` (cleared first), so that a caller detecting many samples reuses
/// one buffer.
pub fn prepare_into(text: &str, out: &mut String) {
    out.clear();
    // [Latin, Cyrillic] letters: step 4 is only needed when there are both.
    let mut counts = [0usize; 2];
    // NFKC one cluster at a time, as the matching fold does it (the same as NFKC of the
    // whole text: clusters are cut only before characters nothing combines with), with no
    // table lookup at all for the common blocks; format characters, tatweel and harakat
    // dropped on the way.
    for_each_kept(text, 0, |c, _, _| {
        push_prepared(out, c, &mut counts);
        ControlFlow::Continue(())
    });
    if counts[0] == 0 || counts[1] == 0 {
        return;
    }
    // Both scripts: the look-alikes are resolved on the letters as written (the table is
    // case-aware: Latin H is Cyrillic Н, while h would be the Kazakh һ), then lower-cased.
    let mut chars: Vec<char> = Vec::with_capacity(out.len());
    for_each_kept(text, 0, |c, _, _| {
        chars.push(if c == 'İ' { 'I' } else { c });
        ControlFlow::Continue(())
    });
    fold_look_alike_words(&mut chars);
    out.clear();
    let mut ignored = [0usize; 2];
    for c in chars {
        push_prepared(out, c, &mut ignored);
    }
}

/// Steps 2 and 3 for one character, counting Latin and Cyrillic letters.
#[inline]
fn push_prepared(out: &mut String, c: char, counts: &mut [usize; 2]) {
    if c.is_ascii() {
        counts[0] += usize::from(c.is_ascii_alphabetic());
        out.push(c.to_ascii_lowercase());
        return;
    }
    // The common letters first, without the checks below.
    let fast = match c as u32 {
        0x410..=0x42F => char::from_u32(c as u32 + 0x20),
        0x400..=0x40F => char::from_u32(c as u32 + 0x50),
        0x430..=0x45F => Some(c),
        0x621..=0x63A | 0x641..=0x64A | 0x4E00..=0x9FFF => {
            out.push(c);
            return;
        }
        _ => None,
    };
    if let Some(l) = fast {
        counts[1] += 1;
        out.push(l);
        return;
    }
    if is_format(c) || is_arabic_mark(c) {
        return;
    }
    let l = match c {
        'İ' => 'i',
        // Cyrillic capitals, the common case after ASCII.
        'А'..='Я' => char::from_u32(c as u32 + 0x20).unwrap_or(c),
        'Ѐ'..='Џ' => char::from_u32(c as u32 + 0x50).unwrap_or(c),
        'а'..='я' | '\u{0600}'..='\u{06FF}' | '\u{4E00}'..='\u{9FFF}' => c,
        _ => {
            let mut l = c.to_lowercase();
            match (l.next(), l.next()) {
                (Some(x), None) => x,
                _ => c,
            }
        }
    };
    match l as u32 {
        0xC0..=0x24F if l.is_alphabetic() => counts[0] += 1,
        0x400..=0x52F => counts[1] += 1,
        _ => {}
    }
    out.push(l);
}

fn is_word_or_digit(c: char) -> bool {
    c.is_ascii_digit() || script_of(c).is_some()
}

/// Step 4 over the words of a text: mixed words first, then, with the letters counted
/// again, the whole look-alike words of the minority script.
fn fold_look_alike_words(chars: &mut [char]) {
    let words = |chars: &[char]| {
        let mut out = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            if !is_word_or_digit(chars[i]) {
                i += 1;
                continue;
            }
            let mut j = i;
            while j < chars.len() && is_word_or_digit(chars[j]) {
                j += 1;
            }
            out.push(i..j);
            i = j;
        }
        out
    };
    let spans = words(chars);
    for w in &spans {
        fold_look_alikes(&mut chars[w.clone()]);
    }
    let (mut latin, mut cyrillic) = (0usize, 0usize);
    for &c in chars.iter() {
        match script_of(c) {
            Some(Script::Latin) => latin += 1,
            Some(Script::Cyrillic) => cyrillic += 1,
            _ => {}
        }
    }
    // The script the text is written in, when one clearly dominates.
    let majority = if cyrillic >= 2 * latin {
        LookAlikeScript::Cyrillic
    } else if latin >= 2 * cyrillic {
        LookAlikeScript::Latin
    } else {
        return;
    };
    for w in spans {
        let word = &mut chars[w];
        if all_look_alikes(word).is_some_and(|from| from != majority) {
            convert_look_alikes(word, majority);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_and_folds_what_obfuscates() {
        assert_eq!(prepare("Ур\u{200B}ду\u{200D}"), "урду");
        assert_eq!(prepare("داعـــشٌ"), "داعش");
        assert_eq!(prepare("ＩＳＩＳ İstanbul ılık"), "isis istanbul ılık");
        // A mixed word gets its script back; a whole look-alike word follows the text.
        assert_eq!(prepare("Poccия и coc"), "россия и сос");
        // Upper-case look-alikes resolve before lower-casing: Latin H is Н here, not һ.
        assert_eq!(prepare("ГЕHЕРAЛНA СКУПШTИНA"), "генерална скупштина");
        assert_eq!(
            prepare("the сосоа crop was good"),
            "the cocoa crop was good"
        );
        // Urdu, Persian and Arabic letters stay apart.
        assert_eq!(prepare("ی ي ے ک ك ہ ه"), "ی ي ے ک ك ہ ه");
        // A text mixing the scripts evenly is left alone.
        assert_eq!(prepare("coc сос"), "coc сос");
    }

    #[test]
    fn scripts_of_letters() {
        assert_eq!(script_of('ж'), Some(Script::Cyrillic));
        assert_eq!(script_of('ڑ'), Some(Script::Arabic));
        assert_eq!(script_of('東'), Some(Script::Han));
        assert_eq!(script_of('の'), Some(Script::Kana));
        assert_eq!(script_of('ি'), Some(Script::Bengali));
        assert_eq!(script_of('्'), Some(Script::Devanagari));
        assert_eq!(script_of('ə'), Some(Script::Latin));
        assert_eq!(script_of('α'), Some(Script::Other));
        assert_eq!(script_of('7'), None);
        assert_eq!(script_of('«'), None);
        assert_eq!(script_of('٣'), None);
    }
}
