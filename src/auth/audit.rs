//! The audit log: who (token id, agency, role) did what (`action`, the case, a JSON detail),
//! when, and through which door (`via`: api, web, cli). One SQLite table in the store's file,
//! written before the response leaves (an entry that cannot be written turns the request into
//! a 500, never an unaudited view).
//!
//! Append-only twice over: triggers refuse UPDATE and DELETE, and every entry carries
//! `hash = SHA-256(prev_hash ‖ "\n" ‖ canonical JSON of the entry, seq included)`, so a changed,
//! removed or re-ordered row breaks the chain from there on ([`verify`], `triage admin audit
//! --verify`). Removing rows only at the end keeps the chain whole; compare the head hash
//! [`verify`] prints against one kept elsewhere to catch that. Writers take SQLite's write lock
//! first (`BEGIN IMMEDIATE`), so the server and `triage admin` never fork the chain.

use super::Principal;
use anyhow::{Context, Result};
use rusqlite::{params, Connection};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS audit (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    token_id   TEXT NOT NULL,
    agency     TEXT NOT NULL,
    role       TEXT NOT NULL,
    via        TEXT NOT NULL,
    action     TEXT NOT NULL,
    case_id    TEXT,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_case ON audit(case_id, seq);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"#;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Actions this build writes; metrics label anything else `other`.
pub const ACTIONS: &[&str] = &[
    "referral.submit",
    "referral.view",
    "case.view",
    "case.list",
    "retention.extend",
    "evidence.download",
    "dashboard.view",
    "token.create",
    "token.revoke",
    "token.rotate",
    "token.list",
    "lists.reload",
    "quarantine.release",
    "audit.view",
    "web.sign_in",
    "web.sign_out",
];

pub fn action_label(a: &str) -> &'static str {
    ACTIONS
        .iter()
        .find(|x| **x == a)
        .copied()
        .unwrap_or("other")
}

pub fn init(conn: &Connection) -> Result<()> {
    conn.execute_batch(SCHEMA)
        .context("cannot create the audit table")?;
    Ok(())
}

/// One entry before it is written.
#[derive(Debug, Clone)]
pub struct Entry {
    pub at: String,
    pub token_id: String,
    pub agency: String,
    pub role: String,
    pub via: String,
    pub action: String,
    pub case_id: Option<String>,
    pub detail: Value,
}

impl Entry {
    pub fn new(
        who: &Principal,
        via: &str,
        action: &str,
        case_id: Option<&str>,
        detail: Value,
    ) -> Entry {
        Entry {
            at: crate::store::now(),
            token_id: who.token_id.clone(),
            agency: who.agency.clone(),
            role: who.role.as_str().to_string(),
            via: via.to_string(),
            action: action.to_string(),
            case_id: case_id.map(str::to_string),
            detail,
        }
    }
}

/// The hashed form of an entry: a JSON array in a fixed order (no key-order questions):
/// seq, then `[at, token_id, agency, role, via, action]`, the case id and the detail as stored.
fn canonical(seq: i64, fields: [&str; 6], case_id: Option<&str>, detail: &str) -> String {
    let [at, token_id, agency, role, via, action] = fields;
    json!([seq, at, token_id, agency, role, via, action, case_id, detail]).to_string()
}

fn link(prev: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

/// Appends `entries` on `conn` — call it inside the caller's write transaction (begun
/// IMMEDIATE) so the entries commit with the change they record. Returns their seqs.
pub fn append(conn: &Connection, entries: &[Entry]) -> Result<Vec<i64>> {
    let (mut seq, mut prev): (i64, String) = conn
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok((0, GENESIS.to_string())),
            e => Err(e),
        })?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO audit (seq, at, token_id, agency, role, via, action, case_id, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        seq += 1;
        let detail = e.detail.to_string();
        let c = canonical(
            seq,
            [&e.at, &e.token_id, &e.agency, &e.role, &e.via, &e.action],
            e.case_id.as_deref(),
            &detail,
        );
        let hash = link(&prev, &c);
        stmt.execute(params![
            seq, e.at, e.token_id, e.agency, e.role, e.via, e.action, e.case_id, detail, prev, hash
        ])?;
        prev = hash;
        out.push(seq);
    }
    Ok(out)
}

/// Runs `change` and appends `entries` in one write transaction (begun IMMEDIATE): the change
/// and the entries that record it commit together, or neither does.
pub fn with_entries<R>(
    conn: &mut Connection,
    entries: &[Entry],
    change: impl FnOnce(&Connection) -> Result<R>,
) -> Result<R> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let out = change(&tx)?;
    append(&tx, entries)?;
    tx.commit()?;
    Ok(out)
}

/// What to read back.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub case_id: Option<String>,
    pub agency: Option<String>,
    pub token_id: Option<String>,
    pub action: Option<String>,
    /// RFC 3339; entries at or after.
    pub since: Option<String>,
    /// Entries with a seq above this (paging forwards).
    pub after: Option<i64>,
    pub limit: usize,
}

/// Entries in order of writing, oldest first.
pub fn query(conn: &Connection, f: &Filter) -> Result<Vec<Value>> {
    let mut sql = String::from(
        "SELECT seq, at, token_id, agency, role, via, action, case_id, detail, hash FROM audit WHERE 1=1",
    );
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let mut add = |sql: &mut String, col: &str, op: &str, v: rusqlite::types::Value| {
        args.push(v);
        sql.push_str(&format!(" AND {col} {op} ?{}", args.len()));
    };
    if let Some(v) = &f.case_id {
        add(&mut sql, "case_id", "=", v.clone().into());
    }
    if let Some(v) = &f.agency {
        add(&mut sql, "agency", "=", v.clone().into());
    }
    if let Some(v) = &f.token_id {
        add(&mut sql, "token_id", "=", v.clone().into());
    }
    if let Some(v) = &f.action {
        add(&mut sql, "action", "=", v.clone().into());
    }
    if let Some(v) = &f.since {
        add(&mut sql, "at", ">=", v.clone().into());
    }
    if let Some(v) = f.after {
        add(&mut sql, "seq", ">", v.into());
    }
    sql.push_str(&format!(" ORDER BY seq LIMIT {}", f.limit));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            let detail: String = r.get(8)?;
            Ok(json!({
                "seq": r.get::<_, i64>(0)?,
                "at": r.get::<_, String>(1)?,
                "who": {
                    "token_id": r.get::<_, String>(2)?,
                    "agency": r.get::<_, String>(3)?,
                    "role": r.get::<_, String>(4)?,
                },
                "via": r.get::<_, String>(5)?,
                "action": r.get::<_, String>(6)?,
                "case_id": r.get::<_, Option<String>>(7)?,
                "detail": serde_json::from_str::<Value>(&detail).unwrap_or(Value::String(detail)),
                "hash": r.get::<_, String>(9)?,
            }))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The result of [`verify`].
#[derive(Debug, PartialEq)]
pub struct Verified {
    pub entries: i64,
    /// Hash of the last entry (GENESIS when empty): keep it elsewhere to detect truncation.
    pub head: String,
    /// The first broken entry and why; `None` when the whole chain holds.
    pub broken: Option<(i64, String)>,
}

/// Re-computes every link from the first entry.
pub fn verify(conn: &Connection) -> Result<Verified> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, token_id, agency, role, via, action, case_id, detail, prev_hash, hash FROM audit ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut prev = GENESIS.to_string();
    let mut expect_seq = 1i64;
    let mut n = 0i64;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let stored_prev: String = r.get(9)?;
        let stored: String = r.get(10)?;
        let broken = |why: String| {
            Ok(Verified {
                entries: n,
                head: prev.clone(),
                broken: Some((seq, why)),
            })
        };
        if seq != expect_seq {
            return broken(format!(
                "entry {seq} follows {}: entries are missing",
                expect_seq - 1
            ));
        }
        if stored_prev != prev {
            return broken(format!("entry {seq} does not link to the entry before it"));
        }
        let case_id: Option<String> = r.get(7)?;
        let f: Vec<String> = (1..=6)
            .map(|i| r.get::<_, String>(i))
            .collect::<rusqlite::Result<_>>()?;
        let c = canonical(
            seq,
            [&f[0], &f[1], &f[2], &f[3], &f[4], &f[5]],
            case_id.as_deref(),
            &r.get::<_, String>(8)?,
        );
        if link(&prev, &c) != stored {
            return broken(format!(
                "entry {seq} was changed after it was written (its hash does not match)"
            ));
        }
        prev = stored;
        expect_seq += 1;
        n += 1;
    }
    Ok(Verified {
        entries: n,
        head: prev,
        broken: None,
    })
}
