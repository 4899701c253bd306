//! The command line of CONTRACTS.md. Exit codes: 0 success; 1 input rejected; 2 usage or
//! configuration error; 3 refused by policy; 4 external failure. Errors go to stderr as one
//! sentence, or with `--json` to stdout as `{"error":{"kind","message"}}`.

use crate::config::{fixtures_path, Config};
use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};
use std::io::{BufRead, BufWriter, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "triage",
    version,
    about = "Referral triage for internet referral units: fetch, preserve, classify and route referred URLs"
)]
struct Cli {
    /// Print errors as JSON on stdout instead of a sentence on stderr.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole service (embedded mode by default: SQLite, no broker).
    Serve(ServeArgs),
    /// Classify text or HTML from FILE or stdin.
    Classify {
        /// Lists directory (default: fixtures/lists).
        #[arg(long)]
        lists: Option<PathBuf>,
        /// One JSON document per line in, one classification per line out.
        #[arg(long)]
        jsonl: bool,
        file: Option<PathBuf>,
    },
    /// Route one case (JSON) or, with --jsonl, one case per line; print the decision(s).
    Route {
        /// Legal data pack directory (default: fixtures/legal).
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long)]
        jsonl: bool,
        /// Print a readable trace of every routing step instead of the JSON decision.
        #[arg(long)]
        explain: bool,
        file: Option<PathBuf>,
    },
    /// Fetch a URL as the pipeline would and print the capture's metadata.
    Fetch {
        /// Let exactly this socket address through the address policy (repeatable).
        #[arg(long = "allow-private", value_name = "HOST:PORT")]
        allow_private: Vec<String>,
        /// Take the fetch policy from this config file.
        #[arg(long)]
        config: Option<PathBuf>,
        url: String,
    },
    /// Submit URLs, one per line, from FILE or stdin; print the referral ids.
    Submit {
        #[arg(long, default_value = "http://127.0.0.1:8080", env = "TRIAGE_SERVER")]
        server: String,
        #[arg(long, env = "TRIAGE_TOKEN", hide_env_values = true)]
        token: Option<String>,
        file: Option<PathBuf>,
    },
    /// Shared lists: check, import, export.
    Lists {
        #[command(subcommand)]
        command: crate::cmd_lists::ListsCommand,
    },
    /// The legal data pack.
    Data {
        #[command(subcommand)]
        command: crate::cmd_route::DataCommand,
    },
    /// Validate configuration without touching the network.
    CheckConfig {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Measure a component on labelled data (language ID).
    Eval {
        #[command(subcommand)]
        command: crate::cmd_eval::EvalCommand,
    },
    /// Preserved evidence: verify the store, export a case, show the public key, extend retention.
    Evidence {
        #[command(subcommand)]
        command: crate::cmd_evidence::EvidenceCommand,
    },
    /// Accounts: API tokens (create, list, revoke, rotate) and the audit log.
    Admin {
        #[command(subcommand)]
        command: crate::cmd_admin::AdminCommand,
    },
    /// Demo and test helpers.
    Fixtures {
        #[command(subcommand)]
        command: FixturesCommand,
    },
}

#[derive(Subcommand)]
enum FixturesCommand {
    /// Serve a folder of pages (default fixtures/pages) on loopback for demos and tests.
    Serve {
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
    },
}

#[derive(Args, Clone, Default)]
pub struct ServeArgs {
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    #[arg(long = "data-dir")]
    pub data_dir: Option<PathBuf>,
    /// Kafka mode: bootstrap brokers `host:port[,host:port…]` (overrides `[kafka] brokers`).
    #[arg(long)]
    pub kafka: Option<String>,
    /// Let exactly this socket address through the address policy (repeatable).
    #[arg(long = "allow-private", value_name = "HOST:PORT")]
    pub allow_private: Vec<String>,
    /// Lists directory (overrides the config).
    #[arg(long)]
    pub lists: Option<PathBuf>,
    /// Legal data pack directory (overrides the config).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Referrals processed at once (overrides the config).
    #[arg(long)]
    pub workers: Option<usize>,
}

/// An error with its CONTRACTS.md kind and exit code.
#[derive(Debug)]
pub struct CliError {
    pub kind: String,
    pub message: String,
    pub code: u8,
}

impl CliError {
    pub fn new(code: u8, kind: impl Into<String>, message: impl Into<String>) -> CliError {
        CliError {
            kind: kind.into(),
            message: message.into(),
            code,
        }
    }
    pub fn rejected(kind: &str, m: impl Into<String>) -> CliError {
        CliError::new(1, kind, m)
    }
    pub fn usage(m: impl Into<String>) -> CliError {
        CliError::new(2, "config", m)
    }
    pub fn external(kind: &str, m: impl Into<String>) -> CliError {
        CliError::new(4, kind, m)
    }
}

impl From<crate::config::ConfigError> for CliError {
    fn from(e: crate::config::ConfigError) -> Self {
        CliError::usage(e.to_string())
    }
}

pub type CliResult = Result<(), CliError>;

/// Where a command finds the service's data, as `serve` does: `--config` (its `data_dir` and the
/// sections the command reads) and `--data-dir` (overrides the config; default `triage-data`).
#[derive(Args, Clone)]
pub struct Where {
    /// Configuration file (its `data_dir` and the sections this command reads).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data directory (overrides the config; default `triage-data`).
    #[arg(long = "data-dir")]
    pub data_dir: Option<PathBuf>,
}

impl Where {
    /// The configuration, with `--data-dir` applied.
    pub fn load(&self) -> Result<Config, CliError> {
        let mut config = Config::load(self.config.as_deref())?;
        if let Some(d) = &self.data_dir {
            config.data_dir = d.clone();
        }
        Ok(config)
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let json_errors = cli.json;
    let result = run(cli.command);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json_errors {
                println!(
                    "{}",
                    json!({"error": {"kind": e.kind, "message": e.message}})
                );
            } else {
                eprintln!("triage: {}", e.message);
            }
            ExitCode::from(e.code)
        }
    }
}

fn run(command: Command) -> CliResult {
    match command {
        Command::Serve(args) => crate::serve::serve(args),
        Command::Classify { lists, jsonl, file } => classify_cmd(lists, jsonl, file),
        Command::Route {
            data,
            jsonl,
            explain,
            file,
        } => crate::cmd_route::route(data, jsonl, explain, file),
        Command::Fetch {
            allow_private,
            config,
            url,
        } => fetch_cmd(allow_private, config, &url),
        Command::Submit {
            server,
            token,
            file,
        } => submit_cmd(&server, token.as_deref(), file),
        Command::Lists { command } => crate::cmd_lists::run(command),
        Command::Data { command } => crate::cmd_route::data(command),
        Command::CheckConfig { config } => {
            let c = Config::load(config.as_deref())?;
            println!(
                "configuration is valid: listen {}, data in {}, {} agencies",
                c.listen,
                c.data_dir.display(),
                c.agencies.len()
            );
            Ok(())
        }
        Command::Eval { command } => crate::cmd_eval::run(command),
        Command::Evidence { command } => crate::cmd_evidence::run(command),
        Command::Admin { command } => crate::cmd_admin::run(command),
        Command::Fixtures {
            command: FixturesCommand::Serve { dir, listen },
        } => {
            let dir = dir.unwrap_or_else(|| fixtures_path("pages"));
            crate::fixtures_server::run(&dir, listen)
        }
    }
}

/// Parses `--allow-private` values (`IP:PORT`).
pub fn parse_allow_private(values: &[String]) -> Result<Vec<SocketAddr>, CliError> {
    values
        .iter()
        .map(|v| {
            v.parse::<SocketAddr>().map_err(|_| {
                CliError::usage(format!(
                    "--allow-private {v:?} is not an IP:PORT socket address (e.g. 127.0.0.1:8081)"
                ))
            })
        })
        .collect()
}

fn open_input(file: Option<&Path>) -> Result<Box<dyn BufRead>, CliError> {
    match file {
        None => Ok(Box::new(std::io::BufReader::new(std::io::stdin()))),
        Some(p) => {
            let f = std::fs::File::open(p)
                .map_err(|e| CliError::usage(format!("cannot open {}: {e}", p.display())))?;
            Ok(Box::new(std::io::BufReader::new(f)))
        }
    }
}

pub fn load_classifier(
    dir: &Path,
) -> Result<(classify::Classifier, shared::lists::ListSet), CliError> {
    let lists = shared::lists::ListSet::load_dir(dir).map_err(|p| {
        let all: Vec<String> = p.0.iter().map(|x| x.to_string()).collect();
        CliError::usage(format!(
            "lists in {} are invalid:\n{}",
            dir.display(),
            all.join("\n")
        ))
    })?;
    let c = classify::Classifier::new(&lists).map_err(|e| {
        CliError::usage(format!(
            "lists in {} cannot be compiled: {e}",
            dir.display()
        ))
    })?;
    Ok((c, lists))
}

pub fn load_rules(dir: &Path) -> Result<route::RulePack, CliError> {
    route::RulePack::load(dir).map_err(|e| {
        CliError::usage(format!(
            "legal data pack in {} is invalid: {e}",
            dir.display()
        ))
    })
}

/// Extracts text from HTML input, or takes plain text as it is.
fn document_text(text: Option<String>, html: Option<String>) -> String {
    match (text, html) {
        (_, Some(html)) => {
            ingest::extract(html.as_bytes(), Some("text/html; charset=utf-8"), None).text
        }
        (Some(t), None) => t,
        (None, None) => String::new(),
    }
}

fn looks_like_html(s: &str) -> bool {
    let head = s
        .trim_start()
        .get(..512.min(s.trim_start().len()))
        .unwrap_or("")
        .to_ascii_lowercase();
    head.starts_with("<!doctype html")
        || head.starts_with("<html")
        || head.contains("<body")
        || head.contains("<head")
}

/// Whether standard output is a regular file (not a pipe, socket or terminal). Unknown
/// (no `/dev/stdout`) counts as not a file, so answers are flushed line by line.
fn stdout_is_file() -> bool {
    std::fs::metadata("/dev/stdout").is_ok_and(|m| m.file_type().is_file())
}

fn classify_cmd(lists: Option<PathBuf>, jsonl: bool, file: Option<PathBuf>) -> CliResult {
    let dir = lists.unwrap_or_else(|| fixtures_path("lists"));
    let (classifier, _) = load_classifier(&dir)?;
    let mut input = open_input(file.as_deref())?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if !jsonl {
        let mut buf = Vec::new();
        input
            .read_to_end(&mut buf)
            .map_err(|e| CliError::external("io", format!("cannot read input: {e}")))?;
        let s = String::from_utf8_lossy(&buf).into_owned();
        let text = if looks_like_html(&s) {
            document_text(None, Some(s))
        } else {
            s
        };
        let c = classifier.classify(&classify::Document {
            text: &text,
            sha256: None,
            md5: None,
            url: None,
            images: &[],
        });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&c).expect("serialisable")
        )
        .map_err(io_err)?;
        return Ok(());
    }
    // Streams: one line in, one line out, in order; nothing but the current line is held.
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[serde(default)]
        id: Option<Value>,
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        html: Option<String>,
    }
    // Into a file, lines are written in 8 KB blocks; to a pipe or terminal each answer is
    // flushed as soon as it is made, so an interactive client gets it before sending more.
    let flush_each = !stdout_is_file();
    let mut bad = 0usize;
    let mut line = String::new();
    let mut n = 0usize;
    loop {
        line.clear();
        let read = input.read_line(&mut line).map_err(|e| {
            CliError::external("io", format!("cannot read input line {}: {e}", n + 1))
        })?;
        if read == 0 {
            break;
        }
        n += 1;
        let out_line = match serde_json::from_str::<Doc>(line.trim_end_matches(['\n', '\r'])) {
            Ok(Doc {
                text: None,
                html: None,
                id,
            }) => {
                bad += 1;
                json!({"id": id, "error": {"kind": "invalid_input", "message": format!("line {n}: needs \"text\" or \"html\"")}})
            }
            Ok(doc) => {
                let text = document_text(doc.text, doc.html);
                let mut c = classifier.classify(&classify::Document {
                    text: &text,
                    sha256: None,
                    md5: None,
                    url: None,
                    images: &[],
                });
                c.id = doc.id;
                serde_json::to_value(&c).expect("serialisable")
            }
            Err(e) => {
                bad += 1;
                json!({"id": null, "error": {"kind": "invalid_input", "message": format!("line {n}: {e}")}})
            }
        };
        writeln!(out, "{out_line}").map_err(io_err)?;
        if flush_each {
            out.flush().map_err(io_err)?;
        }
    }
    out.flush().map_err(io_err)?;
    if bad > 0 {
        return Err(CliError::rejected(
            "invalid_input",
            format!("{bad} of {n} input lines were rejected (see their output lines)"),
        ));
    }
    Ok(())
}

fn io_err(e: std::io::Error) -> CliError {
    CliError::external("io", format!("cannot write output: {e}"))
}

fn fetch_cmd(allow_private: Vec<String>, config: Option<PathBuf>, url: &str) -> CliResult {
    let mut policy = match config {
        Some(p) => Config::load(Some(&p))?.fetch,
        None => ingest::FetchPolicy::default(),
    };
    policy
        .allow_private
        .extend(parse_allow_private(&allow_private)?);
    let target = ingest::parse_target(url).map_err(|e| fetch_error(&e))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::external("runtime", e.to_string()))?;
    let fetcher = ingest::Fetcher::new(policy).map_err(|e| fetch_error(&e))?;
    let cap = rt
        .block_on(fetcher.fetch(&target))
        .map_err(|e| fetch_error(&e))?;
    let extracted = ingest::extract(
        &cap.body,
        cap.content_type.as_deref(),
        url::Url::parse(&cap.final_url).ok().as_ref(),
    );
    let lang = classify::langid::language(&extracted.text).map(|l| l.code);
    let mut v = serde_json::to_value(&cap).expect("serialisable");
    v["charset"] = json!(extracted.charset);
    v["title"] = json!(extracted.title);
    v["language"] = json!(lang);
    println!(
        "{}",
        serde_json::to_string_pretty(&v).expect("serialisable")
    );
    Ok(())
}

/// Exit codes of CONTRACTS.md for a fetch error: 3 refused by policy, 1 a URL that is not one,
/// 2 a policy that is not valid, 4 anything external.
fn fetch_error(e: &ingest::FetchError) -> CliError {
    let code = match e.kind() {
        _ if e.is_policy_refusal() => 3,
        "invalid_url" | "too_long" => 1,
        "config" => 2,
        _ => 4,
    };
    CliError::new(code, e.kind(), e.to_string())
}

fn submit_cmd(server: &str, token: Option<&str>, file: Option<PathBuf>) -> CliResult {
    let input = open_input(file.as_deref())?;
    let mut items = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line =
            line.map_err(|e| CliError::external("io", format!("cannot read line {}: {e}", i + 1)))?;
        let url = line.trim();
        if url.is_empty() || url.starts_with('#') {
            continue;
        }
        if let Err(e) = shared::url::canonical_url(url) {
            return Err(CliError::rejected(
                e.kind(),
                format!("line {}: {url}: {e}", i + 1),
            ));
        }
        items.push(json!({"url": url}));
    }
    if items.is_empty() {
        return Err(CliError::rejected("invalid_input", "no URLs to submit"));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::external("runtime", e.to_string()))?;
    let endpoint = format!("{}/v1/referrals", server.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| CliError::external("http", e.to_string()))?;
    let (status, body) = rt.block_on(async {
        let mut req = client.post(&endpoint).json(&json!({"referrals": items}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| CliError::external("connect", format!("cannot reach {endpoint}: {e}")))?;
        let status = resp.status();
        let body: Value = resp.json().await.map_err(|e| {
            CliError::external(
                "http",
                format!("{endpoint} answered {status} without JSON: {e}"),
            )
        })?;
        Ok::<_, CliError>((status, body))
    })?;
    if !status.is_success() {
        let kind = body["error"]["kind"].as_str().unwrap_or("http").to_string();
        let msg = body["error"]["message"]
            .as_str()
            .unwrap_or("no reason given");
        let code = if status.is_client_error() { 1 } else { 4 };
        return Err(CliError::new(
            code,
            kind,
            format!("the server refused the referrals ({status}): {msg}"),
        ));
    }
    for r in body["referrals"].as_array().into_iter().flatten() {
        println!("{}", r["referral_id"].as_str().unwrap_or_default());
        if let Some(p) = r.get("already_referred") {
            eprintln!(
                "note: {} was already referred by {} at {} (case {})",
                r["referral_id"].as_str().unwrap_or_default(),
                p["by"].as_str().unwrap_or_default(),
                p["at"].as_str().unwrap_or_default(),
                r["case_id"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(())
}
