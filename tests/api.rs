//! End to end through the HTTP API: the real binary on port 0 against a loopback origin that
//! serves the fixture pages.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// Every page of the manifest goes in as one batch; each ends routed, in its language, with the
/// list entries the manifest expects, spans that point at the matched text, and a decision.
#[test]
fn fixture_pages_in_many_languages_are_fetched_classified_and_routed() {
    let origin = start_origin();
    let data = tempdir("pages");
    let server = start_server(&data, &[&origin.addr], &[]);
    let pages = manifest();
    assert!(pages.len() >= 6, "manifest lists {} pages", pages.len());
    let batch: Vec<Value> = pages
        .iter()
        .map(|p| json!({"url": origin.url(&format!("/{}", p["file"].as_str().unwrap()))}))
        .collect();
    let (status, body) = post_json(&server, None, &json!({ "referrals": batch }));
    assert_eq!(status, 202, "{body}");
    let accepted = body["referrals"].as_array().unwrap().clone();
    assert_eq!(accepted.len(), pages.len());

    let mut languages = std::collections::BTreeSet::new();
    for (page, acc) in pages.iter().zip(&accepted) {
        let file = page["file"].as_str().unwrap();
        assert_eq!(acc["status"], "queued");
        let r = wait_final(&server, acc["referral_id"].as_str().unwrap(), WAIT);
        assert_eq!(r["status"], "routed", "{file}: {r}");
        assert_eq!(r["agency"], "demo-unit");
        let case = &r["case"];
        assert_eq!(case["case_id"], acc["case_id"]);
        let cls = &case["classification"];
        assert_eq!(
            cls["language"]["code"], page["lang"],
            "{file}: language {}",
            cls["language"]
        );
        languages.insert(page["lang"].as_str().unwrap().to_string());

        let text = case["text"].as_str().unwrap();
        let matches = cls["matches"].as_array().unwrap();
        let found = |want: &str, suppressed: bool| {
            matches.iter().any(|m| {
                format!(
                    "{}/{}",
                    m["list"].as_str().unwrap(),
                    m["entry"].as_str().unwrap()
                ) == want
                    && m.get("suppressed_by").is_some() == suppressed
            })
        };
        for want in page["expect_entries"].as_array().into_iter().flatten() {
            assert!(
                found(want.as_str().unwrap(), false),
                "{file}: expected {want} among {matches:#?}"
            );
        }
        for want in page["expect_suppressed"].as_array().into_iter().flatten() {
            assert!(
                found(want.as_str().unwrap(), true),
                "{file}: expected {want} suppressed among {matches:#?}"
            );
        }
        for m in matches {
            if let Some(span) = m["span"].as_array() {
                let (a, b) = (
                    span[0].as_u64().unwrap() as usize,
                    span[1].as_u64().unwrap() as usize,
                );
                assert_eq!(
                    Some(&text[a..b]),
                    m["matched_text"].as_str(),
                    "{file}: span of {m}"
                );
            }
        }
        let got: Vec<&str> = cls["categories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        for want in page["expect_categories"].as_array().into_iter().flatten() {
            assert!(
                got.contains(&want.as_str().unwrap()),
                "{file}: category {want} missing from {got:?}"
            );
        }
        let decision = &r["decision"];
        assert!(
            decision["rules_version"]
                .as_str()
                .is_some_and(|v| !v.is_empty()),
            "{file}: {decision}"
        );
        assert!(
            !decision["targets"].as_array().unwrap().is_empty(),
            "{file}: a decision always has a target: {decision}"
        );
        assert_eq!(case["capture"]["status"], 200);
        assert_eq!(case["capture"]["sha256"].as_str().unwrap().len(), 64);
    }
    for lang in ["rus", "cmn", "urd", "ara", "pes", "eng"] {
        assert!(languages.contains(lang), "no fixture page in {lang}");
    }

    // Operators see all of it in the metrics.
    let m = metrics(&server);
    assert_eq!(
        metric_value(&m, "triage_referrals_received_total{source=\"api\"}"),
        Some(pages.len() as f64),
        "{m}"
    );
    assert_eq!(
        metric_value(&m, "triage_fetches_total{outcome=\"ok\",reason=\"ok\"}"),
        Some(pages.len() as f64),
        "{m}"
    );
    assert_eq!(
        metric_value(&m, "triage_referrals_final_total{status=\"routed\"}"),
        Some(pages.len() as f64),
        "{m}"
    );
    assert!(
        metric_value(&m, "triage_cases_by_language_total{language=\"rus\"}").unwrap_or(0.0) >= 1.0,
        "{m}"
    );
    assert!(
        metric_value(
            &m,
            "triage_list_matches_total{list=\"kw-demo\",owner=\"fr-pharos\",version=\"2026-11-01.1\"}"
        ).unwrap_or(0.0) >= 1.0,
        "{m}"
    );
    assert!(
        m.contains("triage_decisions_total{jurisdiction=\"FR\""),
        "{m}"
    );
    assert!(
        m.contains("triage_stage_seconds_bucket{stage=\"fetch\""),
        "{m}"
    );
    assert!(
        m.contains("triage_stage_seconds_bucket{stage=\"classify\""),
        "{m}"
    );
    assert!(m.contains("triage_list_entries{list=\"kw-demo\""), "{m}");
    assert_eq!(
        metric_value(&m, "triage_referrals_queued"),
        Some(0.0),
        "{m}"
    );

    // The case list filters and pages.
    let (s, all) = get_json(&server, "/v1/cases?limit=500");
    assert_eq!(s, 200);
    assert_eq!(all["cases"].as_array().unwrap().len(), pages.len());
    let (_, rus) = get_json(&server, "/v1/cases?language=rus");
    assert!(rus["cases"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["language"] == "rus"));
    assert!(!rus["cases"].as_array().unwrap().is_empty());
    let (_, fr) = get_json(&server, "/v1/cases?jurisdiction=fr&status=routed");
    assert_eq!(
        fr["cases"].as_array().unwrap().len(),
        pages.len(),
        "every case of a French agency involves FR"
    );
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/v1/cases?limit=3".to_string(),
            Some(c) => format!("/v1/cases?limit=3&cursor={}", urlencode(c)),
        };
        let (s, page) = get_json(&server, &path);
        assert_eq!(s, 200, "{page}");
        for c in page["cases"].as_array().unwrap() {
            assert!(
                seen.insert(c["case_id"].as_str().unwrap().to_string()),
                "case listed twice across pages"
            );
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), pages.len());
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A second referral of the same content by another agency attaches to the existing case, is
/// told who referred it first and when, and gets a decision for its own state.
#[test]
fn second_referral_of_the_same_content_is_deconflicted() {
    let origin = start_origin();
    let data = tempdir("deconflict");
    let config = data.join("triage.toml");
    std::fs::write(
        &config,
        r#"
default_agency = "fr-pharos"
[[agencies]]
id = "fr-pharos"
jurisdiction = "FR"
[[agencies]]
id = "de-bka"
jurisdiction = "DE"
"#,
    )
    .unwrap();
    let server = start_server(
        &data.join("db"),
        &[&origin.addr],
        &["--config", config.to_str().unwrap()],
    );
    let bka = create_token(&server, "de-bka", "submitter");
    let url = origin.url("/ru-news.html");
    let (s, first) = post_json(
        &server,
        None,
        &json!({"url": url, "note": "seen on a forum"}),
    );
    assert_eq!(s, 202, "{first}");
    assert!(first.get("already_referred").is_none());
    let r1 = wait_final(&server, first["referral_id"].as_str().unwrap(), WAIT);
    assert_eq!(r1["status"], "routed");

    // Another spelling of the same URL, from the other agency.
    let other_spelling = format!("{}#comments", url.replace("http://", "HTTP://"));
    let (s, second) = post_json(&server, Some(&bka), &json!({"url": other_spelling}));
    assert_eq!(s, 202, "{second}");
    assert_eq!(second["case_id"], first["case_id"]);
    assert_eq!(second["already_referred"]["by"], "fr-pharos");
    assert!(second["already_referred"]["at"].is_string(), "{second}");
    // The first referral's id is fr-pharos's business: de-bka learns who and when, not the id.
    assert!(
        second["already_referred"].get("referral_id").is_none(),
        "another agency's referral id leaked: {second}"
    );
    let r2 = wait_final(&server, second["referral_id"].as_str().unwrap(), WAIT);
    assert_eq!(r2["status"], "routed");
    assert_eq!(r2["agency"], "de-bka");
    assert_eq!(r2["jurisdiction"], "DE");
    assert_eq!(
        r2["decision"]["targets"].as_array().map(|t| t.is_empty()),
        Some(false)
    );

    let (_, case) = get_json(
        &server,
        &format!("/v1/cases/{}", first["case_id"].as_str().unwrap()),
    );
    assert_eq!(case["referrals"].as_array().unwrap().len(), 2);
    assert_eq!(case["deconfliction"][0]["agency"], "de-bka");
    assert!(case["deconfliction"][0]["note"]
        .as_str()
        .unwrap()
        .contains("fr-pharos"));
    // One fetch for two referrals: the second reused the capture.
    let m = metrics(&server);
    assert_eq!(
        metric_value(&m, "triage_fetches_total{outcome=\"ok\",reason=\"ok\"}"),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        metric_value(&m, "triage_referrals_deconflicted_total"),
        Some(1.0),
        "{m}"
    );

    // A token nobody has is refused, and nothing is stored.
    let (s, e) = post_json(
        &server,
        Some("not-a-token-of-anyone-here"),
        &json!({"url": url}),
    );
    assert_eq!(s, 401, "{e}");
    assert_eq!(e["error"]["kind"], "unauthorized");
}

/// Bad input gets a 4xx with a JSON reason, and nothing is stored.
#[test]
fn bad_input_is_refused_with_a_reason_and_nothing_is_stored() {
    let data = tempdir("badinput");
    let server = start_server(&data, &[], &[]);
    let c = client();
    let send = |body: &str| {
        let resp = c
            .post(server.url("/v1/referrals"))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().unwrap_or(Value::Null))
    };
    let cases: Vec<(String, u16, &str, &str)> = vec![
        ("{not json".into(), 400, "malformed_json", ""),
        ("{}".into(), 422, "invalid_body", "url"),
        (r#"{"url": "http://example.test/", "agency": "someone-else"}"#.into(), 422, "invalid_body", "agency"),
        (r#"{"url": "ftp://example.test/file"}"#.into(), 422, "scheme", "ftp"),
        (r#"{"url": "not a url"}"#.into(), 422, "invalid_url", "url"),
        (format!(r#"{{"url": "http://example.test/{}"}}"#, "a".repeat(3000)), 422, "too_long", "2048"),
        (r#"{"url": "http://user:pw@example.test/"}"#.into(), 422, "userinfo", "user"),
        (r#"{"url": "http://example.test/", "categories_hint": ["terrorism"]}"#.into(), 422, "invalid_body", "terrorism"),
        (r#"{"referrals": [{"url": "http://example.test/1"}, {"url": "gopher://example.test/"}]}"#.into(), 422, "scheme", "referrals[1].url"),
        (r#"{"referrals": []}"#.into(), 422, "invalid_body", "empty"),
        (format!(r#"{{"url": "http://example.test/", "note": "{}"}}"#, "x".repeat(2 * 1024 * 1024)), 413, "too_large", "bytes"),
    ];
    for (body, want_status, want_kind, want_in_message) in &cases {
        let (status, v) = send(body);
        let shown = &body[..body.len().min(80)];
        assert_eq!(status, *want_status, "{shown}: {v}");
        assert_eq!(v["error"]["kind"], *want_kind, "{shown}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains(want_in_message),
            "{shown}: {v}"
        );
    }
    let (_, list) = get_json(&server, "/v1/cases");
    assert_eq!(
        list["cases"].as_array().unwrap().len(),
        0,
        "a refused request stored something: {list}"
    );
    let m = metrics(&server);
    assert_eq!(
        metric_value(&m, "triage_referrals_received_total{source=\"api\"}"),
        None,
        "{m}"
    );
    assert_eq!(
        metric_value(&m, "triage_referrals_rejected_total{reason=\"scheme\"}"),
        Some(2.0),
        "{m}"
    );

    let (s, v) = get_json(&server, "/v1/cases?status=bogus");
    assert_eq!(
        (s, v["error"]["kind"].as_str()),
        (400, Some("invalid_query")),
        "{v}"
    );
    let (s, v) = get_json(&server, "/v1/cases?colour=red");
    assert_eq!(s, 400, "{v}");
    let (s, v) = get_json(&server, "/v1/referrals/r-nope");
    assert_eq!((s, v["error"]["kind"].as_str()), (404, Some("not_found")));
    let (s, v) = get_json(&server, "/v1/cases/c-nope");
    assert_eq!(s, 404, "{v}");
}

/// The address policy holds inside the pipeline: a private address, or another port of the
/// allowed origin, ends `failed` with the policy's reason; the service keeps going.
#[test]
fn refused_fetches_fail_the_referral_with_the_reason() {
    let origin = start_origin();
    let data = tempdir("ssrf");
    let server = start_server(&data, &[&origin.addr], &[]);
    let port: u16 = origin.addr.rsplit(':').next().unwrap().parse().unwrap();
    let other_port = format!(
        "http://127.0.0.1:{}/ru-news.html",
        port.wrapping_add(1).max(1024)
    );
    let urls = [
        "http://10.0.0.1/page",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/",
        &other_port,
    ];
    for u in urls {
        let (s, acc) = post_json(&server, None, &json!({"url": u}));
        assert_eq!(s, 202, "{u}: {acc}");
        let r = wait_final(&server, acc["referral_id"].as_str().unwrap(), WAIT);
        assert_eq!(r["status"], "failed", "{u}: {r}");
        let kind = r["reason"]["kind"].as_str().unwrap();
        assert!(kind == "blocked_address" || kind == "port", "{u}: {r}");
        assert!(!r["reason"]["message"].as_str().unwrap().is_empty());
    }
    let missing = origin.url("/no-such-page.html");
    let (_, acc) = post_json(&server, None, &json!({"url": missing}));
    let r = wait_final(&server, acc["referral_id"].as_str().unwrap(), WAIT);
    assert_eq!(
        (r["status"].as_str(), r["reason"]["kind"].as_str()),
        (Some("failed"), Some("http_status")),
        "{r}"
    );
    let m = metrics(&server);
    assert!(
        metric_value(
            &m,
            "triage_fetches_total{outcome=\"refused\",reason=\"blocked_address\"}"
        )
        .unwrap_or(0.0)
            >= 3.0,
        "{m}"
    );
    assert_eq!(
        metric_value(
            &m,
            "triage_fetches_total{outcome=\"failed\",reason=\"http_4xx\"}"
        ),
        Some(1.0),
        "{m}"
    );
    // Still serving.
    let (s, _) = get_json(&server, "/healthz");
    assert_eq!(s, 200);
}

#[test]
fn health_readiness_and_graceful_stop() {
    let data = tempdir("health");
    let mut server = start_server(&data, &[], &[]);
    let (s, h) = get_json(&server, "/healthz");
    assert_eq!((s, h["status"].as_str()), (200, Some("ok")));
    let (s, r) = get_json(&server, "/readyz");
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["ready"], true);
    assert!(r["lists"].as_u64().unwrap() >= 1);
    assert!(!r["rules_version"].as_str().unwrap().is_empty());
    let status = server.terminate();
    assert!(
        status.success(),
        "SIGTERM should stop the service cleanly: {status:?}\n{}",
        server.log_text()
    );
}

#[test]
fn invalid_lists_or_config_refuse_to_start_naming_file_and_line() {
    let dir = tempdir("badlists");
    let list = dir.join("lists/kw-bad");
    std::fs::create_dir_all(&list).unwrap();
    std::fs::write(list.join("list.toml"), "id='kw-bad'\nname='Bad'\nkind='keywords'\nowner='x'\ntrust='high'\nversion='1'\ndefault_category='extremism'\n").unwrap();
    std::fs::write(
        list.join("entries.jsonl"),
        "{\"id\":\"a\",\"term\":\"ok\"}\n{\"id\":\"b\",\"term\":\"\"}\n",
    )
    .unwrap();
    let out = std::process::Command::new(bin())
        .current_dir(repo())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--lists")
        .arg(dir.join("lists"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kw-bad/entries.jsonl:2"), "{err}");
    assert!(
        !dir.join("data").exists(),
        "nothing should be created before the inputs are valid"
    );

    // A data pack with an unknown category in one cell.
    let pack = dir.join("legal");
    std::fs::create_dir_all(&pack).unwrap();
    for entry in std::fs::read_dir(repo().join("fixtures/legal")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, pack.join(p.file_name().unwrap())).unwrap();
    }
    let jur = pack.join("jurisdictions.toml");
    let text = std::fs::read_to_string(&jur).unwrap();
    let bad_line = text
        .lines()
        .position(|l| l.trim_start().starts_with("public_provocation"))
        .expect("a provocation cell")
        + 1;
    let broken: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i + 1 == bad_line {
                l.replacen("public_provocation", "public_provokation", 1)
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&jur, broken.join("\n")).unwrap();
    let out = std::process::Command::new(bin())
        .current_dir(repo())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--data")
        .arg(&pack)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("jurisdictions.toml:{bad_line}")),
        "{err}"
    );

    let cfg = dir.join("bad.toml");
    std::fs::write(&cfg, "workers = 2\n\n[fetch]\nmax_redirects = \"many\"\n").unwrap();
    let out = std::process::Command::new(bin())
        .current_dir(repo())
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:4"), "{err}");
}

/// Host determination: a page on a known platform's domain (given a loopback address with the
/// fetch policy's `resolve` map) is routed by the platform's establishment — a French referral
/// of recruitment on a platform established in Ireland is a TCO removal order with a copy to IE.
#[test]
fn a_page_on_a_known_platform_is_routed_by_its_establishment() {
    let (_origin, server, r) = refer_on_platform("platform");
    assert_eq!(r["status"], "routed", "{r}");
    let d = &r["decision"];
    let order = d["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["path"] == "removal_order")
        .unwrap_or_else(|| panic!("no removal order: {d:#}"));
    assert_eq!(order["jurisdiction"], "FR");
    assert_eq!(order["addressee"], "examplevideo");
    assert_eq!(order["copy_to"], "IE");
    assert_eq!(order["deadline"], "PT1H");
    let candidates = &r["case"]["capture"]["host_candidates"];
    // The platform's domain gives its main establishment (high confidence); the loopback
    // address the page really came from is recorded but located nowhere.
    assert_eq!(
        candidates[0]["factor"], "main_establishment",
        "{candidates}"
    );
    assert_eq!(candidates[0]["jurisdiction"], "IE");
    assert_eq!(candidates[0]["confidence"], "high");
    assert_eq!(
        d["host_candidates"], *candidates,
        "the decision used what the capture shows"
    );
    // The removal order's one-hour deadline is an absolute time in the decision.
    let clock = d["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clock"] == "removal_deadline")
        .unwrap_or_else(|| panic!("no deadline clock: {d:#}"));
    assert!(clock["due_at"]
        .as_str()
        .is_some_and(|t| t > clock["starts_at"].as_str().unwrap()));
    // Filed under both the issuing state and the state that gets the copy.
    let (_, ie) = get_json(&server, "/v1/cases?jurisdiction=IE");
    assert_eq!(ie["cases"].as_array().unwrap().len(), 1);
}
