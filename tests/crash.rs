//! Crash safety: SIGKILL the service with referrals queued and in flight, start it again on
//! the same data, and every referral reaches exactly one final state, with one case per URL.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A loopback origin that answers every request after `delay`, with a small page naming its
/// path, so that referrals pile up behind a slow fetch.
fn slow_origin(delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]);
                let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
                std::thread::sleep(delay);
                let body = format!("<html><head><title>{path}</title></head><body><p>Court report {path}: the Islamic State case was adjourned.</p></body></html>");
                let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            });
        }
    });
    addr
}

#[test]
fn sigkill_with_referrals_queued_loses_nothing_and_duplicates_nothing() {
    let origin = slow_origin(Duration::from_millis(400));
    let data = tempdir("crash");
    let mut server = start_server(&data, &[&origin], &["--workers", "2"]);
    let urls: Vec<String> = (0..24)
        .map(|i| format!("http://{origin}/page-{i}"))
        .collect();
    // Two referrals of the same content among them (another spelling of page-0 and page-1).
    let mut batch: Vec<Value> = urls.iter().map(|u| json!({ "url": u })).collect();
    batch.push(json!({"url": format!("http://{origin}/page-0#again")}));
    batch.push(json!({"url": format!("HTTP://{origin}/page-1?utm_source=mail")}));
    let (s, body) = post_json(&server, None, &json!({ "referrals": batch }));
    assert_eq!(s, 202, "{body}");
    let accepted: Vec<Value> = body["referrals"].as_array().unwrap().clone();
    assert_eq!(accepted.len(), 26);

    // Let a few finish, then kill the process mid-stream.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, list) = get_json(&server, "/v1/cases?status=routed");
        let routed = list["cases"].as_array().map(|a| a.len()).unwrap_or(0);
        if routed >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "nothing was routed before the kill"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server.kill();
    // The kill must have left work behind, or this test proves nothing about resuming.
    let db = rusqlite::Connection::open(data.join("triage.sqlite")).unwrap();
    let unfinished: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM referrals WHERE status NOT IN ('routed', 'failed')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    drop(db);
    assert!(
        unfinished >= 1,
        "every referral had finished before the kill"
    );

    let server = start_server(&data, &[&origin], &["--workers", "4"]);
    let mut finals = BTreeMap::new();
    for a in &accepted {
        let id = a["referral_id"].as_str().unwrap();
        let r = wait_final(&server, id, Duration::from_secs(90));
        assert_eq!(r["status"], "routed", "{id}: {r}");
        finals.insert(id.to_string(), r);
    }
    assert_eq!(finals.len(), 26, "every accepted referral is still there");

    // One case per canonical URL, and the two repeats attached to their cases.
    let (_, list) = get_json(&server, "/v1/cases?limit=500");
    let cases = list["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 24, "one case per URL");
    let ids: BTreeSet<&str> = cases
        .iter()
        .map(|c| c["case_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 24);
    for c in cases {
        assert_eq!(c["status"], "routed");
        let want = if c["canonical_url"].as_str().unwrap().ends_with("/page-0")
            || c["canonical_url"].as_str().unwrap().ends_with("/page-1")
        {
            2
        } else {
            1
        };
        assert_eq!(c["referrals"], want, "{c}");
    }
    // The restarted process picked up what the killed one left.
    assert!(
        server.log_text().contains("resumed"),
        "{}",
        server.log_text()
    );
}
