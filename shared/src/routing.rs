//! What `route` consumes ([`RouteCase`]) and produces ([`Decision`]); shapes of CONTRACTS.md.
//!
//! Additions to the contract are all optional on input and left out of the output when empty,
//! so a v1 case still parses and a v1 reader still understands a decision: `RouteCase::at`
//! (when the clocks start), `Host::candidates` (what host determination saw),
//! `PlatformInfo::service_areas` (the data-driven form of `offers_services_in_eu`), and on the
//! decision `last_reviewed`, `host_candidates`, `clocks` and each review item's `decide`.

use crate::Category;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

fn is_false(b: &bool) -> bool {
    !*b
}

/// A case as the router sees it: who refers, which categories, and who hosts the content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteCase {
    pub case_id: String,
    pub referring: Referring,
    pub categories: Vec<Category>,
    #[serde(default)]
    pub flags: Flags,
    #[serde(default)]
    pub want_evidence: bool,
    pub host: Host,
    /// When the decision is taken (RFC 3339). Legal clocks start here; without it a clock
    /// carries its duration only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Referring {
    pub jurisdiction: String,
    pub agency: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flags {
    /// The danger element of TCO art. 2(7)(a) was assessed as met (makes glorification
    /// TCO-eligible).
    #[serde(default)]
    pub tco_danger_assessed: bool,
    /// Journalism, research, counter-speech (TCO art. 1(3)).
    #[serde(default)]
    pub purpose_exempt: bool,
    /// The threat is to commit a terrorist offence (makes `threat_violence` TCO-eligible).
    #[serde(default)]
    pub terrorist_threat: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    #[serde(default)]
    pub self_hosted: bool,
    /// The platform, given in full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformInfo>,
    /// Or the platform's id, looked up in the data pack's platforms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_id: Option<String>,
    /// For a self-hosted site: the hosting company that receives referrals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hoster: Option<Hoster>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_country: Option<String>,
    /// What host determination observed (platform table, network table, ccTLD), each with its
    /// factor and confidence. The router adds the ones the fields above imply, ranks them, and
    /// never takes a CDN candidate for the host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<HostCandidate>,
}

/// The connecting factors between content and a state, in the order of precedence the router
/// applies (research note section 4): the first factor that names a state, and is not a CDN, is
/// the host state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostFactor {
    /// The platform's main establishment (curated platform table).
    MainEstablishment,
    /// The platform's legal representative in a bloc where it has no establishment.
    LegalRepresentative,
    /// The hosting company's country of incorporation (network table → provider).
    Hoster,
    /// Where the server's IP address is located (network table).
    ServerIp,
    /// The registrar's country (not observed by the pipeline yet; accepted from a case).
    Registrar,
    /// The country of the domain's country-code TLD: its registry, a hook for the domestic
    /// path of that state only, never the host of a cross-border request.
    Cctld,
}

impl HostFactor {
    pub fn as_str(self) -> &'static str {
        match self {
            HostFactor::MainEstablishment => "main_establishment",
            HostFactor::LegalRepresentative => "legal_representative",
            HostFactor::Hoster => "hoster",
            HostFactor::ServerIp => "server_ip",
            HostFactor::Registrar => "registrar",
            HostFactor::Cctld => "cctld",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    High,
    Medium,
    Low,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::High => "high",
            Confidence::Medium => "medium",
            Confidence::Low => "low",
        }
    }
}

/// One state the content may be connected to, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostCandidate {
    /// ISO code; `None` when the factor was seen but names no state (e.g. an address the
    /// network table does not cover).
    #[serde(default)]
    pub jurisdiction: Option<String>,
    pub factor: HostFactor,
    pub confidence: Confidence,
    /// The address belongs to a content-delivery network: the CDN's location says nothing about
    /// the origin, so this candidate is never the host.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cdn: bool,
    /// Where the candidate comes from, for the reviewer (table row, platform id, TLD).
    #[serde(default)]
    pub source: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformInfo {
    pub id: String,
    #[serde(default)]
    pub main_establishment: Option<String>,
    #[serde(default)]
    pub legal_representative: Option<String>,
    /// Areas (a bloc such as `EU`, or a state) where the platform offers its services; a
    /// removal-order framework applies to providers offering services in its area.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_areas: Vec<String>,
    /// Contract v1 form of `service_areas` containing `EU`; still accepted and honoured.
    #[serde(default, skip_serializing_if = "is_false")]
    pub offers_services_in_eu: bool,
    #[serde(default)]
    pub local_presence: Vec<String>,
    #[serde(default)]
    pub policy_covers: Vec<Category>,
}

/// The area code the contract's `offers_services_in_eu` flag stands for.
pub const EU_AREA: &str = "EU";

impl PlatformInfo {
    /// Whether the platform offers its services in `area` (a bloc or state code, upper case).
    pub fn offers_services_in(&self, area: &str) -> bool {
        (self.offers_services_in_eu && area == EU_AREA)
            || self
                .service_areas
                .iter()
                .any(|a| a.eq_ignore_ascii_case(area))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hoster {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub policy_covers: Vec<Category>,
}

/// The router's answer for one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub case_id: String,
    pub rules_version: String,
    /// When a legal reviewer last signed the data pack off (YYYY-MM-DD).
    #[serde(default)]
    pub last_reviewed: String,
    /// Every state the content is connected to, ranked by precedence; the first that is not a
    /// CDN and not a ccTLD is the host state the decision used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_candidates: Vec<HostCandidate>,
    pub targets: Vec<Target>,
    pub dual_criminality: Vec<DualCriminality>,
    pub review: Vec<ReviewItem>,
    /// Categories that cannot be acted on, each with the reason (e.g. not an offence in the
    /// referring state). Nothing leaves the decision without a trace.
    #[serde(default)]
    pub dropped: Vec<Dropped>,
    /// Notes that concern the case as a whole (e.g. TCO art. 16(2): every member state has
    /// jurisdiction).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Legal clocks the targets start: a removal order's deadline, the copy's scrutiny window,
    /// the retention of removed content.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clocks: Vec<LegalClock>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// The provider must remove or disable the content by then (removal order).
    RemovalDeadline,
    /// The state receiving the copy of a removal order may scrutinise it until then.
    CopyScrutiny,
    /// Removed content and related data are kept at least until then.
    Retention,
}

impl ClockKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockKind::RemovalDeadline => "removal_deadline",
            ClockKind::CopyScrutiny => "copy_scrutiny",
            ClockKind::Retention => "retention",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalClock {
    pub clock: ClockKind,
    /// The state whose authority the clock concerns: the issuer for a deadline or retention,
    /// the state receiving the copy for scrutiny.
    pub jurisdiction: String,
    /// ISO 8601 duration (`PT1H`, `PT72H`, `P6M`).
    pub duration: String,
    /// The provision the clock comes from.
    pub basis: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// `starts_at` plus `duration`; absent when the case gave no time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Path {
    RemovalOrder,
    MlaRequest,
    PlatformReferral,
    Domestic,
    NoAction,
}

impl Path {
    pub fn as_str(self) -> &'static str {
        match self {
            Path::RemovalOrder => "removal_order",
            Path::MlaRequest => "mla_request",
            Path::PlatformReferral => "platform_referral",
            Path::Domestic => "domestic",
            Path::NoAction => "no_action",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DomesticKind {
    Removal,
    AccessBlocking,
    EvidenceOnly,
    Investigation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub path: Path,
    /// The state whose authority acts next: the issuer of a removal order, the requested state
    /// of an MLA request, the referring state for a referral or a domestic action.
    pub jurisdiction: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addressee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    pub categories: Vec<Category>,
    /// ISO 8601 duration, e.g. `PT1H` for a removal order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_to: Option<String>,
    /// For `domestic` targets only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<DomesticKind>,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DcResult {
    Pass,
    Fail,
    Review,
    NotRequired,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DualCriminality {
    pub category: Category,
    pub requested: String,
    pub result: DcResult,
    pub basis: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// What a human must decide, as a question.
    #[serde(default)]
    pub decide: String,
    /// Why the router could not decide it, quoting the statutes and rules involved.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dropped {
    pub category: Category,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_example_case_parses() {
        let json = r#"{
          "case_id": "c1",
          "referring": {"jurisdiction": "FR", "agency": "fr-pharos"},
          "categories": ["public_provocation"],
          "flags": {"tco_danger_assessed": false, "purpose_exempt": false, "terrorist_threat": false},
          "want_evidence": false,
          "host": {
            "self_hosted": false,
            "platform": {"id": "examplevideo", "main_establishment": "IE", "legal_representative": null,
                         "offers_services_in_eu": true, "local_presence": ["IN"],
                         "policy_covers": ["public_provocation", "recruitment_solicitation"]},
            "hoster": {"country": "US", "policy_covers": ["public_provocation"]},
            "server_country": "US"
          }
        }"#;
        let case: RouteCase = serde_json::from_str(json).unwrap();
        assert_eq!(case.categories, vec![Category::PublicProvocation]);
        assert_eq!(
            case.host.platform.unwrap().main_establishment.as_deref(),
            Some("IE")
        );
        assert!(serde_json::from_str::<RouteCase>(r#"{"case_id":"x","referring":{"jurisdiction":"FR","agency":"a"},"categories":[],"host":{},"bogus":1}"#).is_err());
    }
}
