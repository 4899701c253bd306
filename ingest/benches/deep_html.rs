//! Time of extraction on hostile nesting, where an unbounded html5ever is quadratic (17 s for
//! 100k nested `<div>`s). A plain timing loop, no harness: `cargo bench -p ingest`.

use std::time::Instant;

fn main() {
    let cases = [
        (
            "100k nested <div>",
            format!(
                "{}<p>deep text</p>{}",
                "<div>".repeat(100_000),
                "</div>".repeat(100_000)
            ),
        ),
        (
            "40k unclosed <span><b><i>",
            format!("{}x", "<span><b><i>".repeat(40_000)),
        ),
    ];
    for (name, html) in &cases {
        let runs = 5;
        let started = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(ingest::extract(html.as_bytes(), Some("text/html"), None));
        }
        println!("{name}: {:?} per extraction", started.elapsed() / runs);
    }
}
