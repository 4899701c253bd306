//! `triage evidence …`: verify the evidence folder, export a case's bundle, print the custody
//! public key, extend a case's retention. They work on the data directory directly (the
//! service may be running: they only read the evidence folder, and `extend` writes one row of
//! the database), so they work after a crash too.
//!
//! Exit codes: 0 success; 1 verification found problems, or no such case; 2 usage or
//! configuration error; 4 the folder or database could not be read or written.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::json;

use crate::cli::{CliError, CliResult, Where};
use ingest::evidence::keys::{CustodyKey, PublicKey};
use ingest::evidence::EvidenceError;

#[derive(Subcommand)]
pub enum EvidenceCommand {
    /// Check every custody entry, link, signed checkpoint and WARC file; name what is wrong.
    Verify {
        #[command(flatten)]
        at: Where,
        /// Verify with this public key (PEM) instead of the one derived from the data
        /// directory's key: e.g. the key as published, to rule out a replaced key.
        #[arg(long = "public-key")]
        public_key: Option<PathBuf>,
        /// `text` (default) or `json`.
        #[arg(long, default_value = "text")]
        format: String,
    },
    /// Write a case's evidence bundle (WARC files, custody entries, proofs, signed head, public
    /// key, README, verify.py) to a new folder.
    Export {
        case_id: String,
        #[command(flatten)]
        at: Where,
        /// Folder to create (default `evidence-<case id>`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the custody public key (PEM) and its fingerprint.
    Pubkey {
        #[command(flatten)]
        at: Where,
    },
    /// Keep a case's evidence longer than the retention period (never shorter).
    Extend {
        case_id: String,
        #[command(flatten)]
        at: Where,
        /// Keep until this many days from now.
        #[arg(long, conflicts_with = "until")]
        days: Option<u32>,
        /// Keep until this date (`YYYY-MM-DD`, or RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// Why (e.g. the court order or investigation); stored with the case.
        #[arg(long)]
        reason: String,
    },
}

struct Paths {
    data_dir: PathBuf,
    evidence: PathBuf,
    key: PathBuf,
}

fn paths(at: &Where) -> Result<Paths, CliError> {
    let config = at.load()?;
    let data_dir = config.data_dir.clone();
    Ok(Paths {
        evidence: config.evidence.dir(&data_dir),
        key: config.evidence.key_path(&data_dir),
        data_dir,
    })
}

fn evidence_error(e: EvidenceError) -> CliError {
    let code = match &e {
        EvidenceError::NotFound(_) | EvidenceError::Damaged(_) => 1,
        EvidenceError::Key(_) => 2,
        EvidenceError::Io(_) => 4,
    };
    CliError::new(code, e.kind(), e.to_string())
}

pub fn run(command: EvidenceCommand) -> CliResult {
    match command {
        EvidenceCommand::Verify {
            at,
            public_key,
            format,
        } => verify(&at, public_key.as_deref(), &format),
        EvidenceCommand::Export { case_id, at, out } => export(&case_id, &at, out),
        EvidenceCommand::Pubkey { at } => {
            let p = paths(&at)?;
            let key = CustodyKey::load(&p.key).map_err(evidence_error)?.public();
            print!("{}", key.to_pem());
            println!("# key id {} ({})", key.key_id(), key.label());
            Ok(())
        }
        EvidenceCommand::Extend {
            case_id,
            at,
            days,
            until,
            reason,
        } => extend(&case_id, &at, days, until.as_deref(), &reason),
    }
}

fn verify(at: &Where, public_key: Option<&Path>, format: &str) -> CliResult {
    if format != "text" && format != "json" {
        return Err(CliError::usage(format!(
            "--format {format:?}: use text or json"
        )));
    }
    let p = paths(at)?;
    let key = match public_key {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| CliError::usage(format!("cannot read {}: {e}", f.display())))?;
            PublicKey::from_pem(&text)
                .map_err(|e| CliError::usage(format!("{}: {e}", f.display())))?
        }
        None => CustodyKey::load(&p.key).map_err(evidence_error)?.public(),
    };
    let report =
        ingest::evidence::verify::verify_vault(&p.evidence, &key).map_err(evidence_error)?;
    if format == "json" {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("serialisable")
        );
    } else {
        println!(
            "{}: {} custody entries, {} captures ({} files checked, {} purged), {} signed checkpoints covering {} entries",
            p.evidence.display(),
            report.entries,
            report.captures,
            report.files_checked,
            report.purged,
            report.checkpoints,
            report.covered
        );
        if report.entries > report.covered {
            println!(
                "note: the last {} entries are not yet under a signed checkpoint (one is signed every second while the service runs, and at shutdown)",
                report.entries - report.covered
            );
        }
        for w in &report.warnings {
            println!("warning: {w}");
        }
        for pr in &report.problems {
            println!("PROBLEM [{}] {}: {}", pr.class, pr.subject, pr.issue);
        }
        if report.ok() {
            println!("verified: no problems found");
        }
    }
    if report.ok() {
        Ok(())
    } else {
        Err(CliError::rejected(
            "evidence_damaged",
            format!(
                "{} problem(s) found in {}; the first: {}: {}",
                report.problems.len(),
                p.evidence.display(),
                report.problems[0].subject,
                report.problems[0].issue
            ),
        ))
    }
}

fn export(case_id: &str, at: &Where, out: Option<PathBuf>) -> CliResult {
    let p = paths(at)?;
    let key = CustodyKey::load(&p.key).map_err(evidence_error)?;
    let out = out.unwrap_or_else(|| PathBuf::from(format!("evidence-{case_id}")));
    let summary = ingest::evidence::export::export_case(&p.evidence, &key, case_id, &out)
        .map_err(evidence_error)?;
    // The case as the database knows it, for the reader's convenience. It is not covered by
    // the signature; the README says so.
    let db = p.data_dir.join("triage.sqlite");
    if db.exists() {
        if let Ok(store) = crate::store::Store::open(&p.data_dir) {
            if let Ok(Some(case)) = store.call_sync(|c| crate::store::case_view(c, case_id)) {
                let text = serde_json::to_string_pretty(&json!({
                    "note": "The case record from the triage database at export time, for reading convenience; it is not covered by the signed checkpoint. The WARC files and custody entries are the evidence.",
                    "case": case,
                }))
                .expect("serialisable");
                std::fs::write(out.join("case.json"), text).map_err(|e| {
                    CliError::external(
                        "io",
                        format!("cannot write {}: {e}", out.join("case.json").display()),
                    )
                })?;
            }
        }
    }
    println!(
        "exported case {case_id} to {}: {} custody entries, {} WARC files{}; signed head of {} entries, root {}",
        out.display(),
        summary.entries,
        summary.warc_files,
        if summary.purged > 0 {
            format!(" ({} purged)", summary.purged)
        } else {
            String::new()
        },
        summary.tree_size,
        summary.root
    );
    for w in &summary.warnings {
        println!("warning (elsewhere in the store, not in this bundle): {w}");
    }
    println!("check it with: python3 {}/verify.py", out.display());
    Ok(())
}

fn extend(
    case_id: &str,
    at: &Where,
    days: Option<u32>,
    until: Option<&str>,
    reason: &str,
) -> CliResult {
    let until = match (days, until) {
        (Some(d), None) => chrono::Utc::now() + chrono::Duration::days(i64::from(d)),
        (None, Some(u)) => parse_date(u)?,
        _ => return Err(CliError::usage("give either --days N or --until DATE")),
    };
    if until <= chrono::Utc::now() {
        return Err(CliError::rejected(
            "invalid_date",
            format!("{} is not in the future", crate::evidence::ts(until)),
        ));
    }
    if reason.trim().is_empty() {
        return Err(CliError::rejected(
            "invalid_reason",
            "--reason must say why the evidence is kept longer",
        ));
    }
    let p = paths(at)?;
    if !p.data_dir.join("triage.sqlite").exists() {
        return Err(CliError::usage(format!(
            "{} holds no triage database",
            p.data_dir.display()
        )));
    }
    let store = crate::store::Store::open(&p.data_dir)
        .map_err(|e| CliError::external("store", format!("{e:#}")))?;
    let until_s = crate::evidence::ts(until);
    let reason = reason.to_string();
    let id = case_id.to_string();
    let in_force = store
        .call_sync(move |c| crate::store::extend_retention(c, &id, &until_s, &reason))
        .map_err(|e| CliError::external("store", format!("{e:#}")))?;
    match in_force {
        None => Err(CliError::rejected(
            "not_found",
            format!("there is no case {case_id}"),
        )),
        Some(t) => {
            println!("case {case_id}: evidence kept until {t}");
            Ok(())
        }
    }
}

fn parse_date(s: &str) -> Result<chrono::DateTime<chrono::Utc>, CliError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            CliError::rejected(
                "invalid_date",
                format!("--until {s:?} is not YYYY-MM-DD or RFC 3339"),
            )
        })
}
