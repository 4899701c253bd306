//! The seven steps of ROUTING.md over the compiled pack. No state, framework or platform is
//! named here: every role (removal order, request, referral), order of preference,
//! dual-criminality rule, covered category, clock and bloc comes from the data.
//!
//! One [`Run`] per case: the case's host facts become ranked host candidates, then each step
//! adds targets, dual-criminality results, review items and notes to the [`Decision`]. When
//! asked to explain, the run also writes a trace (one [`Step`] per routing step, in words for a
//! legal reviewer); without it no trace text is built, which keeps routing fast.

use crate::clock::IsoDuration;
use crate::model::*;
use shared::{
    normalize_jurisdiction, Category, ClockKind, Confidence, DcResult, Decision, DomesticKind,
    Dropped, DualCriminality, HostCandidate, HostFactor, LegalClock, Path, PlatformInfo,
    ReviewItem, RouteCase, Target,
};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// One step of the trace: a title and what was found, line by line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub title: String,
    pub lines: Vec<String>,
}

pub(crate) fn route(pack: &Pack, case: &RouteCase) -> Decision {
    Run::new(pack, case, false).run().0
}

pub(crate) fn explain(pack: &Pack, case: &RouteCase) -> (Decision, Vec<Step>) {
    Run::new(pack, case, true).run()
}

/// Adds a line to the current trace step; the text is only built when tracing.
macro_rules! trace {
    ($run:expr, $($arg:tt)*) => {
        if $run.trace.is_some() {
            let line = format!($($arg)*);
            if let Some(s) = $run.trace.as_mut().and_then(|t| t.last_mut()) {
                s.lines.push(line);
            }
        }
    };
}

/// A target with only the fields every path has; the caller sets the rest.
fn target(
    path: Path,
    jurisdiction: &str,
    categories: Vec<Category>,
    reasons: Vec<String>,
) -> Target {
    Target {
        path,
        jurisdiction: jurisdiction.to_string(),
        addressee: None,
        framework: None,
        categories,
        deadline: None,
        copy_to: None,
        kind: None,
        reasons,
    }
}

/// Where the content lives, as far as the case tells: the requested state of a cross-border
/// request and the test for "hosted at home".
struct HostState {
    code: String,
    factor: HostFactor,
    confidence: Confidence,
}

impl HostState {
    fn describe(&self) -> &'static str {
        match self.factor {
            HostFactor::MainEstablishment => "main establishment of the platform",
            HostFactor::LegalRepresentative => "legal representative of the platform",
            HostFactor::Hoster => "country of the hoster",
            HostFactor::ServerIp => "server location",
            HostFactor::Registrar => "country of the registrar",
            HostFactor::Cctld => "country-code top-level domain",
        }
    }
}

struct Run<'a> {
    pack: &'a Pack,
    case: &'a RouteCase,
    /// The case's categories, deduplicated, in the canonical order.
    cats: Vec<Category>,
    d: Decision,
    /// Why a category has not reached a target yet, step by step; becomes the `dropped` reason
    /// if it never does.
    why: BTreeMap<Category, Vec<String>>,
    trace: Option<Vec<Step>>,
}

impl<'a> Run<'a> {
    fn new(pack: &'a Pack, case: &'a RouteCase, explain: bool) -> Self {
        let mut cats = case.categories.clone();
        cats.sort_unstable();
        cats.dedup();
        Run {
            pack,
            case,
            cats,
            d: Decision {
                case_id: case.case_id.clone(),
                rules_version: pack.rules_version.clone(),
                last_reviewed: pack.last_reviewed.clone(),
                host_candidates: Vec::new(),
                targets: Vec::new(),
                dual_criminality: Vec::new(),
                review: Vec::new(),
                dropped: Vec::new(),
                notes: Vec::new(),
                clocks: Vec::new(),
            },
            why: BTreeMap::new(),
            trace: explain.then(Vec::new),
        }
    }

    // ---------------------------------------------------------------- helpers

    fn step(&mut self, title: &str) {
        if let Some(t) = &mut self.trace {
            t.push(Step {
                title: title.to_string(),
                lines: Vec::new(),
            });
        }
    }

    /// "ES recruitment_solicitation: Código Penal art. 577 [C, unverified]" — the statute and
    /// how sure we are of it, quoted wherever a decision rests on a cell.
    fn cite(&self, code: &str, c: Category) -> String {
        let Some(j) = self.pack.jurisdictions.get(code) else {
            return format!("{code} {c}: state not in the data pack [U]");
        };
        let Some(cell) = j.cells.get(&c) else {
            return format!("{code} {c}: no cell [U]");
        };
        let mut s = format!(
            "{code} {c}: {}",
            cell.statute.as_deref().unwrap_or("no statute")
        );
        s.push_str(" [");
        s.push_str(cell.status.as_str());
        if !cell.verified {
            s.push_str(", unverified");
        }
        if let Some(cond) = &cell.condition {
            s.push_str("; only if: ");
            s.push_str(cond);
        }
        s.push(']');
        s
    }

    fn because(&mut self, c: Category, reason: String) {
        trace!(self, "{c}: {reason}");
        self.why.entry(c).or_default().push(reason);
    }

    fn review(&mut self, category: Option<Category>, decide: String, reason: String) {
        trace!(
            self,
            "REVIEW{}: {decide}",
            category.map(|c| format!(" {c}")).unwrap_or_default()
        );
        self.d.review.push(ReviewItem {
            category,
            decide,
            reason,
        });
    }

    fn drop_(&mut self, category: Category, reason: String) {
        trace!(self, "{category}: dropped: {reason}");
        self.d.dropped.push(Dropped { category, reason });
    }

    fn no_action(&mut self, jurisdiction: &str, reasons: Vec<String>) {
        let t = target(Path::NoAction, jurisdiction, self.cats.clone(), reasons);
        self.d.targets.push(t);
    }

    /// Nothing can be acted on, for one reason: every category is dropped with it.
    fn drop_all(mut self, jurisdiction: &str, reason: String) -> (Decision, Vec<Step>) {
        for c in self.cats.clone() {
            self.drop_(c, reason.clone());
        }
        self.no_action(jurisdiction, vec![reason]);
        self.finish()
    }

    fn finish(mut self) -> (Decision, Vec<Step>) {
        if self.trace.is_some() {
            self.step("Result");
            for t in self.d.targets.clone() {
                let mut line = format!("{} {}", t.path.as_str(), t.jurisdiction);
                if let Some(k) = t.kind {
                    line.push_str(&format!(" ({})", serde_kind(k)));
                }
                if let Some(f) = &t.framework {
                    line.push_str(&format!(" under {f}"));
                }
                if let Some(a) = &t.addressee {
                    line.push_str(&format!(" to {a}"));
                }
                if let Some(cp) = &t.copy_to {
                    line.push_str(&format!(", copy to {cp}"));
                }
                if t.path != Path::NoAction {
                    let cats: Vec<&str> = t.categories.iter().map(|c| c.as_str()).collect();
                    line.push_str(&format!(": {}", cats.join(", ")));
                }
                trace!(self, "{line}");
            }
            if self.d.review.is_empty() {
                trace!(self, "nothing for a human to decide");
            } else {
                trace!(self, "{} item(s) for human review", self.d.review.len());
            }
        }
        (self.d, self.trace.unwrap_or_default())
    }

    fn note(&mut self, note: String) {
        if !self.d.notes.contains(&note) {
            trace!(self, "note: {note}");
            self.d.notes.push(note);
        }
    }

    /// A state code from the case; a malformed one is noted and ignored rather than guessed at.
    fn state(&mut self, raw: Option<&String>, what: &str) -> Option<String> {
        let raw = raw?;
        let c = normalize_jurisdiction(raw);
        if c.is_none() {
            self.note(format!(
                "{what} {raw:?} is not a two-letter state code; ignored"
            ));
        }
        c
    }

    /// The platform of the case, given in full or by id, with its state codes normalised. One
    /// from the pack is borrowed as it is: the loader normalised its codes.
    fn platform(&mut self) -> Option<Cow<'a, PlatformInfo>> {
        let host = &self.case.host;
        let Some(given) = &host.platform else {
            let id = host.platform_id.as_ref()?;
            let found = self.pack.platforms.get(id).map(Cow::Borrowed);
            if found.is_none() {
                trace!(self, "platform {id:?} is not in the data pack");
            }
            return found;
        };
        let mut p = given.clone();
        p.main_establishment =
            self.state(p.main_establishment.as_ref(), "platform main_establishment");
        p.legal_representative = self.state(
            p.legal_representative.as_ref(),
            "platform legal_representative",
        );
        p.local_presence = p
            .local_presence
            .iter()
            .filter_map(|c| normalize_jurisdiction(c))
            .collect();
        p.service_areas = p
            .service_areas
            .iter()
            .filter_map(|c| normalize_jurisdiction(c))
            .collect();
        Some(Cow::Owned(p))
    }

    /// Every host candidate: those the case brings, plus those its platform, hoster and server
    /// country imply, ranked by factor (research note section 4), then confidence.
    fn candidates(&mut self, platform: Option<&PlatformInfo>) -> Vec<HostCandidate> {
        let host = &self.case.host;
        let mut out: Vec<HostCandidate> = Vec::with_capacity(host.candidates.len() + 3);
        for c in &host.candidates {
            let mut c = c.clone();
            if let Some(j) = &c.jurisdiction {
                c.jurisdiction = self.state(Some(j), "host candidate");
            }
            out.push(c);
        }
        let add = |out: &mut Vec<HostCandidate>,
                   j: Option<String>,
                   factor: HostFactor,
                   confidence: Confidence,
                   source: String| {
            if let Some(j) = j {
                if !out
                    .iter()
                    .any(|c| c.factor == factor && c.jurisdiction.as_deref() == Some(&j))
                {
                    out.push(HostCandidate {
                        jurisdiction: Some(j),
                        factor,
                        confidence,
                        cdn: false,
                        source,
                    });
                }
            }
        };
        if let Some(p) = platform {
            add(
                &mut out,
                p.main_establishment.clone(),
                HostFactor::MainEstablishment,
                Confidence::High,
                format!("platform {}", p.id),
            );
            add(
                &mut out,
                p.legal_representative.clone(),
                HostFactor::LegalRepresentative,
                Confidence::High,
                format!("platform {}", p.id),
            );
        }
        let hoster_country = self.state(
            host.hoster.as_ref().and_then(|h| h.country.as_ref()),
            "hoster country",
        );
        let hoster_id = host
            .hoster
            .as_ref()
            .and_then(|h| h.id.clone())
            .unwrap_or_else(|| "hoster".into());
        add(
            &mut out,
            hoster_country,
            HostFactor::Hoster,
            Confidence::Medium,
            format!("{hoster_id} (case)"),
        );
        let server = self.state(host.server_country.as_ref(), "server_country");
        add(
            &mut out,
            server,
            HostFactor::ServerIp,
            Confidence::Medium,
            "server_country (case)".into(),
        );
        out.sort_by_key(|c| (c.factor, c.confidence));
        out
    }

    /// The first candidate that names a state and is not a CDN.
    fn host_state(cands: &[HostCandidate]) -> Option<HostState> {
        cands.iter().find_map(|c| match (&c.jurisdiction, c.cdn) {
            (Some(j), false) => Some(HostState {
                code: j.clone(),
                factor: c.factor,
                confidence: c.confidence,
            }),
            _ => None,
        })
    }

    fn placed(&self, c: Category) -> bool {
        self.d
            .targets
            .iter()
            .any(|t| t.path != Path::NoAction && t.categories.contains(&c))
            || self.d.dual_criminality.iter().any(|r| r.category == c)
            || self.d.review.iter().any(|r| r.category == Some(c))
            || self.d.dropped.iter().any(|r| r.category == c)
    }

    fn is_bloc(&self, code: &str) -> bool {
        self.pack.jurisdictions.get(code).is_some_and(|j| j.bloc)
    }

    // ---------------------------------------------------------------- the steps

    fn run(mut self) -> (Decision, Vec<Step>) {
        let raw = self.case.referring.jurisdiction.trim();
        let r_code = normalize_jurisdiction(raw);
        let r_label = r_code.as_deref().unwrap_or(raw);

        self.step("Case");
        trace!(
            self,
            "case {} referred by {} ({}), rules {} last reviewed {}",
            self.case.case_id,
            r_label,
            self.case.referring.agency,
            self.pack.rules_version,
            self.pack.last_reviewed
        );
        trace!(
            self,
            "categories: {}",
            if self.cats.is_empty() {
                "none".to_string()
            } else {
                self.cats
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );

        let platform = self.platform();
        let platform = platform.as_deref();
        self.step("Host determination");
        let cands = self.candidates(platform);
        let host = Self::host_state(&cands);
        if self.trace.is_some() {
            if cands.is_empty() {
                trace!(
                    self,
                    "no host facts: no platform, hoster, server or domain information"
                );
            }
            for c in &cands {
                trace!(
                    self,
                    "{} {} ({} confidence{}): {}",
                    c.factor.as_str(),
                    c.jurisdiction.as_deref().unwrap_or("?"),
                    c.confidence.as_str(),
                    if c.cdn { ", CDN: never the host" } else { "" },
                    c.source
                );
            }
            match &host {
                Some(h) => trace!(self, "host state: {} ({})", h.code, h.describe()),
                None => trace!(self, "host state: unknown"),
            }
        }
        self.d.host_candidates = cands;

        if self.cats.is_empty() {
            self.no_action(r_label, vec!["the case names no offence category".into()]);
            return self.finish();
        }

        // 1. Purpose exemption.
        self.step("1. Purpose exemption");
        if self.case.flags.purpose_exempt {
            let reason = format!("purpose exempt: {}", self.pack.purpose_exemption);
            return self.drop_all(r_label, reason);
        }
        trace!(self, "not claimed");

        // 2. Only what the referring state criminalises.
        self.step("2. The referring state's own law");
        let r = match r_code.as_deref() {
            Some(r) if self.pack.jurisdictions.contains_key(r) => r.to_string(),
            Some(c) => {
                let reason = format!(
                    "referring state {c} is not in the data pack ({}): its law is unknown, so no category can be acted on",
                    self.pack.rules_version
                );
                return self.drop_all(r_label, reason);
            }
            None => {
                let reason =
                    format!("referring jurisdiction {raw:?} is not a two-letter state code");
                return self.drop_all(r_label, reason);
            }
        };
        let mut actionable = Vec::new();
        for c in self.cats.clone() {
            match self.pack.status(&r, c) {
                Status::C => {
                    trace!(self, "{c}: actionable ({})", self.cite(&r, c));
                    actionable.push(c)
                }
                Status::P => {
                    let cond = self
                        .pack
                        .cell(&r, c)
                        .and_then(|x| x.condition.clone())
                        .unwrap_or_else(|| "the extra element".into());
                    self.review(
                        Some(c),
                        format!(
                            "Is the extra element met in {r}: {cond}? If so, act on {c} by hand."
                        ),
                        format!(
                            "partial in the referring state ({}): never acted on automatically",
                            self.cite(&r, c)
                        ),
                    )
                }
                Status::N => self.drop_(
                    c,
                    format!(
                        "not an offence in the referring state ({})",
                        self.cite(&r, c)
                    ),
                ),
                Status::U => self.drop_(
                    c,
                    format!(
                        "unknown in the referring state, treated as not an offence ({})",
                        self.cite(&r, c)
                    ),
                ),
            }
        }
        if actionable.is_empty() {
            self.no_action(
                &r,
                vec![format!(
                    "no category is an offence (C) in {r}; see review and dropped"
                )],
            );
            return self.finish();
        }

        // Only worth a human's time once something can be acted on.
        if let (None, Some(id)) = (platform, &self.case.host.platform_id) {
            self.review(
                None,
                format!("Where is platform {id:?} established, does it offer services in a removal-order area, and what does its policy cover?"),
                format!("platform {id:?} is not in the data pack: add it to platforms.toml or give it in full in the case"),
            );
        }
        self.cdn_review(host.as_ref());
        let mut handled: BTreeSet<Category> = BTreeSet::new();
        self.step("3. Removal order");
        self.removal_order(&r, platform, &actionable, &mut handled);
        self.step("4. Domestic action");
        self.domestic(&r, platform, host.as_ref(), &actionable, &mut handled);
        self.step("5. Cross-border request");
        self.cross_border(&r, host.as_ref(), &actionable);
        self.step("6. Voluntary referral");
        self.referral(&r, platform, host.as_ref(), &actionable, &handled);

        // Nothing leaves without a trace.
        self.step("7. Accounting");
        for c in self.cats.clone() {
            if !self.placed(c) {
                let reason = match self.why.get(&c) {
                    Some(w) if !w.is_empty() => w.join("; "),
                    _ => "no path applies".to_string(),
                };
                self.drop_(c, reason);
            }
        }
        if self.d.targets.is_empty() {
            let mut reasons: Vec<String> = Vec::new();
            for w in self.why.values().flatten() {
                if !reasons.contains(w) {
                    reasons.push(w.clone());
                }
            }
            if reasons.is_empty() {
                reasons.push("no path applies; see review, dual_criminality and dropped".into());
            }
            trace!(self, "no target: no action");
            self.no_action(&r, reasons);
        } else {
            trace!(self, "every category is in a target, a dual-criminality result, a review item or dropped with a reason");
        }
        self.finish()
    }

    /// A CDN address hides the origin: say so, unless a better factor names the host.
    fn cdn_review(&mut self, host: Option<&HostState>) {
        let Some(cdn) = self.d.host_candidates.iter().find(|c| c.cdn) else {
            return;
        };
        let source = cdn.source.clone();
        self.step("Content-delivery network");
        let weak = host.is_none_or(|h| h.confidence == Confidence::Low);
        if weak {
            self.review(
                None,
                "Where is the origin server behind the CDN? Ask the CDN for it before any request to a host state.".into(),
                format!("the content is served through a content-delivery network ({source}); a CDN's location is never taken for the host"),
            );
        } else {
            trace!(self, "a CDN address is ignored for the host: {source}");
        }
    }

    fn clock(&mut self, clock: ClockKind, jurisdiction: &str, duration: &str, basis: &str) {
        let starts_at = self.case.at;
        let due_at = starts_at.and_then(|at| IsoDuration::parse(duration)?.after(at));
        trace!(
            self,
            "clock {} for {jurisdiction}: {duration}{} ({basis})",
            clock.as_str(),
            due_at
                .map(|d| format!(", due {}", d.to_rfc3339()))
                .unwrap_or_default()
        );
        self.d.clocks.push(LegalClock {
            clock,
            jurisdiction: jurisdiction.to_string(),
            duration: duration.to_string(),
            basis: basis.to_string(),
            starts_at,
            due_at,
        });
    }

    /// Step 3: removal order under the first removal-order framework the referring state is
    /// party to. No dual-criminality test; a copy to the provider's home state.
    fn removal_order(
        &mut self,
        r: &str,
        platform: Option<&PlatformInfo>,
        actionable: &[Category],
        handled: &mut BTreeSet<Category>,
    ) {
        let pack = self.pack;
        let Some(fw) = pack
            .frameworks(FrameworkKind::RemovalOrder)
            .find(|f| f.is_party(r))
        else {
            trace!(self, "{r} is party to no removal-order framework");
            return;
        };
        let area = fw.service_area.as_deref().unwrap_or_default();
        let agency = &pack.jurisdictions[r].agency;
        // Why no order can be issued at all, if so: the same reason for every category.
        let p = match platform {
            None => Err(format!(
                "no platform identified, so no removal order under {}",
                fw.name
            )),
            Some(p) if !p.offers_services_in(area) => Err(format!(
                "{} does not offer services in {area}: no removal order under {}",
                p.id, fw.name
            )),
            Some(_) if !agency.issues_removal_orders => Err(format!(
                "{} may not issue removal orders under {}",
                agency.name, fw.name
            )),
            Some(p) => Ok(p),
        };
        let p = match p {
            Ok(p) => p,
            Err(why) => {
                for &c in actionable {
                    self.because(c, why.clone());
                }
                return;
            }
        };
        trace!(
            self,
            "{r} is party to {}; {} offers services in {area}",
            fw.name,
            p.id
        );
        let flags = &self.case.flags;
        let mut eligible = Vec::new();
        let mut lines = Vec::new();
        for &c in actionable {
            let rule = pack.rule(c);
            let (ok, why) = match rule.tco {
                _ if rule.user_conduct => (false, "user conduct, never a removal ground"),
                Eligibility::Yes => (true, "eligible"),
                Eligibility::IfDanger if flags.tco_danger_assessed => (true, "eligible: the danger element was assessed as met"),
                Eligibility::IfDanger => (false, "eligible only when the danger element is assessed as met (tco_danger_assessed)"),
                Eligibility::IfTerroristThreat if flags.terrorist_threat => (true, "eligible: a threat to commit a terrorist offence"),
                Eligibility::IfTerroristThreat => (false, "eligible only for a threat to commit a terrorist offence (terrorist_threat)"),
                Eligibility::No => (false, "not a removal-order ground"),
            };
            if ok {
                trace!(self, "{c}: {why}");
                eligible.push(c);
                lines.push(format!("{}; {why} under {}", self.cite(r, c), fw.name));
            } else {
                self.because(c, format!("{c}: {why} under {}", fw.name));
            }
        }
        if eligible.is_empty() {
            return;
        }
        // The home state: main establishment if it is in the framework's area, else the legal
        // representative there; neither → every party has jurisdiction (data: no_home_note).
        let home = p
            .main_establishment
            .as_deref()
            .filter(|m| fw.is_party(m))
            .map(|m| (m, "main establishment"))
            .or_else(|| {
                p.legal_representative
                    .as_deref()
                    .filter(|l| fw.is_party(l))
                    .map(|l| (l, "legal representative"))
            });
        let mut reasons = vec![format!(
            "{r} is party to {}; {} may issue removal orders; {} offers services in {area}",
            fw.name, agency.name, p.id
        )];
        reasons.extend(lines);
        let copy_basis = &fw.copy_basis;
        let copy_to = match home {
            Some((h, factor)) if h != r => {
                let within = fw
                    .scrutiny
                    .as_deref()
                    .map(|s| format!(" within {s}"))
                    .unwrap_or_default();
                reasons.push(format!("{factor} of {} is in {h}, not the issuing state: copy to {h} under {copy_basis}; {h} may scrutinise the order{within}", p.id));
                trace!(
                    self,
                    "{factor} of {} is in {h}: copy to {h} ({copy_basis})",
                    p.id
                );
                Some(h.to_string())
            }
            Some((_, factor)) => {
                reasons.push(format!(
                    "{factor} of {} is in the issuing state: no cross-border copy",
                    p.id
                ));
                trace!(self, "{factor} of {} is in {r}: no copy", p.id);
                None
            }
            None => {
                reasons.push(format!("{} has neither a main establishment nor a legal representative in the area of {}: no copy (see notes)", p.id, fw.name));
                if let Some(n) = &fw.no_home_note {
                    self.note(n.clone());
                }
                None
            }
        };
        for &c in &eligible {
            let other = match home {
                Some((h, _)) if h != r => self.cite(h, c),
                Some(_) => "host state is the issuing state".to_string(),
                None => "no host state designated".to_string(),
            };
            let basis = format!("{}; {other}; {}: {}", self.cite(r, c), fw.name, fw.dc_basis);
            self.d.dual_criminality.push(DualCriminality {
                category: c,
                requested: home.map_or(r, |(h, _)| h).to_string(),
                result: DcResult::NotRequired,
                basis,
            });
        }
        handled.extend(&eligible);
        if let Some(d) = &fw.deadline {
            self.clock(ClockKind::RemovalDeadline, r, d, &fw.deadline_basis);
        }
        if let (Some(h), Some(s)) = (&copy_to, &fw.scrutiny) {
            self.clock(ClockKind::CopyScrutiny, h, s, &fw.scrutiny_basis);
        }
        if let Some(k) = &fw.retention {
            self.clock(ClockKind::Retention, r, k, &fw.retention_basis);
        }
        self.d.targets.push(Target {
            addressee: Some(p.id.clone()),
            framework: Some(fw.id.clone()),
            deadline: fw.deadline.clone(),
            copy_to,
            ..target(Path::RemovalOrder, r, eligible, reasons)
        });
    }

    /// Step 4: the referring state acts itself — on a host at home, a platform with a local
    /// presence, or a domain under its own country-code TLD; or else by blocking access under
    /// its own law.
    fn domestic(
        &mut self,
        r: &str,
        platform: Option<&PlatformInfo>,
        host: Option<&HostState>,
        actionable: &[Category],
        handled: &mut BTreeSet<Category>,
    ) {
        let pack = self.pack;
        let (user, content): (Vec<Category>, Vec<Category>) = actionable
            .iter()
            .filter(|c| !handled.contains(c))
            .partition(|&&c| pack.rule(c).user_conduct);
        if user.is_empty() && content.is_empty() {
            trace!(
                self,
                "nothing left: the removal order handles every category"
            );
            return;
        }
        if pack.jurisdictions[r].bloc {
            for &c in user.iter().chain(&content) {
                self.because(
                    c,
                    format!("{r} is a bloc: it has no domestic powers (its members do)"),
                );
            }
            return;
        }
        let cctld_here = self
            .d
            .host_candidates
            .iter()
            .any(|c| c.factor == HostFactor::Cctld && c.jurisdiction.as_deref() == Some(r));
        let via = match (host, platform) {
            (Some(h), _) if h.code == r => format!("content hosted in {r} ({})", h.describe()),
            (_, Some(p)) if p.local_presence.iter().any(|c| c == r) => {
                format!("{} has a local presence in {r}", p.id)
            }
            _ if cctld_here => format!(
                "the domain is under {r}'s country-code TLD: its registry is in {r}, which may act on the domain under its own law"
            ),
            _ => {
                for &c in &user {
                    self.because(c, format!("{c} is user conduct: investigation or evidence only, and neither the host nor a local presence is in {r}"));
                }
                self.access_blocking(r, host, content);
                return;
            }
        };
        trace!(self, "{via}");
        let addressee = self.addressee(platform, host).map(|(who, _)| who);
        if !content.is_empty() {
            let (kind, power) = if pack.jurisdictions[r].domestic_removal_power {
                (
                    DomesticKind::Removal,
                    format!("{r} may order removal under its own law"),
                )
            } else {
                (
                    DomesticKind::EvidenceOnly,
                    format!(
                        "{r} has no domestic removal power: its legal process covers evidence only"
                    ),
                )
            };
            trace!(self, "{power}");
            // Only an order to remove settles a category; evidence leaves it open.
            if kind == DomesticKind::Removal {
                handled.extend(&content);
            }
            let mut reasons = vec![via.clone(), power];
            reasons.extend(content.iter().map(|&c| self.cite(r, c)));
            self.d.targets.push(Target {
                addressee: addressee.clone(),
                kind: Some(kind),
                ..target(Path::Domestic, r, content, reasons)
            });
        }
        if !user.is_empty() {
            trace!(
                self,
                "user conduct: an investigation of users, never a removal or a referral"
            );
            let mut reasons = vec![
                via,
                "user conduct: grounds an investigation of users, never a removal or a referral"
                    .into(),
            ];
            reasons.extend(user.iter().map(|&c| self.cite(r, c)));
            self.d.targets.push(Target {
                addressee,
                kind: Some(DomesticKind::Investigation),
                ..target(Path::Domestic, r, user, reasons)
            });
        }
    }

    /// Step 4, content hosted elsewhere: block access under the referring state's own law.
    fn access_blocking(&mut self, r: &str, host: Option<&HostState>, content: Vec<Category>) {
        let pack = self.pack;
        let Some(b) = &pack.jurisdictions[r].domestic_blocking else {
            for &c in &content {
                self.because(c, format!("{r} cannot act domestically: the host is not in {r}, no local presence, no access-blocking law"));
            }
            return;
        };
        let (block, rest): (Vec<Category>, Vec<Category>) =
            content.iter().partition(|c| b.categories.contains(c));
        for c in rest {
            self.because(
                c,
                format!("{c} is outside {r}'s access-blocking law ({})", b.law),
            );
        }
        if block.is_empty() {
            return;
        }
        let where_ = match host {
            Some(h) => format!("content hosted outside {r} ({} {})", h.describe(), h.code),
            None => "host state unknown".to_string(),
        };
        let verified = if b.verified { "" } else { " [unverified]" };
        trace!(self, "{where_}: access blocking under {}{verified}", b.law);
        let mut reasons = vec![format!(
            "{where_}; {r} may block access in its territory under {}{verified}",
            b.law
        )];
        reasons.extend(block.iter().map(|&c| self.cite(r, c)));
        self.d.targets.push(Target {
            kind: Some(DomesticKind::AccessBlocking),
            ..target(Path::Domestic, r, block, reasons)
        });
    }

    /// The request framework between `r` and `h` ([`Pack::choose_mla`]), with the trace of
    /// what else links them; frameworks passed over for an unverified accession are noted.
    fn choose_mla(&mut self, r: &str, h: &str) -> Option<&'a Framework> {
        let pack = self.pack;
        let blocs = self.is_bloc(r) || self.is_bloc(h);
        let chosen = pack.choose_mla(r, h);
        if self.trace.is_some() {
            let unlinked = pack
                .frameworks(FrameworkKind::Mla)
                .filter(|f| !f.links(r, h))
                .count();
            trace!(
                self,
                "{unlinked} request framework(s) of the pack do not link {r} and {h}"
            );
            for f in pack
                .frameworks(FrameworkKind::Mla)
                .filter(|f| f.links(r, h))
            {
                let verdict = if f.universal && blocs {
                    "universal, but a bloc takes no part in it".to_string()
                } else if chosen.is_some_and(|c| c.id == f.id) {
                    "CHOSEN".to_string()
                } else if let Some(u) = f.unverified_link(r, h) {
                    format!("links them only through {u}'s unverified accession")
                } else {
                    "links them, but a preferred framework comes first".to_string()
                };
                trace!(self, "{} (preference {}): {verdict}", f.id, f.preference);
            }
        }
        if let Some(c) = chosen {
            for f in pack
                .linking(r, h)
                .filter(|f| f.preference < c.preference && !f.universal)
            {
                if let Some(u) = f.unverified_link(r, h) {
                    self.note(format!(
                        "{} would come before {} between {r} and {h}, but {u}'s accession to it is unverified; it was passed over",
                        f.name, c.name
                    ));
                }
            }
        }
        chosen
    }

    /// Step 5: a request to the host state under the first framework both states share, for a
    /// self-hosted site or when evidence is wanted. Dual criminality category by category.
    fn cross_border(&mut self, r: &str, host: Option<&HostState>, actionable: &[Category]) {
        if !(self.case.host.self_hosted || self.case.want_evidence) {
            trace!(
                self,
                "not needed: the content is on a platform and no evidence is wanted"
            );
            return;
        }
        let purpose = if self.case.want_evidence {
            "evidence wanted"
        } else {
            "self-hosted site"
        };
        let Some(h) = host else {
            let unplaced: Vec<Category> = actionable
                .iter()
                .copied()
                .filter(|&c| !self.placed(c))
                .collect();
            let decide = "Which state hosts the content? Establish the host (hoster, server location) before any request.".to_string();
            let reason = format!(
                "host state unknown ({purpose}): no platform establishment, hoster country or server country that is not a CDN"
            );
            if unplaced.is_empty() {
                self.review(None, decide, reason);
            } else {
                for c in unplaced {
                    self.review(Some(c), decide.clone(), reason.clone());
                }
            }
            return;
        };
        if h.code == r {
            trace!(
                self,
                "hosted at home ({}): the domestic step covers it",
                h.describe()
            );
            return;
        }
        let pack = self.pack;
        let hcode = h.code.as_str();
        trace!(
            self,
            "{purpose}; requested state {hcode} ({})",
            h.describe()
        );
        let Some(fw) = self.choose_mla(r, hcode) else {
            for &c in actionable {
                self.review(
                    Some(c),
                    format!("Which channel reaches {hcode} from {r}?"),
                    format!("no cooperation framework in the data pack links {r} and {hcode}"),
                );
            }
            return;
        };
        if h.confidence == Confidence::Low {
            self.review(
                None,
                format!(
                    "Is the content really hosted in {hcode}? Confirm before sending the request."
                ),
                format!(
                    "the host state {hcode} rests only on the {}, a low-confidence factor",
                    h.describe()
                ),
            );
        }
        if let Some(u) = fw.unverified_link(r, hcode) {
            self.review(
                None,
                format!("Is {u} a party to {}? The request relies on it.", fw.name),
                format!("{u}'s accession to {} is unverified in the research; no verified treaty links {r} and {hcode}", fw.name),
            );
        }
        let hj = pack.jurisdictions.get(hcode);
        if hj.is_none() {
            self.note(format!(
                "host state {hcode} is not in the data pack: every category counts as U there"
            ));
        }
        let rule_text = match fw.dual_criminality {
            DcRule::ConductBased => "conduct-based dual criminality",
            DcRule::PartiesCriminalise => "both parties must criminalise",
            DcRule::None => "no dual-criminality test",
        };
        let mut passed = Vec::new();
        for &c in actionable {
            let hs = pack.status(hcode, c);
            let political = pack.rule(c).political_risk && !fw.covers.contains(&c);
            let exception = fw
                .dc_exception
                .as_ref()
                .filter(|x| x.categories.contains(&c));
            let (result, mut why) = if political {
                if hs == Status::C {
                    (DcResult::Review, format!("political-offence risk: {} does not cover {c}; {hcode} criminalises it, so a human decides", fw.name))
                } else {
                    (
                        DcResult::Fail,
                        format!(
                            "political-offence refusal likely: {} does not cover {c}",
                            fw.name
                        ),
                    )
                }
            } else {
                match (fw.dual_criminality, hs) {
                    (DcRule::None, _) => (
                        DcResult::NotRequired,
                        "no test under this framework".to_string(),
                    ),
                    (_, Status::C) => (DcResult::Pass, format!("criminal in {r} and {hcode}")),
                    (_, Status::P) => (
                        DcResult::Review,
                        format!("partial in {hcode}: a human must confirm the extra element"),
                    ),
                    (_, s) => {
                        let what = if s == Status::N {
                            format!("not an offence in {hcode}")
                        } else {
                            format!("unknown in {hcode}, treated as not an offence")
                        };
                        match exception {
                            Some(x) => (
                                DcResult::Review,
                                format!(
                                    "{what}, but {}{}: a human must confirm the condition",
                                    x.basis,
                                    if x.verified { "" } else { " [unverified]" }
                                ),
                            ),
                            None => (DcResult::Fail, what),
                        }
                    }
                }
            };
            if result == DcResult::Fail {
                if political {
                    if let Some(t) = &fw.political_offence_refusal {
                        why.push_str(&format!(" ({t})"));
                    }
                }
                if let Some(j) = hj {
                    for g in &j.refusal_grounds {
                        why.push_str(&format!("; {hcode} refusal ground {}: {}", g.id, g.basis));
                    }
                }
            }
            if result == DcResult::Pass {
                // Treaties where both states gave up the political-offence exception for c.
                for hf in pack.frameworks(FrameworkKind::Harmonisation) {
                    if hf.links(r, hcode) && hf.excludes_political_offence_for.contains(&c) {
                        match &hf.political_offence_refusal {
                            Some(t) => {
                                why.push_str(&format!("; both are parties to {}: {t}", hf.name))
                            }
                            None => why.push_str(&format!("; both are parties to {}", hf.name)),
                        }
                    }
                }
            }
            let basis = format!(
                "{}; {}; {} ({rule_text}): {}; {why}",
                self.cite(r, c),
                self.cite(hcode, c),
                fw.name,
                fw.dc_basis
            );
            trace!(self, "{c}: {} — {why}", result_str(result));
            if result == DcResult::Review {
                let decide = if political {
                    format!("Would {hcode} treat {c} as a political offence and refuse? Decide whether to request under {}.", fw.name)
                } else if exception.is_some() {
                    format!("Is {c} punishable in {r} by the threshold the exception requires, so that {hcode} may not refuse? If so, request by hand.")
                } else {
                    let cond = pack
                        .cell(hcode, c)
                        .and_then(|x| x.condition.clone())
                        .unwrap_or_else(|| "the extra element".into());
                    format!("Does the conduct meet {hcode}'s extra element ({cond})? If so, include {c} in the request to {hcode}.")
                };
                self.review(
                    Some(c),
                    decide,
                    format!("dual criminality with {hcode} needs a decision: {basis}"),
                );
            }
            if result == DcResult::Pass {
                passed.push(c);
            }
            self.d.dual_criminality.push(DualCriminality {
                category: c,
                requested: hcode.to_string(),
                result,
                basis,
            });
        }
        if !passed.is_empty() {
            let mut reasons = vec![format!(
                "{purpose}; host state {hcode} ({}); {} is the first framework in order of preference that links {r} and {hcode}",
                h.describe(),
                fw.name
            )];
            // Both sides of each category: the referring state's statute and the requested one's.
            reasons.extend(
                passed
                    .iter()
                    .map(|&c| format!("{}; {}", self.cite(r, c), self.cite(hcode, c))),
            );
            self.d.targets.push(Target {
                addressee: hj.map(|j| j.agency.id.clone()),
                framework: Some(fw.id.clone()),
                ..target(Path::MlaRequest, hcode, passed, reasons)
            });
        } else {
            trace!(self, "no category passed: no request");
        }
        if self.case.want_evidence {
            if let Some(p) = &fw.preservation {
                let res = hj.map_or(Reservation::Unknown, |j| j.preservation_reservation);
                let verdict = match res {
                    Reservation::No => format!("{hcode} made no reservation: preservation allowed"),
                    Reservation::Yes => format!("{hcode} made the reservation: it may refuse preservation without dual criminality"),
                    Reservation::Unknown => format!("{hcode}'s reservation is unknown: it may refuse preservation without dual criminality"),
                };
                self.note(format!("preservation: {p}; {verdict}"));
            }
        }
    }

    /// Who receives a voluntary referral: the platform, or for a self-hosted site the hoster's
    /// abuse desk (a CDN's, when the site is behind one). Returns the addressee label and the
    /// categories its policy covers.
    fn addressee<'p>(
        &self,
        platform: Option<&'p PlatformInfo>,
        host: Option<&HostState>,
    ) -> Option<(String, &'p [Category])>
    where
        'a: 'p,
    {
        if let Some(p) = platform {
            return Some((p.id.clone(), &p.policy_covers));
        }
        let h = self.case.host.hoster.as_ref()?;
        let label = match (&h.id, host) {
            (Some(id), _) => id.clone(),
            (None, Some(hs)) => format!("hoster in {}", hs.code),
            (None, None) => "hoster".to_string(),
        };
        Some((label, &h.policy_covers))
    }

    /// Step 6: voluntary referral to the addressee's terms of service for what is still open.
    fn referral(
        &mut self,
        r: &str,
        platform: Option<&PlatformInfo>,
        host: Option<&HostState>,
        actionable: &[Category],
        handled: &BTreeSet<Category>,
    ) {
        let pack = self.pack;
        let Some(fw) = pack
            .frameworks(FrameworkKind::PlatformReferral)
            .find(|f| f.is_party(r))
        else {
            trace!(self, "{r} takes part in no referral framework");
            return;
        };
        let open: Vec<Category> = actionable
            .iter()
            .copied()
            .filter(|&c| !handled.contains(&c) && !pack.rule(c).user_conduct)
            .collect();
        if open.is_empty() {
            trace!(self, "nothing left to refer (handled, or user conduct)");
            return;
        }
        let Some((who, covers)) = self.addressee(platform, host) else {
            for c in open {
                self.because(c, "no platform or hoster to refer to".into());
            }
            return;
        };
        let (refer, rest): (Vec<Category>, Vec<Category>) =
            open.iter().partition(|c| covers.contains(c));
        for c in rest {
            let why = format!("the policy of {who} does not cover {c}: no referral");
            // Shown even when another path took the category, so the analyst sees why no
            // referral followed.
            self.note(why.clone());
            self.because(c, why);
        }
        if refer.is_empty() {
            return;
        }
        trace!(self, "{who}'s policy covers what is still open");
        let mut reasons = vec![
            format!("{}: {}", fw.name, fw.dc_basis),
            format!("{r} criminalises each category and the policy of {who} covers it"),
        ];
        reasons.extend(refer.iter().map(|&c| self.cite(r, c)));
        self.d.targets.push(Target {
            addressee: Some(who),
            framework: Some(fw.id.clone()),
            ..target(Path::PlatformReferral, r, refer, reasons)
        });
    }
}

fn result_str(r: DcResult) -> &'static str {
    match r {
        DcResult::Pass => "pass",
        DcResult::Fail => "fail",
        DcResult::Review => "review",
        DcResult::NotRequired => "not_required",
    }
}

fn serde_kind(k: DomesticKind) -> &'static str {
    match k {
        DomesticKind::Removal => "removal",
        DomesticKind::AccessBlocking => "access_blocking",
        DomesticKind::EvidenceOnly => "evidence_only",
        DomesticKind::Investigation => "investigation",
    }
}
