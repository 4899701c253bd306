//! Canonical URLs. Two referrals of the same content must meet in one case, whatever the
//! spelling of the URL, so the case id is a hash of the canonical form.

use sha2::{Digest, Sha256};
use url::Url;

/// The longest URL accepted from a referral (bytes, before canonicalisation).
pub const MAX_URL_LEN: usize = 2048;

/// Query parameters that only track the click, never select content.
const TRACKING_PARAMS: [&str; 12] = [
    "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_ga", "ref_src",
    "si", "feature",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("url is empty")]
    Empty,
    #[error("url is {0} bytes long; the limit is {MAX_URL_LEN}")]
    TooLong(usize),
    #[error("url does not parse: {0}")]
    Parse(String),
    #[error("url scheme {0:?} is not allowed (only http and https)")]
    Scheme(String),
    #[error("url has no host")]
    NoHost,
    #[error("url carries a user name or password")]
    Userinfo,
}

impl UrlError {
    /// The `error.kind` of CONTRACTS.md for this refusal.
    pub fn kind(&self) -> &'static str {
        match self {
            UrlError::Scheme(_) => "scheme",
            UrlError::Userinfo => "userinfo",
            UrlError::TooLong(_) => "too_long",
            _ => "invalid_url",
        }
    }
}

/// Parses and canonicalises a referred URL: http(s) only, no userinfo, lower-case host without
/// trailing dot or `www.`, default port dropped, fragment and tracking parameters removed.
/// Path and the remaining query are kept as the `url` crate normalises them (percent-encoding
/// of unsafe bytes), because they select content.
pub fn canonical_url(input: &str) -> Result<Url, UrlError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(UrlError::Empty);
    }
    if input.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong(input.len()));
    }
    let mut url = Url::parse(input).map_err(|e| UrlError::Parse(e.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(UrlError::Scheme(url.scheme().to_string()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Userinfo);
    }
    let host = url.host_str().ok_or(UrlError::NoHost)?.to_ascii_lowercase();
    let mut host = host.trim_end_matches('.').to_string();
    if let Some(rest) = host.strip_prefix("www.") {
        if rest.contains('.') {
            host = rest.to_string();
        }
    }
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    url.set_host(Some(&host))
        .map_err(|e| UrlError::Parse(e.to_string()))?;
    url.set_fragment(None);
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| {
                let k = k.to_ascii_lowercase();
                !k.starts_with("utm_") && !TRACKING_PARAMS.contains(&k.as_str())
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Ok(url)
}

/// The key URL-list entries and fetched URLs are compared by: the canonical URL (see
/// [`canonical_url`]) with, further, escapes in the path normalised — `%7E` and other escaped
/// unreserved characters (letters, digits, `-._~`) decoded, every remaining escape in upper
/// case — and the query parameters in name order. Kept apart from [`canonical_url`] so that
/// case ids, which hash the canonical URL, stay what they were.
pub fn match_key(input: &str) -> Result<String, UrlError> {
    canonical_url(input).map(|u| match_key_of(&u))
}

/// [`match_key`] of a URL already canonical.
pub fn match_key_of(url: &Url) -> String {
    let mut key = String::with_capacity(url.as_str().len());
    key.push_str(url.scheme());
    key.push_str("://");
    key.push_str(url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        key.push(':');
        key.push_str(&port.to_string());
    }
    normalise_escapes(url.path(), &mut key);
    if url.query().is_some() {
        let mut pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        if !query.is_empty() {
            key.push('?');
            key.push_str(&query);
        }
    }
    key
}

/// Copies `path`, decoding escapes of unreserved characters and upper-casing the others.
fn normalise_escapes(path: &str, out: &mut String) {
    let b = path.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            let hex = &path[i + 1..i + 3];
            let v = u8::from_str_radix(hex, 16).expect("two hex digits");
            if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                out.push(v as char);
            } else {
                out.push('%');
                out.push_str(&hex.to_ascii_uppercase());
            }
            i += 3;
            continue;
        }
        // Multi-byte characters never occur: the url crate escapes them in paths.
        let ch = path[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
}

/// The case id of a canonical URL: `c-` and the first 16 bytes of its SHA-256, in hex. Stable
/// across processes, versions and workers, so it can key Kafka messages too.
pub fn case_id(canonical: &Url) -> String {
    let digest = Sha256::digest(canonical.as_str().as_bytes());
    format!("c-{}", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_page_meet() {
        let a = canonical_url("HTTPS://WWW.Example.COM.:443/a/b?utm_source=x&id=7#top").unwrap();
        let b = canonical_url("https://example.com/a/b?id=7").unwrap();
        assert_eq!(a, b);
        assert_eq!(case_id(&a), case_id(&b));
        assert_eq!(a.as_str(), "https://example.com/a/b?id=7");
    }

    #[test]
    fn content_selecting_parts_stay() {
        let a = canonical_url("http://example.com/a?id=7").unwrap();
        let b = canonical_url("http://example.com/a?id=8").unwrap();
        assert_ne!(case_id(&a), case_id(&b));
        let c = canonical_url("http://example.com:8080/a").unwrap();
        assert_eq!(c.port(), Some(8080));
    }

    #[test]
    fn match_keys_meet_where_spellings_differ() {
        // (a, b, same key?)
        let cases = [
            ("HTTP://Example.COM/a", "http://example.com/a", true),
            ("https://example.com:443/a", "https://example.com/a", true),
            ("http://example.com:80/a", "http://example.com/a", true),
            ("http://example.com:8080/a", "http://example.com/a", false),
            ("http://example.com./a", "http://example.com/a", true),
            ("http://www.example.com/a", "http://example.com/a", true),
            ("http://www.com/a", "http://com/a", false),
            (
                "http://example.com/%7Euser",
                "http://example.com/~user",
                true,
            ),
            ("http://example.com/%41%62c", "http://example.com/Abc", true),
            ("http://example.com/a%2fb", "http://example.com/a%2Fb", true),
            ("http://example.com/a%2Fb", "http://example.com/a/b", false),
            ("http://example.com/%d0%b8", "http://example.com/и", true),
            ("http://example.com/a b", "http://example.com/a%20b", true),
            (
                "http://example.com/a?utm_source=x&id=1&fbclid=z",
                "http://example.com/a?id=1",
                true,
            ),
            (
                "http://example.com/a?gclid=1&utm_medium=m",
                "http://example.com/a",
                true,
            ),
            (
                "http://example.com/a?b=2&a=1",
                "http://example.com/a?a=1&b=2",
                true,
            ),
            (
                "http://example.com/a?q=x+y",
                "http://example.com/a?q=x%20y",
                true,
            ),
            ("http://example.com/a?", "http://example.com/a", true),
            ("http://example.com/a#frag", "http://example.com/a", true),
            (
                "http://example.com/a?id=1",
                "http://example.com/a?id=2",
                false,
            ),
            ("http://example.com/a/", "http://example.com/a", false),
            ("http://example.com/A", "http://example.com/a", false),
            ("https://example.com/a", "http://example.com/a", false),
        ];
        for (a, b, same) in cases {
            let (ka, kb) = (match_key(a).unwrap(), match_key(b).unwrap());
            assert_eq!(ka == kb, same, "{a} -> {ka}; {b} -> {kb}");
        }
        assert_eq!(
            match_key("HTTPS://WWW.Example.COM.:443/%7e/x%3a?z=1&utm_source=q&a=%41").unwrap(),
            "https://example.com/~/x%3A?a=A&z=1"
        );
    }

    #[test]
    fn match_key_leaves_case_ids_alone() {
        // The canonical form (and so the case id) keeps the path as the url crate leaves it.
        let c = canonical_url("http://example.com/%7Euser").unwrap();
        assert_eq!(c.as_str(), "http://example.com/%7Euser");
        assert_ne!(
            case_id(&c),
            case_id(&canonical_url("http://example.com/~user").unwrap())
        );
    }

    #[test]
    fn refusals_name_the_problem() {
        assert_eq!(canonical_url(""), Err(UrlError::Empty));
        assert_eq!(
            canonical_url("ftp://example.com/").unwrap_err().kind(),
            "scheme"
        );
        assert_eq!(
            canonical_url("http://u:p@example.com/").unwrap_err().kind(),
            "userinfo"
        );
        let long = format!("http://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(canonical_url(&long).unwrap_err().kind(), "too_long");
        assert!(matches!(
            canonical_url("not a url"),
            Err(UrlError::Parse(_))
        ));
    }
}
