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
//!   domestic action, cross-border request, voluntary referral, no action; with the host
//!   candidates it ranked and the legal clocks its targets start. [`RulePack::explain`] gives
//!   the same decision with a step-by-step trace ([`Explanation`]) for a legal reviewer.
//! - [`RulePack::determine_host`] — what ingest saw (final URL host, resolved address) becomes
//!   the case's [`shared::Host`] through the platform table, the network tables (IP → country,
//!   AS number → hoster or CDN) and the ccTLD (`hosts`, `net`).
//! - [`diff`] — how two packs differ, and how one case's decision changes between them.
//!
//! Data flows one way: TOML and CSV files → `load::analyse` (raw, spanned types in `model` →
//! findings → compiled `Pack`) → `engine::route` (pure, no I/O). The engine names no state,
//! framework or platform: which framework issues orders, which one is tried first for a
//! request, which dual-criminality rule applies, which categories a treaty covers, which clocks
//! run and which codes are blocs are all read from the data, so a legal reviewer changes a cell,
//! runs `triage data check`, and sees decisions change with `triage data diff`.

mod clock;
pub mod diff;
mod engine;
mod explain;
mod hosts;
mod load;
mod model;
mod net;

pub use clock::IsoDuration;
pub use engine::Step;
pub use explain::Explanation;
pub use load::{Finding, PackError, Severity};
pub use model::{CategoryRule, Cell, Eligibility, HosterInfo, Status};
pub use net::{NetInfo, NetKind};

use shared::{normalize_jurisdiction, Category, Decision, Host, PlatformInfo, RouteCase};
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

    /// Routes one case and records why, step by step. The decision is the one [`route`]
    /// gives.
    ///
    /// [`route`]: RulePack::route
    pub fn explain(&self, case: &RouteCase) -> Explanation {
        let (decision, steps) = engine::explain(&self.inner, case);
        Explanation { decision, steps }
    }

    /// The host of a page from what ingest saw: the final URL's host name and the address the
    /// response came from (`ip`, `ip:port` or `[v6]:port`). A known platform's domain gives the
    /// platform; otherwise the site counts as self-hosted and the network tables give its
    /// server country and hoster (a CDN only becomes the addressee of referrals). Every factor
    /// seen is in `Host::candidates`.
    pub fn determine_host(&self, host_name: Option<&str>, addr: Option<&str>) -> Host {
        hosts::determine(&self.inner, host_name, addr)
    }

    /// What the network tables say about an address (fields merged across tables).
    pub fn lookup_ip(&self, addr: &str) -> Option<NetInfo> {
        let ip = hosts::parse_addr(addr)?;
        self.inner.networks.iter().find_map(|t| t.lookup(ip))
    }

    /// A hosting company or CDN of the pack by id.
    pub fn hoster(&self, id: &str) -> Option<&HosterInfo> {
        self.inner.hosters.get(id)
    }

    /// Per state: (code, cells present, cells unverified), for the checker's summary.
    pub fn coverage(&self) -> Vec<(String, usize, usize)> {
        self.inner
            .jurisdictions
            .iter()
            .map(|(c, j)| {
                (
                    c.clone(),
                    j.cells.len(),
                    j.cells.values().filter(|x| !x.verified).count(),
                )
            })
            .collect()
    }

    /// Network table rows loaded, per table.
    pub fn network_rows(&self) -> Vec<(std::path::PathBuf, usize)> {
        self.inner
            .networks
            .iter()
            .map(|t| (t.source.clone(), t.len()))
            .collect()
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
        platform_for(&self.inner, host)
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

    /// Every framework of the pack as (id, name), in order of preference.
    pub fn frameworks(&self) -> Vec<(String, String)> {
        self.inner
            .frameworks
            .iter()
            .map(|f| (f.id.clone(), f.name.clone()))
            .collect()
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

/// The platform a host name belongs to (see [`RulePack::platform_for_host`]).
pub(crate) fn platform_for(pack: &model::Pack, host: &str) -> Option<PlatformInfo> {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let mut candidate = host.as_str();
    // Walk up the labels: a.b.video.example.test, b.video.example.test, video.example.test …
    loop {
        if let Some(id) = pack.domains.get(candidate) {
            return pack.platforms.get(id).cloned();
        }
        candidate = candidate.split_once('.')?.1;
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
