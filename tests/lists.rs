//! End to end for the shared lists while the service runs: `GET /v1/lists`, hot reload over
//! HTTP and by SIGHUP (a good set swapped in, a bad one refused with file and line while the
//! old one keeps matching), flood quarantine with release and restart, and `triage lists
//! import/export/check` on the real binary.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);
/// The harness's admin token; `ops` is the default agency of [`config`], so it is ops's.
const ADMIN: &str = ADMIN_TOKEN;

/// A partner token of de-bka: may read the lists, not change them.
fn partner(server: &Proc) -> String {
    create_token(server, "de-bka", "partner")
}

/// A copy of `fixtures/lists` the test may edit.
fn copy_lists(dir: &Path) -> PathBuf {
    let to = dir.join("lists");
    for list in std::fs::read_dir(repo().join("fixtures/lists")).unwrap() {
        let list = list.unwrap().path();
        let d = to.join(list.file_name().unwrap());
        std::fs::create_dir_all(&d).unwrap();
        for f in ["list.toml", "entries.jsonl"] {
            std::fs::copy(list.join(f), d.join(f)).unwrap();
        }
    }
    to
}

/// A config with the demo agency, the admin's agency `ops` and a partner agency.
fn config(dir: &Path, limit: usize) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            r#"default_agency = "ops"
[lists]
quarantine_distinct_urls_per_hour = {limit}

[[agencies]]
id = "demo-unit"
jurisdiction = "FR"

[[agencies]]
id = "ops"
jurisdiction = "FR"

[[agencies]]
id = "de-bka"
jurisdiction = "DE"
"#
        ),
    )
    .unwrap();
    path
}

fn start(dir: &Path, origin: &Proc, lists: &Path, limit: usize) -> Proc {
    let cfg = config(dir, limit);
    start_server(
        &dir.join("data"),
        &[&origin.addr],
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--lists",
            lists.to_str().unwrap(),
        ],
    )
}

fn post(server: &Proc, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = client().post(server.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

/// Refers `url` and returns the case's classification once routed.
fn classify_url(server: &Proc, url: &str) -> Value {
    let (s, acc) = post_json(server, None, &json!({ "url": url }));
    assert_eq!(s, 202, "{acc}");
    let r = wait_final(server, acc["referral_id"].as_str().unwrap(), WAIT);
    assert_eq!(r["status"], "routed", "{r}");
    r["case"]["classification"].clone()
}

/// `list/entry` of the matches, with `!` before suppressed ones.
fn matched(cls: &Value) -> Vec<String> {
    cls["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}{}/{}",
                if m.get("suppressed_by").is_some() {
                    "!"
                } else {
                    ""
                },
                m["list"].as_str().unwrap(),
                m["entry"].as_str().unwrap()
            )
        })
        .collect()
}

fn list_info<'a>(lists: &'a Value, id: &str) -> &'a Value {
    lists["lists"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == id)
        .unwrap_or_else(|| panic!("no list {id} in {lists}"))
}

fn append(path: &Path, line: &str) -> usize {
    let mut text = std::fs::read_to_string(path).unwrap();
    text.push_str(line);
    text.push('\n');
    std::fs::write(path, &text).unwrap();
    text.lines().count()
}

fn set_version(path: &Path, version: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("version") {
                format!("version = \"{version}\"")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(path, out.join("\n") + "\n").unwrap();
}

#[test]
fn lists_are_shown_and_reloaded_over_http_and_a_bad_set_is_refused() {
    let origin = start_origin();
    let dir = tempdir("lists-reload");
    let lists = copy_lists(&dir);
    let server = start(&dir, &origin, &lists, 100);

    let (s, before) = get_json(&server, "/v1/lists");
    assert_eq!(s, 200, "{before}");
    let v1 = before["set_version"].as_str().unwrap().to_string();
    assert_eq!(v1.len(), 16);
    let kp = list_info(&before, "kw-partner");
    assert_eq!(
        (&kp["owner"], &kp["trust"], &kp["kind"]),
        (&json!("de-bka"), &json!("medium"), &json!("keywords"))
    );
    assert_eq!(kp["entries"], 7);
    assert_eq!(kp["disabled_entries"], 1);
    assert_eq!(kp["expired_entries"], 1);
    assert_eq!(kp["active_entries"], 5);
    assert_eq!(kp["quarantined_entries"], json!([]));
    assert_eq!(list_info(&before, "hash-demo")["pdq_max_distance"], 31);
    assert_eq!(
        list_info(&before, "kw-demo")["pdq_max_distance"],
        Value::Null
    );
    assert_eq!(list_info(&before, "allow-demo")["negative"], true);

    // The disabled and the expired entry are in en-news but do not match.
    let weather = |q: &str| origin.url(&format!("/en-weather.html?{q}"));
    let news = classify_url(&server, &origin.url("/en-news.html"));
    let got = matched(&news);
    assert!(got.contains(&"kw-partner/kp-01".to_string()), "{got:?}");
    assert!(
        !got.iter()
            .any(|m| m.contains("kp-06") || m.contains("kp-07")),
        "{got:?}"
    );
    let m = news["matches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["entry"] == "kp-01")
        .unwrap();
    assert_eq!(
        (&m["source"], &m["list_version"], &m["trust"]),
        (&json!("de-bka"), &json!("2026-11-01.1"), &json!("medium"))
    );
    assert_eq!(
        matched(&classify_url(&server, &weather("v=1"))),
        Vec::<String>::new()
    );
    let (_, after_news) = get_json(&server, "/v1/lists");
    assert!(
        list_info(&after_news, "kw-partner")["matches"]
            .as_u64()
            .unwrap()
            >= 1
    );

    // A new entry and a new version.
    let entries = lists.join("kw-partner/entries.jsonl");
    append(
        &entries,
        r#"{"id": "kp-08", "term": "ground frost", "lang": "eng", "category": "threat_violence"}"#,
    );
    set_version(&lists.join("kw-partner/list.toml"), "2026-11-24.1");
    assert_eq!(post(&server, "/v1/lists/reload", None).0, 401);
    let (s, body) = post(&server, "/v1/lists/reload", Some(&partner(&server)));
    assert_eq!(
        (s, &body["error"]["kind"]),
        (403, &json!("forbidden")),
        "{body}"
    );
    let (s, body) = post(&server, "/v1/lists/reload", Some(ADMIN));
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["changed"], true);
    assert_eq!(body["previous_set_version"], v1.as_str());
    let v2 = body["set_version"].as_str().unwrap().to_string();
    assert_ne!(v1, v2);
    let page = metrics(&server);
    assert_eq!(
        metric_value(&page, &format!("triage_lists_info{{set_version=\"{v2}\"}}")),
        Some(1.0)
    );
    assert!(
        !page.contains(&v1),
        "the old set version is gone from /metrics"
    );
    assert_eq!(
        metric_value(
            &page,
            "triage_list_entries{list=\"kw-partner\",owner=\"de-bka\",trust=\"medium\",version=\"2026-11-24.1\"}"
        ),
        Some(8.0)
    );

    let cls = classify_url(&server, &weather("v=2"));
    assert_eq!(matched(&cls), ["kw-partner/kp-08"]);
    assert_eq!(cls["matches"][0]["list_version"], "2026-11-24.1");
    assert_eq!(
        metric_value(
            &metrics(&server),
            "triage_list_matches_total{list=\"kw-partner\",owner=\"de-bka\",version=\"2026-11-24.1\"}"
        ),
        Some(1.0)
    );

    // A bad line: refused with file and line, and the set in use keeps matching.
    let bad_line = append(&entries, r#"{"id": "kp-09", "term": ""}"#);
    let (s, body) = post(&server, "/v1/lists/reload", Some(ADMIN));
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["error"]["kind"], "invalid_lists");
    let problems = body["error"]["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["at"].as_str().unwrap().contains(&format!(
                "kw-partner/entries.jsonl:{bad_line}: term is empty"
            )) && p["line"] == bad_line),
        "{body}"
    );
    let (_, now) = get_json(&server, "/v1/lists");
    assert_eq!(now["set_version"], v2.as_str());
    assert_eq!(
        matched(&classify_url(&server, &weather("v=3"))),
        ["kw-partner/kp-08"]
    );
    let page = metrics(&server);
    for (outcome, n) in [("swapped", 1.0), ("rejected", 1.0)] {
        assert_eq!(
            metric_value(
                &page,
                &format!("triage_lists_reloads_total{{outcome=\"{outcome}\"}}")
            ),
            Some(n)
        );
    }
}

#[cfg(unix)]
#[test]
fn sighup_reloads_and_a_bad_set_is_logged_with_file_and_line() {
    let origin = start_origin();
    let dir = tempdir("lists-hup");
    let lists = copy_lists(&dir);
    let server = start(&dir, &origin, &lists, 100);
    let version = |s: &Proc| get_json(s, "/v1/lists").1["set_version"].clone();
    let v1 = version(&server);
    let hup = |s: &Proc| {
        let ok = std::process::Command::new("kill")
            .args(["-HUP", &s.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    };
    let wait_for = |what: &str, f: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !f() {
            assert!(
                Instant::now() < deadline,
                "{what}; log:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    let entries = lists.join("url-demo/entries.jsonl");
    append(
        &entries,
        &format!(
            r#"{{"id": "u-05", "url": "{}"}}"#,
            origin.url("/EN-WEATHER.html?utm_source=demo")
        ),
    );
    // The URL entry differs from the page's URL in path case: it must not match.
    hup(&server);
    wait_for("SIGHUP swaps the set in", &|| version(&server) != v1);
    let v2 = version(&server);
    assert_eq!(
        matched(&classify_url(&server, &origin.url("/en-weather.html"))),
        Vec::<String>::new()
    );
    append(
        &entries,
        &format!(
            r#"{{"id": "u-06", "url": "{}"}}"#,
            origin.url("/en-weather.html?utm_source=demo&fbclid=x#top")
        ),
    );
    hup(&server);
    wait_for("second SIGHUP", &|| version(&server) != v2);
    let v3 = version(&server);
    // Same page under another spelling of its URL: `%2E` keeps it a new case (the canonical URL
    // keeps escapes as they are), and the URL entry matches it by its match key.
    let spelled = origin
        .url("/en-weather%2Ehtml?gclid=abc")
        .replace("http://", "HTTP://");
    assert_eq!(matched(&classify_url(&server, &spelled)), ["url-demo/u-06"]);

    let bad_line = append(
        &entries,
        r#"{"id": "u-07", "url": "gopher://example.org/"}"#,
    );
    hup(&server);
    let needle = format!("url-demo/entries.jsonl:{bad_line}: url:");
    wait_for("the refusal is logged", &|| {
        server.log_text().contains(&needle)
    });
    assert!(server.log_text().contains("list reload (SIGHUP) refused"));
    assert_eq!(version(&server), v3);
    // The set in use keeps matching.
    assert_eq!(
        matched(&classify_url(&server, &origin.url("/en-weather%2ehtml"))),
        ["url-demo/u-06"]
    );
}

#[test]
fn an_entry_flooding_many_urls_is_quarantined_until_released_and_stays_held_over_restart() {
    let origin = start_origin();
    let dir = tempdir("lists-quarantine");
    let lists = copy_lists(&dir);
    let mut server = start(&dir, &origin, &lists, 2);
    let news = |q: &str| origin.url(&format!("/en-news.html?q={q}"));

    for q in ["1", "2"] {
        let got = matched(&classify_url(&server, &news(q)));
        assert!(got.contains(&"kw-partner/kp-01".to_string()), "{got:?}");
    }
    // The third distinct URL within the hour: over the limit of 2.
    let cls = classify_url(&server, &news("3"));
    let kp01: Vec<&Value> = cls["matches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["entry"] == "kp-01")
        .collect();
    assert!(!kp01.is_empty());
    for m in &kp01 {
        assert_eq!(m["suppressed_by"], "quarantine");
        assert_eq!(m["suppressed_reason"], "quarantined");
    }
    assert!(
        cls["categories"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["evidence"].as_array().unwrap().contains(&json!("kp-01"))),
        "a quarantined entry counts toward no category: {cls}"
    );
    assert!(server.log_text().contains("list entry quarantined"));
    let (s, q) = get_json(&server, "/v1/lists/quarantine");
    assert_eq!(s, 200);
    let held: Vec<String> = q["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            format!(
                "{}/{}",
                h["list"].as_str().unwrap(),
                h["entry"].as_str().unwrap()
            )
        })
        .collect();
    assert!(held.contains(&"kw-partner/kp-01".to_string()), "{q}");
    let h = q["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["entry"] == "kp-01")
        .unwrap();
    assert_eq!(
        (&h["distinct_urls"], &h["limit"], &h["owner"]),
        (&json!(3), &json!(2), &json!("de-bka"))
    );
    let (_, l) = get_json(&server, "/v1/lists");
    assert!(list_info(&l, "kw-partner")["quarantined_entries"]
        .as_array()
        .unwrap()
        .contains(&json!("kp-01")));
    let page = metrics(&server);
    assert_eq!(
        metric_value(
            &page,
            "triage_list_quarantine_events_total{list=\"kw-partner\"}"
        ),
        Some(1.0)
    );
    assert!(
        metric_value(
            &page,
            "triage_list_quarantined_entries{list=\"kw-partner\"}"
        )
        .unwrap()
            >= 1.0
    );
    // Still held for a fourth URL.
    assert!(matched(&classify_url(&server, &news("4"))).contains(&"!kw-partner/kp-01".to_string()));

    // Release: admin only; then it matches again.
    let release = "/v1/lists/quarantine/kw-partner/kp-01/release";
    assert_eq!(post(&server, release, Some(&partner(&server))).0, 403);
    let (s, body) = post(&server, release, Some(ADMIN));
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["released"]["entry"], "kp-01");
    assert_eq!(post(&server, release, Some(ADMIN)).0, 404);
    assert!(matched(&classify_url(&server, &news("5"))).contains(&"kw-partner/kp-01".to_string()));

    // Other flooding entries (kw-demo's, on the same page) are still held after a restart.
    let held_before: Vec<Value> = get_json(&server, "/v1/lists/quarantine").1["entries"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!held_before.is_empty());
    assert!(!held_before.iter().any(|h| h["entry"] == "kp-01"));
    server.terminate();
    let server = start(&dir, &origin, &lists, 2);
    let held_after = get_json(&server, "/v1/lists/quarantine").1["entries"].clone();
    assert_eq!(held_after, json!(held_before));
    let got = matched(&classify_url(&server, &news("6")));
    let first_held = format!(
        "!{}/{}",
        held_before[0]["list"].as_str().unwrap(),
        held_before[0]["entry"].as_str().unwrap()
    );
    assert!(got.contains(&first_held), "{got:?}");
}

#[test]
fn import_export_and_check_on_the_command_line() {
    let dir = tempdir("lists-cli");
    let out = dir.join("lists");
    let csv = repo().join("fixtures/lists-import/tat-hashes.csv");
    let args = |id: &str| {
        vec![
            "lists".to_string(),
            "import".into(),
            "--format".into(),
            "tat-csv".into(),
            "--list-id".into(),
            id.into(),
            "--owner".into(),
            "tat".into(),
            "--trust".into(),
            "high".into(),
            "--version".into(),
            "2026-11-24.1".into(),
            "--category".into(),
            "public_provocation".into(),
            "--pdq-max-distance".into(),
            "24".into(),
            csv.to_str().unwrap().into(),
            out.to_str().unwrap().into(),
        ]
    };
    let run = |a: Vec<String>| triage(&a.iter().map(String::as_str).collect::<Vec<_>>(), None);
    let o = run(args("tat-demo"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("imported 5 entries (1 disabled"));
    assert!(
        !run(args("tat-demo")).status.success(),
        "no overwrite without --force"
    );
    let listed: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, ["tat-demo"], "no staging directory left behind");

    let check = triage(&["lists", "check", out.to_str().unwrap()], None);
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{text}");
    assert!(
        text.contains("tat-demo: 5 hashes entries (1 disabled, 0 expired), owner tat"),
        "{text}"
    );

    let exported = dir.join("out.csv");
    let e = triage(
        &[
            "lists",
            "export",
            "--format",
            "tat-csv",
            out.join("tat-demo").to_str().unwrap(),
            exported.to_str().unwrap(),
        ],
        None,
    );
    assert!(e.status.success(), "{}", String::from_utf8_lossy(&e.stderr));
    let a = std::fs::read_to_string(out.join("tat-demo/entries.jsonl")).unwrap();
    let mut again = args("tat-demo");
    let n = again.len();
    again[n - 2] = exported.to_str().unwrap().into();
    again.insert(2, "--force".into());
    let o = run(again);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(out.join("tat-demo/entries.jsonl")).unwrap(),
        a
    );
    let toml = std::fs::read_to_string(out.join("tat-demo/list.toml")).unwrap();
    assert!(
        toml.contains("pdq_max_distance = 24") && toml.starts_with("# Imported by"),
        "{toml}"
    );

    // Bad rows: exit 1, every problem with file, line and column, nothing written.
    let bad = repo().join("fixtures/lists-import/bad-tat.csv");
    let mut a = args("bad");
    let n = a.len();
    a[n - 2] = bad.to_str().unwrap().into();
    let o = run(a);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("bad-tat.csv:3: column `algorithm`"), "{text}");
    assert!(text.contains("bad-tat.csv:5: column `deleted`"), "{text}");
    assert!(!out.join("bad").exists());

    // A regex list has no partner format.
    let o = triage(
        &[
            "lists",
            "export",
            "--format",
            "terms",
            "fixtures/lists/rx-demo",
            "-",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    // A bad list: check names file and line.
    let broken = dir.join("broken");
    let b = copy_lists(&broken);
    let line = append(
        &b.join("kw-demo/entries.jsonl"),
        r#"{"id": "x", "term": "y", "expires": "soon"}"#,
    );
    let o = triage(&["lists", "check", b.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!("kw-demo/entries.jsonl:{line}:")) && text.contains("RFC 3339"),
        "{text}"
    );
}
