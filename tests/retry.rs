//! Fetch retries end to end, with the real binary and scripted loopback origins: a 503 that
//! passes is retried until the case is routed; a 429's `Retry-After` is honoured while other
//! referrals go ahead; policy refusals are never retried; a failure that does not pass ends
//! `failed` with its kind after the configured attempts; a restart keeps the schedule.

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);

/// One scripted answer: status line, extra header lines, body.
#[derive(Clone)]
struct Answer {
    status: &'static str,
    headers: String,
    body: String,
}

fn page() -> Answer {
    Answer {
        status: "200 OK",
        headers: String::new(),
        body: "<html><head><title>Statement</title></head><body><p>A news report: the court heard the Islamic State case today.</p></body></html>".into(),
    }
}

fn status(status: &'static str, headers: &str) -> Answer {
    Answer {
        status,
        headers: headers.into(),
        body: format!("<html><body><p>{status}</p></body></html>"),
    }
}

/// When each request for a path arrived.
type Seen = Arc<Mutex<Vec<(String, Instant)>>>;

/// An origin that gives the n-th request for a path `script(path, n)` (n from 0), recording
/// when each request came.
fn scripted_origin(
    script: impl Fn(&str, usize) -> Answer + Send + Sync + 'static,
) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen: Seen = Arc::default();
    let (seen2, script) = (seen.clone(), Arc::new(script));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let (seen, script) = (seen2.clone(), script.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]);
                let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
                let count = {
                    let mut seen = seen.lock().unwrap();
                    let count = seen.iter().filter(|(p, _)| *p == path).count();
                    seen.push((path.clone(), Instant::now()));
                    count
                };
                let a = script(&path, count);
                let _ = write!(
                    s,
                    "HTTP/1.1 {}\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n{}\r\n{}",
                    a.status,
                    a.body.len(),
                    a.headers,
                    a.body
                );
            });
        }
    });
    (addr, seen)
}

fn times(seen: &Seen, path: &str) -> Vec<Instant> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p == path)
        .map(|(_, t)| *t)
        .collect()
}

fn config(dir: &Path, body: &str) -> PathBuf {
    let p = dir.with_extension("toml");
    std::fs::write(&p, body).unwrap();
    p
}

fn submit(server: &Proc, url: &str) -> String {
    let (s, body) = post_json(server, None, &json!({ "url": url }));
    assert_eq!(s, 202, "{body}");
    body["referral_id"].as_str().unwrap().to_string()
}

fn referral(server: &Proc, id: &str) -> Value {
    let (s, v) = get_json(server, &format!("/v1/referrals/{id}"));
    assert_eq!(s, 200, "{v}");
    v
}

/// Waits until referral `id` is back in the queue waiting for a retry; returns its view.
fn wait_retrying(server: &Proc, id: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let v = referral(server, id);
        if v["status"] == "queued" && !v["next_attempt_at"].is_null() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{id} never waited for a retry: {v}\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_503_that_passes_is_retried_until_the_case_is_routed() {
    let (origin, seen) = scripted_origin(|_, n| {
        if n < 2 {
            status("503 Service Unavailable", "")
        } else {
            page()
        }
    });
    let data = tempdir("retry-503");
    let cfg = config(
        &data,
        "[retry]\nmax_attempts = 4\ninitial_backoff_ms = 100\nmax_backoff_ms = 400\n",
    );
    let server = start_server(&data, &[&origin], &["--config", cfg.to_str().unwrap()]);
    let id = submit(&server, &format!("http://{origin}/statement"));
    let r = wait_final(&server, &id, WAIT);
    assert_eq!(r["status"], "routed", "{r}");
    assert_eq!(r["retries"], 2, "{r}");
    assert!(r["next_attempt_at"].is_null(), "{r}");
    assert_eq!(r["last_retry_reason"]["kind"], "http_status", "{r}");
    assert!(r["reason"].is_null(), "{r}");
    assert_eq!(times(&seen, "/statement").len(), 3);
    // Only the last fetch made the case's content; the two 503s are kept as evidence.
    let captures = r["case"]["preservation"]["captures"].as_array().unwrap();
    assert_eq!(
        captures.iter().filter(|c| c["status"] == 503).count(),
        2,
        "{r}"
    );
    assert_eq!(
        captures.iter().filter(|c| c["status"] == 200).count(),
        1,
        "{r}"
    );
    assert_eq!(r["case"]["status"], "routed");
    let m = metrics(&server);
    assert_eq!(
        metric_value(&m, "triage_fetch_retries_total{kind=\"http_5xx\"}"),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        metric_value(&m, "triage_referrals_final_total{status=\"routed\"}"),
        Some(1.0),
        "a retry is not a final state: {m}"
    );
}

#[test]
fn retry_after_is_honoured_and_other_referrals_go_ahead_meanwhile() {
    let (origin, seen) = scripted_origin(|path, n| {
        if path == "/busy" && n == 0 {
            status("429 Too Many Requests", "retry-after: 1\r\n")
        } else {
            page()
        }
    });
    let data = tempdir("retry-429");
    let cfg = config(
        &data,
        "[retry]\ninitial_backoff_ms = 20\nmax_backoff_ms = 40\n",
    );
    // One worker: the waiting referral must not hold it.
    let server = start_server(
        &data,
        &[&origin],
        &["--config", cfg.to_str().unwrap(), "--workers", "1"],
    );
    let busy = submit(&server, &format!("http://{origin}/busy"));
    let waiting = wait_retrying(&server, &busy);
    assert_eq!(waiting["retries"], 1, "{waiting}");
    assert_eq!(waiting["last_retry_reason"]["kind"], "http_status");
    assert!(
        waiting["last_retry_reason"]["message"]
            .as_str()
            .unwrap()
            .contains("HTTP 429"),
        "{waiting}"
    );
    let due =
        chrono::DateTime::parse_from_rfc3339(waiting["next_attempt_at"].as_str().unwrap()).unwrap();
    let other = submit(&server, &format!("http://{origin}/other"));
    let o = wait_final(&server, &other, WAIT);
    assert_eq!(o["status"], "routed", "{o}");
    let b = wait_final(&server, &busy, WAIT);
    assert_eq!(b["status"], "routed", "{b}");
    let busy_times = times(&seen, "/busy");
    assert_eq!(busy_times.len(), 2);
    let other_times = times(&seen, "/other");
    assert!(
        other_times[0] < busy_times[1],
        "the other referral was fetched while the first one waited"
    );
    // Not before the server said, though the backoff alone was 20 ms.
    assert!(
        busy_times[1] - busy_times[0] >= Duration::from_secs(1),
        "retried after {:?}",
        busy_times[1] - busy_times[0]
    );
    assert!(
        chrono::DateTime::parse_from_rfc3339(b["updated_at"].as_str().unwrap()).unwrap() >= due
    );
    let m = metrics(&server);
    assert_eq!(
        metric_value(&m, "triage_fetch_retries_total{kind=\"http_429\"}"),
        Some(1.0),
        "{m}"
    );
}

#[test]
fn policy_refusals_are_never_retried() {
    let (origin, seen) = scripted_origin(|_, _| page());
    let data = tempdir("retry-policy");
    let cfg = config(&data, "[retry]\ninitial_backoff_ms = 20\n");
    let server = start_server(&data, &[&origin], &["--config", cfg.to_str().unwrap()]);
    // Another port of the allowed origin's host, a private address, a port outside the
    // allowed ones: all refused before connecting.
    let port = origin.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    let other_port = if port == 65535 { port - 1 } else { port + 1 };
    for (url, kind) in [
        (
            format!("http://127.0.0.1:{other_port}/x"),
            "blocked_address",
        ),
        ("http://10.1.2.3/x".to_string(), "blocked_address"),
        ("http://refused.example:6379/x".to_string(), "port"),
    ] {
        let id = submit(&server, &url);
        let r = wait_final(&server, &id, WAIT);
        assert_eq!(r["status"], "failed", "{r}");
        assert_eq!(r["reason"]["kind"], kind, "{r}");
        assert_eq!(r["retries"], 0, "{r}");
        assert!(r["next_attempt_at"].is_null(), "{r}");
    }
    assert!(seen.lock().unwrap().is_empty());
    let m = metrics(&server);
    assert!(!m.contains("triage_fetch_retries_total{"), "{m}");
}

#[test]
fn a_failure_that_does_not_pass_ends_after_the_configured_attempts_with_its_kind() {
    let (origin, seen) = scripted_origin(|_, _| status("500 Internal Server Error", ""));
    let data = tempdir("retry-giveup");
    // A port nobody listens on (bound, then released): connections are refused.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let cfg = config(
        &data,
        "[retry]\nmax_attempts = 3\ninitial_backoff_ms = 50\nmax_backoff_ms = 100\n",
    );
    let server = start_server(
        &data,
        &[&origin, &closed],
        &["--config", cfg.to_str().unwrap()],
    );
    let id = submit(&server, &format!("http://{origin}/broken"));
    let r = wait_final(&server, &id, WAIT);
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["reason"]["kind"], "http_status", "{r}");
    let msg = r["reason"]["message"].as_str().unwrap();
    assert!(
        msg.contains("HTTP 500") && msg.contains("gave up after 3 attempts"),
        "{msg}"
    );
    assert_eq!(r["retries"], 2, "{r}");
    assert_eq!(times(&seen, "/broken").len(), 3);
    assert_eq!(r["case"]["status"], "failed");
    assert_eq!(r["case"]["reason"]["kind"], "http_status");

    let id = submit(&server, &format!("http://{closed}/nobody"));
    let r = wait_final(&server, &id, WAIT);
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["reason"]["kind"], "connect", "{r}");
    assert_eq!(r["retries"], 2, "{r}");
    let m = metrics(&server);
    assert_eq!(
        metric_value(&m, "triage_fetch_retries_total{kind=\"http_5xx\"}"),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        metric_value(&m, "triage_fetch_retries_total{kind=\"connect\"}"),
        Some(2.0),
        "{m}"
    );
}

#[test]
fn a_restart_keeps_the_retry_schedule() {
    let (origin, seen) = scripted_origin(|_, n| {
        if n == 0 {
            status("503 Service Unavailable", "retry-after: 3\r\n")
        } else {
            page()
        }
    });
    let data = tempdir("retry-restart");
    let cfg = config(&data, "[retry]\ninitial_backoff_ms = 20\n");
    let args = ["--config", cfg.to_str().unwrap()];
    let mut server = start_server(&data, &[&origin], &args);
    let id = submit(&server, &format!("http://{origin}/later"));
    let waiting = wait_retrying(&server, &id);
    let due = waiting["next_attempt_at"].as_str().unwrap().to_string();
    server.kill();
    // The schedule is in the database, not in the process.
    let db = rusqlite::Connection::open(data.join("triage.sqlite")).unwrap();
    let (st, at): (String, Option<String>) = db
        .query_row(
            "SELECT status, next_attempt_at FROM referrals WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(db);
    assert_eq!((st.as_str(), at.as_deref()), ("queued", Some(due.as_str())));
    let server = start_server(&data, &[&origin], &args);
    let r = wait_final(&server, &id, WAIT);
    assert_eq!(r["status"], "routed", "{r}");
    assert_eq!(r["retries"], 1, "{r}");
    let t = times(&seen, "/later");
    assert_eq!(t.len(), 2);
    assert!(
        t[1] - t[0] >= Duration::from_secs(3),
        "fetched again after {:?}, before its due time",
        t[1] - t[0]
    );
    // Nothing was counted as a crash: the referral was taken twice, once per fetch.
    assert_eq!(r["attempts"], 2, "{r}");
}
