//! Why a fetch did not produce a capture. Each variant is one sentence naming what and where;
//! [`FetchError::kind`] is the stable `error.kind` of CONTRACTS.md.

use std::fmt;

/// Where in a fetch something happened: the requested URL (hop 0) or a redirect hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// 0 for the requested URL, n for the URL reached by the n-th redirect.
    pub hop: usize,
    pub url: String,
}

impl Target {
    pub(crate) fn new(hop: usize, url: &url::Url) -> Self {
        Target {
            hop,
            url: url.to_string(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.hop == 0 {
            write!(f, "{}", self.url)
        } else {
            write!(f, "redirect hop {} to {}", self.hop, self.url)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("{what} is not a URL that can be fetched: {reason}")]
    InvalidUrl { what: String, reason: String },
    /// Longer than URLs are allowed to be: the API's `too_long`, kept apart from `invalid_url`
    /// so the CLI and the API name it alike.
    #[error("{what} is not a URL that can be fetched: {reason}")]
    TooLong { what: String, reason: String },
    #[error("{at} is refused: the scheme {scheme:?} is not allowed (only http and https)")]
    Scheme { at: Target, scheme: String },
    #[error("{at} is refused: port {port} is not in the allowed ports")]
    Port { at: Target, port: u16 },
    #[error("{at} is refused: it carries a user name or password")]
    Userinfo { at: Target },
    #[error("{at} is refused: {reason}")]
    BlockedAddress {
        at: Target,
        /// The address class ([`crate::blocked_class`]), or `unvetted_peer`.
        class: &'static str,
        reason: String,
    },
    #[error("{url} redirected more than {limit} times (the last hop pointed to {next})")]
    RedirectLimit {
        url: String,
        limit: usize,
        next: String,
    },
    #[error("{at} is refused: it loops back to a URL already visited in this fetch")]
    RedirectLoop { at: Target },
    #[error("{url} is refused: its {what} is larger than the {limit}-byte limit")]
    TooLarge {
        url: String,
        what: &'static str,
        limit: u64,
    },
    #[error("{at} could not be resolved: {reason}")]
    Dns { at: Target, reason: String },
    #[error("{at} could not be reached: {reason}")]
    Connect { at: Target, reason: String },
    #[error("{at} is refused: its TLS certificate is not valid for it ({reason})")]
    Tls { at: Target, reason: String },
    #[error("{at} timed out: no {what} within {ms} ms")]
    Timeout {
        at: Target,
        what: &'static str,
        ms: u64,
    },
    #[error("{at} broke the HTTP protocol: {reason}")]
    Http { at: Target, reason: String },
    #[error("the body of {url} could not be decoded: {reason}")]
    Decode { url: String, reason: String },
    #[error("{0}")]
    Config(String),
}

/// The `error.kind`s of a refusal by the fetch policy (CLI exit 3). Another attempt cannot
/// change them, so a stored refusal is final.
pub const POLICY_REFUSAL_KINDS: [&str; 6] = [
    "scheme",
    "port",
    "userinfo",
    "blocked_address",
    "redirect_limit",
    "too_large",
];

impl FetchError {
    /// The `error.kind` of CONTRACTS.md. `config` is for an invalid [`crate::FetchPolicy`]
    /// (the CLI maps it to exit 2).
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::InvalidUrl { .. } => "invalid_url",
            FetchError::TooLong { .. } => "too_long",
            FetchError::Scheme { .. } => "scheme",
            FetchError::Port { .. } => "port",
            FetchError::Userinfo { .. } => "userinfo",
            FetchError::BlockedAddress { .. } => "blocked_address",
            // A loop never ends by itself, so it is reported as the hop limit it would hit.
            FetchError::RedirectLimit { .. } | FetchError::RedirectLoop { .. } => "redirect_limit",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Dns { .. } => "dns",
            FetchError::Connect { .. } => "connect",
            FetchError::Tls { .. } => "tls",
            FetchError::Timeout { .. } => "timeout",
            FetchError::Http { .. } => "http",
            FetchError::Decode { .. } => "decode",
            FetchError::Config(_) => "config",
        }
    }

    /// A finer, still closed, reason for metrics and logs: the address class of a
    /// `blocked_address` refusal (`loopback`, `private`, `metadata`, …), else the kind.
    pub fn class(&self) -> &'static str {
        match self {
            FetchError::BlockedAddress { class, .. } => class,
            other => other.kind(),
        }
    }

    /// True when the policy refused the fetch (CLI exit 3): retrying will not help. Otherwise
    /// the failure is external (exit 4) and may be retried with backoff — except `invalid_url`
    /// and `config`, which are the caller's to fix.
    pub fn is_policy_refusal(&self) -> bool {
        POLICY_REFUSAL_KINDS.contains(&self.kind())
    }
}
