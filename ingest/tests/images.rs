//! A page's image fetches against a loopback origin: the policy applies to each image and to
//! its redirects, the image body cap is its own, results keep page order, and a refusal is
//! an outcome of that image only.

use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use ingest::{fetch_images, select_images, FetchPolicy, Fetcher};
use tokio::net::TcpListener;
use url::Url;

async fn origin() -> std::net::SocketAddr {
    let app = Router::new()
        .route(
            "/small.png",
            get(|| async { ([(CONTENT_TYPE, "image/png")], vec![7u8; 500]) }),
        )
        .route(
            "/big.png",
            get(|| async { ([(CONTENT_TYPE, "image/png")], vec![7u8; 5000]) }),
        )
        .route(
            "/to-private.png",
            get(|| async { (StatusCode::FOUND, [(LOCATION, "http://10.0.0.1/x.png")]) }),
        );
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn each_image_is_a_fetch_under_the_policy_with_its_own_cap() {
    let addr = origin().await;
    let fetcher = Fetcher::new(FetchPolicy {
        allow_private: vec![addr],
        max_image_bytes: 1000,
        ..FetchPolicy::default()
    })
    .unwrap();
    let page = Url::parse(&format!("http://{addr}/page.html")).unwrap();
    let sources: Vec<String> = [
        "small.png",
        "big.png",
        "to-private.png",
        "http://10.0.0.1/y.png",
        "http://127.0.0.1:1/other-port.png",
        "small.png",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let selection = select_images(&sources, &page, 16);
    assert_eq!(selection.urls.len(), 5);
    let got = fetch_images(&fetcher, &selection.urls).await;
    let outcome: Vec<(String, String)> = got
        .iter()
        .map(|f| {
            let what = match &f.result {
                Ok(c) => format!("ok {} {}", c.status, c.body.len()),
                Err(e) => e.error.kind().to_string(),
            };
            (f.url.path().to_string(), what)
        })
        .collect();
    assert_eq!(
        outcome,
        [
            ("/small.png".to_string(), "ok 200 500".to_string()),
            ("/big.png".to_string(), "too_large".to_string()),
            ("/to-private.png".to_string(), "blocked_address".to_string()),
            ("/y.png".to_string(), "blocked_address".to_string()),
            ("/other-port.png".to_string(), "blocked_address".to_string()),
        ]
    );
    // The redirect's target was refused, at hop 1.
    let redirected = got[2].result.as_ref().unwrap_err();
    assert!(
        redirected.error.to_string().contains("10.0.0.1"),
        "{}",
        redirected.error
    );
    // The page's own cap is untouched: the same fetcher still takes the big body as a page.
    let page_fetch = fetcher
        .fetch(&Url::parse(&format!("http://{addr}/big.png")).unwrap())
        .await
        .unwrap();
    assert_eq!(page_fetch.body.len(), 5000);
}
