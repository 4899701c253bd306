//! `[kafka]`: brokers, consumer group, topic names and shape, delivery timeouts, and the
//! security settings handed to librdkafka. Validated before any I/O like the rest of the
//! configuration; secrets are kept in [`Secret`], which never prints its value (Debug, logs).

use rdkafka::ClientConfig;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A secret read from the configuration: usable by the client, shown as `"<redacted>"`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_string())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

/// Kafka mode is on when `brokers` is set here or by `triage serve --kafka BROKERS`.
///
/// ```toml
/// [kafka]
/// brokers = "kafka-1:9092,kafka-2:9092"
/// group_id = "triage"            # every worker of one deployment shares it
/// topic_prefix = "triage"        # triage.referrals, triage.cases.<jurisdiction>, triage.review, triage.dlq
/// partitions = 6                 # for topics created when absent
/// replication = 3
/// security_protocol = "SASL_SSL" # plaintext, ssl, sasl_plaintext, sasl_ssl
/// sasl_mechanism = "SCRAM-SHA-512"
/// sasl_username = "triage"
/// sasl_password_file = "/run/secrets/kafka-password"
/// ssl_ca_location = "/etc/triage/kafka-ca.pem"
/// [kafka.librdkafka]             # any other librdkafka property, passed through
/// "client.rack" = "eu-west-1a"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap servers, `host:port[,host:port…]`.
    pub brokers: Option<String>,
    /// Consumer group of the workers.
    pub group_id: String,
    /// Topic names start with this (`<prefix>.referrals`, …).
    pub topic_prefix: String,
    /// Create missing topics at start with this many partitions …
    pub partitions: i32,
    /// … and this replication factor.
    pub replication: i32,
    /// Turn off where topics are provisioned by the operator (no CreateTopics permission).
    pub create_topics: bool,
    /// How long `POST /v1/referrals` waits for Kafka to acknowledge a referral before it
    /// answers 503 (retryable).
    pub ingest_timeout_ms: u64,
    /// How long librdkafka keeps retrying one output message before the delivery report fails;
    /// the worker then retries the whole output with backoff (the offset stays unstored).
    pub delivery_timeout_ms: u64,
    /// Producer batching delay: 5 ms is librdkafka's general-purpose default.
    pub linger_ms: u64,
    /// `security.protocol`: `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl`.
    pub security_protocol: Option<String>,
    /// `sasl.mechanism`: `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512` or `OAUTHBEARER`.
    pub sasl_mechanism: Option<String>,
    pub sasl_username: Option<String>,
    /// The password itself, or (better) a file holding it (trailing newline ignored).
    pub sasl_password: Option<Secret>,
    pub sasl_password_file: Option<PathBuf>,
    /// PEM files for TLS: the CA bundle, and a client certificate and key for mutual TLS.
    pub ssl_ca_location: Option<PathBuf>,
    pub ssl_certificate_location: Option<PathBuf>,
    pub ssl_key_location: Option<PathBuf>,
    pub ssl_key_password: Option<Secret>,
    /// Any other librdkafka property (CONFIGURATION.md), set on every client. Values are
    /// treated as secrets in Debug output. The delivery guarantees are not overridable here.
    pub librdkafka: BTreeMap<String, Secret>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: None,
            group_id: "triage".into(),
            topic_prefix: "triage".into(),
            partitions: 6,
            replication: 1,
            create_topics: true,
            ingest_timeout_ms: 10_000,
            delivery_timeout_ms: 30_000,
            linger_ms: 5,
            security_protocol: None,
            sasl_mechanism: None,
            sasl_username: None,
            sasl_password: None,
            sasl_password_file: None,
            ssl_ca_location: None,
            ssl_certificate_location: None,
            ssl_key_location: None,
            ssl_key_password: None,
            librdkafka: BTreeMap::new(),
        }
    }
}

/// Properties the worker sets itself because its delivery guarantees depend on them.
const RESERVED: &[&str] = &[
    "bootstrap.servers",
    "metadata.broker.list",
    "group.id",
    "enable.idempotence",
    "acks",
    "request.required.acks",
    "enable.auto.offset.store",
    "enable.auto.commit",
    "isolation.level",
    "auto.offset.reset",
    "sasl.password",
    "ssl.key.password",
];

const PROTOCOLS: &[&str] = &["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"];
const MECHANISMS: &[&str] = &[
    "PLAIN",
    "SCRAM-SHA-256",
    "SCRAM-SHA-512",
    "OAUTHBEARER",
    "GSSAPI",
];

impl KafkaConfig {
    /// Checks everything that needs no network (files named are checked when read at start).
    pub fn validate(&self) -> Result<(), String> {
        if let Some(b) = &self.brokers {
            if b.split(',').any(|s| s.trim().is_empty()) {
                return Err(format!(
                    "kafka.brokers {b:?} has an empty entry; expected host:port[,host:port…]"
                ));
            }
        }
        if self.group_id.trim().is_empty() {
            return Err("kafka.group_id is empty".into());
        }
        let p = &self.topic_prefix;
        if p.is_empty()
            || p.len() > 200
            || !p
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(format!(
                "kafka.topic_prefix {p:?} must be 1-200 characters of a-z, A-Z, 0-9, '.', '_', '-'"
            ));
        }
        if !(1..=10_000).contains(&self.partitions) {
            return Err(format!(
                "kafka.partitions = {} must be between 1 and 10000",
                self.partitions
            ));
        }
        if !(1..=32).contains(&self.replication) {
            return Err(format!(
                "kafka.replication = {} must be between 1 and 32",
                self.replication
            ));
        }
        for (name, v) in [
            ("ingest_timeout_ms", self.ingest_timeout_ms),
            ("delivery_timeout_ms", self.delivery_timeout_ms),
        ] {
            if !(100..=3_600_000).contains(&v) {
                return Err(format!(
                    "kafka.{name} = {v} must be between 100 and 3600000"
                ));
            }
        }
        if self.linger_ms > 10_000 {
            return Err(format!(
                "kafka.linger_ms = {} is over 10000",
                self.linger_ms
            ));
        }
        if let Some(sp) = &self.security_protocol {
            if !PROTOCOLS.contains(&sp.to_ascii_lowercase().as_str()) {
                return Err(format!(
                    "kafka.security_protocol {sp:?} is not one of {}",
                    PROTOCOLS.join(", ")
                ));
            }
        }
        if let Some(m) = &self.sasl_mechanism {
            if !MECHANISMS.contains(&m.to_ascii_uppercase().as_str()) {
                return Err(format!(
                    "kafka.sasl_mechanism {m:?} is not one of {}",
                    MECHANISMS.join(", ")
                ));
            }
        }
        if self.sasl_password.is_some() && self.sasl_password_file.is_some() {
            return Err("kafka: set sasl_password or sasl_password_file, not both".into());
        }
        for k in self.librdkafka.keys() {
            if RESERVED.contains(&k.as_str()) {
                return Err(format!(
                    "kafka.librdkafka.{k:?} is set by triage itself (use the [kafka] fields, or it is fixed for the delivery guarantees)"
                ));
            }
        }
        Ok(())
    }

    pub fn topic_referrals(&self) -> String {
        format!("{}.referrals", self.topic_prefix)
    }
    pub fn topic_review(&self) -> String {
        format!("{}.review", self.topic_prefix)
    }
    pub fn topic_dlq(&self) -> String {
        format!("{}.dlq", self.topic_prefix)
    }
    /// `triage.cases.fr` for `FR`.
    pub fn topic_cases(&self, jurisdiction: &str) -> String {
        format!(
            "{}.cases.{}",
            self.topic_prefix,
            jurisdiction.to_ascii_lowercase()
        )
    }

    /// The settings every client shares: brokers and security. Reads the password file.
    pub fn base_client(&self) -> anyhow::Result<ClientConfig> {
        let brokers = self
            .brokers
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("kafka.brokers is not set"))?;
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", brokers);
        for (k, v) in &self.librdkafka {
            c.set(k, v.expose());
        }
        if let Some(v) = &self.security_protocol {
            c.set("security.protocol", v.to_ascii_lowercase());
        }
        if let Some(v) = &self.sasl_mechanism {
            c.set("sasl.mechanism", v.to_ascii_uppercase());
        }
        if let Some(v) = &self.sasl_username {
            c.set("sasl.username", v);
        }
        if let Some(v) = &self.sasl_password {
            c.set("sasl.password", v.expose());
        }
        if let Some(f) = &self.sasl_password_file {
            let text = std::fs::read_to_string(f)
                .map_err(|e| anyhow::anyhow!("kafka.sasl_password_file {}: {e}", f.display()))?;
            c.set("sasl.password", text.trim_end_matches(['\r', '\n']));
        }
        for (key, v) in [
            ("ssl.ca.location", &self.ssl_ca_location),
            ("ssl.certificate.location", &self.ssl_certificate_location),
            ("ssl.key.location", &self.ssl_key_location),
        ] {
            if let Some(p) = v {
                c.set(key, p.display().to_string());
            }
        }
        if let Some(v) = &self.ssl_key_password {
            c.set("ssl.key.password", v.expose());
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let c: KafkaConfig = toml::from_str(
            "brokers = 'b:9092'\nsasl_username = 'u'\nsasl_password = 'hunter2-very-secret'\nssl_key_password = 'k3y-secret'\n[librdkafka]\n'sasl.oauthbearer.client.secret' = 'oauth-secret'\n",
        )
        .unwrap();
        c.validate().unwrap();
        let shown = format!("{c:?}");
        for s in ["hunter2-very-secret", "k3y-secret", "oauth-secret"] {
            assert!(!shown.contains(s), "{s} leaked in {shown}");
        }
        assert!(shown.contains("<redacted>"));
        // The client still gets the real values.
        let cc = c.base_client().unwrap();
        assert_eq!(cc.get("sasl.password"), Some("hunter2-very-secret"));
        assert_eq!(
            cc.get("sasl.oauthbearer.client.secret"),
            Some("oauth-secret")
        );
    }

    #[test]
    fn validation_names_the_field() {
        let cases: &[(&str, &str)] = &[
            ("partitions = 0", "kafka.partitions"),
            ("topic_prefix = 'a b'", "kafka.topic_prefix"),
            ("security_protocol = 'tls'", "kafka.security_protocol"),
            ("sasl_mechanism = 'MD5'", "kafka.sasl_mechanism"),
            ("brokers = 'a:1,,b:2'", "kafka.brokers"),
            (
                "[librdkafka]\n'enable.idempotence' = 'false'",
                "enable.idempotence",
            ),
            ("sasl_password = 'x'\nsasl_password_file = '/x'", "not both"),
        ];
        for (toml_text, want) in cases {
            let c: KafkaConfig = toml::from_str(toml_text).unwrap();
            let err = c.validate().unwrap_err();
            assert!(err.contains(want), "{toml_text}: {err}");
        }
        KafkaConfig::default().validate().unwrap();
    }

    #[test]
    fn password_file_is_read_without_its_newline() {
        let f = std::env::temp_dir().join(format!("triage-kafka-pw-{}", std::process::id()));
        std::fs::write(&f, "s3cret\n").unwrap();
        let c = KafkaConfig {
            brokers: Some("b:1".into()),
            sasl_password_file: Some(f.clone()),
            ..KafkaConfig::default()
        };
        assert_eq!(
            c.base_client().unwrap().get("sasl.password"),
            Some("s3cret")
        );
        std::fs::remove_file(f).unwrap();
    }

    #[test]
    fn topic_names() {
        let c = KafkaConfig::default();
        assert_eq!(c.topic_cases("FR"), "triage.cases.fr");
        assert_eq!(c.topic_referrals(), "triage.referrals");
        assert_eq!(c.topic_dlq(), "triage.dlq");
        assert_eq!(c.topic_review(), "triage.review");
    }
}
