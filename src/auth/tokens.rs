//! API tokens: `trg_<id>_<secret>`, id = 12 lower-case hex (public: lists, audit entries, web
//! sessions), secret = 32 random bytes in base64url. Only the SHA-256 of the whole token is
//! stored (table `tokens`, in the store's SQLite file), and it is compared in constant time.
//! Every token has an expiry; a revoked token stays in the table (the audit log names it).
//! Rotation makes a new token of the same agency and role and lets the old one expire after a
//! grace period.

use super::Role;
use anyhow::{bail, Context, Result};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS tokens (
    id            TEXT PRIMARY KEY,
    hash          TEXT NOT NULL UNIQUE,
    agency        TEXT NOT NULL,
    role          TEXT NOT NULL,
    label         TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT,
    last_used_at  TEXT,
    rotated_from  TEXT
);
"#;

/// Tokens supplied from outside (`TRIAGE_ADMIN_TOKEN`) must be at least this long.
pub const MIN_TOKEN_LEN: usize = 32;
/// Default lifetime of a new token.
pub const DEFAULT_DAYS: i64 = 90;

pub fn init(conn: &Connection) -> Result<()> {
    conn.execute_batch(SCHEMA)
        .context("cannot create the tokens table")?;
    Ok(())
}

/// One stored token (never its secret).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TokenRow {
    pub id: String,
    pub agency: String,
    pub role: Role,
    pub label: String,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
    pub rotated_from: Option<String>,
}

impl TokenRow {
    pub fn expired_at(&self, now: DateTime<Utc>) -> bool {
        match DateTime::parse_from_rfc3339(&self.expires_at) {
            Ok(t) => t.with_timezone(&Utc) <= now,
            // An unreadable expiry is treated as expired: fail closed.
            Err(_) => true,
        }
    }

    /// `active`, `expired` or `revoked` at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expired_at(now) {
            "expired"
        } else {
            "active"
        }
    }

    pub fn to_json(&self, now: DateTime<Utc>) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("serialisable");
        v["state"] = self.state(now).into();
        v
    }
}

/// SHA-256 of the whole token, lower-case hex.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The public id of a token in the `trg_<id>_<secret>` form.
pub fn parse(token: &str) -> Option<&str> {
    let rest = token.strip_prefix("trg_")?;
    let (id, secret) = rest.split_once('_')?;
    let id_ok = id.len() == 12 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let secret_ok = secret.len() >= 32
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some(id)
}

/// A new random token and its id.
pub fn generate() -> Result<(String, String)> {
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    getrandom::getrandom(&mut id).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    getrandom::getrandom(&mut secret).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    let id = hex::encode(id);
    let token = format!(
        "trg_{id}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    Ok((id, token))
}

/// Compares two equal-length hex digests without an early exit.
pub fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

const COLUMNS: &str = "id, agency, role, label, created_at, created_by, expires_at, revoked_at, last_used_at, rotated_from, hash";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(TokenRow, String)> {
    let role: String = r.get(2)?;
    Ok((
        TokenRow {
            id: r.get(0)?,
            agency: r.get(1)?,
            // An unknown role in the table (hand-edited) fails closed as an operator, who sees
            // no cases and changes nothing.
            role: role.parse().unwrap_or(Role::Operator),
            label: r.get(3)?,
            created_at: r.get(4)?,
            created_by: r.get(5)?,
            expires_at: r.get(6)?,
            revoked_at: r.get(7)?,
            last_used_at: r.get(8)?,
            rotated_from: r.get(9)?,
        },
        r.get(10)?,
    ))
}

/// The row with this id and its stored hash.
fn by_id(conn: &Connection, id: &str) -> Result<Option<(TokenRow, String)>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM tokens WHERE id = ?1"),
            params![id],
            row,
        )
        .optional()?)
}

/// The row of a presented token, if its hash matches.
pub fn find_by_token(conn: &mut Connection, token: &str) -> Result<Option<TokenRow>> {
    let h = hash(token);
    let found = match parse(token) {
        Some(id) => by_id(conn, id)?,
        // A token given from outside (TRIAGE_ADMIN_TOKEN) has no id in it: find it by hash.
        None => conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM tokens WHERE hash = ?1"),
                params![h],
                row,
            )
            .optional()?,
    };
    Ok(found.and_then(|(r, stored)| constant_eq(&stored, &h).then_some(r)))
}

pub fn find_by_id(conn: &mut Connection, id: &str) -> Result<Option<TokenRow>> {
    Ok(by_id(conn, id)?.map(|(r, _)| r))
}

pub fn list(conn: &mut Connection) -> Result<Vec<TokenRow>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM tokens ORDER BY created_at, id"
    ))?;
    let rows = stmt
        .query_map([], row)?
        .map(|r| r.map(|(t, _)| t))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn touch(conn: &mut Connection, id: &str, at: &str) -> Result<()> {
    conn.execute(
        "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1",
        params![id, at],
    )?;
    Ok(())
}

/// What a new token is for.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub agency: String,
    pub role: Role,
    pub label: String,
    pub expires_at: DateTime<Utc>,
    pub created_by: String,
    pub rotated_from: Option<String>,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Stores a new token; returns its row and the token itself (shown once, never stored).
pub fn create(conn: &Connection, n: &NewToken) -> Result<(TokenRow, String)> {
    let (id, token) = generate()?;
    let row = insert(conn, &id, &hash(&token), n)?;
    Ok((row, token))
}

fn insert(conn: &Connection, id: &str, hash: &str, n: &NewToken) -> Result<TokenRow> {
    if n.label.len() > 200 {
        bail!("label: longer than 200 bytes");
    }
    let row = TokenRow {
        id: id.to_string(),
        agency: n.agency.clone(),
        role: n.role,
        label: n.label.clone(),
        created_at: crate::store::now(),
        created_by: n.created_by.clone(),
        expires_at: ts(n.expires_at),
        revoked_at: None,
        last_used_at: None,
        rotated_from: n.rotated_from.clone(),
    };
    conn.execute(
        "INSERT INTO tokens (id, hash, agency, role, label, created_at, created_by, expires_at, rotated_from)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            row.id,
            hash,
            row.agency,
            row.role.as_str(),
            row.label,
            row.created_at,
            row.created_by,
            row.expires_at,
            row.rotated_from
        ],
    )?;
    Ok(row)
}

#[derive(Debug)]
pub enum Revoked {
    NoToken,
    Already(TokenRow),
    Now(TokenRow),
}

pub fn revoke(conn: &Connection, id: &str) -> Result<Revoked> {
    let Some((row, _)) = by_id(conn, id)? else {
        return Ok(Revoked::NoToken);
    };
    if row.revoked_at.is_some() {
        return Ok(Revoked::Already(row));
    }
    let at = crate::store::now();
    conn.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, at],
    )?;
    Ok(Revoked::Now(TokenRow {
        revoked_at: Some(at),
        ..row
    }))
}

/// The outcome of a rotation.
#[derive(Debug)]
pub struct Rotated {
    pub old: TokenRow,
    pub new: TokenRow,
    pub token: String,
}

/// Makes a new token with the old one's agency, role and label; the old one now expires at
/// `now + grace` (or keeps its earlier expiry). The new one lives `lifetime` from now.
/// `Ok(None)` when there is no usable token with that id.
pub fn rotate(
    conn: &Connection,
    id: &str,
    grace: chrono::Duration,
    lifetime: chrono::Duration,
    by: &str,
) -> Result<Option<Rotated>> {
    let now = Utc::now();
    let Some((old, _)) = by_id(conn, id)? else {
        return Ok(None);
    };
    if old.state(now) != "active" {
        bail!(
            "token {id} is {}; only an active token can be rotated (create a new one instead)",
            old.state(now)
        );
    }
    let (new, token) = create(
        conn,
        &NewToken {
            agency: old.agency.clone(),
            role: old.role,
            label: old.label.clone(),
            expires_at: now + lifetime,
            created_by: by.to_string(),
            rotated_from: Some(old.id.clone()),
        },
    )?;
    let old_until = DateTime::parse_from_rfc3339(&old.expires_at)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now)
        .min(now + grace);
    let old_until = ts(old_until);
    conn.execute(
        "UPDATE tokens SET expires_at = ?2 WHERE id = ?1",
        params![old.id, old_until],
    )?;
    Ok(Some(Rotated {
        old: TokenRow {
            expires_at: old_until,
            ..old
        },
        new,
        token,
    }))
}

/// What the first start did about the admin token.
#[derive(Debug, PartialEq)]
pub enum Bootstrap {
    /// A usable admin token exists already.
    Existing,
    /// `TRIAGE_ADMIN_TOKEN` was stored (its hash) under this id.
    FromEnv(String),
    /// A new token was made; print it once.
    Created(Box<TokenRow>, String),
}

/// Makes sure an admin can act: when no unrevoked, unexpired admin token exists, stores
/// `env_token` (when given) or a new random one for `agency`.
pub fn bootstrap(
    conn: &mut Connection,
    agency: &str,
    env_token: Option<&str>,
) -> Result<Bootstrap> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let now = Utc::now();
    let admins: Vec<TokenRow> = {
        let mut stmt = tx.prepare(&format!(
            "SELECT {COLUMNS} FROM tokens WHERE role = 'admin' AND revoked_at IS NULL"
        ))?;
        let rows = stmt
            .query_map([], row)?
            .map(|r| r.map(|(t, _)| t))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows
    };
    if admins.iter().any(|a| !a.expired_at(now)) {
        if let Some(t) = env_token {
            let known: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM tokens WHERE hash = ?1)",
                params![hash(t)],
                |r| r.get(0),
            )?;
            if !known {
                tracing::warn!("TRIAGE_ADMIN_TOKEN is ignored: an admin token exists already (create more with `triage admin token create --role admin`)");
            }
        }
        return Ok(Bootstrap::Existing);
    }
    let n = NewToken {
        agency: agency.to_string(),
        role: Role::Admin,
        label: "bootstrap admin".into(),
        expires_at: now + chrono::Duration::days(DEFAULT_DAYS),
        created_by: "bootstrap".into(),
        rotated_from: None,
    };
    let out = match env_token {
        Some(t) => {
            if t.len() < MIN_TOKEN_LEN {
                bail!("TRIAGE_ADMIN_TOKEN is shorter than {MIN_TOKEN_LEN} characters");
            }
            if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                bail!("TRIAGE_ADMIN_TOKEN contains whitespace or control characters");
            }
            let h = hash(t);
            // The same secret used before (revoked or expired) is not brought back.
            let used: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM tokens WHERE hash = ?1)",
                params![h],
                |r| r.get(0),
            )?;
            if used {
                bail!(
                    "TRIAGE_ADMIN_TOKEN was used before and is revoked or expired; set a new one"
                );
            }
            let id = match parse(t) {
                Some(id) => id.to_string(),
                None => generate()?.0,
            };
            insert(&tx, &id, &h, &n)?;
            Bootstrap::FromEnv(id)
        }
        None => {
            let (row, token) = create(&tx, &n)?;
            Bootstrap::Created(Box::new(row), token)
        }
    };
    // The bootstrap token is audited like any other, in the same transaction.
    let (id, source) = match &out {
        Bootstrap::FromEnv(id) => (id.clone(), "TRIAGE_ADMIN_TOKEN"),
        Bootstrap::Created(row, _) => (row.id.clone(), "generated"),
        Bootstrap::Existing => unreachable!("returned above"),
    };
    crate::auth::audit::append(
        &tx,
        &[crate::auth::audit::Entry {
            at: crate::store::now(),
            token_id: id.clone(),
            agency: n.agency.clone(),
            role: Role::Admin.as_str().to_string(),
            via: "serve".into(),
            action: "token.create".into(),
            case_id: None,
            detail: serde_json::json!({"token_id": id, "role": "admin", "label": n.label, "source": source, "expires_at": n.expires_at.to_rfc3339()}),
        }],
    )?;
    tx.commit()?;
    Ok(out)
}

/// `90d`, `12h`, `30m`, `45s` (or a plain number of days).
pub fn parse_duration(s: &str) -> Result<chrono::Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "d"),
    };
    let n: i64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 90d, 12h, 30m or 45s"))?;
    let d = match unit {
        "d" => chrono::Duration::try_days(n),
        "h" => chrono::Duration::try_hours(n),
        "m" => chrono::Duration::try_minutes(n),
        "s" => chrono::Duration::try_seconds(n),
        _ => None,
    }
    .ok_or_else(|| format!("{s:?} is not a duration like 90d, 12h, 30m or 45s"))?;
    if d > chrono::Duration::days(3650) {
        return Err(format!("{s:?} is longer than ten years"));
    }
    Ok(d)
}
