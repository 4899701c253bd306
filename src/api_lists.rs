//! The list endpoints of the HTTP API:
//!
//! | method and path | who | does |
//! |---|---|---|
//! | `GET /v1/lists` | analyst, partner, operator, admin | the set version and every list: provenance, counts, matches, quarantined entries |
//! | `POST /v1/lists/reload` | admin | reads the lists directory again and swaps it in; 422 with every problem (file, line) if it is bad, and the old set keeps serving |
//! | `GET /v1/lists/quarantine` | analyst, partner, operator, admin | entries held in flood quarantine |
//! | `POST /v1/lists/quarantine/{list}/{entry}/release` | admin | lets a held entry match again |
//!
//! Roles are those of the bearer token (`src/auth/`); reloads and releases are audited.

use crate::auth::{Permission, Principal};
use crate::quarantine;
use crate::server::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use shared::lists::ListKind;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/lists", get(list_lists))
        .route("/v1/lists/reload", post(reload))
        .route("/v1/lists/quarantine", get(held))
        .route("/v1/lists/quarantine/{list}/{entry}/release", post(release))
}

/// The principal of the request if it holds `p` (401/403/429 otherwise).
async fn principal(
    st: &AppState,
    headers: &HeaderMap,
    p: Permission,
) -> Result<Principal, ApiError> {
    let who = st.auth.from_headers(headers).await?;
    st.auth.require(&who, p)?;
    Ok(who)
}

async fn list_lists(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    principal(&st, &headers, Permission::ViewLists).await?;
    let loaded = st.engine.lists.current();
    let now = chrono::Utc::now();
    let lists: Vec<Value> = loaded
        .lists
        .iter()
        .map(|l| {
            let m = &l.meta;
            let expired = l.expired_at(now);
            let quarantined = st.engine.quarantine.held_in(&m.id);
            json!({
                "id": m.id,
                "name": m.name,
                "kind": m.kind,
                "owner": m.owner,
                "trust": m.trust,
                "version": m.version,
                "negative": m.negative,
                "enabled": m.enabled,
                "default_category": m.default_category,
                "pdq_max_distance": (m.kind == ListKind::Hashes).then(|| m.pdq_threshold()),
                "entries": l.entries,
                "active_entries": l.entries - l.disabled - expired,
                "disabled_entries": l.disabled,
                "expired_entries": expired,
                "matches": st.engine.lists.matches_of(&m.id),
                "quarantined_entries": quarantined,
            })
        })
        .collect();
    Ok(Json(json!({
        "set_version": loaded.set_version,
        "loaded_at": loaded.loaded_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "quarantine_distinct_urls_per_hour": st.engine.quarantine.limit(),
        "lists": lists,
    })))
}

async fn reload(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let who = match principal(&st, &headers, Permission::ManageLists).await {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let lists = st.engine.lists.clone();
    let outcome = match tokio::task::spawn_blocking(move || lists.reload()).await {
        Ok(o) => o,
        Err(e) => {
            return ApiError::internal(anyhow::anyhow!("list reload panicked: {e}")).into_response()
        }
    };
    match outcome {
        Ok(r) => {
            if let Err(e) = st
                .auth
                .audit(&who, "api", "lists.reload", None, json!({"outcome": if r.changed { "swapped" } else { "unchanged" }, "set_version": r.set_version, "previous": r.previous_set_version}))
                .await
            {
                return e.into_response();
            }
            tracing::info!(by = %who.token_id, changed = r.changed, set_version = %r.set_version, previous = %r.previous_set_version,
                lists = r.lists, entries = r.entries, took_ms = r.took_ms, "lists reloaded (HTTP)");
            Json(serde_json::to_value(&r).expect("serialisable")).into_response()
        }
        Err(refused) => {
            if let Err(e) = st
                .auth
                .audit(
                    &who,
                    "api",
                    "lists.reload",
                    None,
                    json!({"outcome": "rejected", "problems": refused.problems.len()}),
                )
                .await
            {
                return e.into_response();
            }
            tracing::error!(by = %who.token_id, problems = refused.problems.len(), "list reload refused; the previous set keeps serving:\n{refused}");
            let problems: Vec<Value> = refused
                .problems
                .iter()
                .map(|p| json!({"file": p.file, "line": p.line, "message": p.message, "at": p.to_string()}))
                .collect();
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({
                    "error": {
                        "kind": "invalid_lists",
                        "message": format!("{} problem(s); the lists in use (set {}) keep serving", problems.len(), st.engine.lists.current().set_version),
                        "problems": problems,
                    }
                })),
            )
                .into_response()
        }
    }
}

async fn held(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    principal(&st, &headers, Permission::ViewLists).await?;
    Ok(Json(json!({
        "limit_distinct_urls_per_hour": st.engine.quarantine.limit(),
        "entries": st.engine.quarantine.held(),
    })))
}

async fn release(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((list, entry)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let who = principal(&st, &headers, Permission::ManageLists).await?;
    let Some(h) = st.engine.quarantine.release(&list, &entry) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("entry {entry:?} of list {list:?} is not in quarantine"),
        ));
    };
    let (l, e) = (list.clone(), entry.clone());
    st.store
        .call(move |c| quarantine::delete(c, &l, &e))
        .await
        .map_err(ApiError::internal)?;
    st.engine.quarantine.publish(&st.metrics);
    st.auth
        .audit(
            &who,
            "api",
            "quarantine.release",
            None,
            json!({"list": list, "entry": entry}),
        )
        .await?;
    tracing::info!(by = %who.token_id, list = %list, entry = %entry, "quarantined list entry released");
    Ok(Json(json!({"released": h})))
}
