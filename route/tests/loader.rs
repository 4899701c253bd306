//! The loader and checker: the fixture pack loads; each kind of bad input is refused with the
//! right file and line. Bad packs are copies of the fixture with one edit, in temp dirs.

mod common;

use route::{Finding, RulePack, Severity};
use shared::lists::line_of;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

const FILES: [&str; 6] = [
    "pack.toml",
    "categories.toml",
    "jurisdictions.toml",
    "frameworks.toml",
    "platforms.toml",
    "networks.csv",
];

/// A fresh copy of the fixture pack.
fn copy_pack() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "route-loader-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in FILES {
        std::fs::copy(common::fixture_dir().join(f), dir.join(f)).unwrap();
    }
    dir
}

/// Replaces `from` (which must occur once) by `to` in `file`; returns the 1-based line where
/// `marker` then occurs.
fn edit(dir: &Path, file: &str, from: &str, to: &str, marker: &str) -> usize {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.matches(from).count(),
        1,
        "{from:?} must occur once in {file}"
    );
    let text = text.replacen(from, to, 1);
    std::fs::write(&path, &text).unwrap();
    line_at(&text, marker)
}

/// Appends `block` to `file`; returns the 1-based line where `marker` then occurs.
fn append(dir: &Path, file: &str, block: &str, marker: &str) -> usize {
    let path = dir.join(file);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(block);
    std::fs::write(&path, &text).unwrap();
    line_at(&text, marker)
}

/// The 1-based line where `marker` first occurs in `text`.
fn line_at(text: &str, marker: &str) -> usize {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("marker {marker:?} not in the file"));
    line_of(text, at)
}

/// A state table with only the required fields.
fn minimal_state(code: &str) -> String {
    format!("\n[jurisdictions.{code}]\nname = \"x\"\neu = false\nagency = {{ id = \"x\", name = \"x\", kind = \"iru\" }}\ndomestic_removal_power = false\n")
}

/// The pack is refused, and one of the errors is in `file` at `line` and mentions `needle`.
fn assert_refused(dir: &Path, file: &str, line: Option<usize>, needle: &str) {
    let err = RulePack::load(dir).expect_err("the pack must be refused");
    let found = err.findings().iter().any(|f| {
        f.severity == Severity::Error
            && f.file.ends_with(file)
            && f.line == line
            && f.message.contains(needle)
    });
    assert!(
        found,
        "no error {file}:{line:?} mentioning {needle:?}; got:\n{err}"
    );
    // check() reports the same error.
    assert!(RulePack::check(dir)
        .iter()
        .any(|f| f.severity == Severity::Error && f.file.ends_with(file) && f.line == line));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_fixture_pack_loads_and_only_warns() {
    let findings = RulePack::check(&common::fixture_dir());
    let errors: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "fixture pack has errors: {errors:?}");
    // Unverified cells are reported, with file and line, but do not stop loading.
    let unverified = findings
        .iter()
        .filter(|f| {
            f.message.contains("unverified")
                && f.file.ends_with("jurisdictions.toml")
                && f.line.is_some()
        })
        .count();
    assert!(
        unverified > 50,
        "expected the unverified cells as warnings, got {unverified}"
    );
    assert!(RulePack::load(&common::fixture_dir()).is_ok());
}

#[test]
fn finding_display_is_file_line_severity_message() {
    let f = Finding {
        file: "j.toml".into(),
        line: Some(7),
        severity: Severity::Warning,
        message: "m".into(),
    };
    assert_eq!(f.to_string(), "j.toml:7: warning: m");
    let f = Finding {
        file: "j.toml".into(),
        line: None,
        severity: Severity::Error,
        message: "m".into(),
    };
    assert_eq!(f.to_string(), "j.toml: error: m");
}

#[test]
fn unknown_category_in_a_cell() {
    let dir = copy_pack();
    let from = r#"separatism               = { status = "N", verified = false, note = "sedition repealed in 2022" }"#;
    let line = edit(
        &dir,
        "jurisdictions.toml",
        from,
        r#"secession = { status = "N", verified = false }"#,
        "secession =",
    );
    assert_refused(
        &dir,
        "jurisdictions.toml",
        Some(line),
        "unknown variant `secession`",
    );
}

#[test]
fn unknown_category_in_categories() {
    let dir = copy_pack();
    let line = edit(
        &dir,
        "categories.toml",
        "[categories.separatism]",
        "[categories.terrorism]\ntco = \"yes\"\n\n[categories.separatism]",
        "terrorism",
    );
    assert_refused(
        &dir,
        "categories.toml",
        Some(line),
        "unknown variant `terrorism`",
    );
}

#[test]
fn missing_category_rule() {
    let dir = copy_pack();
    edit(
        &dir,
        "categories.toml",
        "[categories.separatism]\ntco = \"no\"\npolitical_risk = true\nuser_conduct = false\n",
        "",
        "[categories",
    );
    assert_refused(&dir, "categories.toml", None, "separatism is missing");
}

#[test]
fn unknown_framework_in_a_jurisdiction() {
    let dir = copy_pack();
    let from = r#"frameworks = ["budapest", "cets196", "icsft", "mlat_gb_us"]"#;
    let line = edit(
        &dir,
        "jurisdictions.toml",
        from,
        r#"frameworks = ["budapest", "cets196", "icsft", "mlat_gb_us", "budapset"]"#,
        "\"budapset\"",
    );
    assert_refused(
        &dir,
        "jurisdictions.toml",
        Some(line),
        "unknown framework \"budapset\"",
    );
}

#[test]
fn unknown_party_in_a_framework() {
    let dir = copy_pack();
    let from = r#"parties = ["CN", "RU", "KZ", "KG", "TJ", "UZ", "IN", "PK"]"#;
    let line = edit(
        &dir,
        "frameworks.toml",
        from,
        r#"parties = ["CN", "RU", "KZ", "KG", "TJ", "UZ", "IN", "PK", "BR"]"#,
        "\"BR\"",
    );
    assert_refused(&dir, "frameworks.toml", Some(line), "unknown party BR");
}

#[test]
fn party_that_does_not_list_the_framework_back() {
    let dir = copy_pack();
    edit(
        &dir,
        "jurisdictions.toml",
        r#"frameworks = ["budapest", "cets196", "icsft", "mlat_tr_us"]"#,
        r#"frameworks = ["cets196", "icsft", "mlat_tr_us"]"#,
        "mlat_tr_us",
    );
    let text = std::fs::read_to_string(dir.join("frameworks.toml")).unwrap();
    let line = line_at(&text, r#"parties = ["US", "GB", "FR", "DE", "ES", "TR"]"#);
    assert_refused(
        &dir,
        "frameworks.toml",
        Some(line),
        "TR does not list budapest",
    );
}

#[test]
fn jurisdiction_code_not_two_letters() {
    let dir = copy_pack();
    let line = append(
        &dir,
        "jurisdictions.toml",
        &minimal_state("FRA"),
        "[jurisdictions.FRA]",
    );
    assert_refused(
        &dir,
        "jurisdictions.toml",
        Some(line),
        "\"FRA\" is not a two-letter",
    );
}

#[test]
fn uk_and_gb_are_the_same_state() {
    let dir = copy_pack();
    let line = append(
        &dir,
        "jurisdictions.toml",
        &minimal_state("UK"),
        "[jurisdictions.UK]",
    );
    assert_refused(&dir, "jurisdictions.toml", Some(line), "defined twice");
}

#[test]
fn criminal_cell_without_statute() {
    let dir = copy_pack();
    let from = r#"public_provocation       = { status = "C", statute = "Code pénal art. 421-2-5", verified = false }"#;
    let line = edit(
        &dir,
        "jurisdictions.toml",
        from,
        r#"public_provocation       = { status = "C", verified = false }"#,
        r#"public_provocation       = { status = "C", verified"#,
    );
    assert_refused(&dir, "jurisdictions.toml", Some(line), "needs a statute");
}

#[test]
fn unknown_field_is_refused() {
    let dir = copy_pack();
    let from = r#"terrorist_financing      = { status = "C", statute = "Code pénal art. 421-2-2", verified = false }"#;
    let line = edit(
        &dir,
        "jurisdictions.toml",
        from,
        r#"terrorist_financing      = { status = "C", statute = "Code pénal art. 421-2-2", verifed = false }"#,
        "verifed",
    );
    assert_refused(
        &dir,
        "jurisdictions.toml",
        Some(line),
        "unknown field `verifed`",
    );

    let dir = copy_pack();
    let line = edit(
        &dir,
        "pack.toml",
        "owner = \"legal-review\"",
        "owner = \"legal-review\"\nreviewer = \"x\"",
        "reviewer =",
    );
    assert_refused(&dir, "pack.toml", Some(line), "unknown field `reviewer`");
}

#[test]
fn bad_status_and_bad_deadline() {
    let dir = copy_pack();
    let from = r#"incitement_hatred        = { status = "C", statute = "TCK art. 216", verified = false }"#;
    let line = edit(
        &dir,
        "jurisdictions.toml",
        from,
        r#"incitement_hatred        = { status = "X", statute = "TCK art. 216", verified = false }"#,
        r#""X""#,
    );
    assert_refused(
        &dir,
        "jurisdictions.toml",
        Some(line),
        "unknown variant `X`",
    );

    let dir = copy_pack();
    let line = edit(
        &dir,
        "frameworks.toml",
        "deadline = \"PT1H\"",
        "deadline = \"1 hour\"",
        "\"1 hour\"",
    );
    assert_refused(
        &dir,
        "frameworks.toml",
        Some(line),
        "not an ISO 8601 duration",
    );
}

#[test]
fn duplicate_platform_domain() {
    let dir = copy_pack();
    let line = edit(
        &dir,
        "platforms.toml",
        "domains = [\"paste.example\"]",
        "domains = [\"paste.example\", \"video.example.test\"]",
        "\"video.example.test\"]",
    );
    assert_refused(
        &dir,
        "platforms.toml",
        Some(line),
        "already belongs to examplevideo",
    );
}

#[test]
fn missing_file_and_toml_syntax_error() {
    let dir = copy_pack();
    std::fs::remove_file(dir.join("platforms.toml")).unwrap();
    assert_refused(&dir, "platforms.toml", None, "cannot read");

    let dir = copy_pack();
    let line = edit(
        &dir,
        "pack.toml",
        "last_reviewed = \"2025-01-01\"",
        "last_reviewed = \"2025-01-01",
        "last_reviewed",
    );
    assert_refused(&dir, "pack.toml", Some(line), "");
}

#[test]
fn user_conduct_cannot_be_removal_ground() {
    let dir = copy_pack();
    let from = "tco = \"no\"                      # CTD art. 8: the consumer's conduct";
    let line = edit(
        &dir,
        "categories.toml",
        from,
        "tco = \"yes\"",
        "tco = \"yes\"\npolitical_risk = false\nuser_conduct = true",
    );
    // The span of the table starts at its header, one line up from the tco line.
    assert_refused(&dir, "categories.toml", Some(line - 1), "user conduct");
}

#[test]
fn bloc_parties_opt_outs_and_unverified_parties() {
    // An opt-out that is no member of a listed bloc.
    let dir = copy_pack();
    let line = edit(
        &dir,
        "frameworks.toml",
        "except = [\"DK\", \"IE\"]",
        "except = [\"DK\", \"IE\", \"US\"]",
        "except =",
    );
    assert_refused(&dir, "frameworks.toml", Some(line), "except lists US");

    // A state both a verified and an unverified party.
    let dir = copy_pack();
    let line = edit(
        &dir,
        "frameworks.toml",
        "unverified_parties = [\"IR\"]",
        "unverified_parties = [\"IR\", \"RU\"]",
        "unverified_parties = [\"IR\", \"RU\"]",
    );
    assert_refused(&dir, "frameworks.toml", Some(line), "both as a party");

    // A bloc cannot block access or remove content itself.
    let dir = copy_pack();
    let line = edit(
        &dir,
        "jurisdictions.toml",
        "[jurisdictions.EU]\nname = \"European Union (as a block)\"",
        "[jurisdictions.EU]\nname = \"European Union (as a block)\"\ndomestic_removal_power = true",
        "[jurisdictions.EU]",
    );
    // (the duplicate key is a TOML error at the second occurrence)
    let err = RulePack::load(&dir).expect_err("refused");
    assert!(
        err.findings()
            .iter()
            .any(|f| f.line.is_some_and(|l| l > line)),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let dir = copy_pack();
    let line = edit(
        &dir,
        "jurisdictions.toml",
        "agency = { id = \"eu-iru\", name = \"Europol EU Internet Referral Unit (Regulation (EU) 2016/794 art. 4(1)(m))\", kind = \"iru\" }\ndomestic_removal_power = false",
        "agency = { id = \"eu-iru\", name = \"Europol EU Internet Referral Unit (Regulation (EU) 2016/794 art. 4(1)(m))\", kind = \"iru\" }\ndomestic_removal_power = true",
        "[jurisdictions.EU]",
    );
    assert_refused(&dir, "jurisdictions.toml", Some(line), "is a bloc");
}

#[test]
fn removal_order_framework_needs_a_service_area_and_hoster_asns_are_unique() {
    let dir = copy_pack();
    let line = edit(
        &dir,
        "frameworks.toml",
        "service_area = \"EU\"               # art. 1(2): providers offering services in the Union\n",
        "",
        "[frameworks.eu_tco]",
    );
    assert_refused(&dir, "frameworks.toml", Some(line), "needs a service_area");

    let dir = copy_pack();
    let line = edit(
        &dir,
        "platforms.toml",
        "asns = [64504]",
        "asns = [64504, 64501]",
        "asns = [64504, 64501]",
    );
    assert_refused(
        &dir,
        "platforms.toml",
        Some(line),
        "AS64501 already belongs to examplehost-de",
    );
}

#[test]
fn unreachable_and_unverified_parties_are_reported() {
    let findings = RulePack::check(&common::fixture_dir());
    let warned = |needle: &str| {
        findings.iter().any(|f| {
            f.severity == Severity::Warning && f.message.contains(needle) && f.line.is_some()
        })
    };
    assert!(warned("framework sco_2009 is never chosen"));
    assert!(warned("sco_2001: IR's party status is unverified"));
    assert!(warned("eu_eio: dc_exception unverified"));
    // Reachable frameworks are not reported.
    assert!(!warned("framework mlat_in_us is never chosen"));
    assert!(!warned("framework sco_2001 is never chosen"));
}
