//! The HTTP API of CONTRACTS.md. One place ([`ApiError`]) turns errors into status codes and
//! JSON reasons; internals never leak to the caller.
//!
//! Every handler but `/`, `/healthz` and `/readyz` starts with [`crate::auth::Auth::from_headers`]
//! (401/429) and a [`Permission`] check (403); case data is read through the principal's
//! [`crate::auth::Scope`] (a case outside it is 404, like a missing one) and every view or
//! change is audited before the answer leaves. [`crate::auth::http::guard`] wraps the whole
//! router (security headers, CORS, body limit, failed-authentication limit).

use crate::auth::{audit, Permission, Principal};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::pipeline::Engine;
use crate::store::{self, CaseFilter, NewReferral, Store};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use shared::url::{canonical_url, case_id};
use shared::Category;
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub engine: Arc<Engine>,
    pub notify: Arc<Notify>,
    /// Kafka mode: referrals go to the referrals topic instead of the local queue.
    pub kafka: Option<Arc<crate::kafka::Ingress>>,
    /// Tokens, roles, rate limits and the audit log.
    pub auth: Arc<crate::auth::Auth>,
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    Router::new()
        .route(
            "/",
            get(index).layer(axum::middleware::from_fn(crate::web::browser_redirect)),
        )
        .route("/v1/referrals", post(submit))
        .route("/v1/referrals/{id}", get(get_referral))
        .route("/v1/cases", get(list_cases))
        .route("/v1/cases/{id}", get(get_case))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(crate::api_lists::routes())
        .merge(crate::api_retention::routes())
        .merge(crate::auth::http::routes())
        .merge(crate::web::routes())
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::http::guard,
        ))
        .with_state(state)
}

/// An error as the caller sees it: a status and `{"error": {"kind", "message"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    /// Seconds for `Retry-After` (429).
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        kind: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
            retry_after: None,
        }
    }
    /// 429 `rate_limited` with `Retry-After: secs`.
    pub(crate) fn rate_limited(secs: u64, message: impl Into<String>) -> ApiError {
        ApiError {
            retry_after: Some(secs),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
        }
    }
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }
    pub(crate) fn kind(&self) -> &'static str {
        self.kind
    }
    pub(crate) fn message(&self) -> &str {
        &self.message
    }
    pub(crate) fn internal(e: anyhow::Error) -> ApiError {
        // The detail goes to the log, not to the caller.
        tracing::error!(error = %format!("{e:#}"), "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete the request; see its log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"kind": self.kind, "message": self.message});
        if let Some(s) = self.retry_after {
            error["retry_after"] = s.into();
        }
        let mut resp = (self.status, Json(json!({ "error": error }))).into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, axum::http::HeaderValue::from(s));
        }
        resp
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The service's name, version and endpoints, for any valid token (browsers are sent to the
/// web page before this runs).
async fn index(State(st): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    st.auth.from_headers(&headers).await?;
    Ok(Json(json!({
        "service": "triage",
        "version": env!("CARGO_PKG_VERSION"),
        "endpoints": ["POST /v1/referrals", "GET /v1/referrals/{id}", "GET /v1/cases", "GET /v1/cases/{id}", "POST /v1/cases/{id}/retention", "GET /v1/lists", "POST /v1/lists/reload", "GET /v1/lists/quarantine", "POST /v1/lists/quarantine/{list}/{entry}/release", "GET /v1/admin/tokens", "POST /v1/admin/tokens", "POST /v1/admin/tokens/{id}/revoke", "POST /v1/admin/tokens/{id}/rotate", "GET /v1/audit", "GET /metrics", "GET /healthz", "GET /readyz"],
    })))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// One referral as a caller gives it (the API body, or a web form).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReferralIn {
    pub url: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub external_ref: Option<String>,
    #[serde(default)]
    pub categories_hint: Vec<Category>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchIn {
    referrals: Vec<ReferralIn>,
}

const MAX_NOTE: usize = 4096;
const MAX_EXTERNAL_REF: usize = 256;

async fn submit(State(st): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let (who, items, batch) = match read_submission(&st, &headers, body).await {
        Ok(x) => x,
        Err(e) => {
            count_rejected(&st, &e);
            return e.into_response();
        }
    };
    match submit_referrals(&st, &who, "api", items, batch).await {
        Ok(accepted) => {
            let body = if batch {
                json!({ "referrals": accepted })
            } else {
                accepted.into_iter().next().unwrap_or(Value::Null)
            };
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// Who submits, and the referrals of the body (one, or a `{"referrals": […]}` batch).
async fn read_submission(
    st: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<(Principal, Vec<ReferralIn>, bool)> {
    let who = st.auth.from_headers(headers).await?;
    st.auth.require(&who, Permission::Submit)?;
    let limit = st.config.max_body_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the request body is over {limit} bytes"),
        )
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > limit {
            return Err(too_large());
        }
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    let invalid = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", m);
    if value.get("agency").is_some() || value.get("jurisdiction").is_some() {
        return Err(invalid(
            "body: the agency and jurisdiction come from the token, never from the body; remove them".into(),
        ));
    }
    if value.get("referrals").is_some() {
        let b: BatchIn =
            serde_json::from_value(value).map_err(|e| invalid(format!("body: {e}")))?;
        Ok((who, b.referrals, true))
    } else {
        let r: ReferralIn =
            serde_json::from_value(value).map_err(|e| invalid(format!("body: {e}")))?;
        Ok((who, vec![r], false))
    }
}

/// The submit core shared by `POST /v1/referrals` and the web page: checks `who` may submit,
/// validates every item (all or none; with `batch`, errors name `referrals[i].field`), stores
/// the referrals with one `referral.submit` audit entry each in one transaction (or, in Kafka
/// mode, hands them to Kafka and audits once acknowledged), and returns one
/// `{"referral_id", "case_id", "status", "already_referred"?}` per item, in order.
/// The agency and jurisdiction are `who`'s. Client errors are counted in
/// `triage_referrals_rejected_total`.
pub(crate) async fn submit_referrals(
    st: &AppState,
    who: &Principal,
    via: &str,
    items: Vec<ReferralIn>,
    batch: bool,
) -> ApiResult<Vec<Value>> {
    submit_core(st, who, via, items, batch)
        .await
        .inspect_err(|e| count_rejected(st, e))
}

/// Counts a refused submission in `triage_referrals_rejected_total` (the caller's errors only).
fn count_rejected(st: &AppState, e: &ApiError) {
    if e.status.is_client_error() {
        st.metrics
            .referrals_rejected
            .with_label_values(&[e.kind()])
            .inc();
    }
}

async fn submit_core(
    st: &AppState,
    who: &Principal,
    via: &str,
    items: Vec<ReferralIn>,
    batch: bool,
) -> ApiResult<Vec<Value>> {
    st.auth.require(who, Permission::Submit)?;
    let invalid = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", m);
    if items.is_empty() {
        return Err(invalid("referrals: the batch is empty".into()));
    }
    if items.len() > st.config.max_batch {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "referrals: {} items; a batch holds at most {}",
                items.len(),
                st.config.max_batch
            ),
        ));
    }
    let mut new = Vec::with_capacity(items.len());
    for (i, r) in items.into_iter().enumerate() {
        let at = if batch {
            format!("referrals[{i}].")
        } else {
            String::new()
        };
        let canon = canonical_url(&r.url).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                e.kind(),
                format!("{at}url: {e}"),
            )
        })?;
        if r.note.as_ref().is_some_and(|n| n.len() > MAX_NOTE) {
            return Err(invalid(format!("{at}note: longer than {MAX_NOTE} bytes")));
        }
        if r.external_ref
            .as_ref()
            .is_some_and(|n| n.len() > MAX_EXTERNAL_REF)
        {
            return Err(invalid(format!(
                "{at}external_ref: longer than {MAX_EXTERNAL_REF} bytes"
            )));
        }
        new.push(NewReferral {
            id: format!("r-{}", uuid::Uuid::now_v7().simple()),
            case_id: case_id(&canon),
            url: r.url,
            canonical_url: canon.to_string(),
            agency: who.agency.clone(),
            jurisdiction: who.jurisdiction.clone(),
            note: r.note,
            external_ref: r.external_ref,
            categories_hint: r.categories_hint,
        });
    }
    let entries: Vec<audit::Entry> = new
        .iter()
        .map(|r| {
            audit::Entry::new(
                who,
                via,
                "referral.submit",
                Some(&r.case_id),
                json!({"referral_id": r.id, "url": r.canonical_url}),
            )
        })
        .collect();
    let count = new.len() as u64;
    if let Some(kafka) = &st.kafka {
        return kafka_accept(st, kafka, new, entries, &who.agency, via).await;
    }
    let accepted = st
        .store
        .call(move |c| audit::with_entries(c, &entries, |tx| store::insert_referrals_in(tx, &new)))
        .await
        .map_err(ApiError::internal)?;
    st.auth.counted(&vec!["referral.submit"; accepted.len()]);
    st.notify.notify_one();
    st.metrics
        .referrals_received
        .with_label_values(&[via])
        .inc_by(count);
    st.metrics.referrals_deconflicted.inc_by(
        accepted
            .iter()
            .filter(|a| a.already_referred.is_some())
            .count() as u64,
    );
    for a in &accepted {
        tracing::info!(referral_id = %a.referral_id, case_id = %a.case_id, agency = %who.agency, token_id = %who.token_id, via, deconflicted = a.already_referred.is_some(), "referral accepted");
    }
    Ok(accepted.iter().map(|a| accepted_json(a, who)).collect())
}

/// One accepted referral as `who` sees it. When another agency referred the content first,
/// the answer names that agency and the time (deconfliction), not its referral id: like its
/// note, that id is the other agency's (only an admin sees it).
fn accepted_json(a: &store::Accepted, who: &Principal) -> Value {
    let mut v = serde_json::to_value(a).expect("serialisable");
    let foreign = a
        .already_referred
        .as_ref()
        .is_some_and(|p| p.by != who.agency);
    if foreign && who.role != crate::auth::Role::Admin {
        if let Some(p) = v["already_referred"].as_object_mut() {
            p.remove("referral_id");
        }
    }
    v
}

/// Kafka mode: 202 only once Kafka has acknowledged every referral of the request; else 503
/// (retryable). Deconfliction is the worker's (the case may be on another worker's store).
async fn kafka_accept(
    st: &AppState,
    kafka: &crate::kafka::Ingress,
    new: Vec<NewReferral>,
    entries: Vec<audit::Entry>,
    agency: &str,
    via: &str,
) -> ApiResult<Vec<Value>> {
    kafka
        .submit(&new)
        .await
        .map_err(|m| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "broker_unavailable", m))?;
    // Audited once Kafka holds the referrals (a failure here is a 500 the caller may retry;
    // the worker deconflicts the repeat).
    let n = entries.len();
    st.store
        .call(move |c| audit::with_entries(c, &entries, |_| Ok(())))
        .await
        .map_err(|e| {
            st.metrics.audit_failures.inc();
            ApiError::internal(e.context("cannot write the audit log"))
        })?;
    st.auth.counted(&vec!["referral.submit"; n]);
    st.metrics
        .referrals_received
        .with_label_values(&[via])
        .inc_by(new.len() as u64);
    let accepted: Vec<Value> = new
        .iter()
        .map(|r| {
            tracing::info!(referral_id = %r.id, case_id = %r.case_id, agency, "referral accepted (kafka)");
            json!({"referral_id": r.id, "case_id": r.case_id, "status": "queued"})
        })
        .collect();
    Ok(accepted)
}

async fn get_referral(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let who = st.auth.from_headers(&headers).await?;
    st.auth.require(&who, Permission::ViewCases)?;
    let scope = who.scope();
    let all = who.role == crate::auth::Role::Admin;
    let agency = who.agency.clone();
    // A referral is its agency's (and an admin's); anyone else gets the 404 of a missing one.
    let view = st
        .store
        .call(move |c| {
            let Some(mut view) = store::referral_view(c, &id)? else {
                return Ok(None);
            };
            if !all && view["agency"] != agency.as_str() {
                return Ok(None);
            }
            if view["status"] == "routed" || view["status"] == "failed" {
                let case_id = view["case_id"].as_str().unwrap_or_default().to_string();
                view["case"] = store::case_view_scoped(c, &case_id, &scope)?.unwrap_or(Value::Null);
            }
            Ok(Some(view))
        })
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no referral with that id",
            )
        })?;
    st.auth
        .audit(
            &who,
            "api",
            "referral.view",
            view["case_id"].as_str(),
            json!({"referral_id": view["referral_id"], "status": view["status"], "with_case": !view["case"].is_null()}),
        )
        .await?;
    Ok(Json(view))
}

async fn get_case(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let who = st.auth.from_headers(&headers).await?;
    st.auth.require(&who, Permission::ViewCases)?;
    let scope = who.scope();
    let case = st
        .store
        .call(move |c| store::case_view_scoped(c, &id, &scope))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no case with that id"))?;
    st.auth
        .audit(
            &who,
            "api",
            "case.view",
            case["case_id"].as_str(),
            json!({"status": case["status"]}),
        )
        .await?;
    Ok(Json(case))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseQuery {
    status: Option<String>,
    jurisdiction: Option<String>,
    language: Option<String>,
    category: Option<String>,
    since: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

const STATUSES: [&str; 5] = ["queued", "fetching", "classified", "routed", "failed"];

async fn list_cases(
    State(st): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<CaseQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let who = st.auth.from_headers(&headers).await?;
    st.auth.require(&who, Permission::ViewCases)?;
    let Query(q) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", m);
    if let Some(s) = &q.status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(bad(format!(
                "status {s:?} is not one of {}",
                STATUSES.join(", ")
            )));
        }
    }
    let jurisdiction = match &q.jurisdiction {
        None => None,
        Some(j) => Some(
            shared::normalize_jurisdiction(j)
                .ok_or_else(|| bad(format!("jurisdiction {j:?} is not a two-letter code")))?,
        ),
    };
    if let Some(c) = &q.category {
        c.parse::<Category>().map_err(|e| bad(e.to_string()))?;
    }
    let since = match &q.since {
        None => None,
        Some(s) => Some(parse_since(s).ok_or_else(|| {
            bad(format!(
                "since {s:?} is not an RFC 3339 time or a date (YYYY-MM-DD)"
            ))
        })?),
    };
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > 500 {
        return Err(bad(format!("limit {limit} must be between 1 and 500")));
    }
    let before = match &q.cursor {
        None => None,
        Some(c) => Some(
            c.split_once('|')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| bad("cursor is not one this server gave out".into()))?,
        ),
    };
    let filter = CaseFilter {
        status: q.status,
        jurisdiction,
        language: q.language,
        category: q.category,
        since,
        before,
        limit,
        scope: who.scope(),
    };
    let asked = json!({
        "status": filter.status, "jurisdiction": filter.jurisdiction, "language": filter.language,
        "category": filter.category, "since": filter.since, "cursor": q.cursor, "limit": limit,
    });
    let cases = st
        .store
        .call(move |c| store::list_cases(c, &filter))
        .await
        .map_err(ApiError::internal)?;
    let ids: Vec<&Value> = cases.iter().map(|c| &c["case_id"]).collect();
    st.auth
        .audit(
            &who,
            "api",
            "case.list",
            None,
            json!({"query": asked, "case_ids": ids}),
        )
        .await?;
    let next_cursor = if cases.len() == limit {
        cases.last().map(|c| {
            format!(
                "{}|{}",
                c["created_at"].as_str().unwrap_or_default(),
                c["case_id"].as_str().unwrap_or_default()
            )
        })
    } else {
        None
    };
    Ok(Json(json!({ "cases": cases, "next_cursor": next_cursor })))
}

pub(crate) fn parse_since(s: &str) -> Option<String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| format!("{d}T00:00:00.000Z"))
}

async fn metrics(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let who = match st.auth.from_headers(&headers).await {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = st.auth.require(&who, Permission::ViewMetrics) {
        return e.into_response();
    }
    // The queue depth is read when it is scraped, not maintained on the claim path.
    match st.store.call(|c| store::count_status(c, "queued")).await {
        Ok(n) => st.metrics.referrals_queued.set(n),
        Err(e) => tracing::warn!(error = %e, "cannot count queued referrals for /metrics"),
    }
    // Legal clocks turn from due to overdue with time alone: counted from the stored decisions.
    let now = store::now();
    match st.store.call(move |c| store::legal_clocks(c, &now)).await {
        Ok(rows) => {
            for (clock, due, overdue) in rows {
                st.metrics
                    .legal_clocks
                    .with_label_values(&[&clock, "due"])
                    .set(due);
                st.metrics
                    .legal_clocks
                    .with_label_values(&[&clock, "overdue"])
                    .set(overdue);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot count legal clocks for /metrics"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        match &st.kafka {
            Some(k) => st.metrics.render() + &k.metrics.render(),
            None => st.metrics.render(),
        },
    )
        .into_response()
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(st): State<AppState>) -> Response {
    let store_ok = st
        .store
        .call(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
        .await
        .is_ok();
    let body = json!({
        "ready": store_ok,
        "store": if store_ok { "ok" } else { "unreachable" },
        "lists": st.engine.lists.current().lists.len(),
        "lists_set_version": st.engine.lists.current().set_version,
        "rules_version": st.engine.rules.rules_version(),
    });
    let status = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
