//! The legal reviewer's commands: `triage route [--explain]` (decide, or decide and show every
//! step), `triage data check DIR` (validate the pack, summarise what is unverified) and
//! `triage data diff OLD NEW --cases FILE` (which decisions a change to the pack alters, and
//! why). Cases come as one JSON object, JSON lines, or a directory of golden files
//! (`{"about", "case", "expect"}`); every output goes to stdout.

use crate::cli::{load_rules, CliError, CliResult};
use crate::config::fixtures_path;
use clap::Subcommand;
use serde_json::{json, Value};
use shared::RouteCase;
use std::io::{BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum DataCommand {
    /// Validate a legal data pack; print every problem with file and line, then a summary of
    /// unverified cells per state.
    Check { dir: PathBuf },
    /// Route the same cases with two packs and show which decisions change, and why.
    Diff {
        /// The pack in force.
        old: PathBuf,
        /// The proposed pack.
        new: PathBuf,
        /// Cases: a JSON-lines file (a case, or `{"case": …}`, per line) or a directory of
        /// golden files (`*.json` with a `case` field).
        #[arg(long)]
        cases: PathBuf,
        /// One JSON object per changed case instead of text.
        #[arg(long)]
        jsonl: bool,
    },
}

pub fn data(cmd: DataCommand) -> CliResult {
    match cmd {
        DataCommand::Check { dir } => check(&dir),
        DataCommand::Diff {
            old,
            new,
            cases,
            jsonl,
        } => diff(&old, &new, &cases, jsonl),
    }
}

fn io_err(e: std::io::Error) -> CliError {
    CliError::external("io", format!("cannot write output: {e}"))
}

fn invalid_case(at: &str, e: impl std::fmt::Display) -> CliError {
    CliError::rejected("invalid_case", format!("{at}: the case is not valid: {e}"))
}

/// A case from a JSON value: the case itself, or a golden file's `case` field.
fn case_of(v: Value) -> Result<RouteCase, serde_json::Error> {
    match v {
        Value::Object(mut o) if o.contains_key("case") && !o.contains_key("referring") => {
            serde_json::from_value(o.remove("case").unwrap_or_default())
        }
        v => serde_json::from_value(v),
    }
}

/// `triage route`: one case, or with `--jsonl` one per line; `--explain` prints the trace.
/// A case without `at` is decided now, so its clocks carry absolute times.
pub fn route(
    data: Option<PathBuf>,
    jsonl: bool,
    explain: bool,
    file: Option<PathBuf>,
) -> CliResult {
    let dir = data.unwrap_or_else(|| fixtures_path("legal"));
    let rules = load_rules(&dir)?;
    let mut input: Box<dyn BufRead> = match &file {
        None => Box::new(std::io::BufReader::new(std::io::stdin())),
        Some(p) => Box::new(std::io::BufReader::new(std::fs::File::open(p).map_err(
            |e| CliError::usage(format!("cannot open {}: {e}", p.display())),
        )?)),
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let emit = |out: &mut BufWriter<_>, mut case: RouteCase, pretty: bool| -> CliResult {
        case.at.get_or_insert_with(chrono::Utc::now);
        if explain {
            writeln!(out, "{}", rules.explain(&case)).map_err(io_err)
        } else {
            let d = rules.route(&case);
            let s = if pretty {
                serde_json::to_string_pretty(&d)
            } else {
                serde_json::to_string(&d)
            };
            writeln!(out, "{}", s.expect("serialisable")).map_err(io_err)
        }
    };
    if !jsonl {
        let mut s = String::new();
        input
            .read_to_string(&mut s)
            .map_err(|e| CliError::external("io", format!("cannot read input: {e}")))?;
        let case: RouteCase = serde_json::from_str(&s).map_err(|e| invalid_case("input", e))?;
        emit(&mut out, case, true)?;
        return out.flush().map_err(io_err);
    }
    let mut bad = 0;
    for (i, line) in input.lines().enumerate() {
        let line = line.map_err(|e| {
            CliError::external("io", format!("cannot read input line {}: {e}", i + 1))
        })?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<RouteCase>(&line) {
            Ok(case) => emit(&mut out, case, false)?,
            Err(e) => {
                bad += 1;
                let v = json!({"error": {"kind": "invalid_case", "message": format!("line {}: {e}", i + 1)}});
                writeln!(out, "{v}").map_err(io_err)?;
            }
        }
    }
    out.flush().map_err(io_err)?;
    if bad > 0 {
        return Err(CliError::rejected(
            "invalid_case",
            format!("{bad} input lines were rejected (see their output lines)"),
        ));
    }
    Ok(())
}

fn check(dir: &Path) -> CliResult {
    let findings = route::RulePack::check(dir);
    let errors = findings
        .iter()
        .filter(|f| f.severity == route::Severity::Error)
        .count();
    for f in &findings {
        println!("{f}");
    }
    println!(
        "{} error(s), {} warning(s)",
        errors,
        findings.len() - errors
    );
    if errors > 0 {
        return Err(CliError::rejected(
            "invalid_data",
            format!("{errors} error(s) in {}", dir.display()),
        ));
    }
    if let Ok(pack) = route::RulePack::load(dir) {
        let cov = pack.coverage();
        let cells: usize = cov.iter().map(|c| c.1).sum();
        let unverified: usize = cov.iter().map(|c| c.2).sum();
        println!(
            "rules {} (last reviewed {}): {} jurisdictions, {cells} cells, {unverified} unverified",
            pack.rules_version(),
            pack.last_reviewed(),
            cov.len()
        );
        let per: Vec<String> = cov
            .iter()
            .filter(|c| c.1 > 0)
            .map(|(code, n, u)| format!("{code} {u}/{n}"))
            .collect();
        println!("unverified per jurisdiction: {}", per.join(", "));
        for (path, rows) in pack.network_rows() {
            println!("network table {}: {rows} rows", path.display());
        }
    }
    Ok(())
}

/// Cases from a JSON-lines file or a directory of golden files, each with where it came from.
fn read_cases(path: &Path) -> Result<Vec<(String, RouteCase)>, CliError> {
    let mut out = Vec::new();
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for f in files {
            let at = f.display().to_string();
            let text = std::fs::read_to_string(&f)
                .map_err(|e| CliError::usage(format!("cannot read {at}: {e}")))?;
            let v: Value = serde_json::from_str(&text).map_err(|e| invalid_case(&at, e))?;
            out.push((at.clone(), case_of(v).map_err(|e| invalid_case(&at, e))?));
        }
        return Ok(out);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let at = format!("{}:{}", path.display(), i + 1);
        let v: Value = serde_json::from_str(line).map_err(|e| invalid_case(&at, e))?;
        out.push((at.clone(), case_of(v).map_err(|e| invalid_case(&at, e))?));
    }
    Ok(out)
}

fn diff(old: &Path, new: &Path, cases: &Path, jsonl: bool) -> CliResult {
    let a = load_rules(old)?;
    let b = load_rules(new)?;
    let cases = read_cases(cases)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let pack = route::diff::pack_changes(&a, &b);
    if !jsonl {
        writeln!(
            out,
            "pack {} ({}) -> {} ({}): {} change(s) in the data",
            a.rules_version(),
            old.display(),
            b.rules_version(),
            new.display(),
            pack.len()
        )
        .map_err(io_err)?;
        for p in &pack {
            writeln!(out, "  {p}").map_err(io_err)?;
        }
    }
    let mut changed = 0usize;
    for (at, case) in &cases {
        let changes = route::diff::decision_changes(&a.route(case), &b.route(case));
        if changes.is_empty() {
            continue;
        }
        changed += 1;
        if jsonl {
            let v = json!({
                "case_id": case.case_id,
                "source": at,
                "changes": changes.iter().map(|c| json!({"what": c.what, "reasons": c.reasons})).collect::<Vec<_>>(),
            });
            writeln!(out, "{v}").map_err(io_err)?;
            continue;
        }
        writeln!(out, "\ncase {} ({at}):", case.case_id).map_err(io_err)?;
        for c in &changes {
            writeln!(out, "  {}", c.what).map_err(io_err)?;
            for r in &c.reasons {
                writeln!(out, "      {r}").map_err(io_err)?;
            }
        }
    }
    if !jsonl {
        writeln!(out, "\n{changed} of {} decision(s) change", cases.len()).map_err(io_err)?;
    }
    out.flush().map_err(io_err)?;
    if changed > 0 && a.rules_version() == b.rules_version() {
        eprintln!(
            "warning: {changed} decision(s) change but both packs say rules_version {}: bump it in the new pack.toml",
            a.rules_version()
        );
    }
    Ok(())
}
