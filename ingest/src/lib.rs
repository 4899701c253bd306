//! # ingest: a referral's URL becomes preserved content
//!
//! ```text
//!   &str ──parse_target──▶ Url ──Fetcher::fetch──▶ Capture ──extract(body)──▶ Extracted
//!                            │        (FetchPolicy)   raw bytes + decoded     title, text,
//!                            └─ check_url: scheme,    bytes, hops, digests    links, images,
//!                               userinfo, port, IP                            charset
//! ```
//!
//! - [`FetchPolicy`] (serde config): ports, `allow_private` socket addresses, static `resolve`
//!   overrides, redirect, time and size limits.
//! - [`Fetcher`] follows redirects by hand. On every hop: [`check_url`] rules, one DNS
//!   resolution whose every answer must pass [`is_blocked_ip`] (or be an exact
//!   `allow_private` socket), a connection pinned to those vetted addresses, the peer address
//!   verified again, and the body counted against the cap as received and once decoded.
//! - [`Capture`] keeps the raw bytes (for WARC evidence, later) and the decoded bytes, with
//!   SHA-256/MD5 of the content; a 4xx/5xx is still a capture.
//! - [`extract`] (sync, CPU-bound: use `spawn_blocking`) picks the charset the WHATWG way,
//!   parses HTML with a depth bound and returns visible text and metadata, all capped.
//! - [`select_images`] / [`fetch_images`]: a page's `<img>` sources (deduplicated, at most
//!   `max_images_per_page`) fetched by the same [`Fetcher`] under the same policy, each body
//!   capped at `max_image_bytes`; a refused or failed image is an outcome, not a page error.
//!   The caller decodes and hashes them (`classify::pdq`).
//! - [`FetchError::kind`] gives the CONTRACTS.md `error.kind`; [`FetchError::is_policy_refusal`]
//!   separates refusals (exit 3) from external failures (exit 4); [`FetchError::class`] names
//!   the address class of a `blocked_address` refusal for metrics.
//! - [`evidence`]: every capture becomes a WARC/1.1 file in the evidence folder, chained into an
//!   append-only custody log (RFC 6962 Merkle tree, Ed25519-signed checkpoints) that
//!   [`evidence::verify`] checks and [`evidence::export`] turns into a bundle a court can verify
//!   with `python3` and `openssl` alone.
//!
//! The bad inputs and faults of SECURITY.md and the research checklist, each with its test, are
//! listed in `ingest/README.md`.

mod addr;
mod decode;
mod error;
mod extract;
mod fetch;
mod images;
mod parse;
mod policy;

pub mod evidence;

pub use addr::{blocked_class, blocked_reason, check_url, is_blocked_ip, parse_target};
pub use error::{FetchError, Target, POLICY_REFUSAL_KINDS};
pub use extract::{extract, extract_with, ContentKind, ExtractLimits, Extracted};
pub use fetch::{Capture, Failed, Fetcher, Hop, HopRaw, NameResolver, Truncation};
pub use images::{
    fetch_images, is_image_type, select_images, ImageFetch, ImageSelection, IMAGE_FETCH_CONCURRENCY,
};
pub use policy::{FetchPolicy, DEFAULT_MAX_BODY_BYTES};
