//! The image stage of a referral, between extraction and classification.
//!
//! ```text
//!  Capture + Extracted ─┬─ content is image/* ──────────────────────────┐
//!                       └─ <img> sources ─select_images─fetch_images─┐  │
//!                              (same Fetcher and policy, capped)     ▼  ▼
//!                                   spawn_blocking: decode under DecodeLimits, 8 PDQ hashes
//!                                                        │
//!                      evidence (one WARC capture per image fetch, purpose `image`)
//!                                                        ▼
//!                          Vec<HashedImage> → classify::ImageEvidence; JSON report per image
//! ```
//!
//! A refused, failed or undecodable image is reported in the case (`capture.images`) and
//! counted in `triage_images_total`; it never fails the referral. Only a failure to preserve
//! an image that was fetched does, as for the page: no case without its evidence.

use crate::evidence::{Owner, Preservation};
use crate::metrics::Metrics;
use crate::store::Store;
use anyhow::{Context, Result};
use classify::pdq::{hash_image_bytes_for_matching, DecodeLimits, DihedralHashes, PdqError};
use serde_json::{json, Value};
use std::time::Instant;
use url::Url;

/// One image as far as it could be fetched and hashed.
pub struct HashedImage {
    pub url: String,
    pub sha256: Option<String>,
    pub md5: Option<String>,
    pub pdq: Option<DihedralHashes>,
}

impl HashedImage {
    /// What the classifier looks at.
    pub fn evidence(&self) -> classify::ImageEvidence<'_> {
        classify::ImageEvidence {
            url: &self.url,
            sha256: self.sha256.as_deref(),
            md5: self.md5.as_deref(),
            pdq: self.pdq.as_ref(),
        }
    }
}

/// The stage's result: the images for the classifier, and the case's report of every image.
pub struct Images {
    pub hashed: Vec<HashedImage>,
    /// One object per image looked at (`capture.images`).
    pub report: Vec<Value>,
    /// Distinct sources past `max_images_per_page`.
    pub skipped: usize,
}

/// Who the image captures belong to.
pub struct Stage<'a> {
    pub store: &'a Store,
    pub preservation: Option<&'a Preservation>,
    pub metrics: &'a Metrics,
    pub case_id: &'a str,
    pub referral_id: &'a str,
}

/// Hashes the content when it is an image, and fetches and hashes the page's `<img>` sources.
/// Fails only when an image capture cannot be preserved.
pub async fn run(
    fetcher: &ingest::Fetcher,
    ctx: &Stage<'_>,
    page: &ingest::Capture,
    extracted: &ingest::Extracted,
) -> Result<Images> {
    let mut out = Images {
        hashed: Vec::new(),
        report: Vec::new(),
        skipped: 0,
    };
    // The referral's own content, when it is an image (or binary that decodes as one).
    let content_is_image = ingest::is_image_type(page.content_type.as_deref());
    if content_is_image || extracted.kind == ingest::ContentKind::Other {
        let hashed = hash_all(ctx.metrics, vec![page.body.clone()]).await;
        let pdq = hashed.into_iter().next().expect("one result per body");
        // Binary content that is no image is just not an image: nothing to report.
        if content_is_image || !matches!(pdq, Err(PdqError::UnsupportedFormat(_))) {
            // Its evidence is the referral's own capture (`capture.evidence`).
            let item = fetched_item(page, "content", Some(&pdq));
            out.push(ctx.metrics, page, pdq, item);
        }
    }
    let max = fetcher.policy().max_images_per_page;
    if extracted.kind != ingest::ContentKind::Html || max == 0 {
        return Ok(out);
    }
    let Ok(base) = Url::parse(&page.final_url) else {
        return Ok(out);
    };
    let selection = ingest::select_images(&extracted.images, &base, max);
    out.skipped = selection.skipped;
    count(ctx.metrics, "skipped", selection.skipped);
    for (src, reason) in &selection.invalid {
        count(ctx.metrics, "invalid", 1);
        out.report.push(json!({
            "url": src, "source": "img",
            "error": {"kind": "invalid_url", "message": reason, "refused": false},
        }));
    }
    if selection.urls.is_empty() {
        return Ok(out);
    }
    let t = Instant::now();
    let fetched = ingest::fetch_images(fetcher, &selection.urls).await;
    ctx.metrics
        .stage_seconds
        .with_label_values(&["image_fetch"])
        .observe(t.elapsed().as_secs_f64());
    let is_ok = |c: &ingest::Capture| (200..300).contains(&c.status);
    let bodies = fetched
        .iter()
        .filter_map(|f| f.result.as_ref().ok().filter(|c| is_ok(c)))
        .map(|c| c.body.clone())
        .collect();
    let mut hashes = hash_all(ctx.metrics, bodies).await.into_iter();
    // Reported in page order.
    for f in fetched {
        let cap = match f.result {
            Ok(cap) => cap,
            Err(ingest::Failed { error, .. }) => {
                let refused = error.is_policy_refusal();
                count(ctx.metrics, if refused { "refused" } else { "failed" }, 1);
                if refused {
                    ctx.metrics
                        .fetch_refusals
                        .with_label_values(&[error.kind(), error.class()])
                        .inc();
                }
                out.report.push(json!({
                    "url": f.url.as_str(), "source": "img",
                    "error": {"kind": error.kind(), "message": error.to_string(), "refused": refused},
                }));
                continue;
            }
        };
        let evidence = preserve(ctx, &cap, &base).await?;
        if is_ok(&cap) {
            let pdq = hashes.next().expect("one result per body");
            let mut item = fetched_item(&cap, "img", Some(&pdq));
            if let Some(ev) = evidence {
                item["evidence"] = ev;
            }
            out.push(ctx.metrics, &cap, pdq, item);
        } else {
            count(ctx.metrics, "http_error", 1);
            let mut item = fetched_item(&cap, "img", None);
            item["error"] = json!({
                "kind": "http_status",
                "message": format!("the origin answered HTTP {} for {}", cap.status, cap.final_url),
                "refused": false,
            });
            if let Some(ev) = evidence {
                item["evidence"] = ev;
            }
            out.report.push(item);
        }
    }
    Ok(out)
}

impl Images {
    fn push(
        &mut self,
        metrics: &Metrics,
        cap: &ingest::Capture,
        pdq: Result<DihedralHashes, PdqError>,
        item: Value,
    ) {
        let pdq = match pdq {
            Ok(h) => {
                count(metrics, "hashed", 1);
                let bucket = match h.quality {
                    0..=49 => "below_50",
                    50..=79 => "50_to_79",
                    _ => "80_to_100",
                };
                metrics.pdq_hashes.with_label_values(&[bucket]).inc();
                Some(h)
            }
            Err(_) => {
                count(metrics, "undecodable", 1);
                None
            }
        };
        self.hashed.push(HashedImage {
            url: cap.final_url.clone(),
            sha256: Some(cap.sha256.clone()),
            md5: Some(cap.md5.clone()),
            pdq,
        });
        self.report.push(item);
    }
}

fn count(metrics: &Metrics, outcome: &str, n: usize) {
    if n > 0 {
        metrics
            .images
            .with_label_values(&[outcome])
            .inc_by(n as u64);
    }
}

/// The report of a fetched image: where it came from, its digests, and its PDQ hash (with
/// its quality and whether it can match) or why there is none.
fn fetched_item(
    cap: &ingest::Capture,
    source: &str,
    pdq: Option<&Result<DihedralHashes, PdqError>>,
) -> Value {
    let mut item = json!({
        "url": cap.final_url,
        "source": source,
        "status": cap.status,
        "content_type": cap.content_type,
        "bytes": cap.body_len,
        "sha256": cap.sha256,
        "md5": cap.md5,
    });
    if cap.requested_url != cap.final_url {
        item["requested_url"] = json!(cap.requested_url);
    }
    match pdq {
        None => {}
        Some(Ok(h)) => {
            item["pdq"] = json!({
                "hash": h.original().to_hex(),
                "quality": h.quality,
                "matchable": h.is_matchable(),
            });
            if !h.is_matchable() {
                item["pdq"]["note"] = json!(format!(
                    "quality {} is below {}: this image is not matched by PDQ",
                    h.quality,
                    classify::pdq::MIN_MATCH_QUALITY
                ));
            }
        }
        Some(Err(e)) => {
            item["pdq_error"] = json!({"kind": pdq_error_kind(e), "message": e.to_string()});
        }
    }
    item
}

/// A closed name for each way an image cannot be hashed.
fn pdq_error_kind(e: &PdqError) -> &'static str {
    match e {
        PdqError::UnsupportedFormat(_) => "unsupported_format",
        PdqError::Dimensions { .. } => "dimensions_limit",
        PdqError::Pixels { .. } => "pixels_limit",
        PdqError::Memory { .. } => "memory_limit",
        PdqError::DecoderLimit(_) => "decoder_limit",
        PdqError::Decode(_) => "decode",
    }
}

/// Decodes and hashes each body on a blocking thread, under the default [`DecodeLimits`].
async fn hash_all<B: AsRef<[u8]> + Send + 'static>(
    metrics: &Metrics,
    bodies: Vec<B>,
) -> Vec<Result<DihedralHashes, PdqError>> {
    if bodies.is_empty() {
        return Vec::new();
    }
    let t = Instant::now();
    let n = bodies.len();
    let hashed = tokio::task::spawn_blocking(move || {
        let limits = DecodeLimits::default();
        bodies
            .iter()
            .map(|b| hash_image_bytes_for_matching(b.as_ref(), &limits))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_else(|e| {
        // A decoder bug: these images are reported as undecodable, the referral goes on.
        tracing::error!(error = %e, "image hashing panicked");
        let err = PdqError::Decode(format!("the decoder stopped: {e}"));
        vec![Err(err); n]
    });
    metrics
        .stage_seconds
        .with_label_values(&["image_hash"])
        .observe(t.elapsed().as_secs_f64());
    hashed
}

/// Writes an image capture to the evidence vault, like the page's, with purpose `image`.
async fn preserve(ctx: &Stage<'_>, cap: &ingest::Capture, page: &Url) -> Result<Option<Value>> {
    let Some(p) = ctx.preservation else {
        return Ok(None);
    };
    let owner = Owner {
        case_id: ctx.case_id,
        referral_id: Some(ctx.referral_id),
        purpose: "image",
    };
    let notes = json!({"image_of": page.as_str()});
    let ev = p
        .preserve(ctx.store, cap, owner, None, notes)
        .await
        .with_context(|| format!("the image {} could not be preserved", cap.final_url))?;
    Ok(Some(ev))
}
