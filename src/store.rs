//! The embedded store: one SQLite file holding referrals and cases. The referrals table is
//! also the work queue — a referral is `queued` the moment it is stored (before the 202), a
//! worker claims it (`fetching`), and it ends `routed` or `failed`. A restart puts every claimed
//! but unfinished referral back in the queue, so none is lost; cases are keyed by the hash of
//! the canonical URL, so reprocessing never makes a second case. A fetch that failed for a
//! reason that may pass puts its referral back in the queue with `next_attempt_at`
//! ([`requeue_for_retry`]); it is not claimed before then, and the schedule survives a restart.

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A claimed referral gives up after this many starts that ended in no recorded outcome (a
/// crash loop on one input must not block the queue for ever). Starts that ended in a fetch
/// retry ([`requeue_for_retry`]) do not count: see [`Claimed::crashes`].
pub const MAX_ATTEMPTS: i64 = 3;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS referrals (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    case_id        TEXT NOT NULL,
    url            TEXT NOT NULL,
    canonical_url  TEXT NOT NULL,
    agency         TEXT NOT NULL,
    jurisdiction   TEXT NOT NULL,
    note           TEXT,
    external_ref   TEXT,
    categories_hint TEXT NOT NULL DEFAULT '[]',
    status         TEXT NOT NULL,
    reason_kind    TEXT,
    reason         TEXT,
    decision       TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    received_at    TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    retries        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    retry_kind     TEXT,
    retry_reason   TEXT
);
CREATE INDEX IF NOT EXISTS referrals_status ON referrals(status, seq);
CREATE INDEX IF NOT EXISTS referrals_case ON referrals(case_id);
CREATE TABLE IF NOT EXISTS cases (
    id                TEXT PRIMARY KEY,
    canonical_url     TEXT NOT NULL UNIQUE,
    first_referral_id TEXT NOT NULL,
    first_agency      TEXT NOT NULL,
    first_at          TEXT NOT NULL,
    status            TEXT NOT NULL,
    reason_kind       TEXT,
    reason            TEXT,
    capture           TEXT,
    title             TEXT,
    text              TEXT,
    classification    TEXT,
    language          TEXT,
    decision          TEXT,
    jurisdictions     TEXT NOT NULL DEFAULT ',',
    categories        TEXT NOT NULL DEFAULT ',',
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_created ON cases(created_at);
"#;

#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A referral as accepted from a caller, before it is stored.
#[derive(Debug, Clone)]
pub struct NewReferral {
    pub id: String,
    pub case_id: String,
    pub url: String,
    pub canonical_url: String,
    pub agency: String,
    pub jurisdiction: String,
    pub note: Option<String>,
    pub external_ref: Option<String>,
    pub categories_hint: Vec<shared::Category>,
}

/// Who referred the content first, for the deconfliction note.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Prior {
    pub by: String,
    pub at: String,
    pub referral_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    pub referral_id: String,
    pub case_id: String,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub already_referred: Option<Prior>,
}

/// A referral a worker has claimed.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub case_id: String,
    /// The URL as referred: what is fetched (canonicalisation may drop `www.`, another host).
    pub url: String,
    pub agency: String,
    pub jurisdiction: String,
    pub categories_hint: Vec<shared::Category>,
    /// Times a worker has taken this referral, this time included.
    pub attempts: i64,
    /// Fetch retries scheduled so far (each one ended a start with a recorded outcome).
    pub retries: i64,
}

impl Claimed {
    /// Starts before this one that ended without any recorded outcome: the process died.
    pub fn crashes(&self) -> i64 {
        (self.attempts - 1 - self.retries).max(0)
    }
}

/// What a case already holds from an earlier fetch.
#[derive(Debug, Clone)]
pub struct CaseContent {
    pub status: String,
    pub reason_kind: Option<String>,
    pub reason: Option<String>,
    pub capture: Option<Value>,
    pub classification: Option<Value>,
}

/// What the pipeline stores once a page is fetched and classified.
pub struct Content<'a> {
    pub capture: &'a Value,
    pub title: Option<&'a str>,
    pub text: &'a str,
    pub classification: &'a Value,
    pub language: Option<&'a str>,
    /// The capture's evidence record, indexed in the same transaction.
    pub evidence: Option<EvidenceRow<'a>>,
}

#[derive(Debug, Default, Clone)]
pub struct CaseFilter {
    pub status: Option<String>,
    pub jurisdiction: Option<String>,
    pub language: Option<String>,
    pub category: Option<String>,
    pub since: Option<String>,
    /// Return cases created strictly before this cursor (`created_at|id` of the last page).
    pub before: Option<(String, String)>,
    pub limit: usize,
    /// Which cases the caller may see (the default, `Scope::None`, sees nothing).
    pub scope: crate::auth::Scope,
}

impl Store {
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        let path = dir.join("triage.sqlite");
        let conn =
            Connection::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        // WAL with full sync: a referral acknowledged with 202 survives a crash or power cut.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)
            .with_context(|| format!("cannot create schema in {}", path.display()))?;
        conn.execute_batch(PRESERVATION_SCHEMA)
            .with_context(|| format!("cannot create schema in {}", path.display()))?;
        migrate_retries(&conn)
            .with_context(|| format!("cannot add the retry columns to {}", path.display()))?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the connection off the async runtime.
    pub async fn call<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| anyhow::anyhow!("store lock poisoned"))?;
            f(&mut guard)
        })
        .await
        .context("store task panicked")?
    }

    /// Runs `f` on the connection in the calling thread (CLI and tests).
    pub fn call_sync<R>(&self, f: impl FnOnce(&mut Connection) -> Result<R>) -> Result<R> {
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| anyhow::anyhow!("store lock poisoned"))?;
        f(&mut guard)
    }
}

/// Stores referrals in one transaction (all or none) and opens or attaches their cases.
pub fn insert_referrals(conn: &mut Connection, items: &[NewReferral]) -> Result<Vec<Accepted>> {
    let tx = conn.transaction()?;
    let out = insert_referrals_in(&tx, items)?;
    tx.commit()?;
    Ok(out)
}

/// [`insert_referrals`] inside the caller's transaction (the API writes the audit entries of
/// a submission in the same one).
pub fn insert_referrals_in(tx: &Connection, items: &[NewReferral]) -> Result<Vec<Accepted>> {
    let mut out = Vec::with_capacity(items.len());
    let at = now();
    for r in items {
        let prior: Option<Prior> = tx
            .query_row(
                "SELECT first_agency, first_at, first_referral_id FROM cases WHERE id = ?1",
                params![r.case_id],
                |row| {
                    Ok(Prior {
                        by: row.get(0)?,
                        at: row.get(1)?,
                        referral_id: row.get(2)?,
                    })
                },
            )
            .optional()?;
        if prior.is_none() {
            tx.execute(
                "INSERT INTO cases (id, canonical_url, first_referral_id, first_agency, first_at, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?5, ?5)",
                params![r.case_id, r.canonical_url, r.id, r.agency, at],
            )?;
        }
        tx.execute(
            "INSERT INTO referrals (id, case_id, url, canonical_url, agency, jurisdiction, note, external_ref, categories_hint, status, received_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'queued', ?10, ?10)",
            params![
                r.id,
                r.case_id,
                r.url,
                r.canonical_url,
                r.agency,
                r.jurisdiction,
                r.note,
                r.external_ref,
                serde_json::to_string(&r.categories_hint)?,
                at
            ],
        )?;
        out.push(Accepted {
            referral_id: r.id.clone(),
            case_id: r.case_id.clone(),
            status: "queued",
            already_referred: prior,
        });
    }
    Ok(out)
}

/// Puts referrals a previous run had claimed but not finished back in the queue.
pub fn requeue_unfinished(conn: &mut Connection) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE referrals SET status = 'queued', updated_at = ?1 WHERE status NOT IN ('queued', 'routed', 'failed')",
        params![now()],
    )?)
}

/// The claim. Both lookups are pinned to their partial index, so referrals waiting for a
/// retry are never scanned on the way to a ready one (`INDEXED BY` fails loudly if the index
/// cannot serve the query).
const CLAIM: &str = "UPDATE referrals SET status = 'fetching', attempts = attempts + 1, next_attempt_at = NULL, updated_at = ?1
     WHERE seq = COALESCE(
         (SELECT seq FROM referrals INDEXED BY referrals_waiting
              WHERE status = 'queued' AND next_attempt_at IS NOT NULL AND next_attempt_at <= ?1
              ORDER BY next_attempt_at LIMIT 1),
         (SELECT seq FROM referrals INDEXED BY referrals_ready
              WHERE status = 'queued' AND next_attempt_at IS NULL ORDER BY seq LIMIT 1))
     RETURNING id, case_id, url, agency, jurisdiction, categories_hint, attempts, retries";

/// Claims a referral for a worker: a retry whose time has come first (it has waited already),
/// else the oldest queued referral. A referral waiting for its retry is not claimed.
pub fn claim_next(conn: &mut Connection) -> Result<Option<Claimed>> {
    let row = conn
        .query_row(CLAIM, params![now()], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, i64>(6)?,
                row.get::<_, i64>(7)?,
            ))
        })
        .optional()?;
    Ok(row.map(
        |(id, case_id, url, agency, jurisdiction, hint, attempts, retries)| Claimed {
            id,
            case_id,
            url,
            agency,
            jurisdiction,
            categories_hint: serde_json::from_str(&hint).unwrap_or_default(),
            attempts,
            retries,
        },
    ))
}

/// Adds the retry columns to a database made before they existed, then their indexes: one
/// over referrals ready now (in arrival order), one over those waiting (by due time).
fn migrate_retries(conn: &Connection) -> Result<()> {
    let mut have = std::collections::HashSet::new();
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('referrals')")?;
    for name in stmt.query_map([], |r| r.get::<_, String>(0))? {
        have.insert(name?);
    }
    for (col, def) in [
        ("retries", "INTEGER NOT NULL DEFAULT 0"),
        ("next_attempt_at", "TEXT"),
        ("retry_kind", "TEXT"),
        ("retry_reason", "TEXT"),
    ] {
        if !have.contains(col) {
            conn.execute_batch(&format!("ALTER TABLE referrals ADD COLUMN {col} {def}"))?;
        }
    }
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS referrals_ready ON referrals(seq)
             WHERE status = 'queued' AND next_attempt_at IS NULL;
         CREATE INDEX IF NOT EXISTS referrals_waiting ON referrals(next_attempt_at)
             WHERE status = 'queued' AND next_attempt_at IS NOT NULL;",
    )?;
    Ok(())
}

/// Puts a claimed referral back in the queue after a fetch failure that may pass: it is not
/// claimed again before `next_attempt_at`, and the failure is shown as its last retry reason.
pub fn requeue_for_retry(
    conn: &mut Connection,
    referral_id: &str,
    kind: &str,
    message: &str,
    next_attempt_at: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE referrals SET status = 'queued', retries = retries + 1, next_attempt_at = ?2,
                retry_kind = ?3, retry_reason = ?4, updated_at = ?5
         WHERE id = ?1",
        params![referral_id, next_attempt_at, kind, message, now()],
    )?;
    Ok(())
}

/// When the earliest waiting retry is due, if any referral is waiting for one.
pub fn next_retry_due(conn: &mut Connection) -> Result<Option<String>> {
    Ok(conn.query_row(
        "SELECT MIN(next_attempt_at) FROM referrals WHERE status = 'queued' AND next_attempt_at IS NOT NULL",
        [],
        |r| r.get(0),
    )?)
}

pub fn count_status(conn: &mut Connection, status: &str) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM referrals WHERE status = ?1",
        params![status],
        |r| r.get(0),
    )?)
}

pub fn set_status(
    conn: &mut Connection,
    referral_id: &str,
    case_id: &str,
    status: &str,
) -> Result<()> {
    let at = now();
    conn.execute(
        "UPDATE referrals SET status = ?2, updated_at = ?3 WHERE id = ?1",
        params![referral_id, status, at],
    )?;
    // A case moves forward only; a later referral of a finished case does not reopen it.
    conn.execute(
        "UPDATE cases SET status = ?2, updated_at = ?3 WHERE id = ?1 AND status NOT IN ('routed', 'failed')",
        params![case_id, status, at],
    )?;
    Ok(())
}

pub fn case_content(conn: &mut Connection, case_id: &str) -> Result<Option<CaseContent>> {
    Ok(conn
        .query_row(
            "SELECT status, reason_kind, reason, capture, classification FROM cases WHERE id = ?1",
            params![case_id],
            |row| {
                Ok(CaseContent {
                    status: row.get(0)?,
                    reason_kind: row.get(1)?,
                    reason: row.get(2)?,
                    capture: row
                        .get::<_, Option<String>>(3)?
                        .and_then(|s| serde_json::from_str(&s).ok()),
                    classification: row
                        .get::<_, Option<String>>(4)?
                        .and_then(|s| serde_json::from_str(&s).ok()),
                })
            },
        )
        .optional()?)
}

pub fn save_content(conn: &mut Connection, case_id: &str, c: &Content<'_>) -> Result<()> {
    let tx = conn.transaction()?;
    if let Some(e) = &c.evidence {
        record_evidence(&tx, e)?;
    }
    tx.execute(
        "UPDATE cases SET status = 'classified', reason_kind = NULL, reason = NULL, capture = ?2, title = ?3, text = ?4,
                classification = ?5, language = ?6, categories = ?7, updated_at = ?8 WHERE id = ?1",
        params![
            case_id,
            c.capture.to_string(),
            c.title,
            c.text,
            c.classification.to_string(),
            c.language,
            categories_column(c.classification),
            now()
        ],
    )?;
    tx.commit()?;
    Ok(())
}

fn categories_column(classification: &Value) -> String {
    let mut s = String::from(",");
    for c in classification["categories"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(id) = c["id"].as_str() {
            s.push_str(id);
            s.push(',');
        }
    }
    s
}

/// Marks a referral failed; the case too when the failure concerns the content (fetch).
pub fn fail(
    conn: &mut Connection,
    referral_id: &str,
    case_id: &str,
    kind: &str,
    message: &str,
    capture: Option<&Value>,
    case_too: bool,
) -> Result<()> {
    let tx = conn.transaction()?;
    let at = now();
    tx.execute(
        "UPDATE referrals SET status = 'failed', reason_kind = ?2, reason = ?3, updated_at = ?4 WHERE id = ?1",
        params![referral_id, kind, message, at],
    )?;
    if case_too {
        tx.execute(
            "UPDATE cases SET status = 'failed', reason_kind = ?2, reason = ?3, capture = COALESCE(?4, capture), updated_at = ?5 WHERE id = ?1",
            params![case_id, kind, message, capture.map(|c| c.to_string()), at],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Stores a referral's decision and marks it routed. The case shows the decision of its first
/// referral and is filed under every jurisdiction any of its decisions names.
/// (The pipeline calls [`finish_scheduling`]; this form stays for the store's own tests.)
#[cfg_attr(not(test), allow(dead_code))]
pub fn finish(
    conn: &mut Connection,
    referral_id: &str,
    case_id: &str,
    decision: &Value,
    jurisdictions: &[String],
) -> Result<()> {
    finish_scheduling(conn, referral_id, case_id, decision, jurisdictions, None)
}

/// Where a routed case's liveness schedule starts.
pub struct LivenessStart<'a> {
    pub url: &'a str,
    pub host_kind: &'a str,
    pub next_check_at: &'a str,
}

/// [`finish`], putting the case on the liveness schedule in the same transaction.
pub fn finish_scheduling(
    conn: &mut Connection,
    referral_id: &str,
    case_id: &str,
    decision: &Value,
    jurisdictions: &[String],
    liveness: Option<LivenessStart<'_>>,
) -> Result<()> {
    let tx = conn.transaction()?;
    if let Some(l) = liveness {
        schedule_liveness(&tx, case_id, l.url, l.host_kind, l.next_check_at)?;
    }
    let at = now();
    tx.execute(
        "UPDATE referrals SET status = 'routed', decision = ?2, reason_kind = NULL, reason = NULL, updated_at = ?3 WHERE id = ?1",
        params![referral_id, decision.to_string(), at],
    )?;
    let existing: String = tx.query_row(
        "SELECT jurisdictions FROM cases WHERE id = ?1",
        params![case_id],
        |r| r.get(0),
    )?;
    let mut col = existing;
    for j in jurisdictions {
        if !col.contains(&format!(",{j},")) {
            col.push_str(j);
            col.push(',');
        }
    }
    tx.execute(
        "UPDATE cases SET status = 'routed', jurisdictions = ?2, updated_at = ?3,
                decision = CASE WHEN first_referral_id = ?4 OR decision IS NULL THEN ?5 ELSE decision END
         WHERE id = ?1",
        params![case_id, col, at, referral_id, decision.to_string()],
    )?;
    tx.commit()?;
    Ok(())
}

fn json_col(s: Option<String>) -> Value {
    s.and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

/// One referral as the API shows it.
pub fn referral_view(conn: &mut Connection, id: &str) -> Result<Option<Value>> {
    Ok(conn
        .query_row(
            "SELECT id, case_id, url, canonical_url, agency, jurisdiction, note, external_ref, categories_hint,
                    status, reason_kind, reason, decision, attempts, received_at, updated_at,
                    retries, next_attempt_at, retry_kind, retry_reason
             FROM referrals WHERE id = ?1",
            params![id],
            referral_json,
        )
        .optional()?)
}

fn referral_json(row: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    let status: String = row.get(9)?;
    let reason_kind: Option<String> = row.get(10)?;
    let reason: Option<String> = row.get(11)?;
    let retry_kind: Option<String> = row.get(18)?;
    Ok(json!({
        "referral_id": row.get::<_, String>(0)?,
        "case_id": row.get::<_, String>(1)?,
        "url": row.get::<_, String>(2)?,
        "canonical_url": row.get::<_, String>(3)?,
        "agency": row.get::<_, String>(4)?,
        "jurisdiction": row.get::<_, String>(5)?,
        "note": row.get::<_, Option<String>>(6)?,
        "external_ref": row.get::<_, Option<String>>(7)?,
        "categories_hint": json_col(row.get(8)?),
        "status": status,
        "reason": reason_kind.map(|k| json!({"kind": k, "message": reason})),
        "decision": json_col(row.get(12)?),
        "attempts": row.get::<_, i64>(13)?,
        "retries": row.get::<_, i64>(16)?,
        "next_attempt_at": row.get::<_, Option<String>>(17)?,
        "last_retry_reason": retry_kind.map(|k| json!({"kind": k, "message": row.get::<_, Option<String>>(19).ok().flatten()})),
        "received_at": row.get::<_, String>(14)?,
        "updated_at": row.get::<_, String>(15)?,
    }))
}

/// One case with its referrals, capture, classification, decision and deconfliction notes.
pub fn case_view(conn: &mut Connection, id: &str) -> Result<Option<Value>> {
    let case = conn
        .query_row(
            "SELECT id, canonical_url, first_referral_id, first_agency, first_at, status, reason_kind, reason,
                    capture, title, text, classification, language, decision, jurisdictions, created_at, updated_at
             FROM cases WHERE id = ?1",
            params![id],
            |row| {
                let reason_kind: Option<String> = row.get(6)?;
                Ok(json!({
                    "case_id": row.get::<_, String>(0)?,
                    "canonical_url": row.get::<_, String>(1)?,
                    "first_referral": {"referral_id": row.get::<_, String>(2)?, "agency": row.get::<_, String>(3)?, "at": row.get::<_, String>(4)?},
                    "status": row.get::<_, String>(5)?,
                    "reason": reason_kind.map(|k| json!({"kind": k, "message": row.get::<_, Option<String>>(7).ok().flatten()})),
                    "capture": json_col(row.get(8)?),
                    "title": row.get::<_, Option<String>>(9)?,
                    "text": row.get::<_, Option<String>>(10)?,
                    "classification": json_col(row.get(11)?),
                    "language": row.get::<_, Option<String>>(12)?,
                    "decision": json_col(row.get(13)?),
                    "jurisdictions": split_col(&row.get::<_, String>(14)?),
                    "created_at": row.get::<_, String>(15)?,
                    "updated_at": row.get::<_, String>(16)?,
                }))
            },
        )
        .optional()?;
    let Some(mut case) = case else {
        return Ok(None);
    };
    let mut stmt = conn.prepare(
        "SELECT id, case_id, url, canonical_url, agency, jurisdiction, note, external_ref, categories_hint,
                status, reason_kind, reason, decision, attempts, received_at, updated_at,
                retries, next_attempt_at, retry_kind, retry_reason
         FROM referrals WHERE case_id = ?1 ORDER BY seq",
    )?;
    let referrals: Vec<Value> = stmt
        .query_map(params![id], referral_json)?
        .collect::<rusqlite::Result<_>>()?;
    let first = &case["first_referral"];
    let notes: Vec<Value> = referrals
        .iter()
        .filter(|r| r["referral_id"] != first["referral_id"])
        .map(|r| {
            json!({
                "referral_id": r["referral_id"],
                "agency": r["agency"],
                "at": r["received_at"],
                "note": format!(
                    "already referred by {} at {} (referral {}); this referral was attached to the existing case",
                    first["agency"].as_str().unwrap_or_default(),
                    first["at"].as_str().unwrap_or_default(),
                    first["referral_id"].as_str().unwrap_or_default()
                ),
            })
        })
        .collect();
    case["referrals"] = Value::Array(referrals);
    case["deconfliction"] = Value::Array(notes);
    drop(stmt);
    case["preservation"] = preservation_view(conn, id)?;
    Ok(Some(case))
}

/// [`case_view`] for a caller with `scope`: `None` when the case is not in the scope (the
/// same answer as a missing case, so existence does not leak). Other agencies' referrals are
/// cut down to agency and time for anyone but an admin: deconfliction stays visible, their
/// notes, references and ids do not.
pub fn case_view_scoped(
    conn: &mut Connection,
    id: &str,
    scope: &crate::auth::Scope,
) -> Result<Option<Value>> {
    if !case_in_scope(conn, id, scope)? {
        return Ok(None);
    }
    let Some(mut case) = case_view(conn, id)? else {
        return Ok(None);
    };
    if *scope != crate::auth::Scope::All {
        redact_case(&mut case, scope.own_agency());
    }
    Ok(Some(case))
}

/// Whether case `id` exists and is in `scope`.
pub fn case_in_scope(conn: &Connection, id: &str, scope: &crate::auth::Scope) -> Result<bool> {
    let mut args = vec![id.to_string()];
    let cond = scope.sql("cases.id", "cases.jurisdictions", &mut args);
    Ok(conn.query_row(
        &format!("SELECT EXISTS(SELECT 1 FROM cases WHERE cases.id = ?1 AND {cond})"),
        rusqlite::params_from_iter(args.iter()),
        |r| r.get(0),
    )?)
}

/// Cuts other agencies' referrals out of a case view (see [`case_view_scoped`]).
fn redact_case(case: &mut Value, own: Option<&str>) {
    let mine = |v: &Value| own.is_some_and(|a| v["agency"] == a);
    if let Some(refs) = case["referrals"].as_array_mut() {
        for r in refs.iter_mut() {
            if !mine(r) {
                *r = json!({"agency": r["agency"], "received_at": r["received_at"], "redacted": true});
            }
        }
    }
    let first_mine = mine(&case["first_referral"]);
    if !first_mine {
        if let Some(f) = case["first_referral"].as_object_mut() {
            f.remove("referral_id");
        }
    }
    let (first_agency, first_at) = (
        case["first_referral"]["agency"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        case["first_referral"]["at"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    );
    if let Some(notes) = case["deconfliction"].as_array_mut() {
        for n in notes.iter_mut() {
            if !mine(n) {
                if let Some(o) = n.as_object_mut() {
                    o.remove("referral_id");
                }
            }
            if !first_mine {
                n["note"] = Value::String(format!(
                    "already referred by {first_agency} at {first_at}; this referral was attached to the existing case"
                ));
            }
        }
    }
}

fn split_col(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// A page of case summaries, newest first.
pub fn list_cases(conn: &mut Connection, f: &CaseFilter) -> Result<Vec<Value>> {
    let mut sql = String::from(
        "SELECT id, canonical_url, status, language, jurisdictions, categories, title, first_agency, created_at, updated_at,
                (SELECT COUNT(*) FROM referrals r WHERE r.case_id = cases.id)
         FROM cases WHERE 1=1",
    );
    let mut args: Vec<String> = Vec::new();
    let cond = f.scope.sql("cases.id", "cases.jurisdictions", &mut args);
    sql.push_str(&format!(" AND {cond}"));
    let mut push = |sql: &mut String, clause: &str, v: String| {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(s) = &f.status {
        push(&mut sql, " AND status = ?", s.clone());
    }
    if let Some(j) = &f.jurisdiction {
        push(
            &mut sql,
            " AND instr(jurisdictions, ?) > 0",
            format!(",{j},"),
        );
    }
    if let Some(l) = &f.language {
        push(&mut sql, " AND language = ?", l.clone());
    }
    if let Some(c) = &f.category {
        push(&mut sql, " AND instr(categories, ?) > 0", format!(",{c},"));
    }
    if let Some(s) = &f.since {
        push(&mut sql, " AND created_at >= ?", s.clone());
    }
    if let Some((at, id)) = &f.before {
        args.push(at.clone());
        let a = args.len();
        args.push(id.clone());
        let b = args.len();
        sql.push_str(&format!(
            " AND (created_at < ?{a} OR (created_at = ?{a} AND id < ?{b}))"
        ));
    }
    sql.push_str(&format!(
        " ORDER BY created_at DESC, id DESC LIMIT {}",
        f.limit
    ));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |row| {
        Ok(json!({
            "case_id": row.get::<_, String>(0)?,
            "canonical_url": row.get::<_, String>(1)?,
            "status": row.get::<_, String>(2)?,
            "language": row.get::<_, Option<String>>(3)?,
            "jurisdictions": split_col(&row.get::<_, String>(4)?),
            "categories": split_col(&row.get::<_, String>(5)?),
            "title": row.get::<_, Option<String>>(6)?,
            "first_agency": row.get::<_, String>(7)?,
            "created_at": row.get::<_, String>(8)?,
            "updated_at": row.get::<_, String>(9)?,
            "referrals": row.get::<_, i64>(10)?,
        }))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Legal clocks of routed referrals' decisions (removal deadline, copy scrutiny, retention),
/// counted per clock as (still running, expired) at `now` (RFC 3339). Read at scrape time, so
/// a clock moves from running to expired without anyone touching the store.
pub fn legal_clocks(conn: &mut Connection, now: &str) -> Result<Vec<(String, i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT json_extract(c.value, '$.clock') AS clock,
                SUM(julianday(json_extract(c.value, '$.due_at')) > julianday(?1)),
                SUM(julianday(json_extract(c.value, '$.due_at')) <= julianday(?1))
         FROM referrals r, json_each(r.decision, '$.clocks') c
         WHERE r.status = 'routed' AND r.decision IS NOT NULL
           AND json_extract(c.value, '$.due_at') IS NOT NULL
         GROUP BY clock ORDER BY clock",
    )?;
    let rows = stmt
        .query_map(params![now], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                r.get::<_, Option<i64>>(2)?.unwrap_or(0),
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------
// Preservation: the evidence index (one row per WARC capture, pointing into the custody log)
// and one row per case for retention and the liveness re-check schedule. The custody log in
// the evidence folder is the record; these tables only index it.

const PRESERVATION_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS evidence (
    capture_id    TEXT PRIMARY KEY,
    case_id       TEXT NOT NULL,
    referral_id   TEXT,
    purpose       TEXT NOT NULL,
    file          TEXT NOT NULL,
    file_sha256   TEXT NOT NULL,
    file_bytes    INTEGER NOT NULL,
    custody_seq   INTEGER NOT NULL,
    status        INTEGER,
    truncated     TEXT,
    captured_at   TEXT NOT NULL,
    retain_until  TEXT NOT NULL,
    purged_at     TEXT,
    purge_seq     INTEGER,
    purge_error   TEXT
);
CREATE INDEX IF NOT EXISTS evidence_case ON evidence(case_id);
CREATE INDEX IF NOT EXISTS evidence_expiry ON evidence(retain_until) WHERE purged_at IS NULL;
CREATE TABLE IF NOT EXISTS preservation (
    case_id         TEXT PRIMARY KEY,
    url             TEXT,
    host_kind       TEXT NOT NULL DEFAULT 'unknown',
    state           TEXT NOT NULL,
    routed_at       TEXT,
    checks          INTEGER NOT NULL DEFAULT 0,
    gone_streak     INTEGER NOT NULL DEFAULT 0,
    first_gone_at   TEXT,
    last_live_at    TEXT,
    last_check_at   TEXT,
    last_outcome    TEXT,
    next_check_at   TEXT,
    offline_at      TEXT,
    offline_reason  TEXT,
    retain_until    TEXT,
    extended_reason TEXT
);
CREATE INDEX IF NOT EXISTS preservation_due ON preservation(next_check_at) WHERE state = 'live';
"#;

/// A preserved capture, as indexed.
pub struct EvidenceRow<'a> {
    pub capture_id: &'a str,
    pub case_id: &'a str,
    pub referral_id: Option<&'a str>,
    pub purpose: &'a str,
    pub file: &'a str,
    pub file_sha256: &'a str,
    pub file_bytes: u64,
    pub custody_seq: u64,
    pub status: Option<u16>,
    pub truncated: Option<&'a str>,
    pub captured_at: &'a str,
    pub retain_until: &'a str,
}

pub fn record_evidence(conn: &Connection, e: &EvidenceRow<'_>) -> Result<()> {
    conn.execute(
        "INSERT INTO evidence (capture_id, case_id, referral_id, purpose, file, file_sha256, file_bytes, custody_seq,
                               status, truncated, captured_at, retain_until)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            e.capture_id,
            e.case_id,
            e.referral_id,
            e.purpose,
            e.file,
            e.file_sha256,
            e.file_bytes as i64,
            e.custody_seq as i64,
            e.status,
            e.truncated,
            e.captured_at,
            e.retain_until
        ],
    )?;
    Ok(())
}

/// Starts the liveness schedule of a routed case (once; a case routed again keeps its
/// schedule). A row made earlier by a retention extension is put on the schedule.
pub fn schedule_liveness(
    conn: &Connection,
    case_id: &str,
    url: &str,
    host_kind: &str,
    next_check_at: &str,
) -> Result<()> {
    let at = now();
    conn.execute(
        "INSERT INTO preservation (case_id, url, host_kind, state, routed_at, next_check_at, last_live_at)
         VALUES (?1, ?2, ?3, 'live', ?4, ?5, ?4)
         ON CONFLICT(case_id) DO UPDATE SET url = ?2, host_kind = ?3, state = 'live', routed_at = ?4,
                next_check_at = ?5, last_live_at = ?4
         WHERE preservation.state = 'unscheduled'",
        params![case_id, url, host_kind, at, next_check_at],
    )?;
    Ok(())
}

/// A case whose liveness re-check is due.
#[derive(Debug, Clone)]
pub struct LivenessDue {
    pub case_id: String,
    pub url: String,
    pub host_kind: String,
    pub first_at: String,
    pub routed_at: String,
    pub checks: i64,
    pub gone_streak: i64,
    pub first_gone_at: Option<String>,
}

pub fn due_liveness(conn: &mut Connection, now: &str, limit: usize) -> Result<Vec<LivenessDue>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.case_id, p.url, p.host_kind, c.first_at, p.routed_at, p.checks, p.gone_streak, p.first_gone_at
         FROM preservation p JOIN cases c ON c.id = p.case_id
         WHERE p.state = 'live' AND p.next_check_at <= ?1
         ORDER BY p.next_check_at LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![now, limit as i64], |r| {
            Ok(LivenessDue {
                case_id: r.get(0)?,
                url: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                host_kind: r.get(2)?,
                first_at: r.get(3)?,
                routed_at: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                checks: r.get(5)?,
                gone_streak: r.get(6)?,
                first_gone_at: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// The outcome of one liveness re-check, as the schedule records it.
pub struct LivenessUpdate<'a> {
    pub at: &'a str,
    /// `live`, `gone` (not yet confirmed), `offline` (confirmed), `unknown` or `stopped`.
    pub outcome: &'a str,
    pub detail: &'a str,
    pub gone_streak: i64,
    pub first_gone_at: Option<&'a str>,
    /// `live`, `gone` (confirmed offline: no more checks) or `stopped` (gave up).
    pub state: &'a str,
    pub next_check_at: Option<&'a str>,
    /// Set when the case is confirmed offline: the first observation of the gone streak.
    pub offline_at: Option<&'a str>,
    /// Retention is extended to at least this (offline time plus the retention period).
    pub retain_at_least: Option<&'a str>,
}

pub fn record_liveness(conn: &mut Connection, case_id: &str, u: &LivenessUpdate<'_>) -> Result<()> {
    conn.execute(
        "UPDATE preservation SET checks = checks + 1, last_check_at = ?2, last_outcome = ?3 || ': ' || ?4,
                gone_streak = ?5, first_gone_at = ?6, state = ?7, next_check_at = ?8,
                last_live_at = CASE WHEN ?3 = 'live' THEN ?2 ELSE last_live_at END,
                offline_at = COALESCE(offline_at, ?9), offline_reason = CASE WHEN ?9 IS NOT NULL THEN ?4 ELSE offline_reason END,
                retain_until = CASE WHEN ?10 IS NOT NULL AND (retain_until IS NULL OR retain_until < ?10) THEN ?10 ELSE retain_until END
         WHERE case_id = ?1",
        params![
            case_id,
            u.at,
            u.outcome,
            u.detail,
            u.gone_streak,
            u.first_gone_at,
            u.state,
            u.next_check_at,
            u.offline_at,
            u.retain_at_least
        ],
    )?;
    Ok(())
}

/// A capture whose retention has ended.
#[derive(Debug, Clone)]
pub struct Expired {
    pub capture_id: String,
    pub case_id: String,
    pub file: String,
    pub file_sha256: String,
    pub retain_until: String,
}

/// Captures past their own retention and past their case's (extension or offline time), not
/// yet purged and not held back by a purge error.
pub fn expired_evidence(conn: &mut Connection, now: &str, limit: usize) -> Result<Vec<Expired>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.capture_id, e.case_id, e.file, e.file_sha256, MAX(e.retain_until, COALESCE(p.retain_until, ''))
         FROM evidence e LEFT JOIN preservation p ON p.case_id = e.case_id
         WHERE e.purged_at IS NULL AND e.purge_error IS NULL AND e.retain_until <= ?1
           AND (p.retain_until IS NULL OR p.retain_until <= ?1)
         ORDER BY e.retain_until LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![now, limit as i64], |r| {
            Ok(Expired {
                capture_id: r.get(0)?,
                case_id: r.get(1)?,
                file: r.get(2)?,
                file_sha256: r.get(3)?,
                retain_until: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn mark_purged(conn: &mut Connection, capture_id: &str, seq: u64) -> Result<()> {
    conn.execute(
        "UPDATE evidence SET purged_at = ?2, purge_seq = ?3 WHERE capture_id = ?1",
        params![capture_id, now(), seq as i64],
    )?;
    Ok(())
}

/// Holds a capture back from purging (its file failed its digest: it is evidence of tampering).
pub fn mark_purge_failed(conn: &mut Connection, capture_id: &str, why: &str) -> Result<()> {
    conn.execute(
        "UPDATE evidence SET purge_error = ?2 WHERE capture_id = ?1",
        params![capture_id, why],
    )?;
    Ok(())
}

/// Extends a case's retention to at least `until` (never shortens it). Returns the retention
/// now in force, or `None` if there is no such case.
#[cfg_attr(not(test), allow(dead_code))]
pub fn extend_retention(
    conn: &mut Connection,
    case_id: &str,
    until: &str,
    reason: &str,
) -> Result<Option<String>> {
    Ok(match retention_change(conn, case_id, until, reason)? {
        RetentionChange::NoCase => None,
        RetentionChange::Shorter { in_force }
        | RetentionChange::Unchanged { in_force }
        | RetentionChange::Extended { in_force, .. } => Some(in_force),
    })
}

/// What an extension request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetentionChange {
    NoCase,
    /// The retention in force already ends later: nothing changed (retention never shortens).
    Shorter {
        in_force: String,
    },
    /// It already ends exactly then.
    Unchanged {
        in_force: String,
    },
    Extended {
        previous: Option<String>,
        in_force: String,
    },
}

/// The retention in force for a case: the longest of the case's own (extension or offline
/// time) and its unpurged captures'. Outer `None`: no such case; inner: nothing kept yet.
pub fn retention_in_force(conn: &Connection, case_id: &str) -> Result<Option<Option<String>>> {
    let exists = conn
        .query_row(
            "SELECT 1 FROM cases WHERE id = ?1",
            params![case_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if !exists {
        return Ok(None);
    }
    let t: String = conn.query_row(
        "SELECT MAX(COALESCE((SELECT retain_until FROM preservation WHERE case_id = ?1), ''),
                    COALESCE((SELECT MAX(retain_until) FROM evidence WHERE case_id = ?1 AND purged_at IS NULL), ''))",
        params![case_id],
        |r| r.get(0),
    )?;
    Ok(Some(Some(t).filter(|t| !t.is_empty())))
}

/// Extends a case's retention to `until` (RFC 3339, as [`now`] formats it) with `reason`, in
/// one transaction; a date not later than the retention in force changes nothing and says so.
/// The one code path of `triage evidence extend` and `POST /v1/cases/{id}/retention`.
pub fn retention_change(
    conn: &mut Connection,
    case_id: &str,
    until: &str,
    reason: &str,
) -> Result<RetentionChange> {
    let tx = conn.transaction()?;
    let Some(previous) = retention_in_force(&tx, case_id)? else {
        return Ok(RetentionChange::NoCase);
    };
    match previous.as_deref() {
        Some(p) if p > until => {
            return Ok(RetentionChange::Shorter {
                in_force: p.to_string(),
            })
        }
        Some(p) if p == until => {
            return Ok(RetentionChange::Unchanged {
                in_force: p.to_string(),
            })
        }
        _ => {}
    }
    tx.execute(
        "INSERT INTO preservation (case_id, state, retain_until, extended_reason) VALUES (?1, 'unscheduled', ?2, ?3)
         ON CONFLICT(case_id) DO UPDATE SET
             retain_until = CASE WHEN preservation.retain_until IS NULL OR preservation.retain_until < ?2 THEN ?2 ELSE preservation.retain_until END,
             extended_reason = CASE WHEN preservation.retain_until IS NULL OR preservation.retain_until < ?2 THEN ?3 ELSE preservation.extended_reason END",
        params![case_id, until, reason],
    )?;
    let in_force = retention_in_force(&tx, case_id)?
        .flatten()
        .unwrap_or_else(|| until.to_string());
    tx.commit()?;
    Ok(RetentionChange::Extended { previous, in_force })
}

/// What the case view shows of preservation: the liveness schedule and the captures.
pub fn preservation_view(conn: &mut Connection, case_id: &str) -> Result<Value> {
    let p = conn
        .query_row(
            "SELECT state, host_kind, routed_at, checks, last_check_at, last_outcome, next_check_at, last_live_at,
                    offline_at, offline_reason, retain_until, extended_reason
             FROM preservation WHERE case_id = ?1",
            params![case_id],
            |r| {
                Ok(json!({
                    "liveness": {
                        "state": r.get::<_, String>(0)?,
                        "host_kind": r.get::<_, String>(1)?,
                        "routed_at": r.get::<_, Option<String>>(2)?,
                        "checks": r.get::<_, i64>(3)?,
                        "last_check_at": r.get::<_, Option<String>>(4)?,
                        "last_outcome": r.get::<_, Option<String>>(5)?,
                        "next_check_at": r.get::<_, Option<String>>(6)?,
                        "last_live_at": r.get::<_, Option<String>>(7)?,
                    },
                    "offline_at": r.get::<_, Option<String>>(8)?,
                    "offline_reason": r.get::<_, Option<String>>(9)?,
                    "retain_until": r.get::<_, Option<String>>(10)?,
                    "extended_reason": r.get::<_, Option<String>>(11)?,
                }))
            },
        )
        .optional()?
        .unwrap_or_else(|| json!({"liveness": null, "offline_at": null, "retain_until": null}));
    let mut view = p;
    let mut stmt = conn.prepare_cached(
        "SELECT capture_id, purpose, file, file_sha256, file_bytes, custody_seq, status, truncated, captured_at,
                retain_until, purged_at
         FROM evidence WHERE case_id = ?1 ORDER BY captured_at, capture_id",
    )?;
    let captures: Vec<Value> = stmt
        .query_map(params![case_id], |r| {
            Ok(json!({
                "capture_id": r.get::<_, String>(0)?,
                "purpose": r.get::<_, String>(1)?,
                "file": r.get::<_, String>(2)?,
                "file_sha256": r.get::<_, String>(3)?,
                "file_bytes": r.get::<_, i64>(4)?,
                "custody_seq": r.get::<_, i64>(5)?,
                "status": r.get::<_, Option<i64>>(6)?,
                "truncated": r.get::<_, Option<String>>(7)?,
                "captured_at": r.get::<_, String>(8)?,
                "retain_until": r.get::<_, String>(9)?,
                "purged_at": r.get::<_, Option<String>>(10)?,
            }))
        })?
        .collect::<rusqlite::Result<_>>()?;
    // The retention in force: the longest of the case's and its live captures'.
    let latest_capture = captures
        .iter()
        .filter(|c| c["purged_at"].is_null())
        .filter_map(|c| c["retain_until"].as_str())
        .max()
        .map(str::to_string);
    let in_force = [
        view["retain_until"].as_str().map(str::to_string),
        latest_capture,
    ]
    .into_iter()
    .flatten()
    .max();
    view["retain_until"] = json!(in_force);
    view["captures"] = Value::Array(captures);
    Ok(view)
}

/// Which of `ids` are routed or failed (read-only): what a caller awaiting results looks up.
pub fn final_among(c: &mut Connection, ids: &[String]) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let mut stmt = c.prepare(&format!(
            "SELECT id FROM referrals WHERE status IN ('routed', 'failed') AND id IN ({marks})"
        ))?;
        let rows = stmt.query_map(rusqlite::params_from_iter(chunk.iter()), |r| r.get(0))?;
        for r in rows {
            out.push(r?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod legal_clock_tests {
    use super::*;

    #[test]
    fn clocks_are_counted_running_or_expired() {
        let dir = std::env::temp_dir().join(format!("triage-clocks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Store::open(&dir).unwrap();
        let r = NewReferral {
            id: "r1".into(),
            case_id: "c1".into(),
            url: "http://a.example/".into(),
            canonical_url: "http://a.example/".into(),
            agency: "fr-pharos".into(),
            jurisdiction: "FR".into(),
            note: None,
            external_ref: None,
            categories_hint: vec![],
        };
        let decision = json!({"clocks": [
            {"clock": "removal_deadline", "jurisdiction": "FR", "duration": "PT1H", "basis": "b",
             "due_at": "2025-01-01T11:00:00.5Z"},
            {"clock": "copy_scrutiny", "jurisdiction": "IE", "duration": "PT72H", "basis": "b",
             "due_at": "2025-01-04T10:00:00Z"},
            {"clock": "retention", "jurisdiction": "FR", "duration": "P6M", "basis": "b"}
        ]});
        s.call_sync(|c| {
            insert_referrals(c, &[r])?;
            finish(c, "r1", "c1", &decision, &["FR".to_string()])?;
            // Half a second before the deadline: the fraction counts.
            assert_eq!(
                legal_clocks(c, "2025-01-01T11:00:00Z")?,
                vec![
                    ("copy_scrutiny".to_string(), 1, 0),
                    ("removal_deadline".to_string(), 1, 0)
                ]
            );
            assert_eq!(
                legal_clocks(c, "2025-01-02T00:00:00Z")?,
                vec![
                    ("copy_scrutiny".to_string(), 1, 0),
                    ("removal_deadline".to_string(), 0, 1)
                ]
            );
            Ok(())
        })
        .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A referral of `url` by `agency` (jurisdiction FR), for tests over the store.
    pub(crate) fn referral(id: &str, url: &str, agency: &str) -> NewReferral {
        let canon = shared::url::canonical_url(url).unwrap();
        NewReferral {
            id: id.into(),
            case_id: shared::url::case_id(&canon),
            url: url.into(),
            canonical_url: canon.to_string(),
            agency: agency.into(),
            jurisdiction: "FR".into(),
            note: None,
            external_ref: None,
            categories_hint: vec![],
        }
    }

    fn store() -> Store {
        let dir = std::env::temp_dir().join(format!(
            "triage-store-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7()
        ));
        Store::open(&dir).unwrap()
    }

    #[test]
    fn second_referral_of_same_content_attaches_and_names_the_first() {
        let s = store();
        s.call_sync(|c| {
            let a = insert_referrals(c, &[referral("r1", "http://Example.com/a#x", "fr-pharos")])?;
            assert!(a[0].already_referred.is_none());
            let b = insert_referrals(c, &[referral("r2", "http://www.example.com/a", "de-bka")])?;
            assert_eq!(b[0].case_id, a[0].case_id);
            assert_eq!(b[0].already_referred.as_ref().unwrap().by, "fr-pharos");
            let case = case_view(c, &a[0].case_id)?.unwrap();
            assert_eq!(case["referrals"].as_array().unwrap().len(), 2);
            assert_eq!(case["deconfliction"][0]["agency"], "de-bka");
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn claims_follow_arrival_and_restart_requeues() {
        let s = store();
        s.call_sync(|c| {
            insert_referrals(
                c,
                &[
                    referral("r1", "http://a.example/1", "x"),
                    referral("r2", "http://a.example/2", "x"),
                ],
            )?;
            let first = claim_next(c)?.unwrap();
            assert_eq!(first.id, "r1");
            assert_eq!(count_status(c, "queued")?, 1);
            assert_eq!(requeue_unfinished(c)?, 1);
            assert_eq!(claim_next(c)?.unwrap().id, "r1");
            assert_eq!(claim_next(c)?.unwrap().id, "r2");
            assert!(claim_next(c)?.is_none());
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn every_claim_counts_an_attempt_across_restarts() {
        // The pipeline gives a referral up once its attempts pass MAX_ATTEMPTS, so a crash loop
        // on one input ends; that rests on this count surviving requeues.
        let s = store();
        s.call_sync(|c| {
            insert_referrals(c, &[referral("r1", "http://a.example/1", "x")])?;
            for attempt in 1..=MAX_ATTEMPTS + 1 {
                assert_eq!(claim_next(c)?.unwrap().attempts, attempt);
                requeue_unfinished(c)?;
            }
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn a_retry_waits_for_its_time_without_holding_up_others_and_is_not_a_crash() {
        let s = store();
        s.call_sync(|c| {
            insert_referrals(
                c,
                &[
                    referral("r1", "http://a.example/1", "x"),
                    referral("r2", "http://a.example/2", "x"),
                ],
            )?;
            let r1 = claim_next(c)?.unwrap();
            assert_eq!((r1.id.as_str(), r1.crashes()), ("r1", 0));
            requeue_for_retry(c, "r1", "http_5xx", "HTTP 503", "2999-01-01T00:00:00.000Z")?;
            assert_eq!(
                next_retry_due(c)?.as_deref(),
                Some("2999-01-01T00:00:00.000Z")
            );
            // r1 waits; r2 behind it is claimed, then nothing until r1 is due.
            assert_eq!(claim_next(c)?.unwrap().id, "r2");
            assert!(claim_next(c)?.is_none());
            let view = referral_view(c, "r1")?.unwrap();
            assert_eq!(view["status"], "queued");
            assert_eq!(view["retries"], 1);
            assert_eq!(view["next_attempt_at"], "2999-01-01T00:00:00.000Z");
            assert_eq!(view["last_retry_reason"]["kind"], "http_5xx");
            assert!(view["reason"].is_null(), "not failed: {view}");
            // Due now: claimed, and the retry is not counted as a crash.
            c.execute(
                "UPDATE referrals SET next_attempt_at = '2000-01-01T00:00:00.000Z' WHERE id = 'r1'",
                [],
            )?;
            let again = claim_next(c)?.unwrap();
            assert_eq!(
                (again.id.as_str(), again.attempts, again.retries),
                ("r1", 2, 1)
            );
            assert_eq!(again.crashes(), 0);
            assert!(next_retry_due(c)?.is_none());
            // A crash after the retry is one.
            requeue_unfinished(c)?;
            assert_eq!(claim_next(c)?.unwrap().crashes(), 1);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn claims_use_the_ready_and_waiting_indexes() {
        let s = store();
        s.call_sync(|c| {
            let plan: Vec<String> = c
                .prepare(&format!("EXPLAIN QUERY PLAN {CLAIM}"))?
                .query_map(params!["2030"], |r| r.get::<_, String>(3))?
                .collect::<rusqlite::Result<_>>()?;
            let uses = |index: &str| plan.iter().any(|p| p.contains(index));
            assert!(
                uses("referrals_ready") && uses("referrals_waiting"),
                "{plan:?}"
            );
            // Neither lookup sorts or scans the table itself (the ready index is read in order,
            // its first entry being the claim).
            assert!(
                !plan
                    .iter()
                    .any(|p| p.contains("TEMP B-TREE") || p.trim() == "SCAN referrals"),
                "{plan:?}"
            );
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn a_database_from_before_retries_gets_the_columns() {
        let dir = std::env::temp_dir().join(format!("triage-migrate-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        {
            let old = Connection::open(dir.join("triage.sqlite")).unwrap();
            let before = SCHEMA.replace(
                ",\n    retries        INTEGER NOT NULL DEFAULT 0,\n    next_attempt_at TEXT,\n    retry_kind     TEXT,\n    retry_reason   TEXT",
                "",
            );
            assert!(!before.contains("retry_kind"), "the old schema is rebuilt");
            old.execute_batch(&before).unwrap();
            old.execute(
                "INSERT INTO referrals (id, case_id, url, canonical_url, agency, jurisdiction, status, received_at, updated_at)
                 VALUES ('old', 'c', 'http://a.example/', 'http://a.example/', 'x', 'FR', 'queued', 't', 't')",
                [],
            )
            .unwrap();
        }
        let s = Store::open(&dir).unwrap();
        s.call_sync(|c| {
            let r = claim_next(c)?.unwrap();
            assert_eq!((r.id.as_str(), r.retries), ("old", 0));
            Ok(())
        })
        .unwrap();
        drop(s);
        // Opening again changes nothing.
        Store::open(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_batch_is_all_or_nothing() {
        let s = store();
        let err = s.call_sync(|c| {
            insert_referrals(
                c,
                &[
                    referral("r1", "http://a.example/1", "x"),
                    referral("r1", "http://a.example/2", "x"),
                ],
            )
        });
        assert!(err.is_err());
        s.call_sync(|c| {
            assert_eq!(count_status(c, "queued")?, 0);
            assert!(list_cases(
                c,
                &CaseFilter {
                    limit: 10,
                    ..Default::default()
                }
            )?
            .is_empty());
            Ok(())
        })
        .unwrap();
    }
}

#[cfg(test)]
mod preservation_tests {
    use super::*;

    fn store_with_case() -> (Store, String) {
        let dir = std::env::temp_dir().join(format!("triage-preserve-{}", uuid::Uuid::now_v7()));
        let s = Store::open(&dir).unwrap();
        let canon = shared::url::canonical_url("http://a.example/1").unwrap();
        let case_id = shared::url::case_id(&canon);
        let r = NewReferral {
            id: "r1".into(),
            case_id: case_id.clone(),
            url: "http://a.example/1".into(),
            canonical_url: canon.to_string(),
            agency: "x".into(),
            jurisdiction: "FR".into(),
            note: None,
            external_ref: None,
            categories_hint: vec![],
        };
        s.call_sync(|c| insert_referrals(c, &[r])).unwrap();
        (s, case_id)
    }

    fn row<'a>(id: &'a str, case_id: &'a str, retain_until: &'a str) -> EvidenceRow<'a> {
        EvidenceRow {
            capture_id: id,
            case_id,
            referral_id: Some("r1"),
            purpose: "capture",
            file: "warc/x.warc.gz",
            file_sha256: "00",
            file_bytes: 10,
            custody_seq: 1,
            status: Some(200),
            truncated: None,
            captured_at: "2025-01-01T00:00:00.000Z",
            retain_until,
        }
    }

    #[test]
    fn expiry_follows_the_longest_of_capture_extension_and_offline_time() {
        let (s, case_id) = store_with_case();
        s.call_sync(|c| {
            record_evidence(c, &row("cap1", &case_id, "2025-07-01T00:00:00.000Z"))?;
            assert!(expired_evidence(c, "2025-06-30T00:00:00.000Z", 10)?.is_empty());
            assert_eq!(
                expired_evidence(c, "2025-07-02T00:00:00.000Z", 10)?.len(),
                1
            );
            // Extended: held; an extension never shortens.
            let held = extend_retention(c, &case_id, "2026-01-01T00:00:00.000Z", "court order")?;
            assert_eq!(held.as_deref(), Some("2026-01-01T00:00:00.000Z"));
            let again = extend_retention(c, &case_id, "2025-08-01T00:00:00.000Z", "shorter")?;
            assert_eq!(again.as_deref(), Some("2026-01-01T00:00:00.000Z"));
            assert!(expired_evidence(c, "2025-12-31T00:00:00.000Z", 10)?.is_empty());
            assert_eq!(
                expired_evidence(c, "2026-01-02T00:00:00.000Z", 10)?.len(),
                1
            );
            mark_purged(c, "cap1", 7)?;
            assert!(expired_evidence(c, "2030-01-01T00:00:00.000Z", 10)?.is_empty());
            assert_eq!(
                extend_retention(c, "no-such-case", "2030-01-01T00:00:00.000Z", "x")?,
                None
            );
            // A routed case extended earlier joins the liveness schedule.
            schedule_liveness(
                c,
                &case_id,
                "http://a.example/1",
                "self_hosted",
                "2025-01-01T00:00:00.000Z",
            )?;
            let due = due_liveness(c, "2025-01-02T00:00:00.000Z", 10)?;
            assert_eq!(due.len(), 1);
            assert_eq!(due[0].host_kind, "self_hosted");
            let view = preservation_view(c, &case_id)?;
            assert_eq!(view["extended_reason"], "court order");
            assert_eq!(view["captures"][0]["custody_seq"], 1);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn a_purge_error_holds_the_capture_back() {
        let (s, case_id) = store_with_case();
        s.call_sync(|c| {
            record_evidence(c, &row("cap1", &case_id, "2025-07-01T00:00:00.000Z"))?;
            mark_purge_failed(c, "cap1", "digest mismatch")?;
            assert!(expired_evidence(c, "2030-01-01T00:00:00.000Z", 10)?.is_empty());
            Ok(())
        })
        .unwrap();
    }
}
