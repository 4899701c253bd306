//! `triage serve`: load and check everything (refusing to start on any problem, naming file
//! and line), resume unfinished referrals, then run the HTTP API and the pipeline until SIGINT
//! or SIGTERM.

use crate::cli::{
    load_classifier, load_rules, parse_allow_private, CliError, CliResult, ServeArgs,
};
use crate::config::{Config, LogFormat};
use crate::metrics::Metrics;
use crate::pipeline::{Engine, Pipeline};
use crate::server::{router, AppState};
use crate::store::{self, Store};
use std::sync::Arc;
use tokio::sync::{watch, Notify};

pub fn serve(args: ServeArgs) -> CliResult {
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(d) = args.data_dir {
        config.data_dir = d;
    }
    if let Some(d) = args.lists {
        config.lists_dir = d;
    }
    if let Some(d) = args.data {
        config.legal_dir = d;
    }
    if let Some(w) = args.workers {
        config.workers = w;
    }
    config
        .fetch
        .allow_private
        .extend(parse_allow_private(&args.allow_private)?);
    config.validate()?;
    if args.kafka.is_some() {
        return Err(CliError::usage("Kafka mode (--kafka) is not available in this build yet; run without it for the embedded mode"));
    }
    init_logging(config.log_format);

    let (classifier, lists) = load_classifier(&config.lists_dir)?;
    let list_count = lists.lists.len();
    let rules = load_rules(&config.legal_dir)?;
    let fetcher = ingest::Fetcher::new(config.fetch.clone())
        .map_err(|e| CliError::usage(format!("fetch policy: {e}")))?;
    let store =
        Store::open(&config.data_dir).map_err(|e| CliError::external("store", format!("{e:#}")))?;
    let resumed = store
        .call_sync(store::requeue_unfinished)
        .map_err(|e| CliError::external("store", format!("{e:#}")))?;

    let metrics = Arc::new(Metrics::new());
    for l in &lists.lists {
        metrics
            .list_entries
            .with_label_values(&[
                &l.meta.id,
                &l.meta.owner,
                l.meta.trust.as_str(),
                &l.meta.version,
            ])
            .set(l.entries.len() as i64);
    }
    metrics
        .rules_info
        .with_label_values(&[rules.rules_version()])
        .set(1);
    let engine = Arc::new(Engine {
        fetcher,
        classifier,
        rules,
        want_evidence: config.want_evidence,
        list_count,
    });
    let notify = Arc::new(Notify::new());
    let config = Arc::new(config);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::external("runtime", e.to_string()))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| CliError::external("listen", format!("cannot listen on {}: {e}", config.listen)))?;
        let addr = listener.local_addr().map_err(|e| CliError::external("listen", e.to_string()))?;
        tracing::info!(%addr, data_dir = %config.data_dir.display(), resumed, workers = config.workers, "triage serving (embedded mode)");
        // Tests and scripts read the bound address from this line.
        println!("triage listening on http://{addr}");

        let pipeline = Arc::new(Pipeline::new(store.clone(), engine.clone(), metrics.clone(), notify.clone(), config.workers));
        let (stop_tx, stop_rx) = watch::channel(false);
        let worker = tokio::spawn(pipeline.run(stop_rx));
        let state = AppState { config: config.clone(), store, metrics, engine, notify };
        let server = axum::serve(listener, router(state)).with_graceful_shutdown(async {
            shutdown_signal().await;
            tracing::info!("shutdown requested");
        });
        let served = server.await;
        let _ = stop_tx.send(true);
        let _ = worker.await;
        tracing::info!("stopped");
        served.map_err(|e| CliError::external("http", e.to_string()))
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
