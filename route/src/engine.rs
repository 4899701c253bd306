//! The seven steps of ROUTING.md over the compiled pack. No state, framework or platform is
//! named here: every role (removal order, request, referral), order of preference,
//! dual-criminality rule and covered category comes from the data.

use crate::model::*;
use shared::{
    normalize_jurisdiction, Category, DcResult, Decision, DomesticKind, Dropped, DualCriminality,
    Path, PlatformInfo, ReviewItem, RouteCase, Target,
};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

pub(crate) fn route(pack: &Pack, case: &RouteCase) -> Decision {
    Run::new(pack, case).run()
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
    factor: &'static str,
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
}

impl<'a> Run<'a> {
    fn new(pack: &'a Pack, case: &'a RouteCase) -> Self {
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
                targets: Vec::new(),
                dual_criminality: Vec::new(),
                review: Vec::new(),
                dropped: Vec::new(),
                notes: Vec::new(),
            },
            why: BTreeMap::new(),
        }
    }

    // ---------------------------------------------------------------- helpers

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
        self.why.entry(c).or_default().push(reason);
    }

    fn review(&mut self, category: Option<Category>, reason: String) {
        self.d.review.push(ReviewItem { category, reason });
    }

    fn drop_(&mut self, category: Category, reason: String) {
        self.d.dropped.push(Dropped { category, reason });
    }

    fn no_action(&mut self, jurisdiction: &str, reasons: Vec<String>) {
        let t = target(Path::NoAction, jurisdiction, self.cats.clone(), reasons);
        self.d.targets.push(t);
    }

    /// Nothing can be acted on, for one reason: every category is dropped with it.
    fn drop_all(mut self, jurisdiction: &str, reason: String) -> Decision {
        for c in self.cats.clone() {
            self.drop_(c, reason.clone());
        }
        self.no_action(jurisdiction, vec![reason]);
        self.d
    }

    fn note(&mut self, note: String) {
        if !self.d.notes.contains(&note) {
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
                self.review(
                    None,
                    format!("platform {id:?} is not in the data pack: establish its main establishment, legal representative and policy"),
                );
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
        Some(Cow::Owned(p))
    }

    /// Host precedence: platform main establishment > legal representative > hoster country >
    /// server country. `None` when the case names none of them.
    fn host_state(&mut self, platform: Option<&PlatformInfo>) -> Option<HostState> {
        let host = &self.case.host;
        let hoster = self.state(
            host.hoster.as_ref().and_then(|h| h.country.as_ref()),
            "hoster country",
        );
        let server = self.state(host.server_country.as_ref(), "server_country");
        let candidates = [
            (
                platform.and_then(|p| p.main_establishment.clone()),
                "main establishment of the platform",
            ),
            (
                platform.and_then(|p| p.legal_representative.clone()),
                "legal representative of the platform",
            ),
            (hoster, "country of the hoster"),
            (server, "server location"),
        ];
        candidates
            .into_iter()
            .find_map(|(c, factor)| c.map(|code| HostState { code, factor }))
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

    // ---------------------------------------------------------------- the steps

    fn run(mut self) -> Decision {
        let raw = self.case.referring.jurisdiction.trim();
        let r_code = normalize_jurisdiction(raw);
        let r_label = r_code.as_deref().unwrap_or(raw);

        if self.cats.is_empty() {
            self.no_action(r_label, vec!["the case names no offence category".into()]);
            return self.d;
        }

        // 1. Purpose exemption.
        if self.case.flags.purpose_exempt {
            let reason = format!("purpose exempt: {}", self.pack.purpose_exemption);
            return self.drop_all(r_label, reason);
        }

        // 2. Only what the referring state criminalises.
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
                Status::C => actionable.push(c),
                Status::P => self.review(
                    Some(c),
                    format!("partial in the referring state ({}): a human must confirm the extra element before any action", self.cite(&r, c)),
                ),
                Status::N => self.drop_(c, format!("not an offence in the referring state ({})", self.cite(&r, c))),
                Status::U => self.drop_(c, format!("unknown in the referring state, treated as not an offence ({})", self.cite(&r, c))),
            }
        }
        if actionable.is_empty() {
            self.no_action(
                &r,
                vec![format!(
                    "no category is an offence (C) in {r}; see review and dropped"
                )],
            );
            return self.d;
        }

        let platform = self.platform();
        let platform = platform.as_deref();
        let host = self.host_state(platform);
        let mut handled: BTreeSet<Category> = BTreeSet::new();

        self.removal_order(&r, platform, &actionable, &mut handled);
        self.domestic(&r, platform, host.as_ref(), &actionable, &mut handled);
        self.cross_border(&r, host.as_ref(), &actionable);
        self.referral(&r, platform, host.as_ref(), &actionable, &handled);

        // Nothing leaves without a trace.
        for c in self.cats.clone() {
            if !self.placed(c) {
                let reason = match self.why.get(&c) {
                    Some(w) if !w.is_empty() => w.join("; "),
                    _ => "no path applies".to_string(),
                };
                self.drop_(c, reason);
            }
        }

        // 7. No target at all.
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
            self.no_action(&r, reasons);
        }
        self.d
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
            return;
        };
        let agency = &pack.jurisdictions[r].agency;
        // Why no order can be issued at all, if so: the same reason for every category.
        let p = match platform {
            None => Err(format!(
                "no platform identified, so no removal order under {}",
                fw.name
            )),
            Some(p) if !p.offers_services_in_eu => Err(format!(
                "{} does not offer services in the Union: no removal order under {}",
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
            "{r} is party to {}; {} may issue removal orders; {} offers services in the Union",
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
                Some(h.to_string())
            }
            Some((_, factor)) => {
                reasons.push(format!(
                    "{factor} of {} is in the issuing state: no cross-border copy",
                    p.id
                ));
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
        self.d.targets.push(Target {
            addressee: Some(p.id.clone()),
            framework: Some(fw.id.clone()),
            deadline: fw.deadline.clone(),
            copy_to,
            ..target(Path::RemovalOrder, r, eligible, reasons)
        });
    }

    /// Step 4: the referring state acts itself — on a host at home or a platform with a local
    /// presence, or else by blocking access under its own law.
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
        let via = match (host, platform) {
            (Some(h), _) if h.code == r => format!("content hosted in {r} ({})", h.factor),
            (_, Some(p)) if p.local_presence.iter().any(|c| c == r) => {
                format!("{} has a local presence in {r}", p.id)
            }
            _ => {
                for &c in &user {
                    self.because(c, format!("{c} is user conduct: investigation or evidence only, and neither the host nor a local presence is in {r}"));
                }
                self.access_blocking(r, host, content);
                return;
            }
        };
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
            Some(h) => format!("content hosted outside {r} ({} {})", h.factor, h.code),
            None => "host state unknown".to_string(),
        };
        let verified = if b.verified { "" } else { " [unverified]" };
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

    /// Step 5: a request to the host state under the first framework both states share, for a
    /// self-hosted site or when evidence is wanted. Dual criminality category by category.
    fn cross_border(&mut self, r: &str, host: Option<&HostState>, actionable: &[Category]) {
        if !(self.case.host.self_hosted || self.case.want_evidence) {
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
            let reason = format!(
                "host state unknown ({purpose}): no platform establishment, hoster country or server country; a human must choose the requested state"
            );
            if unplaced.is_empty() {
                self.review(None, reason);
            } else {
                for c in unplaced {
                    self.review(Some(c), reason.clone());
                }
            }
            return;
        };
        if h.code == r {
            return; // hosted at home: the domestic step covers it
        }
        let pack = self.pack;
        let hcode = h.code.as_str();
        let Some(fw) = pack
            .frameworks(FrameworkKind::Mla)
            .find(|f| f.links(r, hcode))
        else {
            for &c in actionable {
                self.review(Some(c), format!("no cooperation framework links {r} and {hcode}: a human must choose a channel"));
            }
            return;
        };
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
                    (_, Status::N) => (DcResult::Fail, format!("not an offence in {hcode}")),
                    (_, Status::U) => (
                        DcResult::Fail,
                        format!("unknown in {hcode}, treated as not an offence"),
                    ),
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
                        let t = hf
                            .political_offence_refusal
                            .clone()
                            .unwrap_or_else(|| hf.name.clone());
                        why.push_str(&format!("; {t}"));
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
            if result == DcResult::Review {
                self.review(
                    Some(c),
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
                h.factor, fw.name
            )];
            reasons.extend(passed.iter().map(|&c| self.cite(r, c)));
            self.d.targets.push(Target {
                addressee: hj.map(|j| j.agency.id.clone()),
                framework: Some(fw.id.clone()),
                ..target(Path::MlaRequest, hcode, passed, reasons)
            });
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
    /// abuse desk. Returns the addressee label and the categories its policy covers.
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
            return;
        };
        let open: Vec<Category> = actionable
            .iter()
            .copied()
            .filter(|&c| !handled.contains(&c) && !pack.rule(c).user_conduct)
            .collect();
        if open.is_empty() {
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
