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
    #[serde(default)]
    pub counterpart: Option<Spanned<String>>,
    #[serde(default)]
    pub universal: bool,
    #[serde(default)]
    pub preference: Option<u32>,
    #[serde(default)]
    pub covers: Vec<Category>,
    #[serde(default)]
    pub excludes_political_offence_for: Vec<Category>,
    #[serde(default)]
    pub political_offence_refusal: Option<String>,
    #[serde(default)]
    pub preservation: Option<String>,
    #[serde(default)]
    pub deadline: Option<Spanned<String>>,
    #[serde(default)]
    pub scrutiny: Option<Spanned<String>>,
    #[serde(default)]
    pub copy_basis: Option<String>,
    #[serde(default)]
    pub no_home_note: Option<String>,
    pub verified: bool,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlatformsFile {
    #[serde(default)]
    pub platforms: BTreeMap<Spanned<String>, Spanned<PlatformRaw>>,
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
    pub offers_services_in_eu: bool,
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
    pub fn frameworks(&self, kind: FrameworkKind) -> impl Iterator<Item = &Framework> {
        self.frameworks.iter().filter(move |f| f.kind == kind)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Jurisdiction {
    pub name: String,
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
    pub parties: BTreeSet<String>,
    pub counterpart: Option<String>,
    pub universal: bool,
    pub preference: u32,
    pub covers: BTreeSet<Category>,
    pub excludes_political_offence_for: BTreeSet<Category>,
    pub political_offence_refusal: Option<String>,
    pub preservation: Option<String>,
    pub deadline: Option<String>,
    pub scrutiny: Option<String>,
    /// Quoted for the copy of a removal order; the framework's name when the data gives none.
    pub copy_basis: String,
    pub no_home_note: Option<String>,
}

impl Framework {
    pub fn is_party(&self, code: &str) -> bool {
        self.universal || self.parties.contains(code) || self.counterpart.as_deref() == Some(code)
    }

    /// Whether the framework applies between `a` and `b`. A bloc-to-state agreement applies only
    /// across the bloc, never inside it.
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
