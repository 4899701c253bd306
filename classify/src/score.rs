//! Category scores. Each distinct list entry that matched (and was not suppressed) contributes
//! `c = min(1, base · weight · trust)`, with `base` 0.6 for keywords and regexes and 0.95 for
//! exact matches (hashes, URLs), and a category scores `1 − Π(1 − c)` over its entries. The
//! score grows with the number, weight and trust of the entries and stays in 0..=1. Repeats of
//! one entry do not add: a term quoted ten times is still one piece of evidence.

use shared::{Category, CategoryScore, MatchKind};

/// What one matching entry adds to its category.
pub(crate) fn contribution(kind: MatchKind, weight: f64, trust_factor: f64) -> f64 {
    let base = match kind {
        MatchKind::Keyword | MatchKind::Regex => 0.6,
        MatchKind::Sha256 | MatchKind::Md5 | MatchKind::Pdq | MatchKind::Url => 0.95,
    };
    (base * weight * trust_factor).clamp(0.0, 1.0)
}

/// One counted match: its category, a key that is equal for repeats of one entry, the
/// entry id for the evidence, and its contribution.
pub(crate) struct Counted<'a> {
    pub category: Category,
    pub key: usize,
    pub entry_id: &'a str,
    pub contribution: f64,
}

/// Scores per category, highest first (ties in category order).
pub(crate) fn categories<'a>(counted: impl IntoIterator<Item = Counted<'a>>) -> Vec<CategoryScore> {
    struct Acc {
        category: Category,
        keys: Vec<usize>,
        miss: f64,
        evidence: Vec<String>,
    }
    let mut accs: Vec<Acc> = Vec::new();
    for c in counted {
        let acc = match accs.iter_mut().position(|a| a.category == c.category) {
            Some(i) => &mut accs[i],
            None => {
                accs.push(Acc {
                    category: c.category,
                    keys: Vec::new(),
                    miss: 1.0,
                    evidence: Vec::new(),
                });
                accs.last_mut().expect("just pushed")
            }
        };
        if acc.keys.contains(&c.key) {
            continue;
        }
        acc.keys.push(c.key);
        acc.miss *= 1.0 - c.contribution;
        if !acc.evidence.iter().any(|e| e == c.entry_id) {
            acc.evidence.push(c.entry_id.to_string());
        }
    }
    let mut out: Vec<CategoryScore> = accs
        .into_iter()
        .map(|a| CategoryScore {
            id: a.category,
            score: round4(1.0 - a.miss),
            evidence: a.evidence,
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    out
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(category: Category, key: usize, id: &str, contribution: f64) -> Counted<'_> {
        Counted {
            category,
            key,
            entry_id: id,
            contribution,
        }
    }

    #[test]
    fn grows_with_number_and_stays_below_one() {
        let one = categories([c(Category::Extremism, 1, "a", 0.6)]);
        let two = categories([
            c(Category::Extremism, 1, "a", 0.6),
            c(Category::Extremism, 2, "b", 0.6),
        ]);
        assert_eq!(one[0].score, 0.6);
        assert_eq!(two[0].score, 0.84);
        assert_eq!(two[0].evidence, ["a", "b"]);
        let many = categories((0..50).map(|k| c(Category::Extremism, k, "x", 0.6)));
        assert!(many[0].score <= 1.0 && many[0].score > 0.99);
        assert_eq!(many[0].evidence, ["x"]);
    }

    #[test]
    fn repeats_of_one_entry_count_once() {
        let s = categories([
            c(Category::Extremism, 1, "a", 0.6),
            c(Category::Extremism, 1, "a", 0.6),
        ]);
        assert_eq!(s[0].score, 0.6);
    }

    #[test]
    fn weight_trust_and_kind() {
        assert_eq!(contribution(MatchKind::Keyword, 1.0, 1.0), 0.6);
        assert!(
            contribution(MatchKind::Keyword, 1.0, 0.4) < contribution(MatchKind::Keyword, 1.0, 0.7)
        );
        assert!(
            contribution(MatchKind::Keyword, 2.0, 1.0) > contribution(MatchKind::Keyword, 1.0, 1.0)
        );
        assert_eq!(contribution(MatchKind::Keyword, 10.0, 1.0), 1.0);
        assert!(
            contribution(MatchKind::Sha256, 1.0, 1.0) > contribution(MatchKind::Keyword, 1.0, 1.0)
        );
    }

    #[test]
    fn sorted_by_score() {
        let s = categories([
            c(Category::Extremism, 1, "a", 0.2),
            c(Category::PublicProvocation, 2, "b", 0.9),
        ]);
        assert_eq!(s[0].id, Category::PublicProvocation);
        assert_eq!(s[1].id, Category::Extremism);
    }
}
