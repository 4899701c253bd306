//! The way of one referral in embedded mode: the store is the queue; a dispatcher claims the
//! oldest queued referral whenever a worker slot is free, and the worker fetches, extracts,
//! classifies and routes it, writing each step back. Referrals of one case are processed one at
//! a time, and a case already fetched is not fetched again: a later referral of the same content
//! reuses its capture and classification and only gets its own routing decision (the referring
//! state differs from one agency to the next).
//!
//! A fetch that failed for a reason that may pass (timeout, refused or reset connection, HTTP
//! 408/429/5xx) puts its referral back in the queue with a due time (`src/retry.rs`); the
//! worker slot is freed at once, and the dispatcher sleeps until the earliest due retry or new
//! work, whichever comes first.

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
    /// The list set in force, swapped whole by a reload; each referral takes it once.
    pub lists: Arc<crate::lists_live::LiveLists>,
    /// Flood quarantine of list entries, applied as the classifier's suppression hook.
    pub quarantine: Arc<crate::quarantine::Quarantine>,
    pub rules: route::RulePack,
    pub want_evidence: bool,
    /// The evidence vault, for the API's retention changes (`None`: evidence off). The
    /// pipeline's own handle is [`Pipeline::with_preservation`].
    pub preservation: Option<Arc<crate::evidence::Preservation>>,
}

pub struct Pipeline {
    pub store: Store,
    pub engine: Arc<Engine>,
    pub metrics: Arc<Metrics>,
    /// Woken when a referral is stored, so the dispatcher need not poll.
    pub notify: Arc<Notify>,
    /// Woken (every waiter) each time a referral ends routed or failed, so whoever awaits a
    /// result (Kafka mode) need not poll the store.
    pub finished: Arc<Notify>,
    pub workers: usize,
    case_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Evidence, retention and liveness; `None` when evidence is turned off.
    preservation: Option<Arc<crate::evidence::Preservation>>,
    /// When and how often failed fetches are tried again.
    retry: crate::retry::RetryConfig,
}

/// How long shutdown waits for referrals in flight; unfinished ones are requeued at restart.
const DRAIN: Duration = Duration::from_secs(10);

/// Longest idle sleep of the dispatcher between looks at the queue.
const IDLE: Duration = Duration::from_secs(1);

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
            finished: Arc::new(Notify::new()),
            workers,
            case_locks: Mutex::new(HashMap::new()),
            preservation: None,
            retry: crate::retry::RetryConfig::default(),
        }
    }

    /// Fetch retries as configured (`[retry]`).
    pub fn with_retry(mut self, retry: crate::retry::RetryConfig) -> Pipeline {
        self.retry = retry;
        self
    }

    /// Every capture is preserved as evidence, and routed cases are re-checked for liveness.
    pub fn with_preservation(mut self, p: Option<Arc<crate::evidence::Preservation>>) -> Pipeline {
        self.preservation = p;
        self
    }

    /// Claims and processes referrals until `shutdown` turns true, then waits for the work in
    /// flight (bounded by [`DRAIN`]).
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.workers));
        // Checkpoints, retention and liveness run beside the dispatcher until the same signal.
        let preserving = self.preservation.clone().map(|p| {
            tokio::spawn(p.run(
                self.store.clone(),
                self.engine.fetcher.clone(),
                shutdown.clone(),
            ))
        });
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
                    // Nothing ready: sleep until new work, the earliest waiting retry, or IDLE.
                    let wait = self.until_next_retry().await;
                    tokio::select! {
                        _ = self.notify.notified() => {}
                        _ = tokio::time::sleep(wait) => {}
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
        // Its last act is a checkpoint covering everything preserved before the stop.
        if let Some(task) = preserving {
            let _ = task.await;
        }
        if let Some(p) = &self.preservation {
            p.checkpoint().await;
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
        self.metrics.referrals_in_flight.dec();
        if status == "retrying" {
            tracing::info!("referral back in the queue for another fetch");
            return;
        }
        self.metrics
            .referrals_final
            .with_label_values(&[status])
            .inc();
        self.finished.notify_waiters();
        tracing::info!(status, "referral finished");
    }

    /// Returns the referral's final status, or `retrying` when it went back in the queue.
    async fn process_inner(&self, r: &Claimed) -> Result<&'static str> {
        if r.crashes() >= store::MAX_ATTEMPTS {
            let msg = format!("gave up after {} attempts; the process stopped while handling this referral each time", r.crashes());
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
            _ => {
                let fetched = self.fetch(r).await?;
                let fetched = match self.retry_if_transient(r, fetched).await? {
                    Transient::Final(fetched) => *fetched,
                    Transient::Retrying => return Ok("retrying"),
                    Transient::Failed => return Ok("failed"),
                };
                match self.fetch_and_classify(r, fetched).await? {
                    Some(done) => done,
                    None => return Ok("failed"),
                }
            }
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
        let liveness = self.liveness_start(r, &capture);
        self.store
            .call(move |c| {
                let start = liveness
                    .as_ref()
                    .map(|(url, kind, next)| store::LivenessStart {
                        url,
                        host_kind: kind,
                        next_check_at: next,
                    });
                store::finish_scheduling(c, &id, &case_id, &value, &jurisdictions, start)
            })
            .await?;
        Ok("routed")
    }

    /// Where a routed case joins the liveness schedule (once per case): its URL, its host kind
    /// for the takedown-latency metric (the platform id, `self_hosted` or `unknown`), and when.
    fn liveness_start(&self, r: &Claimed, capture: &Value) -> Option<(String, String, String)> {
        let p = self.preservation.as_ref().filter(|p| p.liveness.enabled)?;
        let host = self.host_of(capture);
        let host_kind = match (&host.platform, host.self_hosted) {
            (Some(platform), _) => platform.id.clone(),
            (None, true) => "self_hosted".to_string(),
            (None, false) => "unknown".to_string(),
        };
        Some((r.url.clone(), host_kind, p.first_check_at()))
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

    /// Fetches the referred URL once.
    async fn fetch(&self, r: &Claimed) -> Result<Fetched> {
        let url = ingest::parse_target(&r.url).context("stored referral URL")?;
        let t = Instant::now();
        let fetched = self.engine.fetcher.fetch_keeping(&url).await;
        self.metrics
            .stage_seconds
            .with_label_values(&["fetch"])
            .observe(t.elapsed().as_secs_f64());
        Ok(fetched)
    }

    /// Extracts and classifies what the fetch brought; `None` when the referral failed
    /// (refused, unreachable, or not a page), with the reason stored.
    async fn fetch_and_classify(
        &self,
        r: &Claimed,
        fetched: Fetched,
    ) -> Result<Option<(Value, Classification)>> {
        let cap = match fetched {
            Err(ingest::Failed { error: e, partial }) => {
                let outcome = if e.is_policy_refusal() {
                    "refused"
                } else {
                    "failed"
                };
                self.metrics
                    .fetches
                    .with_label_values(&[outcome, e.kind()])
                    .inc();
                if e.is_policy_refusal() {
                    self.metrics
                        .fetch_refusals
                        .with_label_values(&[e.kind(), e.class()])
                        .inc();
                }
                tracing::info!(kind = e.kind(), class = e.class(), error = %e, "fetch did not succeed");
                // What arrived before the fetch broke off is evidence too (marked truncated).
                let mut kept = None;
                if let Some(partial) = partial {
                    let mut v = serde_json::to_value(&*partial)?;
                    let notes = json!({"error": {"kind": e.kind(), "message": e.to_string()}});
                    match self.preserve(r, &partial, None, notes).await {
                        Ok(Some(ev)) => v["evidence"] = ev,
                        Ok(None) => {}
                        Err(err) => return self.fail_evidence(r, err).await,
                    }
                    kept = Some(v);
                }
                let msg = format!("{e}{}", after_attempts(r));
                self.fail(r, e.kind(), &msg, kept, true).await?;
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
                "the origin answered HTTP {} for {}{}",
                cap.status,
                cap.final_url,
                after_attempts(r)
            );
            match self.preserve(r, &cap, None, Value::Null).await {
                Ok(Some(ev)) => capture["evidence"] = ev,
                Ok(None) => {}
                Err(err) => return self.fail_evidence(r, err).await,
            }
            self.fail(r, "http_status", &msg, Some(capture), true)
                .await?;
            return Ok(None);
        }
        self.metrics.fetches.with_label_values(&["ok", "ok"]).inc();
        let (id, case_id) = (r.id.clone(), r.case_id.clone());
        self.store
            .call(move |c| store::set_status(c, &id, &case_id, "classified"))
            .await?;

        let metrics = self.metrics.clone();
        let final_url = Url::parse(&cap.final_url).ok();
        let url_fingerprint = crate::quarantine::url_fingerprint(&r.case_id);
        // Bodies are reference-counted: the copy kept for the evidence record is cheap.
        let kept = cap.clone();
        let extracted = tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let extracted =
                ingest::extract(&cap.body, cap.content_type.as_deref(), final_url.as_ref());
            metrics
                .stage_seconds
                .with_label_values(&["extract"])
                .observe(t.elapsed().as_secs_f64());
            extracted
        })
        .await
        .context("extraction panicked")?;
        // The content itself when it is an image, and the page's <img> sources: fetched under
        // the same policy, hashed (digests, PDQ) and preserved; a refused image is reported.
        let images = crate::images::Stage {
            store: &self.store,
            preservation: self.preservation.as_deref(),
            metrics: &self.metrics,
            case_id: &r.case_id,
            referral_id: &r.id,
        };
        let images =
            match crate::images::run(&self.engine.fetcher, &images, &kept, &extracted).await {
                Ok(images) => images,
                Err(err) => return self.fail_evidence(r, err).await,
            };
        let (hashed, image_report, images_skipped) = (images.hashed, images.report, images.skipped);
        let engine = self.engine.clone();
        let metrics = self.metrics.clone();
        let cap = kept.clone();
        let (extracted, mut classification, quarantined) = tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let image_evidence: Vec<classify::ImageEvidence> = hashed
                .iter()
                .map(crate::images::HashedImage::evidence)
                .collect();
            let doc = classify::Document {
                text: &extracted.text,
                sha256: Some(&cap.sha256),
                md5: Some(&cap.md5),
                url: Some(&cap.final_url),
                images: &image_evidence,
            };
            // The set in force now stays this referral's, whatever a reload does meanwhile.
            let lists = engine.lists.current();
            let (mut quarantined, now) = (Vec::new(), chrono::Utc::now().timestamp());
            let classification = lists.classifier.classify_with(&doc, &mut |m| {
                engine
                    .quarantine
                    .check(m, url_fingerprint, now, &mut quarantined)
            });
            metrics
                .stage_seconds
                .with_label_values(&["classify"])
                .observe(t.elapsed().as_secs_f64());
            (extracted, classification, quarantined)
        })
        .await
        .context("extraction or classification panicked")?;
        classification.id = Some(json!(r.case_id));
        capture["extracted"] = json!({
            "charset": extracted.charset,
            "decode_errors": extracted.decode_errors,
            "html_lang": extracted.html_lang,
            "content_language": kept.header("content-language"),
            "meta_content_language": extracted.meta_content_language,
            "og_locale": extracted.og_locale,
            "text_truncated": extracted.text_truncated,
            "main_text": extracted.main_text,
            "links": extracted.links.len(),
            "images": extracted.images,
        });
        capture["images"] = json!(image_report);
        if images_skipped > 0 {
            capture["images_skipped"] = json!(images_skipped);
        }
        // Written before anything is stored as classified, and indexed in the same transaction
        // as the content: no case without its evidence.
        let mut evidence_row = None;
        if let Some(p) = &self.preservation {
            let t = Instant::now();
            let owner = crate::evidence::Owner {
                case_id: &r.case_id,
                referral_id: Some(&r.id),
                purpose: "capture",
            };
            match p
                .write(&kept, owner, Some(extracted.text.clone()), Value::Null)
                .await
            {
                Ok(w) => {
                    capture["evidence"] = w.json;
                    evidence_row = Some(w.row);
                }
                Err(err) => return self.fail_evidence(r, err).await,
            }
            self.metrics
                .stage_seconds
                .with_label_values(&["evidence"])
                .observe(t.elapsed().as_secs_f64());
        }
        capture["host_candidates"] = json!(self.host_of(&capture).candidates);

        let language = classification.language.as_ref().map(|l| l.code.clone());
        self.metrics
            .cases_by_language
            .with_label_values(&[language.as_deref().unwrap_or("none")])
            .inc();
        self.engine.lists.record_matches(&classification);
        self.engine
            .quarantine
            .record_new(quarantined, &self.store, &self.metrics)
            .await;
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
                        evidence: evidence_row.as_ref().map(|e| e.as_row()),
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

    /// Writes a capture to the evidence vault (when evidence is on); the JSON names the WARC
    /// file and custody entry. A failure to preserve fails the referral (`evidence_io`), so no
    /// case is routed without its evidence.
    async fn preserve(
        &self,
        r: &Claimed,
        cap: &ingest::Capture,
        conversion: Option<String>,
        notes: Value,
    ) -> Result<Option<Value>> {
        let Some(p) = &self.preservation else {
            return Ok(None);
        };
        let t = Instant::now();
        let owner = crate::evidence::Owner {
            case_id: &r.case_id,
            referral_id: Some(&r.id),
            purpose: "capture",
        };
        let ev = p
            .preserve(&self.store, cap, owner, conversion, notes)
            .await?;
        self.metrics
            .stage_seconds
            .with_label_values(&["evidence"])
            .observe(t.elapsed().as_secs_f64());
        Ok(Some(ev))
    }

    /// A capture that could not be preserved fails its referral with kind `evidence` (an
    /// external failure: the next referral of the content fetches again).
    async fn fail_evidence(
        &self,
        r: &Claimed,
        err: anyhow::Error,
    ) -> Result<Option<(Value, Classification)>> {
        let msg = format!("{err:#}");
        tracing::error!(error = %msg, "capture not preserved; the referral fails");
        self.metrics
            .fetches
            .with_label_values(&["failed", "evidence"])
            .inc();
        self.fail(r, "evidence", &msg, None, true).await?;
        Ok(None)
    }

    /// Who hosts the content, from what ingest saw: the final URL's host name (platform table,
    /// ccTLD) and the address the final response came from (network tables → country, hoster,
    /// CDN). Every factor seen is in `candidates`, each with its confidence.
    fn host_of(&self, capture: &Value) -> Host {
        let host_name = capture["final_url"]
            .as_str()
            .and_then(|u| Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_string));
        self.engine
            .rules
            .determine_host(host_name.as_deref(), capture["remote_addr"].as_str())
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
        // A known platform, or a self-hosted site with its hoster and server country when the
        // network tables know the address; when nothing is known the router says so in a review
        // item instead of guessing a state.
        let host = self.host_of(capture);
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
            // The legal clocks (removal deadline, scrutiny, retention) start now.
            at: Some(chrono::Utc::now()),
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

/// One fetch's result, as the fetcher gives it.
type Fetched = std::result::Result<ingest::Capture, ingest::Failed>;

/// What became of a fetch once the retry policy has looked at it.
enum Transient {
    /// Not retried (a success, a final failure, or no attempts left): handle as it is.
    Final(Box<Fetched>),
    /// Back in the queue with a due time.
    Retrying,
    /// The referral failed while being put back (its capture could not be preserved).
    Failed,
}

/// How many fetches a failure message stands for, when there was more than one.
fn after_attempts(r: &Claimed) -> String {
    if r.retries > 0 {
        format!(" (gave up after {} attempts)", r.retries + 1)
    } else {
        String::new()
    }
}

impl Pipeline {
    /// How long the dispatcher may sleep: until the earliest waiting retry is due, at most
    /// [`IDLE`], at least a few milliseconds (never a busy loop).
    async fn until_next_retry(&self) -> Duration {
        let due = match self.store.call(store::next_retry_due).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot read the retry schedule");
                None
            }
        };
        due.and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| {
                (t.with_timezone(&chrono::Utc) - chrono::Utc::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .clamp(Duration::from_millis(5), IDLE)
            })
            .unwrap_or(IDLE)
    }

    /// Puts the referral back in the queue when its fetch failed for a reason that may pass
    /// and attempts are left (`[retry] max_attempts`); what arrived is preserved as evidence
    /// of that attempt. Policy refusals and other final failures pass through untouched.
    async fn retry_if_transient(&self, r: &Claimed, fetched: Fetched) -> Result<Transient> {
        let (label, kind, message, reason, capture, retry_after) = match &fetched {
            Err(f) => match crate::retry::transient_error(&f.error) {
                Some(label) => (
                    label,
                    f.error.kind(),
                    f.error.to_string(),
                    f.error.kind().to_string(),
                    f.partial.as_deref(),
                    None,
                ),
                None => return Ok(Transient::Final(Box::new(fetched))),
            },
            Ok(cap) => match crate::retry::transient_status(cap.status) {
                Some(label) => (
                    label,
                    "http_status",
                    format!(
                        "the origin answered HTTP {} for {}",
                        cap.status, cap.final_url
                    ),
                    format!("http_{}xx", cap.status / 100),
                    Some(cap),
                    cap.header("retry-after")
                        .and_then(|v| crate::retry::parse_retry_after(&v, chrono::Utc::now())),
                ),
                None => return Ok(Transient::Final(Box::new(fetched))),
            },
        };
        let attempt = r.retries + 1;
        if attempt >= i64::from(self.retry.max_attempts) {
            return Ok(Transient::Final(Box::new(fetched)));
        }
        self.metrics
            .fetches
            .with_label_values(&["failed", &reason])
            .inc();
        if let Some(cap) = capture {
            let notes = json!({"retry": {"attempt": attempt, "kind": label, "error": {"kind": kind, "message": message}}});
            if let Err(err) = self.preserve(r, cap, None, notes).await {
                self.fail_evidence(r, err).await?;
                return Ok(Transient::Failed);
            }
        }
        let retries = u32::try_from(r.retries).unwrap_or(u32::MAX);
        let delay = self
            .retry
            .delay(retries, retry_after, crate::retry::jitter());
        let next =
            chrono::Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        let next = crate::evidence::ts(next);
        self.metrics.fetch_retries.with_label_values(&[label]).inc();
        tracing::info!(kind, retry = label, attempt, next_attempt_at = %next, delay_ms = delay.as_millis() as u64, error = %message, "fetch failed; trying again later");
        let (id, msg, k, at) = (r.id.clone(), message, kind.to_string(), next);
        self.store
            .call(move |c| store::requeue_for_retry(c, &id, &k, &msg, &at))
            .await?;
        // The dispatcher may be sleeping towards a later due time.
        self.notify.notify_one();
        Ok(Transient::Retrying)
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
