//! Kafka mode end to end, against a real Kafka-protocol broker (tansu) started by the test:
//! referrals in through the API and straight onto the topic (poison messages included), every
//! output topic read back with an independent consumer and checked message by message against
//! the worker's own decisions and the JSON Schemas in `docs/schemas/`; two workers sharing
//! the partitions through a rebalance; SIGKILL of a worker mid-stream; the broker away for
//! 30 s mid-stream.
//!
//! The broker binary: `$TRIAGE_TANSU`, else `.ci/cache/tansu/bin/tansu`,
//! `$HOME/.cache/triage/tansu/bin/tansu`, or `tansu` on PATH
//! (`.ci/run` builds it from crates.io). Without one these tests fail; they never pass vacuously.

mod common;

use common::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::ClientConfig;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- broker

fn tansu_bin() -> PathBuf {
    let mut candidates = Vec::new();
    if let Ok(p) = std::env::var("TRIAGE_TANSU") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(repo().join(".ci/cache/tansu/bin/tansu"));
    if let Ok(h) = std::env::var("HOME") {
        candidates.push(Path::new(&h).join(".cache/triage/tansu/bin/tansu"));
    }
    for c in &candidates {
        if c.is_file() {
            return c.clone();
        }
    }
    if let Ok(path) = std::env::var("PATH") {
        for d in std::env::split_paths(&path) {
            let c = d.join("tansu");
            if c.is_file() {
                return c;
            }
        }
    }
    panic!(
        "no tansu broker binary: set TRIAGE_TANSU, or build it with `cargo install tansu --features libsql,dynostore --root .ci/cache/tansu` (as .ci/run does); looked in {candidates:?} and PATH"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A tansu broker on a loopback port; killed when dropped.
struct Broker {
    child: Option<Child>,
    port: u16,
    storage: String,
    dir: PathBuf,
    log: PathBuf,
}

impl Broker {
    /// In-memory storage (the sqlite engine of tansu 0.6.0 failed with `UnableToSend` after
    /// a SIGKILL and restart here, so the outage test freezes the broker instead).
    fn start(dir: &Path) -> Broker {
        let storage = "memory://tansu/".to_string();
        let mut b = Broker {
            child: None,
            port: free_port(),
            storage,
            dir: dir.to_path_buf(),
            log: dir.join("tansu.log"),
        };
        b.up();
        b
    }

    fn up(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(tansu_bin())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", &self.storage])
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start tansu");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen; log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Freezes the broker (SIGSTOP): connections stay open and nothing answers, as with a
    /// broker host gone from the network; [`Broker::resume`] brings it back with its data.
    fn freeze(&self) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success());
    }

    fn resume(&self) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(Command::new("kill")
            .args(["-CONT", &pid])
            .status()
            .unwrap()
            .success());
    }

    fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.down();
    }
}

// ---------------------------------------------------------------- origin and workers

/// A loopback origin: `/ok/*` is a small news page naming its path, after `delay`;
/// `/gone/*` answers 404 (the referral fails and is dead-lettered).
fn origin(delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]);
                let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
                std::thread::sleep(delay);
                if path.starts_with("/gone/") {
                    let _ = write!(s, "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 4\r\nconnection: close\r\n\r\ngone");
                    return;
                }
                let body = format!("<html><head><title>{path}</title></head><body><p>Court report {path}: the Islamic State case was adjourned.</p></body></html>");
                let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            });
        }
    });
    addr
}

fn worker_config(dir: &Path, extra: &str) -> PathBuf {
    let f = dir.join("triage.toml");
    std::fs::write(
        &f,
        format!("workers = 8\n[kafka]\npartitions = 4\ningest_timeout_ms = 3000\n{extra}"),
    )
    .unwrap();
    f
}

fn start_worker(name: &str, broker: &Broker, origin: &str, data: Option<&Path>) -> (Proc, PathBuf) {
    start_worker_with(name, broker, origin, data, "")
}

/// [`start_worker`] with more `[kafka]` lines.
fn start_worker_with(
    name: &str,
    broker: &Broker,
    origin: &str,
    data: Option<&Path>,
    kafka_extra: &str,
) -> (Proc, PathBuf) {
    let data = data.map(Path::to_path_buf).unwrap_or_else(|| tempdir(name));
    let cfg = worker_config(&data, kafka_extra);
    let cfg_s = cfg.to_str().unwrap().to_string();
    let p = start_server(
        &data.join("data"),
        &[origin],
        &["--kafka", &broker.brokers(), "--config", &cfg_s],
    );
    (p, data)
}

// ---------------------------------------------------------------- independent clients

fn producer(brokers: &str) -> ThreadedProducer<DefaultProducerContext> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .create()
        .unwrap()
}

fn produce_raw(brokers: &str, items: &[(Option<&str>, &[u8])]) {
    let p = producer(brokers);
    for (k, v) in items {
        let mut r = BaseRecord::<str, [u8]>::to("triage.referrals").payload(v);
        if let Some(k) = k {
            r = r.key(k);
        }
        p.send(r).map_err(|(e, _)| e).unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
}

fn referral_msg(id: &str, url: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"schema": "triage.referral/v1", "referral_id": id, "url": url, "agency": "demo-unit"}))
        .unwrap()
}

#[derive(Debug, Clone)]
struct Rec {
    topic: String,
    key: Option<String>,
    raw: Vec<u8>,
    value: Value,
}

/// Reads every `triage.*` topic from the beginning until `done(records)` holds, then a little
/// longer to catch anything extra; panics after `timeout`.
fn read_outputs(brokers: &str, timeout: Duration, done: impl Fn(&[Rec]) -> bool) -> Vec<Rec> {
    read_outputs_settling(brokers, timeout, Duration::from_secs(4), done)
}

/// [`read_outputs`] with the extra reading time after `done` given.
fn read_outputs_settling(
    brokers: &str,
    timeout: Duration,
    settle: Duration,
    done: impl Fn(&[Rec]) -> bool,
) -> Vec<Rec> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set(
            "group.id",
            format!("checker-{}", std::process::id()) + &format!("-{:?}", Instant::now()),
        )
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("topic.metadata.refresh.interval.ms", "1000")
        .create()
        .unwrap();
    c.subscribe(&["^triage\\.(cases\\..*|review|dlq)$"])
        .unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + timeout;
    let mut settled: Option<Instant> = None;
    loop {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            let raw = m.payload().unwrap_or_default().to_vec();
            out.push(Rec {
                topic: m.topic().to_string(),
                key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                value: serde_json::from_slice(&raw).unwrap_or(Value::Null),
                raw,
            });
        }
        if settled.is_none() && done(&out) {
            settled = Some(Instant::now());
        }
        if settled.is_some_and(|t| t.elapsed() >= settle) {
            return out;
        }
        if Instant::now() > deadline {
            let mut by_topic: BTreeMap<&str, usize> = BTreeMap::new();
            for r in &out {
                *by_topic.entry(&r.topic).or_default() += 1;
            }
            panic!(
                "outputs incomplete after {timeout:?}: {} messages {by_topic:?}",
                out.len()
            );
        }
    }
}

fn schema(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo().join("docs/schemas").join(name)).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, value: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match its schema: {errors:?}\n{value:#}"
    );
}

/// Every message is valid; each case topic message is keyed by its case id.
fn check_schemas(recs: &[Rec]) {
    let (case, dlq) = (
        schema("triage.case.v1.schema.json"),
        schema("triage.dlq.v1.schema.json"),
    );
    for r in recs {
        if r.topic == "triage.dlq" {
            assert_valid(&dlq, &r.value, "a DLQ message");
        } else {
            assert_valid(&case, &r.value, &format!("a message on {}", r.topic));
            assert_eq!(
                r.key.as_deref(),
                r.value["case_id"].as_str(),
                "key is the case id"
            );
        }
    }
}

/// The final view of a referral in whichever worker's store has it final.
fn final_view(workers: &[&Proc], id: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        for w in workers {
            let (s, v) = get_json(w, &format!("/v1/referrals/{id}"));
            if s == 200 && (v["status"] == "routed" || v["status"] == "failed") {
                return v;
            }
        }
        assert!(
            Instant::now() < deadline,
            "referral {id} not final on any worker"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The topics a final referral must have produced, from its decision (or the DLQ).
fn expected_topics(view: &Value) -> BTreeSet<String> {
    let mut t = BTreeSet::new();
    if view["status"] == "failed" {
        t.insert("triage.dlq".to_string());
        return t;
    }
    for target in view["decision"]["targets"].as_array().unwrap() {
        t.insert(format!(
            "triage.cases.{}",
            target["jurisdiction"].as_str().unwrap().to_lowercase()
        ));
        if let Some(c) = target["copy_to"].as_str() {
            t.insert(format!("triage.cases.{}", c.to_lowercase()));
        }
    }
    if !view["decision"]["review"].as_array().unwrap().is_empty() {
        t.insert("triage.review".to_string());
    }
    t
}

/// Topics each referral id reached (case envelopes by `referral.referral_id`, DLQ records
/// by their input's `referral_id` or, failing that, their key).
fn topics_by_referral(recs: &[Rec]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in recs {
        let id = if r.topic == "triage.dlq" {
            r.value["input"]["referral_id"]
                .as_str()
                .map(str::to_string)
                .or_else(|| r.key.clone())
                .unwrap_or_else(|| "<no key>".into())
        } else {
            r.value["referral"]["referral_id"]
                .as_str()
                .unwrap()
                .to_string()
        };
        m.entry(id).or_default().push(r.topic.clone());
    }
    m
}

/// No case appears under two keys. A referral seen twice on a topic (at-least-once: a
/// rebalance or a crash between publishing and committing) must be the same case with the
/// same decision; with `same_store` (redelivered to the worker that already handled it) the
/// duplicate must be byte-identical, since it is re-published from that worker's store.
fn check_keys_and_duplicates(recs: &[Rec], same_store: bool) -> usize {
    let mut key_of: BTreeMap<String, String> = BTreeMap::new();
    let mut seen: BTreeMap<(String, String), &Rec> = BTreeMap::new();
    let mut dups = 0;
    for r in recs.iter().filter(|r| r.topic != "triage.dlq") {
        let case = r.value["case_id"].as_str().unwrap().to_string();
        let key = r.key.clone().unwrap();
        let prev = key_of.entry(case.clone()).or_insert_with(|| key.clone());
        assert_eq!(*prev, key, "case {case} under two keys");
        let rid = r.value["referral"]["referral_id"]
            .as_str()
            .unwrap()
            .to_string();
        if let Some(before) = seen.insert((r.topic.clone(), rid.clone()), r) {
            dups += 1;
            assert_eq!(
                before.value["case_id"], r.value["case_id"],
                "duplicate of {rid}"
            );
            assert_eq!(
                before.value["decision"]["targets"], r.value["decision"]["targets"],
                "duplicate of {rid} on {} routed differently",
                r.topic
            );
            if same_store && before.raw != r.raw {
                panic!(
                    "duplicate of {rid} on {} differs:\n{}\n{}",
                    r.topic,
                    String::from_utf8_lossy(&before.raw),
                    String::from_utf8_lossy(&r.raw)
                );
            }
        }
    }
    dups
}

// ---------------------------------------------------------------- tests

#[test]
fn referrals_in_exactly_the_expected_messages_out() {
    let dir = tempdir("kafka-e2e");
    let broker = Broker::start(&dir);
    let origin = origin(Duration::ZERO);
    let (w, _) = start_worker("kafka-e2e-w", &broker, &origin, None);

    // 24 pages and two that fail (404) through the API, 202 each only once Kafka has them.
    let mut batch: Vec<Value> = (0..24)
        .map(|i| json!({"url": format!("http://{origin}/ok/page-{i}")}))
        .collect();
    batch.push(json!({"url": format!("http://{origin}/gone/a")}));
    batch.push(json!({"url": format!("http://{origin}/gone/b")}));
    let (s, body) = post_json(&w, None, &json!({ "referrals": batch }));
    assert_eq!(s, 202, "{body}");
    let mut ids: Vec<String> = body["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["referral_id"].as_str().unwrap().to_string())
        .collect();
    // Poison messages straight onto the topic, and one good referral after them in the mix.
    let good = referral_msg("r-direct-1", &format!("http://{origin}/ok/direct"));
    produce_raw(
        &broker.brokers(),
        &[
            (Some("p-1"), b"{not json"),
            (Some("p-2"), br#"{"schema":"triage.referral/v1","referral_id":"p-2","url":"http://x.example/","agency":"nobody"}"#),
            (Some("p-3"), br#"{"schema":"triage.referral/v9"}"#),
            (None, b""),
            (Some("r-direct-1"), &good),
        ],
    );
    ids.push("r-direct-1".into());

    let views: BTreeMap<String, Value> = ids
        .iter()
        .map(|id| (id.clone(), final_view(&[&w], id, Duration::from_secs(120))))
        .collect();
    let expected: BTreeMap<String, BTreeSet<String>> = views
        .iter()
        .map(|(id, v)| (id.clone(), expected_topics(v)))
        .collect();
    let want_total: usize = expected.values().map(BTreeSet::len).sum::<usize>() + 4;
    let recs = read_outputs(&broker.brokers(), Duration::from_secs(120), |r| {
        r.len() >= want_total
    });
    check_schemas(&recs);
    assert_eq!(
        check_keys_and_duplicates(&recs, true),
        0,
        "no duplicates without faults"
    );
    assert_eq!(
        recs.len(),
        want_total,
        "exactly the expected number of messages"
    );
    let got = topics_by_referral(&recs);
    for (id, want) in &expected {
        let topics: BTreeSet<String> = got
            .get(id)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        assert_eq!(&topics, want, "referral {id}");
        assert_eq!(got[id].len(), want.len(), "referral {id}: once per topic");
    }
    let failed: Vec<&Value> = views.values().filter(|v| v["status"] == "failed").collect();
    assert_eq!(failed.len(), 2, "the two 404 pages fail");
    // Each poison message once in the DLQ, with its reason.
    let dlq: Vec<&Rec> = recs.iter().filter(|r| r.topic == "triage.dlq").collect();
    let reason = |key: Option<&str>| {
        dlq.iter()
            .filter(|r| {
                r.key.as_deref() == key
                    && r.value["input"]["url"]
                        .as_str()
                        .is_none_or(|u| !u.contains("/gone/"))
            })
            .map(|r| r.value["reason"]["kind"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(reason(Some("p-1")), ["malformed_json"]);
    assert_eq!(reason(Some("p-2")), ["unknown_agency"]);
    assert_eq!(reason(Some("p-3")), ["unsupported_schema"]);
    assert_eq!(reason(None), ["empty"]);
    for r in dlq.iter().filter(|r| {
        r.value["input"]["url"]
            .as_str()
            .is_some_and(|u| u.contains("/gone/"))
    }) {
        assert_eq!(r.value["reason"]["kind"], "http_status", "{}", r.value);
    }
    // The referrals topic holds what the API produced, valid against its schema.
    let referral_schema = schema("triage.referral.v1.schema.json");
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.brokers())
        .set("group.id", "checker-referrals")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    c.subscribe(&["triage.referrals"]).unwrap();
    let (mut api_msgs, deadline) = (0, Instant::now() + Duration::from_secs(30));
    while api_msgs < 26 && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            let v: Value =
                serde_json::from_slice(m.payload().unwrap_or_default()).unwrap_or(Value::Null);
            if v["producer"]["name"] == "triage" {
                assert_valid(&referral_schema, &v, "a referral message");
                assert_eq!(m.key(), v["referral_id"].as_str().map(str::as_bytes));
                api_msgs += 1;
            }
        }
    }
    assert_eq!(api_msgs, 26);
    let page = metrics(&w);
    assert_eq!(
        metric_value(
            &page,
            "triage_kafka_dead_lettered_total{kind=\"malformed_json\"}"
        ),
        Some(1.0),
        "{page}"
    );
    assert!(metric_value(&page, "triage_kafka_offsets_stored_total").unwrap_or(0.0) > 0.0);
}

#[test]
fn api_answers_503_when_kafka_cannot_take_the_referral() {
    let dir = tempdir("kafka-503");
    let mut broker = Broker::start(&dir);
    let origin = origin(Duration::ZERO);
    let (w, _) = start_worker("kafka-503-w", &broker, &origin, None);
    let (s, body) = post_json(
        &w,
        None,
        &json!({"url": format!("http://{origin}/ok/before")}),
    );
    assert_eq!(s, 202, "{body}");
    broker.down();
    let t = Instant::now();
    let (s, body) = post_json(
        &w,
        None,
        &json!({"url": format!("http://{origin}/ok/during")}),
    );
    assert_eq!(s, 503, "{body}");
    assert_eq!(body["error"]["kind"], "broker_unavailable");
    assert!(
        t.elapsed() < Duration::from_secs(25),
        "answered within the ingest timeout"
    );
}

/// Streams `n` referrals onto the topic, `per_second` at a time, starting at index `from`.
fn stream(brokers: &str, origin: &str, from: usize, n: usize, gap: Duration) -> Vec<String> {
    let p = producer(brokers);
    let mut ids = Vec::new();
    for i in from..from + n {
        let id = format!("r-s{i}");
        let v = referral_msg(&id, &format!("http://{origin}/ok/s{i}"));
        p.send(
            BaseRecord::<str, [u8]>::to("triage.referrals")
                .key(&id)
                .payload(&v),
        )
        .map_err(|(e, _)| e)
        .unwrap();
        ids.push(id);
        std::thread::sleep(gap);
    }
    p.flush(Duration::from_secs(60)).unwrap();
    ids
}

/// Every streamed referral reaches its case topic (all pages route the same way here:
/// referring state FR), once per topic modulo byte-identical redeliveries, under its case key.
fn assert_all_delivered(brokers: &str, ids: &[String], same_store: bool) -> Vec<Rec> {
    let want: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    let recs = read_outputs(brokers, Duration::from_secs(180), |recs| {
        let got: BTreeSet<&str> = recs
            .iter()
            .filter_map(|r| r.value["referral"]["referral_id"].as_str())
            .collect();
        want.is_subset(&got)
    });
    check_schemas(&recs);
    let dups = check_keys_and_duplicates(&recs, same_store);
    eprintln!("{} messages, {dups} redelivered duplicates", recs.len());
    let got = topics_by_referral(&recs);
    let lost: Vec<&&str> = want.iter().filter(|id| !got.contains_key(**id)).collect();
    assert!(lost.is_empty(), "lost-write: {lost:?}");
    recs
}

#[test]
fn two_workers_share_partitions_through_rebalances() {
    let dir = tempdir("kafka-group");
    let broker = Broker::start(&dir);
    let origin = origin(Duration::from_millis(50));
    let (mut a, _) = start_worker("kafka-group-a", &broker, &origin, None);
    let mut ids = stream(&broker.brokers(), &origin, 0, 20, Duration::from_millis(20));
    // A second worker joins mid-stream …
    let (b, _) = start_worker("kafka-group-b", &broker, &origin, None);
    ids.extend(stream(
        &broker.brokers(),
        &origin,
        20,
        40,
        Duration::from_millis(50),
    ));
    // … then the first one leaves mid-stream (SIGTERM: it drains and commits).
    assert!(a.terminate().success(), "{}", a.log_text());
    ids.extend(stream(
        &broker.brokers(),
        &origin,
        60,
        20,
        Duration::from_millis(20),
    ));
    assert_all_delivered(&broker.brokers(), &ids, false);
    let consumed_b = metric_value(&metrics(&b), "triage_kafka_consumed_total").unwrap_or(0.0);
    assert!(
        consumed_b > 0.0,
        "the second worker got partitions; log:\n{}",
        b.log_text()
    );
    assert!(b.log_text().contains("partitions rebalanced"));
    assert!(a.log_text().contains("partitions rebalanced"));
}

#[test]
fn sigkill_mid_stream_loses_nothing_and_keeps_one_key_per_case() {
    let dir = tempdir("kafka-kill");
    let broker = Broker::start(&dir);
    let origin = origin(Duration::from_millis(300));
    // Restarted in place, the worker takes its old group membership back at once (static
    // membership) instead of waiting for the dead member's session to expire.
    let member = "[kafka.librdkafka]\n'group.instance.id' = 'kill-w'\n";
    let (mut w, data) = start_worker_with("kafka-kill-w", &broker, &origin, None, member);
    let brokers = broker.brokers();
    let (b2, o2) = (brokers.clone(), origin.clone());
    let producer = std::thread::spawn(move || stream(&b2, &o2, 0, 60, Duration::from_millis(30)));
    // Kill as soon as some cases are out: others are queued, fetching, or published and
    // not yet committed.
    let _ = read_outputs_settling(&brokers, Duration::from_secs(60), Duration::ZERO, |r| {
        r.len() >= 6
    });
    w.kill();
    let (_w2, _) = start_worker_with("kafka-kill-w", &broker, &origin, Some(&data), member);
    let ids = producer.join().unwrap();
    assert_all_delivered(&brokers, &ids, true);
}

#[test]
fn broker_unresponsive_for_30s_mid_stream_then_the_backlog_drains() {
    let dir = tempdir("kafka-outage");
    let broker = Broker::start(&dir);
    let origin = origin(Duration::from_millis(20));
    // Deliveries give up after 5 s, so an output caught by the outage goes through the
    // worker's own retries. Static membership: tansu 0.6.0 did not give a member its
    // partitions back after its session had expired during the freeze (the same happened
    // after a SIGKILL and restart); with `group.instance.id` the member resumes them.
    let (w, _) = start_worker_with(
        "kafka-outage-w",
        &broker,
        &origin,
        None,
        "delivery_timeout_ms = 5000\n[kafka.librdkafka]\n'group.instance.id' = 'outage-w'\n",
    );
    let brokers = broker.brokers();
    let (b2, o2) = (brokers.clone(), origin.clone());
    // The stream keeps coming while the broker is away (the producer waits for it).
    let producer = std::thread::spawn(move || stream(&b2, &o2, 0, 60, Duration::from_millis(100)));
    let _ = read_outputs_settling(&brokers, Duration::from_secs(60), Duration::ZERO, |r| {
        r.len() >= 6
    });
    broker.freeze();
    std::thread::sleep(Duration::from_secs(30));
    broker.resume();
    let ids = producer.join().unwrap();
    let recs = assert_all_delivered(&brokers, &ids, true);
    // Every page here routes to FR with a review item: two messages per referral.
    assert!(recs.len() >= 2 * ids.len());
    let page = metrics(&w);
    // Redeliveries after a session loss count again; nothing was skipped.
    assert!(
        metric_value(&page, "triage_kafka_consumed_total").unwrap_or(0.0) >= ids.len() as f64,
        "{page}"
    );
}
