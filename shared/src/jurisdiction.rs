//! Jurisdiction codes: ISO 3166-1 alpha-2 in upper case, `EU` for the Union as a whole.
//! `UK` is accepted as an alias and stored as `GB`, the ISO code, so that one state never
//! appears under two keys (topics, metrics, data pack).

/// Upper-cases and validates a jurisdiction code; `UK` becomes `GB`. `None` if it is not two
/// ASCII letters.
pub fn normalize_jurisdiction(code: &str) -> Option<String> {
    let code = code.trim();
    if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let up = code.to_ascii_uppercase();
    Some(if up == "UK" { "GB".to_string() } else { up })
}

/// The country a two-letter country-code TLD belongs to (`uk` → `GB`); `None` for generic TLDs
/// and for the few two-letter TLDs that are not a country (`eu` is the Union, kept as `EU`).
pub fn cctld_country(host: &str) -> Option<String> {
    let tld = host.trim_end_matches('.').rsplit('.').next()?;
    if tld.len() != 2 || !tld.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    // Two-letter TLDs sold as generic names say nothing about where content is hosted.
    const GENERIC_USE: [&str; 8] = ["io", "co", "tv", "me", "ai", "fm", "ly", "ws"];
    let lower = tld.to_ascii_lowercase();
    if GENERIC_USE.contains(&lower.as_str()) {
        return None;
    }
    normalize_jurisdiction(&lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_codes() {
        assert_eq!(normalize_jurisdiction("fr").as_deref(), Some("FR"));
        assert_eq!(normalize_jurisdiction("UK").as_deref(), Some("GB"));
        assert_eq!(normalize_jurisdiction("eu").as_deref(), Some("EU"));
        assert_eq!(normalize_jurisdiction("FRA"), None);
        assert_eq!(normalize_jurisdiction("F1"), None);
    }

    #[test]
    fn cctld() {
        assert_eq!(cctld_country("news.example.ru").as_deref(), Some("RU"));
        assert_eq!(cctld_country("a.b.co.uk.").as_deref(), Some("GB"));
        assert_eq!(cctld_country("example.com"), None);
        assert_eq!(cctld_country("example.io"), None);
        assert_eq!(cctld_country("127.0.0.1"), None);
    }
}
