//! What `route` consumes ([`RouteCase`]) and produces ([`Decision`]); shapes of CONTRACTS.md.

use crate::Category;
use serde::{Deserialize, Serialize};

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
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformInfo {
    pub id: String,
    #[serde(default)]
    pub main_establishment: Option<String>,
    #[serde(default)]
    pub legal_representative: Option<String>,
    #[serde(default)]
    pub offers_services_in_eu: bool,
    #[serde(default)]
    pub local_presence: Vec<String>,
    #[serde(default)]
    pub policy_covers: Vec<Category>,
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
    /// What a human must decide, and why.
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
