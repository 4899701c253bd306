//! The list endpoints of the HTTP API:
//!
//! | method and path | who | does |
//! |---|---|---|
//! | `GET /v1/lists` | any agency | the set version and every list: provenance, counts, matches, quarantined entries |
//! | `POST /v1/lists/reload` | admin | reads the lists directory again and swaps it in; 422 with every problem (file, line) if it is bad, and the old set keeps serving |
//! | `GET /v1/lists/quarantine` | any agency | entries held in flood quarantine |
//! | `POST /v1/lists/quarantine/{list}/{entry}/release` | admin | lets a held entry match again |
//!
//! Admin means the bearer token of an agency with `admin = true` in the config; the token-less
//! default agency never is one.

use crate::config::{Agency, Config};
use crate::quarantine;
use crate::server::{agency, ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
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

fn admin<'a>(config: &'a Config, headers: &HeaderMap) -> Result<&'a Agency, ApiError> {
    let a = agency(config, headers)?;
    if headers.get(header::AUTHORIZATION).is_none() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this endpoint needs the bearer token of an admin agency",
        ));
    }
    if !a.admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "agency {:?} is not an admin (admin = true in its config entry)",
                a.id
            ),
        ));
    }
    Ok(a)
}

async fn list_lists(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    agency(&st.config, &headers)?;
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
    let who = match admin(&st.config, &headers) {
        Ok(a) => a.id.clone(),
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
            tracing::info!(by = %who, changed = r.changed, set_version = %r.set_version, previous = %r.previous_set_version,
                lists = r.lists, entries = r.entries, took_ms = r.took_ms, "lists reloaded (HTTP)");
            Json(serde_json::to_value(&r).expect("serialisable")).into_response()
        }
        Err(refused) => {
            tracing::error!(by = %who, problems = refused.problems.len(), "list reload refused; the previous set keeps serving:\n{refused}");
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
    agency(&st.config, &headers)?;
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
    let who = admin(&st.config, &headers)?.id.clone();
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
    tracing::info!(by = %who, list = %list, entry = %entry, "quarantined list entry released");
    Ok(Json(json!({"released": h})))
}
