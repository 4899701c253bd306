//! The Kafka worker: consume `triage.referrals` in a consumer group, run each referral through
//! the same pipeline as the embedded mode (the local store is this worker's journal: it keeps
//! the capture, evidence index, classification and decision, and tells a redelivered referral
//! from a new one), publish the outcome, and only then store the input's offset.
//!
//! Per input message, exactly one of:
//! - routed: the case envelope to `triage.cases.<j>` for every target's and copy's
//!   jurisdiction, and to `triage.review` when the decision has review items;
//! - rejected (bad message) or failed (refused, unreachable, not a page): the input and the
//!   reason to `triage.dlq`.
//!
//! Referrals run concurrently (up to `workers`); [`Tracker`] stores an offset only when every
//! message before it in the partition is finished, so a crash at any point makes the group
//! redeliver, never skip. A redelivered referral already final in the local store is published
//! again from the store (same key, same bytes) without refetching.

use super::messages::{self, Origin};
use super::metrics::KafkaMetrics;
use super::offsets::Tracker;
use super::publish::{Out, PublishError, Publisher};
use crate::config::Config;
use crate::pipeline::{decision_jurisdictions, Pipeline};
use crate::store::{self, Store};
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::ClientContext;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, watch, Notify, Semaphore};

/// How long shutdown waits for referrals in flight; the rest is redelivered to the group.
const DRAIN: Duration = Duration::from_secs(15);

pub struct Worker {
    pub config: Arc<Config>,
    pub pipeline: Arc<Pipeline>,
    pub store: Store,
    pub publisher: Arc<Publisher>,
    pub metrics: Arc<KafkaMetrics>,
    pub waiter: Arc<Waiter>,
}

/// Rebalance hook: a partition assigned or revoked starts a new offset generation.
struct GroupContext {
    tracker: Arc<Mutex<Tracker>>,
    metrics: Arc<KafkaMetrics>,
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let (kind, tpl) = match rebalance {
            Rebalance::Assign(tpl) => ("assign", *tpl),
            Rebalance::Revoke(tpl) => ("revoke", *tpl),
            Rebalance::Error(e) => {
                tracing::warn!(error = %e, "consumer group rebalance error");
                return;
            }
        };
        let parts: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        let mut t = self.tracker.lock().expect("offset tracker");
        for p in &parts {
            t.reset(*p);
        }
        self.metrics.rebalances.with_label_values(&[kind]).inc();
        tracing::info!(kind, partitions = ?parts, "partitions rebalanced");
    }
}

impl Worker {
    /// Consumes until `shutdown` turns true. An error is returned when the worker cannot go
    /// on (consumer not created, producer fenced or fatal); the service then exits non-zero
    /// and the group redelivers everything not committed.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let k = &self.config.kafka;
        let topic = k.topic_referrals();
        let tracker = Arc::new(Mutex::new(Tracker::default()));
        let mut cc = k.base_client()?;
        cc.set("group.id", &k.group_id)
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // A killed worker's partitions move to the others after this long.
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "2000")
            // A broker that holds fetches for the full wait when the partition is idle (tansu
            // does) adds this much to every referral's latency; librdkafka's default is 500.
            .set("fetch.wait.max.ms", "50");
        let consumer: StreamConsumer<GroupContext> = cc.create_with_context(GroupContext {
            tracker: tracker.clone(),
            metrics: self.metrics.clone(),
        })?;
        consumer.subscribe(&[&topic])?;
        let consumer = Arc::new(consumer);
        let workers = self.config.workers;
        // Received but unfinished (queued here, processing, or awaiting acknowledgements), over
        // all partitions: a bound on the local backlog; the pipeline's `workers` slots bound
        // the fetches.
        let bound = workers.saturating_mul(4).max(8);
        let waiting = tokio::spawn(self.waiter.clone().run(shutdown.clone()));
        let in_flight = Arc::new(Semaphore::new(bound));
        let (fatal_tx, mut fatal_rx) = tokio::sync::mpsc::channel::<String>(1);
        tracing::info!(topic = %topic, group = %k.group_id, workers, "kafka worker consuming");
        let mut stop = shutdown.clone();
        let result = loop {
            if *stop.borrow() {
                break Ok(());
            }
            let permit = tokio::select! {
                p = in_flight.clone().acquire_owned() => p.expect("never closed"),
                _ = stop.changed() => break Ok(()),
            };
            let msg = tokio::select! {
                m = consumer.recv() => m,
                _ = stop.changed() => break Ok(()),
                f = fatal_rx.recv() => break Err(anyhow::anyhow!(f.unwrap_or_default())),
            };
            let msg: OwnedMessage = match msg {
                Ok(m) => m.detach(),
                Err(e) => {
                    tracing::warn!(error = %e, "consumer error; continuing");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            self.metrics.consumed.inc();
            self.metrics.in_flight.inc();
            let (partition, offset) = (msg.partition(), msg.offset());
            let generation = tracker
                .lock()
                .expect("offset tracker")
                .begin(partition, offset);
            let me = self.clone();
            let (tracker, consumer, shutdown, fatal_tx) = (
                tracker.clone(),
                consumer.clone(),
                shutdown.clone(),
                fatal_tx.clone(),
            );
            tokio::spawn(async move {
                let outcome = me.handle(&msg, &shutdown).await;
                me.metrics.in_flight.dec();
                match outcome {
                    Ok(()) => {
                        let safe = tracker
                            .lock()
                            .expect("offset tracker")
                            .finish(partition, offset, generation);
                        if let Some(o) = safe {
                            match consumer.store_offset(msg.topic(), partition, o) {
                                Ok(()) => me.metrics.offsets_stored.inc(),
                                // Revoked meanwhile: the new owner starts from the committed offset.
                                Err(e) => {
                                    tracing::debug!(partition, offset = o, error = %e, "offset not stored")
                                }
                            }
                        }
                    }
                    Err(PublishError::Stopped) => {
                        tracing::info!(partition, offset, "stopped before the outputs were acknowledged; the referral will be redelivered")
                    }
                    Err(e) => {
                        tracing::error!(partition, offset, error = %e, "the worker cannot go on");
                        let _ = fatal_tx.try_send(e.to_string());
                    }
                }
                drop(permit);
            });
        };
        tracing::info!("kafka worker stopping; waiting for referrals in flight");
        let all = u32::try_from(bound).unwrap_or(u32::MAX);
        if tokio::time::timeout(DRAIN, in_flight.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!(
                "referrals still in flight after {DRAIN:?}; the group will redeliver them"
            );
        }
        if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
            tracing::debug!(error = %e, "final commit");
        }
        self.publisher.flush(Duration::from_secs(5));
        waiting.abort();
        result
    }

    /// One input message, start to finish; `Ok` when its offset may be stored.
    async fn handle(
        &self,
        msg: &OwnedMessage,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<(), PublishError> {
        let origin = Origin {
            topic: msg.topic(),
            partition: msg.partition(),
            offset: msg.offset(),
        };
        match messages::parse_referral(msg.key(), msg.payload(), &self.config) {
            Err(rej) => {
                tracing::info!(partition = origin.partition, offset = origin.offset, kind = rej.kind, reason = %rej.message, "referral message rejected");
                self.pipeline
                    .metrics
                    .referrals_rejected
                    .with_label_values(&[rej.kind])
                    .inc();
                self.dead_letter(&origin, msg, rej.kind, &rej.message, shutdown)
                    .await
            }
            Ok(inbound) => self.process(inbound.referral, &origin, msg, shutdown).await,
        }
    }

    async fn process(
        &self,
        r: store::NewReferral,
        origin: &Origin<'_>,
        msg: &OwnedMessage,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<(), PublishError> {
        let id = r.id.clone();
        let existing = self
            .store_call(shutdown, move |c| store::referral_view(c, &id))
            .await?;
        match &existing {
            Some(v) if v["case_id"] != r.case_id.as_str() => {
                let m = format!(
                    "referral_id {:?} was already used for another URL (case {})",
                    r.id,
                    v["case_id"].as_str().unwrap_or_default()
                );
                return self
                    .dead_letter(origin, msg, "duplicate_referral_id", &m, shutdown)
                    .await;
            }
            Some(v) if is_final(v) => {
                tracing::info!(referral_id = %r.id, "redelivered referral already final here; publishing it again from the store");
            }
            // Stored by an earlier delivery and still queued, in flight or waiting for a
            // fetch retry: the local dispatcher has it (a restart requeued it).
            Some(_) => {}
            None => {
                let new = r.clone();
                self.store_call(shutdown, move |c| {
                    store::insert_referrals(c, std::slice::from_ref(&new))
                })
                .await?;
                self.pipeline.notify.notify_one();
                self.pipeline
                    .metrics
                    .referrals_received
                    .with_label_values(&["kafka"])
                    .inc();
            }
        }
        if !existing.as_ref().is_some_and(is_final) {
            self.waiter.wait(&r.id, shutdown).await?;
        }
        let id = r.id.clone();
        let Some(view) = self
            .store_call(shutdown, move |c| store::referral_view(c, &id))
            .await?
        else {
            return self
                .dead_letter(
                    origin,
                    msg,
                    "internal",
                    "the referral vanished from the local store",
                    shutdown,
                )
                .await;
        };
        if view["status"] == "failed" {
            let kind = view["reason"]["kind"]
                .as_str()
                .unwrap_or("failed")
                .to_string();
            let message = view["reason"]["message"]
                .as_str()
                .unwrap_or("the referral failed")
                .to_string();
            return self
                .dead_letter(origin, msg, &kind, &message, shutdown)
                .await;
        }
        let case_id = r.case_id.clone();
        let Some(case) = self
            .store_call(shutdown, move |c| store::case_view(c, &case_id))
            .await?
        else {
            return self
                .dead_letter(
                    origin,
                    msg,
                    "internal",
                    "the case vanished from the local store",
                    shutdown,
                )
                .await;
        };
        let outs = match self.case_outputs(&case, &view) {
            Ok(o) => o,
            Err(e) => {
                return self
                    .dead_letter(origin, msg, "internal", &format!("{e:#}"), shutdown)
                    .await
            }
        };
        match self.publisher.publish_all(&outs, shutdown).await {
            Err(PublishError::Final { topic, error }) => {
                tracing::error!(referral_id = %r.id, topic = %topic, error = %error, "case cannot be published; dead-lettering the referral");
                let m = format!("publishing the case to {topic} failed: {error}");
                self.dead_letter(origin, msg, "publish_failed", &m, shutdown)
                    .await
            }
            other => other,
        }
    }

    /// The envelope, once per topic: each jurisdiction the decision names, and review.
    fn case_outputs(&self, case: &Value, referral: &Value) -> anyhow::Result<Vec<Out>> {
        let k = &self.config.kafka;
        let decision: shared::Decision = serde_json::from_value(referral["decision"].clone())?;
        let envelope = messages::case_envelope(case, referral);
        let payload = serde_json::to_vec(&envelope)?;
        let key = case["case_id"].as_str().unwrap_or_default().to_string();
        let mut topics: Vec<String> = decision_jurisdictions(&decision)
            .iter()
            .map(|j| k.topic_cases(j))
            .collect();
        if topics.is_empty() {
            // Nothing is dropped: a decision without targets still reaches the referring state.
            topics.push(k.topic_cases(referral["jurisdiction"].as_str().unwrap_or("xx")));
        }
        if !decision.review.is_empty() {
            topics.push(k.topic_review());
        }
        Ok(topics
            .into_iter()
            .map(|topic| Out {
                topic,
                key: Some(key.clone()),
                payload: payload.clone(),
            })
            .collect())
    }

    /// Sends the input and the reason to the DLQ. A DLQ record that can never be delivered
    /// is logged with its source and counted; the partition goes on.
    async fn dead_letter(
        &self,
        origin: &Origin<'_>,
        msg: &OwnedMessage,
        kind: &str,
        message: &str,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<(), PublishError> {
        let value = messages::dlq_value(origin, msg.key(), msg.payload(), kind, message);
        let out = Out {
            topic: self.config.kafka.topic_dlq(),
            key: msg.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            payload: serde_json::to_vec(&value).expect("serialisable"),
        };
        match self.publisher.publish_all(&[out], shutdown).await {
            Ok(()) => {
                self.metrics.dead_lettered.with_label_values(&[kind]).inc();
                Ok(())
            }
            Err(PublishError::Final { error, .. }) => {
                tracing::error!(topic = origin.topic, partition = origin.partition, offset = origin.offset, kind, reason = message, error = %error, "input cannot be dead-lettered either; skipped");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// A store call, retried with backoff while the store fails (the offset stays unstored).
    async fn store_call<R: Send + 'static>(
        &self,
        shutdown: &watch::Receiver<bool>,
        f: impl Fn(&mut rusqlite::Connection) -> anyhow::Result<R> + Send + Clone + 'static,
    ) -> Result<R, PublishError> {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.store.call(f.clone()).await {
                Ok(r) => return Ok(r),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "store call failed; retrying");
                    sleep_or_stop(shutdown, backoff).await?;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
}

async fn sleep_or_stop(shutdown: &watch::Receiver<bool>, d: Duration) -> Result<(), PublishError> {
    let mut stop = shutdown.clone();
    if *stop.borrow() {
        return Err(PublishError::Stopped);
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => Ok(()),
        _ = stop.changed() => Err(PublishError::Stopped),
    }
}

fn is_final(v: &Value) -> bool {
    v["status"] == "routed" || v["status"] == "failed"
}

/// Tells handlers when their referral reaches a final state in the local store. The
/// pipeline's dispatcher does the work (claims, fetch retries at their due time, resumption
/// after a restart); one task looks up every awaited referral with one query when a waiter
/// arrives and each time the pipeline finishes a referral (its `finished` signal), only while
/// something is awaited.
pub struct Waiter {
    store: Store,
    waiting: Mutex<HashMap<String, Vec<oneshot::Sender<()>>>>,
    wake: Notify,
    finished: Arc<Notify>,
}

/// Longest wait between look-ups while referrals are awaited: a safety net only, since every
/// referral that ends routed or failed signals `finished`.
const WAIT_TICK: Duration = Duration::from_secs(1);

impl Waiter {
    pub fn new(store: Store, finished: Arc<Notify>) -> Waiter {
        Waiter {
            store,
            waiting: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            finished,
        }
    }

    /// Returns once referral `id` is routed or failed.
    pub async fn wait(
        &self,
        id: &str,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<(), PublishError> {
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .expect("waiters")
            .entry(id.to_string())
            .or_default()
            .push(tx);
        self.wake.notify_one();
        let mut stop = shutdown.clone();
        if *stop.borrow() {
            return Err(PublishError::Stopped);
        }
        tokio::select! {
            r = rx => r.map_err(|_| PublishError::Stopped),
            _ = stop.changed() => Err(PublishError::Stopped),
        }
    }

    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let ids: Vec<String> = self
                .waiting
                .lock()
                .expect("waiters")
                .keys()
                .cloned()
                .collect();
            if ids.is_empty() {
                tokio::select! {
                    _ = self.wake.notified() => continue,
                    _ = shutdown.changed() => return,
                }
            }
            // Registered before the look-up, so a referral finishing during it still wakes us.
            let finished = self.finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            match self.store.call(move |c| store::final_among(c, &ids)).await {
                Ok(done) => {
                    let mut w = self.waiting.lock().expect("waiters");
                    for id in done {
                        for tx in w.remove(&id).unwrap_or_default() {
                            let _ = tx.send(());
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "cannot read referral states"),
            }
            tokio::select! {
                _ = &mut finished => {}
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(WAIT_TICK) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}
