//! How long normalisation of a large Chinese page takes: a measurement that prints, never a
//! pass/fail on time. Ignored by default (timing is only meaningful in a release build):
//!
//! `cargo test -p classify --release --test normalize_speed -- --ignored --nocapture`

use classify::normalize::normalize;
use std::time::Instant;

#[test]
#[ignore = "timing; run in release with --ignored"]
fn one_megabyte_of_chinese() {
    // Half traditional, half simplified, with punctuation and a little Latin.
    let para = "據報道，東突厥斯坦伊斯蘭運動在網上發布了視頻，當局表示將加強監管。\n\
                外交部发言人今天在记者会上表示，双方将在下周继续就贸易问题举行会谈 (AFP)。\n";
    let text = para.repeat((1 << 20) / para.len() + 1);
    // The first call builds the traditional → simplified table.
    let t = Instant::now();
    let _ = normalize("東");
    let build = t.elapsed();
    let mut best = std::time::Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let n = normalize(&text);
        best = best.min(t.elapsed());
        assert!(n.text.len() >= text.len() / 2);
    }
    println!(
        "table build {build:?}; normalize {} bytes ({} chars): best of 5 {best:?}",
        text.len(),
        text.chars().count()
    );
}
