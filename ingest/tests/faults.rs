//! The fault rows of the research checklist that `fetch.rs` does not cover: endless chunked
//! bodies, lying Content-Length, resets mid-body, header floods, content-type lies, names that
//! resolve to private addresses (alone or mixed with public ones), DNS rebinding, IDN hosts,
//! invalid TLS certificates, a black-hole port, unsupported codings, and the concurrency bound.
//! Each ends in a named error kind (or a capture), never a panic or unbounded memory; where
//! part of the response arrived, it is kept, marked with how it was cut.

mod common;

use common::{policy, raw_origin};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ingest::{extract, ContentKind, FetchError, FetchPolicy, Fetcher, NameResolver, Truncation};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// An origin that answers every request with `response` and closes.
async fn fixed_origin(response: Vec<u8>) -> SocketAddr {
    let response = Arc::new(response);
    raw_origin(move |mut s| {
        let r = response.clone();
        async move {
            let _ = s.write_all(&r).await;
            let _ = s.shutdown().await;
        }
    })
    .await
    .0
}

async fn fetch_keeping(p: &FetchPolicy, url: &str) -> Result<ingest::Capture, ingest::Failed> {
    Fetcher::new(p.clone())
        .unwrap()
        .fetch_keeping(&Url::parse(url).unwrap())
        .await
}

#[tokio::test]
async fn an_endless_chunked_body_stops_at_the_cap_and_the_prefix_is_kept() {
    let (addr, _) = raw_origin(|mut s| async move {
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ntransfer-encoding: chunked\r\n\r\n";
        let _ = s.write_all(head.as_bytes()).await;
        loop {
            let chunk = format!("400\r\n{}\r\n", "<p>x</p>".repeat(128));
            if s.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
    })
    .await;
    let mut p = policy(&[addr]);
    p.max_body_bytes = 100_000;
    let f = fetch_keeping(&p, &format!("http://{addr}/"))
        .await
        .unwrap_err();
    assert_eq!(f.error.kind(), "too_large", "{}", f.error);
    let partial = f.partial.expect("the prefix is kept");
    assert_eq!(partial.truncated, Some(Truncation::Length));
    assert_eq!(partial.raw_len, 100_000);
    assert_eq!(
        partial.body.len(),
        100_000,
        "no coding: the prefix is the content"
    );
    assert!(partial.raw_body.starts_with(b"<p>x</p>"));
}

#[tokio::test]
async fn content_length_lying_high_is_a_disconnect_and_lying_low_is_cut_by_the_client() {
    let high =
        fixed_origin(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nonly ten b".to_vec()).await;
    let f = fetch_keeping(&policy(&[high]), &format!("http://{high}/"))
        .await
        .unwrap_err();
    assert_eq!(f.error.kind(), "http", "{}", f.error);
    assert!(
        f.error.to_string().contains("after 10 bytes"),
        "{}",
        f.error
    );
    let partial = f.partial.unwrap();
    assert_eq!(partial.truncated, Some(Truncation::Disconnect));
    assert_eq!(partial.raw_body.as_ref(), b"only ten b");

    let mut low = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n".to_vec();
    low.extend_from_slice(&[b'z'; 5000]);
    let low = fixed_origin(low).await;
    let c = fetch_keeping(&policy(&[low]), &format!("http://{low}/"))
        .await
        .unwrap();
    assert_eq!(c.body.as_ref(), b"zzzzzzzzzz");
    assert_eq!(c.truncated, None);
}

#[tokio::test]
async fn a_reset_mid_body_keeps_what_arrived() {
    let (addr, _) = raw_origin(|mut s| async move {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n")
            .await;
        let _ = s.write_all(&[b'r'; 3000]).await;
        let _ = s.flush().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        // SO_LINGER 0: close sends a RST instead of a FIN.
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s);
    })
    .await;
    let f = fetch_keeping(&policy(&[addr]), &format!("http://{addr}/"))
        .await
        .unwrap_err();
    assert_eq!(f.error.kind(), "http", "{}", f.error);
    let partial = f.partial.unwrap();
    assert_eq!(partial.truncated, Some(Truncation::Disconnect));
    assert_eq!(partial.raw_len, 3000);
}

#[tokio::test]
async fn header_floods_and_bad_header_bytes_are_refused_without_panic() {
    let mut one_mb = b"HTTP/1.1 200 OK\r\nx-big: ".to_vec();
    one_mb.extend_from_slice(&vec![b'a'; 1 << 20]);
    one_mb.extend_from_slice(b"\r\ncontent-length: 2\r\n\r\nok");
    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..10_000 {
        many.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"content-length: 2\r\n\r\nok");
    let bad = b"HTTP/1.1 200 OK\r\nbad header: v\r\ncontent-length: 2\r\n\r\nok".to_vec();
    let nul = b"HTTP/1.1 200 OK\r\nx-nul: a\0b\r\ncontent-length: 2\r\n\r\nok".to_vec();
    for (name, response) in [
        ("1 MB header", one_mb),
        ("10k headers", many),
        ("space in a name", bad),
        ("NUL in a value", nul),
    ] {
        let addr = fixed_origin(response).await;
        let f = fetch_keeping(&policy(&[addr]), &format!("http://{addr}/"))
            .await
            .unwrap_err();
        assert_eq!(f.error.kind(), "http", "{name}: {}", f.error);
        assert!(f.partial.is_none(), "{name}: no head, nothing to keep");
    }
}

#[tokio::test]
async fn content_type_lies_are_sniffed_after_the_fetch() {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0".to_vec();
    let mut r = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\r\n",
        png.len()
    )
    .into_bytes();
    r.extend_from_slice(&png);
    let as_html = fixed_origin(r).await;
    let c = fetch_keeping(&policy(&[as_html]), &format!("http://{as_html}/"))
        .await
        .unwrap();
    assert_eq!(
        extract(&c.body, c.content_type.as_deref(), None).kind,
        ContentKind::Other
    );

    let page = b"<!doctype html><title>t</title><p>a page</p>";
    let mut r = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: image/jpeg\r\ncontent-length: {}\r\n\r\n",
        page.len()
    )
    .into_bytes();
    r.extend_from_slice(page);
    let as_image = fixed_origin(r).await;
    let c = fetch_keeping(&policy(&[as_image]), &format!("http://{as_image}/"))
        .await
        .unwrap();
    let e = extract(&c.body, c.content_type.as_deref(), None);
    assert_eq!((e.kind, e.text.as_str()), (ContentKind::Html, "a page"));
}

#[tokio::test]
async fn unsupported_codings_are_refused_and_the_raw_bytes_kept() {
    let r = b"HTTP/1.1 200 OK\r\ncontent-encoding: br\r\ncontent-length: 6\r\n\r\n\x1b\x00\x00\x00\x00\x00".to_vec();
    let addr = fixed_origin(r).await;
    let f = fetch_keeping(&policy(&[addr]), &format!("http://{addr}/"))
        .await
        .unwrap_err();
    assert_eq!(f.error.kind(), "decode", "{}", f.error);
    assert!(f.error.to_string().contains("\"br\""), "{}", f.error);
    let partial = f.partial.unwrap();
    assert_eq!(partial.raw_len, 6);
    assert_eq!(
        partial.truncated, None,
        "received whole, just not decodable"
    );
    assert!(partial.body.is_empty());
}

/// A resolver whose answers are set by the test, counting its calls.
struct StubResolver {
    answers: Mutex<Vec<Vec<IpAddr>>>,
    calls: AtomicUsize,
}

impl StubResolver {
    fn new(answers: Vec<Vec<&str>>) -> Arc<Self> {
        Arc::new(StubResolver {
            answers: Mutex::new(
                answers
                    .into_iter()
                    .map(|a| a.into_iter().map(|s| s.parse().unwrap()).collect())
                    .collect(),
            ),
            calls: AtomicUsize::new(0),
        })
    }
}

impl NameResolver for StubResolver {
    fn lookup(
        &self,
        _name: &str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let answers = self.answers.lock().unwrap();
        let ips = answers[n.min(answers.len() - 1)].clone();
        Box::pin(async move {
            Ok(ips
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect())
        })
    }
}

#[tokio::test]
async fn names_resolving_to_private_addresses_are_refused_before_connecting() {
    let ok = fixed_origin(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec()).await;
    let p = policy(&[ok]);
    let cases = [
        (
            vec!["10.0.0.5"],
            "intranet.test resolves to 10.0.0.5, a private address",
        ),
        (
            vec!["169.254.169.254"],
            "resolves to 169.254.169.254, a cloud metadata address",
        ),
        (
            vec!["::ffff:127.0.0.1"],
            "an IPv4-mapped IPv6 address embedding 127.0.0.1",
        ),
        // Strict: one private answer among public ones refuses the name.
        (
            vec!["8.8.8.8", "192.168.1.10"],
            "resolves to 192.168.1.10, a private address",
        ),
    ];
    for (answers, wording) in cases {
        let resolver = StubResolver::new(vec![answers]);
        let f = Fetcher::new(p.clone())
            .unwrap()
            .with_resolver(resolver.clone());
        let e = f
            .fetch(&Url::parse(&format!("http://intranet.test:{}/", ok.port())).unwrap())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), "blocked_address", "{e}");
        assert!(e.to_string().contains(wording), "{e}");
    }
    // The same through the static resolve map.
    let mut p2 = p.clone();
    p2.resolve.insert(
        "mixed.test".into(),
        vec!["8.8.8.8".parse().unwrap(), "127.0.0.2".parse().unwrap()],
    );
    let e = Fetcher::new(p2)
        .unwrap()
        .fetch(&Url::parse(&format!("http://mixed.test:{}/", ok.port())).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "blocked_address", "{e}");
    assert_eq!(e.class(), "loopback");
}

#[tokio::test]
async fn dns_rebinding_cannot_move_the_connection() {
    // First answer: the allowed origin. Every later answer: another local server, which must
    // never see a connection. One fetch resolves once per hop and connects only there.
    let (good, good_hits) = raw_origin(|mut s| async move {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ngood")
            .await;
    })
    .await;
    let (evil, evil_hits) = raw_origin(|mut s| async move {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nevil")
            .await;
    })
    .await;
    assert_ne!(good.port(), evil.port());
    let resolver = StubResolver::new(vec![vec!["127.0.0.1"], vec!["127.0.0.2"]]);
    let p = policy(&[good]);
    let f = Fetcher::new(p).unwrap().with_resolver(resolver.clone());
    let c = f
        .fetch(&Url::parse(&format!("http://rebind.test:{}/", good.port())).unwrap())
        .await
        .unwrap();
    assert_eq!(c.body.as_ref(), b"good");
    assert_eq!(resolver.calls.load(Ordering::SeqCst), 1, "resolved once");
    assert_eq!(good_hits.load(Ordering::SeqCst), 1);
    assert_eq!(evil_hits.load(Ordering::SeqCst), 0);
    // The second resolution (a new fetch) gives 127.0.0.2, which is not allowed.
    let e = f
        .fetch(&Url::parse(&format!("http://rebind.test:{}/", good.port())).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "blocked_address", "{e}");
    assert_eq!(evil_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn idn_hosts_are_fetched_under_their_punycode_name() {
    let ok = fixed_origin(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec()).await;
    let mut p = policy(&[ok]);
    // "exаmple" with a Cyrillic а: a homoglyph of example.
    p.resolve
        .insert("xn--exmple-4nf.test".into(), vec![ok.ip()]);
    let c = Fetcher::new(p)
        .unwrap()
        .fetch(&Url::parse(&format!("http://exаmple.test:{}/", ok.port())).unwrap())
        .await
        .unwrap();
    assert_eq!(
        c.final_url,
        format!("http://xn--exmple-4nf.test:{}/", ok.port())
    );
}

#[tokio::test]
async fn a_black_hole_port_hits_the_connect_timeout() {
    // A listener with a backlog of 0 that never accepts: once its queue is full, further SYNs
    // are dropped and a connection attempt hangs, like a firewalled port.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = sock.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(s)) =
            tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await
        {
            fillers.push(s);
        }
    }
    let mut p = policy(&[addr]);
    p.connect_timeout_ms = 300;
    let e = Fetcher::new(p)
        .unwrap()
        .fetch(&Url::parse(&format!("http://{addr}/")).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            FetchError::Timeout {
                what: "connection",
                ms: 300,
                ..
            }
        ),
        "{e}"
    );
    drop(listener);
}

#[tokio::test]
async fn concurrent_fetches_are_bounded_by_the_policy() {
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (n2, p2) = (now.clone(), peak.clone());
    let (addr, _) = raw_origin(move |mut s| {
        let (now, peak) = (n2.clone(), p2.clone());
        async move {
            let cur = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(cur, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await;
        }
    })
    .await;
    let mut p = policy(&[addr]);
    p.max_concurrent_fetches = 3;
    let f = Fetcher::new(p).unwrap();
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let f = f.clone();
            tokio::spawn(async move {
                f.fetch(&Url::parse(&format!("http://{addr}/{i}")).unwrap())
                    .await
                    .unwrap()
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(peak.load(Ordering::SeqCst), 3);
}

/// A TLS origin with a self-signed certificate for `localhost`, made by the openssl command.
fn self_signed(dir: &std::path::Path) -> Option<(Vec<u8>, Vec<u8>)> {
    let run = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let ok = run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "cert.pem",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ]) && run(&[
        "x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der",
    ]) && run(&[
        "pkcs8", "-topk8", "-nocrypt", "-in", "key.pem", "-outform", "DER", "-out", "key.der",
    ]);
    ok.then(|| {
        (
            std::fs::read(dir.join("cert.der")).unwrap(),
            std::fs::read(dir.join("key.der")).unwrap(),
        )
    })
}

#[tokio::test]
async fn invalid_certificates_are_refused_with_the_reason() {
    use tokio_rustls::rustls;
    let dir = std::env::temp_dir().join(format!("ingest-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let Some((cert, key)) = self_signed(&dir) else {
        eprintln!("openssl is not installed: no certificate to test with");
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![rustls::pki_types::CertificateDer::from(cert)],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(s).await {
                    let mut buf = [0u8; 1024];
                    let _ = tls.read(&mut buf).await;
                    let _ = tls
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await;
                }
            });
        }
    });
    let e = Fetcher::new(policy(&[addr]))
        .unwrap()
        .fetch(&Url::parse(&format!("https://{addr}/")).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "tls", "{e}");
    assert!(!e.is_policy_refusal());
    let _ = std::fs::remove_dir_all(dir);
}
