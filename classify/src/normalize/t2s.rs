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

/// Where OpenCC's phrase conversion of `run` can differ from its character table: from the
/// first character that begins a phrase of more than one character (a byte offset), or
/// `None` when no character of the run does.
///
/// OpenCC converts by longest match from left to right, a phrase or else a single
/// character. Before the first character that begins a phrase, every match is a single
/// character, converted as the character table (`table`) converts it on its own; so the
/// fold of that part is the table's, and only the rest needs the phrase conversion. Most
/// runs of simplified text have no such character at all (55 % of the runs of the training
/// lines), and the conversion, a dictionary walk per character, was 5 % of classifying.
/// `tests::phrase_starts_are_those_of_the_dictionaries` checks [`PHRASE_STARTS`] against
/// the dictionary files the converter is built from, and that every character converts to
/// one character whose fold is its own.
pub(super) fn phrase_part(run: &str) -> Option<usize> {
    run.char_indices()
        .find(|&(_, c)| PHRASE_STARTS.binary_search(&c).is_ok())
        .map(|(i, _)| i)
}

/// The first characters of the keys of more than one character in OpenCC's t2s
/// dictionaries (`TSPhrases`; `TSCharacters` has none), sorted: 277 phrases begin with one
/// of these 116.
const PHRASE_STARTS: [char; 116] = [
    '一', '上', '不', '么', '乾', '二', '以', '侔', '傢', '傷', '八', '凌', '出', '函', '千', '反',
    '名', '哪', '回', '壺', '大', '宫', '尼', '幺', '康', '張', '彷', '徵', '情', '憑', '手', '扭',
    '找', '拉', '拜', '據', '文', '於', '旋', '明', '書', '有', '朝', '木', '李', '樊', '沈', '流',
    '浪', '滑', '無', '牴', '狐', '珍', '甚', '申', '畢', '發', '瞭', '示', '神', '稟', '竺', '答',
    '篤', '簡', '籌', '素', '老', '肘', '茵', '萬', '蒜', '蕓', '蕩', '蕭', '藉', '衹', '袖', '覆',
    '見', '角', '計', '變', '貂', '買', '踅', '躪', '郭', '酒', '醞', '重', '金', '鈞', '鉅', '鉸',
    '銀', '錢', '鍊', '鍛', '鍾', '鎖', '鐵', '鑽', '雁', '雖', '電', '露', '項', '頗', '頸', '顛',
    '顧', '麼', '黄', '龍',
];

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

    /// The keys of OpenCC's t2s dictionaries and its configuration, read from the source of
    /// the `ferrous-opencc` package this crate is built with (found by `cargo metadata`,
    /// offline); its build compiles exactly these files into the converter.
    fn opencc_sources() -> (String, Vec<String>) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = std::process::Command::new(cargo)
            .args(["metadata", "--offline", "--format-version", "1"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo metadata runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let manifest = meta["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .find(|p| p["name"] == "ferrous-opencc")
            .and_then(|p| p["manifest_path"].as_str())
            .expect("ferrous-opencc is a dependency")
            .to_string();
        let root = std::path::Path::new(&manifest)
            .parent()
            .expect("a directory");
        let read = |rel: &str| {
            std::fs::read_to_string(root.join(rel))
                .unwrap_or_else(|e| panic!("{}: {e}", root.join(rel).display()))
        };
        let mut keys = Vec::new();
        for file in ["TSPhrases", "TSCharacters"] {
            let text = read(&format!("assets/dictionaries/{file}.txt"));
            for line in text
                .lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
            {
                let key = line.split('\t').next().expect("a key");
                keys.push(key.to_string());
            }
        }
        (read("assets/t2s.json"), keys)
    }

    #[test]
    fn phrase_starts_are_those_of_the_dictionaries() {
        let (config, keys) = opencc_sources();
        // The conversion is one group of the two dictionaries read here, nothing else.
        let files: Vec<&str> = config.split('"').filter(|f| f.ends_with(".ocd2")).collect();
        assert_eq!(
            files,
            ["TSPhrases.ocd2", "TSPhrases.ocd2", "TSCharacters.ocd2"],
            "segmentation, then the conversion group: {config}"
        );
        assert!(keys.len() > 4_000, "{}", keys.len());
        let mut starts: Vec<char> = keys
            .iter()
            .filter(|k| k.chars().nth(1).is_some())
            .map(|k| k.chars().next().expect("not empty"))
            .collect();
        starts.sort_unstable();
        starts.dedup();
        assert_eq!(
            starts, PHRASE_STARTS,
            "regenerate PHRASE_STARTS from the dictionaries"
        );
        // On its own, every Han character converts to one character, whose fold is the
        // character's own: so a part of a run that OpenCC converts character by character
        // folds exactly as the character table folds it.
        let cc = converter().expect("t2s configuration");
        let fold = |c: char| simplified(c).map_or_else(|| c.to_string(), str::to_string);
        let mut buf = [0u8; 4];
        let mut changed = 0;
        for &(lo, hi) in &HAN {
            for c in (lo..=hi).filter_map(char::from_u32) {
                let out = cc.convert(c.encode_utf8(&mut buf));
                let mut chars = out.chars();
                let (Some(d), None) = (chars.next(), chars.next()) else {
                    panic!("{c} converts to {out:?}");
                };
                assert_eq!(fold(d), fold(c), "{c} → {d}");
                changed += usize::from(d != c);
            }
        }
        assert!(changed > 4_000, "{changed}");
    }

    #[test]
    fn converting_from_the_first_phrase_character_folds_as_whole_runs() {
        use crate::normalize::{normalize, normalize_reference};
        let (_, keys) = opencc_sources();
        let phrases: Vec<&str> = keys
            .iter()
            .filter(|k| k.chars().nth(1).is_some())
            .map(String::as_str)
            .collect();
        // Characters to build runs of: every phrase's, the table's both sides, common ones.
        let mut pool: Vec<char> = phrases.iter().flat_map(|p| p.chars()).collect();
        pool.extend(
            table()
                .iter()
                .take(600)
                .flat_map(|(k, v)| v.chars().chain([*k])),
        );
        pool.extend("的是了在人我他们这中国说时大地为子中你".chars());
        let check = |text: &str| {
            let (new, old) = (normalize(text), normalize_reference(text));
            assert_eq!(new.text, old.text, "{text}");
            for i in 0..new.text.len() {
                assert_eq!(new.source_of(i), old.source_of(i), "{text} at {i}");
            }
        };
        let mut rng = crate::test_rng::Rng(0x9E37_79B9_7F4A_7C15u64);
        let mut next = |n: usize| rng.below(n);
        let mut differ = 0;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..1 + next(8) {
                match next(4) {
                    0 => text.push_str(phrases[next(phrases.len())]),
                    1 => text.push([' ', '，', 'a', '。'][next(4)]),
                    _ => text.push(pool[next(pool.len())]),
                }
            }
            check(&text);
            // Runs where a phrase changes something after characters converted one by one.
            for run in text.split(|c: char| !is_han(c)) {
                let tail = phrase_part(run).filter(|&p| p > 0).map(|p| &run[p..]);
                differ += usize::from(tail.is_some_and(|t| phrase_fold(t).is_some()));
            }
        }
        assert!(differ > 500, "runs that exercise the split: {differ}");
        // The Chinese lines of the development data, and every phrase in a sentence.
        let heldout = include_str!("../../../fixtures/langid/heldout.tsv");
        let train = include_str!("../../../fixtures/langid/train.tsv");
        for line in heldout.lines().chain(train.lines()) {
            if line.starts_with("cmn") {
                check(line);
            }
        }
        for p in &phrases {
            check(&format!("他说{p}了"));
            check(&format!("不{p}大"));
        }
    }
}
