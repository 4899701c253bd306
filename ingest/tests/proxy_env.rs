//! Proxy variables are ignored: through a proxy, DNS would happen where our checks cannot see.
//! In its own test binary because it changes the process environment.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use ingest::{FetchPolicy, Fetcher};
use tokio::net::TcpListener;
use url::Url;

#[tokio::test]
async fn proxy_environment_variables_are_ignored() {
    // A "proxy" that only counts connections.
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = proxy.local_addr().unwrap();
    let used = Arc::new(AtomicUsize::new(0));
    let count = used.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = proxy.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        std::env::set_var(var, format!("http://{proxy_addr}"));
    }
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");

    let app = Router::new().route("/", get(|| async { "direct" }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let policy = FetchPolicy {
        allow_private: vec![origin],
        ..FetchPolicy::default()
    };
    let fetcher = Fetcher::new(policy).unwrap();
    let c = fetcher
        .fetch(&Url::parse(&format!("http://{origin}/")).unwrap())
        .await
        .unwrap();
    assert_eq!(c.body.as_ref(), b"direct");
    assert_eq!(c.remote_addr, Some(origin.to_string()));
    assert_eq!(used.load(Ordering::SeqCst), 0, "the proxy was used");
}
