//! `POST /v1/cases/{id}/retention`: keep a case's evidence longer.
//!
//! Body `{"until": RFC 3339}` (keep until then) or `{"extend_days": N}` (N days past the
//! retention in force, or past now if nothing is kept yet), and optionally `"reason"`. The
//! retention never shortens: a date before the one in force is 409 `retention_shorter`, the
//! same date is 200 with `"changed": false`.
//!
//! **Who**: an analyst token of an agency that referred the case, or an admin token (a case
//! outside the token's scope is 404, as if missing). Every extension is audited. Keeping evidence is part of the referring
//! unit's own investigation or a court's order served on it; another agency that merely sees
//! the case has no standing to hold it.
//!
//! **Order**: the database first (`store::retention_change`, the code path of `triage
//! evidence extend`), then a `retention` entry in the custody log naming the agency and the
//! reason. Keeping longer is the safe side: if the log append fails, the extension holds and
//! the request answers 500.

use crate::auth::{Permission, Role};
use crate::server::{ApiError, AppState};
use crate::store::{self, RetentionChange};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/cases/{id}/retention", post(extend))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionIn {
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    extend_days: Option<u32>,
    #[serde(default)]
    reason: Option<String>,
}

const MAX_DAYS: u32 = 36_500;
const MAX_REASON: usize = 1024;

async fn extend(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(case_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let who = st.auth.from_headers(&headers).await?;
    st.auth.require(&who, Permission::ExtendRetention)?;
    let invalid = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", m);
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    let req: RetentionIn =
        serde_json::from_value(value).map_err(|e| invalid(format!("body: {e}")))?;
    let reason = req.reason.as_deref().map(str::trim).unwrap_or_default();
    if reason.len() > MAX_REASON {
        return Err(invalid(format!("reason: longer than {MAX_REASON} bytes")));
    }

    // The case, who referred it, and the retention in force now.
    let (id, agency_id, scope) = (case_id.clone(), who.agency.clone(), who.scope());
    let (in_force, referred) = st
        .store
        .call(move |c| {
            if !store::case_in_scope(c, &id, &scope)? {
                return Ok((None, false));
            }
            let in_force = store::retention_in_force(c, &id)?;
            let referred = c.query_row(
                "SELECT EXISTS(SELECT 1 FROM referrals WHERE case_id = ?1 AND agency = ?2)",
                rusqlite::params![id, agency_id],
                |r| r.get::<_, bool>(0),
            )?;
            Ok((in_force, referred))
        })
        .await
        .map_err(ApiError::internal)?;
    let Some(in_force) = in_force else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no case with that id",
        ));
    };
    if !referred && who.role != Role::Admin {
        return Err(st.auth.forbidden(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "agency {:?} has not referred case {case_id}; only an agency that referred it, or an admin, may change its retention",
                who.agency
            ),
        )));
    }

    let now = Utc::now();
    let until: DateTime<Utc> = match (&req.until, req.extend_days) {
        (Some(u), None) => DateTime::parse_from_rfc3339(u)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| invalid(format!("until: {u:?} is not an RFC 3339 time ({e})")))?,
        (None, Some(d)) => {
            if d == 0 || d > MAX_DAYS {
                return Err(invalid(format!(
                    "extend_days: {d} must be between 1 and {MAX_DAYS}"
                )));
            }
            let base = in_force
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
                .filter(|t| *t > now)
                .unwrap_or(now);
            base + chrono::Duration::days(i64::from(d))
        }
        _ => {
            return Err(invalid(
                "give exactly one of `until` (RFC 3339) or `extend_days` (a number of days)".into(),
            ))
        }
    };
    if until <= now {
        return Err(invalid(format!(
            "until: {} is not in the future",
            crate::evidence::ts(until)
        )));
    }
    let until_s = crate::evidence::ts(until);
    let detail = format!(
        "retention extended to {until_s} by agency {} (token {}) through the API{}",
        who.agency,
        who.token_id,
        if reason.is_empty() {
            String::new()
        } else {
            format!(": {reason}")
        }
    );
    let (id, u, d) = (case_id.clone(), until_s.clone(), detail.clone());
    let change = st
        .store
        .call(move |c| store::retention_change(c, &id, &u, &d))
        .await
        .map_err(ApiError::internal)?;
    match change {
        RetentionChange::NoCase => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no case with that id",
        )),
        RetentionChange::Shorter { in_force } => Err(ApiError::new(
            StatusCode::CONFLICT,
            "retention_shorter",
            format!(
                "case {case_id} is already kept until {in_force}; {until_s} would shorten that, and retention is only ever extended"
            ),
        )),
        RetentionChange::Unchanged { in_force } => Ok(Json(json!({
            "case_id": case_id,
            "retain_until": in_force,
            "changed": false,
        }))),
        RetentionChange::Extended { previous, in_force } => {
            let seq = match &st.engine.preservation {
                Some(p) => Some(
                    p.log_retention(&case_id, &in_force, &detail)
                        .await
                        .map_err(|e| {
                            ApiError::internal(e.context(format!(
                                "case {case_id}: retention extended to {in_force} in the database, but the custody entry was not written"
                            )))
                        })?,
                ),
                None => None,
            };
            st.auth
                .audit(
                    &who,
                    "api",
                    "retention.extend",
                    Some(&case_id),
                    json!({"previous": previous, "retain_until": in_force, "reason": reason, "custody_seq": seq}),
                )
                .await?;
            tracing::info!(case_id = %case_id, agency = %who.agency, previous = ?previous, retain_until = %in_force, custody_seq = ?seq, "retention extended");
            Ok(Json(json!({
                "case_id": case_id,
                "retain_until": in_force,
                "previous": previous,
                "changed": true,
                "custody_seq": seq,
            })))
        }
    }
}
