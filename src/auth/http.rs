//! HTTP side of accounts: the middleware every request passes, and the admin endpoints.
//!
//! [`guard`] (outermost layer): refuses an address that failed authentication too often
//! (429 + `Retry-After`, before any handler runs), refuses a declared body over
//! `max_body_bytes` (413), counts every 401 against the caller's address, and puts the security
//! headers (CSP, nosniff, frame denial, no referrer, no-store, COOP, Permissions-Policy) on
//! every response. CORS is off: no `Access-Control-*` header is ever sent unless the request's
//! `Origin` is in `cors_allowed_origins`.
//!
//! | method and path | who | does |
//! |---|---|---|
//! | `GET /v1/admin/tokens` | admin | every token (never a secret) with its state |
//! | `POST /v1/admin/tokens` | admin | `{"agency", "role", "label"?, "expires_in"? \| "expires_at"?}` → 201 with the token (shown once) |
//! | `POST /v1/admin/tokens/{id}/revoke` | admin | revoke now |
//! | `POST /v1/admin/tokens/{id}/rotate` | admin | `{"grace"?: "1h", "expires_in"?}` → 201 with the new token; the old one expires after the grace |
//! | `GET /v1/audit?case_id=&agency=&token_id=&action=&since=&after=&limit=` | admin | audit entries, oldest first, `next_after` to page |

use super::admin::{self, CreateRequest, OpError};
use super::{audit, Permission};
use crate::server::{ApiError, AppState};
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Instant;

pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Paths that need no credentials (probes carry none; they reveal nothing).
fn open_path(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

pub async fn guard(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .filter(|o| st.config.cors_allowed_origins.iter().any(|a| a == o))
        .map(str::to_string);

    // A CORS preflight from an allowed origin.
    if req.method() == Method::OPTIONS
        && origin.is_some()
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return finish(StatusCode::NO_CONTENT.into_response(), origin.as_deref());
    }

    if !open_path(req.uri().path()) {
        if let Some(ip) = &peer {
            if let Some(wait) = st.auth.failures.blocked(ip, Instant::now()) {
                st.metrics
                    .auth_rate_limited
                    .with_label_values(&["address"])
                    .inc();
                let e = ApiError::rate_limited(
                    wait,
                    "too many failed authentications from this address",
                );
                return finish(e.into_response(), origin.as_deref());
            }
        }
    }

    let limit = st.config.max_body_bytes;
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit as u64 {
            let e = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the request body is over {limit} bytes"),
            );
            return finish(e.into_response(), origin.as_deref());
        }
    }

    let resp = next.run(req).await;
    if resp.status() == StatusCode::UNAUTHORIZED {
        if let Some(ip) = &peer {
            // The bucket empties after `failed_auth_per_minute` failures; the answer to this
            // request is the 401 already built.
            let _ = st.auth.failures.take(ip, Instant::now());
        }
    }
    finish(resp, origin.as_deref())
}

/// Security headers, and CORS headers for an allowed origin.
fn finish(mut resp: Response, cors_origin: Option<&str>) -> Response {
    let h = resp.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(h, "content-security-policy", CSP);
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "no-referrer");
    set(h, "cross-origin-opener-policy", "same-origin");
    set(h, "cross-origin-resource-policy", "same-origin");
    set(
        h,
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    );
    // Case data must not sit in shared or browser caches; a handler that serves something
    // cacheable (static assets) sets its own.
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    if let Some(o) = cors_origin {
        if let Ok(v) = HeaderValue::from_str(o) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            set(h, "access-control-allow-methods", "GET, POST");
            set(
                h,
                "access-control-allow-headers",
                "authorization, content-type",
            );
            set(h, "access-control-max-age", "600");
            h.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
    resp
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/tokens", get(list_tokens).post(create_token))
        .route("/v1/admin/tokens/{id}/revoke", post(revoke_token))
        .route("/v1/admin/tokens/{id}/rotate", post(rotate_token))
        .route("/v1/audit", get(read_audit))
}

fn op_error(e: OpError) -> ApiError {
    if e.internal {
        return ApiError::internal(anyhow::anyhow!(e.message));
    }
    let status = if e.kind == "not_found" {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    ApiError::new(status, e.kind, e.message)
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    serde_json::from_value(v).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            format!("body: {e}"),
        )
    })
}

async fn list_tokens(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let who = st.auth.from_headers(&headers).await?;
    st.auth.require(&who, Permission::ManageTokens)?;
    let rows = st
        .store
        .call(super::tokens::list)
        .await
        .map_err(ApiError::internal)?;
    let now = chrono::Utc::now();
    st.auth
        .audit(
            &who,
            "api",
            "token.list",
            None,
            json!({"count": rows.len()}),
        )
        .await?;
    Ok(Json(
        json!({"tokens": rows.iter().map(|r| r.to_json(now)).collect::<Vec<_>>()}),
    ))
}

async fn create_token(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let who = st.auth.from_headers(&headers).await?;
    st.auth.require(&who, Permission::ManageTokens)?;
    let req: CreateRequest = json_body(&body)?;
    let agencies = super::agencies(&st.config);
    let w = who.clone();
    let (row, token) = st
        .store
        .call(move |c| Ok(admin::create(c, &agencies, &w, "api", &req)))
        .await
        .map_err(ApiError::internal)?
        .map_err(op_error)?;
    st.auth.counted(&["token.create"]);
    tracing::info!(by = %who.token_id, token_id = %row.id, agency = %row.agency, role = %row.role, "token created");
    let mut v = row.to_json(chrono::Utc::now());
    v["token"] = token.into();
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

async fn revoke_token(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let who = st.auth.from_headers(&headers).await?;
    st.auth.require(&who, Permission::ManageTokens)?;
    let w = who.clone();
    let (row, changed) = st
        .store
        .call(move |c| Ok(admin::revoke(c, &w, "api", &id)))
        .await
        .map_err(ApiError::internal)?
        .map_err(op_error)?;
    if changed {
        st.auth.counted(&["token.revoke"]);
        tracing::info!(by = %who.token_id, token_id = %row.id, "token revoked");
    }
    let mut v = row.to_json(chrono::Utc::now());
    v["changed"] = changed.into();
    Ok(Json(v))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateIn {
    #[serde(default)]
    grace: Option<String>,
    #[serde(default)]
    expires_in: Option<String>,
}

async fn rotate_token(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let who = st.auth.from_headers(&headers).await?;
    st.auth.require(&who, Permission::ManageTokens)?;
    let req: RotateIn = json_body(&body)?;
    let w = who.clone();
    let r = st
        .store
        .call(move |c| {
            Ok(admin::rotate(
                c,
                &w,
                "api",
                &id,
                req.grace.as_deref(),
                req.expires_in.as_deref(),
            ))
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(op_error)?;
    st.auth.counted(&["token.rotate"]);
    tracing::info!(by = %who.token_id, old = %r.old.id, new = %r.new.id, old_expires_at = %r.old.expires_at, "token rotated");
    let now = chrono::Utc::now();
    let mut v = r.new.to_json(now);
    v["token"] = r.token.into();
    v["previous"] = r.old.to_json(now);
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    case_id: Option<String>,
    agency: Option<String>,
    token_id: Option<String>,
    action: Option<String>,
    since: Option<String>,
    after: Option<i64>,
    limit: Option<usize>,
}

async fn read_audit(
    State(st): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let who = st.auth.from_headers(&headers).await?;
    st.auth.require(&who, Permission::ViewAudit)?;
    let Query(q) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", m);
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(bad(format!("limit {limit} must be between 1 and 1000")));
    }
    let since = match &q.since {
        None => None,
        Some(s) => Some(
            crate::server::parse_since(s)
                .ok_or_else(|| bad(format!("since {s:?} is not an RFC 3339 time or a date")))?,
        ),
    };
    let filter = audit::Filter {
        case_id: q.case_id,
        agency: q.agency,
        token_id: q.token_id,
        action: q.action,
        since,
        after: q.after,
        limit,
    };
    let f = filter.clone();
    let entries = st
        .store
        .call(move |c| audit::query(c, &f))
        .await
        .map_err(ApiError::internal)?;
    // Reading the audit log is itself recorded (after the read, so it is not in its own page).
    st.auth
        .audit(
            &who,
            "api",
            "audit.view",
            filter.case_id.as_deref(),
            json!({"agency": filter.agency, "token_id": filter.token_id, "action": filter.action, "after": filter.after, "returned": entries.len()}),
        )
        .await?;
    let next_after = if entries.len() == limit {
        entries.last().and_then(|e| e["seq"].as_i64())
    } else {
        None
    };
    Ok(Json(json!({"entries": entries, "next_after": next_after})))
}
