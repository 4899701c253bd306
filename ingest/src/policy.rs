//! The fetch policy: what the fetcher may reach and how much it may spend doing so. A serde type
//! with `deny_unknown_fields`, so the binary embeds it in its config and a typo fails at load.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::error::FetchError;

/// 10 MiB: the default cap on a body, both as received and once decoded.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;

/// Limits and exceptions for [`crate::Fetcher`]. Every field has a safe default
/// ([`FetchPolicy::default`]); an operator only writes what they change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetchPolicy {
    /// Destination ports that may be fetched (default 80 and 443).
    pub allowed_ports: Vec<u16>,
    /// Socket addresses that pass the address policy although they are private, e.g. a loopback
    /// test origin `127.0.0.1:8080`. Only that exact ip and port: not other ports of the host,
    /// not other addresses, and a redirect elsewhere is checked as usual.
    pub allow_private: Vec<SocketAddr>,
    /// Static name overrides, like `curl --resolve`: a name listed here is never looked up in
    /// DNS. The addresses are still vetted, so a name mapped to 127.0.0.1 is refused unless
    /// that ip:port is in `allow_private`.
    pub resolve: BTreeMap<String, Vec<IpAddr>>,
    /// Redirects followed before giving up (default 5).
    pub max_redirects: usize,
    /// Time to resolve and establish one connection (default 5 s).
    pub connect_timeout_ms: u64,
    /// Longest silence while waiting for headers or the next piece of body (default 10 s).
    pub read_timeout_ms: u64,
    /// Deadline for the whole fetch, every redirect hop and the body included (default 30 s).
    pub total_timeout_ms: u64,
    /// Cap on the body as received and on the decoded content (default 10 MiB).
    pub max_body_bytes: u64,
    /// Largest decoded/received size ratio accepted from a `Content-Encoding` (default 100).
    /// Bodies decoding to at most 1 MiB are exempt, so small, very repetitive pages still work.
    pub max_decompression_ratio: u64,
    /// The `User-Agent` sent with every request.
    pub user_agent: String,
    /// Fetches in flight at once across the process (default 64); more wait their turn.
    pub max_concurrent_fetches: usize,
    /// `<img>` sources of a page fetched and hashed (default 16; 0: none). Each one is a
    /// fetch under this same policy; sources past the cap are reported as skipped.
    pub max_images_per_page: usize,
    /// Cap on one image's body (default 10 MiB; never above `max_body_bytes`).
    pub max_image_bytes: u64,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            allowed_ports: vec![80, 443],
            allow_private: Vec::new(),
            resolve: BTreeMap::new(),
            max_redirects: 5,
            connect_timeout_ms: 5_000,
            read_timeout_ms: 10_000,
            total_timeout_ms: 30_000,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_decompression_ratio: 100,
            user_agent: concat!("triage/", env!("CARGO_PKG_VERSION"), " (referral triage)").into(),
            max_concurrent_fetches: 64,
            max_images_per_page: 16,
            max_image_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// More redirects than this is a configuration mistake, not a policy.
const MAX_REDIRECTS_CEILING: usize = 20;
/// Images fetched for one page beyond this is a configuration mistake.
const MAX_IMAGES_CEILING: usize = 256;

impl FetchPolicy {
    /// Checks the policy without touching the network (`triage check-config` runs this).
    pub fn validate(&self) -> Result<(), FetchError> {
        let bad = |msg: String| Err(FetchError::Config(msg));
        if self.allowed_ports.contains(&0) {
            return bad("fetch policy: allowed_ports contains port 0".into());
        }
        if let Some(sa) = self.allow_private.iter().find(|sa| sa.port() == 0) {
            return bad(format!("fetch policy: allow_private entry {sa} has port 0"));
        }
        if self.max_concurrent_fetches > 100_000 {
            return bad(format!(
                "fetch policy: max_concurrent_fetches is {}; at most 100000 is allowed",
                self.max_concurrent_fetches
            ));
        }
        if self.max_images_per_page > MAX_IMAGES_CEILING {
            return bad(format!(
                "fetch policy: max_images_per_page is {}; at most {MAX_IMAGES_CEILING} is allowed",
                self.max_images_per_page
            ));
        }
        if self.max_redirects > MAX_REDIRECTS_CEILING {
            return bad(format!(
                "fetch policy: max_redirects is {}; at most {MAX_REDIRECTS_CEILING} is allowed",
                self.max_redirects
            ));
        }
        for (name, ms) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("read_timeout_ms", self.read_timeout_ms),
            ("total_timeout_ms", self.total_timeout_ms),
            ("max_body_bytes", self.max_body_bytes),
            ("max_decompression_ratio", self.max_decompression_ratio),
            ("max_concurrent_fetches", self.max_concurrent_fetches as u64),
            ("max_image_bytes", self.max_image_bytes),
        ] {
            if ms == 0 {
                return bad(format!("fetch policy: {name} must be greater than 0"));
            }
        }
        if self.user_agent.is_empty()
            || reqwest::header::HeaderValue::from_str(&self.user_agent).is_err()
        {
            return bad("fetch policy: user_agent is empty or not a valid header value".into());
        }
        for (name, ips) in &self.resolve {
            let norm = normalize_name(name);
            if norm.is_empty() || norm.parse::<IpAddr>().is_ok() {
                return bad(format!(
                    "fetch policy: resolve key {name:?} is not a host name"
                ));
            }
            if ips.is_empty() {
                return bad(format!(
                    "fetch policy: resolve entry {name:?} has no addresses"
                ));
            }
        }
        Ok(())
    }

    /// The `resolve` override for a host name, matched case-insensitively and without a
    /// trailing dot.
    pub(crate) fn resolve_override(&self, host: &str) -> Option<&[IpAddr]> {
        let host = normalize_name(host);
        self.resolve
            .iter()
            .find(|(k, _)| normalize_name(k) == host)
            .map(|(_, v)| v.as_slice())
    }
}

/// Lower case, no trailing dot: the form names are compared in.
pub(crate) fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}
