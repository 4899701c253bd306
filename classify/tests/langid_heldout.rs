//! Accuracy floors of language ID on the held-out half of the development data
//! (`fixtures/langid/heldout.tsv`: UDHR, GTK and Firefox lines the profiles were not built
//! from). Detection is deterministic, so these are exact regressions checks, not timings.
//! The floors sit just under what `triage eval langid fixtures/langid/heldout.tsv` measures
//! (the table is in docs/langid.md); run with `--nocapture` to print it.

use classify::langid::eval::{evaluate, parse_tsv, whatlang_alone, Count};
use classify::langid::language;

const HELDOUT: &str = include_str!("../../fixtures/langid/heldout.tsv");

#[test]
fn held_out_accuracy_floors() {
    let samples = parse_tsv(HELDOUT).expect("held-out file parses");
    let table = evaluate(&samples, true, language);
    println!("{}", table.markdown());
    let all = table.total(None);
    let pct = |c: &Count| c.percent();
    assert!(pct(&all[0]) >= 99.5, "sentences {:.2}", pct(&all[0]));
    assert!(pct(&all[1]) >= 96.0, "two words {:.2}", pct(&all[1]));
    assert!(pct(&all[2]) >= 99.5, "obfuscated {:.2}", pct(&all[2]));
    let mut problems = Vec::new();
    for ((label, source), r) in &table.rows {
        let (sentence, two, obfuscated) = (pct(&r[0]), pct(&r[1]), pct(&r[2]));
        // Rows of a dozen lines move 8 points per line; they are reported, not asserted.
        if r[0].n < 20 {
            continue;
        }
        // Obfuscation (zero-width characters, tatweel, look-alikes) costs at most 2 points.
        if (sentence - obfuscated).abs() > 2.0 {
            problems.push(format!(
                "{label}/{source}: obfuscated {obfuscated:.1} vs {sentence:.1}"
            ));
        }
        // 97 % for every language and source.
        let floor = 97.0;
        if sentence < floor {
            problems.push(format!(
                "{label}/{source}: sentences {sentence:.1} < {floor}"
            ));
        }
        if r[1].n >= 50 && two < 84.0 {
            problems.push(format!("{label}/{source}: two words {two:.1}"));
        }
        if ["rus", "urd"].contains(&label.as_str()) || label.starts_with("cmn") {
            let floor = 99.0;
            if sentence < floor {
                problems.push(format!(
                    "{label}/{source}: sentences {sentence:.1} < {floor}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn whatlang_alone_is_far_behind() {
    // The comparison docs/langid.md draws, kept honest: whatlang on the same lines.
    let samples = parse_tsv(HELDOUT).expect("held-out file parses");
    let ours = evaluate(&samples, false, language).total(None);
    let theirs = evaluate(&samples, false, whatlang_alone).total(None);
    println!(
        "sentences: ours {:.1} %, whatlang {:.1} %; two words: ours {:.1} %, whatlang {:.1} %",
        ours[0].percent(),
        theirs[0].percent(),
        ours[1].percent(),
        theirs[1].percent()
    );
    assert!(theirs[0].percent() < 85.0 && ours[0].percent() > theirs[0].percent() + 15.0);
}
