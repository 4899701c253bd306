//! Traditional → simplified Chinese, one character at a time.
//!
//! The table comes from OpenCC's `t2s` conversion (crate `ferrous-opencc`, dictionaries
//! compiled in, no I/O): on first use every Han code point is run through the converter on
//! its own and the ones that change are kept (about 4,100). Per character, not per phrase, so
//! every output character still comes from exactly one source character and the offset map
//! stays exact. OpenCC's phrase table is given up: it is what keeps 乾 in 乾隆 while 乾燥 →
//! 干燥, so here 乾 is always 干, also in simplified text. That costs nothing for matching,
//! because keywords are folded by the same table.
//!
//! The phrase table is used where it keeps the length: [`phrase_fold`] runs OpenCC on each
//! run of Han characters first, and its output is mapped back character by character (回覆
//! → 回复, where the character table keeps 覆); the character table then folds the rest.
//!
//! Building the table takes about 7 ms in a release build, once per process; a lookup is
//! one hash probe, and only for characters in the Han blocks.

use ferrous_opencc::config::BuiltinConfig;
use ferrous_opencc::OpenCC;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// The Han blocks a traditional character can be in: Extension A, the URO and Extensions
/// B–H. (Compatibility ideographs are gone after NFKC.)
const HAN: [(u32, u32); 3] = [(0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0x20000, 0x323AF)];

fn is_han(c: char) -> bool {
    let u = c as u32;
    HAN.iter().any(|&(lo, hi)| (lo..=hi).contains(&u))
}

/// The simplified form of `c` when it differs from `c`; `None` for everything else.
pub(super) fn simplified(c: char) -> Option<&'static str> {
    if !is_han(c) {
        return None;
    }
    table().get(&c).map(|s| &**s)
}

/// Which form of written Chinese a Han character belongs to, for telling simplified from
/// traditional text: a character the table changes is traditional; one the table produces
/// but never changes is simplified; the many both forms share say nothing (`None`).
pub(crate) fn han_form(c: char) -> Option<HanForm> {
    if !is_han(c) {
        return None;
    }
    if table().contains_key(&c) {
        return Some(HanForm::Traditional);
    }
    simplified_only()
        .contains(&c)
        .then_some(HanForm::Simplified)
}

/// See [`han_form`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HanForm {
    Simplified,
    Traditional,
}

fn simplified_only() -> &'static HashSet<char> {
    static SET: OnceLock<HashSet<char>> = OnceLock::new();
    SET.get_or_init(|| {
        let t = table();
        t.values()
            .flat_map(|v| v.chars())
            .filter(|c| !t.contains_key(c))
            .collect()
    })
}

/// OpenCC's phrase-aware conversion of a run of Han characters, character by character:
/// `Some` when it changes the run and keeps its number of characters (t2s phrases nearly
/// always do), so that every output character still comes from one source character.
/// This is what turns 回覆 into 回复, where the character table alone keeps 覆.
pub(super) fn phrase_fold(run: &str) -> Option<Vec<char>> {
    let out = converter()?.convert(run);
    if out == run {
        return None;
    }
    let chars: Vec<char> = out.chars().collect();
    (chars.len() == run.chars().count()).then_some(chars)
}

/// Whether `c` is in the Han blocks the fold looks at.
pub(super) fn in_han_blocks(c: char) -> bool {
    is_han(c)
}

fn converter() -> Option<&'static OpenCC> {
    static CC: OnceLock<Option<OpenCC>> = OnceLock::new();
    CC.get_or_init(|| OpenCC::from_config(BuiltinConfig::T2s).ok())
        .as_ref()
}

fn table() -> &'static HashMap<char, Box<str>> {
    static TABLE: OnceLock<HashMap<char, Box<str>>> = OnceLock::new();
    TABLE.get_or_init(build)
}

fn build() -> HashMap<char, Box<str>> {
    // The configuration is compiled into the crate: failing to load it is a packaging bug,
    // and folding nothing (the state before this step existed) is the safe way to degrade.
    let Some(cc) = converter() else {
        debug_assert!(false, "ferrous-opencc t2s configuration missing");
        return HashMap::new();
    };
    let mut table = HashMap::with_capacity(4_200);
    let mut buf = [0u8; 4];
    for &(lo, hi) in &HAN {
        for c in (lo..=hi).filter_map(char::from_u32) {
            let out = cc.convert(c.encode_utf8(&mut buf));
            if !out.is_empty() && out != *c.encode_utf8(&mut buf) {
                table.insert(c, out.into_boxed_str());
            }
        }
    }
    // OpenCC's table has a chain (薴 → 苧 → 苎): follow it, so that folding is idempotent and
    // a keyword folded once meets a document folded once.
    let snapshot = table.clone();
    for v in table.values_mut() {
        for _ in 0..4 {
            let next: String = v
                .chars()
                .map(|c| {
                    snapshot
                        .get(&c)
                        .map_or_else(|| c.to_string(), |s| s.to_string())
                })
                .collect();
            if *next == **v {
                break;
            }
            *v = next.into_boxed_str();
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_folds_traditional_and_is_idempotent() {
        let folded: String = "東突厥斯坦伊斯蘭運動"
            .chars()
            .map(|c| simplified(c).map_or(c.to_string(), str::to_string))
            .collect();
        assert_eq!(folded, "东突厥斯坦伊斯兰运动");
        let t = table();
        assert!(t.len() > 4_000, "{}", t.len());
        for (k, v) in t {
            assert!(v.chars().all(is_han), "{k} → {v}");
            // Folding simplified text again changes nothing.
            for c in v.chars() {
                assert_eq!(simplified(c), None, "{k} → {v} → {:?}", simplified(c));
            }
        }
        assert_eq!(simplified('a'), None);
        assert_eq!(simplified('国'), None);
    }

    #[test]
    fn forms_of_han_characters() {
        assert_eq!(han_form('國'), Some(HanForm::Traditional));
        assert_eq!(han_form('国'), Some(HanForm::Simplified));
        assert_eq!(han_form('人'), None);
        assert_eq!(han_form('a'), None);
    }
}
