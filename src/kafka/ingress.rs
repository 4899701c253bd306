//! `POST /v1/referrals` in Kafka mode: each accepted referral is produced to
//! `triage.referrals` (idempotent producer, `acks=all`) and the API answers 202 only after
//! every one of them has a successful delivery report. A failure, or no acknowledgement
//! within `ingest_timeout_ms`, answers 503 so the caller retries.
//!
//! The key is the referral id (CONTRACTS.md); the partition is chosen from the case id, so
//! every referral of one URL lands in one partition and is handled by one worker at a time.

use super::config::KafkaConfig;
use super::messages;
use super::metrics::KafkaMetrics;
use crate::store::NewReferral;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use std::sync::Arc;
use std::time::Duration;

pub struct Ingress {
    producer: FutureProducer,
    topic: String,
    /// Partitions of the referrals topic; 0 when unknown (librdkafka then picks by key).
    partitions: i32,
    pub metrics: Arc<KafkaMetrics>,
}

/// The partition for a case id (`c-` + hex of a SHA-256 prefix): its first 64 bits modulo n.
pub fn partition_for(case_id: &str, partitions: i32) -> Option<i32> {
    if partitions <= 0 {
        return None;
    }
    let hex = case_id.strip_prefix("c-").unwrap_or(case_id);
    let n = u64::from_str_radix(hex.get(..16)?, 16).ok()?;
    Some((n % partitions as u64) as i32)
}

impl Ingress {
    pub fn new(
        cfg: &KafkaConfig,
        topics: &super::publish::Topics,
        metrics: Arc<KafkaMetrics>,
    ) -> anyhow::Result<Ingress> {
        let mut c = cfg.base_client()?;
        c.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0")
            .set("message.timeout.ms", cfg.ingest_timeout_ms.to_string());
        let producer: FutureProducer = c.create()?;
        let topic = cfg.topic_referrals();
        let partitions = topics.partition_count(producer.client(), &topic);
        if partitions == 0 {
            tracing::warn!(topic = %topic, "partition count unknown; referrals are partitioned by key");
        }
        Ok(Ingress {
            producer,
            topic,
            partitions,
            metrics,
        })
    }

    /// Produces every referral and waits for all acknowledgements.
    pub async fn submit(&self, items: &[NewReferral]) -> Result<(), String> {
        let values: Vec<Vec<u8>> = items
            .iter()
            .map(|r| serde_json::to_vec(&messages::referral_value(r)).expect("serialisable"))
            .collect();
        let sends = items.iter().zip(&values).map(|(r, v)| async move {
            let mut record = FutureRecord::to(&self.topic)
                .key(r.id.as_str())
                .payload(&v[..]);
            if let Some(p) = partition_for(&r.case_id, self.partitions) {
                record = record.partition(p);
            }
            // Queue full counts as a failure too: the caller is told to come back.
            match self.producer.send(record, Duration::from_millis(0)).await {
                Ok(_) => Ok(()),
                Err((e, _)) => Err(e.to_string()),
            }
        });
        let results = futures_util::future::join_all(sends).await;
        let failed = results.iter().filter(|r| r.is_err()).count();
        self.metrics
            .ingested
            .with_label_values(&["acked"])
            .inc_by((results.len() - failed) as u64);
        if failed == 0 {
            return Ok(());
        }
        self.metrics
            .ingested
            .with_label_values(&["failed"])
            .inc_by(failed as u64);
        let first = results
            .into_iter()
            .find_map(Result::err)
            .unwrap_or_default();
        tracing::warn!(failed, of = items.len(), error = %first, "referrals not acknowledged by Kafka");
        Err(format!(
            "Kafka did not acknowledge {failed} of {} referral(s) ({first}); retry later",
            items.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_case_one_partition() {
        let id = "c-00000000000000ff0123456789abcdef";
        assert_eq!(partition_for(id, 6), Some((0xffu64 % 6) as i32));
        assert_eq!(partition_for(id, 0), None);
        assert_eq!(partition_for("c-zz", 6), None);
    }
}
