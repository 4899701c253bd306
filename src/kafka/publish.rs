//! Producing with the delivery rules of Kafka mode: an idempotent producer (`acks=all`, so a
//! broker retry never writes a message twice); every message awaited until its delivery
//! report; a failed report sorted into *retriable* (the broker is away, a leader moved, the
//! queue is full: sent again with backoff, the input's offset stays unstored) or *final* (the
//! message can never be accepted, e.g. too large: the caller dead-letters the input). Topics
//! are created when first needed if they are absent.

use super::config::KafkaConfig;
use super::metrics::KafkaMetrics;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::ClientConfig;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// One output message.
#[derive(Debug, Clone)]
pub struct Out {
    pub topic: String,
    /// The case id for outputs; the input's key (if any) for the DLQ.
    pub key: Option<String>,
    pub payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The message can never be delivered as it is.
    #[error("{topic}: {error}")]
    Final { topic: String, error: String },
    /// No producer can be made (configuration): the worker cannot go on.
    #[error("fatal producer error: {0}")]
    Fatal(String),
    /// Shutdown was asked for while deliveries were still being retried.
    #[error("stopped while retrying")]
    Stopped,
}

/// Errors that no retry will fix.
pub fn is_final(e: &KafkaError) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        e.rdkafka_error_code(),
        Some(
            C::MessageSizeTooLarge
                | C::InvalidMessageSize
                | C::InvalidMessage
                | C::InvalidRecord
                | C::InvalidTopic
                | C::BadMessage
                | C::InvalidArgument
                | C::InvalidRequiredAcks
        )
    )
}

/// Errors after which this producer id is unusable (the broker fenced it, or librdkafka
/// raised a fatal idempotence error): a fresh producer is made and the messages retried.
pub fn needs_new_producer(e: &KafkaError) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        e.rdkafka_error_code(),
        Some(
            C::ProducerFenced
                | C::InvalidProducerEpoch
                | C::OutOfOrderSequenceNumber
                | C::UnknownProducerId
                | C::InvalidProducerIdMapping
                | C::Fatal
        )
    )
}

pub struct Publisher {
    /// Replaced when the broker fences it (see [`needs_new_producer`]).
    producer: RwLock<Arc<FutureProducer>>,
    client: ClientConfig,
    topics: Topics,
    metrics: Arc<KafkaMetrics>,
}

/// Backoff between rounds of retried deliveries.
const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

impl Publisher {
    pub fn new(cfg: &KafkaConfig, metrics: Arc<KafkaMetrics>) -> anyhow::Result<Publisher> {
        let mut c = cfg.base_client()?;
        c.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", cfg.linger_ms.to_string())
            .set("message.timeout.ms", cfg.delivery_timeout_ms.to_string());
        let producer: FutureProducer = c.create()?;
        Ok(Publisher {
            producer: RwLock::new(Arc::new(producer)),
            client: c,
            topics: Topics::new(cfg)?,
            metrics,
        })
    }

    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// Delivers every message, retrying retriable failures with backoff until they are
    /// acknowledged or `shutdown` turns true.
    pub async fn publish_all(
        &self,
        outs: &[Out],
        shutdown: &watch::Receiver<bool>,
    ) -> Result<(), PublishError> {
        for o in outs {
            self.topics.ensure(&o.topic).await;
        }
        let mut pending: Vec<&Out> = outs.iter().collect();
        let mut backoff = BACKOFF_START;
        loop {
            let producer = self.producer.read().expect("producer lock").clone();
            let producer = &producer;
            let sends = pending.iter().map(|o| async move {
                let mut record = FutureRecord::<str, [u8]>::to(&o.topic).payload(&o.payload[..]);
                if let Some(k) = &o.key {
                    record = record.key(k.as_str());
                }
                let r = match producer.send_result(record) {
                    Ok(delivery) => match delivery.await {
                        Ok(Ok(_)) => Ok(()),
                        Ok(Err((e, _))) => Err(e),
                        Err(_) => Err(KafkaError::Canceled),
                    },
                    Err((e, _)) => Err(e),
                };
                (*o, r)
            });
            let results = futures_util::future::join_all(sends).await;
            let mut again = Vec::new();
            let mut renew = false;
            for (o, r) in results {
                match r {
                    Ok(()) => self.metrics.published.with_label_values(&[&o.topic]).inc(),
                    Err(e) if is_final(&e) => {
                        self.metrics
                            .produce_errors
                            .with_label_values(&["final"])
                            .inc();
                        return Err(PublishError::Final {
                            topic: o.topic.clone(),
                            error: e.to_string(),
                        });
                    }
                    Err(e) => {
                        renew |= needs_new_producer(&e);
                        self.metrics
                            .produce_errors
                            .with_label_values(&["retriable"])
                            .inc();
                        tracing::warn!(topic = %o.topic, key = ?o.key, error = %e, retry_in_ms = backoff.as_millis() as u64, "delivery failed; retrying");
                        again.push(o);
                    }
                }
            }
            if let Some((code, reason)) = producer.client().fatal_error() {
                tracing::warn!(?code, %reason, "fatal producer error");
                renew = true;
            }
            if renew {
                self.renew(producer)?;
            }
            if again.is_empty() {
                return Ok(());
            }
            pending = again;
            let mut stop = shutdown.clone();
            if *stop.borrow() {
                return Err(PublishError::Stopped);
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.changed() => return Err(PublishError::Stopped),
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// Replaces `old` with a new producer (a new producer id), unless another task did so.
    fn renew(&self, old: &Arc<FutureProducer>) -> Result<(), PublishError> {
        let mut current = self.producer.write().expect("producer lock");
        if Arc::ptr_eq(&current, old) {
            let fresh: FutureProducer = self
                .client
                .create()
                .map_err(|e| PublishError::Fatal(format!("cannot create a new producer: {e}")))?;
            *current = Arc::new(fresh);
            tracing::warn!("the producer was fenced or failed fatally; continuing with a new one");
        }
        Ok(())
    }

    /// Waits up to `timeout` for queued messages to leave (at shutdown).
    pub fn flush(&self, timeout: Duration) {
        let p = self.producer.read().expect("producer lock").clone();
        let _ = p.flush(timeout);
    }
}

/// Creates topics when absent (with the configured partitions and replication), once each.
pub struct Topics {
    admin: Option<AdminClient<DefaultClientContext>>,
    partitions: i32,
    replication: i32,
    ensured: Mutex<HashSet<String>>,
}

impl Topics {
    pub fn new(cfg: &KafkaConfig) -> anyhow::Result<Topics> {
        let admin = if cfg.create_topics {
            Some(cfg.base_client()?.create()?)
        } else {
            None
        };
        Ok(Topics {
            admin,
            partitions: cfg.partitions,
            replication: cfg.replication,
            ensured: Mutex::new(HashSet::new()),
        })
    }

    /// Creates `topic` unless it exists. Failures other than "already exists" are logged and
    /// not fatal: a broker that auto-creates topics, or an operator who provisions them, still
    /// works; a missing topic then shows as retried deliveries.
    pub async fn ensure(&self, topic: &str) {
        let Some(admin) = &self.admin else { return };
        if self.ensured.lock().expect("topic set").contains(topic) {
            return;
        }
        // Tried once per topic and process, whatever the outcome, so a broker without
        // CreateTopics is not asked again on every message.
        if let Err(e) = self.create(admin, topic).await {
            tracing::warn!(topic, error = %e, "cannot create the topic; relying on the broker to have or auto-create it");
        }
        self.ensured
            .lock()
            .expect("topic set")
            .insert(topic.to_string());
    }

    async fn create(
        &self,
        admin: &AdminClient<DefaultClientContext>,
        topic: &str,
    ) -> anyhow::Result<()> {
        let new = NewTopic::new(
            topic,
            self.partitions,
            TopicReplication::Fixed(self.replication),
        );
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let results = admin.create_topics([&new], &opts).await?;
        for r in results {
            match r {
                Ok(_) => tracing::info!(
                    topic,
                    partitions = self.partitions,
                    replication = self.replication,
                    "topic created"
                ),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((t, code)) => anyhow::bail!("creating {t}: {code}"),
            }
        }
        Ok(())
    }

    /// Partitions of `topic` as the broker reports them (0 when unknown).
    pub fn partition_count(
        &self,
        client: &rdkafka::client::Client<impl rdkafka::ClientContext>,
        topic: &str,
    ) -> i32 {
        client
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .ok()
            .and_then(|m| {
                m.topics()
                    .iter()
                    .find(|t| t.name() == topic)
                    .map(|t| t.partitions().len() as i32)
            })
            .unwrap_or(0)
    }
}
