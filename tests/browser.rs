//! The web page in a real browser: headless Chromium (Debian `chromium`) driven over W3C
//! WebDriver (`chromium-driver`) signs in with a token, submits a fixture page of the loopback
//! origin, watches the case go through the live queue without reloading, opens it and finds
//! the highlighted match; the dashboard draws its charts. Screenshots are kept as PNG files in
//! `target/browser-artifacts/` (the paths are printed). No Chromium is a failure naming the
//! packages, not a skip.

mod common;
#[path = "common/webdriver.rs"]
mod webdriver;

use common::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;
use webdriver::Browser;

fn artifacts() -> PathBuf {
    let d = repo().join("target").join("browser-artifacts");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn shot(b: &Browser, name: &str) -> PathBuf {
    let path = artifacts().join(name);
    let bytes = b.screenshot(&path);
    println!("screenshot: {} ({bytes} bytes)", path.display());
    path
}

#[test]
fn chromium_and_its_driver_are_installed() {
    if let Err(e) = webdriver::programs() {
        panic!("{e}");
    }
}

#[test]
fn an_analyst_signs_in_submits_watches_the_queue_and_finds_the_marked_match() {
    let (_, _) = webdriver::programs().unwrap_or_else(|e| panic!("{e}"));
    let origin = start_origin();
    let data = tempdir("browser");
    let server = start_server(&data.join("db"), &[&origin.addr], &[]);
    let token = create_token(&server, "demo-unit", "analyst");
    let browser =
        Browser::start(&artifacts().join("chromedriver.log")).unwrap_or_else(|e| panic!("{e}"));
    let wait = Duration::from_secs(30);

    // Not signed in: the page sends the browser to the sign-in form.
    browser.goto(&server.url("/"));
    browser.expect(
        "#login-form",
        wait,
        "GET / leads a browser to the sign-in form",
    );
    assert!(
        browser.current_url().contains("/ui/login"),
        "{}",
        browser.current_url()
    );
    shot(&browser, "01-sign-in.png");

    // A wrong token is refused on the page.
    browser.type_text(&browser.find("#token"), "trg_000000000000_wrong");
    browser.click(&browser.find("#sign-in"));
    let err = browser.expect("#login-error", wait, "an error for a bad token");
    assert!(
        browser.text(&err).contains("not accepted"),
        "{}",
        browser.text(&err)
    );

    // The real token.
    browser.type_text(&browser.find("#token"), &token);
    browser.click(&browser.find("#sign-in"));
    browser.expect("#submit-form", wait, "the submit page after signing in");
    assert!(browser
        .text(&browser.find("#who"))
        .contains("demo-unit · analyst"));

    // Submit a fixture page of the loopback origin through the form.
    let url = format!("http://{}/ru-news.html", origin.addr);
    browser.type_text(&browser.find("#url"), &url);
    browser.type_text(&browser.find("#note"), "seen in a closed channel");
    browser.click(&browser.find("#submit"));
    let result = browser.expect("#submit-result", wait, "the submission's result");
    let result_text = browser.text(&result);
    assert!(
        result_text.contains("1 referral(s) accepted"),
        "{result_text}"
    );
    let case_id = result_text
        .split_whitespace()
        .find(|w| w.starts_with("c-"))
        .expect("the case id in the result")
        .to_string();
    shot(&browser, "02-submitted.png");

    // The live queue: the script moves the row to `routed` without a reload. A marker set on
    // this document survives only if the page was not reloaded.
    browser.execute("window.__triage_marker = 42; return true;", json!([]));
    let routed = format!("#queue tr[data-case-id=\"{case_id}\"][data-status=\"routed\"]");
    browser
        .wait_for(&routed, Duration::from_secs(60))
        .unwrap_or_else(|| {
            panic!(
                "case {case_id} never showed as routed in the live queue; server log:\n{}",
                server.log_text()
            )
        });
    let marker = browser.execute("return window.__triage_marker || null;", json!([]));
    assert_eq!(
        marker,
        json!(42),
        "the queue updated by reloading, not live"
    );
    assert!(
        browser.find_all("#queue[data-live=\"1\"]").len() == 1,
        "the queue script ran"
    );
    let updated = browser.text(&browser.find("#queue-updated"));
    assert!(updated.starts_with("live"), "{updated}");
    // A referral made elsewhere (the API, same agency) appears in the open queue by itself.
    let (s, other) = post_json(
        &server,
        Some(&token),
        &json!({"url": format!("http://{}/zh-news.html", origin.addr)}),
    );
    assert_eq!(s, 202, "{other}");
    let other_row = format!(
        "#queue tr[data-case-id=\"{}\"][data-status=\"routed\"]",
        other["case_id"].as_str().unwrap()
    );
    browser.expect(
        &other_row,
        Duration::from_secs(60),
        "a case referred through the API in the live queue",
    );
    let marker = browser.execute("return window.__triage_marker || null;", json!([]));
    assert_eq!(
        marker,
        json!(42),
        "the new case came by reloading, not live"
    );
    shot(&browser, "03-live-queue.png");

    // Open the case from the queue and find the highlighted match.
    browser.click(&browser.find(&format!("{routed} a.case-link")));
    let mark = browser.expect("#text mark", wait, "a <mark> in the case text");
    let marked = browser.text(&mark);
    let title = browser.attr(&mark, "title").unwrap_or_default();
    assert!(browser
        .current_url()
        .ends_with(&format!("/ui/cases/{case_id}")));
    // The marked words are what the classifier matched (from the API, same case).
    let (s, case) = get_json(&server, &format!("/v1/cases/{case_id}"));
    assert_eq!(s, 200);
    let matched: Vec<String> = case["classification"]["matches"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["matched_text"].as_str().map(str::to_string))
        .collect();
    assert!(
        matched.contains(&marked),
        "marked {marked:?}, matched {matched:?}"
    );
    assert!(title.contains("kw-demo/"), "{title}");
    let marks = browser.find_all("#text mark").len();
    assert!(marks >= 3, "{marks} marks");
    // The language and the list provenance are on the page.
    assert_eq!(browser.text(&browser.find("#language")), "rus");
    let matches_table = browser.text(&browser.find("#matches"));
    assert!(matches_table.contains("kw-partner") && matches_table.contains("fr-pharos"));
    assert!(
        browser.find_all("#evidence a.download").len() == 1,
        "a WARC download link"
    );
    browser.execute(
        "arguments[0].scrollIntoView({block: 'center'}); return true;",
        json!([{"element-6066-11e4-a52e-4f735466cecf": mark}]),
    );
    shot(&browser, "04-case-marked.png");

    // The dashboard's charts.
    browser.goto(&server.url("/ui/dashboard"));
    browser.expect("#chart-language svg", wait, "the language chart");
    let total = browser.text(&browser.find("#total-cases"));
    assert_eq!(total, "2");
    let bars = browser.find_all("#chart-day svg rect.bar").len();
    assert_eq!(bars, 30, "one column per day of the window");
    shot(&browser, "05-dashboard.png");

    // Nothing was blocked by the Content-Security-Policy (no inline script or style).
    let console: Vec<Value> = browser.console();
    let csp: Vec<&Value> = console
        .iter()
        .filter(|m| {
            m["message"]
                .as_str()
                .is_some_and(|t| t.contains("Content Security Policy"))
        })
        .collect();
    assert!(csp.is_empty(), "CSP violations: {csp:?}");

    // Sign out: back to the sign-in form, and the queue script stops at 401.
    browser.goto(&server.url("/ui/"));
    browser.click(&browser.find("#sign-out"));
    browser.expect("#login-form", wait, "signed out");
    browser.goto(&server.url("/ui/cases"));
    browser.expect("#login-form", wait, "pages need a session again");
}
