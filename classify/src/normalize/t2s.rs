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
//! Building the table takes about 7 ms in a release build, once per process; a lookup is
//! one hash probe, and only for characters in the Han blocks.

use ferrous_opencc::config::BuiltinConfig;
use ferrous_opencc::OpenCC;
use std::collections::HashMap;
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

fn table() -> &'static HashMap<char, Box<str>> {
    static TABLE: OnceLock<HashMap<char, Box<str>>> = OnceLock::new();
    TABLE.get_or_init(build)
}

fn build() -> HashMap<char, Box<str>> {
    // The configuration is compiled into the crate: failing to load it is a packaging bug,
    // and folding nothing (the state before this step existed) is the safe way to degrade.
    let Ok(cc) = OpenCC::from_config(BuiltinConfig::T2s) else {
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
}
