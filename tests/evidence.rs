//! Evidence end to end, with the real binary: a routed referral leaves a WARC file and custody
//! entries; `triage evidence verify` passes on the untouched store and names the damage after a
//! flipped byte, a truncation, a reordering or a deletion; `triage evidence export` writes a
//! bundle that checks out with python3/openssl alone; retention ends in a logged purge unless
//! extended (`POST /v1/cases/{id}/retention`: referring agency or admin, never shorter, a
//! `retention` custody entry); liveness re-checks record when an origin starts answering 404,
//! and the takedown latency lands in its histogram.

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);

/// `triage evidence export CASE --data-dir DATA --out OUT`.
fn export(data: &Path, case: &str, out: &Path) -> Output {
    triage(
        &[
            "evidence",
            "export",
            case,
            "--data-dir",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    )
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn verify(data: &Path) -> Output {
    triage(
        &["evidence", "verify", "--data-dir", data.to_str().unwrap()],
        None,
    )
}

fn write_config(dir: &Path, body: &str) -> PathBuf {
    let p = dir.with_extension("toml");
    std::fs::write(&p, body).unwrap();
    p
}

/// Submits one URL and waits until its referral is final; returns (referral, case id).
fn refer(server: &Proc, url: &str) -> (Value, String) {
    let (s, body) = post_json(server, None, &json!({ "url": url }));
    assert_eq!(s, 202, "{body}");
    let r = wait_final(server, body["referral_id"].as_str().unwrap(), WAIT);
    let case = r["case_id"].as_str().unwrap().to_string();
    (r, case)
}

fn case(server: &Proc, id: &str) -> Value {
    let (s, v) = get_json(server, &format!("/v1/cases/{id}"));
    assert_eq!(s, 200, "{v}");
    v
}

fn flip(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[at] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

#[test]
fn captures_are_preserved_verified_tamper_evident_and_exportable() {
    let origin = start_origin();
    let data = tempdir("evidence");
    let mut server = start_server(&data, &[&origin.addr], &[]);
    let (r, case_id) = refer(&server, &origin.url("/en-news.html"));
    assert_eq!(r["status"], "routed", "{r}");
    let c = case(&server, &case_id);
    let capture = &c["preservation"]["captures"][0];
    assert_eq!(capture["purpose"], "capture", "{c}");
    let file = data
        .join("evidence")
        .join(capture["file"].as_str().unwrap());
    assert!(file.exists(), "{}", file.display());
    assert_eq!(c["capture"]["evidence"]["file"], capture["file"]);
    // Routed: on the liveness schedule, retention six months out.
    assert_eq!(c["preservation"]["liveness"]["state"], "live", "{c}");
    assert!(
        c["preservation"]["retain_until"].as_str().unwrap() > c["created_at"].as_str().unwrap()
    );
    let m = metrics(&server);
    assert_eq!(
        metric_value(&m, "triage_evidence_records_total{kind=\"capture\"}"),
        Some(1.0),
        "{m}"
    );
    // The key was made at first start, private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("custody-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A clean stop signs a checkpoint over everything.
    assert!(server.terminate().success());

    let ok = verify(&data);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        text(&ok).contains("verified: no problems found"),
        "{}",
        text(&ok)
    );
    let key = triage(
        &["evidence", "pubkey", "--data-dir", data.to_str().unwrap()],
        None,
    );
    assert!(
        key.status.success() && text(&key).contains("-----BEGIN PUBLIC KEY-----"),
        "{}",
        text(&key)
    );

    // Export, then check the bundle with python3 and openssl only.
    let out = data.with_extension("bundle");
    let ex = export(&data, &case_id, &out);
    assert!(ex.status.success(), "{}", text(&ex));
    assert!(out.join("case.json").exists() && out.join("README.md").exists());
    if Command::new("python3").arg("--version").output().is_ok() {
        let py = Command::new("python3")
            .arg(out.join("verify.py"))
            .output()
            .unwrap();
        assert!(py.status.success(), "{}", text(&py));
        assert!(text(&py).contains("all checks passed"));
    } else {
        eprintln!("python3 not installed: the bundle's verifier was not run");
    }
    let missing = export(&data, "no-such-case", &data.with_extension("none"));
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));

    // Flipped byte in the WARC file: named by capture id.
    let original = std::fs::read(&file).unwrap();
    flip(&file, original.len() / 2);
    let bad = verify(&data);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(
        text(&bad).contains(capture["capture_id"].as_str().unwrap()),
        "{}",
        text(&bad)
    );
    std::fs::write(&file, &original).unwrap();
    // Truncated WARC file.
    std::fs::write(&file, &original[..original.len() - 100]).unwrap();
    let bad = verify(&data);
    assert!(text(&bad).contains("[truncated]"), "{}", text(&bad));
    std::fs::write(&file, &original).unwrap();
    assert!(verify(&data).status.success());

    // The custody log: reorder, delete, truncate — each named.
    let log = data.join("evidence/custody.log");
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert!(lines.len() >= 2, "genesis and the capture");
    let write = |ls: &[String]| std::fs::write(&log, ls.join("\n") + "\n").unwrap();
    let mut swapped = lines.clone();
    swapped.swap(0, 1);
    write(&swapped);
    let bad = verify(&data);
    assert!(
        text(&bad).contains("[reordered] custody entry 1 (line 1)"),
        "{}",
        text(&bad)
    );
    let mut deleted = lines.clone();
    deleted.remove(0);
    write(&deleted);
    assert!(
        text(&verify(&data)).contains("[missing] custody entry 0"),
        "{}",
        text(&verify(&data))
    );
    write(&lines[..1]);
    let bad = verify(&data);
    assert!(
        text(&bad).contains("[truncated] the custody log"),
        "{}",
        text(&bad)
    );
    write(&lines);
    assert!(verify(&data).status.success());
    // A damaged log keeps the service from starting on top of it.
    let mut altered = lines.clone();
    altered[0] = altered[0].replace("genesis", "genesiz");
    write(&altered);
    let refused = triage(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("evidence store damaged"),
        "{}",
        text(&refused)
    );
}

#[test]
fn retention_ends_in_a_logged_purge_unless_extended() {
    let origin = start_origin();
    let data = tempdir("retention");
    let config = write_config(
        &data,
        "[retention]\nperiod_ms = 1500\nsweep_interval_ms = 100\n[liveness]\nenabled = false\n",
    );
    let server = start_server(
        &data,
        &[&origin.addr],
        &["--config", config.to_str().unwrap()],
    );
    let (_, kept) = refer(&server, &origin.url("/en-news.html"));
    let (_, purged) = refer(&server, &origin.url("/ru-news.html"));
    let ext = triage(
        &[
            "evidence",
            "extend",
            &kept,
            "--days",
            "400",
            "--reason",
            "court order 12/2026",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        None,
    );
    assert!(ext.status.success(), "{}", text(&ext));
    let deadline = Instant::now() + WAIT;
    loop {
        let c = case(&server, &purged);
        if !c["preservation"]["captures"][0]["purged_at"].is_null() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not purged: {c}\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let c = case(&server, &purged);
    let file = data
        .join("evidence")
        .join(c["preservation"]["captures"][0]["file"].as_str().unwrap());
    assert!(!file.exists(), "the WARC file is deleted");
    let k = case(&server, &kept);
    assert!(
        k["preservation"]["captures"][0]["purged_at"].is_null(),
        "{k}"
    );
    assert_eq!(k["preservation"]["extended_reason"], "court order 12/2026");
    assert!(data
        .join("evidence")
        .join(k["preservation"]["captures"][0]["file"].as_str().unwrap())
        .exists());
    // The purge is in the log, and the store still verifies (a purged file is expected absent).
    let log = std::fs::read_to_string(data.join("evidence/custody.log")).unwrap();
    assert_eq!(log.matches("\"kind\":\"purge\"").count(), 1, "{log}");
    let v = verify(&data);
    assert!(v.status.success(), "{}", text(&v));
    assert!(text(&v).contains("1 purged"), "{}", text(&v));
    let bad = triage(
        &[
            "evidence",
            "extend",
            "no-such-case",
            "--days",
            "3",
            "--reason",
            "x",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
}

/// An origin that serves a page until `gone` is set, then answers 404.
fn switchable_origin(gone: Arc<AtomicBool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let gone = gone.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let (status, body) = if gone.load(Ordering::SeqCst) {
                    (
                        "404 Not Found",
                        "<html><body><p>Not found</p></body></html>".to_string(),
                    )
                } else {
                    ("200 OK", "<html><head><title>Statement</title></head><body><p>A news report: the court heard the Islamic State case today.</p></body></html>".to_string())
                };
                let _ = write!(s, "HTTP/1.1 {status}\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            });
        }
    });
    addr
}

#[test]
fn liveness_rechecks_record_when_content_went_offline() {
    let gone = Arc::new(AtomicBool::new(false));
    let origin = switchable_origin(gone.clone());
    let data = tempdir("liveness");
    let config = write_config(
        &data,
        "[liveness]\ntick_ms = 100\ninitial_interval_ms = 300\nmax_interval_ms = 600\nconfirmations = 2\n[evidence]\ncheckpoint_interval_ms = 200\n",
    );
    let mut server = start_server(&data, &[&origin], &["--config", config.to_str().unwrap()]);
    let (r, case_id) = refer(&server, &format!("http://{origin}/statement"));
    assert_eq!(r["status"], "routed", "{r}");
    // Seen live at least once before the takedown.
    let deadline = Instant::now() + WAIT;
    while case(&server, &case_id)["preservation"]["liveness"]["checks"]
        .as_i64()
        .unwrap_or(0)
        < 1
    {
        assert!(
            Instant::now() < deadline,
            "no liveness check ran:\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let c = case(&server, &case_id);
    assert!(c["preservation"]["offline_at"].is_null(), "{c}");
    assert!(
        c["preservation"]["liveness"]["last_outcome"]
            .as_str()
            .unwrap()
            .starts_with("live"),
        "{c}"
    );
    let taken_down = chrono::Utc::now();
    gone.store(true, Ordering::SeqCst);
    let c = loop {
        let c = case(&server, &case_id);
        if !c["preservation"]["offline_at"].is_null() {
            break c;
        }
        assert!(
            Instant::now() < deadline,
            "never offline: {c}\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let p = &c["preservation"];
    assert_eq!(p["liveness"]["state"], "gone", "{c}");
    let offline_at =
        chrono::DateTime::parse_from_rfc3339(p["offline_at"].as_str().unwrap()).unwrap();
    assert!(
        offline_at >= taken_down,
        "offline_at {offline_at} is before the takedown {taken_down}"
    );
    assert!(
        p["offline_reason"].as_str().unwrap().contains("HTTP 404"),
        "{c}"
    );
    assert!(p["liveness"]["last_live_at"].as_str().unwrap() <= p["offline_at"].as_str().unwrap());
    // Every re-check that got a response is a capture of its own; the 404s are evidence too.
    let rechecks: Vec<&Value> = p["captures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["purpose"] == "recheck")
        .collect();
    assert!(
        rechecks.iter().filter(|x| x["status"] == 404).count() >= 2,
        "{c}"
    );
    let m = metrics(&server);
    assert_eq!(
        metric_value(
            &m,
            "triage_takedown_latency_seconds_count{host_kind=\"self_hosted\"}"
        ),
        Some(1.0),
        "{m}"
    );
    assert!(
        metric_value(&m, "triage_liveness_checks_total{outcome=\"gone\"}").unwrap() >= 2.0,
        "{m}"
    );
    // No more checks once offline.
    let checks = p["liveness"]["checks"].as_i64().unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        case(&server, &case_id)["preservation"]["liveness"]["checks"]
            .as_i64()
            .unwrap(),
        checks
    );
    assert!(server.terminate().success());
    let v = verify(&data);
    assert!(v.status.success(), "{}", text(&v));
}

#[test]
fn a_kill_mid_stream_leaves_a_store_that_verifies() {
    // A slow origin keeps captures in flight; SIGKILL lands between file writes, log appends
    // and database updates. After a restart and a clean stop, nothing logged is damaged.
    let gone = Arc::new(AtomicBool::new(false));
    let origin = switchable_origin(gone);
    let data = tempdir("evidence-kill");
    let mut server = start_server(&data, &[&origin], &["--workers", "8"]);
    let batch: Vec<Value> = (0..40)
        .map(|i| json!({ "url": format!("http://{origin}/page-{i}") }))
        .collect();
    let (s, body) = post_json(&server, None, &json!({ "referrals": batch }));
    assert_eq!(s, 202, "{body}");
    let deadline = Instant::now() + WAIT;
    loop {
        let m = metrics(&server);
        if metric_value(&m, "triage_evidence_records_total{kind=\"capture\"}").unwrap_or(0.0) >= 5.0
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "nothing preserved:\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill();
    let mut server = start_server(&data, &[&origin], &[]);
    for r in body["referrals"].as_array().unwrap() {
        let f = wait_final(&server, r["referral_id"].as_str().unwrap(), WAIT);
        assert_eq!(f["status"], "routed", "{f}");
    }
    assert!(server.terminate().success());
    let v = verify(&data);
    assert!(v.status.success(), "{}", text(&v));
}

fn post_retention(server: &Proc, token: Option<&str>, case_id: &str, body: &Value) -> (u16, Value) {
    let mut req = client()
        .post(server.url(&format!("/v1/cases/{case_id}/retention")))
        .json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

#[test]
fn retention_is_extended_through_the_api_by_the_referring_agency_and_logged() {
    let origin = start_origin();
    let data = tempdir("retention-api");
    let config = write_config(
        &data,
        "default_agency = \"ops\"\n\
         [[agencies]]\nid = \"demo-unit\"\njurisdiction = \"FR\"\n\
         [[agencies]]\nid = \"fr-pharos\"\njurisdiction = \"FR\"\n\
         [[agencies]]\nid = \"de-bka\"\njurisdiction = \"DE\"\n\
         [[agencies]]\nid = \"fr-ocrvp\"\njurisdiction = \"FR\"\n\
         [[agencies]]\nid = \"ops\"\njurisdiction = \"FR\"\n\
         [liveness]\nenabled = false\n",
    );
    let mut server = start_server(
        &data,
        &[&origin.addr],
        &["--config", config.to_str().unwrap()],
    );
    // Analysts of two agencies; the admin token of the harness belongs to `ops`.
    let pharos = create_token(&server, "fr-pharos", "analyst");
    let bka = create_token(&server, "de-bka", "analyst");
    let ocrvp = create_token(&server, "fr-ocrvp", "analyst");
    let (pharos, bka, ocrvp) = (pharos.as_str(), bka.as_str(), ocrvp.as_str());
    let (s, body) = post_json(
        &server,
        Some(pharos),
        &json!({ "url": origin.url("/en-news.html") }),
    );
    assert_eq!(s, 202, "{body}");
    let r = wait_final(&server, body["referral_id"].as_str().unwrap(), WAIT);
    assert_eq!(r["status"], "routed", "{r}");
    let case_id = r["case_id"].as_str().unwrap().to_string();
    let before = case(&server, &case_id)["preservation"]["retain_until"]
        .as_str()
        .unwrap()
        .to_string();
    let ts =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let later = ts(chrono::Utc::now() + chrono::Duration::days(400));

    // Who may: a token is needed, and it must be the referring agency's (or an admin's).
    let (s, v) = post_retention(&server, None, &case_id, &json!({ "until": later }));
    assert_eq!(
        (s, v["error"]["kind"].as_str()),
        (401, Some("unauthorized")),
        "{v}"
    );
    // Another French unit sees the case (routed to FR) but did not refer it: 403. The German
    // unit does not even see it: 404, as if there were no such case.
    let (s, v) = post_retention(&server, Some(ocrvp), &case_id, &json!({ "until": later }));
    assert_eq!(
        (s, v["error"]["kind"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("fr-ocrvp"),
        "{v}"
    );
    let (s, v) = post_retention(&server, Some(bka), &case_id, &json!({ "until": later }));
    assert_eq!(
        (s, v["error"]["kind"].as_str()),
        (404, Some("not_found")),
        "{v}"
    );
    let (s, v) = post_retention(
        &server,
        Some(pharos),
        "c-nosuchcase",
        &json!({ "until": later }),
    );
    assert_eq!(s, 404, "{v}");

    // Bad bodies are named.
    for (body, needle) in [
        (json!({ "until": later, "extend_days": 3 }), "exactly one"),
        (json!({}), "exactly one"),
        (json!({ "until": "next tuesday" }), "until"),
        (
            json!({ "until": "2020-01-01T00:00:00Z" }),
            "not in the future",
        ),
        (json!({ "extend_days": 0 }), "extend_days"),
        (json!({ "keep": true }), "keep"),
    ] {
        let (s, v) = post_retention(&server, Some(pharos), &case_id, &body);
        assert_eq!(s, 422, "{body}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(needle),
            "{body}: {v}"
        );
    }

    // Extended by the referring agency: the case shows it, the custody log records it.
    let (s, v) = post_retention(
        &server,
        Some(pharos),
        &case_id,
        &json!({ "until": later, "reason": "investigation 2026/114" }),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["changed"], true);
    assert_eq!(v["retain_until"], later.as_str());
    assert_eq!(v["previous"], before.as_str());
    assert!(v["custody_seq"].as_u64().is_some(), "{v}");
    let p = &case(&server, &case_id)["preservation"];
    assert_eq!(p["retain_until"], later.as_str(), "{p}");
    let why = p["extended_reason"].as_str().unwrap();
    assert!(
        why.contains("fr-pharos") && why.contains("investigation 2026/114"),
        "{why}"
    );

    // Never shorter: an earlier date is a conflict naming the date in force; the same is a no-op.
    let earlier = ts(chrono::Utc::now() + chrono::Duration::days(300));
    let (s, v) = post_retention(
        &server,
        Some(pharos),
        &case_id,
        &json!({ "until": earlier }),
    );
    assert_eq!(
        (s, v["error"]["kind"].as_str()),
        (409, Some("retention_shorter")),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains(&later),
        "{v}"
    );
    let (s, v) = post_retention(&server, Some(pharos), &case_id, &json!({ "until": later }));
    assert_eq!((s, &v["changed"]), (200, &json!(false)), "{v}");

    // extend_days counts from the retention in force; an admin may extend any case.
    let (s, v) = post_retention(
        &server,
        Some(ADMIN_TOKEN),
        &case_id,
        &json!({ "extend_days": 10 }),
    );
    assert_eq!(s, 200, "{v}");
    let want = chrono::DateTime::parse_from_rfc3339(&later).unwrap() + chrono::Duration::days(10);
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(v["retain_until"].as_str().unwrap()).unwrap(),
        want,
        "{v}"
    );
    let m = metrics(&server);
    assert_eq!(
        metric_value(&m, "triage_evidence_records_total{kind=\"retention\"}"),
        Some(2.0),
        "{m}"
    );
    assert!(server.terminate().success());

    let log = std::fs::read_to_string(data.join("evidence/custody.log")).unwrap();
    let entries: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &Value| e["kind"] == "retention")
        .collect();
    assert_eq!(entries.len(), 2, "{log}");
    assert_eq!(entries[0]["case_id"], case_id.as_str());
    assert_eq!(entries[0]["retain_until"], later.as_str());
    assert!(
        entries[1]["detail"]
            .as_str()
            .unwrap()
            .contains("agency ops"),
        "{log}"
    );
    // The entries are part of the chain: everything still verifies, and the case's export
    // carries them.
    let v = verify(&data);
    assert!(v.status.success(), "{}", text(&v));
    let out = data.with_extension("bundle");
    let ex = export(&data, &case_id, &out);
    assert!(ex.status.success(), "{}", text(&ex));
    let exported = std::fs::read_to_string(out.join("custody.jsonl")).unwrap();
    assert_eq!(
        exported.matches("\"kind\":\"retention\"").count(),
        2,
        "{exported}"
    );
}
