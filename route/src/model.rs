//! The data pack in two shapes: the TOML files as written (`*File`, `*Raw`, with spans so the
//! checker can point at a line) and the compiled, validated model the engine reads.

use serde::Deserialize;
use shared::{Category, PlatformInfo};
use std::collections::{BTreeMap, BTreeSet};
use toml::Spanned;

// ------------------------------------------------------------------ shared enums (public)

/// A cell of the jurisdiction × category matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Status {
    /// Criminal.
    C,
    /// Partial: criminal only with an extra element; never passes automatically.
    P,
    /// Not criminal.
    N,
    /// Unknown; treated as not criminal.
    U,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::C => "C",
            Status::P => "P",
            Status::N => "N",
            Status::U => "U",
        }
    }
}

/// Whether a category can ground a removal order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Eligibility {
    Yes,
    /// Only when the case's `tco_danger_assessed` flag is set.
    IfDanger,
    /// Only when the case's `terrorist_threat` flag is set.
    IfTerroristThreat,
    No,
}

/// How a category is treated, from `categories.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryRule {
    pub tco: Eligibility,
    #[serde(default)]
    pub user_conduct: bool,
    #[serde(default)]
    pub political_risk: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameworkKind {
    RemovalOrder,
    Mla,
    PlatformReferral,
    Harmonisation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DcRule {
    /// No dual-criminality test (removal orders, voluntary referrals).
    None,
    /// Budapest art. 25(5) style: compare conduct category by category.
    ConductBased,
    /// The framework lists acts that both parties must criminalise (SCO 2017 style).
    PartiesCriminalise,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reservation {
    Yes,
    No,
    #[default]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgencyKind {
    Iru,
    LawEnforcement,
    Prosecutor,
    Regulator,
}

// ------------------------------------------------------------------ files as written
//
// Fields a reviewer reads but the engine does not (`owner`, `note`, …) are still declared, so
// that `deny_unknown_fields` catches misspellings; hence the `allow(dead_code)` below.

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PackFile {
    pub rules_version: Spanned<String>,
    pub last_reviewed: Spanned<String>,
    #[serde(default)]
    pub owner: Option<String>,
    pub purpose_exemption: String,
    /// Network tables (CSV), relative to the pack directory or absolute.
    #[serde(default)]
    pub networks: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CategoriesFile {
    pub categories: BTreeMap<Category, Spanned<CategoryRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JurisdictionsFile {
    #[serde(default)]
    pub jurisdictions: BTreeMap<Spanned<String>, Spanned<JurisdictionRaw>>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JurisdictionRaw {
    pub name: String,
    pub eu: bool,
    #[serde(default)]
    pub bloc: Option<Spanned<BlocRaw>>,
    #[serde(default)]
    pub frameworks: Vec<Spanned<String>>,
    pub agency: Agency,
    pub domestic_removal_power: bool,
    #[serde(default)]
    pub domestic_blocking: Option<Spanned<Blocking>>,
    #[serde(default)]
    pub refusal_grounds: Vec<RefusalGround>,
    #[serde(default)]
    pub preservation_reservation: Reservation,
    #[serde(default)]
    pub offences: BTreeMap<Category, Spanned<CellRaw>>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BlocRaw {
    pub members: Vec<Spanned<String>>,
}

#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agency {
    pub id: String,
    pub name: String,
    pub kind: AgencyKind,
    /// May issue orders under a `removal_order` framework the state is party to.
    #[serde(default)]
    pub issues_removal_orders: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Blocking {
    pub law: String,
    pub categories: Vec<Category>,
    pub verified: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefusalGround {
    pub id: String,
    pub basis: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CellRaw {
    pub status: Status,
    #[serde(default)]
    pub statute: Option<String>,
    pub verified: bool,
    #[serde(default)]
    pub condition: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FrameworksFile {
    #[serde(default)]
    pub frameworks: BTreeMap<Spanned<String>, Spanned<FrameworkRaw>>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FrameworkRaw {
    pub name: String,
    pub kind: FrameworkKind,
    #[serde(default)]
    pub dual_criminality: Option<DcRule>,
    #[serde(default)]
    pub dc_basis: Option<String>,
    #[serde(default)]
    pub parties: Vec<Spanned<String>>,
    #[serde(default, rename = "except")]
    pub except: Vec<Spanned<String>>,
    #[serde(default)]
    pub unverified_parties: Vec<Spanned<String>>,
    #[serde(default)]
    pub counterpart: Option<Spanned<String>>,
    #[serde(default)]
    pub universal: bool,
    #[serde(default)]
    pub preference: Option<u32>,
    #[serde(default)]
    pub covers: Vec<Category>,
    #[serde(default)]
    pub dc_exception: Option<Spanned<DcException>>,
    #[serde(default)]
    pub excludes_political_offence_for: Vec<Category>,
    #[serde(default)]
    pub service_area: Option<Spanned<String>>,
    #[serde(default)]
    pub political_offence_refusal: Option<String>,
    #[serde(default)]
    pub preservation: Option<String>,
    #[serde(default)]
    pub deadline: Option<Spanned<String>>,
    #[serde(default)]
    pub deadline_basis: Option<String>,
    #[serde(default)]
    pub scrutiny: Option<Spanned<String>>,
    #[serde(default)]
    pub scrutiny_basis: Option<String>,
    #[serde(default)]
    pub retention: Option<Spanned<String>>,
    #[serde(default)]
    pub retention_basis: Option<String>,
    #[serde(default)]
    pub copy_basis: Option<String>,
    #[serde(default)]
    pub no_home_note: Option<String>,
    pub verified: bool,
    #[serde(default)]
    pub note: Option<String>,
}

/// Categories for which a framework bars refusal for lack of dual criminality under a condition
/// (e.g. a penalty threshold) that a human must confirm.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcException {
    pub categories: Vec<Category>,
    pub basis: String,
    pub verified: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlatformsFile {
    #[serde(default)]
    pub platforms: BTreeMap<Spanned<String>, Spanned<PlatformRaw>>,
    #[serde(default)]
    pub hosters: BTreeMap<Spanned<String>, Spanned<HosterRaw>>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HosterRaw {
    pub name: String,
    #[serde(default)]
    pub country: Option<Spanned<String>>,
    #[serde(default)]
    pub asns: Vec<Spanned<u32>>,
    #[serde(default)]
    pub cdn: bool,
    #[serde(default)]
    pub policy_covers: Vec<Category>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub last_reviewed: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlatformRaw {
    pub name: String,
    #[serde(default)]
    pub domains: Vec<Spanned<String>>,
    #[serde(default)]
    pub main_establishment: Option<Spanned<String>>,
    #[serde(default)]
    pub legal_representative: Option<Spanned<String>>,
    #[serde(default)]
    pub service_areas: Vec<Spanned<String>>,
    #[serde(default)]
    pub local_presence: Vec<Spanned<String>>,
    #[serde(default)]
    pub policy_covers: Vec<Category>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub last_reviewed: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

// ------------------------------------------------------------------ compiled model

#[derive(Debug, Clone)]
pub(crate) struct Pack {
    pub rules_version: String,
    pub last_reviewed: String,
    pub purpose_exemption: String,
    pub categories: BTreeMap<Category, CategoryRule>,
    pub jurisdictions: BTreeMap<String, Jurisdiction>,
    /// Every framework, in order of preference (then id), so "the first shared framework of a
    /// kind" is a scan, not a sort or a lookup, per case.
    pub frameworks: Vec<Framework>,
    /// Platforms by id, their state codes already normalised.
    pub platforms: BTreeMap<String, PlatformInfo>,
    /// Lower-cased domain → platform id.
    pub domains: BTreeMap<String, String>,
    /// Hosting companies and CDNs by id.
    pub hosters: BTreeMap<String, HosterInfo>,
    /// AS number → hoster id.
    pub asns: BTreeMap<u32, String>,
    /// IP → country / ASN tables, in the order of `pack.toml`.
    pub networks: Vec<crate::net::NetTable>,
}

/// A hosting company or CDN of the pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HosterInfo {
    pub id: String,
    pub name: String,
    pub country: Option<String>,
    pub cdn: bool,
    pub policy_covers: Vec<Category>,
}

impl Pack {
    /// A state's cell for a category; `None` if the state or the cell is missing (= U).
    pub fn cell(&self, code: &str, c: Category) -> Option<&Cell> {
        self.jurisdictions.get(code)?.cells.get(&c)
    }

    pub fn status(&self, code: &str, c: Category) -> Status {
        self.cell(code, c).map_or(Status::U, |cell| cell.status)
    }

    pub fn rule(&self, c: Category) -> CategoryRule {
        // The loader refuses a pack without all twelve rules.
        self.categories[&c]
    }

    /// The frameworks of one kind, in order of preference.
    pub fn frameworks(&self, kind: FrameworkKind) -> impl Iterator<Item = &Framework> + Clone {
        self.frameworks.iter().filter(move |f| f.kind == kind)
    }

    pub fn is_bloc(&self, code: &str) -> bool {
        self.jurisdictions.get(code).is_some_and(|j| j.bloc)
    }

    /// The request frameworks that link `r` and `h`, in order of preference (a universal one
    /// never links a bloc).
    pub fn linking(&self, r: &str, h: &str) -> impl Iterator<Item = &Framework> + Clone {
        let blocs = self.is_bloc(r) || self.is_bloc(h);
        let (r, h) = (r.to_string(), h.to_string());
        self.frameworks(FrameworkKind::Mla)
            .filter(move |f| f.links(&r, &h) && !(f.universal && blocs))
    }

    /// The request framework between `r` and `h`: the first by preference among treaties both
    /// are verified parties to; failing that, the first that links them only through an
    /// unverified accession; failing that, a universal one.
    pub fn choose_mla(&self, r: &str, h: &str) -> Option<&Framework> {
        let linking = self.linking(r, h);
        linking
            .clone()
            .find(|f| !f.universal && f.unverified_link(r, h).is_none())
            .or_else(|| linking.clone().find(|f| !f.universal))
            .or_else(|| linking.clone().find(|f| f.universal))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Jurisdiction {
    pub name: String,
    /// A bloc (e.g. the Union as a whole), not a state: it refers, but never acts domestically
    /// nor sends or receives requests under a universal framework.
    pub bloc: bool,
    pub agency: Agency,
    pub domestic_removal_power: bool,
    pub domestic_blocking: Option<Blocking>,
    pub refusal_grounds: Vec<RefusalGround>,
    pub preservation_reservation: Reservation,
    pub cells: BTreeMap<Category, Cell>,
}

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub status: Status,
    pub statute: Option<String>,
    pub verified: bool,
    pub condition: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Framework {
    pub id: String,
    pub name: String,
    pub kind: FrameworkKind,
    pub dual_criminality: DcRule,
    pub dc_basis: String,
    /// Parties with blocs expanded to their members, opt-outs removed, unverified ones included.
    pub parties: BTreeSet<String>,
    /// Parties whose accession is unverified (a subset of `parties`).
    pub unverified: BTreeSet<String>,
    pub counterpart: Option<String>,
    pub universal: bool,
    pub preference: u32,
    pub covers: BTreeSet<Category>,
    pub dc_exception: Option<DcException>,
    pub service_area: Option<String>,
    pub excludes_political_offence_for: BTreeSet<Category>,
    pub political_offence_refusal: Option<String>,
    pub preservation: Option<String>,
    pub deadline: Option<String>,
    pub deadline_basis: String,
    pub scrutiny: Option<String>,
    pub scrutiny_basis: String,
    pub retention: Option<String>,
    pub retention_basis: String,
    /// Quoted for the copy of a removal order; the framework's name when the data gives none.
    pub copy_basis: String,
    pub no_home_note: Option<String>,
}

impl Framework {
    pub fn is_party(&self, code: &str) -> bool {
        self.universal || self.parties.contains(code) || self.counterpart.as_deref() == Some(code)
    }

    /// Whether a link between `a` and `b` rests on an unverified accession, and whose.
    pub fn unverified_link<'s>(&'s self, a: &'s str, b: &'s str) -> Option<&'s str> {
        [a, b].into_iter().find(|c| self.unverified.contains(*c))
    }

    /// Whether the framework applies between `a` and `b`. A bloc-to-state agreement applies only
    /// across the bloc, never inside it. (Blocs are kept out of universal frameworks by the
    /// caller, which knows which codes are blocs.)
    pub fn links(&self, a: &str, b: &str) -> bool {
        if self.universal {
            return true;
        }
        match &self.counterpart {
            Some(cp) => {
                (cp == a && self.parties.contains(b)) || (cp == b && self.parties.contains(a))
            }
            None => self.parties.contains(a) && self.parties.contains(b),
        }
    }
}
