//! The SSRF-safe fetcher. One fetch walks the redirect chain by hand; every hop is checked
//! ([`check_hop`]), resolved once with every answer vetted, connected only to those vetted
//! addresses (a pinned resolver per hop) and verified again on the peer address reqwest reports.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use md5::Md5;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::{Host, Url};

use crate::addr::{check_hop, refuse_socket};
use crate::decode::{decode_body, parse_codings, DecodeError};
use crate::error::{FetchError, Target};
use crate::policy::{normalize_name, FetchPolicy};

/// One request of a fetch: the requested URL or a redirect target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    pub url: String,
    pub status: u16,
    /// The `Location` header as sent, for redirects.
    pub location: Option<String>,
    /// The peer the response came from (`ip:port`).
    pub remote_addr: Option<String>,
}

/// What one fetch brought back: the redirect chain, the final response's metadata, the bytes as
/// received (evidence) and decoded, and their digests. A non-2xx final status is a capture too;
/// the caller decides what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capture {
    pub requested_url: String,
    pub final_url: String,
    /// Every request made, in order; the last one is the final response.
    pub hops: Vec<Hop>,
    pub status: u16,
    /// `HTTP/1.1` or `HTTP/1.0`: with status and headers, what a WARC record needs to rebuild
    /// the response head.
    pub http_version: String,
    pub remote_addr: Option<String>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    /// The final response's headers in received order (values decoded lossily as UTF-8).
    pub headers: Vec<(String, String)>,
    /// The body exactly as received, still content-encoded: what evidence must keep.
    #[serde(skip)]
    pub raw_body: Bytes,
    /// The body with `Content-Encoding` undone: what extraction and hash lists see.
    #[serde(skip)]
    pub body: Bytes,
    pub raw_len: u64,
    pub body_len: u64,
    /// SHA-256 of `body` (hex): what a hash list of files matches.
    pub sha256: String,
    /// MD5 of `body` (hex), for lists that still use it.
    pub md5: String,
    /// SHA-256 of `raw_body` (hex), for the evidence record.
    pub raw_sha256: String,
    /// When the fetch started (RFC 3339, UTC).
    pub fetched_at: DateTime<Utc>,
    pub elapsed_ms: u64,
}

/// Fetches URLs under a [`FetchPolicy`]. Cheap to clone and share between tasks.
#[derive(Debug, Clone)]
pub struct Fetcher {
    policy: Arc<FetchPolicy>,
    /// Sent with every request; built once, since the policy never changes.
    headers: Arc<HeaderMap>,
}

const REDIRECT_STATUSES: [u16; 5] = [301, 302, 303, 307, 308];

impl Fetcher {
    /// Validates the policy; fails with `config` if it is unusable.
    pub fn new(policy: FetchPolicy) -> Result<Self, FetchError> {
        policy.validate()?;
        let headers = request_headers(&policy.user_agent)?;
        Ok(Fetcher {
            policy: Arc::new(policy),
            headers: Arc::new(headers),
        })
    }

    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// Fetches `url`, following redirects under the policy, within `total_timeout_ms`.
    pub async fn fetch(&self, url: &Url) -> Result<Capture, FetchError> {
        let ms = self.policy.total_timeout_ms;
        match tokio::time::timeout(Duration::from_millis(ms), self.fetch_chain(url)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout {
                at: Target::new(0, url),
                what: "complete response",
                ms,
            }),
        }
    }

    async fn fetch_chain(&self, requested: &Url) -> Result<Capture, FetchError> {
        let policy = &*self.policy;
        let started = Instant::now();
        let fetched_at = Utc::now();
        let mut url = requested.clone();
        url.set_fragment(None);
        let mut hops: Vec<Hop> = Vec::new();
        loop {
            let hop = hops.len();
            check_hop(&url, policy, hop)?;
            let addrs = self.resolve_vetted(&url, hop).await?;
            let resp = self.send(&url, hop, &addrs).await?;
            let remote = verify_peer(resp.remote_addr(), &addrs, policy, || {
                Target::new(hop, &url)
            })?;
            let status = resp.status().as_u16();
            let location = resp
                .headers()
                .get(header::LOCATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            hops.push(Hop {
                url: url.to_string(),
                status,
                location: location.clone(),
                remote_addr: Some(remote.to_string()),
            });
            let Some(location) = location.filter(|_| REDIRECT_STATUSES.contains(&status)) else {
                return self
                    .capture(requested, hops, resp, fetched_at, started)
                    .await;
            };
            let mut next = url
                .join(location.trim())
                .map_err(|e| FetchError::InvalidUrl {
                    what: format!(
                        "the redirect from {} to {location:?}",
                        Target::new(hop, &url)
                    ),
                    reason: e.to_string(),
                })?;
            next.set_fragment(None);
            // The chain is at most a few hops: the recorded ones are the visited set.
            if hops.iter().any(|h| h.url == next.as_str()) {
                return Err(FetchError::RedirectLoop {
                    at: Target::new(hop + 1, &next),
                });
            }
            if hop >= policy.max_redirects {
                return Err(FetchError::RedirectLimit {
                    url: requested.to_string(),
                    limit: policy.max_redirects,
                    next: next.to_string(),
                });
            }
            url = next;
        }
    }

    /// Resolves the hop's host once and vets every answer; refuses if any answer is blocked
    /// (strict, so a name cannot mix a public and a private address). IP literals were vetted
    /// by [`check_hop`], since reqwest never asks a resolver about them.
    async fn resolve_vetted(&self, url: &Url, hop: usize) -> Result<Vec<SocketAddr>, FetchError> {
        let policy = &*self.policy;
        let at = || Target::new(hop, url);
        let port = url.port_or_known_default().unwrap_or(0);
        let name = match url.host() {
            Some(Host::Ipv4(ip)) => return Ok(vec![SocketAddr::new(IpAddr::V4(ip), port)]),
            Some(Host::Ipv6(ip)) => return Ok(vec![SocketAddr::new(IpAddr::V6(ip), port)]),
            Some(Host::Domain(name)) => name,
            None => unreachable!("check_hop refuses URLs without a host"),
        };
        let mut addrs: Vec<SocketAddr> = match policy.resolve_override(name) {
            Some(ips) => ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect(),
            None => {
                let ms = policy.connect_timeout_ms;
                let lookup = tokio::net::lookup_host((name, port));
                match tokio::time::timeout(Duration::from_millis(ms), lookup).await {
                    Err(_) => {
                        return Err(FetchError::Timeout {
                            at: at(),
                            what: "DNS answer",
                            ms,
                        })
                    }
                    Ok(Err(e)) => {
                        return Err(FetchError::Dns {
                            at: at(),
                            reason: e.to_string(),
                        })
                    }
                    Ok(Ok(found)) => found.collect(),
                }
            }
        };
        let mut seen = HashSet::new();
        addrs.retain(|sa| seen.insert(*sa));
        if addrs.is_empty() {
            return Err(FetchError::Dns {
                at: at(),
                reason: format!("{name} has no addresses"),
            });
        }
        for sa in &addrs {
            refuse_socket(*sa, policy, at, Some(name))?;
        }
        Ok(addrs)
    }

    /// Sends one GET with a client whose resolver only knows this hop's vetted addresses. A
    /// client per hop costs a little TLS setup but makes the pinning exact; proxies from the
    /// environment, redirects and reqwest's decompression are all off.
    async fn send(
        &self,
        url: &Url,
        hop: usize,
        addrs: &[SocketAddr],
    ) -> Result<reqwest::Response, FetchError> {
        let policy = &*self.policy;
        let at = || Target::new(hop, url);
        let host = url.host_str().map(normalize_name).unwrap_or_default();
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_millis(policy.connect_timeout_ms))
            .read_timeout(Duration::from_millis(policy.read_timeout_ms))
            .pool_max_idle_per_host(0)
            .default_headers((*self.headers).clone())
            .dns_resolver(Arc::new(PinnedResolver {
                host,
                addrs: addrs.to_vec(),
            }))
            .build()
            .map_err(|e| FetchError::Config(format!("the HTTP client cannot be built: {e}")))?;
        client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| from_reqwest(e, at(), policy))
    }

    /// Reads the final response's body under the cap, decodes it and hashes it. The last of
    /// `hops` is this response (its URL and peer are the capture's).
    async fn capture(
        &self,
        requested: &Url,
        hops: Vec<Hop>,
        mut resp: reqwest::Response,
        fetched_at: DateTime<Utc>,
        started: Instant,
    ) -> Result<Capture, FetchError> {
        let policy = &*self.policy;
        let max = policy.max_body_bytes;
        let last = hops
            .last()
            .expect("the final response is recorded as a hop");
        let at = Target {
            hop: hops.len() - 1,
            url: last.url.clone(),
        };
        let remote_addr = last.remote_addr.clone();
        let too_large = |what| FetchError::TooLarge {
            url: at.url.clone(),
            what,
            limit: max,
        };
        let headers = resp.headers();
        let header_text = |name: header::HeaderName| {
            let values: Vec<_> = headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()))
                .collect();
            (!values.is_empty()).then(|| values.join(", "))
        };
        let content_type = header_text(header::CONTENT_TYPE);
        let content_encoding = header_text(header::CONTENT_ENCODING);
        let codings = parse_codings(content_encoding.iter().map(String::as_str));
        let header_list: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let status = resp.status().as_u16();
        let http_version = format!("{:?}", resp.version());

        // Content-Length only lets us refuse early; the count below is what holds.
        if resp.content_length().is_some_and(|n| n > max) {
            return Err(too_large("declared Content-Length"));
        }
        let mut raw = BytesMut::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| from_reqwest(e, at.clone(), policy))?
        {
            if (raw.len() + chunk.len()) as u64 > max {
                return Err(too_large("body"));
            }
            raw.extend_from_slice(&chunk);
        }
        let raw = raw.freeze();

        // Inflating and hashing up to 10 MiB is CPU work: keep it off the async workers.
        let ratio = policy.max_decompression_ratio;
        let worked = tokio::task::spawn_blocking(move || {
            let decoded = if codings.is_empty() {
                None
            } else {
                Some(Bytes::from(decode_body(&raw, &codings, max, ratio)?))
            };
            let raw_sha256 = hex::encode(Sha256::digest(&raw));
            // Without a content coding the body is the raw bytes: hash them once.
            let (body, sha256) = match decoded {
                None => (raw.clone(), raw_sha256.clone()),
                Some(body) => {
                    let sha256 = hex::encode(Sha256::digest(&body));
                    (body, sha256)
                }
            };
            let md5 = hex::encode(Md5::digest(&body));
            Ok::<_, DecodeError>((raw, body, (sha256, md5, raw_sha256)))
        })
        .await
        .map_err(|e| FetchError::Decode {
            url: at.url.clone(),
            reason: e.to_string(),
        })?;
        let (raw, body, (sha256, md5, raw_sha256)) = worked.map_err(|e| match e {
            DecodeError::TooLarge => too_large("decoded body"),
            DecodeError::Invalid(reason) => FetchError::Decode {
                url: at.url.clone(),
                reason,
            },
        })?;

        Ok(Capture {
            requested_url: requested.to_string(),
            final_url: at.url.clone(),
            hops,
            status,
            http_version,
            remote_addr,
            content_type,
            content_encoding,
            headers: header_list,
            raw_len: raw.len() as u64,
            body_len: body.len() as u64,
            raw_body: raw,
            body,
            sha256,
            md5,
            raw_sha256,
            fetched_at,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }
}

/// The headers of every request. The user agent was checked by [`FetchPolicy::validate`].
fn request_headers(user_agent: &str) -> Result<HeaderMap, FetchError> {
    let user_agent = HeaderValue::from_str(user_agent)
        .map_err(|e| FetchError::Config(format!("fetch policy: user_agent: {e}")))?;
    let mut h = HeaderMap::new();
    h.insert(header::USER_AGENT, user_agent);
    h.insert(
        header::ACCEPT,
        HeaderValue::from_static("text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.8"),
    );
    // Decoded by us (capped); brotli and zstd are not offered, so their bombs never arrive.
    h.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("gzip, deflate"),
    );
    Ok(h)
}

/// Checks, after connecting, that the peer is one of the vetted addresses and still passes the
/// policy (defence in depth against a connector that resolved on its own).
fn verify_peer(
    peer: Option<SocketAddr>,
    vetted: &[SocketAddr],
    policy: &FetchPolicy,
    at: impl Fn() -> Target,
) -> Result<SocketAddr, FetchError> {
    let Some(peer) = peer else {
        return Err(FetchError::Connect {
            at: at(),
            reason: "the peer address of the connection could not be confirmed".into(),
        });
    };
    let canon = |sa: SocketAddr| (sa.ip().to_canonical(), sa.port());
    if !vetted.iter().any(|v| canon(*v) == canon(peer)) {
        return Err(FetchError::BlockedAddress {
            at: at(),
            reason: format!("the connection went to {peer}, which is not a vetted address"),
        });
    }
    refuse_socket(peer, policy, &at, None)?;
    Ok(peer)
}

/// Sorts a reqwest failure into our kinds, keeping the innermost causes as the reason.
fn from_reqwest(e: reqwest::Error, at: Target, policy: &FetchPolicy) -> FetchError {
    if e.is_timeout() {
        return if e.is_connect() {
            FetchError::Timeout {
                at,
                what: "connection",
                ms: policy.connect_timeout_ms,
            }
        } else {
            FetchError::Timeout {
                at,
                what: "response data",
                ms: policy.read_timeout_ms,
            }
        };
    }
    // reqwest's own wording repeats the URL; the innermost cause is the informative part.
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        reason = s.to_string();
        source = s.source();
    }
    if e.is_connect() {
        FetchError::Connect { at, reason }
    } else {
        FetchError::Http { at, reason }
    }
}

/// A resolver that answers only for the one name being fetched, with its vetted addresses:
/// reqwest connects where we checked, and any other lookup fails.
struct PinnedResolver {
    host: String,
    addrs: Vec<SocketAddr>,
}

impl Resolve for PinnedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let known = normalize_name(name.as_str()) == self.host;
        let addrs = self.addrs.clone();
        let name = name.as_str().to_string();
        Box::pin(async move {
            if known {
                Ok(Box::new(addrs.into_iter()) as Addrs)
            } else {
                Err(format!("{name} was not vetted for this request").into())
            }
        })
    }
}
