//! The traditional → simplified fold is per character (so every byte keeps its source
//! span) and gives up OpenCC's phrase table. This checks what that costs for matching: for
//! every traditional Chinese line of the held-out data, the fold of the line is the fold of
//! OpenCC's phrase-aware simplified conversion of it. A keyword written in simplified
//! Chinese the way OpenCC would write it therefore meets the traditional text.

use classify::normalize::normalize;
use ferrous_opencc::config::BuiltinConfig;
use ferrous_opencc::OpenCC;

const HELDOUT: &str = include_str!("../../fixtures/langid/heldout.tsv");

#[test]
fn per_character_fold_agrees_with_phrase_conversion() {
    let cc = OpenCC::from_config(BuiltinConfig::T2s).expect("built-in t2s");
    let mut lines = 0;
    let mut differ = Vec::new();
    for line in HELDOUT.lines().filter(|l| l.starts_with("cmn-Hant\t")) {
        let text = line.splitn(3, '\t').nth(2).unwrap();
        let phrase = cc.convert(text);
        lines += 1;
        if normalize(text).text != normalize(&phrase).text {
            differ.push((text.to_string(), phrase));
        }
    }
    assert!(lines > 300, "{lines}");
    assert!(
        differ.is_empty(),
        "{} of {lines} lines differ: {differ:#?}",
        differ.len()
    );
}

#[test]
fn phrase_words_meet_their_simplified_spelling() {
    // Words where OpenCC's phrase table and its character table disagree: the fold maps
    // both spellings to one form, so either meets the other.
    let cc = OpenCC::from_config(BuiltinConfig::T2s).expect("built-in t2s");
    for trad in ["乾隆", "著作", "瞭望", "頭髮", "發展", "皇后", "麵條"] {
        let simplified = cc.convert(trad);
        assert_eq!(
            normalize(trad).text,
            normalize(&simplified).text,
            "{trad} → {simplified}"
        );
    }
}
