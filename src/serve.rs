//! `triage serve`: load and check everything (refusing to start on any problem, naming file
//! and line), resume unfinished referrals, then run the HTTP API and the pipeline until SIGINT
//! or SIGTERM. SIGHUP reloads the lists (as `POST /v1/lists/reload` does): a good set is swapped
//! in, a bad one is logged with every problem and the old one keeps serving.

use crate::cli::{load_rules, parse_allow_private, CliError, CliResult, ServeArgs};
use crate::config::{Config, LogFormat};
use crate::lists_live::LiveLists;
use crate::metrics::Metrics;
use crate::pipeline::{Engine, Pipeline};
use crate::quarantine::{self, Quarantine};
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
    if let Some(b) = args.kafka {
        config.kafka.brokers = Some(b);
    }
    config.validate()?;
    init_logging(config.log_format);

    let metrics = Arc::new(Metrics::new());
    let lists = Arc::new(
        LiveLists::open(&config.lists_dir, metrics.clone())
            .map_err(|e| CliError::usage(e.to_string()))?,
    );
    let rules = load_rules(&config.legal_dir)?;
    let fetcher = ingest::Fetcher::new(config.fetch.clone())
        .map_err(|e| CliError::usage(format!("fetch policy: {e}")))?;
    let store =
        Store::open(&config.data_dir).map_err(|e| CliError::external("store", format!("{e:#}")))?;
    let resumed = store
        .call_sync(store::requeue_unfinished)
        .map_err(|e| CliError::external("store", format!("{e:#}")))?;
    let quarantine = Arc::new(Quarantine::new(
        config.lists.quarantine_distinct_urls_per_hour,
    ));
    let held = store
        .call_sync(|c| {
            quarantine::init_table(c)?;
            quarantine::load_all(c)
        })
        .map_err(|e| CliError::external("store", format!("{e:#}")))?;
    quarantine.restore(held);
    let auth = Arc::new(bootstrap_auth(&config, &store, metrics.clone())?);
    quarantine.publish(&metrics);
    metrics
        .rules_info
        .with_label_values(&[rules.rules_version()])
        .set(1);
    // Evidence vault (and its signing key, on first start); a damaged custody log stops here.
    let preservation = crate::evidence::Preservation::open(
        &config.data_dir,
        &config.evidence,
        &config.retention,
        &config.liveness,
        metrics.clone(),
    )
    .map_err(|e| {
        CliError::new(
            if e.kind() == "evidence_io" { 4 } else { 2 },
            e.kind(),
            e.to_string(),
        )
    })?;
    let engine = Arc::new(Engine {
        fetcher,
        lists,
        quarantine,
        rules,
        want_evidence: config.want_evidence,
        preservation: preservation.clone(),
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
        tracing::info!(%addr, data_dir = %config.data_dir.display(), resumed, workers = config.workers,
            mode = if config.kafka.brokers.is_some() { "kafka" } else { "embedded" }, "triage serving");
        // Tests and scripts read the bound address from this line.
        println!("triage listening on http://{addr}");

        let pipeline = Arc::new(Pipeline::new(store.clone(), engine.clone(), metrics.clone(), notify.clone(), config.workers).with_preservation(preservation).with_retry(config.retry.clone()));
        if config.kafka.brokers.is_some() {
            tokio::spawn(reload_on_sighup(engine.lists.clone()));
            let parts = crate::kafka::Parts { listener, config, store, engine, metrics, notify, pipeline, auth };
            return crate::kafka::serve(parts, shutdown_signal()).await;
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let worker = tokio::spawn(pipeline.run(stop_rx));
        tokio::spawn(reload_on_sighup(engine.lists.clone()));
        let state = AppState { config: config.clone(), store, metrics, engine, notify, kafka: None, auth };
        let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        let server = axum::serve(listener, app).with_graceful_shutdown(async {
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

/// The accounts tables, and the first admin token when there is no usable one: the hash of
/// `TRIAGE_ADMIN_TOKEN` when set, else a new token printed ONCE on stderr (never in the log
/// stream's structured fields, never on stdout).
fn bootstrap_auth(
    config: &Config,
    store: &Store,
    metrics: Arc<Metrics>,
) -> Result<crate::auth::Auth, CliError> {
    let agency = config.admin_agency().ok_or_else(|| {
        CliError::usage("no agencies are configured; add one ([[agencies]] id, jurisdiction) for the admin token")
    })?;
    let env_token = std::env::var("TRIAGE_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let agency_id = agency.id.clone();
    let outcome = store
        .call_sync(|c| {
            crate::auth::init(c)?;
            crate::auth::tokens::bootstrap(c, &agency_id, env_token.as_deref())
        })
        .map_err(|e| {
            let m = format!("{e:#}");
            if m.contains("TRIAGE_ADMIN_TOKEN") {
                CliError::usage(m)
            } else {
                CliError::external("store", m)
            }
        })?;
    match outcome {
        crate::auth::tokens::Bootstrap::Existing => {}
        crate::auth::tokens::Bootstrap::FromEnv(id) => {
            tracing::info!(token_id = %id, agency = %agency.id, "admin token taken from TRIAGE_ADMIN_TOKEN")
        }
        crate::auth::tokens::Bootstrap::Created(row, token) => {
            tracing::info!(token_id = %row.id, agency = %row.agency, expires_at = %row.expires_at, "first start: admin token created (printed once on stderr)");
            eprintln!(
                "\n=== triage ADMIN TOKEN (shown once; store it now) ===\n{token}\n=== agency {}, role admin, expires {}; make more with `triage admin token create` ===\n",
                row.agency, row.expires_at
            );
        }
    }
    Ok(crate::auth::Auth::new(config, store.clone(), metrics))
}

/// Reloads the lists on every SIGHUP; the outcome goes to the log.
async fn reload_on_sighup(lists: Arc<LiveLists>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; reload lists over HTTP instead");
                return;
            }
        };
        while hup.recv().await.is_some() {
            let l = lists.clone();
            match tokio::task::spawn_blocking(move || l.reload()).await {
                Ok(Ok(r)) => {
                    tracing::info!(changed = r.changed, set_version = %r.set_version, previous = %r.previous_set_version,
                    lists = r.lists, entries = r.entries, took_ms = r.took_ms, "lists reloaded (SIGHUP)")
                }
                Ok(Err(refused)) => tracing::error!(
                    problems = refused.problems.len(),
                    "list reload (SIGHUP) refused; the previous set keeps serving:\n{refused}"
                ),
                Err(e) => {
                    tracing::error!(error = %e, "list reload (SIGHUP) panicked; the previous set keeps serving")
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = lists;
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
