//! `triage data diff OLD NEW --cases FILE`: what a change to the pack alters — first in the pack
//! (cells, framework parties and rules, platforms), then in the decision of every case, each
//! change with the reasons the new (or, for what disappears, the old) decision gives.

use crate::model::{Framework, Pack};
use crate::RulePack;
use shared::{DcResult, Decision, Target};
use std::collections::{BTreeMap, BTreeSet};

/// One change and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub what: String,
    pub reasons: Vec<String>,
}

fn ch(what: String, reasons: Vec<String>) -> Change {
    Change { what, reasons }
}

/// The differences between two packs' data, one line each (cells, frameworks, platforms).
pub fn pack_changes(old: &RulePack, new: &RulePack) -> Vec<String> {
    let (o, n) = (&*old.inner, &*new.inner);
    let mut out = Vec::new();
    if o.rules_version != n.rules_version {
        out.push(format!(
            "rules_version {} -> {}",
            o.rules_version, n.rules_version
        ));
    }
    if o.last_reviewed != n.last_reviewed {
        out.push(format!(
            "last_reviewed {} -> {}",
            o.last_reviewed, n.last_reviewed
        ));
    }
    let codes: BTreeSet<&String> = o
        .jurisdictions
        .keys()
        .chain(n.jurisdictions.keys())
        .collect();
    for code in codes {
        match (o.jurisdictions.get(code), n.jurisdictions.get(code)) {
            (Some(_), None) => out.push(format!("{code}: removed")),
            (None, Some(_)) => out.push(format!("{code}: added")),
            (Some(a), Some(b)) => {
                for c in shared::Category::ALL {
                    let (x, y) = (a.cells.get(&c), b.cells.get(&c));
                    if x != y {
                        let show = |cell: Option<&crate::Cell>| match cell {
                            None => "missing (U)".to_string(),
                            Some(cell) => format!(
                                "{}{} {}{}",
                                cell.status.as_str(),
                                if cell.verified { "" } else { "*" },
                                cell.statute.as_deref().unwrap_or("(no statute)"),
                                cell.condition
                                    .as_deref()
                                    .map(|k| format!(" [only if: {k}]"))
                                    .unwrap_or_default()
                            ),
                        };
                        out.push(format!("{code} {c}: {} -> {}", show(x), show(y)));
                    }
                }
                if a.domestic_removal_power != b.domestic_removal_power {
                    out.push(format!(
                        "{code}: domestic_removal_power {} -> {}",
                        a.domestic_removal_power, b.domestic_removal_power
                    ));
                }
                let bl = |j: &crate::model::Jurisdiction| {
                    j.domestic_blocking
                        .as_ref()
                        .map(|b| format!("{} {:?}", b.law, b.categories))
                };
                if bl(a) != bl(b) {
                    out.push(format!(
                        "{code}: domestic_blocking {:?} -> {:?}",
                        bl(a),
                        bl(b)
                    ));
                }
            }
            (None, None) => {}
        }
    }
    let fws = |p: &Pack| -> BTreeMap<String, Framework> {
        p.frameworks
            .iter()
            .map(|f| (f.id.clone(), f.clone()))
            .collect()
    };
    let (fo, fn_) = (fws(o), fws(n));
    let ids: BTreeSet<&String> = fo.keys().chain(fn_.keys()).collect();
    for id in ids {
        match (fo.get(id), fn_.get(id)) {
            (Some(_), None) => out.push(format!("framework {id}: removed")),
            (None, Some(_)) => out.push(format!("framework {id}: added")),
            (Some(a), Some(b)) => {
                let added: Vec<&String> = b.parties.difference(&a.parties).collect();
                let gone: Vec<&String> = a.parties.difference(&b.parties).collect();
                if !added.is_empty() {
                    out.push(format!("framework {id}: new parties {added:?}"));
                }
                if !gone.is_empty() {
                    out.push(format!("framework {id}: parties removed {gone:?}"));
                }
                if a.unverified != b.unverified {
                    out.push(format!(
                        "framework {id}: unverified parties {:?} -> {:?}",
                        a.unverified, b.unverified
                    ));
                }
                if a.preference != b.preference {
                    out.push(format!(
                        "framework {id}: preference {} -> {}",
                        a.preference, b.preference
                    ));
                }
                if a.dual_criminality != b.dual_criminality {
                    out.push(format!(
                        "framework {id}: dual_criminality {:?} -> {:?}",
                        a.dual_criminality, b.dual_criminality
                    ));
                }
                if a.covers != b.covers {
                    out.push(format!(
                        "framework {id}: covers {:?} -> {:?}",
                        a.covers, b.covers
                    ));
                }
            }
            (None, None) => {}
        }
    }
    let ids: BTreeSet<&String> = o.platforms.keys().chain(n.platforms.keys()).collect();
    for id in ids {
        match (o.platforms.get(id), n.platforms.get(id)) {
            (Some(a), Some(b)) if a != b => out.push(format!("platform {id}: changed")),
            (Some(_), None) => out.push(format!("platform {id}: removed")),
            (None, Some(_)) => out.push(format!("platform {id}: added")),
            _ => {}
        }
    }
    out
}

fn target_key(t: &Target) -> String {
    let mut s = format!("{} {}", t.path.as_str(), t.jurisdiction);
    if let Some(k) = t.kind {
        s.push_str(&format!(
            " ({})",
            serde_json::to_value(k)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        ));
    }
    if let Some(f) = &t.framework {
        s.push_str(&format!(" under {f}"));
    }
    if let Some(a) = &t.addressee {
        s.push_str(&format!(" to {a}"));
    }
    if let Some(c) = &t.copy_to {
        s.push_str(&format!(", copy to {c}"));
    }
    let cats: Vec<&str> = t.categories.iter().map(|c| c.as_str()).collect();
    s.push_str(&format!(": {}", cats.join(", ")));
    s
}

fn result(r: DcResult) -> &'static str {
    match r {
        DcResult::Pass => "pass",
        DcResult::Fail => "fail",
        DcResult::Review => "review",
        DcResult::NotRequired => "not_required",
    }
}

/// How the decision for one case changed: targets, dual criminality, review, dropped
/// categories, clocks. Reasons and timestamps alone do not count as a change.
pub fn decision_changes(old: &Decision, new: &Decision) -> Vec<Change> {
    let mut out = Vec::new();
    let tk = |d: &Decision| -> BTreeMap<String, Vec<String>> {
        d.targets
            .iter()
            .map(|t| (target_key(t), t.reasons.clone()))
            .collect()
    };
    let (to, tn) = (tk(old), tk(new));
    for (k, reasons) in &to {
        if !tn.contains_key(k) {
            out.push(ch(format!("- target {k}"), reasons.clone()));
        }
    }
    for (k, reasons) in &tn {
        if !to.contains_key(k) {
            out.push(ch(format!("+ target {k}"), reasons.clone()));
        }
    }
    let dc = |d: &Decision| -> BTreeMap<(String, String), (DcResult, String)> {
        d.dual_criminality
            .iter()
            .map(|x| {
                (
                    (x.category.as_str().to_string(), x.requested.clone()),
                    (x.result, x.basis.clone()),
                )
            })
            .collect()
    };
    let (dco, dcn) = (dc(old), dc(new));
    let keys: BTreeSet<&(String, String)> = dco.keys().chain(dcn.keys()).collect();
    for k in keys {
        match (dco.get(k), dcn.get(k)) {
            (Some((a, _)), Some((b, basis))) if a != b => out.push(ch(
                format!(
                    "~ dual criminality {} against {}: {} -> {}",
                    k.0,
                    k.1,
                    result(*a),
                    result(*b)
                ),
                vec![basis.clone()],
            )),
            (Some((a, basis)), None) => out.push(ch(
                format!(
                    "- dual criminality {} against {} ({})",
                    k.0,
                    k.1,
                    result(*a)
                ),
                vec![basis.clone()],
            )),
            (None, Some((b, basis))) => out.push(ch(
                format!(
                    "+ dual criminality {} against {} ({})",
                    k.0,
                    k.1,
                    result(*b)
                ),
                vec![basis.clone()],
            )),
            _ => {}
        }
    }
    let rv = |d: &Decision| -> BTreeMap<(String, String), String> {
        d.review
            .iter()
            .map(|r| {
                (
                    (
                        r.category
                            .map(|c| c.as_str())
                            .unwrap_or("(case)")
                            .to_string(),
                        r.decide.clone(),
                    ),
                    r.reason.clone(),
                )
            })
            .collect()
    };
    let (ro, rn) = (rv(old), rv(new));
    for (k, reason) in &ro {
        if !rn.contains_key(k) {
            out.push(ch(
                format!("- review {}: {}", k.0, k.1),
                vec![reason.clone()],
            ));
        }
    }
    for (k, reason) in &rn {
        if !ro.contains_key(k) {
            out.push(ch(
                format!("+ review {}: {}", k.0, k.1),
                vec![reason.clone()],
            ));
        }
    }
    let dr = |d: &Decision| -> BTreeMap<String, String> {
        d.dropped
            .iter()
            .map(|x| (x.category.as_str().to_string(), x.reason.clone()))
            .collect()
    };
    let (xo, xn) = (dr(old), dr(new));
    for (k, reason) in &xo {
        if !xn.contains_key(k) {
            out.push(ch(format!("- dropped {k}"), vec![reason.clone()]));
        }
    }
    for (k, reason) in &xn {
        if !xo.contains_key(k) {
            out.push(ch(format!("+ dropped {k}"), vec![reason.clone()]));
        }
    }
    let cl = |d: &Decision| -> BTreeSet<String> {
        d.clocks
            .iter()
            .map(|c| format!("{} {} {}", c.clock.as_str(), c.jurisdiction, c.duration))
            .collect()
    };
    let (co, cn) = (cl(old), cl(new));
    for c in co.difference(&cn) {
        out.push(ch(format!("- clock {c}"), vec![]));
    }
    for c in cn.difference(&co) {
        out.push(ch(format!("+ clock {c}"), vec![]));
    }
    out
}
