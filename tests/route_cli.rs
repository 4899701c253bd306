//! The legal reviewer's commands, end to end: `triage route --explain`, the clocks `triage route`
//! stamps, `triage data check`'s summary, and `triage data diff` on a one-cell change.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The `case` of a golden file, on one line.
fn golden_case(name: &str) -> String {
    let text = std::fs::read_to_string(repo().join("route/tests/golden").join(name)).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["case"].to_string()
}

/// A copy of the fixture pack.
fn copy_pack(name: &str) -> PathBuf {
    let dir = tempdir(name);
    for e in std::fs::read_dir(repo().join("fixtures/legal")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    dir
}

fn replace_once(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert_eq!(
        text.matches(from).count(),
        1,
        "{from:?} in {}",
        file.display()
    );
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn route_explain_prints_every_step_with_statutes_and_questions() {
    // FR to US under Budapest: financing passes, recruitment is P in the US (review).
    let case = golden_case("17_mla_budapest_pass_review_fail.json");
    let o = triage(&["route", "--explain"], Some(&case));
    assert!(o.status.success(), "{}", err(&o));
    let text = stdout_of(&o);
    for want in [
        "=== case g17 (rules legal-2025.2, last reviewed 2025-01-01)",
        "Host determination",
        "1. Purpose exemption",
        "2. The referring state's own law",
        "3. Removal order",
        "4. Domestic action",
        "5. Cross-border request",
        "budapest (preference 20): CHOSEN",
        "6. Voluntary referral",
        "7. Accounting",
        "Dual criminality",
        "18 USC 2339B, 2339C",
        "Code pénal art. 421-2-2",
        "For a human to decide",
        "under the direction or control",
        "Targets and their reasons",
        "mla_request US [budapest]",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }

    // --jsonl: one explained block per line of input.
    let two = format!(
        "{}\n{}\n",
        golden_case("01_worked_es_recruitment_platform_de.json"),
        golden_case("04_purpose_exempt.json")
    );
    let o = triage(&["route", "--explain", "--jsonl"], Some(&two));
    assert!(o.status.success(), "{}", err(&o));
    let text = stdout_of(&o);
    assert_eq!(text.matches("=== case ").count(), 2, "{text}");
    assert!(text.contains("purpose exempt: TCO Regulation (EU) 2021/784 art. 1(3)"));
    // The removal order's clocks are explained with their absolute due times.
    assert!(text.contains("removal_deadline (ES): PT1H, due "), "{text}");
}

#[test]
fn route_stamps_absolute_clocks_and_the_review_date() {
    let case = golden_case("32_tco_copy_to_legal_rep_of_uk_platform.json");
    let o = triage(&["route"], Some(&case));
    assert!(o.status.success(), "{}", err(&o));
    let d: Value = serde_json::from_str(&stdout_of(&o)).unwrap();
    assert_eq!(d["last_reviewed"], "2025-01-01");
    let clocks = d["clocks"].as_array().unwrap();
    let due = |kind: &str| {
        let c = clocks.iter().find(|c| c["clock"] == kind).unwrap();
        let s: chrono::DateTime<chrono::Utc> = c["starts_at"].as_str().unwrap().parse().unwrap();
        let e: chrono::DateTime<chrono::Utc> = c["due_at"].as_str().unwrap().parse().unwrap();
        (c["jurisdiction"].as_str().unwrap().to_string(), e - s)
    };
    assert_eq!(
        due("removal_deadline"),
        ("DE".into(), chrono::Duration::hours(1))
    );
    assert_eq!(
        due("copy_scrutiny"),
        ("IE".into(), chrono::Duration::hours(72))
    );
    let (j, six_months) = due("retention");
    assert_eq!(j, "DE");
    assert!((181..=184).contains(&six_months.num_days()), "{six_months}");
}

#[test]
fn data_check_summarises_and_refuses_a_bad_pack() {
    let o = triage(&["data", "check", "fixtures/legal"], None);
    assert!(o.status.success(), "{}{}", stdout_of(&o), err(&o));
    let text = stdout_of(&o);
    assert!(text.contains("0 error(s)"), "{text}");
    assert!(text.contains("unverified per jurisdiction: "), "{text}");
    assert!(
        text.contains("US 12/12"),
        "every US cell is unverified: {text}"
    );
    assert!(text.contains("networks.csv: 10 rows"), "{text}");
    assert!(text.contains("jurisdictions.toml:"), "{text}");

    let dir = copy_pack("data-check-bad");
    replace_once(
        &dir.join("frameworks.toml"),
        "parties = [\"US\", \"GB\", \"FR\", \"DE\", \"ES\", \"TR\"]",
        "parties = [\"US\", \"GB\", \"FR\", \"DE\", \"ES\", \"TR\", \"XX\"]",
    );
    let o = triage(&["data", "check", dir.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout_of(&o).contains("frameworks.toml:") && stdout_of(&o).contains("unknown party XX"),
        "{}",
        stdout_of(&o)
    );
}

#[test]
fn data_diff_shows_the_decisions_a_cell_changes() {
    // The reviewer marks extremism as criminal in IN. Golden 19 (RU asks IN about extremism)
    // changes: the Shanghai Convention still does not cover it, but now IN criminalises it, so
    // the political-offence rule gives "review" instead of "fail".
    let new = copy_pack("data-diff-new");
    replace_once(
        &new.join("jurisdictions.toml"),
        "extremism                = { status = \"N\", verified = false }\nseparatism               = { status = \"C\", statute = \"UAPA 1967 ss.2(o), 13; BNS 2023 s.152\"",
        "extremism                = { status = \"C\", statute = \"UAPA 1967 s.13 (test edit)\", verified = false }\nseparatism               = { status = \"C\", statute = \"UAPA 1967 ss.2(o), 13; BNS 2023 s.152\"",
    );
    let args = [
        "data",
        "diff",
        "fixtures/legal",
        new.to_str().unwrap(),
        "--cases",
        "route/tests/golden",
    ];
    let o = triage(&args, None);
    assert!(o.status.success(), "{}", err(&o));
    let text = stdout_of(&o);
    for want in [
        "1 change(s) in the data",
        "IN extremism: N* (no statute) -> C* UAPA 1967 s.13 (test edit)",
        "case g19 (",
        "~ dual criminality extremism against IN: fail -> review",
        "UAPA 1967 s.13 (test edit)",
        "+ review extremism: Would IN treat extremism as a political offence",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    // Cases the cell does not touch are not listed.
    assert!(!text.contains("case g01 ("), "{text}");
    assert!(text.contains("decision(s) change"), "{text}");
    // The version was not bumped: a warning says so.
    assert!(err(&o).contains("bump it"), "{}", err(&o));

    // JSON lines, one per changed case; a bumped version stops the warning.
    replace_once(
        &new.join("pack.toml"),
        "rules_version = \"legal-2025.2\"",
        "rules_version = \"legal-2025.3\"",
    );
    let mut args = args.to_vec();
    args.push("--jsonl");
    let o = triage(&args, None);
    assert!(o.status.success(), "{}", err(&o));
    assert!(!err(&o).contains("bump it"), "{}", err(&o));
    let lines: Vec<Value> = stdout_of(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let g19 = lines.iter().find(|v| v["case_id"] == "g19").unwrap();
    assert!(g19["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["what"] == "~ dual criminality extremism against IN: fail -> review"));

    // A cases file that is not valid is refused with its line.
    let bad = new.join("cases.jsonl");
    std::fs::write(
        &bad,
        format!(
            "{}\n{{\"case_id\": 1}}\n",
            golden_case("01_worked_es_recruitment_platform_de.json")
        ),
    )
    .unwrap();
    let o = triage(
        &[
            "data",
            "diff",
            "fixtures/legal",
            new.to_str().unwrap(),
            "--cases",
            bad.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("cases.jsonl:2"), "{}", err(&o));
}

/// A removal order's clock is counted in the metrics: due while its hour runs.
#[test]
fn removal_orders_due_are_counted_in_the_metrics() {
    let (_origin, server, r) = refer_on_platform("route-clocks");
    assert_eq!(r["status"], "routed", "{r}");
    let m = metrics(&server);
    assert_eq!(
        metric_value(
            &m,
            "triage_legal_clocks{clock=\"removal_deadline\",state=\"due\"}"
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        metric_value(
            &m,
            "triage_legal_clocks{clock=\"removal_deadline\",state=\"overdue\"}"
        ),
        Some(0.0),
        "{m}"
    );
    assert_eq!(
        metric_value(
            &m,
            "triage_legal_clocks{clock=\"copy_scrutiny\",state=\"due\"}"
        ),
        Some(1.0),
        "{m}"
    );
}
