//! Kafka mode (`triage serve --kafka BROKERS`, or `[kafka] brokers`): referrals arrive on
//! `triage.referrals` and routed cases leave on `triage.cases.<jurisdiction>`,
//! `triage.review` and `triage.dlq`. Every worker runs the whole per-referral pipeline of the
//! embedded mode; more workers in one consumer group share the partitions.
//!
//! Map: [`config::KafkaConfig`] (the `[kafka]` section, secrets redacted) builds the clients;
//! [`ingress::Ingress`] turns `POST /v1/referrals` into acknowledged `triage.referrals`
//! messages; [`worker::Worker`] consumes them, runs [`crate::pipeline::Pipeline`] on each,
//! hands the outputs to [`publish::Publisher`] and stores the input offset through
//! [`offsets::Tracker`] once all are acknowledged. [`messages`] holds the three message
//! shapes (schemas in `docs/schemas/`).

pub mod config;
pub mod ingress;
pub mod messages;
pub mod metrics;
pub mod offsets;
pub mod publish;
pub mod worker;

#[cfg(test)]
mod mock_tests;

pub use config::KafkaConfig;
pub use ingress::Ingress;

use crate::cli::{CliError, CliResult};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::pipeline::{Engine, Pipeline};
use crate::server::{router, AppState};
use crate::store::Store;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{watch, Notify};

/// What `triage serve` has built before it picks a mode.
pub struct Parts {
    pub listener: tokio::net::TcpListener,
    pub config: Arc<Config>,
    pub store: Store,
    pub engine: Arc<Engine>,
    pub metrics: Arc<Metrics>,
    pub notify: Arc<Notify>,
    /// The embedded pipeline: its dispatcher processes what the worker puts in the store.
    pub pipeline: Arc<Pipeline>,
    /// Tokens and audit for the HTTP API (referrals from the topic carry their own `agency`:
    /// the topic is protected by Kafka ACLs, not by API tokens).
    pub auth: Arc<crate::auth::Auth>,
}

/// Runs the HTTP API and the Kafka worker until `shutdown` resolves. The worker failing for
/// good (fatal producer error, consumer not created) stops the service with exit code 4.
pub async fn serve(p: Parts, shutdown: impl Future<Output = ()> + Send + 'static) -> CliResult {
    let k = &p.config.kafka;
    let broker_err = |e: anyhow::Error| CliError::external("broker", format!("kafka: {e:#}"));
    let kmetrics = Arc::new(metrics::KafkaMetrics::new());
    let publisher = Arc::new(publish::Publisher::new(k, kmetrics.clone()).map_err(broker_err)?);
    for t in [k.topic_referrals(), k.topic_review(), k.topic_dlq()].iter() {
        publisher.topics().ensure(t).await;
    }
    let ingress =
        Arc::new(Ingress::new(k, publisher.topics(), kmetrics.clone()).map_err(broker_err)?);
    let worker = Arc::new(worker::Worker {
        config: p.config.clone(),
        pipeline: p.pipeline.clone(),
        store: p.store.clone(),
        publisher,
        metrics: kmetrics,
        waiter: Arc::new(worker::Waiter::new(
            p.store.clone(),
            p.pipeline.finished.clone(),
        )),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    // The dispatcher (with checkpoints, retention and liveness), as in the embedded mode.
    let dispatcher = tokio::spawn(p.pipeline.clone().run(stop_rx.clone()));
    let mut worker_task = tokio::spawn(worker.run(stop_rx));
    tracing::info!(brokers = k.brokers.as_deref().unwrap_or_default(), group = %k.group_id,
        prefix = %k.topic_prefix, "kafka mode ready");
    let state = AppState {
        config: p.config.clone(),
        store: p.store.clone(),
        metrics: p.metrics.clone(),
        engine: p.engine.clone(),
        notify: p.notify.clone(),
        kafka: Some(ingress),
        auth: p.auth.clone(),
    };
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(p.listener, app).with_graceful_shutdown(async {
        shutdown.await;
        tracing::info!("shutdown requested");
    });
    let outcome = tokio::select! {
        served = server => served.map_err(|e| CliError::external("http", e.to_string())),
        w = &mut worker_task => {
            let why = match w {
                Ok(Ok(())) => "the Kafka worker stopped".to_string(),
                Ok(Err(e)) => format!("{e:#}"),
                Err(e) => format!("the Kafka worker panicked: {e}"),
            };
            tracing::error!(error = %why, "stopping: the Kafka worker cannot go on");
            let _ = stop_tx.send(true);
            return Err(CliError::external("broker", format!("kafka: {why}")));
        }
    };
    let _ = stop_tx.send(true);
    match worker_task.await {
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), "Kafka worker ended with an error")
        }
        Err(e) => tracing::error!(error = %e, "Kafka worker panicked"),
        Ok(Ok(())) => {}
    }
    let _ = dispatcher.await;
    tracing::info!("stopped");
    outcome
}
