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
    /// The agency the bootstrap admin token (made on first start) belongs to, and the one
    /// `triage admin` records as acting. Every request needs a token (see `src/auth/`).
    pub default_agency: Option<String>,
    /// The agencies (`[[agencies]] id, jurisdiction`); tokens are made per agency with
    /// `triage admin token create` and stored hashed in the database, never in this file.
    pub agencies: Vec<Agency>,
    /// Rate limits (`[limits]`): per token, and failed authentications per address.
    pub limits: LimitsConfig,
    /// Origins that may call the API from a browser (CORS). Empty (the default): no
    /// `Access-Control-*` header is ever sent.
    pub cors_allowed_origins: Vec<String>,
    /// The analysts' web page (`[web]`: `secure_cookies`, `session_idle_minutes`; see
    /// src/web/mod.rs).
    pub web: crate::web::WebConfig,
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

/// `[limits]`: request rates. A token over its rate gets 429 with `Retry-After`; an address
/// that fails authentication more than `failed_auth_per_minute` times gets 429 on everything
/// but the probes until its allowance refills.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Sustained requests per second per token (0 turns the limit off).
    pub requests_per_second: f64,
    /// Requests a token may make at once above the sustained rate.
    pub burst: u32,
    /// Failed authentications allowed per remote address per minute (0 turns it off).
    pub failed_auth_per_minute: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            requests_per_second: 50.0,
            burst: 100,
            failed_auth_per_minute: 30,
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
    /// Refused: tokens used to live here in clear. Read only to say what to do instead.
    #[serde(default)]
    pub token: Option<toml::Value>,
    /// Refused: the admin flag became the `admin` role of a token.
    #[serde(default)]
    pub admin: Option<toml::Value>,
}

impl Agency {
    pub fn new(id: &str, jurisdiction: &str) -> Agency {
        Agency {
            id: id.into(),
            jurisdiction: jurisdiction.into(),
            token: None,
            admin: None,
        }
    }
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
            agencies: vec![Agency::new("demo-unit", "FR")],
            limits: LimitsConfig::default(),
            cors_allowed_origins: Vec::new(),
            web: Default::default(),
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
        if self.web.session_idle_minutes == 0 {
            return bad("web.session_idle_minutes must be at least 1".into());
        }
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
            if a.token.is_some() {
                return bad(format!(
                    "agencies[{i}].token is no longer read: tokens are stored hashed in the database; remove it and run `triage admin token create --agency {} --role analyst` (or submitter, partner, …)",
                    a.id
                ));
            }
            if a.admin.is_some() {
                return bad(format!(
                    "agencies[{i}].admin is no longer read: admin is a token role; remove it and run `triage admin token create --agency {} --role admin`",
                    a.id
                ));
            }
        }
        if !self.limits.requests_per_second.is_finite()
            || self.limits.requests_per_second < 0.0
            || self.limits.requests_per_second > 1_000_000.0
        {
            return bad(format!(
                "limits.requests_per_second = {} must be between 0 (no limit) and 1000000",
                self.limits.requests_per_second
            ));
        }
        if self.limits.burst == 0 {
            return bad("limits.burst must be at least 1".into());
        }
        for (i, o) in self.cors_allowed_origins.iter().enumerate() {
            let ok = url::Url::parse(o).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.path() == "/"
                    && u.query().is_none()
                    && !o.ends_with('/')
            });
            if !ok {
                return bad(format!(
                    "cors_allowed_origins[{i}] {o:?} is not an origin like https://host or https://host:port"
                ));
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

    /// The agency `triage admin` and the bootstrap admin token act as: `default_agency`, or
    /// the first agency.
    pub fn admin_agency(&self) -> Option<&crate::config::Agency> {
        match self.default_agency.as_deref() {
            Some(d) => self.agencies.iter().find(|a| a.id == d),
            None => self.agencies.first(),
        }
    }
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
        c.agencies.push(Agency::new("x", "France"));
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
    fn old_token_and_admin_fields_are_refused_with_directions() {
        let dir = std::env::temp_dir().join(format!("triage-config-old-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("old.toml");
        std::fs::write(
            &f,
            "[[agencies]]\nid = 'ops'\njurisdiction = 'FR'\ntoken = '0123456789abcdef-ops'\n",
        )
        .unwrap();
        let err = Config::load(Some(&f)).unwrap_err().to_string();
        assert!(
            err.contains("agencies[0].token is no longer read")
                && err.contains("triage admin token create --agency ops"),
            "{err}"
        );
        std::fs::write(
            &f,
            "[[agencies]]\nid = 'ops'\njurisdiction = 'FR'\nadmin = true\n",
        )
        .unwrap();
        let err = Config::load(Some(&f)).unwrap_err().to_string();
        assert!(
            err.contains("agencies[0].admin") && err.contains("--role admin"),
            "{err}"
        );
        std::fs::write(
            &f,
            "default_agency = 'ops'\n[[agencies]]\nid = 'ops'\njurisdiction = 'FR'\n",
        )
        .unwrap();
        Config::load(Some(&f)).unwrap();
    }

    #[test]
    fn limits_and_cors_are_checked() {
        let parsed: Config = toml::from_str(
            "cors_allowed_origins = ['https://ui.example.org']\n[limits]\nrequests_per_second = 2.5\nburst = 5\n[lists]\nquarantine_distinct_urls_per_hour = 5\n",
        )
        .unwrap();
        parsed.validate().unwrap();
        assert_eq!(parsed.limits.burst, 5);
        assert_eq!(parsed.lists.quarantine_distinct_urls_per_hour, 5);
        let mut c = Config {
            cors_allowed_origins: vec!["https://ui.example.org/app".into()],
            ..Config::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("cors_allowed_origins[0]"));
        c.cors_allowed_origins = vec!["*".into()];
        assert!(c.validate().is_err());
        let mut c = Config::default();
        c.limits.requests_per_second = -1.0;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("limits.requests_per_second"));
        let mut c = Config::default();
        c.lists.quarantine_distinct_urls_per_hour = 100_001;
        assert!(c.validate().is_err());
    }
}
