//! The Kafka-mode metrics, spelled once here and rendered after the service's own on
//! `/metrics`. Labels are closed sets or topic names (one per configured jurisdiction).

use prometheus::{Encoder, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

pub struct KafkaMetrics {
    registry: Registry,
    /// Input messages taken from `triage.referrals`.
    pub consumed: prometheus::IntCounter,
    /// Messages acknowledged by the broker, by topic.
    pub published: IntCounterVec,
    /// Inputs sent to the DLQ, by reason kind.
    pub dead_lettered: IntCounterVec,
    /// Failed deliveries, by class: `retriable` (retried with backoff) or `final`.
    pub produce_errors: IntCounterVec,
    /// Input offsets stored for commit (each after all outputs were acknowledged).
    pub offsets_stored: prometheus::IntCounter,
    /// `POST /v1/referrals` items handed to Kafka, by outcome (`acked`, `failed`).
    pub ingested: IntCounterVec,
    /// Partition assignments and revocations.
    pub rebalances: IntCounterVec,
    /// Input messages received and not yet finished.
    pub in_flight: IntGauge,
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

impl KafkaMetrics {
    pub fn new() -> KafkaMetrics {
        let r = Registry::new();
        let consumed = prometheus::IntCounter::new(
            "triage_kafka_consumed_total",
            "Referral messages taken from the referrals topic.",
        )
        .expect("valid metric");
        r.register(Box::new(consumed.clone()))
            .expect("metric registered once");
        let offsets_stored = prometheus::IntCounter::new(
            "triage_kafka_offsets_stored_total",
            "Input offsets stored for commit, each after every output of the referral was acknowledged.",
        )
        .expect("valid metric");
        r.register(Box::new(offsets_stored.clone()))
            .expect("metric registered once");
        let in_flight = IntGauge::new(
            "triage_kafka_in_flight",
            "Referral messages received and not yet finished.",
        )
        .expect("valid metric");
        r.register(Box::new(in_flight.clone()))
            .expect("metric registered once");
        KafkaMetrics {
            consumed,
            published: counter(&r, "triage_kafka_published_total", "Messages acknowledged by the broker, by topic.", &["topic"]),
            dead_lettered: counter(&r, "triage_kafka_dead_lettered_total", "Inputs sent to the dead-letter topic, by reason kind.", &["kind"]),
            produce_errors: counter(&r, "triage_kafka_produce_errors_total", "Failed deliveries by class: retriable (retried with backoff, offset not stored) or final (dead-lettered).", &["class"]),
            offsets_stored,
            ingested: counter(&r, "triage_kafka_ingested_total", "Referrals from POST /v1/referrals handed to Kafka, by outcome (acked, failed).", &["outcome"]),
            rebalances: counter(&r, "triage_kafka_rebalances_total", "Partition assignments and revocations of this worker.", &["kind"]),
            in_flight,
            registry: r,
        }
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("encoding to memory");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}

impl Default for KafkaMetrics {
    fn default() -> Self {
        Self::new()
    }
}
