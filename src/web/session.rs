//! Web sessions: a signed-in browser holds a random session id in the `triage_session` cookie;
//! the store keeps only its SHA-256 (table `web_sessions`, same SQLite file), the public id of
//! the token it was opened with, and the session's CSRF token. Each request looks the session
//! up, drops it after the idle timeout, and the caller re-checks the token itself (a revoked or
//! expired token ends every session opened with it).
//!
//! ```text
//!   POST /ui/login (token) ─ Auth::from_token ─▶ create() ─▶ Set-Cookie triage_session=<id>
//!   request ─ cookie ─▶ lookup() ─▶ (token_id, csrf) ─ Auth::from_token_id ─▶ Principal
//! ```

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

pub const COOKIE: &str = "triage_session";
/// The pre-session cookie of the sign-in form (double-submit CSRF for the login itself).
pub const LOGIN_COOKIE: &str = "triage_login";

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS web_sessions (
    id_sha256    TEXT PRIMARY KEY,
    token_id     TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS web_sessions_token ON web_sessions(token_id);";

/// Creates the table if this database has none yet (cheap when it exists).
pub fn init_table(conn: &Connection) -> Result<()> {
    conn.execute_batch(SCHEMA)?;
    Ok(())
}

/// 32 random bytes from the operating system, hex.
pub fn random_hex() -> Result<String> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(hex::encode(b))
}

/// A live session as found.
#[derive(Debug, Clone)]
pub struct Found {
    pub token_id: String,
    pub csrf: String,
    /// The stored key of the session (hash of the cookie value), to end it.
    pub key: String,
}

/// Opens a session for `token_id`; returns the cookie value and the CSRF token.
pub fn create(conn: &Connection, token_id: &str, now: &str) -> Result<(String, String)> {
    init_table(conn)?;
    let id = random_hex()?;
    let csrf = random_hex()?;
    conn.execute(
        "INSERT INTO web_sessions (id_sha256, token_id, csrf, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![crate::auth::tokens::hash(&id), token_id, csrf, now],
    )?;
    Ok((id, csrf))
}

/// The session behind a cookie value, if it exists and was used after `idle_cutoff` (RFC 3339);
/// an idle one is deleted. Its last use is moved to `now` when it is older than `touch_before`
/// (a write per request would be an fsync per poll of the live queue).
pub fn lookup(
    conn: &Connection,
    cookie: &str,
    now: &str,
    idle_cutoff: &str,
    touch_before: &str,
) -> Result<Option<Found>> {
    init_table(conn)?;
    let key = crate::auth::tokens::hash(cookie);
    let row: Option<(String, String, String)> = conn
        .query_row(
            "SELECT token_id, csrf, last_seen_at FROM web_sessions WHERE id_sha256 = ?1",
            params![key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((token_id, csrf, last_seen)) = row else {
        return Ok(None);
    };
    if last_seen.as_str() < idle_cutoff {
        conn.execute(
            "DELETE FROM web_sessions WHERE id_sha256 = ?1",
            params![key],
        )?;
        return Ok(None);
    }
    if last_seen.as_str() < touch_before {
        conn.execute(
            "UPDATE web_sessions SET last_seen_at = ?2 WHERE id_sha256 = ?1",
            params![key, now],
        )?;
    }
    Ok(Some(Found {
        token_id,
        csrf,
        key,
    }))
}

/// Ends one session (sign out, or its token no longer valid).
pub fn end(conn: &Connection, key: &str) -> Result<()> {
    init_table(conn)?;
    conn.execute(
        "DELETE FROM web_sessions WHERE id_sha256 = ?1",
        params![key],
    )?;
    Ok(())
}

/// Ends every session opened with a token (its token was refused).
pub fn end_for_token(conn: &Connection, token_id: &str) -> Result<usize> {
    init_table(conn)?;
    Ok(conn.execute(
        "DELETE FROM web_sessions WHERE token_id = ?1",
        params![token_id],
    )?)
}

/// Deletes sessions idle since before `idle_cutoff`; returns how many.
pub fn sweep(conn: &Connection, idle_cutoff: &str) -> Result<usize> {
    init_table(conn)?;
    Ok(conn.execute(
        "DELETE FROM web_sessions WHERE last_seen_at < ?1",
        params![idle_cutoff],
    )?)
}

/// Compares two secrets without an early exit on the first difference.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value for this app's cookies (HttpOnly, SameSite=Strict, Path=/ui). Without
/// `max_age` the cookie lasts as long as the browser runs (the server ends idle sessions).
pub fn set_cookie(name: &str, value: &str, max_age_secs: Option<u64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/ui; HttpOnly; SameSite=Strict");
    if let Some(s) = max_age_secs {
        c.push_str(&format!("; Max-Age={s}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_cookie_only_and_stored_hashed() {
        let c = Connection::open_in_memory().unwrap();
        let (id, csrf) = create(&c, "abc123", "2025-01-01T00:00:00.000Z").unwrap();
        assert_eq!(id.len(), 64);
        let stored: String = c
            .query_row("SELECT id_sha256 FROM web_sessions", [], |r| r.get(0))
            .unwrap();
        assert_ne!(stored, id, "the cookie value itself is never stored");
        let f = lookup(
            &c,
            &id,
            "2025-01-01T01:00:00.000Z",
            "2024-12-31T13:00:00.000Z",
            "2025-01-01T00:59:00.000Z",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (f.token_id.as_str(), f.csrf.as_str()),
            ("abc123", csrf.as_str())
        );
        assert!(
            lookup(&c, "nope", "2025-01-01T01:00:00.000Z", "2000-01-01", "2000")
                .unwrap()
                .is_none()
        );
        end(&c, &f.key).unwrap();
        assert!(
            lookup(&c, &id, "2025-01-01T01:00:00.000Z", "2000-01-01", "2000")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn an_idle_session_is_dropped_and_use_is_recorded_sparingly() {
        let c = Connection::open_in_memory().unwrap();
        let (id, _) = create(&c, "t", "2025-01-01T00:00:00.000Z").unwrap();
        let seen = || -> String {
            c.query_row("SELECT last_seen_at FROM web_sessions", [], |r| r.get(0))
                .unwrap()
        };
        // Used 30 s after the last recorded use: not written again (touch only after a minute).
        lookup(
            &c,
            &id,
            "2025-01-01T00:00:30.000Z",
            "2000",
            "2024-12-31T23:59:30.000Z",
        )
        .unwrap()
        .unwrap();
        assert_eq!(seen(), "2025-01-01T00:00:00.000Z");
        lookup(
            &c,
            &id,
            "2025-01-01T01:00:00.000Z",
            "2000",
            "2025-01-01T00:59:00.000Z",
        )
        .unwrap()
        .unwrap();
        assert_eq!(seen(), "2025-01-01T01:00:00.000Z");
        // Idle past the cutoff: gone, and stays gone.
        assert!(lookup(
            &c,
            &id,
            "2025-01-01T14:00:00.000Z",
            "2025-01-01T02:00:00.000Z",
            "2000"
        )
        .unwrap()
        .is_none());
        assert_eq!(
            c.query_row("SELECT COUNT(*) FROM web_sessions", [], |r| r
                .get::<_, i64>(0))
                .unwrap(),
            0
        );
    }

    #[test]
    fn ending_a_token_ends_its_sessions() {
        let c = Connection::open_in_memory().unwrap();
        let (a, _) = create(&c, "t1", "2025-01-01T00:00:00.000Z").unwrap();
        let (b, _) = create(&c, "t2", "2025-01-01T00:00:00.000Z").unwrap();
        assert_eq!(end_for_token(&c, "t1").unwrap(), 1);
        let now = "2025-01-01T00:00:01.000Z";
        assert!(lookup(&c, &a, now, "2000", "2000").unwrap().is_none());
        assert!(lookup(&c, &b, now, "2000", "2000").unwrap().is_some());
    }

    #[test]
    fn cookies_are_parsed_and_set_strictly() {
        assert_eq!(
            cookie_value("a=1; triage_session=xyz; b=2", COOKIE),
            Some("xyz")
        );
        assert_eq!(cookie_value("xtriage_session=1", COOKIE), None);
        let c = set_cookie(COOKIE, "v", Some(60), true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/ui"));
        assert!(c.contains("Max-Age=60") && c.ends_with("; Secure"));
        let c = set_cookie(COOKIE, "v", None, false);
        assert!(!c.contains("Secure") && !c.contains("Max-Age"));
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("a", "ab"));
    }
}
