//! The embedded store: one SQLite file holding referrals and cases. The referrals table is
//! also the work queue — a referral is `queued` the moment it is stored (before the 202), a
//! worker claims it (`fetching`), and it ends `routed` or `failed`. A restart puts every claimed
//! but unfinished referral back in the queue, so none is lost; cases are keyed by the hash of
//! the canonical URL, so reprocessing never makes a second case.

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A claimed referral gives up after this many starts (a crash loop on one input must not
/// block the queue for ever).
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
    updated_at     TEXT NOT NULL
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
    pub attempts: i64,
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
    tx.commit()?;
    Ok(out)
}

/// Puts referrals a previous run had claimed but not finished back in the queue.
pub fn requeue_unfinished(conn: &mut Connection) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE referrals SET status = 'queued', updated_at = ?1 WHERE status NOT IN ('queued', 'routed', 'failed')",
        params![now()],
    )?)
}

/// Claims the oldest queued referral for a worker.
pub fn claim_next(conn: &mut Connection) -> Result<Option<Claimed>> {
    let row = conn
        .query_row(
            "UPDATE referrals SET status = 'fetching', attempts = attempts + 1, updated_at = ?1
             WHERE seq = (SELECT seq FROM referrals WHERE status = 'queued' ORDER BY seq LIMIT 1)
             RETURNING id, case_id, url, agency, jurisdiction, categories_hint, attempts",
            params![now()],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, i64>(6)?,
                ))
            },
        )
        .optional()?;
    Ok(row.map(
        |(id, case_id, url, agency, jurisdiction, hint, attempts)| Claimed {
            id,
            case_id,
            url,
            agency,
            jurisdiction,
            categories_hint: serde_json::from_str(&hint).unwrap_or_default(),
            attempts,
        },
    ))
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
    conn.execute(
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
pub fn finish(
    conn: &mut Connection,
    referral_id: &str,
    case_id: &str,
    decision: &Value,
    jurisdictions: &[String],
) -> Result<()> {
    let tx = conn.transaction()?;
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
                    status, reason_kind, reason, decision, attempts, received_at, updated_at
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
                status, reason_kind, reason, decision, attempts, received_at, updated_at
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
    Ok(Some(case))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn referral(id: &str, url: &str, agency: &str) -> NewReferral {
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
