//! The three message shapes of Kafka mode, each with its JSON Schema in `docs/schemas/`:
//! a referral in (`triage.referral/v1`, produced by `POST /v1/referrals` or by a partner
//! system), the case envelope out (`triage.case/v1`), and a rejected input with its reason
//! (`triage.dlq/v1`). Parsing an input either yields a validated [`Inbound`] or a
//! [`Rejected`] naming the field that was wrong; it never panics on the bytes.

use crate::config::Config;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shared::Category;

pub const SCHEMA_REFERRAL: &str = "triage.referral/v1";
pub const SCHEMA_CASE: &str = "triage.case/v1";
pub const SCHEMA_DLQ: &str = "triage.dlq/v1";

/// Who produced a message: every value carries it.
pub fn producer() -> Value {
    json!({"name": "triage", "version": env!("CARGO_PKG_VERSION")})
}

/// A referral as it travels on `triage.referrals` (key: the referral id).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferralMsg {
    pub schema: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer: Option<Value>,
    pub referral_id: String,
    pub url: String,
    /// The referring agency, one of the configured agencies (its jurisdiction comes from there).
    pub agency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories_hint: Vec<Category>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<String>,
}

/// A validated referral, ready for the local store and the pipeline.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub referral: crate::store::NewReferral,
}

/// Why an input goes to the DLQ: a kind from a closed set and a sentence naming the field.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub kind: &'static str,
    pub message: String,
}

impl Rejected {
    fn new(kind: &'static str, message: impl Into<String>) -> Rejected {
        Rejected {
            kind,
            message: message.into(),
        }
    }
}

pub const MAX_NOTE: usize = 4096;
pub const MAX_EXTERNAL_REF: usize = 256;
pub const MAX_ID: usize = 128;

/// Checks a referral message the way `POST /v1/referrals` checks a body, plus what Kafka adds
/// (schema name, agency, referral id).
pub fn parse_referral(
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
    config: &Config,
) -> Result<Inbound, Rejected> {
    let payload = payload
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Rejected::new("empty", "the message has no value"))?;
    let v: Value = serde_json::from_slice(payload)
        .map_err(|e| Rejected::new("malformed_json", format!("the value is not JSON: {e}")))?;
    match v.get("schema").and_then(Value::as_str) {
        Some(SCHEMA_REFERRAL) => {}
        Some(other) => {
            return Err(Rejected::new(
                "unsupported_schema",
                format!("schema {other:?} is not {SCHEMA_REFERRAL:?}"),
            ))
        }
        None => {
            return Err(Rejected::new(
                "invalid_body",
                format!("schema: missing; expected {SCHEMA_REFERRAL:?}"),
            ))
        }
    }
    let m: ReferralMsg = serde_json::from_value(v)
        .map_err(|e| Rejected::new("invalid_body", format!("value: {e}")))?;
    let id_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= MAX_ID
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    };
    if !id_ok(&m.referral_id) {
        return Err(Rejected::new(
            "invalid_body",
            format!(
                "referral_id {:?}: 1-{MAX_ID} characters of A-Z, a-z, 0-9, '-', '_', '.', ':'",
                m.referral_id
            ),
        ));
    }
    if let Some(k) = key {
        if k != m.referral_id.as_bytes() {
            return Err(Rejected::new(
                "invalid_body",
                format!(
                    "the message key {:?} is not the referral_id {:?}",
                    String::from_utf8_lossy(k),
                    m.referral_id
                ),
            ));
        }
    }
    let canon = shared::url::canonical_url(&m.url)
        .map_err(|e| Rejected::new(e.kind(), format!("url: {e}")))?;
    if m.note.as_ref().is_some_and(|n| n.len() > MAX_NOTE) {
        return Err(Rejected::new(
            "invalid_body",
            format!("note: longer than {MAX_NOTE} bytes"),
        ));
    }
    if m.external_ref
        .as_ref()
        .is_some_and(|n| n.len() > MAX_EXTERNAL_REF)
    {
        return Err(Rejected::new(
            "invalid_body",
            format!("external_ref: longer than {MAX_EXTERNAL_REF} bytes"),
        ));
    }
    let agency = config
        .agencies
        .iter()
        .find(|a| a.id == m.agency)
        .ok_or_else(|| {
            Rejected::new(
                "unknown_agency",
                format!(
                    "agency {:?} is not one of the configured agencies",
                    m.agency
                ),
            )
        })?;
    let jurisdiction =
        shared::normalize_jurisdiction(&agency.jurisdiction).expect("validated at start-up");
    Ok(Inbound {
        referral: crate::store::NewReferral {
            id: m.referral_id,
            case_id: shared::url::case_id(&canon),
            url: m.url,
            canonical_url: canon.to_string(),
            agency: agency.id.clone(),
            jurisdiction,
            note: m.note,
            external_ref: m.external_ref,
            categories_hint: m.categories_hint,
        },
    })
}

/// The message `POST /v1/referrals` produces for one accepted referral.
pub fn referral_value(r: &crate::store::NewReferral) -> Value {
    let m = ReferralMsg {
        schema: SCHEMA_REFERRAL.into(),
        producer: Some(producer()),
        referral_id: r.id.clone(),
        url: r.url.clone(),
        agency: r.agency.clone(),
        note: r.note.clone(),
        external_ref: r.external_ref.clone(),
        categories_hint: r.categories_hint.clone(),
        submitted_at: Some(crate::store::now()),
    };
    serde_json::to_value(m).expect("serialisable")
}

/// The case envelope for one routed referral: the case as the store holds it (capture,
/// classification, deconfliction, preservation) with *this referral's* decision — the
/// referring state differs from one agency to the next. The extracted text is left out (it
/// can be megabytes); hashes, matched terms and spans, and statutes are in.
/// Built from the store alone, so a re-publish after a restart yields the same bytes.
pub fn case_envelope(case: &Value, referral: &Value) -> Value {
    let text_bytes = case["text"].as_str().map(str::len);
    json!({
        "schema": SCHEMA_CASE,
        "producer": producer(),
        "case_id": case["case_id"],
        "canonical_url": case["canonical_url"],
        "referral": {
            "referral_id": referral["referral_id"],
            "url": referral["url"],
            "agency": referral["agency"],
            "jurisdiction": referral["jurisdiction"],
            "note": referral["note"],
            "external_ref": referral["external_ref"],
            "categories_hint": referral["categories_hint"],
            "received_at": referral["received_at"],
        },
        "first_referral": case["first_referral"],
        "deconfliction": case["deconfliction"],
        "title": case["title"],
        "language": case["language"],
        "text_bytes": text_bytes,
        "capture": case["capture"],
        "classification": case["classification"],
        "decision": referral["decision"],
        "preservation": case["preservation"],
    })
}

/// Where the input came from, for the DLQ record.
pub struct Origin<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
}

/// Largest copy of a rejected input kept in its DLQ record (the DLQ must accept it even when
/// the input itself was too large).
pub const DLQ_INPUT_MAX: usize = 64 * 1024;

/// A rejected (or unprocessable) input and why. The input is kept as JSON when it is JSON,
/// else as text, cut to [`DLQ_INPUT_MAX`] bytes.
pub fn dlq_value(
    origin: &Origin<'_>,
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
    kind: &str,
    message: &str,
) -> Value {
    let raw = payload.unwrap_or_default();
    let truncated = raw.len() > DLQ_INPUT_MAX;
    let input = if truncated {
        Value::Null
    } else {
        serde_json::from_slice::<Value>(raw).unwrap_or(Value::Null)
    };
    let input_text = if input.is_null() && !raw.is_empty() {
        let cut = &raw[..raw.len().min(DLQ_INPUT_MAX)];
        Value::String(String::from_utf8_lossy(cut).into_owned())
    } else {
        Value::Null
    };
    json!({
        "schema": SCHEMA_DLQ,
        "producer": producer(),
        "reason": {"kind": kind, "message": message},
        "source": {"topic": origin.topic, "partition": origin.partition, "offset": origin.offset},
        "key": key.map(|k| String::from_utf8_lossy(k).into_owned()),
        "input": input,
        "input_text": input_text,
        "input_bytes": raw.len(),
        "input_truncated": truncated,
        "rejected_at": crate::store::now(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config::default()
    }

    #[test]
    fn a_good_referral_parses() {
        let v = br#"{"schema":"triage.referral/v1","referral_id":"r-1","url":"HTTP://Example.org/a#x","agency":"demo-unit","categories_hint":["public_provocation"]}"#;
        let r = parse_referral(Some(b"r-1"), Some(v), &cfg())
            .unwrap()
            .referral;
        assert_eq!(r.jurisdiction, "FR");
        assert_eq!(r.canonical_url, "http://example.org/a");
        assert_eq!(
            r.case_id,
            shared::url::case_id(&url::Url::parse("http://example.org/a").unwrap())
        );
    }

    #[test]
    fn every_bad_input_is_named() {
        // (key, value, reason kind, a word the message must contain)
        type Row<'a> = (Option<&'a [u8]>, &'a [u8], &'a str, &'a str);
        let table: &[Row] = &[
            (None, b"", "empty", "no value"),
            (None, b"{nope", "malformed_json", "not JSON"),
            (None, br#"{"schema":"x/v9","referral_id":"r","url":"http://a.b/","agency":"demo-unit"}"#, "unsupported_schema", "x/v9"),
            (None, br#"{"referral_id":"r","url":"http://a.b/","agency":"demo-unit"}"#, "invalid_body", "schema"),
            (None, br#"{"schema":"triage.referral/v1","referral_id":"r","url":"http://a.b/","agency":"demo-unit","extra":1}"#, "invalid_body", "extra"),
            (None, br#"{"schema":"triage.referral/v1","referral_id":"r x","url":"http://a.b/","agency":"demo-unit"}"#, "invalid_body", "referral_id"),
            (Some(b"r-2"), br#"{"schema":"triage.referral/v1","referral_id":"r-1","url":"http://a.b/","agency":"demo-unit"}"#, "invalid_body", "key"),
            (None, br#"{"schema":"triage.referral/v1","referral_id":"r","url":"ftp://a.b/","agency":"demo-unit"}"#, "scheme", "url"),
            (None, br#"{"schema":"triage.referral/v1","referral_id":"r","url":"http://a.b/","agency":"nobody"}"#, "unknown_agency", "nobody"),
        ];
        for (key, v, kind, needle) in table {
            let e = parse_referral(*key, Some(v), &cfg()).unwrap_err();
            assert_eq!(e.kind, *kind, "{}: {e:?}", String::from_utf8_lossy(v));
            assert!(e.message.contains(needle), "{e:?}");
        }
    }

    #[test]
    fn dlq_keeps_json_or_text_and_caps_size() {
        let o = Origin {
            topic: "triage.referrals",
            partition: 2,
            offset: 7,
        };
        let v = dlq_value(&o, Some(b"k"), Some(b"{\"a\":1}"), "invalid_body", "m");
        assert_eq!(v["input"]["a"], 1);
        assert!(v["input_text"].is_null());
        let v = dlq_value(&o, None, Some(b"\xff not json"), "malformed_json", "m");
        assert!(v["input"].is_null());
        assert!(v["input_text"].as_str().unwrap().contains("not json"));
        let big = vec![b'x'; DLQ_INPUT_MAX + 10];
        let v = dlq_value(&o, None, Some(&big), "too_large", "m");
        assert_eq!(v["input_truncated"], true);
        assert_eq!(v["input_text"].as_str().unwrap().len(), DLQ_INPUT_MAX);
        assert_eq!(v["source"]["offset"], 7);
    }
}
