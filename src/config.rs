//! Configuration: one documented serde type, validated before any I/O (`triage check-config`
//! runs exactly this validation). Every field has a default, so `triage serve` with no file
//! runs the embedded default: SQLite under `./triage-data`, HTTP on 127.0.0.1:8080, lists and
//! the legal data pack from `fixtures/`.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address of the HTTP API; port 0 picks a free port (printed at start).
    pub listen: SocketAddr,
    /// SQLite database and evidence live here.
    pub data_dir: PathBuf,
    /// Shared lists in the LISTS.md layout.
    pub lists_dir: PathBuf,
    /// The legal data pack.
    pub legal_dir: PathBuf,
    /// Referrals processed at once (fetch concurrency).
    pub workers: usize,
    /// `text` or `json` logs on stderr.
    pub log_format: LogFormat,
    /// The agency a request without a token refers as. The embedded default has one demo
    /// agency so that a newcomer can submit without setting up credentials.
    pub default_agency: Option<String>,
    pub agencies: Vec<Agency>,
    /// Largest request body accepted by the API, in bytes.
    pub max_body_bytes: usize,
    /// Most referrals in one batch request.
    pub max_batch: usize,
    /// Ask for cross-border evidence requests for every case.
    pub want_evidence: bool,
    /// Address policy and limits of the fetcher.
    pub fetch: ingest::FetchPolicy,
    /// Shared-list governance (`[lists]`).
    pub lists: ListsConfig,
    /// Evidence preservation (`[evidence]`), retention (`[retention]`) and liveness re-checks
    /// (`[liveness]`): see `src/evidence.rs`.
    pub evidence: crate::evidence::EvidenceConfig,
    pub retention: crate::evidence::RetentionConfig,
    pub liveness: crate::evidence::LivenessConfig,
    /// Automatic retries of fetches that failed for a reason that may pass (`[retry]`: see
    /// `src/retry.rs`).
    pub retry: crate::retry::RetryConfig,
    /// Kafka mode (`[kafka]`, see `src/kafka/config.rs`); on when `brokers` is set here or by
    /// `triage serve --kafka BROKERS`.
    pub kafka: crate::kafka::KafkaConfig,
}

/// `[lists]`: governance of the shared lists while they serve.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListsConfig {
    /// An entry that matches more distinct URLs than this within one hour is quarantined: its
    /// matches are reported as suppressed and count for nothing until an admin releases it
    /// (`POST /v1/lists/quarantine/{list}/{entry}/release`). 0 turns the quarantine off.
    pub quarantine_distinct_urls_per_hour: usize,
}

impl Default for ListsConfig {
    fn default() -> Self {
        ListsConfig {
            quarantine_distinct_urls_per_hour: 100,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agency {
    pub id: String,
    /// ISO 3166-1 alpha-2 (`UK` is read as `GB`).
    pub jurisdiction: String,
    /// Bearer token this agency authenticates with (hashed, per-agency tokens come with the
    /// accounts work; until then keep this file private).
    #[serde(default)]
    pub token: Option<String>,
    /// May reload the lists and release quarantined entries (`POST /v1/lists/reload`, …).
    /// Until accounts and roles exist this flag is the admin role; it needs a `token`, so the
    /// token-less default agency is never an admin.
    #[serde(default)]
    pub admin: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".parse().expect("static address"),
            data_dir: PathBuf::from("triage-data"),
            lists_dir: fixtures_path("lists"),
            legal_dir: fixtures_path("legal"),
            workers: 16,
            log_format: LogFormat::Text,
            default_agency: Some("demo-unit".into()),
            agencies: vec![Agency {
                id: "demo-unit".into(),
                jurisdiction: "FR".into(),
                token: None,
                admin: false,
            }],
            max_body_bytes: 1024 * 1024,
            max_batch: 1000,
            want_evidence: false,
            fetch: ingest::FetchPolicy::default(),
            lists: ListsConfig::default(),
            evidence: Default::default(),
            retention: Default::default(),
            liveness: Default::default(),
            retry: Default::default(),
            kafka: Default::default(),
        }
    }
}

/// `fixtures/<name>` relative to the working directory, or — when run from elsewhere, e.g. by
/// `cargo run` in a subfolder — the repository's own fixtures.
pub fn fixtures_path(name: &str) -> PathBuf {
    let local = Path::new("fixtures").join(name);
    if local.exists() {
        return local;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    if repo.exists() {
        repo
    } else {
        local
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("config: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads a TOML file (or the defaults when `path` is `None`) and validates it.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let config = match path {
            None => Config::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.to_path_buf(),
                    line: e
                        .span()
                        .map(|s| shared::lists::line_of(&text, s.start))
                        .unwrap_or(1),
                    message: e.message().to_string(),
                })?
            }
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks everything that can be checked without touching the disk or the network.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.workers == 0 || self.workers > 4096 {
            return bad(format!(
                "workers = {} must be between 1 and 4096",
                self.workers
            ));
        }
        if self.max_body_bytes < 1024 {
            return bad(format!(
                "max_body_bytes = {} is below 1024",
                self.max_body_bytes
            ));
        }
        if self.max_batch == 0 {
            return bad("max_batch must be at least 1".into());
        }
        let mut ids = std::collections::HashSet::new();
        let mut tokens = std::collections::HashSet::new();
        for (i, a) in self.agencies.iter().enumerate() {
            if a.id.trim().is_empty() {
                return bad(format!("agencies[{i}].id is empty"));
            }
            if !ids.insert(a.id.as_str()) {
                return bad(format!("agencies[{i}].id {:?} appears twice", a.id));
            }
            if shared::normalize_jurisdiction(&a.jurisdiction).is_none() {
                return bad(format!(
                    "agencies[{i}].jurisdiction {:?} is not an ISO 3166-1 alpha-2 code",
                    a.jurisdiction
                ));
            }
            if a.admin && a.token.is_none() {
                return bad(format!(
                    "agencies[{i}] {:?} has admin = true but no token; admin actions need one",
                    a.id
                ));
            }
            if let Some(t) = &a.token {
                if t.len() < 16 {
                    return bad(format!("agencies[{i}].token is shorter than 16 characters"));
                }
                if !tokens.insert(t.as_str()) {
                    return bad(format!("agencies[{i}].token is used by another agency too"));
                }
            }
        }
        if self.lists.quarantine_distinct_urls_per_hour > 100_000 {
            return bad(format!(
                "lists.quarantine_distinct_urls_per_hour = {} is over 100000 (0 turns the quarantine off)",
                self.lists.quarantine_distinct_urls_per_hour
            ));
        }
        if let Some(d) = &self.default_agency {
            if !ids.contains(d.as_str()) {
                return bad(format!("default_agency {d:?} is not one of the agencies"));
            }
        }
        self.fetch
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("fetch: {e}")))?;
        crate::evidence::validate(&self.evidence, &self.retention, &self.liveness)
            .map_err(ConfigError::Invalid)?;
        self.retry.validate().map_err(ConfigError::Invalid)?;
        self.kafka.validate().map_err(ConfigError::Invalid)?;
        Ok(())
    }

    /// The agency a bearer token belongs to; with no token, the default agency.
    pub fn agency_for(&self, token: Option<&str>) -> Option<&Agency> {
        match token {
            Some(t) => self
                .agencies
                .iter()
                .find(|a| a.token.as_deref().is_some_and(|x| constant_eq(x, t))),
            None => {
                let d = self.default_agency.as_deref()?;
                self.agencies.iter().find(|a| a.id == d)
            }
        }
    }
}

/// Compares secrets without an early exit on the first differing byte.
fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn parse_errors_name_the_line() {
        let dir = std::env::temp_dir().join(format!("triage-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("bad.toml");
        std::fs::write(&f, "workers = 4\nlisten = \"127.0.0.1:0\"\nnope = 1\n").unwrap();
        let err = Config::load(Some(&f)).unwrap_err().to_string();
        assert!(err.contains("bad.toml:3:") && err.contains("nope"), "{err}");
    }

    #[test]
    fn agencies_are_checked() {
        let mut c = Config::default();
        c.agencies.push(Agency {
            id: "x".into(),
            jurisdiction: "France".into(),
            token: None,
            admin: false,
        });
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("agencies[1].jurisdiction"));
        let c = Config {
            default_agency: Some("nobody".into()),
            ..Config::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn tokens_pick_agencies() {
        let mut c = Config::default();
        c.agencies.push(Agency {
            id: "de-bka".into(),
            jurisdiction: "DE".into(),
            token: Some("0123456789abcdef-de".into()),
            admin: false,
        });
        assert_eq!(
            c.agency_for(Some("0123456789abcdef-de")).unwrap().id,
            "de-bka"
        );
        assert!(c.agency_for(Some("wrong-token-wrong-token")).is_none());
        assert_eq!(c.agency_for(None).unwrap().id, "demo-unit");
    }

    #[test]
    fn admins_need_a_token_and_the_quarantine_limit_is_bounded() {
        let mut c = Config::default();
        assert!(!c.agencies[0].admin);
        c.agencies[0].admin = true;
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("admin = true but no token"), "{err}");
        c.agencies[0].token = Some("0123456789abcdef-admin".into());
        c.validate().unwrap();
        c.lists.quarantine_distinct_urls_per_hour = 100_001;
        assert!(c.validate().is_err());
        let parsed: Config = toml::from_str(
            "[lists]\nquarantine_distinct_urls_per_hour = 5\n[[agencies]]\nid = 'ops'\njurisdiction = 'FR'\ntoken = '0123456789abcdef-ops'\nadmin = true\n",
        )
        .unwrap();
        assert_eq!(parsed.lists.quarantine_distinct_urls_per_hour, 5);
        assert!(parsed.agencies[0].admin);
    }
}
