//! The fetcher against loopback origins started here: an axum app for well-behaved pages and
//! redirects, raw TCP servers for misbehaving ones. Nothing leaves the machine.

mod common;

use common::{policy, raw_origin};
use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::{Path, Query};
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE, LOCATION};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use ingest::{FetchError, FetchPolicy, Fetcher};
use md5::Md5;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use url::Url;

const PAGE: &str = "<!doctype html><html lang=en><head><title>Hello</title></head>\
                    <body><p>Hello, origin.</p></body></html>";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// 20 MiB of zeros, gzipped to about 20 KB: a 1000:1 bomb.
fn bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mib = vec![0u8; 1 << 20];
        for _ in 0..20 {
            e.write_all(&mib).unwrap();
        }
        e.finish().unwrap()
    })
}

async fn redirect(Query(q): Query<HashMap<String, String>>) -> impl IntoResponse {
    (
        StatusCode::FOUND,
        [(LOCATION, q.get("to").cloned().unwrap_or_default())],
    )
}

async fn chain(Path(n): Path<u32>) -> axum::response::Response {
    if n >= 3 {
        return (
            [(CONTENT_TYPE, "text/plain")],
            format!("end of chain at {n}"),
        )
            .into_response();
    }
    (
        StatusCode::MOVED_PERMANENTLY,
        [(LOCATION, format!("/chain/{}", n + 1))],
    )
        .into_response()
}

async fn endless(Path(n): Path<u32>) -> impl IntoResponse {
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(LOCATION, format!("/endless/{}", n + 1))],
    )
}

/// A well-behaved origin on 127.0.0.1, port chosen by the OS.
async fn origin() -> SocketAddr {
    let app = Router::new()
        .route(
            "/",
            get(|| async { ([(CONTENT_TYPE, "text/html; charset=utf-8")], PAGE) }),
        )
        .route(
            "/missing",
            get(|| async { (StatusCode::NOT_FOUND, "no such page") }),
        )
        .route("/redirect", get(redirect))
        .route("/chain/{n}", get(chain))
        .route("/endless/{n}", get(endless))
        .route(
            "/loop/a",
            get(|| async { (StatusCode::FOUND, [(LOCATION, "/loop/b")]) }),
        )
        .route(
            "/loop/b",
            get(|| async { (StatusCode::FOUND, [(LOCATION, "/loop/a#x")]) }),
        )
        .route("/big", get(|| async { "x".repeat(5000) }))
        .route(
            "/gzip",
            get(|| async {
                (
                    [(CONTENT_TYPE, "text/html"), (CONTENT_ENCODING, "gzip")],
                    gzip(PAGE.as_bytes()),
                )
            }),
        )
        .route(
            "/bomb",
            get(|| async {
                (
                    [(CONTENT_TYPE, "text/html"), (CONTENT_ENCODING, "gzip")],
                    bomb(),
                )
            }),
        )
        .route(
            "/bad-gzip",
            get(|| async { ([(CONTENT_ENCODING, "gzip")], "this is not gzip at all") }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn fetch(policy: &FetchPolicy, url: &str) -> Result<ingest::Capture, FetchError> {
    Fetcher::new(policy.clone())
        .unwrap()
        .fetch(&Url::parse(url).unwrap())
        .await
}

async fn refused(policy: &FetchPolicy, url: &str) -> FetchError {
    match fetch(policy, url).await {
        Ok(c) => panic!(
            "{url} was fetched (status {}), expected a refusal",
            c.status
        ),
        Err(e) => e,
    }
}

/// Every one of `urls` is refused with the error kind `kind`.
async fn all_refused<U: AsRef<str>>(
    policy: &FetchPolicy,
    kind: &str,
    urls: impl IntoIterator<Item = U>,
) {
    for url in urls {
        let url = url.as_ref();
        let e = refused(policy, url).await;
        assert_eq!(e.kind(), kind, "{url}: {e}");
    }
}

#[tokio::test]
async fn allowed_origin_fetches_and_records_digests() {
    let addr = origin().await;
    let c = fetch(&policy(&[addr]), &format!("http://{addr}/#frag"))
        .await
        .unwrap();
    assert_eq!(c.status, 200);
    assert_eq!(c.http_version, "HTTP/1.1");
    assert_eq!(c.final_url, format!("http://{addr}/"));
    assert_eq!(c.body.as_ref(), PAGE.as_bytes());
    assert_eq!(c.raw_body, c.body);
    assert_eq!(c.body_len, PAGE.len() as u64);
    assert_eq!(c.sha256, hex::encode(Sha256::digest(PAGE)));
    assert_eq!(c.md5, hex::encode(Md5::digest(PAGE)));
    assert_eq!(c.raw_sha256, c.sha256);
    assert_eq!(c.remote_addr.as_deref(), Some(addr.to_string().as_str()));
    assert_eq!(c.content_type.as_deref(), Some("text/html; charset=utf-8"));
    assert_eq!(c.hops.len(), 1);
    assert_eq!(
        c.hops[0].remote_addr.as_deref(),
        Some(addr.to_string().as_str())
    );
    assert!(c
        .headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.starts_with("text/html")));
    // The metadata serialises without the bodies.
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["sha256"], c.sha256.as_str());
    assert_eq!(json["hops"][0]["status"], 200);
    assert!(json.get("raw_body").is_none() && json.get("body").is_none());
    assert!(json["fetched_at"].as_str().unwrap().contains('T'));
}

#[tokio::test]
async fn non_2xx_is_a_capture_not_an_error() {
    let addr = origin().await;
    let c = fetch(&policy(&[addr]), &format!("http://{addr}/missing"))
        .await
        .unwrap();
    assert_eq!(c.status, 404);
    assert_eq!(c.body.as_ref(), b"no such page");
}

#[tokio::test]
async fn other_port_on_the_same_host_is_refused_before_connecting() {
    let addr = origin().await;
    let (other, accepted) = raw_origin(|_| async {}).await;
    let e = refused(&policy(&[addr]), &format!("http://{other}/")).await;
    assert_eq!(e.kind(), "blocked_address", "{e}");
    assert!(e.is_policy_refusal());
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "no connection may be attempted"
    );
}

#[tokio::test]
async fn odd_ipv4_notations_are_refused() {
    let addr = origin().await;
    let p = policy(&[addr]);
    let urls = [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://0/",
        "http://0.0.0.0/",
        "http://127.0.0.1./",
        "http://localhost/",
        "http://a.localhost/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.100.100.200/",
        "http://10.0.0.1/",
    ];
    all_refused(&p, "blocked_address", urls).await;
    let e = refused(&p, "http://10.0.0.1/").await;
    assert_eq!(
        e.to_string(),
        "http://10.0.0.1/ is refused: 10.0.0.1 is a private address"
    );
}

#[tokio::test]
async fn ipv6_forms_embedding_ipv4_are_refused() {
    let addr = origin().await;
    let p = policy(&[addr]);
    let port = addr.port();
    let urls = [
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        "http://[::ffff:7f00:1]/".into(),
        "http://[::127.0.0.1]/".into(),
        "http://[64:ff9b::7f00:1]/".into(),
        "http://[64:ff9b::a9fe:a9fe]/".into(),
        "http://[2002:7f00:1::]/".into(),
        "http://[2002:a9fe:a9fe::]/".into(),
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/".into(),
        "http://[::1]/".into(),
        "http://[::]/".into(),
        "http://[fd00:ec2::254]/".into(),
    ];
    all_refused(&p, "blocked_address", urls).await;
}

#[tokio::test]
async fn other_schemes_and_userinfo_are_refused() {
    let addr = origin().await;
    let p = policy(&[addr]);
    let urls = [
        "gopher://127.0.0.1:6379/_INFO",
        "file:///etc/passwd",
        "ftp://example.com/",
    ];
    all_refused(&p, "scheme", urls).await;
    let e = refused(&p, &format!("http://user:pass@{addr}/")).await;
    assert_eq!(e.kind(), "userinfo");
    assert_eq!(refused(&p, "http://example.com:22/").await.kind(), "port");
}

#[tokio::test]
async fn redirects_are_checked_at_every_hop() {
    let addr = origin().await;
    let (other, accepted) = raw_origin(|_| async {}).await;
    let p = policy(&[addr]);
    let via = |to: &str| format!("http://{addr}/redirect?to={}", urlencode(to));

    let e = refused(&p, &via(&format!("http://{other}/"))).await;
    assert_eq!(e.kind(), "blocked_address", "{e}");
    assert!(
        e.to_string()
            .starts_with(&format!("redirect hop 1 to http://{other}/ is refused")),
        "{e}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 0);

    let e = refused(&p, &via("http://169.254.169.254/latest/meta-data/")).await;
    assert_eq!(e.kind(), "blocked_address");
    assert!(
        e.to_string()
            .contains("169.254.169.254 is a cloud metadata address"),
        "{e}"
    );

    let urls = ["gopher://127.0.0.1:6379/_x", "file:///etc/passwd"].map(via);
    all_refused(&p, "scheme", urls).await;
    assert_eq!(
        refused(&p, &via("http://u:p@example.com/")).await.kind(),
        "userinfo"
    );
    assert_eq!(
        refused(&p, &via("http://example.com:6379/")).await.kind(),
        "port"
    );

    // A relative redirect within the origin is fine, and the chain is recorded.
    let c = fetch(&p, &via("/")).await.unwrap();
    assert_eq!(c.status, 200);
    assert_eq!(c.hops.len(), 2);
    assert_eq!(c.hops[0].status, 302);
    assert_eq!(c.hops[0].location.as_deref(), Some("/"));
    assert_eq!(c.final_url, format!("http://{addr}/"));
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn redirect_chains_are_capped_and_loops_detected() {
    let addr = origin().await;
    let mut p = policy(&[addr]);
    let c = fetch(&p, &format!("http://{addr}/chain/0")).await.unwrap();
    assert_eq!(c.hops.len(), 4);
    assert_eq!(
        c.hops.iter().map(|h| h.status).collect::<Vec<_>>(),
        [301, 301, 301, 200]
    );
    assert_eq!(c.final_url, format!("http://{addr}/chain/3"));

    p.max_redirects = 2;
    let e = refused(&p, &format!("http://{addr}/chain/0")).await;
    assert_eq!(e.kind(), "redirect_limit", "{e}");

    p.max_redirects = 5;
    let e = refused(&p, &format!("http://{addr}/endless/0")).await;
    assert_eq!(e.kind(), "redirect_limit");
    assert!(e.to_string().contains("more than 5 times"), "{e}");

    let e = refused(&p, &format!("http://{addr}/loop/a")).await;
    assert_eq!(e.kind(), "redirect_limit");
    assert!(e.to_string().contains("loops back"), "{e}");
}

#[tokio::test]
async fn resolve_overrides_are_still_vetted() {
    let addr = origin().await;
    let mut p = policy(&[]);
    p.resolve.insert("Origin.Test".into(), vec![addr.ip()]);
    let url = format!("http://origin.test:{}/", addr.port());
    // Port not allowed and address private: refused either way without allow_private.
    let e = refused(&p, &url).await;
    assert!(e.is_policy_refusal(), "{e}");
    p.allowed_ports.push(addr.port());
    let e = refused(&p, &url).await;
    assert_eq!(e.kind(), "blocked_address", "{e}");
    assert!(
        e.to_string()
            .contains("origin.test resolves to 127.0.0.1, a loopback address"),
        "{e}"
    );

    let mut p = policy(&[addr]);
    p.resolve.insert("origin.test".into(), vec![addr.ip()]);
    let c = fetch(&p, &url).await.unwrap();
    assert_eq!(c.status, 200);
    assert_eq!(c.final_url, url);
    assert_eq!(c.remote_addr, Some(addr.to_string()));
    // The same name on another port is not that socket.
    assert!(refused(&p, "http://origin.test/").await.is_policy_refusal());
}

#[tokio::test]
async fn bodies_over_the_cap_are_refused() {
    let addr = origin().await;
    let mut p = policy(&[addr]);
    p.max_body_bytes = 1000;
    // Honest Content-Length over the cap: refused before reading.
    let e = refused(&p, &format!("http://{addr}/big")).await;
    assert_eq!(e.kind(), "too_large", "{e}");

    // No Content-Length, body until close.
    let (close, _) = raw_origin(|mut s| async move {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            .await;
        let _ = s.write_all(&[b'a'; 5000]).await;
    })
    .await;
    // Chunked and endless, with a Content-Length that lies low.
    let (chunked, _) = raw_origin(|mut s| async move {
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n";
        let _ = s.write_all(head.as_bytes()).await;
        loop {
            if s.write_all(b"100\r\n").await.is_err()
                || s.write_all(&[b'b'; 256]).await.is_err()
                || s.write_all(b"\r\n").await.is_err()
            {
                return;
            }
        }
    })
    .await;
    for origin in [close, chunked] {
        let mut p = policy(&[origin]);
        p.max_body_bytes = 1000;
        let e = refused(&p, &format!("http://{origin}/")).await;
        assert!(matches!(e.kind(), "too_large" | "http"), "{origin}: {e}");
        if origin == close {
            assert_eq!(e.kind(), "too_large");
        }
    }
}

#[tokio::test]
async fn gzip_is_decoded_and_bombs_are_stopped() {
    let addr = origin().await;
    let p = policy(&[addr]);
    let c = fetch(&p, &format!("http://{addr}/gzip")).await.unwrap();
    assert_eq!(c.content_encoding.as_deref(), Some("gzip"));
    assert_eq!(c.body.as_ref(), PAGE.as_bytes());
    assert_eq!(c.raw_body.as_ref(), gzip(PAGE.as_bytes()).as_slice());
    assert_eq!(c.sha256, hex::encode(Sha256::digest(PAGE)));
    assert_eq!(c.raw_sha256, hex::encode(Sha256::digest(&c.raw_body)));
    assert_ne!(c.raw_sha256, c.sha256);

    let e = refused(&p, &format!("http://{addr}/bomb")).await;
    assert!(matches!(e.kind(), "decode" | "too_large"), "{e}");
    // With the ratio out of the way, the decoded-size cap still holds.
    let mut lax = p.clone();
    lax.max_decompression_ratio = 1_000_000;
    lax.max_body_bytes = 4 << 20;
    assert_eq!(
        refused(&lax, &format!("http://{addr}/bomb")).await.kind(),
        "too_large"
    );

    assert_eq!(
        refused(&p, &format!("http://{addr}/bad-gzip")).await.kind(),
        "decode"
    );
}

#[tokio::test]
async fn slow_servers_time_out() {
    // Headers never come.
    let (slow, _) = raw_origin(|s| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    })
    .await;
    let mut p = policy(&[slow]);
    p.read_timeout_ms = 300;
    let e = refused(&p, &format!("http://{slow}/")).await;
    assert_eq!(e.kind(), "timeout", "{e}");
    assert!(!e.is_policy_refusal());
    // The read timeout fired, not the 10 s total deadline: which one, not how fast.
    assert!(
        matches!(
            e,
            FetchError::Timeout {
                what: "response data",
                ms: 300,
                ..
            }
        ),
        "{e}"
    );

    // A body trickling one byte at a time: each read is quick, the total deadline is not.
    let (trickle, _) = raw_origin(|mut s| async move {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            .await;
        for _ in 0..1000 {
            if s.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let mut p = policy(&[trickle]);
    p.total_timeout_ms = 700;
    let e = refused(&p, &format!("http://{trickle}/")).await;
    assert_eq!(e.kind(), "timeout", "{e}");
    assert!(
        matches!(
            e,
            FetchError::Timeout {
                what: "complete response",
                ms: 700,
                ..
            }
        ),
        "{e}"
    );
}

#[tokio::test]
async fn connection_failures_are_external() {
    let free = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let e = refused(&policy(&[free]), &format!("http://{free}/")).await;
    assert_eq!(e.kind(), "connect", "{e}");
    assert!(!e.is_policy_refusal());

    // Garbage instead of HTTP.
    let (garbage, _) = raw_origin(|mut s| async move {
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n").await;
    })
    .await;
    let e = refused(&policy(&[garbage]), &format!("http://{garbage}/")).await;
    assert_eq!(e.kind(), "http", "{e}");
    // The TLS path: a handshake with something that is not a TLS server fails cleanly.
    let not_tls = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let not_tls_addr = not_tls.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = not_tls.accept().await {
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    let e = refused(
        &policy(&[not_tls_addr]),
        &format!("https://{not_tls_addr}/"),
    )
    .await;
    assert_eq!(e.kind(), "connect", "{e}");
}

#[test]
fn invalid_policies_are_config_errors() {
    let p = FetchPolicy {
        max_body_bytes: 0,
        ..FetchPolicy::default()
    };
    assert_eq!(Fetcher::new(p).unwrap_err().kind(), "config");
    let p = FetchPolicy {
        user_agent: "bad\nagent".into(),
        ..FetchPolicy::default()
    };
    assert_eq!(Fetcher::new(p).unwrap_err().kind(), "config");
}

#[test]
fn policy_is_config_with_defaults_and_no_unknown_fields() {
    let p: FetchPolicy = toml::from_str(
        "allow_private = [\"127.0.0.1:8080\"]\nmax_redirects = 3\n[resolve]\n\"demo.test\" = [\"127.0.0.1\"]\n",
    )
    .unwrap();
    assert_eq!(p.allowed_ports, [80, 443]);
    assert_eq!(p.max_redirects, 3);
    assert_eq!(p.max_body_bytes, 10 * 1024 * 1024);
    assert_eq!(
        p.allow_private,
        ["127.0.0.1:8080".parse::<SocketAddr>().unwrap()]
    );
    assert!(toml::from_str::<FetchPolicy>("max_redirect = 3").is_err());
    assert!(p.validate().is_ok());
}
