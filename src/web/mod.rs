//! The analysts' web page under `/ui/`: server-rendered HTML over the same store, scopes and
//! audit log as the API, plus one small script (the live queue) and one stylesheet of our own,
//! embedded in the binary. No inline script or style, so the CSP can forbid them.
//!
//! ```text
//!   GET /ui/login ─ form (+ pre-session CSRF cookie) ─ POST /ui/login ─ Auth::from_token
//!        └▶ session (src/web/session.rs) ─ cookie triage_session (HttpOnly, SameSite=Strict)
//!   every page: cookie → session → Auth::from_token_id (revoked/expired → signed out)
//!        → Principal::require(permission) → store query with Principal::scope()
//!        → Auth::audit(via "web") for every case view, list and download → pages.rs renders
//! ```
//!
//! | path | permission | shows |
//! |---|---|---|
//! | `/ui/` | Submit or ViewCases | submit form (one URL or a batch) and the live queue |
//! | `/ui/queue.json` | ViewCases | the queue's rows for app.js (polled about once a second) |
//! | `/ui/cases` | ViewCases | case list, filters: status, language, jurisdiction, category, since |
//! | `/ui/cases/{id}` | ViewCases | text with matches marked, language, entries, decision, evidence |
//! | `/ui/cases/{id}/evidence/{capture}` | DownloadEvidence | the WARC file as stored |
//! | `/ui/dashboard` | ViewDashboard | SVG charts over the cases in scope |

mod charts;
mod dashboard;
mod html;
mod pages;
pub mod session;

use crate::auth::{Permission, Principal};
use crate::server::{ApiError, AppState, ReferralIn};
use crate::store::{self, CaseFilter};
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pages::{Chrome, Outcome};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// `[web]`: the web page's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Mark the session cookie `Secure` (set it when the page is served over HTTPS, e.g.
    /// behind a TLS-terminating proxy). Default false: `triage serve` itself speaks plain HTTP.
    pub secure_cookies: bool,
    /// A session unused this long ends (default 720 minutes, 12 hours).
    pub session_idle_minutes: u64,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            secure_cookies: false,
            session_idle_minutes: 720,
        }
    }
}

const APP_JS: &str = include_str!("static/app.js");
const APP_CSS: &str = include_str!("static/app.css");
/// Rows in the live queue.
const QUEUE_ROWS: usize = 25;
/// Rows per page of the case list.
const PAGE_ROWS: usize = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(|| async { see_other("/ui/") }))
        .route("/ui/", get(home))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/submit", post(submit))
        .route("/ui/queue.json", get(queue_json))
        .route("/ui/cases", get(cases))
        .route("/ui/cases/{id}", get(case_page))
        .route("/ui/cases/{id}/evidence/{capture}", get(download))
        .route("/ui/dashboard", get(dashboard_page))
        .route("/ui/static/app.js", get(app_js))
        .route("/ui/static/app.css", get(app_css))
}

/// Whether a request to `/` comes from a browser (it asks for HTML first).
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.split(',').any(|t| t.trim().starts_with("text/html")))
}

/// Layer of `GET /`: a browser (Accept: text/html) goes to the web page, anyone else gets the
/// JSON index.
pub async fn browser_redirect(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if wants_html(req.headers()) {
        see_other("/ui/")
    } else {
        next.run(req).await
    }
}

/// `303 See Other` to `to`.
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

fn html_page(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn app_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        APP_JS,
    )
        .into_response()
}

async fn app_css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        APP_CSS,
    )
        .into_response()
}

/// The status, `Retry-After` and message of an API error, for showing it on a page.
fn error_parts(e: ApiError) -> (StatusCode, Option<HeaderValue>, String) {
    let (status, message) = (e.status(), e.message().to_string());
    let retry = e
        .into_response()
        .headers()
        .get(header::RETRY_AFTER)
        .cloned();
    (status, retry, message)
}

/// `resp` with the `Retry-After` of the error it answers, if any.
fn with_retry(mut resp: Response, retry: Option<HeaderValue>) -> Response {
    if let Some(r) = retry {
        resp.headers_mut().insert(header::RETRY_AFTER, r);
    }
    resp
}

/// An API error as an HTML page with the same status.
async fn error_page(chrome: &Chrome, e: ApiError) -> Response {
    let (status, retry, message) = error_parts(e);
    with_retry(
        html_page(status, pages::error(chrome, status.as_u16(), &message)),
        retry,
    )
}

fn internal(e: anyhow::Error) -> ApiError {
    ApiError::internal(e)
}

/// A signed-in browser.
struct Web {
    who: Principal,
    csrf: String,
    /// The stored key of the session.
    key: String,
}

impl Web {
    fn chrome(&self) -> Chrome {
        Chrome {
            who: Some((
                self.who.agency.clone(),
                self.who.role.to_string(),
                self.who.token_id.clone(),
            )),
            csrf: self.csrf.clone(),
            may_submit: self.who.may(Permission::Submit),
            may_view_cases: self.who.may(Permission::ViewCases),
            may_dashboard: self.who.may(Permission::ViewDashboard),
        }
    }

    /// The permission, or a 403 page (counted as a denial).
    async fn require(&self, st: &AppState, p: Permission) -> Result<(), Response> {
        match st.auth.require(&self.who, p) {
            Ok(()) => Ok(()),
            Err(e) => Err(error_page(&self.chrome(), e).await),
        }
    }

    /// The fields of a posted form that carries this session's CSRF token; else a 403 page.
    // The error is the handler's whole answer, returned at once (as `signed_in`'s is).
    #[allow(clippy::result_large_err)]
    fn form(
        &self,
        form: Result<Form<HashMap<String, String>>, FormRejection>,
    ) -> Result<HashMap<String, String>, Response> {
        let form = form.map(|f| f.0).unwrap_or_default();
        if form
            .get("csrf")
            .is_some_and(|t| session::same_secret(t, &self.csrf))
        {
            return Ok(form);
        }
        Err(html_page(
            StatusCode::FORBIDDEN,
            pages::error(
                &self.chrome(),
                403,
                "The form did not carry this session's CSRF token (it may come from another site, or from before you signed in again). Reload the page and try again.",
            ),
        ))
    }

    /// Writes an audit entry (via `web`) before the page leaves; if it cannot be written the
    /// answer is an error page, never an unaudited view.
    async fn audit(
        &self,
        st: &AppState,
        action: &str,
        case_id: Option<&str>,
        detail: Value,
    ) -> Result<(), Response> {
        match st
            .auth
            .audit(&self.who, "web", action, case_id, detail)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) => Err(error_page(&self.chrome(), e).await),
        }
    }
}

/// The signed-in browser of a form post and the form's fields, if it carries the session's
/// CSRF token: else the redirect to sign in, or a 403 page.
async fn posted(
    st: &AppState,
    headers: &HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<(Web, HashMap<String, String>), Response> {
    let web = signed_in(st, headers, false).await?;
    let form = web.form(form)?;
    Ok((web, form))
}

/// The signed-in browser of a page request, if it holds `p`: else the redirect to sign in,
/// or a 403 page.
async fn page(st: &AppState, headers: &HeaderMap, p: Permission) -> Result<Web, Response> {
    let web = signed_in(st, headers, false).await?;
    web.require(st, p).await?;
    Ok(web)
}

/// The `[web]` settings of this server.
fn settings(st: &AppState) -> WebConfig {
    st.config.web.clone()
}

fn idle_cutoff(st: &AppState) -> String {
    let idle = chrono::Duration::minutes(settings(st).session_idle_minutes as i64);
    (chrono::Utc::now() - idle).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The session of this request. Without one: a redirect to the sign-in page (`json`: a 401
/// JSON answer for the queue script). A session whose token was revoked or expired is ended.
async fn signed_in(st: &AppState, headers: &HeaderMap, json: bool) -> Result<Web, Response> {
    let to_login = |m: &str| {
        if json {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "sign in at /ui/login",
            )
            .into_response()
        } else {
            see_other(&format!("/ui/login?m={m}"))
        }
    };
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| session::cookie_value(v, session::COOKIE).map(str::to_string));
    let Some(cookie) = cookie.filter(|c| c.len() == 64) else {
        return Err(to_login("sign_in"));
    };
    let (now, cutoff) = (store::now(), idle_cutoff(st));
    let touch_before = (chrono::Utc::now() - chrono::Duration::seconds(60))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let found = st
        .store
        .call(move |c| session::lookup(c, &cookie, &now, &cutoff, &touch_before))
        .await;
    let found = match found {
        Ok(Some(f)) => f,
        Ok(None) => return Err(to_login("expired")),
        Err(e) => return Err(error_page(&Chrome::default(), internal(e)).await),
    };
    match st.auth.from_token_id(&found.token_id).await {
        Ok(who) => Ok(Web {
            who,
            csrf: found.csrf,
            key: found.key,
        }),
        Err(e) => {
            if json && e.status() != StatusCode::UNAUTHORIZED {
                // The queue script reads the API's error shape: kind, message, retry_after.
                return Err(e.into_response());
            }
            let (status, retry, message) = error_parts(e);
            if status == StatusCode::UNAUTHORIZED {
                let token_id = found.token_id.clone();
                if let Err(e) = st
                    .store
                    .call(move |c| session::end_for_token(c, &token_id).map(|_| ()))
                    .await
                {
                    tracing::warn!(error = %format!("{e:#}"), "cannot end the sessions of a refused token");
                }
                return Err(to_login("token_refused"));
            }
            let resp = html_page(
                status,
                pages::error(&Chrome::default(), status.as_u16(), &message),
            );
            Err(with_retry(resp, retry))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sign in and out

fn login_message(m: Option<&str>, idle_minutes: u64) -> Option<String> {
    Some(match m? {
        "expired" => format!(
            "Your session has ended ({} without use, or signed out elsewhere). Sign in again.",
            pages::idle_text(idle_minutes)
        ),
        "token_refused" => "Your session has ended: its token was revoked or has expired.".into(),
        "signed_out" => "Signed out.".into(),
        _ => return None,
    })
}

/// The sign-in form, with a fresh pre-session token in a cookie and in the form.
fn login_response(st: &AppState, status: StatusCode, message: Option<&str>) -> Response {
    let pre = match session::random_hex() {
        Ok(p) => p,
        Err(e) => return internal(e).into_response(),
    };
    let idle = settings(st).session_idle_minutes;
    let mut resp = html_page(status, pages::login(&pre, message, idle));
    let cookie = session::set_cookie(
        session::LOGIN_COOKIE,
        &pre,
        Some(3600),
        settings(st).secure_cookies,
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[derive(Deserialize)]
struct LoginQuery {
    m: Option<String>,
}

async fn login_form(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    if signed_in(&st, &headers, false).await.is_ok() {
        return see_other("/ui/");
    }
    let message = login_message(q.m.as_deref(), settings(&st).session_idle_minutes);
    login_response(&st, StatusCode::OK, message.as_deref())
}

async fn login(
    State(st): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return login_response(
            &st,
            StatusCode::BAD_REQUEST,
            Some("The sign-in form was not sent as a form."),
        );
    };
    let pre = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| session::cookie_value(v, session::LOGIN_COOKIE).map(str::to_string));
    let csrf_ok = match (pre, form.get("csrf")) {
        (Some(a), Some(b)) => !a.is_empty() && session::same_secret(&a, b),
        _ => false,
    };
    if !csrf_ok {
        return login_response(
            &st,
            StatusCode::FORBIDDEN,
            Some("The sign-in form had expired or did not come from this page (CSRF check). Try again."),
        );
    }
    let token = form.get("token").map(|t| t.trim()).unwrap_or_default();
    if token.is_empty() {
        return login_response(&st, StatusCode::UNAUTHORIZED, Some("Enter your API token."));
    }
    let who = match st.auth.from_token(token).await {
        Ok(who) => who,
        Err(e) => {
            let (status, retry, message) = error_parts(e);
            let resp = login_response(
                &st,
                status,
                Some(&format!("The token was not accepted: {message}.")),
            );
            return with_retry(resp, retry);
        }
    };
    let (token_id, now, cutoff) = (who.token_id.clone(), store::now(), idle_cutoff(&st));
    let created = st
        .store
        .call(move |c| {
            session::sweep(c, &cutoff)?;
            session::create(c, &token_id, &now)
        })
        .await;
    let (id, _csrf) = match created {
        Ok(x) => x,
        Err(e) => return internal(e).into_response(),
    };
    if let Err(e) = st
        .auth
        .audit(&who, "web", "web.sign_in", None, json!({}))
        .await
    {
        return e.into_response();
    }
    let secure = settings(&st).secure_cookies;
    let mut resp = see_other("/ui/");
    for c in [
        session::set_cookie(session::COOKIE, &id, None, secure),
        session::set_cookie(session::LOGIN_COOKIE, "", Some(0), secure),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

async fn logout(
    State(st): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let web = match posted(&st, &headers, form).await {
        Ok((w, _)) => w,
        Err(r) => return r,
    };
    let key = web.key.clone();
    if let Err(e) = st.store.call(move |c| session::end(c, &key)).await {
        return error_page(&web.chrome(), internal(e)).await;
    }
    if let Err(r) = web.audit(&st, "web.sign_out", None, json!({})).await {
        return r;
    }
    let mut resp = see_other("/ui/login?m=signed_out");
    let c = session::set_cookie(session::COOKIE, "", Some(0), settings(&st).secure_cookies);
    if let Ok(v) = HeaderValue::from_str(&c) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

// ---------------------------------------------------------------------------------------------
// Submit and the live queue

/// The audit detail of a page that lists cases: which page, its filters, and the ids of the
/// cases it showed (as the API's `case.list` records them).
fn listed(page: &str, filters: Option<&pages::Filters>, cases: &[Value]) -> Value {
    let ids: Vec<&Value> = cases.iter().map(|c| &c["case_id"]).collect();
    json!({"page": page, "filters": filters.map(pages::Filters::query), "case_ids": ids})
}

/// The newest cases in scope and a fingerprint of what they show (the queue script polls
/// with it and gets `unchanged` while nothing moved).
async fn recent(st: &AppState, who: &Principal) -> Result<(Vec<Value>, String), ApiError> {
    let filter = CaseFilter {
        limit: QUEUE_ROWS,
        scope: who.scope(),
        ..Default::default()
    };
    let cases = st
        .store
        .call(move |c| store::list_cases(c, &filter))
        .await
        .map_err(internal)?;
    let mut h = Sha256::new();
    for c in &cases {
        for k in ["case_id", "status", "updated_at", "language", "referrals"] {
            h.update(c[k].to_string().as_bytes());
            h.update([0]);
        }
        h.update(c["jurisdictions"].to_string().as_bytes());
        h.update(c["categories"].to_string().as_bytes());
    }
    Ok((cases, hex::encode(&h.finalize()[..12])))
}

async fn home_with(
    st: &AppState,
    web: &Web,
    outcome: Option<Outcome>,
    status: StatusCode,
) -> Response {
    let chrome = web.chrome();
    if !chrome.may_submit && !chrome.may_view_cases {
        return error_page(&chrome, web.who.require(Permission::ViewCases).unwrap_err()).await;
    }
    let (cases, version) = if chrome.may_view_cases {
        match recent(st, &web.who).await {
            Ok(x) => x,
            Err(e) => return error_page(&chrome, e).await,
        }
    } else {
        (vec![], String::new())
    };
    if !cases.is_empty() {
        if let Err(r) = web
            .audit(st, "case.list", None, listed("queue", None, &cases))
            .await
        {
            return r;
        }
    }
    html_page(
        status,
        pages::home(&chrome, outcome.as_ref(), &cases, &version),
    )
}

async fn home(State(st): State<AppState>, headers: HeaderMap) -> Response {
    match signed_in(&st, &headers, false).await {
        Ok(web) => home_with(&st, &web, None, StatusCode::OK).await,
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct QueueQuery {
    v: Option<String>,
}

async fn queue_json(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<QueueQuery>,
) -> Response {
    let web = match signed_in(&st, &headers, true).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    if let Err(e) = st.auth.require(&web.who, Permission::ViewCases) {
        return e.into_response();
    }
    let (cases, version) = match recent(&st, &web.who).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    if q.v.as_deref() == Some(version.as_str()) {
        return Json(json!({"unchanged": true, "version": version})).into_response();
    }
    // Only answers that deliver case data are audited; "unchanged" polls show nothing new.
    if let Err(e) = st
        .auth
        .audit(
            &web.who,
            "web",
            "case.list",
            None,
            listed("queue", None, &cases),
        )
        .await
    {
        return e.into_response();
    }
    Json(json!({"version": version, "cases": cases})).into_response()
}

/// The URLs of the submit form: the single field and every batch line (blank lines and `#`
/// comments skipped), in order.
fn form_urls(form: &HashMap<String, String>) -> Vec<String> {
    let mut urls = Vec::new();
    if let Some(u) = form.get("url").map(|u| u.trim()).filter(|u| !u.is_empty()) {
        urls.push(u.to_string());
    }
    for line in form
        .get("batch")
        .map(String::as_str)
        .unwrap_or_default()
        .lines()
    {
        let l = line.trim();
        if !l.is_empty() && !l.starts_with('#') {
            urls.push(l.to_string());
        }
    }
    urls
}

async fn submit(
    State(st): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let (web, form) = match posted(&st, &headers, form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(r) = web.require(&st, Permission::Submit).await {
        return r;
    }
    let urls = form_urls(&form);
    if urls.is_empty() {
        return home_with(
            &st,
            &web,
            Some(Outcome::Refused(
                "enter a URL, or paste one URL per line".into(),
            )),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let opt = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let batch = urls.len() > 1;
    let items: Vec<ReferralIn> = urls
        .iter()
        .map(|url| ReferralIn {
            url: url.clone(),
            note: opt("note"),
            external_ref: opt("external_ref"),
            categories_hint: vec![],
        })
        .collect();
    match crate::server::submit_referrals(&st, &web.who, "web", items, batch).await {
        Ok(accepted) => {
            home_with(&st, &web, Some(Outcome::Accepted(accepted)), StatusCode::OK).await
        }
        Err(e) => {
            let (status, _, message) = error_parts(e);
            let message = name_the_line(&message, &urls);
            home_with(&st, &web, Some(Outcome::Refused(message)), status).await
        }
    }
}

/// The API names a batch item `referrals[i].field`; the page names the URL (line `i + 1` of
/// what was entered) instead.
fn name_the_line(message: &str, urls: &[String]) -> String {
    let Some(rest) = message.strip_prefix("referrals[") else {
        return message.to_string();
    };
    let Some((i, tail)) = rest.split_once("].") else {
        return message.to_string();
    };
    match i
        .parse::<usize>()
        .ok()
        .and_then(|i| urls.get(i).map(|u| (i, u)))
    {
        Some((i, url)) => format!("URL {} ({url}): {tail}", i + 1),
        None => message.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Cases

const STATUSES: [&str; 5] = ["queued", "fetching", "classified", "routed", "failed"];

async fn cases(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let web = match page(&st, &headers, Permission::ViewCases).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let get = |k: &str| {
        q.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut f = pages::Filters {
        status: get("status"),
        language: get("language"),
        jurisdiction: get("jurisdiction"),
        category: get("category"),
        since: get("since"),
        until: get("until"),
    };
    // A filter that cannot be applied is named and dropped, never silently ignored.
    let mut problems = Vec::new();
    if let Some(s) = &f.status {
        if !STATUSES.contains(&s.as_str()) {
            problems.push(format!(
                "status {s:?} is not one of {}",
                STATUSES.join(", ")
            ));
            f.status = None;
        }
    }
    if let Some(j) = &f.jurisdiction {
        match shared::normalize_jurisdiction(j) {
            Some(n) => f.jurisdiction = Some(n),
            None => {
                problems.push(format!("jurisdiction {j:?} is not a two-letter code"));
                f.jurisdiction = None;
            }
        }
    }
    if let Some(c) = &f.category {
        if let Err(e) = c.parse::<shared::Category>() {
            problems.push(e.to_string());
            f.category = None;
        }
    }
    let since = match &f.since {
        None => None,
        Some(s) => match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => Some(format!("{d}T00:00:00.000Z")),
            Err(_) => {
                problems.push(format!("since {s:?} is not a date (YYYY-MM-DD)"));
                f.since = None;
                None
            }
        },
    };
    // "To" is inclusive: cases created before the next midnight (UTC). A page cursor is
    // always older than that, so it takes over when present.
    let until = match &f.until {
        None => None,
        Some(u) => match chrono::NaiveDate::parse_from_str(u, "%Y-%m-%d") {
            Ok(d) => d
                .succ_opt()
                .map(|next| (format!("{next}T00:00:00.000Z"), String::new())),
            Err(_) => {
                problems.push(format!("to {u:?} is not a date (YYYY-MM-DD)"));
                f.until = None;
                None
            }
        },
    };
    let before = get("cursor")
        .and_then(|c| {
            c.split_once('|')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
        .or(until);
    let scope = web.who.scope();
    let filter = CaseFilter {
        status: f.status.clone(),
        jurisdiction: f.jurisdiction.clone(),
        language: f.language.clone(),
        category: f.category.clone(),
        since,
        before,
        limit: PAGE_ROWS,
        scope: scope.clone(),
    };
    let rows = st
        .store
        .call(move |c| {
            let rows = store::list_cases(c, &filter)?;
            let (languages, jurisdictions) = dashboard::choices(c, &scope)?;
            Ok((rows, languages, jurisdictions))
        })
        .await;
    let (rows, languages, jurisdictions) = match rows {
        Ok(x) => x,
        Err(e) => return error_page(&web.chrome(), internal(e)).await,
    };
    if let Err(r) = web
        .audit(&st, "case.list", None, listed("cases", Some(&f), &rows))
        .await
    {
        return r;
    }
    let next = (rows.len() == PAGE_ROWS)
        .then(|| rows.last())
        .flatten()
        .map(|c| {
            format!(
                "{}|{}",
                c["created_at"].as_str().unwrap_or_default(),
                c["case_id"].as_str().unwrap_or_default()
            )
        });
    let choices = pages::Choices {
        languages,
        jurisdictions,
        categories: shared::Category::ALL
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
    };
    let problem =
        (!problems.is_empty()).then(|| format!("Filter not applied: {}.", problems.join("; ")));
    html_page(
        StatusCode::OK,
        pages::cases(
            &web.chrome(),
            &f,
            &choices,
            &rows,
            next.as_deref(),
            problem.as_deref(),
        ),
    )
}

/// The case if the principal may see it; else a 404 page that reads the same as for a case
/// that does not exist.
async fn visible_case(st: &AppState, web: &Web, id: String) -> Result<Value, Response> {
    let scope = web.who.scope();
    match st
        .store
        .call(move |c| store::case_view_scoped(c, &id, &scope))
        .await
    {
        Ok(Some(case)) => Ok(case),
        Ok(None) => Err(html_page(
            StatusCode::NOT_FOUND,
            pages::error(&web.chrome(), 404, "no case with that id"),
        )),
        Err(e) => Err(error_page(&web.chrome(), internal(e)).await),
    }
}

async fn case_page(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let web = match page(&st, &headers, Permission::ViewCases).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let case = match visible_case(&st, &web, id.clone()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = web
        .audit(
            &st,
            "case.view",
            Some(&id),
            json!({"status": case["status"]}),
        )
        .await
    {
        return r;
    }
    let may_download =
        web.who.may(Permission::DownloadEvidence) && st.engine.preservation.is_some();
    html_page(
        StatusCode::OK,
        pages::case(&web.chrome(), &case, may_download),
    )
}

/// A file name made only of safe characters.
fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

async fn download(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((id, capture_id)): Path<(String, String)>,
) -> Response {
    let web = match page(&st, &headers, Permission::DownloadEvidence).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let case = match visible_case(&st, &web, id.clone()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let not_found = || {
        html_page(
            StatusCode::NOT_FOUND,
            pages::error(&web.chrome(), 404, "no such capture in this case"),
        )
    };
    let Some(cap) = case["preservation"]["captures"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["capture_id"] == capture_id.as_str())
        .cloned()
    else {
        return not_found();
    };
    if !cap["purged_at"].is_null() {
        return html_page(
            StatusCode::GONE,
            pages::error(&web.chrome(), 410, "this capture was purged when its retention ended; the custody log keeps its record"),
        );
    }
    let Some(pres) = &st.engine.preservation else {
        return not_found();
    };
    let file = cap["file"].as_str().unwrap_or_default().to_string();
    let rel = std::path::Path::new(&file);
    // The index names files inside the vault; anything else is refused, not followed.
    if file.is_empty()
        || !rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
    {
        return error_page(
            &web.chrome(),
            internal(anyhow::anyhow!(
                "evidence index names a path outside the vault: {file:?}"
            )),
        )
        .await;
    }
    let path = pres.vault.root().join(rel);
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) => {
            return error_page(
                &web.chrome(),
                internal(anyhow::anyhow!("cannot read {}: {e}", path.display())),
            )
            .await
        }
    };
    let digest = hex::encode(Sha256::digest(&bytes));
    let expected = cap["file_sha256"].as_str().unwrap_or_default();
    if digest != expected {
        // Never hand out a file that no longer matches its record: that is tampering or decay.
        tracing::error!(case_id = %id, capture_id = %capture_id, file = %file, %digest, %expected,
            "evidence file does not match its recorded SHA-256; not served");
        return html_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::error(
                &web.chrome(),
                500,
                "the stored WARC file does not match its recorded SHA-256 and is not served; run `triage evidence verify` and tell the operator",
            ),
        );
    }
    if let Err(r) = web
        .audit(
            &st,
            "evidence.download",
            Some(&id),
            json!({"capture_id": capture_id, "file_sha256": digest, "file_bytes": bytes.len()}),
        )
        .await
    {
        return r;
    }
    let ext = if file.ends_with(".warc.gz") {
        "warc.gz"
    } else {
        "warc"
    };
    let name = format!("{}-{}.{ext}", safe_name(&id), safe_name(&capture_id));
    (
        [
            (header::CONTENT_TYPE, "application/warc".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::HeaderName::from_static("x-content-sha256"), digest),
        ],
        bytes,
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Dashboard

#[derive(Deserialize)]
struct DashQuery {
    days: Option<String>,
}

async fn dashboard_page(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<DashQuery>,
) -> Response {
    let web = match page(&st, &headers, Permission::ViewDashboard).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let days = q
        .days
        .and_then(|d| d.parse::<u32>().ok())
        .filter(|d| (1..=365).contains(d))
        .unwrap_or(30);
    let to = chrono::Utc::now().date_naive();
    let from = to - chrono::Duration::days(i64::from(days) - 1);
    let since = format!("{from}T00:00:00.000Z");
    let scope = web.who.scope();
    let figures = match st
        .store
        .call(move |c| dashboard::figures(c, &scope, &since))
        .await
    {
        Ok(f) => f,
        Err(e) => return error_page(&web.chrome(), internal(e)).await,
    };
    if let Err(r) = web
        .audit(
            &st,
            "dashboard.view",
            None,
            json!({"days": days, "cases": figures.cases}),
        )
        .await
    {
        return r;
    }
    html_page(
        StatusCode::OK,
        pages::dashboard(&web.chrome(), &figures, days, from, to),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_are_told_apart_by_accept() {
        let mut h = HeaderMap::new();
        assert!(!wants_html(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"),
        );
        assert!(wants_html(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!wants_html(&h));
    }

    #[test]
    fn the_form_gives_the_single_url_then_the_batch_lines() {
        let mut f = HashMap::new();
        f.insert("url".to_string(), " http://a.example/ ".to_string());
        f.insert(
            "batch".to_string(),
            "http://b.example/\r\n\n# a comment\n  http://c.example/x  \n".to_string(),
        );
        assert_eq!(
            form_urls(&f),
            vec![
                "http://a.example/",
                "http://b.example/",
                "http://c.example/x"
            ]
        );
        assert!(form_urls(&HashMap::new()).is_empty());
    }

    #[test]
    fn batch_errors_name_the_url() {
        let urls = vec!["http://a.example/".to_string(), "ftp://b".to_string()];
        assert_eq!(
            name_the_line("referrals[1].url: scheme ftp is not allowed", &urls),
            "URL 2 (ftp://b): url: scheme ftp is not allowed"
        );
        assert_eq!(name_the_line("url: bad", &urls), "url: bad");
        assert_eq!(
            name_the_line("referrals[9].url: x", &urls),
            "referrals[9].url: x"
        );
    }

    #[test]
    fn download_names_are_safe() {
        assert_eq!(safe_name("c-1/../x\"y"), "c-1_.._x_y");
    }
}
