//! The HTTP API of CONTRACTS.md. One place ([`ApiError`]) turns errors into status codes and
//! JSON reasons; internals never leak to the caller.

use crate::config::{Agency, Config};
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
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/v1/referrals", post(submit))
        .route("/v1/referrals/{id}", get(get_referral))
        .route("/v1/cases", get(list_cases))
        .route("/v1/cases/{id}", get(get_case))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(crate::api_lists::routes())
        .merge(crate::api_retention::routes())
        .fallback(not_found)
        .with_state(state)
}

/// An error as the caller sees it: a status and `{"error": {"kind", "message"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
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
        }
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
        (
            self.status,
            Json(json!({"error": {"kind": self.kind, "message": self.message}})),
        )
            .into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

async fn index() -> Json<Value> {
    Json(json!({
        "service": "triage",
        "version": env!("CARGO_PKG_VERSION"),
        "endpoints": ["POST /v1/referrals", "GET /v1/referrals/{id}", "GET /v1/cases", "GET /v1/cases/{id}", "POST /v1/cases/{id}/retention", "GET /v1/lists", "POST /v1/lists/reload", "GET /v1/lists/quarantine", "POST /v1/lists/quarantine/{list}/{entry}/release", "GET /metrics", "GET /healthz", "GET /readyz"],
    }))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// The agency behind the request: its bearer token, or the configured default agency when
/// there is none. The body never names the agency.
pub(crate) fn agency<'a>(config: &'a Config, headers: &HeaderMap) -> ApiResult<&'a Agency> {
    let token = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let v = v.to_str().unwrap_or_default();
            match v.strip_prefix("Bearer ") {
                Some(t) => Some(t.trim()),
                None => {
                    return Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "unauthorized",
                        "the Authorization header must be `Bearer <token>`",
                    ))
                }
            }
        }
    };
    config.agency_for(token).ok_or_else(|| {
        let message = if token.is_some() {
            "the token is not recognised"
        } else {
            "a bearer token is required"
        };
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferralIn {
    url: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    external_ref: Option<String>,
    #[serde(default)]
    categories_hint: Vec<Category>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchIn {
    referrals: Vec<ReferralIn>,
}

const MAX_NOTE: usize = 4096;
const MAX_EXTERNAL_REF: usize = 256;

async fn submit(State(st): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match submit_inner(&st, &headers, body).await {
        Ok(r) => r,
        Err(e) => {
            if e.status.is_client_error() {
                st.metrics
                    .referrals_rejected
                    .with_label_values(&[e.kind])
                    .inc();
            }
            e.into_response()
        }
    }
}

async fn submit_inner(st: &AppState, headers: &HeaderMap, body: Body) -> ApiResult<Response> {
    let agency = agency(&st.config, headers)?;
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
    let (items, batch) = if value.get("referrals").is_some() {
        let b: BatchIn =
            serde_json::from_value(value).map_err(|e| invalid(format!("body: {e}")))?;
        if b.referrals.is_empty() {
            return Err(invalid("referrals: the batch is empty".into()));
        }
        if b.referrals.len() > st.config.max_batch {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!(
                    "referrals: {} items; a batch holds at most {}",
                    b.referrals.len(),
                    st.config.max_batch
                ),
            ));
        }
        (b.referrals, true)
    } else {
        let r: ReferralIn =
            serde_json::from_value(value).map_err(|e| invalid(format!("body: {e}")))?;
        (vec![r], false)
    };
    let jurisdiction =
        shared::normalize_jurisdiction(&agency.jurisdiction).expect("validated at start-up");
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
            agency: agency.id.clone(),
            jurisdiction: jurisdiction.clone(),
            note: r.note,
            external_ref: r.external_ref,
            categories_hint: r.categories_hint,
        });
    }
    let count = new.len() as u64;
    if let Some(kafka) = &st.kafka {
        return kafka_accept(st, kafka, new, batch, &agency.id).await;
    }
    let accepted = st
        .store
        .call(move |c| store::insert_referrals(c, &new))
        .await
        .map_err(ApiError::internal)?;
    st.notify.notify_one();
    st.metrics
        .referrals_received
        .with_label_values(&["api"])
        .inc_by(count);
    st.metrics.referrals_deconflicted.inc_by(
        accepted
            .iter()
            .filter(|a| a.already_referred.is_some())
            .count() as u64,
    );
    for a in &accepted {
        tracing::info!(referral_id = %a.referral_id, case_id = %a.case_id, agency = %agency.id, deconflicted = a.already_referred.is_some(), "referral accepted");
    }
    let body = if batch {
        json!({ "referrals": accepted })
    } else {
        serde_json::to_value(&accepted[0]).expect("serialisable")
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// Kafka mode: 202 only once Kafka has acknowledged every referral of the request; else 503
/// (retryable). Deconfliction is the worker's (the case may be on another worker's store).
async fn kafka_accept(
    st: &AppState,
    kafka: &crate::kafka::Ingress,
    new: Vec<NewReferral>,
    batch: bool,
    agency: &str,
) -> ApiResult<Response> {
    kafka
        .submit(&new)
        .await
        .map_err(|m| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "broker_unavailable", m))?;
    st.metrics
        .referrals_received
        .with_label_values(&["api"])
        .inc_by(new.len() as u64);
    let accepted: Vec<Value> = new
        .iter()
        .map(|r| {
            tracing::info!(referral_id = %r.id, case_id = %r.case_id, agency, "referral accepted (kafka)");
            json!({"referral_id": r.id, "case_id": r.case_id, "status": "queued"})
        })
        .collect();
    let body = if batch {
        json!({ "referrals": accepted })
    } else {
        accepted[0].clone()
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

async fn get_referral(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    agency(&st.config, &headers)?;
    let mut view = st
        .store
        .call(move |c| store::referral_view(c, &id))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no referral with that id",
            )
        })?;
    if view["status"] == "routed" || view["status"] == "failed" {
        let case_id = view["case_id"].as_str().unwrap_or_default().to_string();
        let case = st
            .store
            .call(move |c| store::case_view(c, &case_id))
            .await
            .map_err(ApiError::internal)?;
        view["case"] = case.unwrap_or(Value::Null);
    }
    Ok(Json(view))
}

async fn get_case(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    agency(&st.config, &headers)?;
    st.store
        .call(move |c| store::case_view(c, &id))
        .await
        .map_err(ApiError::internal)?
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no case with that id"))
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
    agency(&st.config, &headers)?;
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
    };
    let cases = st
        .store
        .call(move |c| store::list_cases(c, &filter))
        .await
        .map_err(ApiError::internal)?;
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

fn parse_since(s: &str) -> Option<String> {
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

async fn metrics(State(st): State<AppState>) -> Response {
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
