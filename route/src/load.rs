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

fn is_duration(s: &str) -> bool {
    crate::clock::IsoDuration::parse(s).is_some()
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

/// A framework's party mentions as normalised codes, each with the span that names it (a bloc
/// member is named by the bloc's entry in the list).
struct FwParties {
    universal: bool,
    mentions: Vec<(String, Range<usize>)>,
}

/// At most this many problems are reported per network table (a converted vendor export can
/// have thousands of rows in a format the header misdescribes).
const MAX_NET_FINDINGS: usize = 50;

/// Reads and checks every file. Returns the pack when there is no error.
pub(crate) fn analyse(dir: &Path) -> (Option<Pack>, Vec<Finding>) {
    let mut sink = Sink::default();
    let pack_f = parse::<PackFile>(dir, PACK_FILE, &mut sink);
    let cats_f = parse::<CategoriesFile>(dir, CATEGORIES_FILE, &mut sink);
    let jur_f = parse::<JurisdictionsFile>(dir, JURISDICTIONS_FILE, &mut sink);
    let fw_f = parse::<FrameworksFile>(dir, FRAMEWORKS_FILE, &mut sink);
    let pl_f = parse::<PlatformsFile>(dir, PLATFORMS_FILE, &mut sink);

    // pack.toml, and the network tables it names
    let mut networks = Vec::new();
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
        for n in &p.networks {
            let path = dir.join(n.get_ref());
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    sink.err(
                        src,
                        Some(n.span()),
                        format!("network table {}: cannot read: {e}", path.display()),
                    );
                    continue;
                }
            };
            let (table, problems) = crate::net::NetTable::parse(path.clone(), &text);
            for pr in problems.iter().take(MAX_NET_FINDINGS) {
                sink.findings.push(Finding {
                    file: path.clone(),
                    line: Some(pr.line),
                    severity: Severity::Error,
                    message: pr.message.clone(),
                });
            }
            if problems.len() > MAX_NET_FINDINGS {
                sink.findings.push(Finding {
                    file: path.clone(),
                    line: None,
                    severity: Severity::Error,
                    message: format!(
                        "… and {} more problem(s) not shown",
                        problems.len() - MAX_NET_FINDINGS
                    ),
                });
            }
            if table.is_empty() && problems.is_empty() {
                sink.warn(
                    src,
                    Some(n.span()),
                    format!("network table {} has no rows", path.display()),
                );
            }
            networks.push(table);
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

    // Codes first, so frameworks and platforms can be checked against them; blocs with their
    // members, so a framework can name a bloc for all its members.
    let mut jur_codes: BTreeMap<String, Range<usize>> = BTreeMap::new();
    let mut blocs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
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
                if let Some(b) = &jur.get_ref().bloc {
                    let mut members = BTreeSet::new();
                    for m in &b.get_ref().members {
                        if let Some(mc) = code(src, &mut sink, m, "bloc member") {
                            if mc == c {
                                sink.err(
                                    src,
                                    Some(m.span()),
                                    format!("bloc {c} lists itself as a member"),
                                );
                            } else if !members.insert(mc.clone()) {
                                sink.warn(
                                    src,
                                    Some(m.span()),
                                    format!("bloc {c}: member {mc} listed twice"),
                                );
                            }
                        }
                    }
                    if members.is_empty() {
                        sink.err(src, Some(b.span()), format!("bloc {c} has no members"));
                    }
                    blocs.insert(c, members);
                }
            }
        }
    }
    let known = |c: &str| jur_f.is_none() || jur_codes.contains_key(c);

    // frameworks.toml
    let mut frameworks = BTreeMap::new();
    // Party lists as normalised codes, to check that jurisdictions list their frameworks back.
    let mut fw_parties: BTreeMap<String, FwParties> = BTreeMap::new();
    let mut fw_lines: BTreeMap<String, usize> = BTreeMap::new();
    if let Some((src, f)) = &fw_f {
        for (key, fw) in in_file_order(&f.frameworks) {
            let id = key.get_ref();
            let span = Some(key.span());
            fw_lines.insert(id.clone(), src.line(&key.span()));
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
            // Members reached through a bloc, for the opt-out check.
            let mut via_bloc: BTreeSet<String> = BTreeSet::new();
            let mut add_party =
                |c: String,
                 sp: Range<usize>,
                 sink: &mut Sink,
                 parties: &mut BTreeSet<String>,
                 mentions: &mut Vec<(String, Range<usize>)>| {
                    if let Some(members) = blocs.get(&c) {
                        for m in members {
                            via_bloc.insert(m.clone());
                            parties.insert(m.clone());
                            if jur_codes.contains_key(m) {
                                mentions.push((m.clone(), sp.clone()));
                            }
                        }
                        return;
                    }
                    mentions.push((c.clone(), sp.clone()));
                    if !known(&c) {
                        sink.err(
                            src,
                            Some(sp),
                            format!("{id}: unknown party {c} (not in {JURISDICTIONS_FILE})"),
                        );
                    } else if !parties.insert(c.clone()) {
                        sink.warn(src, Some(sp), format!("{id}: party {c} listed twice"));
                    }
                };
            for p in &raw.parties {
                if let Some(c) = code(src, &mut sink, p, "party") {
                    add_party(c, p.span(), &mut sink, &mut parties, &mut mentions);
                }
            }
            let mut unverified = BTreeSet::new();
            for p in &raw.unverified_parties {
                if let Some(c) = code(src, &mut sink, p, "unverified party") {
                    if blocs.contains_key(&c) {
                        sink.err(src, Some(p.span()), format!("{id}: a bloc ({c}) cannot be an unverified party; list its members"));
                        continue;
                    }
                    if parties.contains(&c) {
                        sink.err(
                            src,
                            Some(p.span()),
                            format!(
                                "{id}: {c} is listed both as a party and as an unverified party"
                            ),
                        );
                        continue;
                    }
                    add_party(c.clone(), p.span(), &mut sink, &mut parties, &mut mentions);
                    sink.warn(src, Some(p.span()), format!("{id}: {c}'s party status is unverified; requests relying on it go to review"));
                    unverified.insert(c);
                }
            }
            for e in &raw.except {
                if let Some(c) = code(src, &mut sink, e, "except") {
                    if !via_bloc.contains(&c) {
                        sink.err(src, Some(e.span()), format!("{id}: except lists {c}, which is not a member of a bloc among the parties"));
                    }
                    parties.remove(&c);
                    mentions.retain(|(m, _)| *m != c);
                }
            }
            let counterpart = raw.counterpart.as_ref().and_then(|cp| {
                let c = code(src, &mut sink, cp, "counterpart")?;
                mentions.push((c.clone(), cp.span()));
                if !known(&c) {
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
            if let Some(x) = &raw.dc_exception {
                if raw.kind != FrameworkKind::Mla {
                    sink.err(
                        src,
                        Some(x.span()),
                        format!("{id}: dc_exception only makes sense for an mla framework"),
                    );
                }
                if !x.get_ref().verified {
                    sink.warn(
                        src,
                        Some(x.span()),
                        format!("{id}: dc_exception unverified"),
                    );
                }
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
            let service_area = raw.service_area.as_ref().and_then(|a| {
                let c = code(src, &mut sink, a, "service_area")?;
                if !known(&c) {
                    sink.err(
                        src,
                        Some(a.span()),
                        format!("{id}: service_area {c} is not in {JURISDICTIONS_FILE}"),
                    );
                }
                Some(c)
            });
            if raw.kind == FrameworkKind::RemovalOrder {
                if raw.deadline.is_none() {
                    sink.err(
                        src,
                        span.clone(),
                        format!("{id}: a removal_order framework needs a deadline (e.g. \"PT1H\")"),
                    );
                }
                if service_area.is_none() && raw.service_area.is_none() {
                    sink.err(src, span.clone(), format!("{id}: a removal_order framework needs a service_area (the area where a provider must offer services to be reached)"));
                }
            }
            for d in [&raw.deadline, &raw.scrutiny, &raw.retention]
                .into_iter()
                .flatten()
            {
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
            let text = |t: &Option<String>| t.clone().unwrap_or_else(|| raw.name.clone());
            frameworks.insert(
                id.clone(),
                Framework {
                    id: id.clone(),
                    name: raw.name.clone(),
                    kind: raw.kind,
                    dual_criminality: dc,
                    dc_basis: raw.dc_basis.clone().unwrap_or_default(),
                    parties,
                    unverified,
                    counterpart,
                    universal: raw.universal,
                    preference: raw.preference.unwrap_or(u32::MAX),
                    covers: raw.covers.iter().copied().collect(),
                    dc_exception: raw.dc_exception.as_ref().map(|x| x.get_ref().clone()),
                    service_area,
                    excludes_political_offence_for: raw
                        .excludes_political_offence_for
                        .iter()
                        .copied()
                        .collect(),
                    political_offence_refusal: raw.political_offence_refusal.clone(),
                    preservation: raw.preservation.clone(),
                    deadline: raw.deadline.as_ref().map(|d| d.get_ref().clone()),
                    deadline_basis: text(&raw.deadline_basis),
                    scrutiny: raw.scrutiny.as_ref().map(|d| d.get_ref().clone()),
                    scrutiny_basis: text(&raw.scrutiny_basis),
                    retention: raw.retention.as_ref().map(|d| d.get_ref().clone()),
                    retention_basis: text(&raw.retention_basis),
                    copy_basis: text(&raw.copy_basis),
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
            let is_bloc = raw.bloc.is_some();
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
            if is_bloc {
                if raw.domestic_removal_power || raw.domestic_blocking.is_some() {
                    sink.err(src, jspan.clone(), format!("{c} is a bloc: it has no domestic removal power or blocking law (its members do)"));
                }
            } else if raw.eu != removal_party {
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
                    bloc: is_bloc,
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

    // platforms.toml: platforms, then hosting companies and CDNs
    let mut platforms = BTreeMap::new();
    let mut domains: BTreeMap<String, String> = BTreeMap::new();
    let mut hosters = BTreeMap::new();
    let mut asns: BTreeMap<u32, String> = BTreeMap::new();
    if let Some((src, p)) = &pl_f {
        let state = |id: &str, s: &Spanned<String>, what: &str, sink: &mut Sink| {
            let c = code(src, sink, s, what)?;
            if jur_f.is_some() && !jur_codes.contains_key(&c) {
                sink.warn(src, Some(s.span()), format!("{id}: {what} {c} is not in {JURISDICTIONS_FILE}; it counts as a state the router knows nothing about"));
            }
            Some(c)
        };
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
            let main = raw
                .main_establishment
                .as_ref()
                .and_then(|s| state(id, s, "main_establishment", &mut sink));
            let rep = raw
                .legal_representative
                .as_ref()
                .and_then(|s| state(id, s, "legal_representative", &mut sink));
            let local: Vec<String> = raw
                .local_presence
                .iter()
                .filter_map(|s| state(id, s, "local_presence", &mut sink))
                .collect();
            let areas: Vec<String> = raw
                .service_areas
                .iter()
                .filter_map(|s| state(id, s, "service_areas", &mut sink))
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
                    service_areas: areas,
                    offers_services_in_eu: false,
                    local_presence: local,
                    policy_covers: raw.policy_covers.clone(),
                },
            );
        }
        for (key, h) in in_file_order(&p.hosters) {
            let id = key.get_ref();
            let raw = h.get_ref();
            if !is_id(id) {
                sink.err(
                    src,
                    Some(key.span()),
                    format!("hoster id {id:?} must be lower case letters, digits, '_' or '-'"),
                );
            }
            if platforms.contains_key(id) {
                sink.err(
                    src,
                    Some(key.span()),
                    format!("{id} is both a platform and a hoster"),
                );
            }
            let country = raw
                .country
                .as_ref()
                .and_then(|s| state(id, s, "country", &mut sink));
            for a in &raw.asns {
                if let Some(other) = asns.insert(*a.get_ref(), id.clone()) {
                    sink.err(
                        src,
                        Some(a.span()),
                        format!("{id}: AS{} already belongs to {other}", a.get_ref()),
                    );
                }
            }
            for cat in &raw.policy_covers {
                if user_conduct(cat) {
                    sink.warn(src, Some(key.span()), format!("{id}: policy_covers lists {cat}, which is user conduct and never referred"));
                }
            }
            hosters.insert(
                id.clone(),
                HosterInfo {
                    id: id.clone(),
                    name: raw.name.clone(),
                    country,
                    cdn: raw.cdn,
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
    let never_chosen = |pack: &Pack| -> Vec<String> {
        let mut out = Vec::new();
        for f in pack.frameworks(FrameworkKind::Mla).filter(|f| !f.universal) {
            let mut codes: Vec<&String> = f.parties.iter().chain(f.counterpart.iter()).collect();
            codes.dedup();
            let chosen_somewhere = codes.iter().any(|a| {
                codes.iter().any(|b| {
                    a != b && f.links(a, b) && pack.choose_mla(a, b).is_some_and(|c| c.id == f.id)
                })
            });
            if !chosen_somewhere {
                out.push(f.id.clone());
            }
        }
        out
    };
    let pack = Pack {
        rules_version: pf.rules_version.into_inner(),
        last_reviewed: pf.last_reviewed.into_inner(),
        purpose_exemption: pf.purpose_exemption,
        categories,
        jurisdictions,
        frameworks,
        platforms,
        domains,
        hosters,
        asns,
        networks,
    };
    let fw_path = dir.join(FRAMEWORKS_FILE);
    for id in never_chosen(&pack) {
        sink.findings.push(Finding {
            file: fw_path.clone(),
            line: fw_lines.get(&id).copied(),
            severity: Severity::Warning,
            message: format!("framework {id} is never chosen for a request: for every pair of its parties a framework of lower preference (or a verified one) links them first"),
        });
    }
    sink.findings
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    (Some(pack), sink.findings)
}
