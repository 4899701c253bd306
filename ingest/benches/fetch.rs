//! Fetches per second of 50 KB pages from a loopback origin, with every capture written as
//! evidence (WARC file + custody entry, synced to disk) — the target is at least 500/s on two
//! cores. The origin runs in the same process, so it shares the cores.
//!
//!     cargo bench -p ingest --bench fetch
//!     FETCHES=8000 CONCURRENCY=64 GZIP=0 cargo bench -p ingest --bench fetch
//!
//! Prints one line per configuration: fetch only, fetch + evidence (gzip records), fetch +
//! evidence (plain records).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::routing::get;
use axum::Router;
use ingest::evidence::{CaptureContext, Vault, VaultOptions};
use ingest::{FetchPolicy, Fetcher};
use tokio::net::TcpListener;
use url::Url;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A 50 KB page of varied text (so gzip has real work to do).
fn page() -> String {
    let mut s =
        String::from("<!doctype html><html lang=en><head><title>Bench page</title></head><body>");
    let mut i = 0u64;
    while s.len() < 50 * 1024 - 40 {
        i += 1;
        s.push_str(&format!(
            "<p>Paragraph {i}: a court in district {} heard case {} about statement {:x}.</p>",
            i % 97,
            i * 7919 % 10007,
            i.wrapping_mul(0x9e3779b97f4a7c15)
        ));
    }
    s.push_str("</body></html>");
    s
}

async fn run(
    fetcher: Arc<Fetcher>,
    vault: Option<Arc<Vault>>,
    addr: std::net::SocketAddr,
    n: usize,
    conc: usize,
) -> f64 {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (f, v, next) = (fetcher.clone(), vault.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let url = Url::parse(&format!("http://{addr}/p/{i}")).unwrap();
                let c = f.fetch(&url).await.expect("fetch");
                assert_eq!(c.body_len as usize, c.raw_len as usize);
                if let Some(v) = &v {
                    let v = v.clone();
                    tokio::task::spawn_blocking(move || {
                        let case = format!("case-{i}");
                        v.preserve(
                            &c,
                            &CaptureContext {
                                case_id: &case,
                                referral_id: None,
                                purpose: "capture",
                                conversion: None,
                                notes: serde_json::Value::Null,
                            },
                        )
                        .expect("preserve")
                    })
                    .await
                    .unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let n = env("FETCHES", 4000);
    let conc = env("CONCURRENCY", 32);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let body: &'static str = Box::leak(page().into_boxed_str());
        let app = Router::new().route("/p/{n}", get(move || async move { ([("content-type", "text/html; charset=utf-8")], body) }));
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        let fetcher = Arc::new(
            Fetcher::new(FetchPolicy {
                allow_private: vec![addr],
                max_concurrent_fetches: conc,
                ..FetchPolicy::default()
            })
            .unwrap(),
        );
        println!(
            "{n} fetches of {} byte pages, {conc} at a time, {} cores",
            body.len(),
            std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1)
        );
        // Warm-up.
        run(fetcher.clone(), None, addr, 200, conc).await;
        let rate = run(fetcher.clone(), None, addr, n, conc).await;
        println!("fetch only:                      {rate:>7.0} fetches/s");
        for gzip in [true, false] {
            if std::env::var("GZIP").is_ok_and(|g| (g == "0") == gzip) {
                continue;
            }
            let dir = std::env::temp_dir().join(format!("ingest-bench-{}", uuid::Uuid::now_v7()));
            let vault = Arc::new(Vault::open(&dir.join("evidence"), &dir.join("key.pem"), VaultOptions { gzip }).unwrap());
            let rate = run(fetcher.clone(), Some(vault.clone()), addr, n, conc).await;
            vault.checkpoint().unwrap();
            let bytes: u64 = walk(&dir.join("evidence/warc"));
            println!(
                "fetch + evidence ({}): {rate:>7.0} fetches/s ({} custody entries, {:.1} MB of WARC)",
                if gzip { "gzip records " } else { "plain records" },
                vault.log_size(),
                bytes as f64 / 1e6
            );
            let _ = std::fs::remove_dir_all(dir);
        }
    });
}

fn walk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        walk(&p)
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
