//! `triage admin …`: tokens and the audit log, on the data directory's SQLite file directly
//! (WAL: works while `triage serve` runs). Filesystem access to the database is the
//! credential here; every change is audited with via `cli` and the OS user as the token id
//! (`cli:<user>`).
//!
//! | command | does |
//! |---|---|
//! | `triage admin token create --agency A --role R [--label L] [--expires-in 90d \| --expires-at T]` | prints the token ONCE (with `--json`: `{"token", "id", …}`) |
//! | `triage admin token list` | every token with its state; never a secret |
//! | `triage admin token revoke ID` | revoke now |
//! | `triage admin token rotate ID [--grace 1h] [--expires-in 90d]` | new token, same agency and role; the old one expires after the grace |
//! | `triage admin audit [--case ID] [--agency A] [--action X] [--since T] [--after SEQ] [--limit N]` | audit entries, oldest first |
//! | `triage admin audit --verify` | re-compute the hash chain; exit 1 naming the first broken entry |
//!
//! `--json` (the global flag) prints JSON on stdout instead of text.
//! Exit codes: 0 done; 1 rejected input (unknown agency or role, bad expiry, no such token,
//! broken audit chain); 2 configuration; 4 the database could not be opened or written.

use crate::auth::admin::{self, CreateRequest, OpError};
use crate::auth::{audit, tokens, Principal};
use crate::cli::{CliError, CliResult, Where};
use crate::config::Config;
use crate::store::Store;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

#[derive(Subcommand)]
pub enum AdminCommand {
    /// API tokens: create, list, revoke, rotate.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Read the audit log, or verify its hash chain.
    Audit {
        #[command(flatten)]
        at: Where,
        #[command(flatten)]
        filter: AuditArgs,
        /// Re-compute the whole hash chain instead of listing.
        #[arg(long)]
        verify: bool,
    },
}

/// Which audit entries `triage admin audit` prints.
#[derive(Args)]
pub struct AuditArgs {
    /// Only entries about this case.
    #[arg(long = "case")]
    case_id: Option<String>,
    /// Only entries of this agency.
    #[arg(long)]
    agency: Option<String>,
    /// Only entries of this token id.
    #[arg(long = "token-id")]
    token_id: Option<String>,
    /// Only this action (e.g. case.view).
    #[arg(long)]
    action: Option<String>,
    /// Only entries at or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    since: Option<String>,
    /// Only entries after this sequence number.
    #[arg(long)]
    after: Option<i64>,
    /// At most this many entries (default 100).
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

impl AuditArgs {
    /// The store's filter; a bad `--limit` or `--since` is a usage error naming it.
    fn filter(self) -> Result<audit::Filter, CliError> {
        let limit = self.limit;
        if limit == 0 || limit > 100_000 {
            return Err(CliError::usage(format!(
                "--limit {limit} must be between 1 and 100000"
            )));
        }
        let since = match self.since {
            None => None,
            Some(s) => Some(crate::server::parse_since(&s).ok_or_else(|| {
                CliError::usage(format!(
                    "--since {s:?} is not an RFC 3339 time or a date (YYYY-MM-DD)"
                ))
            })?),
        };
        Ok(audit::Filter {
            case_id: self.case_id,
            agency: self.agency,
            token_id: self.token_id,
            action: self.action,
            since,
            after: self.after,
            limit,
        })
    }
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Make a token for an agency and role; it is printed once and stored only hashed.
    Create {
        #[command(flatten)]
        at: Where,
        /// One of the configured agencies.
        #[arg(long)]
        agency: String,
        /// submitter, analyst, partner, operator or admin.
        #[arg(long)]
        role: String,
        #[arg(long)]
        label: Option<String>,
        /// Lifetime: 90d (default), 12h, 30m, 45s.
        #[arg(long = "expires-in", conflicts_with = "expires_at")]
        expires_in: Option<String>,
        /// Expiry as an RFC 3339 time.
        #[arg(long = "expires-at")]
        expires_at: Option<String>,
    },
    /// Every token with its agency, role, state and dates (never a secret).
    List {
        #[command(flatten)]
        at: Where,
    },
    /// Revoke a token now.
    Revoke {
        id: String,
        #[command(flatten)]
        at: Where,
    },
    /// New token with the same agency and role; the old one keeps working for the grace.
    Rotate {
        id: String,
        #[command(flatten)]
        at: Where,
        /// How long the old token keeps working (default 1h; 0s ends it now).
        #[arg(long)]
        grace: Option<String>,
        /// Lifetime of the new token (default 90d).
        #[arg(long = "expires-in")]
        expires_in: Option<String>,
    },
}

/// Whether the global `--json` flag was given (it belongs to the top-level parser, which does
/// not hand it to subcommands; it means "JSON on stdout" for every command).
fn json_output() -> bool {
    std::env::args_os().any(|a| a == "--json")
}

struct Ctx {
    config: Config,
    store: Store,
    who: Principal,
}

fn open(at: &Where) -> Result<Ctx, CliError> {
    let config = at.load()?;
    let store =
        Store::open(&config.data_dir).map_err(|e| CliError::external("store", format!("{e:#}")))?;
    store
        .call_sync(|c| crate::auth::init(c))
        .map_err(|e| CliError::external("store", format!("{e:#}")))?;
    let agencies = crate::auth::agencies(&config);
    let who = match config.admin_agency() {
        Some(a) => Principal::cli(&a.id, &agencies[&a.id]),
        None => Principal::cli("-", "-"),
    };
    Ok(Ctx { config, store, who })
}

fn op_error(e: OpError) -> CliError {
    if e.internal {
        CliError::external("store", e.message)
    } else {
        CliError::rejected(e.kind, e.message)
    }
}

fn store_error(e: anyhow::Error) -> CliError {
    CliError::external("store", format!("{e:#}"))
}

pub fn run(command: AdminCommand) -> CliResult {
    match command {
        AdminCommand::Token { command } => token(command),
        AdminCommand::Audit { at, filter, verify } => {
            let ctx = open(&at)?;
            if verify {
                return verify_chain(&ctx);
            }
            let f = filter.filter()?;
            let entries = ctx
                .store
                .call_sync(|c| audit::query(c, &f))
                .map_err(store_error)?;
            if json_output() {
                for e in &entries {
                    println!("{e}");
                }
            } else {
                for e in &entries {
                    println!(
                        "{:>6}  {}  {:<10} {:<16} {:<8} {:<4} {:<18} {}  {}",
                        e["seq"],
                        e["at"].as_str().unwrap_or_default(),
                        e["who"]["agency"].as_str().unwrap_or_default(),
                        e["who"]["token_id"].as_str().unwrap_or_default(),
                        e["who"]["role"].as_str().unwrap_or_default(),
                        e["via"].as_str().unwrap_or_default(),
                        e["action"].as_str().unwrap_or_default(),
                        e["case_id"].as_str().unwrap_or("-"),
                        e["detail"],
                    );
                }
            }
            Ok(())
        }
    }
}

fn verify_chain(ctx: &Ctx) -> CliResult {
    let v = ctx
        .store
        .call_sync(|c| audit::verify(c))
        .map_err(store_error)?;
    match &v.broken {
        None => {
            if json_output() {
                println!(
                    "{}",
                    json!({"ok": true, "entries": v.entries, "head": v.head})
                );
            } else {
                println!("audit log intact: {} entries, head {}", v.entries, v.head);
            }
            Ok(())
        }
        Some((seq, why)) => {
            if json_output() {
                println!(
                    "{}",
                    json!({"ok": false, "entries_verified": v.entries, "broken_at": seq, "problem": why})
                );
            }
            Err(CliError::rejected(
                "audit_broken",
                format!(
                    "audit log broken at entry {seq}: {why} ({} entries before it verify)",
                    v.entries
                ),
            ))
        }
    }
}

fn print_token(v: &Value, token: Option<&str>) {
    if json_output() {
        println!("{v}");
        return;
    }
    if let Some(t) = token {
        println!("{t}");
        eprintln!(
            "token {} for agency {} (role {}), expires {} — shown once; store it now",
            v["id"].as_str().unwrap_or_default(),
            v["agency"].as_str().unwrap_or_default(),
            v["role"].as_str().unwrap_or_default(),
            v["expires_at"].as_str().unwrap_or_default(),
        );
    }
}

fn token(command: TokenCommand) -> CliResult {
    let now = chrono::Utc::now();
    match command {
        TokenCommand::Create {
            at,
            agency,
            role,
            label,
            expires_in,
            expires_at,
        } => {
            let ctx = open(&at)?;
            let agencies = crate::auth::agencies(&ctx.config);
            let req = CreateRequest {
                agency,
                role,
                label,
                expires_in,
                expires_at,
            };
            let (row, token) = ctx
                .store
                .call_sync(|c| Ok(admin::create(c, &agencies, &ctx.who, "cli", &req)))
                .map_err(store_error)?
                .map_err(op_error)?;
            let mut v = row.to_json(now);
            v["token"] = token.clone().into();
            print_token(&v, Some(&token));
            Ok(())
        }
        TokenCommand::List { at } => {
            let ctx = open(&at)?;
            let rows = ctx.store.call_sync(tokens::list).map_err(store_error)?;
            if json_output() {
                println!(
                    "{}",
                    json!({"tokens": rows.iter().map(|r| r.to_json(now)).collect::<Vec<_>>()})
                );
            } else {
                println!(
                    "{:<12}  {:<16} {:<9} {:<8} {:<24} {:<24} label",
                    "id", "agency", "role", "state", "expires_at", "last_used_at"
                );
                for r in &rows {
                    println!(
                        "{:<12}  {:<16} {:<9} {:<8} {:<24} {:<24} {}",
                        r.id,
                        r.agency,
                        r.role,
                        r.state(now),
                        r.expires_at,
                        r.last_used_at.as_deref().unwrap_or("-"),
                        r.label
                    );
                }
            }
            Ok(())
        }
        TokenCommand::Revoke { id, at } => {
            let ctx = open(&at)?;
            let (row, changed) = ctx
                .store
                .call_sync(|c| Ok(admin::revoke(c, &ctx.who, "cli", &id)))
                .map_err(store_error)?
                .map_err(op_error)?;
            if json_output() {
                let mut v = row.to_json(now);
                v["changed"] = changed.into();
                println!("{v}");
            } else if changed {
                println!("token {} revoked", row.id);
            } else {
                println!(
                    "token {} was already revoked at {}",
                    row.id,
                    row.revoked_at.as_deref().unwrap_or_default()
                );
            }
            Ok(())
        }
        TokenCommand::Rotate {
            id,
            at,
            grace,
            expires_in,
        } => {
            let ctx = open(&at)?;
            let r = ctx
                .store
                .call_sync(|c| {
                    Ok(admin::rotate(
                        c,
                        &ctx.who,
                        "cli",
                        &id,
                        grace.as_deref(),
                        expires_in.as_deref(),
                    ))
                })
                .map_err(store_error)?
                .map_err(op_error)?;
            let mut v = r.new.to_json(now);
            v["token"] = r.token.clone().into();
            v["previous"] = r.old.to_json(now);
            if !json_output() {
                eprintln!("old token {} stops at {}", r.old.id, r.old.expires_at);
            }
            print_token(&v, Some(&r.token));
            Ok(())
        }
    }
}
