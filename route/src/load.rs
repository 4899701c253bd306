//! Reading and checking the data pack. One pass produces every finding (errors and warnings,
//! each with file and line); the pack is built only when there is no error.

use crate::model::*;
use shared::{normalize_jurisdiction, Category, PlatformInfo};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

pub const PACK_FILE: &str = "pack.toml";
pub const CATEGORIES_FILE: &str = "categories.toml";
pub const JURISDICTIONS_FILE: &str = "jurisdictions.toml";
pub const FRAMEWORKS_FILE: &str = "frameworks.toml";
pub const PLATFORMS_FILE: &str = "platforms.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem in the data pack, printed as `file:line: severity: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub severity: Severity,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "{}:{}: {}: {}",
                self.file.display(),
                line,
                self.severity,
                self.message
            ),
            None => write!(
                f,
                "{}: {}: {}",
                self.file.display(),
                self.severity,
                self.message
            ),
        }
    }
}

/// The pack was refused; every error is listed (warnings are not).
#[derive(Debug, Clone, thiserror::Error)]
pub enum PackError {
    #[error("{} error(s) in the legal data pack:\n{}", .0.len(), lines(.0))]
    Invalid(Vec<Finding>),
}

impl PackError {
    pub fn findings(&self) -> &[Finding] {
        match self {
            PackError::Invalid(f) => f,
        }
    }
}

fn lines(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("  {f}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A file's text, kept to turn byte spans into lines.
struct Src {
    path: PathBuf,
    text: String,
}

impl Src {
    fn line(&self, span: &Range<usize>) -> usize {
        shared::lists::line_of(&self.text, span.start)
    }
}

#[derive(Default)]
struct Sink {
    findings: Vec<Finding>,
}

impl Sink {
    fn push(&mut self, src: &Src, span: Option<Range<usize>>, severity: Severity, message: String) {
        self.findings.push(Finding {
            file: src.path.clone(),
            line: span.map(|s| src.line(&s)),
            severity,
            message,
        });
    }
    fn err(&mut self, src: &Src, span: Option<Range<usize>>, message: impl Into<String>) {
        self.push(src, span, Severity::Error, message.into());
    }
    fn warn(&mut self, src: &Src, span: Option<Range<usize>>, message: impl Into<String>) {
        self.push(src, span, Severity::Warning, message.into());
    }
    fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    dir: &Path,
    name: &str,
    sink: &mut Sink,
) -> Option<(Src, T)> {
    let path = dir.join(name);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            sink.findings.push(Finding {
                file: path,
                line: None,
                severity: Severity::Error,
                message: format!("cannot read: {e}"),
            });
            return None;
        }
    };
    let src = Src { path, text };
    match toml::from_str::<T>(&src.text) {
        Ok(v) => Some((src, v)),
        Err(e) => {
            sink.err(&src, e.span(), e.message().to_string());
            None
        }
    }
}

/// A jurisdiction code as written in the pack: two letters, `UK` read as `GB`.
fn code(src: &Src, sink: &mut Sink, raw: &Spanned<String>, what: &str) -> Option<String> {
    let c = normalize_jurisdiction(raw.get_ref());
    if c.is_none() {
        sink.err(
            src,
            Some(raw.span()),
            format!(
                "{what} {:?} is not a two-letter ISO 3166-1 code",
                raw.get_ref()
            ),
        );
    }
    c
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// ISO 8601 duration, loosely: `P…` with at least one designator (`PT1H`, `PT72H`, `P6M`).
fn is_duration(s: &str) -> bool {
    s.len() >= 3
        && s.starts_with('P')
        && s[1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b"TYMWDHS".contains(&b))
        && s.bytes().any(|b| b.is_ascii_digit())
}

fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && !s.ends_with('.')
        && !s.contains("..")
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}

/// A table's entries in the order they appear in the file (maps sort by key), so "defined twice"
/// points at the second occurrence and findings come out in reading order.
fn in_file_order<V>(
    m: &BTreeMap<Spanned<String>, Spanned<V>>,
) -> Vec<(&Spanned<String>, &Spanned<V>)> {
    let mut v: Vec<_> = m.iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

/// A framework's parties and counterpart as normalised codes, each with its span.
struct FwParties {
    universal: bool,
    mentions: Vec<(String, Range<usize>)>,
}

/// Reads and checks every file. Returns the pack when there is no error.
pub(crate) fn analyse(dir: &Path) -> (Option<Pack>, Vec<Finding>) {
    let mut sink = Sink::default();
    let pack_f = parse::<PackFile>(dir, PACK_FILE, &mut sink);
    let cats_f = parse::<CategoriesFile>(dir, CATEGORIES_FILE, &mut sink);
    let jur_f = parse::<JurisdictionsFile>(dir, JURISDICTIONS_FILE, &mut sink);
    let fw_f = parse::<FrameworksFile>(dir, FRAMEWORKS_FILE, &mut sink);
    let pl_f = parse::<PlatformsFile>(dir, PLATFORMS_FILE, &mut sink);

    // pack.toml
    if let Some((src, p)) = &pack_f {
        if p.rules_version.get_ref().trim().is_empty() {
            sink.err(src, Some(p.rules_version.span()), "rules_version is empty");
        }
        if !is_date(p.last_reviewed.get_ref()) {
            sink.err(
                src,
                Some(p.last_reviewed.span()),
                "last_reviewed must be a date, YYYY-MM-DD",
            );
        }
    }

    // categories.toml
    let mut categories = BTreeMap::new();
    if let Some((src, c)) = &cats_f {
        for cat in Category::ALL {
            match c.categories.get(&cat) {
                None => sink.err(
                    src,
                    None,
                    format!("category {cat} is missing: every one of the twelve needs a rule"),
                ),
                Some(rule) => {
                    let r = *rule.get_ref();
                    if r.user_conduct && r.tco != Eligibility::No {
                        sink.err(
                            src,
                            Some(rule.span()),
                            format!("{cat} is user conduct, so it can never ground a removal order: tco must be \"no\""),
                        );
                    }
                    categories.insert(cat, r);
                }
            }
        }
    }
    let user_conduct = |c: &Category| categories.get(c).is_some_and(|r| r.user_conduct);

    // Codes first, so frameworks and platforms can be checked against them.
    let mut jur_codes: BTreeMap<String, Range<usize>> = BTreeMap::new();
    // The states with a valid code, in file order, so later passes need not parse codes again.
    let mut jur_entries = Vec::new();
    if let Some((src, j)) = &jur_f {
        for (key, jur) in in_file_order(&j.jurisdictions) {
            if let Some(c) = code(src, &mut sink, key, "jurisdiction code") {
                jur_entries.push((c.clone(), key, jur));
                if jur_codes.insert(c.clone(), key.span()).is_some() {
                    sink.err(
                        src,
                        Some(key.span()),
                        format!("jurisdiction {c} is defined twice (UK and GB are the same state)"),
                    );
                }
            }
        }
    }

    // frameworks.toml
    let mut frameworks = BTreeMap::new();
    // Party lists as normalised codes, to check that jurisdictions list their frameworks back.
    let mut fw_parties: BTreeMap<String, FwParties> = BTreeMap::new();
    if let Some((src, f)) = &fw_f {
        for (key, fw) in in_file_order(&f.frameworks) {
            let id = key.get_ref();
            let span = Some(key.span());
            let raw = fw.get_ref();
            if !is_id(id) {
                sink.err(
                    src,
                    span.clone(),
                    format!("framework id {id:?} must be lower case letters, digits, '_' or '-'"),
                );
            }
            let mut parties = BTreeSet::new();
            let mut mentions = Vec::new();
            for p in &raw.parties {
                if let Some(c) = code(src, &mut sink, p, "party") {
                    mentions.push((c.clone(), p.span()));
                    if jur_f.is_some() && !jur_codes.contains_key(&c) {
                        sink.err(
                            src,
                            Some(p.span()),
                            format!("{id}: unknown party {c} (not in {JURISDICTIONS_FILE})"),
                        );
                    }
                    if !parties.insert(c.clone()) {
                        sink.warn(src, Some(p.span()), format!("{id}: party {c} listed twice"));
                    }
                }
            }
            let counterpart = raw.counterpart.as_ref().and_then(|cp| {
                let c = code(src, &mut sink, cp, "counterpart")?;
                mentions.push((c.clone(), cp.span()));
                if jur_f.is_some() && !jur_codes.contains_key(&c) {
                    sink.err(
                        src,
                        Some(cp.span()),
                        format!("{id}: unknown counterpart {c} (not in {JURISDICTIONS_FILE})"),
                    );
                }
                Some(c)
            });
            if raw.universal && (!raw.parties.is_empty() || counterpart.is_some()) {
                sink.err(
                    src,
                    span.clone(),
                    format!("{id}: a universal framework has no party list"),
                );
            }
            if !raw.universal && raw.parties.is_empty() {
                sink.err(
                    src,
                    span.clone(),
                    format!("{id}: no parties (list them, or set universal = true)"),
                );
            }
            let dc = raw.dual_criminality.unwrap_or(DcRule::None);
            match raw.kind {
                FrameworkKind::Mla => {
                    if dc == DcRule::None {
                        sink.err(src, span.clone(), format!("{id}: an mla framework needs a dual_criminality rule (conduct_based or parties_criminalise)"));
                    }
                    if raw.dc_basis.is_none() {
                        sink.err(src, span.clone(), format!("{id}: dc_basis is required for an mla framework (it is quoted in every result)"));
                    }
                }
                FrameworkKind::RemovalOrder | FrameworkKind::PlatformReferral => {
                    if dc != DcRule::None {
                        sink.err(src, span.clone(), format!("{id}: a {:?} framework has no dual-criminality test; use dual_criminality = \"none\"", raw.kind));
                    }
                }
                FrameworkKind::Harmonisation => {}
            }
            if matches!(
                raw.kind,
                FrameworkKind::Mla | FrameworkKind::RemovalOrder | FrameworkKind::PlatformReferral
            ) && raw.preference.is_none()
            {
                sink.err(
                    src,
                    span.clone(),
                    format!(
                        "{id}: preference is required (order among frameworks of the same kind)"
                    ),
                );
            }
            if raw.kind == FrameworkKind::RemovalOrder && raw.deadline.is_none() {
                sink.err(
                    src,
                    span.clone(),
                    format!("{id}: a removal_order framework needs a deadline (e.g. \"PT1H\")"),
                );
            }
            for d in [&raw.deadline, &raw.scrutiny].into_iter().flatten() {
                if !is_duration(d.get_ref()) {
                    sink.err(
                        src,
                        Some(d.span()),
                        format!(
                            "{id}: {:?} is not an ISO 8601 duration (e.g. \"PT1H\")",
                            d.get_ref()
                        ),
                    );
                }
            }
            if !raw.verified {
                sink.warn(
                    src,
                    span.clone(),
                    format!("framework {id}: parties and rules unverified"),
                );
            }
            fw_parties.insert(
                id.clone(),
                FwParties {
                    universal: raw.universal,
                    mentions,
                },
            );
            frameworks.insert(
                id.clone(),
                Framework {
                    id: id.clone(),
                    name: raw.name.clone(),
                    kind: raw.kind,
                    dual_criminality: dc,
                    dc_basis: raw.dc_basis.clone().unwrap_or_default(),
                    parties,
                    counterpart,
                    universal: raw.universal,
                    preference: raw.preference.unwrap_or(u32::MAX),
                    covers: raw.covers.iter().copied().collect(),
                    excludes_political_offence_for: raw
                        .excludes_political_offence_for
                        .iter()
                        .copied()
                        .collect(),
                    political_offence_refusal: raw.political_offence_refusal.clone(),
                    preservation: raw.preservation.clone(),
                    deadline: raw.deadline.as_ref().map(|d| d.get_ref().clone()),
                    scrutiny: raw.scrutiny.as_ref().map(|d| d.get_ref().clone()),
                    copy_basis: raw.copy_basis.clone().unwrap_or_else(|| raw.name.clone()),
                    no_home_note: raw.no_home_note.clone(),
                },
            );
        }
    }

    // jurisdictions.toml
    let removal_party = |c: &str| {
        frameworks
            .values()
            .any(|f: &Framework| f.kind == FrameworkKind::RemovalOrder && f.is_party(c))
    };
    let mut jurisdictions = BTreeMap::new();
    if let Some((src, _)) = &jur_f {
        for (c, key, jur) in jur_entries {
            let raw = jur.get_ref();
            let jspan = Some(key.span());
            let mut listed = BTreeSet::new();
            for fw in &raw.frameworks {
                let id = fw.get_ref();
                listed.insert(id.clone());
                if fw_f.is_none() {
                    continue;
                }
                match fw_parties.get(id) {
                    None => sink.err(src, Some(fw.span()), format!("{c}: unknown framework {id:?} (not in {FRAMEWORKS_FILE})")),
                    Some(fp) if !fp.universal && !fp.mentions.iter().any(|(p, _)| *p == c) => sink.err(
                        src,
                        Some(fw.span()),
                        format!("{c} lists framework {id}, but {id} does not list {c} among its parties"),
                    ),
                    _ => {}
                }
            }
            // The other direction: a framework naming a state that does not list it back.
            if let Some((fsrc, _)) = &fw_f {
                for (id, fp) in &fw_parties {
                    for (_, span) in fp.mentions.iter().filter(|(p, _)| *p == c) {
                        if !listed.contains(id) {
                            sink.err(
                                fsrc,
                                Some(span.clone()),
                                format!("{id} lists {c} as a party, but {c} does not list {id} in its frameworks"),
                            );
                        }
                    }
                }
            }
            let removal_party = removal_party(&c);
            if raw.agency.issues_removal_orders && !removal_party {
                sink.warn(src, jspan.clone(), format!("{c}: agency may issue removal orders but {c} is party to no removal_order framework"));
            }
            if raw.eu != removal_party {
                sink.warn(
                    src,
                    jspan.clone(),
                    format!(
                        "{c}: eu = {} but {c} is {}party to a removal_order framework",
                        raw.eu,
                        if removal_party { "" } else { "not " }
                    ),
                );
            }
            if let Some(b) = &raw.domestic_blocking {
                for cat in &b.get_ref().categories {
                    if user_conduct(cat) {
                        sink.err(src, Some(b.span()), format!("{c}: domestic_blocking lists {cat}, which is user conduct and never blocked"));
                    }
                }
                if !b.get_ref().verified {
                    sink.warn(
                        src,
                        Some(b.span()),
                        format!("{c}: domestic_blocking ({}) unverified", b.get_ref().law),
                    );
                }
            }
            let mut cells = BTreeMap::new();
            for (cat, cell) in &raw.offences {
                let r = cell.get_ref();
                let span = Some(cell.span());
                let statute = r
                    .statute
                    .as_ref()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty());
                if matches!(r.status, Status::C | Status::P) && statute.is_none() {
                    sink.err(
                        src,
                        span.clone(),
                        format!("{c} {cat}: status {} needs a statute", r.status.as_str()),
                    );
                }
                if r.status == Status::P && r.condition.is_none() {
                    sink.warn(src, span.clone(), format!("{c} {cat}: status P without a condition (what extra element is needed?)"));
                }
                if !r.verified {
                    sink.warn(
                        src,
                        span.clone(),
                        format!("{c} {cat}: cell {} unverified", r.status.as_str()),
                    );
                }
                cells.insert(
                    *cat,
                    Cell {
                        status: r.status,
                        statute,
                        verified: r.verified,
                        condition: r.condition.clone(),
                        note: r.note.clone(),
                    },
                );
            }
            if cells.is_empty() {
                sink.warn(
                    src,
                    jspan.clone(),
                    format!("{c}: no offence cells; every category is U"),
                );
            } else {
                for cat in Category::ALL {
                    if !cells.contains_key(&cat) {
                        sink.warn(
                            src,
                            jspan.clone(),
                            format!("{c}: no cell for {cat}; treated as U"),
                        );
                    }
                }
            }
            jurisdictions.insert(
                c,
                Jurisdiction {
                    name: raw.name.clone(),
                    agency: raw.agency.clone(),
                    domestic_removal_power: raw.domestic_removal_power,
                    domestic_blocking: raw.domestic_blocking.as_ref().map(|b| b.get_ref().clone()),
                    refusal_grounds: raw.refusal_grounds.clone(),
                    preservation_reservation: raw.preservation_reservation,
                    cells,
                },
            );
        }
    }

    // platforms.toml
    let mut platforms = BTreeMap::new();
    let mut domains: BTreeMap<String, String> = BTreeMap::new();
    if let Some((src, p)) = &pl_f {
        for (key, pl) in in_file_order(&p.platforms) {
            let id = key.get_ref();
            let raw = pl.get_ref();
            if !is_id(id) {
                sink.err(
                    src,
                    Some(key.span()),
                    format!("platform id {id:?} must be lower case letters, digits, '_' or '-'"),
                );
            }
            for d in &raw.domains {
                let name = d.get_ref().trim_end_matches('.').to_ascii_lowercase();
                if !is_domain(&name) {
                    sink.err(
                        src,
                        Some(d.span()),
                        format!("{id}: {:?} is not a host name", d.get_ref()),
                    );
                } else if let Some(other) = domains.insert(name.clone(), id.clone()) {
                    sink.err(
                        src,
                        Some(d.span()),
                        format!("{id}: domain {name} already belongs to {other}"),
                    );
                }
            }
            let state = |s: &Spanned<String>, what: &str, sink: &mut Sink| {
                let c = code(src, sink, s, what)?;
                if jur_f.is_some() && !jur_codes.contains_key(&c) {
                    sink.warn(src, Some(s.span()), format!("{id}: {what} {c} is not in {JURISDICTIONS_FILE}; it counts as a state the router knows nothing about"));
                }
                Some(c)
            };
            let main = raw
                .main_establishment
                .as_ref()
                .and_then(|s| state(s, "main_establishment", &mut sink));
            let rep = raw
                .legal_representative
                .as_ref()
                .and_then(|s| state(s, "legal_representative", &mut sink));
            let local: Vec<String> = raw
                .local_presence
                .iter()
                .filter_map(|s| state(s, "local_presence", &mut sink))
                .collect();
            if rep.is_some() && main.as_deref().is_some_and(removal_party) {
                sink.warn(src, Some(key.span()), format!("{id}: a legal representative is for providers with no establishment in the Union; the main establishment wins"));
            }
            for cat in &raw.policy_covers {
                if user_conduct(cat) {
                    sink.warn(src, Some(key.span()), format!("{id}: policy_covers lists {cat}, which is user conduct and never referred"));
                }
            }
            platforms.insert(
                id.clone(),
                PlatformInfo {
                    id: id.clone(),
                    main_establishment: main,
                    legal_representative: rep,
                    offers_services_in_eu: raw.offers_services_in_eu,
                    local_presence: local,
                    policy_covers: raw.policy_covers.clone(),
                },
            );
        }
    }

    // Reading order: by file, then line (cross-file checks report out of order otherwise).
    sink.findings
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    if sink.has_errors() {
        return (None, sink.findings);
    }
    let (Some((_, pf)), Some(_), Some(_), Some(_), Some(_)) = (pack_f, cats_f, jur_f, fw_f, pl_f)
    else {
        return (None, sink.findings);
    };
    // By id already; a stable sort on preference keeps the id order among equals.
    let mut frameworks: Vec<Framework> = frameworks.into_values().collect();
    frameworks.sort_by_key(|f| f.preference);
    let pack = Pack {
        rules_version: pf.rules_version.into_inner(),
        last_reviewed: pf.last_reviewed.into_inner(),
        purpose_exemption: pf.purpose_exemption,
        categories,
        jurisdictions,
        frameworks,
        platforms,
        domains,
    };
    (Some(pack), sink.findings)
}
