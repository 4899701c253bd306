//! Golden decisions: each `tests/golden/*.json` holds `{"about", "case", "expect"}`; `expect`
//! names the essential fields only, so wording of reasons can change without churn.
//!
//! - `targets`: the exact list, in order; in each, `path`, `jurisdiction` and `categories`
//!   always, `framework`, `addressee`, `kind`, `deadline`, `copy_to` when given (`null` = absent).
//! - `dual_criminality`: when given, the exact set of `(category, requested, result)`.
//! - `review` / `dropped`: when given, the exact categories (`null` = a review item about the
//!   case as a whole).
//! - `clocks`: when given, the exact set of `(clock, jurisdiction, duration, due_at)`.
//! - `notes_contain` / `reasons_contain` / `basis_contain` / `review_contain`: substrings that
//!   must appear (`review_contain` in a review item's question or reason).

mod common;

use serde::{Deserialize, Deserializer};
use shared::{Category, DcResult, Decision, DomesticKind, Path, RouteCase};
use std::fmt::Debug;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Golden {
    #[allow(dead_code)]
    about: String,
    case: RouteCase,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    targets: Vec<ExpTarget>,
    #[serde(default)]
    dual_criminality: Option<Vec<ExpDc>>,
    #[serde(default)]
    review: Option<Vec<Option<Category>>>,
    #[serde(default)]
    dropped: Option<Vec<Category>>,
    #[serde(default)]
    notes_contain: Vec<String>,
    #[serde(default)]
    reasons_contain: Vec<String>,
    #[serde(default)]
    basis_contain: Vec<String>,
    #[serde(default)]
    review_contain: Vec<String>,
    #[serde(default)]
    clocks: Option<Vec<ExpClock>>,
}

#[derive(Deserialize, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
struct ExpClock {
    clock: String,
    jurisdiction: String,
    duration: String,
    #[serde(default)]
    due_at: Option<String>,
}

/// `Some(None)` when the field is given as `null`, `None` when it is left out.
fn given<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpTarget {
    path: Path,
    jurisdiction: String,
    categories: Vec<Category>,
    #[serde(default, deserialize_with = "given")]
    framework: Option<Option<String>>,
    #[serde(default, deserialize_with = "given")]
    addressee: Option<Option<String>>,
    #[serde(default, deserialize_with = "given")]
    deadline: Option<Option<String>>,
    #[serde(default, deserialize_with = "given")]
    copy_to: Option<Option<String>>,
    #[serde(default)]
    kind: Option<DomesticKind>,
}

#[derive(Deserialize, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
struct ExpDc {
    category: Category,
    requested: String,
    result: String,
}

fn result_str(r: DcResult) -> String {
    serde_json::to_value(r)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

/// The same items, in any order.
fn same_set<T: Ord + Debug>(what: &str, mut want: Vec<T>, mut got: Vec<T>) -> Result<(), String> {
    want.sort();
    got.sort();
    if want == got {
        Ok(())
    } else {
        Err(format!("{what} {got:?}, expected {want:?}"))
    }
}

/// Each needle occurs in at least one of the texts.
fn all_found<'t>(
    what: &str,
    needles: &[String],
    texts: impl Iterator<Item = &'t String> + Clone,
) -> Result<(), String> {
    match needles
        .iter()
        .find(|s| !texts.clone().any(|t| t.contains(s.as_str())))
    {
        Some(s) => Err(format!("no {what} contains {s:?}")),
        None => Ok(()),
    }
}

fn compare(e: &Expect, d: &Decision) -> Result<(), String> {
    if e.targets.len() != d.targets.len() {
        return Err(format!(
            "expected {} target(s), got {}",
            e.targets.len(),
            d.targets.len()
        ));
    }
    for (i, (et, t)) in e.targets.iter().zip(&d.targets).enumerate() {
        let at = format!("target {i} ({:?} {})", t.path, t.jurisdiction);
        if et.path != t.path || et.jurisdiction != t.jurisdiction {
            return Err(format!("{at}: expected {:?} {}", et.path, et.jurisdiction));
        }
        if et.categories != t.categories {
            return Err(format!(
                "{at}: categories {:?}, expected {:?}",
                common::ids(&t.categories),
                common::ids(&et.categories)
            ));
        }
        let opt = [
            ("framework", &et.framework, &t.framework),
            ("addressee", &et.addressee, &t.addressee),
            ("deadline", &et.deadline, &t.deadline),
            ("copy_to", &et.copy_to, &t.copy_to),
        ];
        for (name, want, got) in opt {
            if let Some(want) = want {
                if want != got {
                    return Err(format!("{at}: {name} {got:?}, expected {want:?}"));
                }
            }
        }
        if et.kind.is_some() && et.kind != t.kind {
            return Err(format!("{at}: kind {:?}, expected {:?}", t.kind, et.kind));
        }
    }
    if let Some(want) = &e.dual_criminality {
        same_set(
            "dual_criminality",
            want.iter()
                .map(|x| (x.category, x.requested.clone(), x.result.clone()))
                .collect(),
            d.dual_criminality
                .iter()
                .map(|x| (x.category, x.requested.clone(), result_str(x.result)))
                .collect(),
        )?;
    }
    if let Some(want) = &e.review {
        same_set(
            "review",
            want.clone(),
            d.review.iter().map(|r| r.category).collect(),
        )?;
    }
    if let Some(want) = &e.dropped {
        same_set(
            "dropped",
            want.clone(),
            d.dropped.iter().map(|r| r.category).collect(),
        )?;
    }
    all_found("note", &e.notes_contain, d.notes.iter())?;
    all_found(
        "reason",
        &e.reasons_contain,
        d.targets.iter().flat_map(|t| &t.reasons),
    )?;
    all_found(
        "dual-criminality basis",
        &e.basis_contain,
        d.dual_criminality.iter().map(|x| &x.basis),
    )?;
    all_found(
        "review item",
        &e.review_contain,
        d.review.iter().flat_map(|r| [&r.decide, &r.reason]),
    )?;
    if let Some(want) = &e.clocks {
        same_set(
            "clocks",
            want.iter()
                .map(|c| {
                    (
                        c.clock.clone(),
                        c.jurisdiction.clone(),
                        c.duration.clone(),
                        c.due_at.clone(),
                    )
                })
                .collect(),
            d.clocks
                .iter()
                .map(|c| {
                    (
                        c.clock.as_str().to_string(),
                        c.jurisdiction.clone(),
                        c.duration.clone(),
                        c.due_at.map(|t| t.to_rfc3339()),
                    )
                })
                .collect(),
        )?;
    }
    Ok(())
}

#[test]
fn golden_decisions() {
    let pack = common::pack();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 50,
        "expected at least 50 golden cases, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    // What the suite as a whole exercises: every path, every domestic kind, every framework.
    let mut seen: Vec<String> = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(f).unwrap();
        let g: Golden = match serde_json::from_str(&text) {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{name}: unreadable: {e}"));
                continue;
            }
        };
        let d = pack.route(&g.case);
        for t in &d.targets {
            seen.push(format!("path {}", t.path.as_str()));
            if let Some(k) = t.kind {
                seen.push(format!("kind {k:?}"));
            }
            seen.extend(t.framework.iter().cloned());
        }
        seen.extend(d.dual_criminality.iter().map(|x| x.basis.clone()));
        seen.extend(d.notes.iter().cloned());
        if let Err(e) = compare(&g.expect, &d).and_then(|_| common::invariants(&pack, &g.case, &d))
        {
            failures.push(format!(
                "{name}: {e}\n{}",
                serde_json::to_string_pretty(&d).unwrap()
            ));
        }
    }
    let mut missing: Vec<String> = Vec::new();
    for p in [
        Path::RemovalOrder,
        Path::MlaRequest,
        Path::PlatformReferral,
        Path::Domestic,
        Path::NoAction,
    ] {
        let want = format!("path {}", p.as_str());
        if !seen.contains(&want) {
            missing.push(want);
        }
    }
    for k in [
        DomesticKind::Removal,
        DomesticKind::AccessBlocking,
        DomesticKind::EvidenceOnly,
        DomesticKind::Investigation,
    ] {
        if !seen.contains(&format!("kind {k:?}")) {
            missing.push(format!("kind {k:?}"));
        }
    }
    // The checker names the request frameworks no case can reach (a preferred treaty always
    // links their parties first); those need not be exercised.
    let unreachable: Vec<String> = route::RulePack::check(&common::fixture_dir())
        .iter()
        .filter(|f| f.message.contains("is never chosen"))
        .map(|f| f.message.clone())
        .collect();
    for (id, name) in pack.frameworks() {
        if unreachable
            .iter()
            .any(|m| m.starts_with(&format!("framework {id} ")))
            && !seen.iter().any(|s| s.contains(&name))
        {
            continue;
        }
        // Chosen for a target, or quoted in a basis or note (harmonisation treaties, a treaty
        // passed over for an unverified accession).
        if !seen.iter().any(|s| *s == id || s.contains(&name)) {
            missing.push(format!("framework {id}"));
        }
    }
    assert!(missing.is_empty(), "no golden case exercises: {missing:?}");
    assert!(
        failures.is_empty(),
        "{} golden case(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
