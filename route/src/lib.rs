//! A Case becomes a Decision: the legal data pack and the rules engine that applies it.
//!
//! Map of the crate:
//!
//! - [`RulePack`] — the legal data pack (`fixtures/legal/`: `pack.toml`, `categories.toml`,
//!   `jurisdictions.toml`, `frameworks.toml`, `platforms.toml`), read and checked once by
//!   [`RulePack::load`], then cheap to clone and share between threads.
//! - [`RulePack::check`] — every problem in a pack as a [`Finding`] (`file:line: severity:
//!   message`); unverified cells are warnings, anything that would make routing wrong is an
//!   error. `load` refuses a pack with errors ([`PackError`]).
//! - [`RulePack::route`] — a [`shared::RouteCase`] in, a [`shared::Decision`] out, by the seven
//!   steps of ROUTING.md: purpose exemption, the referring state's own law, removal order,
//!   domestic action, cross-border request, voluntary referral, no action.
//!
//! Data flows one way: TOML files → `load::analyse` (raw, spanned types in `model` → findings
//! → compiled `Pack`) → `engine::route` (pure, no I/O). The engine names no state, framework or
//! platform: which framework issues orders, which one is tried first for a request, which
//! dual-criminality rule applies and which categories a treaty covers are all read from the data,
//! so a legal reviewer changes a cell, runs `triage data check`, and sees decisions change.

mod engine;
mod load;
mod model;

pub use load::{Finding, PackError, Severity};
pub use model::{CategoryRule, Cell, Eligibility, Status};

use shared::{normalize_jurisdiction, Category, Decision, PlatformInfo, RouteCase};
use std::path::Path;
use std::sync::Arc;

/// The loaded, validated legal data pack. Cloning shares the data.
#[derive(Debug, Clone)]
pub struct RulePack {
    inner: Arc<model::Pack>,
}

impl RulePack {
    /// Reads and validates the pack in `dir`; refuses it with every error (file and line) if
    /// anything is invalid. Warnings (e.g. unverified cells) do not stop loading.
    pub fn load(dir: &Path) -> Result<RulePack, PackError> {
        let (pack, findings) = load::analyse(dir);
        match pack {
            Some(p) => Ok(RulePack { inner: Arc::new(p) }),
            None => Err(PackError::Invalid(
                findings
                    .into_iter()
                    .filter(|f| f.severity == Severity::Error)
                    .collect(),
            )),
        }
    }

    /// Every finding in the pack in `dir`, errors and warnings, in file order.
    pub fn check(dir: &Path) -> Vec<Finding> {
        load::analyse(dir).1
    }

    /// Routes one case. Pure: the same pack and case always give the same decision.
    pub fn route(&self, case: &RouteCase) -> Decision {
        engine::route(&self.inner, case)
    }

    pub fn rules_version(&self) -> &str {
        &self.inner.rules_version
    }

    pub fn last_reviewed(&self) -> &str {
        &self.inner.last_reviewed
    }

    /// A platform of the pack by id.
    pub fn platform(&self, id: &str) -> Option<PlatformInfo> {
        self.inner.platforms.get(id).cloned()
    }

    /// The platform a host name belongs to: one of its domains exactly, or a subdomain of one
    /// (case-insensitive, trailing dot ignored). The longest matching domain wins.
    pub fn platform_for_host(&self, host: &str) -> Option<PlatformInfo> {
        let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
        let mut candidate = host.as_str();
        // Walk up the labels: a.b.video.example.test, b.video.example.test, video.example.test …
        loop {
            if let Some(id) = self.inner.domains.get(candidate) {
                return self.platform(id);
            }
            candidate = candidate.split_once('.')?.1;
        }
    }

    /// Whether the pack knows this state (`UK` counts as `GB`).
    pub fn jurisdiction_known(&self, code: &str) -> bool {
        normalize_jurisdiction(code).is_some_and(|c| self.inner.jurisdictions.contains_key(&c))
    }

    /// The states of the pack, as stored (ISO codes, `GB` for the United Kingdom).
    pub fn jurisdictions(&self) -> Vec<String> {
        self.inner.jurisdictions.keys().cloned().collect()
    }

    /// A state's name, e.g. `GB` → "United Kingdom".
    pub fn jurisdiction_name(&self, code: &str) -> Option<&str> {
        let c = normalize_jurisdiction(code)?;
        self.inner.jurisdictions.get(&c).map(|j| j.name.as_str())
    }

    /// The platform ids of the pack.
    pub fn platform_ids(&self) -> Vec<String> {
        self.inner.platforms.keys().cloned().collect()
    }

    /// A state's cell for a category; `None` if the state or the cell is missing (= U).
    pub fn cell(&self, jurisdiction: &str, category: Category) -> Option<&Cell> {
        self.inner
            .cell(&normalize_jurisdiction(jurisdiction)?, category)
    }

    /// A state's status for a category; `U` when unknown.
    pub fn status(&self, jurisdiction: &str, category: Category) -> Status {
        normalize_jurisdiction(jurisdiction).map_or(Status::U, |c| self.inner.status(&c, category))
    }

    /// How a category is treated (removal-order eligibility, user conduct, political risk).
    pub fn category(&self, category: Category) -> CategoryRule {
        self.inner.rule(category)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn _assert_send_sync_clone<T: Send + Sync + Clone>() {}

    #[test]
    fn rule_pack_is_send_sync_clone() {
        _assert_send_sync_clone::<RulePack>();
    }
}
