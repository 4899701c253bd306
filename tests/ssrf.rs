//! Refusals through the running service: each referral to a forbidden address fails with its
//! `error.kind`, the refusal is counted by kind and address class, and a body cut at the size
//! cap is still preserved, marked `WARC-Truncated: length`.

mod common;

use common::*;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn refusals_are_answers_with_a_kind_a_class_and_a_count() {
    let data = tempdir("ssrf");
    let server = start_server(&data, &[], &[]);
    let cases = [
        ("http://10.0.0.1/", "blocked_address", "private"),
        ("http://[::ffff:127.0.0.1]/", "blocked_address", "loopback"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "blocked_address",
            "metadata",
        ),
        (
            "http://[64:ff9b::a9fe:a9fe]/",
            "blocked_address",
            "metadata",
        ),
        ("http://localhost/admin", "blocked_address", "loopback"),
        ("http://example.com:6379/", "port", "port"),
    ];
    for (url, kind, _) in cases {
        let (s, body) = post_json(&server, None, &json!({ "url": url }));
        assert_eq!(s, 202, "{url}: {body}");
        let r = wait_final(&server, body["referral_id"].as_str().unwrap(), WAIT);
        assert_eq!(r["status"], "failed", "{url}: {r}");
        assert_eq!(r["reason"]["kind"], kind, "{url}: {r}");
        assert!(
            r["reason"]["message"]
                .as_str()
                .unwrap()
                .contains("is refused"),
            "{r}"
        );
    }
    let m = metrics(&server);
    for (kind, class, n) in [
        ("blocked_address", "private", 1.0),
        ("blocked_address", "loopback", 2.0),
        ("blocked_address", "metadata", 2.0),
        ("port", "port", 1.0),
    ] {
        let name = format!("triage_fetch_refusals_total{{class=\"{class}\",kind=\"{kind}\"}}");
        assert_eq!(metric_value(&m, &name), Some(n), "{name}\n{m}");
    }
}

#[test]
fn a_body_over_the_cap_is_refused_but_its_prefix_is_preserved() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n",
                );
                let chunk = "<p>endless</p>".repeat(1000);
                while s.write_all(chunk.as_bytes()).is_ok() {}
            });
        }
    });
    let data = tempdir("ssrf-cap");
    let config = data.with_extension("toml");
    std::fs::write(
        &config,
        "[fetch]\nmax_body_bytes = 200000\n[evidence]\ngzip = false\n",
    )
    .unwrap();
    let server = start_server(&data, &[&origin], &["--config", config.to_str().unwrap()]);
    let (s, body) = post_json(
        &server,
        None,
        &json!({ "url": format!("http://{origin}/big") }),
    );
    assert_eq!(s, 202, "{body}");
    let r = wait_final(&server, body["referral_id"].as_str().unwrap(), WAIT);
    assert_eq!(r["reason"]["kind"], "too_large", "{r}");
    let (_, c) = get_json(
        &server,
        &format!("/v1/cases/{}", r["case_id"].as_str().unwrap()),
    );
    assert_eq!(c["capture"]["truncated"], "length", "{c}");
    assert_eq!(c["capture"]["raw_len"], 200000, "{c}");
    let cap = &c["preservation"]["captures"][0];
    assert_eq!(cap["truncated"], "length", "{c}");
    let file = data.join("evidence").join(cap["file"].as_str().unwrap());
    assert!(
        file.to_str().unwrap().ends_with(".warc"),
        "plain records as configured"
    );
    let warc = std::fs::read(file).unwrap();
    assert!(String::from_utf8_lossy(&warc).contains("WARC-Truncated: length"));
    let m = metrics(&server);
    assert_eq!(
        metric_value(&m, "triage_evidence_records_total{kind=\"partial\"}"),
        Some(1.0),
        "{m}"
    );
}
