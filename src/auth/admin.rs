//! Token administration shared by `triage admin token …` and `/v1/admin/tokens…`: each
//! operation checks its input, changes the `tokens` table and writes its audit entry in one
//! transaction (so a token never exists without the entry that says who made it).

use super::audit::{self, Entry};
use super::tokens::{self, NewToken, Revoked, TokenRow};
use super::{Principal, Role};
use chrono::Utc;
use rusqlite::{Connection, TransactionBehavior};
use serde_json::json;
use std::collections::HashMap;

/// Why an operation was refused: `kind` as in CONTRACTS.md, a sentence naming the field.
#[derive(Debug)]
pub struct OpError {
    pub kind: &'static str,
    pub message: String,
    /// Not the caller's fault (the database).
    pub internal: bool,
}

impl OpError {
    fn invalid(m: impl Into<String>) -> OpError {
        OpError {
            kind: "invalid_body",
            message: m.into(),
            internal: false,
        }
    }
    fn not_found(m: impl Into<String>) -> OpError {
        OpError {
            kind: "not_found",
            message: m.into(),
            internal: false,
        }
    }
}

impl From<anyhow::Error> for OpError {
    fn from(e: anyhow::Error) -> OpError {
        OpError {
            kind: "internal",
            message: format!("{e:#}"),
            internal: true,
        }
    }
}

impl From<rusqlite::Error> for OpError {
    fn from(e: rusqlite::Error) -> OpError {
        anyhow::Error::from(e).into()
    }
}

/// What `token create` asks for.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    pub agency: String,
    pub role: String,
    #[serde(default)]
    pub label: Option<String>,
    /// `90d`, `12h`, … (default 90 days).
    #[serde(default)]
    pub expires_in: Option<String>,
    /// RFC 3339; instead of `expires_in`.
    #[serde(default)]
    pub expires_at: Option<String>,
}

fn expiry(
    expires_in: Option<&str>,
    expires_at: Option<&str>,
) -> Result<chrono::DateTime<Utc>, OpError> {
    let now = Utc::now();
    let t = match (expires_in, expires_at) {
        (Some(_), Some(_)) => {
            return Err(OpError::invalid(
                "give one of expires_in and expires_at, not both",
            ))
        }
        (Some(d), None) => {
            now + tokens::parse_duration(d)
                .map_err(|e| OpError::invalid(format!("expires_in: {e}")))?
        }
        (None, Some(t)) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| {
                OpError::invalid(format!("expires_at: {t:?} is not an RFC 3339 time ({e})"))
            })?
            .with_timezone(&Utc),
        (None, None) => now + chrono::Duration::days(tokens::DEFAULT_DAYS),
    };
    if t <= now {
        return Err(OpError::invalid("the expiry is not in the future"));
    }
    if t > now + chrono::Duration::days(3650) {
        return Err(OpError::invalid("the expiry is more than ten years away"));
    }
    Ok(t)
}

/// Creates a token; returns its row and the token (shown once).
pub fn create(
    conn: &mut Connection,
    agencies: &HashMap<String, String>,
    who: &Principal,
    via: &str,
    req: &CreateRequest,
) -> Result<(TokenRow, String), OpError> {
    if !agencies.contains_key(&req.agency) {
        let mut known: Vec<&str> = agencies.keys().map(String::as_str).collect();
        known.sort_unstable();
        return Err(OpError::invalid(format!(
            "agency: {:?} is not one of the configured agencies ({})",
            req.agency,
            known.join(", ")
        )));
    }
    let role: Role = req
        .role
        .parse()
        .map_err(|e: String| OpError::invalid(format!("role: {e}")))?;
    let expires_at = expiry(req.expires_in.as_deref(), req.expires_at.as_deref())?;
    let label = req.label.clone().unwrap_or_default();
    if label.len() > 200 || label.chars().any(char::is_control) {
        return Err(OpError::invalid(
            "label: at most 200 bytes, no control characters",
        ));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (row, token) = tokens::create(
        &tx,
        &NewToken {
            agency: req.agency.clone(),
            role,
            label,
            expires_at,
            created_by: who.token_id.clone(),
            rotated_from: None,
        },
    )?;
    audit::append(
        &tx,
        &[Entry::new(
            who,
            via,
            "token.create",
            None,
            json!({"token_id": row.id, "agency": row.agency, "role": row.role, "expires_at": row.expires_at, "label": row.label}),
        )],
    )?;
    tx.commit()?;
    Ok((row, token))
}

/// Revokes a token at once. Revoking a revoked token is not an error (`changed: false`).
pub fn revoke(
    conn: &mut Connection,
    who: &Principal,
    via: &str,
    id: &str,
) -> Result<(TokenRow, bool), OpError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let out = match tokens::revoke(&tx, id)? {
        Revoked::NoToken => return Err(OpError::not_found(format!("no token with id {id:?}"))),
        Revoked::Already(r) => (r, false),
        Revoked::Now(r) => {
            audit::append(
                &tx,
                &[Entry::new(
                    who,
                    via,
                    "token.revoke",
                    None,
                    json!({"token_id": r.id, "agency": r.agency, "role": r.role}),
                )],
            )?;
            (r, true)
        }
    };
    tx.commit()?;
    Ok(out)
}

/// Rotates a token: a new one of the same agency and role; the old one expires after `grace`.
pub fn rotate(
    conn: &mut Connection,
    who: &Principal,
    via: &str,
    id: &str,
    grace: Option<&str>,
    expires_in: Option<&str>,
) -> Result<tokens::Rotated, OpError> {
    let grace = match grace {
        None => chrono::Duration::hours(1),
        Some(g) => {
            tokens::parse_duration(g).map_err(|e| OpError::invalid(format!("grace: {e}")))?
        }
    };
    let lifetime = expiry(expires_in, None)? - Utc::now();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let r = tokens::rotate(&tx, id, grace, lifetime, &who.token_id)
        .map_err(|e| OpError::invalid(format!("{e:#}")))?
        .ok_or_else(|| OpError::not_found(format!("no token with id {id:?}")))?;
    audit::append(
        &tx,
        &[Entry::new(
            who,
            via,
            "token.rotate",
            None,
            json!({"token_id": r.old.id, "new_token_id": r.new.id, "old_expires_at": r.old.expires_at, "agency": r.new.agency, "role": r.new.role}),
        )],
    )?;
    tx.commit()?;
    Ok(r)
}
