//! Shared by the golden and property tests: the pack under test and the invariants every
//! decision must keep, whatever the case.

#![allow(dead_code)]

use route::{Eligibility, RulePack, Status};
use shared::{
    normalize_jurisdiction, Category, ClockKind, DcResult, Decision, DomesticKind, Path, RouteCase,
};
use std::path::PathBuf;

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/legal")
}

pub fn pack() -> RulePack {
    RulePack::load(&fixture_dir()).expect("the fixture pack loads")
}

/// Checks the invariants of ROUTING.md on one decision; the error says which one broke.
pub fn invariants(pack: &RulePack, case: &RouteCase, d: &Decision) -> Result<(), String> {
    let r = normalize_jurisdiction(&case.referring.jurisdiction).unwrap_or_default();
    if d.case_id != case.case_id
        || d.rules_version != pack.rules_version()
        || d.last_reviewed != pack.last_reviewed()
    {
        return Err("case_id, rules_version or last_reviewed not carried over".into());
    }
    for r in &d.review {
        if r.decide.trim().is_empty() || r.reason.trim().is_empty() {
            return Err(format!("review item without a question or a reason: {r:?}"));
        }
    }
    // Every category ends somewhere, with a trace. A no_action target lists every category of
    // the case, so it places none of them.
    for &c in &case.categories {
        let placed = d
            .targets
            .iter()
            .any(|t| t.path != Path::NoAction && t.categories.contains(&c))
            || d.dual_criminality.iter().any(|x| x.category == c)
            || d.review.iter().any(|x| x.category == Some(c))
            || d.dropped.iter().any(|x| x.category == c);
        if !placed {
            return Err(format!("{c} ends nowhere"));
        }
    }
    if d.targets.is_empty() {
        return Err("no target at all (expected at least no_action)".into());
    }
    let acting = d
        .targets
        .iter()
        .filter(|t| t.path != Path::NoAction)
        .count();
    if acting > 0 && acting != d.targets.len() {
        return Err("no_action beside other targets".into());
    }
    if case.flags.purpose_exempt && acting > 0 {
        return Err("purpose-exempt case has a target".into());
    }
    for t in &d.targets {
        if t.reasons.is_empty() {
            return Err(format!("{:?} target without reasons", t.path));
        }
        if t.path == Path::NoAction {
            continue;
        }
        if t.categories.is_empty() {
            return Err(format!("{:?} target without categories", t.path));
        }
        for &c in &t.categories {
            // Only what the referring state criminalises is acted on, and the reasons quote it.
            let cell = pack
                .cell(&r, c)
                .ok_or_else(|| format!("{c} acted on without a referring cell"))?;
            if cell.status != Status::C {
                return Err(format!("{c} acted on though {r} has {:?}", cell.status));
            }
            let statute = cell.statute.as_deref().unwrap_or_default();
            if !t.reasons.iter().any(|x| x.contains(statute)) {
                return Err(format!(
                    "{:?} target does not quote {r}'s statute for {c}",
                    t.path
                ));
            }
            let user = pack.category(c).user_conduct;
            match t.path {
                Path::RemovalOrder | Path::PlatformReferral if user => {
                    return Err(format!("user-conduct {c} in a {:?}", t.path));
                }
                Path::Domestic if user && t.kind != Some(DomesticKind::Investigation) => {
                    return Err(format!("user-conduct {c} in a domestic {:?}", t.kind));
                }
                Path::Domestic if !user && t.kind == Some(DomesticKind::Investigation) => {
                    return Err(format!("content category {c} in an investigation"));
                }
                _ => {}
            }
            if t.path == Path::RemovalOrder {
                let ok = match pack.category(c).tco {
                    Eligibility::Yes => true,
                    Eligibility::IfDanger => case.flags.tco_danger_assessed,
                    Eligibility::IfTerroristThreat => case.flags.terrorist_threat,
                    Eligibility::No => false,
                };
                if !ok {
                    return Err(format!("{c} in a removal order though not eligible"));
                }
            }
            if t.path == Path::MlaRequest {
                let hs = pack
                    .cell(&t.jurisdiction, c)
                    .and_then(|x| x.statute.clone())
                    .ok_or_else(|| {
                        format!("{c} requested from {} without a cell", t.jurisdiction)
                    })?;
                if !t.reasons.iter().any(|x| x.contains(&hs)) {
                    return Err(format!(
                        "mla_request does not quote {}'s statute for {c}",
                        t.jurisdiction
                    ));
                }
                let passed = d.dual_criminality.iter().any(|x| {
                    x.category == c && x.requested == t.jurisdiction && x.result == DcResult::Pass
                });
                if !passed {
                    return Err(format!(
                        "mla_request to {} holds {c} without a pass",
                        t.jurisdiction
                    ));
                }
            }
        }
        if t.path == Path::MlaRequest {
            // The requested state is a host candidate that is not a CDN.
            let from_host = d
                .host_candidates
                .iter()
                .any(|c| !c.cdn && c.jurisdiction.as_deref() == Some(t.jurisdiction.as_str()));
            if !from_host {
                return Err(format!(
                    "mla_request to {} which is no non-CDN host candidate",
                    t.jurisdiction
                ));
            }
        }
        if t.path == Path::RemovalOrder {
            if t.deadline.as_deref() != Some("PT1H") {
                return Err("removal order without PT1H".into());
            }
            let clock = d
                .clocks
                .iter()
                .find(|c| c.clock == ClockKind::RemovalDeadline && c.jurisdiction == t.jurisdiction)
                .ok_or("removal order without its deadline clock")?;
            let want = case.at.map(|a| a + chrono::Duration::hours(1));
            if clock.due_at != want || clock.starts_at != case.at {
                return Err(format!(
                    "deadline clock {clock:?} for a case at {:?}",
                    case.at
                ));
            }
            if let Some(cp) = &t.copy_to {
                let scrutiny = d
                    .clocks
                    .iter()
                    .find(|c| c.clock == ClockKind::CopyScrutiny && &c.jurisdiction == cp)
                    .ok_or("copy without its scrutiny clock")?;
                if scrutiny.due_at != case.at.map(|a| a + chrono::Duration::hours(72)) {
                    return Err(format!("scrutiny clock {scrutiny:?}"));
                }
            }
            if !d
                .clocks
                .iter()
                .any(|c| c.clock == ClockKind::Retention && c.duration == "P6M")
            {
                return Err("removal order without the six-month retention clock".into());
            }
            if t.copy_to.as_deref() == Some(t.jurisdiction.as_str()) {
                return Err("removal order copied to its own issuer".into());
            }
            if t.jurisdiction != r {
                return Err("removal order not issued by the referring state".into());
            }
        }
        if matches!(t.path, Path::Domestic | Path::PlatformReferral) && t.jurisdiction != r {
            return Err(format!("{:?} target not in the referring state", t.path));
        }
        if t.path == Path::Domestic && t.kind.is_none() {
            return Err("domestic target without kind".into());
        }
    }
    for x in &d.dual_criminality {
        // P and U never pass.
        if x.result == DcResult::Pass && pack.status(&x.requested, x.category) != Status::C {
            return Err(format!(
                "{} passed against {} which has {:?}",
                x.category,
                x.requested,
                pack.status(&x.requested, x.category)
            ));
        }
        let rs = pack
            .cell(&r, x.category)
            .and_then(|c| c.statute.clone())
            .unwrap_or_default();
        if !x.basis.contains(&rs) {
            return Err(format!(
                "basis for {} does not quote {r}'s statute",
                x.category
            ));
        }
        if x.requested != r {
            if let Some(hs) = pack
                .cell(&x.requested, x.category)
                .and_then(|c| c.statute.clone())
            {
                if !x.basis.contains(&hs) {
                    return Err(format!(
                        "basis for {} does not quote {}'s statute",
                        x.category, x.requested
                    ));
                }
            }
        }
    }
    Ok(())
}

/// For messages: the categories as ids.
pub fn ids(cs: &[Category]) -> Vec<&'static str> {
    cs.iter().map(|c| c.as_str()).collect()
}
