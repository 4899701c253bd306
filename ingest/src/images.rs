//! The images of a page, fetched for hashing: which `<img>` sources to fetch, and their fetches.
//!
//! ```text
//!   Extracted::images ──select_images──▶ Vec<Url> ──fetch_images──▶ Vec<ImageFetch>
//!   (absolute, from extract)   http(s) only, no fragment,   the page's Fetcher with the body
//!                              deduplicated, the page        cap lowered to max_image_bytes,
//!                              itself left out, capped       a few at a time, one deadline
//! ```
//!
//! Every image is an ordinary fetch: the scheme, port, address and redirect rules of the
//! [`FetchPolicy`](crate::FetchPolicy) apply to it and to each of its redirects, and it counts
//! against the process-wide fetch limit. A refused or failed image is an outcome to report,
//! never an error of the page. Decoding and hashing are the caller's (CPU-bound, in
//! `spawn_blocking`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use crate::error::{FetchError, Target};
use crate::fetch::{Capture, Failed, Fetcher};

/// Images of one page fetched at the same time.
pub const IMAGE_FETCH_CONCURRENCY: usize = 4;

/// The image sources of a page to fetch, and what was left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSelection {
    /// At most the cap, in page order.
    pub urls: Vec<Url>,
    /// Sources that are not fetchable URLs: (source, reason).
    pub invalid: Vec<(String, String)>,
    /// Distinct fetchable sources past the cap.
    pub skipped: usize,
}

/// Picks the `<img>` sources to fetch: each parsed against `page` (sources from
/// [`crate::extract`] are already absolute), its fragment dropped, duplicates and the page's
/// own URL removed, at most `max` in page order. Schemes other than http(s) are left to the
/// fetch to refuse, so that they are reported like every other refusal.
pub fn select_images(sources: &[String], page: &Url, max: usize) -> ImageSelection {
    let mut out = ImageSelection::default();
    let mut seen: HashSet<Url> = HashSet::new();
    let mut own = page.clone();
    own.set_fragment(None);
    seen.insert(own);
    for src in sources {
        let mut url = match page.join(src.trim()) {
            Ok(u) => u,
            Err(e) => {
                out.invalid.push((src.clone(), e.to_string()));
                continue;
            }
        };
        url.set_fragment(None);
        if !seen.insert(url.clone()) {
            continue;
        }
        if out.urls.len() < max {
            out.urls.push(url);
        } else {
            out.skipped += 1;
        }
    }
    out
}

/// One image fetch and its outcome.
#[derive(Debug)]
pub struct ImageFetch {
    pub url: Url,
    pub result: Result<Capture, Failed>,
}

/// Fetches `urls` with `fetcher` (its body cap lowered to its policy's `max_image_bytes`),
/// [`IMAGE_FETCH_CONCURRENCY`] at a time, all within one `total_timeout_ms` from the start; an
/// image still in flight then ends as a `timeout`. Results are in the order of `urls`.
pub async fn fetch_images(fetcher: &Fetcher, urls: &[Url]) -> Vec<ImageFetch> {
    let policy = fetcher.policy();
    let ms = policy.total_timeout_ms;
    let fetcher = fetcher.with_body_cap(policy.max_image_bytes);
    let deadline = Instant::now() + Duration::from_millis(ms);
    let slots = Arc::new(Semaphore::new(IMAGE_FETCH_CONCURRENCY));
    // Spawned at once (they queue on `slots`), awaited in order.
    let tasks: Vec<_> = urls
        .iter()
        .map(|url| {
            let (fetcher, url, slots) = (fetcher.clone(), url.clone(), slots.clone());
            tokio::spawn(async move {
                let work = async {
                    let _slot = slots.acquire().await;
                    fetcher.fetch_keeping(&url).await
                };
                match tokio::time::timeout_at(deadline, work).await {
                    Ok(r) => r,
                    Err(_) => Err(Failed::from(FetchError::Timeout {
                        at: Target::new(0, &url),
                        what: "end of the page's image fetches",
                        ms,
                    })),
                }
            })
        })
        .collect();
    let mut out = Vec::with_capacity(urls.len());
    for (task, url) in tasks.into_iter().zip(urls) {
        let result = task.await.unwrap_or_else(|e| {
            // Only a bug panics a fetch; the image is reported as failed, not the page.
            Err(Failed::from(FetchError::Config(format!(
                "the fetch of the image {url} stopped: {e}"
            ))))
        });
        out.push(ImageFetch {
            url: url.clone(),
            result,
        });
    }
    out
}

/// Whether a response's `Content-Type` says it is an image (`image/*`): a referral of such a
/// URL is hashed as an image itself.
pub fn is_image_type(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase().starts_with("image/"))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://news.example/a/page.html#top").unwrap()
    }

    #[test]
    fn selection_resolves_deduplicates_and_caps() {
        let sources: Vec<String> = [
            "/img/1.png",
            "https://news.example/img/1.png#frag",
            "2.jpg",
            "https://news.example/a/page.html",
            "http://10.0.0.1/x.png",
            "ftp://files.example/3.gif",
            "http://[::1",
            "4.webp",
            "5.webp",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let s = select_images(&sources, &page(), 4);
        let urls: Vec<&str> = s.urls.iter().map(Url::as_str).collect();
        assert_eq!(
            urls,
            [
                "https://news.example/img/1.png",
                "https://news.example/a/2.jpg",
                "http://10.0.0.1/x.png",
                "ftp://files.example/3.gif",
            ]
        );
        assert_eq!(s.skipped, 2);
        assert_eq!(s.invalid.len(), 1);
        assert_eq!(s.invalid[0].0, "http://[::1");
        assert!(select_images(&sources, &page(), 0).urls.is_empty());
    }

    #[test]
    fn image_types() {
        assert!(is_image_type(Some("image/png")));
        assert!(is_image_type(Some("Image/JPEG; charset=binary")));
        assert!(!is_image_type(Some("text/html")));
        assert!(!is_image_type(Some("application/octet-stream")));
        assert!(!is_image_type(None));
    }
}
