//! Accounts, roles and the audit log.
//!
//! Data flow: a request carries `Authorization: Bearer <token>`; [`Auth::from_headers`] hashes
//! the token, finds its row in the `tokens` table (same SQLite file as the store, see
//! [`tokens`]), refuses it when unknown, expired or revoked (401), takes one request from the
//! token's bucket ([`limits`], 429 with `Retry-After` when empty), and returns a [`Principal`]:
//! the token's public id, its agency, the agency's jurisdiction (from the config, never from the
//! request) and its [`Role`]. Handlers then ask [`Principal::require`] for a [`Permission`] and
//! hand [`Principal::scope`] to the store so that lists and case views only ever contain what
//! the principal may see. Every view and change of a case goes through [`Auth::audit`] (or
//! [`audit::append`] inside the store transaction of the change) before the response leaves:
//! an append-only, hash-linked table ([`audit`]). [`http`] holds the middleware (security
//! headers, CORS, body limit, failed-authentication limit per address) and the admin endpoints
//! (`/v1/admin/tokens…`, `/v1/audit`).

pub mod admin;
pub mod audit;
pub mod http;
pub mod limits;
pub mod tokens;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::server::ApiError;
use crate::store::Store;
use axum::http::{header, HeaderMap, StatusCode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a token may do; see [`Principal::may`] for the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Submitter,
    Analyst,
    Partner,
    Operator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Submitter,
        Role::Analyst,
        Role::Partner,
        Role::Operator,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Submitter => "submitter",
            Role::Analyst => "analyst",
            Role::Partner => "partner",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("role {s:?} is not one of submitter, analyst, partner, operator, admin")
            })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// submitter, analyst, admin
    Submit,
    /// submitter (own referrals only), analyst, partner, admin (the scope decides which)
    ViewCases,
    /// analyst (cases its agency referred), admin
    ExtendRetention,
    /// analyst, partner, admin (of cases in scope)
    DownloadEvidence,
    /// analyst, partner, admin (figures over the cases in scope)
    ViewDashboard,
    /// operator, admin (`/metrics`)
    ViewMetrics,
    /// The loaded lists and the quarantine (`GET /v1/lists…`): analyst, partner, operator,
    /// admin — provenance and counts, no case data.
    ViewLists,
    /// admin (reload, quarantine release)
    ManageLists,
    /// admin
    ManageTokens,
    /// admin
    ViewAudit,
}

impl Permission {
    /// Every permission, in declaration order (the tests walk the role × permission matrix).
    #[cfg(test)]
    pub const ALL: [Permission; 10] = [
        Permission::Submit,
        Permission::ViewCases,
        Permission::ExtendRetention,
        Permission::DownloadEvidence,
        Permission::ViewDashboard,
        Permission::ViewMetrics,
        Permission::ViewLists,
        Permission::ManageLists,
        Permission::ManageTokens,
        Permission::ViewAudit,
    ];
}

/// Which cases a principal may see; store queries take it so paging stays correct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// admin
    All,
    /// submitter: cases with a referral of its agency
    OwnReferrals { agency: String },
    /// analyst: its agency's referrals OR cases routed to its jurisdiction
    Agency {
        agency: String,
        jurisdiction: String,
    },
    /// partner: cases whose decision routes to (or copies) its jurisdiction
    Routed { jurisdiction: String },
    /// operator
    None,
}

/// Fails closed: a filter built without a scope sees nothing.
impl Default for Scope {
    fn default() -> Scope {
        Scope::None
    }
}

impl Scope {
    /// A SQL condition on a row of `cases` (aliased or named `cases`, column names unqualified
    /// except through `case_col`), with its bound arguments appended to `args` as `?N`.
    /// `case_col` is how the query names the case id column (e.g. `cases.id`).
    pub fn sql(&self, case_col: &str, jur_col: &str, args: &mut Vec<String>) -> String {
        let mut bind = |v: String| {
            args.push(v);
            format!("?{}", args.len())
        };
        match self {
            Scope::All => "1".into(),
            Scope::None => "0".into(),
            Scope::OwnReferrals { agency } => format!(
                "EXISTS (SELECT 1 FROM referrals sr WHERE sr.case_id = {case_col} AND sr.agency = {})",
                bind(agency.clone())
            ),
            Scope::Routed { jurisdiction } => {
                format!("instr({jur_col}, {}) > 0", bind(format!(",{jurisdiction},")))
            }
            Scope::Agency {
                agency,
                jurisdiction,
            } => {
                let a = bind(agency.clone());
                let j = bind(format!(",{jurisdiction},"));
                format!(
                    "(EXISTS (SELECT 1 FROM referrals sr WHERE sr.case_id = {case_col} AND sr.agency = {a}) OR instr({jur_col}, {j}) > 0)"
                )
            }
        }
    }

    /// The agency whose referrals this scope shows in full (notes, external references);
    /// `None` with [`Scope::All`] means every referral is shown in full.
    pub fn own_agency(&self) -> Option<&str> {
        match self {
            Scope::OwnReferrals { agency } | Scope::Agency { agency, .. } => Some(agency),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Principal {
    /// Public id of the token (never the secret); `cli:<user>` for the admin command line.
    pub token_id: String,
    pub agency: String,
    /// From the agency in the config.
    pub jurisdiction: String,
    pub role: Role,
}

impl Principal {
    pub fn may(&self, p: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match p {
            Submit => matches!(self.role, Submitter | Analyst | Admin),
            ViewCases => matches!(self.role, Submitter | Analyst | Partner | Admin),
            ExtendRetention => matches!(self.role, Analyst | Admin),
            DownloadEvidence | ViewDashboard => matches!(self.role, Analyst | Partner | Admin),
            ViewMetrics => matches!(self.role, Operator | Admin),
            ViewLists => matches!(self.role, Analyst | Partner | Operator | Admin),
            ManageLists | ManageTokens | ViewAudit => self.role == Admin,
        }
    }

    /// 403 `forbidden` naming the role and what it may not do.
    pub fn require(&self, p: Permission) -> Result<(), ApiError> {
        if self.may(p) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "a {} token (agency {}) may not {}",
                    self.role,
                    self.agency,
                    match p {
                        Permission::Submit => "submit referrals",
                        Permission::ViewCases => "view cases",
                        Permission::ExtendRetention => "change retention",
                        Permission::DownloadEvidence => "download evidence",
                        Permission::ViewDashboard => "view the dashboard",
                        Permission::ViewMetrics => "read the metrics",
                        Permission::ViewLists => "view the lists",
                        Permission::ManageLists => "manage the lists",
                        Permission::ManageTokens => "manage tokens",
                        Permission::ViewAudit => "read the audit log",
                    }
                ),
            ))
        }
    }

    pub fn scope(&self) -> Scope {
        match self.role {
            Role::Admin => Scope::All,
            Role::Submitter => Scope::OwnReferrals {
                agency: self.agency.clone(),
            },
            Role::Analyst => Scope::Agency {
                agency: self.agency.clone(),
                jurisdiction: self.jurisdiction.clone(),
            },
            Role::Partner => Scope::Routed {
                jurisdiction: self.jurisdiction.clone(),
            },
            Role::Operator => Scope::None,
        }
    }

    /// The admin command line: filesystem access to the database is the credential.
    pub fn cli(agency: &str, jurisdiction: &str) -> Principal {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        Principal {
            token_id: format!("cli:{user}"),
            agency: agency.to_string(),
            jurisdiction: jurisdiction.to_string(),
            role: Role::Admin,
        }
    }
}

/// Why a request was not authenticated; the metric label and the 401 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    Missing,
    Malformed,
    Unknown,
    Expired,
    Revoked,
    UnknownAgency,
}

impl Denial {
    pub fn label(self) -> &'static str {
        match self {
            Denial::Missing => "missing",
            Denial::Malformed => "malformed",
            Denial::Unknown => "unknown",
            Denial::Expired => "expired",
            Denial::Revoked => "revoked",
            Denial::UnknownAgency => "unknown_agency",
        }
    }
    fn message(self) -> &'static str {
        match self {
            Denial::Missing => "a bearer token is required (Authorization: Bearer <token>)",
            Denial::Malformed => "the Authorization header must be `Bearer <token>`",
            Denial::Unknown => "the token is not recognised",
            Denial::Expired => "the token has expired; ask an admin for a new one",
            Denial::Revoked => "the token was revoked",
            Denial::UnknownAgency => "the token's agency is no longer configured",
        }
    }
}

/// How often `last_used_at` is written per token (a write is an fsync; once a minute is
/// plenty for "is this token still in use").
const LAST_USED_EVERY: Duration = Duration::from_secs(60);

/// Lives in `AppState` as `pub auth: Arc<auth::Auth>`.
pub struct Auth {
    store: Store,
    /// agency id → jurisdiction (normalised), from the config.
    agencies: HashMap<String, String>,
    metrics: Arc<Metrics>,
    buckets: limits::Buckets,
    /// Failed authentications per remote address (see [`http::guard`]).
    pub(crate) failures: limits::Buckets,
    last_used: Mutex<HashMap<String, Instant>>,
}

// `from_*` take `&self`: they read the token table and the rate limits this instance holds.
#[allow(clippy::wrong_self_convention)]
impl Auth {
    /// `store` must have the tables of [`init`].
    pub fn new(config: &Config, store: Store, metrics: Arc<Metrics>) -> Auth {
        Auth {
            store,
            agencies: agencies(config),
            metrics,
            buckets: limits::Buckets::new(config.limits.requests_per_second, config.limits.burst),
            failures: limits::Buckets::new(
                f64::from(config.limits.failed_auth_per_minute) / 60.0,
                config.limits.failed_auth_per_minute,
            ),
            last_used: Mutex::new(HashMap::new()),
        }
    }

    /// `Authorization: Bearer <token>`: 401 "unauthorized" when missing/unknown/expired/revoked,
    /// 429 "rate_limited" (with retry_after seconds) over the token's rate.
    pub async fn from_headers(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        let token = match bearer(headers) {
            Ok(t) => t,
            Err(d) => return Err(self.deny(d)),
        };
        self.from_token(token).await
    }

    /// The principal of a token (web sign-in), rate limit included.
    pub async fn from_token(&self, token: &str) -> Result<Principal, ApiError> {
        let t = token.to_string();
        let row = self
            .store
            .call(move |c| tokens::find_by_token(c, &t))
            .await
            .map_err(ApiError::internal)?;
        self.admit(row).await
    }

    /// Web sessions re-check the token on each request (revoked/expired → 401).
    pub async fn from_token_id(&self, token_id: &str) -> Result<Principal, ApiError> {
        let id = token_id.to_string();
        let row = self
            .store
            .call(move |c| tokens::find_by_id(c, &id))
            .await
            .map_err(ApiError::internal)?;
        self.admit(row).await
    }

    async fn admit(&self, row: Option<tokens::TokenRow>) -> Result<Principal, ApiError> {
        let Some(row) = row else {
            return Err(self.deny(Denial::Unknown));
        };
        let now = chrono::Utc::now();
        if row.revoked_at.is_some() {
            return Err(self.deny(Denial::Revoked));
        }
        if row.expired_at(now) {
            return Err(self.deny(Denial::Expired));
        }
        let Some(jurisdiction) = self.agencies.get(&row.agency) else {
            return Err(self.deny(Denial::UnknownAgency));
        };
        if let Err(wait) = self.buckets.take(&row.id, Instant::now()) {
            self.metrics
                .auth_rate_limited
                .with_label_values(&["token"])
                .inc();
            return Err(ApiError::rate_limited(
                wait,
                format!("token {} is over its request rate", row.id),
            ));
        }
        self.touch(&row.id).await;
        Ok(Principal {
            token_id: row.id,
            agency: row.agency,
            jurisdiction: jurisdiction.clone(),
            role: row.role,
        })
    }

    /// Records the token's last use, at most once a minute per token. A failure here is
    /// logged, not fatal: it is bookkeeping, not the audit trail.
    async fn touch(&self, id: &str) {
        let now = Instant::now();
        {
            let mut seen = self.last_used.lock().unwrap_or_else(|e| e.into_inner());
            if seen
                .get(id)
                .is_some_and(|t| now.duration_since(*t) < LAST_USED_EVERY)
            {
                return;
            }
            seen.insert(id.to_string(), now);
        }
        let id = id.to_string();
        if let Err(e) = self
            .store
            .call(move |c| tokens::touch(c, &id, &crate::store::now()))
            .await
        {
            tracing::warn!(error = %format!("{e:#}"), "cannot record a token's last use");
        }
    }

    /// Counts a refusal and builds its 401.
    pub fn deny(&self, d: Denial) -> ApiError {
        self.metrics
            .auth_denials
            .with_label_values(&[d.label()])
            .inc();
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", d.message())
    }

    /// Counts a 403 (the handler already built it with [`Principal::require`]).
    pub fn forbidden(&self, e: ApiError) -> ApiError {
        self.metrics
            .auth_denials
            .with_label_values(&["forbidden"])
            .inc();
        e
    }

    /// [`Principal::require`], counted as a denial when it fails.
    pub fn require(&self, who: &Principal, p: Permission) -> Result<(), ApiError> {
        who.require(p).map_err(|e| self.forbidden(e))
    }

    /// Appends to the audit log before the response is sent; an audit failure is a 500, never an
    /// unaudited view. `action` like "case.view", "case.list", "referral.submit", "referral.view",
    /// "retention.extend", "evidence.download", "token.create", "lists.reload"; `via` = "api"|"web"|"cli".
    pub async fn audit(
        &self,
        who: &Principal,
        via: &str,
        action: &str,
        case_id: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<(), ApiError> {
        let entry = audit::Entry::new(who, via, action, case_id, detail);
        let action = entry.action.clone();
        self.store
            .call(move |c| audit::with_entries(c, std::slice::from_ref(&entry), |_| Ok(())))
            .await
            .map_err(|e| {
                self.metrics.audit_failures.inc();
                ApiError::internal(e.context("cannot write the audit log"))
            })?;
        self.counted(&[action.as_str()]);
        Ok(())
    }

    /// Counts entries written by [`audit::append`] in a caller's own transaction.
    pub fn counted(&self, actions: &[&str]) {
        for a in actions {
            self.metrics
                .audit_entries
                .with_label_values(&[audit::action_label(a)])
                .inc();
        }
    }
}

/// The agency id → jurisdiction map of the config.
pub fn agencies(config: &Config) -> HashMap<String, String> {
    config
        .agencies
        .iter()
        .map(|a| {
            (
                a.id.clone(),
                shared::normalize_jurisdiction(&a.jurisdiction).expect("validated at start-up"),
            )
        })
        .collect()
}

/// The token of `Authorization: Bearer <token>`.
pub fn bearer(headers: &HeaderMap) -> Result<&str, Denial> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Err(Denial::Missing);
    };
    let v = v.to_str().map_err(|_| Denial::Malformed)?;
    let (scheme, token) = v.split_once(' ').ok_or(Denial::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Denial::Malformed);
    }
    let token = token.trim();
    if token.is_empty() || token.len() > 512 {
        return Err(Denial::Malformed);
    }
    Ok(token)
}

/// Creates the `tokens` and `audit` tables (idempotent).
pub fn init(conn: &rusqlite::Connection) -> anyhow::Result<()> {
    tokens::init(conn)?;
    audit::init(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests;
