//! Preservation inside the service: every capture the pipeline makes is written to the evidence
//! vault (WARC + custody log, `ingest::evidence`) and indexed in the store; a background loop
//! signs checkpoints, purges captures whose retention ended, and re-checks routed cases until
//! their content is gone.
//!
//! ```text
//!   pipeline ──preserve(capture)──▶ Vault (WARC file, custody entry) ──▶ store: evidence row
//!   routed case ──schedule_liveness──▶ store: preservation row (next_check_at)
//!   run(): every tick ─ checkpoint (if due) ─ retention sweep (if due) ─ due liveness checks
//!          liveness check: fetch (same SSRF policy) → live | gone | unknown → evidence → schedule
//! ```
//!
//! **Gone** means one of: HTTP 404, 410 or 451; the host name no longer resolves; the name now
//! resolves to a non-public address (a sinkhole); or a 2xx page whose title or main text holds
//! one of the configured removal notices ("this account has been suspended", …). Everything
//! else — 5xx, 401/403, 429, timeouts, refused connections, TLS failures — is **unknown**: the
//! site may be down for a moment, so it proves nothing. A case is declared offline after
//! `confirmations` gone observations in a row; `offline_at` is the first of them (the content
//! was last seen at `last_live_at`, so the takedown happened between the two). Checks back off
//! from `initial_interval_ms`, doubling up to `max_interval_ms`; a gone observation is
//! confirmed after `initial_interval_ms`; checks stop after `max_age_days`.
//!
//! **Retention**: a capture is kept `period_days` (default 183, six months) from capture; a
//! case confirmed offline keeps everything until `period_days` after `offline_at` (TCO
//! Regulation art. 6: six months from removal); `triage evidence extend` and
//! `POST /v1/cases/{id}/retention` hold a case longer (never shorter; the API, being the
//! serving process and so the custody log's one writer, also logs a `retention` entry).
//! At expiry the WARC file is deleted after a `purge` entry is logged; the log stays.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};

use crate::metrics::Metrics;
use crate::store::{self, Store};
use ingest::evidence::{CaptureContext, Preserved, Vault, VaultOptions};

/// `[evidence]`: where and how captures are preserved.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceConfig {
    /// Preserve captures (default true). Off only for throwaway demos: cases then carry no
    /// evidence and no liveness re-checks are made.
    pub enabled: bool,
    /// The evidence folder (default `<data_dir>/evidence`).
    pub dir: Option<PathBuf>,
    /// The Ed25519 checkpoint key, created on first start with mode 0600 (default
    /// `<data_dir>/custody-key.pem`). Keep a copy of it somewhere else.
    pub signing_key: Option<PathBuf>,
    /// One gzip member per WARC record (default true).
    pub gzip: bool,
    /// How often the head of the custody log is signed when it has grown (default 1000 ms).
    pub checkpoint_interval_ms: u64,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        EvidenceConfig {
            enabled: true,
            dir: None,
            signing_key: None,
            gzip: true,
            checkpoint_interval_ms: 1000,
        }
    }
}

impl EvidenceConfig {
    pub fn dir(&self, data_dir: &Path) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| data_dir.join("evidence"))
    }
    pub fn key_path(&self, data_dir: &Path) -> PathBuf {
        self.signing_key
            .clone()
            .unwrap_or_else(|| data_dir.join("custody-key.pem"))
    }
}

/// `[retention]`: how long captures are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days a capture is kept, and kept after its case went offline (default 183).
    pub period_days: u32,
    /// The same in milliseconds, overriding `period_days` when set: for demos and tests that
    /// need to see a purge happen.
    pub period_ms: Option<u64>,
    /// How often expired captures are looked for (default one hour).
    pub sweep_interval_ms: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            period_days: 183,
            period_ms: None,
            sweep_interval_ms: 3_600_000,
        }
    }
}

/// `[liveness]`: re-checking routed cases until their content is gone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LivenessConfig {
    pub enabled: bool,
    /// How often the schedule is looked at (default 5 s).
    pub tick_ms: u64,
    /// First re-check after routing, and the wait before confirming a gone observation
    /// (default 15 min).
    pub initial_interval_ms: u64,
    /// Longest wait between checks (default 24 h).
    pub max_interval_ms: u64,
    /// Gone observations in a row before a case is declared offline (default 2).
    pub confirmations: u32,
    /// Checks stop this long after routing (default 183 days).
    pub max_age_days: u32,
    /// Re-checks in flight at once (default 4); they share the fetcher's own limit too.
    pub concurrency: usize,
    /// Removal notices: a 2xx page whose title or main text contains one (case-insensitive)
    /// counts as gone.
    pub removed_markers: Vec<String>,
}

impl Default for LivenessConfig {
    fn default() -> Self {
        LivenessConfig {
            enabled: true,
            tick_ms: 5_000,
            initial_interval_ms: 15 * 60_000,
            max_interval_ms: 24 * 3_600_000,
            confirmations: 2,
            max_age_days: 183,
            concurrency: 4,
            removed_markers: [
                "this content is no longer available",
                "this content has been removed",
                "this video has been removed",
                "this video is no longer available",
                "this account has been suspended",
                "account suspended",
                "this account has been terminated",
                "this channel has been terminated",
                "this post has been removed",
                "this page isn't available",
                "the page you requested was not found",
                "removed for violating",
                "withheld in your country",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// Checks the three sections; the message names the field.
pub fn validate(e: &EvidenceConfig, r: &RetentionConfig, l: &LivenessConfig) -> Result<(), String> {
    if e.checkpoint_interval_ms == 0 {
        return Err("evidence.checkpoint_interval_ms must be greater than 0".into());
    }
    if r.period_days == 0 || r.period_days > 36_500 {
        return Err(format!(
            "retention.period_days = {} must be between 1 and 36500",
            r.period_days
        ));
    }
    if r.period_ms == Some(0) {
        return Err("retention.period_ms must be greater than 0".into());
    }
    if r.sweep_interval_ms == 0 {
        return Err("retention.sweep_interval_ms must be greater than 0".into());
    }
    for (name, v) in [
        ("tick_ms", l.tick_ms),
        ("initial_interval_ms", l.initial_interval_ms),
        ("max_interval_ms", l.max_interval_ms),
    ] {
        if v == 0 {
            return Err(format!("liveness.{name} must be greater than 0"));
        }
    }
    if l.max_interval_ms < l.initial_interval_ms {
        return Err("liveness.max_interval_ms is shorter than liveness.initial_interval_ms".into());
    }
    if l.confirmations == 0 || l.confirmations > 20 {
        return Err(format!(
            "liveness.confirmations = {} must be between 1 and 20",
            l.confirmations
        ));
    }
    if l.concurrency == 0 || l.concurrency > 1024 {
        return Err(format!(
            "liveness.concurrency = {} must be between 1 and 1024",
            l.concurrency
        ));
    }
    if let Some(i) = l.removed_markers.iter().position(|m| m.trim().is_empty()) {
        return Err(format!("liveness.removed_markers[{i}] is empty"));
    }
    Ok(())
}

/// Timestamps as the store keeps them (sortable as text).
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The running preservation service.
pub struct Preservation {
    pub vault: Arc<Vault>,
    pub retention: RetentionConfig,
    pub liveness: LivenessConfig,
    checkpoint_every: Duration,
    metrics: Arc<Metrics>,
}

/// A capture written to the vault: what the case JSON records of it, and its index row.
pub struct Written {
    pub json: Value,
    pub row: EvidenceIndex,
}

/// The store's index row of a capture, owned.
#[derive(Debug, Clone)]
pub struct EvidenceIndex {
    capture_id: String,
    case_id: String,
    referral_id: Option<String>,
    purpose: String,
    file: String,
    file_sha256: String,
    file_bytes: u64,
    custody_seq: u64,
    status: u16,
    truncated: Option<String>,
    captured_at: String,
    retain_until: String,
}

impl EvidenceIndex {
    pub fn as_row(&self) -> store::EvidenceRow<'_> {
        store::EvidenceRow {
            capture_id: &self.capture_id,
            case_id: &self.case_id,
            referral_id: self.referral_id.as_deref(),
            purpose: &self.purpose,
            file: &self.file,
            file_sha256: &self.file_sha256,
            file_bytes: self.file_bytes,
            custody_seq: self.custody_seq,
            status: Some(self.status),
            truncated: self.truncated.as_deref(),
            captured_at: &self.captured_at,
            retain_until: &self.retain_until,
        }
    }
}

/// Who a capture belongs to.
pub struct Owner<'a> {
    pub case_id: &'a str,
    pub referral_id: Option<&'a str>,
    pub purpose: &'a str,
}

impl Preservation {
    /// Opens the vault of `data_dir` (creating the folder and the key on first start); `None`
    /// when evidence is turned off.
    pub fn open(
        data_dir: &Path,
        evidence: &EvidenceConfig,
        retention: &RetentionConfig,
        liveness: &LivenessConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Option<Arc<Preservation>>, ingest::evidence::EvidenceError> {
        if !evidence.enabled {
            return Ok(None);
        }
        let vault = Vault::open(
            &evidence.dir(data_dir),
            &evidence.key_path(data_dir),
            VaultOptions {
                gzip: evidence.gzip,
            },
        )?;
        metrics.custody_entries.set(vault.log_size() as i64);
        Ok(Some(Arc::new(Preservation {
            vault: Arc::new(vault),
            retention: retention.clone(),
            liveness: liveness.clone(),
            checkpoint_every: Duration::from_millis(evidence.checkpoint_interval_ms),
            metrics,
        })))
    }

    fn period(&self) -> chrono::Duration {
        match self.retention.period_ms {
            Some(ms) => chrono::Duration::milliseconds(ms as i64),
            None => chrono::Duration::days(i64::from(self.retention.period_days)),
        }
    }

    /// Writes `capture` to the vault and indexes it; returns what the case's capture JSON
    /// records of it.
    pub async fn preserve(
        &self,
        store: &Store,
        capture: &ingest::Capture,
        owner: Owner<'_>,
        conversion: Option<String>,
        notes: Value,
    ) -> Result<Value> {
        let w = self.write(capture, owner, conversion, notes).await?;
        let row = w.row.clone();
        store
            .call(move |c| store::record_evidence(c, &row.as_row()))
            .await?;
        Ok(w.json)
    }

    /// Writes `capture` to the vault (WARC file and custody entry, synced); the caller indexes
    /// [`Written::row`] in the store, in a transaction of its own choosing.
    pub async fn write(
        &self,
        capture: &ingest::Capture,
        owner: Owner<'_>,
        conversion: Option<String>,
        notes: Value,
    ) -> Result<Written> {
        let vault = self.vault.clone();
        let c = capture.clone();
        let (case_id, referral_id, purpose) = (
            owner.case_id.to_string(),
            owner.referral_id.map(str::to_string),
            owner.purpose.to_string(),
        );
        let (cid, rid, purp) = (case_id.clone(), referral_id.clone(), purpose.clone());
        let preserved: Result<Preserved, _> = tokio::task::spawn_blocking(move || {
            vault.preserve(
                &c,
                &CaptureContext {
                    case_id: &cid,
                    referral_id: rid.as_deref(),
                    purpose: &purp,
                    conversion: conversion.as_deref(),
                    notes,
                },
            )
        })
        .await
        .context("evidence writer panicked")?;
        let p = match preserved {
            Ok(p) => p,
            Err(e) => {
                self.metrics
                    .evidence_errors
                    .with_label_values(&["write"])
                    .inc();
                return Err(anyhow::anyhow!(e)).context("the capture could not be preserved");
            }
        };
        let kind = match (purpose.as_str(), capture.truncated.is_some()) {
            ("recheck", _) => "recheck",
            (_, true) => "partial",
            _ => "capture",
        };
        self.metrics
            .evidence_records
            .with_label_values(&[kind])
            .inc();
        self.metrics.evidence_bytes.inc_by(p.file_bytes);
        self.metrics.custody_entries.set(p.seq as i64 + 1);
        let json = json!({
            "capture_id": p.capture_id,
            "file": p.file,
            "file_sha256": p.file_sha256,
            "file_bytes": p.file_bytes,
            "custody_seq": p.seq,
            "records": p.records.len(),
        });
        let row = EvidenceIndex {
            capture_id: p.capture_id,
            case_id,
            referral_id,
            purpose,
            file: p.file,
            file_sha256: p.file_sha256,
            file_bytes: p.file_bytes,
            custody_seq: p.seq,
            status: capture.status,
            truncated: capture.truncated.map(|t| t.as_str().to_string()),
            captured_at: ts(capture.fetched_at),
            retain_until: ts(capture.fetched_at + self.period()),
        };
        Ok(Written { json, row })
    }

    /// Writes a `retention` custody entry: the case's captures are kept at least until `until`,
    /// with who asked and why in `detail`. Returns the entry's sequence number.
    pub async fn log_retention(&self, case_id: &str, until: &str, detail: &str) -> Result<u64> {
        let vault = self.vault.clone();
        let (case_id, until, detail) = (case_id.to_string(), until.to_string(), detail.to_string());
        let seq = tokio::task::spawn_blocking(move || vault.retain(&case_id, &until, &detail))
            .await
            .context("custody task panicked")?
            .inspect_err(|_| {
                self.metrics
                    .evidence_errors
                    .with_label_values(&["retention"])
                    .inc();
            })?;
        self.metrics
            .evidence_records
            .with_label_values(&["retention"])
            .inc();
        self.metrics.custody_entries.set(seq as i64 + 1);
        Ok(seq)
    }

    /// The first liveness check of a case routed now.
    pub fn first_check_at(&self) -> String {
        ts(Utc::now() + chrono::Duration::milliseconds(self.liveness.initial_interval_ms as i64))
    }

    /// Checkpoints, retention and liveness until `shutdown`; a last checkpoint on the way out.
    pub async fn run(
        self: Arc<Self>,
        store: Store,
        fetcher: ingest::Fetcher,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let tick = Duration::from_millis(
            self.liveness
                .tick_ms
                .min(self.checkpoint_every.as_millis() as u64)
                .max(10),
        );
        let mut last_checkpoint = tokio::time::Instant::now();
        let mut last_sweep: Option<tokio::time::Instant> = None;
        let slots = Arc::new(Semaphore::new(self.liveness.concurrency));
        let mut last_liveness = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = shutdown.changed() => break,
            }
            if *shutdown.borrow() {
                break;
            }
            if last_checkpoint.elapsed() >= self.checkpoint_every {
                self.checkpoint().await;
                last_checkpoint = tokio::time::Instant::now();
            }
            let sweep_every = Duration::from_millis(self.retention.sweep_interval_ms);
            if last_sweep.is_none_or(|t| t.elapsed() >= sweep_every) {
                if let Err(e) = self.sweep(&store).await {
                    tracing::error!(error = %format!("{e:#}"), "retention sweep failed; retrying at the next sweep");
                }
                last_sweep = Some(tokio::time::Instant::now());
            }
            if self.liveness.enabled
                && last_liveness.elapsed() >= Duration::from_millis(self.liveness.tick_ms)
            {
                last_liveness = tokio::time::Instant::now();
                // A stop does not wait for re-checks in flight (a fetch may take its whole
                // deadline); an unfinished one is simply due again at the next start.
                tokio::select! {
                    done = self.clone().liveness_round(&store, &fetcher, &slots) => {
                        if let Err(e) = done {
                            tracing::error!(error = %format!("{e:#}"), "liveness round failed; retrying at the next tick");
                        }
                    }
                    _ = shutdown.changed() => break,
                }
            }
        }
        self.checkpoint().await;
    }

    /// Signs the log head if it grew.
    pub async fn checkpoint(&self) {
        let vault = self.vault.clone();
        match tokio::task::spawn_blocking(move || vault.checkpoint()).await {
            Ok(Ok(Some(ck))) => {
                tracing::debug!(size = ck.size, root = %ck.root, "custody checkpoint signed")
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                self.metrics
                    .evidence_errors
                    .with_label_values(&["checkpoint"])
                    .inc();
                tracing::error!(error = %e, "cannot write a custody checkpoint");
            }
            Err(e) => tracing::error!(error = %e, "checkpoint task panicked"),
        }
    }

    /// Purges every capture whose retention has ended.
    pub async fn sweep(&self, store: &Store) -> Result<usize> {
        let mut purged = 0;
        loop {
            let now = ts(Utc::now());
            let batch = store
                .call(move |c| store::expired_evidence(c, &now, 200))
                .await?;
            if batch.is_empty() {
                return Ok(purged);
            }
            for e in batch {
                let vault = self.vault.clone();
                let e2 = e.clone();
                let done = tokio::task::spawn_blocking(move || {
                    vault.purge(
                        &e2.case_id,
                        &e2.capture_id,
                        &e2.file,
                        &e2.file_sha256,
                        &format!("retention ended ({})", e2.retain_until),
                    )
                })
                .await
                .context("purge task panicked")?;
                let id = e.capture_id.clone();
                match done {
                    Ok(seq) => {
                        store.call(move |c| store::mark_purged(c, &id, seq)).await?;
                        self.metrics
                            .evidence_records
                            .with_label_values(&["purge"])
                            .inc();
                        self.metrics.custody_entries.set(seq as i64 + 1);
                        purged += 1;
                        tracing::info!(capture_id = %e.capture_id, case_id = %e.case_id, "capture purged at the end of its retention");
                    }
                    Err(err) => {
                        self.metrics
                            .evidence_errors
                            .with_label_values(&["purge"])
                            .inc();
                        tracing::error!(capture_id = %e.capture_id, error = %err, "capture not purged");
                        let why = err.to_string();
                        store
                            .call(move |c| store::mark_purge_failed(c, &id, &why))
                            .await?;
                    }
                }
            }
        }
    }

    /// Runs every due liveness check, at most `concurrency` at once.
    async fn liveness_round(
        self: Arc<Self>,
        store: &Store,
        fetcher: &ingest::Fetcher,
        slots: &Arc<Semaphore>,
    ) -> Result<()> {
        let now = ts(Utc::now());
        let due = store
            .call(move |c| store::due_liveness(c, &now, 256))
            .await?;
        let mut tasks = Vec::new();
        for d in due {
            let permit = slots
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore never closed");
            let (me, store, fetcher) = (self.clone(), store.clone(), fetcher.clone());
            tasks.push(tokio::spawn(async move {
                let case_id = d.case_id.clone();
                if let Err(e) = me.check(&store, &fetcher, d).await {
                    tracing::error!(case_id, error = %format!("{e:#}"), "liveness check failed");
                }
                drop(permit);
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        Ok(())
    }

    /// One re-check: fetch, judge, preserve what was seen, reschedule.
    async fn check(
        &self,
        store: &Store,
        fetcher: &ingest::Fetcher,
        d: store::LivenessDue,
    ) -> Result<()> {
        let now = Utc::now();
        let seen = match ingest::parse_target(&d.url) {
            Err(e) => Seen::unknown(format!("the URL cannot be fetched any more: {e}")),
            Ok(url) => match fetcher.fetch_keeping(&url).await {
                Ok(cap) => {
                    let seen = self.judge_capture(&cap).await;
                    self.preserve_recheck(store, &cap, &d.case_id, &seen)
                        .await?;
                    seen
                }
                Err(f) => {
                    let seen = judge_error(&f.error);
                    match f.partial {
                        Some(partial) => {
                            self.preserve_recheck(store, &partial, &d.case_id, &seen)
                                .await?
                        }
                        None => {
                            let (vault, case_id, url, outcome, detail) = (
                                self.vault.clone(),
                                d.case_id.clone(),
                                d.url.clone(),
                                seen.outcome,
                                seen.detail.clone(),
                            );
                            let seq = tokio::task::spawn_blocking(move || {
                                vault.observe(&case_id, &url, outcome, &detail)
                            })
                            .await
                            .context("observation task panicked")??;
                            self.metrics
                                .evidence_records
                                .with_label_values(&["observation"])
                                .inc();
                            self.metrics.custody_entries.set(seq as i64 + 1);
                        }
                    }
                    seen
                }
            },
        };
        self.metrics
            .liveness_checks
            .with_label_values(&[seen.outcome])
            .inc();
        let at = ts(now);
        let l = &self.liveness;
        let checks = d.checks + 1;
        let backoff = l
            .initial_interval_ms
            .saturating_mul(1u64 << checks.clamp(0, 30))
            .min(l.max_interval_ms);
        let routed = parse_ts(&d.routed_at).unwrap_or(now);
        let too_old = now - routed > chrono::Duration::days(i64::from(l.max_age_days));
        let (gone_streak, first_gone_at) = if seen.outcome == "gone" {
            (
                d.gone_streak + 1,
                d.first_gone_at.clone().or_else(|| Some(at.clone())),
            )
        } else if seen.outcome == "live" {
            (0, None)
        } else {
            // Unknown proves nothing either way: a gone streak survives it.
            (d.gone_streak, d.first_gone_at.clone())
        };
        let confirmed = gone_streak >= i64::from(l.confirmations);
        let (state, outcome, next, offline_at) = if confirmed {
            ("gone", "offline", None, first_gone_at.clone())
        } else if too_old {
            ("stopped", "stopped", None, None)
        } else if seen.outcome == "gone" {
            (
                "live",
                "gone",
                Some(ts(now
                    + chrono::Duration::milliseconds(
                        l.initial_interval_ms as i64,
                    ))),
                None,
            )
        } else {
            (
                "live",
                seen.outcome,
                Some(ts(now + chrono::Duration::milliseconds(backoff as i64))),
                None,
            )
        };
        let retain_at_least = offline_at
            .as_deref()
            .and_then(parse_ts)
            .map(|t| ts(t + self.period()));
        let (case_id, detail) = (d.case_id.clone(), seen.detail.clone());
        let (o2, r2) = (offline_at.clone(), retain_at_least.clone());
        store
            .call(move |c| {
                store::record_liveness(
                    c,
                    &case_id,
                    &store::LivenessUpdate {
                        at: &at,
                        outcome,
                        detail: &detail,
                        gone_streak,
                        first_gone_at: first_gone_at.as_deref(),
                        state,
                        next_check_at: next.as_deref(),
                        offline_at: o2.as_deref(),
                        retain_at_least: r2.as_deref(),
                    },
                )
            })
            .await?;
        if let Some(off) = offline_at.as_deref().and_then(parse_ts) {
            let from = parse_ts(&d.first_at).unwrap_or(routed);
            let latency = (off - from).num_milliseconds().max(0) as f64 / 1000.0;
            self.metrics
                .takedown_latency
                .with_label_values(&[&d.host_kind])
                .observe(latency);
            tracing::info!(case_id = %d.case_id, offline_at = %off, latency_s = latency, reason = %seen.detail, "content confirmed offline");
        }
        Ok(())
    }

    async fn judge_capture(&self, cap: &ingest::Capture) -> Seen {
        match cap.status {
            404 | 410 | 451 => Seen::gone(format!("HTTP {}", cap.status)),
            200..=299 => {
                let (body, ct) = (cap.body.clone(), cap.content_type.clone());
                let markers = self.liveness.removed_markers.clone();
                let found = tokio::task::spawn_blocking(move || {
                    let e = ingest::extract(&body, ct.as_deref(), None);
                    let hay =
                        format!("{}\n{}", e.title.unwrap_or_default(), e.main_text).to_lowercase();
                    markers
                        .into_iter()
                        .find(|m| hay.contains(&m.to_lowercase()))
                })
                .await
                .ok()
                .flatten();
                match found {
                    Some(m) => Seen::gone(format!("the page shows the removal notice {m:?}")),
                    None => Seen::live(format!("HTTP {}", cap.status)),
                }
            }
            s => Seen::unknown(format!("HTTP {s}")),
        }
    }

    async fn preserve_recheck(
        &self,
        store: &Store,
        cap: &ingest::Capture,
        case_id: &str,
        seen: &Seen,
    ) -> Result<()> {
        self.preserve(
            store,
            cap,
            Owner {
                case_id,
                referral_id: None,
                purpose: "recheck",
            },
            None,
            json!({"liveness": {"outcome": seen.outcome, "detail": seen.detail}}),
        )
        .await
        .map(|_| ())
    }
}

/// What one re-check saw.
struct Seen {
    /// `live`, `gone` or `unknown`.
    outcome: &'static str,
    detail: String,
}

impl Seen {
    fn live(detail: String) -> Seen {
        Seen {
            outcome: "live",
            detail,
        }
    }
    fn gone(detail: String) -> Seen {
        Seen {
            outcome: "gone",
            detail,
        }
    }
    fn unknown(detail: String) -> Seen {
        Seen {
            outcome: "unknown",
            detail,
        }
    }
}

/// A failed re-check is gone when the name no longer resolves or now points somewhere
/// non-public (a sinkhole); any other failure proves nothing.
fn judge_error(e: &ingest::FetchError) -> Seen {
    match e.kind() {
        "dns" => Seen::gone(format!("the host name no longer resolves ({e})")),
        "blocked_address"
            if matches!(
                e.class(),
                "loopback" | "unspecified" | "private" | "reserved"
            ) =>
        {
            Seen::gone(format!(
                "the host name now points to a non-public address, a sinkhole ({e})"
            ))
        }
        _ => Seen::unknown(format!("{}: {e}", e.kind())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_are_named() {
        let (e, r, l) = (
            EvidenceConfig::default(),
            RetentionConfig::default(),
            LivenessConfig::default(),
        );
        validate(&e, &r, &l).unwrap();
        assert_eq!(r.period_days, 183);
        let bad = LivenessConfig {
            confirmations: 0,
            ..LivenessConfig::default()
        };
        assert!(validate(&e, &r, &bad)
            .unwrap_err()
            .contains("liveness.confirmations"));
        let bad = RetentionConfig {
            period_days: 0,
            ..RetentionConfig::default()
        };
        assert!(validate(&e, &bad, &l)
            .unwrap_err()
            .contains("retention.period_days"));
    }

    #[test]
    fn only_resolution_failures_and_sinkholes_count_as_gone() {
        use ingest::{FetchError, Target};
        let at = Target {
            hop: 0,
            url: "http://x.test/".into(),
        };
        let dns = FetchError::Dns {
            at: at.clone(),
            reason: "no such name".into(),
        };
        assert_eq!(judge_error(&dns).outcome, "gone");
        let sink = FetchError::BlockedAddress {
            at: at.clone(),
            class: "loopback",
            reason: "x.test resolves to 127.0.0.1".into(),
        };
        assert_eq!(judge_error(&sink).outcome, "gone");
        let timeout = FetchError::Timeout {
            at: at.clone(),
            what: "connection",
            ms: 5,
        };
        assert_eq!(judge_error(&timeout).outcome, "unknown");
        let refused = FetchError::Connect {
            at,
            reason: "connection refused".into(),
        };
        assert_eq!(judge_error(&refused).outcome, "unknown");
    }
}
