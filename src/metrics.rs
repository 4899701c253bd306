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
    pub rules_info: IntGaugeVec,
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
            list_matches: counter(&r, "triage_list_matches_total", "List entries matched, by list (suppressed matches not counted).", &["list"]),
            decisions: counter(&r, "triage_decisions_total", "Routing targets produced, by path and jurisdiction.", &["path", "jurisdiction"]),
            stage_seconds,
            list_entries: gauge_vec(&r, "triage_list_entries", "Entries per loaded list, with its owner, trust and version.", &["list", "owner", "trust", "version"]),
            rules_info: gauge_vec(&r, "triage_rules_info", "The legal data pack in use (value 1).", &["rules_version"]),
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
