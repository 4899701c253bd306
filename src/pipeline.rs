//! The way of one referral in embedded mode: the store is the queue; a dispatcher claims the
//! oldest queued referral whenever a worker slot is free, and the worker fetches, extracts,
//! classifies and routes it, writing each step back. Referrals of one case are processed one at
//! a time, and a case already fetched is not fetched again: a later referral of the same content
//! reuses its capture and classification and only gets its own routing decision (the referring
//! state differs from one agency to the next).

use crate::metrics::Metrics;
use crate::store::{self, Claimed, Store};
use anyhow::{Context, Result};
use serde_json::{json, Value};
use shared::{Category, Classification, Decision, Host, RouteCase};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;
use url::Url;

/// The stages, built once at start-up.
pub struct Engine {
    pub fetcher: ingest::Fetcher,
    pub classifier: classify::Classifier,
    pub rules: route::RulePack,
    pub want_evidence: bool,
    /// Lists loaded (for readiness).
    pub list_count: usize,
}

pub struct Pipeline {
    pub store: Store,
    pub engine: Arc<Engine>,
    pub metrics: Arc<Metrics>,
    /// Woken when a referral is stored, so the dispatcher need not poll.
    pub notify: Arc<Notify>,
    pub workers: usize,
    case_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// How long shutdown waits for referrals in flight; unfinished ones are requeued at restart.
const DRAIN: Duration = Duration::from_secs(10);

impl Pipeline {
    pub fn new(
        store: Store,
        engine: Arc<Engine>,
        metrics: Arc<Metrics>,
        notify: Arc<Notify>,
        workers: usize,
    ) -> Pipeline {
        Pipeline {
            store,
            engine,
            metrics,
            notify,
            workers,
            case_locks: Mutex::new(HashMap::new()),
        }
    }

    /// Claims and processes referrals until `shutdown` turns true, then waits for the work in
    /// flight (bounded by [`DRAIN`]).
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.workers));
        loop {
            if *shutdown.borrow() {
                break;
            }
            let permit = tokio::select! {
                p = slots.clone().acquire_owned() => p.expect("semaphore never closed"),
                _ = shutdown.changed() => break,
            };
            match self.store.call(store::claim_next).await {
                Ok(Some(claimed)) => {
                    let me = self.clone();
                    tokio::spawn(async move { me.process(claimed, permit).await });
                }
                Ok(None) => {
                    drop(permit);
                    tokio::select! {
                        _ = self.notify.notified() => {}
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.changed() => break,
                    }
                }
                Err(e) => {
                    drop(permit);
                    tracing::error!(error = %e, "cannot claim a referral; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        tracing::info!("pipeline stopping; waiting for referrals in flight");
        let all = u32::try_from(self.workers).unwrap_or(u32::MAX);
        if tokio::time::timeout(DRAIN, slots.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!(
                "referrals still in flight after {DRAIN:?}; they will be resumed at the next start"
            );
        }
    }

    fn case_lock(&self, case_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.case_locks.lock().expect("case lock map poisoned");
        // Forget locks nobody holds, so the map stays as small as the work in flight.
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(case_id.to_string()).or_default().clone()
    }

    async fn process(self: Arc<Self>, r: Claimed, _permit: OwnedSemaphorePermit) {
        self.metrics.referrals_in_flight.inc();
        let span = tracing::info_span!("referral", referral_id = %r.id, case_id = %r.case_id);
        let outcome = self.process_inner(&r).instrument(span.clone()).await;
        let _enter = span.enter();
        let status = match outcome {
            Ok(status) => status,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "referral failed inside the pipeline");
                let (id, case_id, msg) = (r.id.clone(), r.case_id.clone(), format!("{e:#}"));
                if let Err(e2) = self
                    .store
                    .call(move |c| store::fail(c, &id, &case_id, "internal", &msg, None, false))
                    .await
                {
                    tracing::error!(error = %e2, "cannot record the failure; the referral will be retried at restart");
                }
                "failed"
            }
        };
        self.metrics
            .referrals_final
            .with_label_values(&[status])
            .inc();
        self.metrics.referrals_in_flight.dec();
        tracing::info!(status, "referral finished");
    }

    /// Returns the referral's final status.
    async fn process_inner(&self, r: &Claimed) -> Result<&'static str> {
        if r.attempts > store::MAX_ATTEMPTS {
            let msg = format!("gave up after {} attempts; the process stopped while handling this referral each time", r.attempts - 1);
            self.fail(r, "gave_up", &msg, None, false).await?;
            return Ok("failed");
        }
        let lock = self.case_lock(&r.case_id);
        let _guard = lock.lock().await;
        let case_id = r.case_id.clone();
        let content = self
            .store
            .call(move |c| store::case_content(c, &case_id))
            .await?;
        let (capture, classification) = match content {
            Some(store::CaseContent {
                capture: Some(cap),
                classification: Some(cls),
                ..
            }) => {
                tracing::info!("content already fetched for this case; reusing it");
                (
                    cap,
                    serde_json::from_value::<Classification>(cls)
                        .context("stored classification")?,
                )
            }
            Some(store::CaseContent {
                status,
                reason_kind: Some(kind),
                reason,
                ..
            }) if status == "failed" && ingest::POLICY_REFUSAL_KINDS.contains(&kind.as_str()) => {
                // A policy refusal does not change on a second try: report it again, do not refetch.
                self.fail(
                    r,
                    &kind,
                    reason.as_deref().unwrap_or("refused"),
                    None,
                    false,
                )
                .await?;
                return Ok("failed");
            }
            _ => match self.fetch_and_classify(r).await? {
                Some(done) => done,
                None => return Ok("failed"),
            },
        };
        let decision = self.route(r, &capture, &classification).await?;
        let jurisdictions = decision_jurisdictions(&decision);
        for t in &decision.targets {
            self.metrics
                .decisions
                .with_label_values(&[t.path.as_str(), &t.jurisdiction])
                .inc();
        }
        let value = serde_json::to_value(&decision)?;
        let (id, case_id) = (r.id.clone(), r.case_id.clone());
        self.store
            .call(move |c| store::finish(c, &id, &case_id, &value, &jurisdictions))
            .await?;
        Ok("routed")
    }

    async fn fail(
        &self,
        r: &Claimed,
        kind: &str,
        message: &str,
        capture: Option<Value>,
        case_too: bool,
    ) -> Result<()> {
        let (id, case_id, kind, message) = (
            r.id.clone(),
            r.case_id.clone(),
            kind.to_string(),
            message.to_string(),
        );
        self.store
            .call(move |c| {
                store::fail(
                    c,
                    &id,
                    &case_id,
                    &kind,
                    &message,
                    capture.as_ref(),
                    case_too,
                )
            })
            .await
    }

    /// Fetches, extracts and classifies the case's content; `None` when the referral failed
    /// (refused, unreachable, or not a page), with the reason stored.
    async fn fetch_and_classify(&self, r: &Claimed) -> Result<Option<(Value, Classification)>> {
        let url = ingest::parse_target(&r.url).context("stored referral URL")?;
        let t = Instant::now();
        let fetched = self.engine.fetcher.fetch(&url).await;
        self.metrics
            .stage_seconds
            .with_label_values(&["fetch"])
            .observe(t.elapsed().as_secs_f64());
        let cap = match fetched {
            Err(e) => {
                let outcome = if e.is_policy_refusal() {
                    "refused"
                } else {
                    "failed"
                };
                self.metrics
                    .fetches
                    .with_label_values(&[outcome, e.kind()])
                    .inc();
                tracing::info!(kind = e.kind(), error = %e, "fetch did not succeed");
                self.fail(r, e.kind(), &e.to_string(), None, true).await?;
                return Ok(None);
            }
            Ok(cap) => cap,
        };
        let mut capture = serde_json::to_value(&cap)?;
        if !(200..300).contains(&cap.status) {
            let class = format!("http_{}xx", cap.status / 100);
            self.metrics
                .fetches
                .with_label_values(&["failed", &class])
                .inc();
            let msg = format!(
                "the origin answered HTTP {} for {}",
                cap.status, cap.final_url
            );
            self.fail(r, "http_status", &msg, Some(capture), true)
                .await?;
            return Ok(None);
        }
        self.metrics.fetches.with_label_values(&["ok", "ok"]).inc();
        let (id, case_id) = (r.id.clone(), r.case_id.clone());
        self.store
            .call(move |c| store::set_status(c, &id, &case_id, "classified"))
            .await?;

        let engine = self.engine.clone();
        let metrics = self.metrics.clone();
        let final_url_str = cap.final_url.clone();
        let final_url = Url::parse(&cap.final_url).ok();
        let (extracted, mut classification) = tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let extracted =
                ingest::extract(&cap.body, cap.content_type.as_deref(), final_url.as_ref());
            metrics
                .stage_seconds
                .with_label_values(&["extract"])
                .observe(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let doc = classify::Document {
                text: &extracted.text,
                sha256: Some(&cap.sha256),
                md5: Some(&cap.md5),
                url: Some(&cap.final_url),
            };
            let classification = engine.classifier.classify(&doc);
            metrics
                .stage_seconds
                .with_label_values(&["classify"])
                .observe(t.elapsed().as_secs_f64());
            (extracted, classification)
        })
        .await
        .context("extraction or classification panicked")?;
        classification.id = Some(json!(r.case_id));
        capture["extracted"] = json!({
            "charset": extracted.charset,
            "decode_errors": extracted.decode_errors,
            "html_lang": extracted.html_lang,
            "text_truncated": extracted.text_truncated,
            "links": extracted.links.len(),
            "images": extracted.images,
        });
        capture["host_candidates"] = json!(self.host_candidates(&final_url_str));

        let language = classification.language.as_ref().map(|l| l.code.clone());
        self.metrics
            .cases_by_language
            .with_label_values(&[language.as_deref().unwrap_or("none")])
            .inc();
        for m in classification
            .matches
            .iter()
            .filter(|m| m.suppressed_by.is_none())
        {
            self.metrics
                .list_matches
                .with_label_values(&[&m.list])
                .inc();
        }
        let cls_value = serde_json::to_value(&classification)?;
        let case_id = r.case_id.clone();
        let capture_stored = capture.clone();
        let t = Instant::now();
        self.store
            .call(move |c| {
                store::save_content(
                    c,
                    &case_id,
                    &store::Content {
                        capture: &capture_stored,
                        title: extracted.title.as_deref(),
                        text: &extracted.text,
                        classification: &cls_value,
                        language: language.as_deref(),
                    },
                )
            })
            .await?;
        self.metrics
            .stage_seconds
            .with_label_values(&["store"])
            .observe(t.elapsed().as_secs_f64());
        Ok(Some((capture, classification)))
    }

    /// What the final URL says about who hosts the content, each factor with its confidence.
    fn host_candidates(&self, final_url: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let Some(host) = Url::parse(final_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
        else {
            return out;
        };
        if let Some(p) = self.engine.rules.platform_for_host(&host) {
            out.push(json!({"factor": "platform", "platform": p.id, "jurisdiction": p.main_establishment.or(p.legal_representative), "confidence": "high"}));
        }
        if let Some(cc) = shared::jurisdiction::cctld_country(&host) {
            out.push(json!({"factor": "cctld", "jurisdiction": cc, "confidence": "low"}));
        }
        out
    }

    async fn route(
        &self,
        r: &Claimed,
        capture: &Value,
        classification: &Classification,
    ) -> Result<Decision> {
        let mut categories: BTreeSet<Category> =
            classification.categories.iter().map(|c| c.id).collect();
        categories.extend(r.categories_hint.iter().copied());
        let host_name = capture["final_url"]
            .as_str()
            .and_then(|u| Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_string));
        let platform = host_name
            .as_deref()
            .and_then(|h| self.engine.rules.platform_for_host(h));
        let host = match platform {
            Some(p) => Host {
                self_hosted: false,
                platform: Some(p),
                ..Host::default()
            },
            // Not a known platform: a self-hosted site whose hoster is not known yet; the router
            // says so in a review item instead of guessing a state.
            None => Host {
                self_hosted: true,
                ..Host::default()
            },
        };
        let case = RouteCase {
            case_id: r.case_id.clone(),
            referring: shared::Referring {
                jurisdiction: r.jurisdiction.clone(),
                agency: r.agency.clone(),
            },
            categories: categories.into_iter().collect(),
            flags: shared::Flags::default(),
            want_evidence: self.engine.want_evidence,
            host,
        };
        let t = Instant::now();
        let decision = self.engine.rules.route(&case);
        self.metrics
            .stage_seconds
            .with_label_values(&["route"])
            .observe(t.elapsed().as_secs_f64());
        Ok(decision)
    }
}

/// Every state a decision sends the case to: the targets' and the copies'.
pub fn decision_jurisdictions(d: &Decision) -> Vec<String> {
    let mut set = BTreeSet::new();
    for t in &d.targets {
        set.insert(t.jurisdiction.clone());
        if let Some(c) = &t.copy_to {
            set.insert(c.clone());
        }
    }
    set.into_iter().collect()
}
