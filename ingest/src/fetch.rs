//! The SSRF-safe fetcher. One fetch walks the redirect chain by hand; every hop is checked
//! ([`check_hop`]), resolved once with every answer vetted, connected only to those vetted
//! addresses (a pinned resolver per hop) and verified again on the peer address reqwest reports.
//!
//! Every hop keeps what evidence needs ([`HopRaw`]): the request as sent, the response head as
//! received, a redirect's body, timings, DNS answers and the TLS certificate digest. A fetch
//! that breaks off after the response head (body over the cap, connection reset, deadline,
//! undecodable content) still hands back what was received, marked with a [`Truncation`], in
//! [`Failed::partial`], so the pipeline can preserve it.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use md5::Md5;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::{Host, Url};

use crate::addr::{check_hop, refuse_socket};
use crate::decode::{decode_body, parse_codings, DecodeError};
use crate::error::{FetchError, Target};
use crate::policy::{normalize_name, FetchPolicy};

/// Bytes of a redirect response's body kept as evidence.
const MAX_REDIRECT_BODY: u64 = 64 * 1024;

/// Why a body was not received whole (the values of `WARC-Truncated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Truncation {
    /// Cut at the size cap.
    Length,
    /// Cut by the read timeout or the total deadline.
    Time,
    /// The connection broke or ended before the declared end of the body.
    Disconnect,
}

impl Truncation {
    pub fn as_str(self) -> &'static str {
        match self {
            Truncation::Length => "length",
            Truncation::Time => "time",
            Truncation::Disconnect => "disconnect",
        }
    }
}

/// What evidence keeps of one hop beyond its JSON metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HopRaw {
    /// The request as our client sends it: request line, `host` and our fixed headers.
    pub request_head: Bytes,
    /// Status line and headers as received (header names lower-cased by the HTTP parser,
    /// values byte-exact), ending with the blank line.
    pub response_head: Bytes,
    /// A redirect's body (capped at 64 KiB). Empty for the final hop, whose body is
    /// [`Capture::raw_body`].
    pub body: Bytes,
    pub body_truncated: Option<Truncation>,
}

/// One request of a fetch: the requested URL or a redirect target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    pub url: String,
    pub status: u16,
    /// The `Location` header as sent, for redirects.
    pub location: Option<String>,
    /// The peer the response came from (`ip:port`).
    pub remote_addr: Option<String>,
    /// Every address the host name resolved to (all vetted), or the literal address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved: Vec<String>,
    /// When this request started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// From the start of this request to its response head.
    #[serde(default)]
    pub head_ms: u64,
    /// SHA-256 (hex) of the TLS peer's end-entity certificate, for https.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert_sha256: Option<String>,
    #[serde(skip)]
    pub raw: HopRaw,
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
    /// The body with `Content-Encoding` undone: what extraction and hash lists see. Empty in a
    /// partial capture whose content coding could not be undone.
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
    /// Set when the body was not received whole (only in [`Failed::partial`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<Truncation>,
    /// When the fetch started (RFC 3339, UTC).
    pub fetched_at: DateTime<Utc>,
    pub elapsed_ms: u64,
}

impl Capture {
    /// The final response's header `name` (lower case), all values joined by `, `.
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

/// A fetch that produced no capture, with whatever was received before it broke off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub error: FetchError,
    /// The response received so far, when the failure came after the response head: the body
    /// cut at the cap, by a reset or by the deadline ([`Capture::truncated`]), or complete but
    /// not decodable. Worth preserving as evidence; not to be classified.
    pub partial: Option<Box<Capture>>,
}

impl From<FetchError> for Failed {
    fn from(error: FetchError) -> Self {
        Failed {
            error,
            partial: None,
        }
    }
}

/// Looks up host names. The default asks the system resolver; tests substitute a stub (e.g. one
/// whose answers change between calls, to show that a fetch resolves once and connects only to
/// what it vetted).
pub trait NameResolver: Send + Sync + 'static {
    fn lookup(
        &self,
        name: &str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>;
}

/// The operating system's resolver (`getaddrinfo` on a blocking thread, via tokio).
struct SystemResolver;

impl NameResolver for SystemResolver {
    fn lookup(
        &self,
        name: &str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>> {
        let name = name.to_string();
        Box::pin(async move { Ok(tokio::net::lookup_host((name, port)).await?.collect()) })
    }
}

/// Fetches URLs under a [`FetchPolicy`]. Cheap to clone and share between tasks; clones share
/// the concurrency limit.
#[derive(Clone)]
pub struct Fetcher {
    policy: Arc<FetchPolicy>,
    /// Sent with every request; built once, since the policy never changes.
    headers: Arc<HeaderMap>,
    resolver: Arc<dyn NameResolver>,
    /// At most `policy.max_concurrent_fetches` fetches run at once; the others wait here,
    /// before their clocks start.
    slots: Arc<Semaphore>,
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetcher")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

const REDIRECT_STATUSES: [u16; 5] = [301, 302, 303, 307, 308];

/// The response head of one hop, read before its body.
struct Head {
    resp: reqwest::Response,
    hop: Hop,
}

impl Fetcher {
    /// Validates the policy; fails with `config` if it is unusable.
    pub fn new(policy: FetchPolicy) -> Result<Self, FetchError> {
        policy.validate()?;
        let headers = request_headers(&policy.user_agent)?;
        Ok(Fetcher {
            slots: Arc::new(Semaphore::new(policy.max_concurrent_fetches)),
            policy: Arc::new(policy),
            headers: Arc::new(headers),
            resolver: Arc::new(SystemResolver),
        })
    }

    /// The same fetcher with another name resolver.
    pub fn with_resolver(mut self, resolver: Arc<dyn NameResolver>) -> Self {
        self.resolver = resolver;
        self
    }

    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// The same fetcher, sharing its concurrency limit, with the body cap lowered to
    /// `max_body_bytes` (never raised): a page's images are fetched with
    /// [`FetchPolicy::max_image_bytes`].
    pub fn with_body_cap(&self, max_body_bytes: u64) -> Fetcher {
        let mut policy = (*self.policy).clone();
        policy.max_body_bytes = policy.max_body_bytes.min(max_body_bytes).max(1);
        Fetcher {
            policy: Arc::new(policy),
            ..self.clone()
        }
    }

    /// Fetches `url`, following redirects under the policy, within `total_timeout_ms`.
    pub async fn fetch(&self, url: &Url) -> Result<Capture, FetchError> {
        self.fetch_keeping(url).await.map_err(|f| f.error)
    }

    /// [`Fetcher::fetch`], but a failure after the response head keeps what was received.
    pub async fn fetch_keeping(&self, url: &Url) -> Result<Capture, Failed> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| FetchError::Config("the fetcher is shut down".into()))?;
        let ms = self.policy.total_timeout_ms;
        let deadline = Instant::now() + Duration::from_millis(ms);
        self.fetch_chain(url, deadline).await
    }

    async fn fetch_chain(&self, requested: &Url, deadline: Instant) -> Result<Capture, Failed> {
        let policy = &*self.policy;
        let started = Instant::now();
        let fetched_at = Utc::now();
        let mut url = requested.clone();
        url.set_fragment(None);
        let mut hops: Vec<Hop> = Vec::new();
        loop {
            let n = hops.len();
            check_hop(&url, policy, n)?;
            let addrs = self.resolve_vetted(&url, n, deadline).await?;
            let Head { mut resp, mut hop } = self.send(&url, n, &addrs, deadline).await?;
            let status = hop.status;
            let location = hop.location.clone();
            let Some(location) = location.filter(|_| REDIRECT_STATUSES.contains(&status)) else {
                hops.push(hop);
                return self
                    .capture(requested, hops, resp, fetched_at, started, deadline)
                    .await;
            };
            // A redirect's body is evidence too; its loss is not an error.
            let (body, cut) = read_body(
                &mut resp,
                MAX_REDIRECT_BODY,
                deadline,
                &Target::new(n, &url),
                policy,
            )
            .await;
            hop.raw.body = body.freeze();
            hop.raw.body_truncated = cut.map(|(t, _)| t);
            hops.push(hop);
            let mut next = url
                .join(location.trim())
                .map_err(|e| FetchError::InvalidUrl {
                    what: format!("the redirect from {} to {location:?}", Target::new(n, &url)),
                    reason: e.to_string(),
                })?;
            next.set_fragment(None);
            // The chain is at most a few hops: the recorded ones are the visited set.
            if hops.iter().any(|h| h.url == next.as_str()) {
                return Err(FetchError::RedirectLoop {
                    at: Target::new(n + 1, &next),
                }
                .into());
            }
            if n >= policy.max_redirects {
                return Err(FetchError::RedirectLimit {
                    url: requested.to_string(),
                    limit: policy.max_redirects,
                    next: next.to_string(),
                }
                .into());
            }
            url = next;
        }
    }

    /// Resolves the hop's host once and vets every answer; refuses if any answer is blocked
    /// (strict, so a name cannot mix a public and a private address). IP literals were vetted
    /// by [`check_hop`], since reqwest never asks a resolver about them.
    async fn resolve_vetted(
        &self,
        url: &Url,
        hop: usize,
        deadline: Instant,
    ) -> Result<Vec<SocketAddr>, FetchError> {
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
                let limit = deadline.min(Instant::now() + Duration::from_millis(ms));
                match tokio::time::timeout_at(limit, self.resolver.lookup(name, port)).await {
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
                    Ok(Ok(found)) => found,
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
        // Blocked addresses first: with a mixed answer, "resolves to a private address" is the
        // reason that matters, not the port of a public one.
        let mut order: Vec<&SocketAddr> = addrs.iter().collect();
        order.sort_by_key(|sa| {
            crate::addr::blocked_class(sa.ip()).is_none() || policy.allow_private.contains(sa)
        });
        for sa in order {
            refuse_socket(*sa, policy, at, Some(name))?;
        }
        Ok(addrs)
    }

    /// Sends one GET with a client whose resolver only knows this hop's vetted addresses, and
    /// waits for the response head. A client per hop costs a little setup but makes the pinning
    /// exact; proxies from the environment, redirects and reqwest's decompression are all off.
    async fn send(
        &self,
        url: &Url,
        n: usize,
        addrs: &[SocketAddr],
        deadline: Instant,
    ) -> Result<Head, FetchError> {
        let policy = &*self.policy;
        let at = || Target::new(n, url);
        let host = url.host_str().map(normalize_name).unwrap_or_default();
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_millis(policy.connect_timeout_ms))
            .read_timeout(Duration::from_millis(policy.read_timeout_ms))
            .pool_max_idle_per_host(0)
            .tls_info(true)
            .default_headers((*self.headers).clone())
            .dns_resolver(Arc::new(PinnedResolver {
                host,
                addrs: addrs.to_vec(),
            }))
            .build()
            .map_err(|e| FetchError::Config(format!("the HTTP client cannot be built: {e}")))?;
        let started_at = Utc::now();
        let t = Instant::now();
        let resp = match tokio::time::timeout_at(deadline, client.get(url.clone()).send()).await {
            Err(_) => return Err(self.deadline_error(url, n)),
            Ok(r) => r.map_err(|e| from_reqwest(e, at(), policy))?,
        };
        let head_ms = t.elapsed().as_millis() as u64;
        let remote = verify_peer(resp.remote_addr(), addrs, policy, at)?;
        let tls_cert_sha256 = resp
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|i| i.peer_certificate())
            .map(|der| hex::encode(Sha256::digest(der)));
        let location = resp
            .headers()
            .get(header::LOCATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let raw = HopRaw {
            request_head: self.request_head(url),
            response_head: response_head(&resp),
            body: Bytes::new(),
            body_truncated: None,
        };
        let hop = Hop {
            url: url.to_string(),
            status: resp.status().as_u16(),
            location,
            remote_addr: Some(remote.to_string()),
            resolved: addrs.iter().map(|a| a.ip().to_string()).collect(),
            started_at: Some(started_at),
            head_ms,
            tls_cert_sha256,
            raw,
        };
        Ok(Head { resp, hop })
    }

    fn deadline_error(&self, url: &Url, n: usize) -> FetchError {
        FetchError::Timeout {
            at: Target::new(n, url),
            what: "complete response",
            ms: self.policy.total_timeout_ms,
        }
    }

    /// The request as our client writes it: hyper sends `host` and the client's fixed headers
    /// (the order on the wire may differ).
    fn request_head(&self, url: &Url) -> Bytes {
        let mut target = url.path().to_string();
        if let Some(q) = url.query() {
            target.push('?');
            target.push_str(q);
        }
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => String::new(),
        };
        let mut out = format!("GET {target} HTTP/1.1\r\nhost: {host}\r\n").into_bytes();
        for (k, v) in self.headers.iter() {
            out.extend_from_slice(k.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        Bytes::from(out)
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
        deadline: Instant,
    ) -> Result<Capture, Failed> {
        let policy = &*self.policy;
        let max = policy.max_body_bytes;
        let last = hops
            .last()
            .expect("the final response is recorded as a hop");
        let at = Target {
            hop: hops.len() - 1,
            url: last.url.clone(),
        };
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
        let mut shell = Capture {
            requested_url: requested.to_string(),
            final_url: at.url.clone(),
            remote_addr: last.remote_addr.clone(),
            hops,
            status: resp.status().as_u16(),
            http_version: format!("{:?}", resp.version()),
            content_type,
            content_encoding,
            headers: header_list,
            raw_body: Bytes::new(),
            body: Bytes::new(),
            raw_len: 0,
            body_len: 0,
            sha256: String::new(),
            md5: String::new(),
            raw_sha256: String::new(),
            truncated: None,
            fetched_at,
            elapsed_ms: 0,
        };

        // Content-Length only lets us refuse early; the count below is what holds.
        if resp.content_length().is_some_and(|n| n > max) {
            shell.truncated = Some(Truncation::Length);
            let partial = finish(shell, Bytes::new(), None, started);
            return Err(Failed {
                error: too_large("declared Content-Length"),
                partial: Some(Box::new(partial)),
            });
        }
        let (raw, cut) = read_body(&mut resp, max, deadline, &at, policy).await;
        let raw = raw.freeze();
        if let Some((truncation, error)) = cut {
            shell.truncated = Some(truncation);
            // Without a content coding the received prefix is the content's prefix.
            let body = codings.is_empty().then(|| raw.clone());
            let partial = tokio::task::spawn_blocking(move || finish(shell, raw, body, started))
                .await
                .map_err(|e| FetchError::Decode {
                    url: at.url.clone(),
                    reason: e.to_string(),
                })?;
            return Err(Failed {
                error,
                partial: Some(Box::new(partial)),
            });
        }

        // Inflating and hashing up to 10 MiB is CPU work: keep it off the async workers.
        let ratio = policy.max_decompression_ratio;
        let url = at.url.clone();
        tokio::task::spawn_blocking(move || {
            let decoded = if codings.is_empty() {
                Ok(raw.clone())
            } else {
                decode_body(&raw, &codings, max, ratio).map(Bytes::from)
            };
            match decoded {
                Ok(body) => Ok(finish(shell, raw, Some(body), started)),
                Err(e) => {
                    let error = match e {
                        DecodeError::TooLarge => FetchError::TooLarge {
                            url: url.clone(),
                            what: "decoded body",
                            limit: max,
                        },
                        DecodeError::Invalid(reason) => FetchError::Decode { url, reason },
                    };
                    Err(Failed {
                        error,
                        partial: Some(Box::new(finish(shell, raw, None, started))),
                    })
                }
            }
        })
        .await
        .map_err(|e| FetchError::Decode {
            url: at.url.clone(),
            reason: e.to_string(),
        })?
    }
}

/// Fills in the bodies and their digests. `body` is `None` when the content could not be
/// decoded: it stays empty and its digests are those of nothing.
fn finish(mut c: Capture, raw: Bytes, body: Option<Bytes>, started: Instant) -> Capture {
    c.raw_sha256 = hex::encode(Sha256::digest(&raw));
    let body = body.unwrap_or_default();
    // Without a content coding the body is the raw bytes: hash them once.
    c.sha256 = if body == raw {
        c.raw_sha256.clone()
    } else {
        hex::encode(Sha256::digest(&body))
    };
    c.md5 = hex::encode(Md5::digest(&body));
    c.raw_len = raw.len() as u64;
    c.body_len = body.len() as u64;
    c.raw_body = raw;
    c.body = body;
    c.elapsed_ms = started.elapsed().as_millis() as u64;
    c
}

/// Reads a body up to `max` bytes. Returns what was received and, if it is not the whole body,
/// why: the cap (`too_large`), a broken connection (`http`) or a timeout.
async fn read_body(
    resp: &mut reqwest::Response,
    max: u64,
    deadline: Instant,
    at: &Target,
    policy: &FetchPolicy,
) -> (BytesMut, Option<(Truncation, FetchError)>) {
    let mut raw = BytesMut::new();
    loop {
        let chunk = match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Err(_) => {
                let e = FetchError::Timeout {
                    at: at.clone(),
                    what: "complete response",
                    ms: policy.total_timeout_ms,
                };
                return (raw, Some((Truncation::Time, e)));
            }
            Ok(Err(e)) => {
                let timed_out = e.is_timeout();
                let e = match from_reqwest(e, at.clone(), policy) {
                    FetchError::Http { at, reason } => FetchError::Http {
                        at,
                        reason: format!(
                            "the connection ended after {} bytes of the body ({reason})",
                            raw.len()
                        ),
                    },
                    other => other,
                };
                let why = if timed_out {
                    Truncation::Time
                } else {
                    Truncation::Disconnect
                };
                return (raw, Some((why, e)));
            }
            Ok(Ok(None)) => return (raw, None),
            Ok(Ok(Some(chunk))) => chunk,
        };
        let room = max.saturating_sub(raw.len() as u64) as usize;
        if chunk.len() > room {
            raw.extend_from_slice(&chunk[..room]);
            let e = FetchError::TooLarge {
                url: at.url.clone(),
                what: "body",
                limit: max,
            };
            return (raw, Some((Truncation::Length, e)));
        }
        raw.extend_from_slice(&chunk);
    }
}

/// The status line and headers of a response as received, names lower case.
fn response_head(resp: &reqwest::Response) -> Bytes {
    let status = resp.status();
    let mut out = format!(
        "{:?} {} {}\r\n",
        resp.version(),
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (k, v) in resp.headers() {
        out.extend_from_slice(k.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Bytes::from(out)
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
            class: "unvetted_peer",
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
        if reason.contains("certificate") || reason.contains("Certificate") {
            return FetchError::Tls { at, reason };
        }
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
