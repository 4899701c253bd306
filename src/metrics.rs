//! Every metric, spelled once. Labels never carry a URL or anything else unbounded: reasons,
//! languages, lists, paths and jurisdictions are closed or operator-controlled sets.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub referrals_received: IntCounterVec,
    pub referrals_rejected: IntCounterVec,
    pub referrals_deconflicted: IntCounter,
    pub referrals_final: IntCounterVec,
    pub referrals_in_flight: IntGauge,
    pub referrals_queued: IntGauge,
    pub fetches: IntCounterVec,
    pub cases_by_language: IntCounterVec,
    pub list_matches: IntCounterVec,
    pub decisions: IntCounterVec,
    pub stage_seconds: HistogramVec,
    pub list_entries: IntGaugeVec,
    pub lists_info: IntGaugeVec,
    pub lists_reloads: IntCounterVec,
    pub lists_loaded_at: IntGauge,
    pub list_quarantined: IntGaugeVec,
    pub list_quarantine_events: IntCounterVec,
    pub rules_info: IntGaugeVec,
    pub legal_clocks: IntGaugeVec,
    // Fetch refusals and preservation (evidence, retention, liveness).
    pub fetch_refusals: IntCounterVec,
    pub fetch_retries: IntCounterVec,
    pub evidence_records: IntCounterVec,
    pub evidence_bytes: prometheus::IntCounter,
    pub evidence_errors: IntCounterVec,
    pub custody_entries: IntGauge,
    pub liveness_checks: IntCounterVec,
    pub takedown_latency: HistogramVec,
    // Images of pages (PDQ and digests).
    pub images: IntCounterVec,
    pub pdq_hashes: IntCounterVec,
    // Accounts and audit.
    pub auth_denials: IntCounterVec,
    pub auth_rate_limited: IntCounterVec,
    pub audit_entries: IntCounterVec,
    pub audit_failures: IntCounter,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("metric registered once");
    g
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("metric registered once");
    g
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let referrals_deconflicted = IntCounter::new(
            "triage_referrals_deconflicted_total",
            "Referrals of content that another referral had already brought in (same canonical URL).",
        )
        .expect("valid metric");
        r.register(Box::new(referrals_deconflicted.clone()))
            .expect("metric registered once");
        let stage_seconds = HistogramVec::new(
            HistogramOpts::new("triage_stage_seconds", "Time spent per pipeline stage.").buckets(
                vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0,
                ],
            ),
            &["stage"],
        )
        .expect("valid metric");
        r.register(Box::new(stage_seconds.clone()))
            .expect("metric registered once");
        Metrics {
            referrals_received: counter(&r, "triage_referrals_received_total", "Referrals accepted (stored before the 202).", &["source"]),
            referrals_rejected: counter(&r, "triage_referrals_rejected_total", "Referral requests refused as bad input, by reason.", &["reason"]),
            referrals_deconflicted,
            referrals_final: counter(&r, "triage_referrals_final_total", "Referrals that reached a final state.", &["status"]),
            referrals_in_flight: gauge(&r, "triage_referrals_in_flight", "Referrals being fetched, classified or routed now."),
            referrals_queued: gauge(&r, "triage_referrals_queued", "Referrals stored and waiting for a worker."),
            fetches: counter(&r, "triage_fetches_total", "Fetches by outcome (ok, refused, failed) and reason (error kind or HTTP status class).", &["outcome", "reason"]),
            cases_by_language: counter(&r, "triage_cases_by_language_total", "Cases classified, by detected language (`none` when undetermined).", &["language"]),
            list_matches: counter(&r, "triage_list_matches_total", "List entry occurrences matched, by list, owner and list version (suppressed matches not counted).", &["list", "owner", "version"]),
            decisions: counter(&r, "triage_decisions_total", "Routing targets produced, by path and jurisdiction.", &["path", "jurisdiction"]),
            stage_seconds,
            list_entries: gauge_vec(&r, "triage_list_entries", "Entries per loaded list, with its owner, trust and version.", &["list", "owner", "trust", "version"]),
            lists_info: gauge_vec(&r, "triage_lists_info", "The list set in use (value 1): its version, a digest of every list file.", &["set_version"]),
            lists_reloads: counter(&r, "triage_lists_reloads_total", "List reloads (HTTP or SIGHUP) by outcome: swapped, unchanged, rejected.", &["outcome"]),
            lists_loaded_at: gauge(&r, "triage_lists_loaded_timestamp_seconds", "When the list set in use was loaded (Unix time)."),
            list_quarantined: gauge_vec(&r, "triage_list_quarantined_entries", "Entries held in flood quarantine, by list.", &["list"]),
            list_quarantine_events: counter(&r, "triage_list_quarantine_events_total", "Entries put in flood quarantine, by list.", &["list"]),
            rules_info: gauge_vec(&r, "triage_rules_info", "The legal data pack in use (value 1).", &["rules_version"]),
            legal_clocks: gauge_vec(&r, "triage_legal_clocks", "Legal clocks of routed decisions by clock (removal_deadline = removal orders, copy_scrutiny, retention) and state (due = still running, overdue = expired), read at scrape time.", &["clock", "state"]),
            fetch_refusals: counter(&r, "triage_fetch_refusals_total", "Fetches refused by the fetch policy, by error kind and address class (loopback, private, metadata, …; the kind itself when not an address).", &["kind", "class"]),
            fetch_retries: counter(&r, "triage_fetch_retries_total", "Referrals put back in the queue after a fetch failure that may pass, by kind: timeout, connect, http (reset or broken response), http_408, http_429, http_5xx.", &["kind"]),
            evidence_records: counter(&r, "triage_evidence_records_total", "Custody log entries written, by kind: capture, partial (cut short), recheck (liveness re-fetch), observation (re-check without a response), retention (kept longer), purge.", &["kind"]),
            evidence_bytes: {
                let c = IntCounter::new("triage_evidence_bytes_total", "Bytes of WARC files written to the evidence folder.").expect("valid metric");
                r.register(Box::new(c.clone())).expect("metric registered once");
                c
            },
            evidence_errors: counter(&r, "triage_evidence_errors_total", "Evidence operations that failed, by stage (write, checkpoint, purge, retention).", &["stage"]),
            custody_entries: gauge(&r, "triage_custody_log_entries", "Entries in the custody log."),
            liveness_checks: counter(&r, "triage_liveness_checks_total", "Liveness re-checks of routed cases, by outcome (live, gone, unknown).", &["outcome"]),
            takedown_latency: {
                let h = HistogramVec::new(
                    HistogramOpts::new("triage_takedown_latency_seconds", "From the first referral of a case to the first observation of its content gone (confirmed), by host kind: the platform id from the legal data pack, `self_hosted` or `unknown`.")
                        .buckets(vec![60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 43200.0, 86400.0, 172800.0, 604800.0, 1209600.0, 2592000.0]),
                    &["host_kind"],
                ).expect("valid metric");
                r.register(Box::new(h.clone())).expect("metric registered once");
                h
            },
            images: counter(&r, "triage_images_total", "Images of pages (and contents that are images), by outcome: hashed, undecodable (fetched, but no PDQ hash within the decode limits), http_error, refused (by the fetch policy), failed, skipped (over max_images_per_page), invalid (not a URL).", &["outcome"]),
            pdq_hashes: counter(&r, "triage_pdq_hashes_total", "PDQ hashes computed, by quality: below_50 (never matched), 50_to_79, 80_to_100.", &["quality"]),
            auth_denials: counter(&r, "triage_auth_denials_total", "Requests refused by authentication or authorisation, by reason: missing, malformed, unknown, expired, revoked, unknown_agency (401) and forbidden (403).", &["reason"]),
            auth_rate_limited: counter(&r, "triage_auth_rate_limited_total", "Requests answered 429, by kind: token (over its request rate), address (too many failed authentications).", &["kind"]),
            audit_entries: counter(&r, "triage_audit_entries_total", "Audit log entries written by this process, by action (other for actions this build does not name).", &["action"]),
            audit_failures: {
                let c = IntCounter::new("triage_audit_failures_total", "Audit entries that could not be written (the request answered 500).").expect("valid metric");
                r.register(Box::new(c.clone())).expect("metric registered once");
                c
            },
            registry: r,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("encoding to memory");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
