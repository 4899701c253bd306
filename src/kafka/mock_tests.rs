//! Fault injection with librdkafka's in-process mock cluster: produce errors a broker sends
//! (retried, written once thanks to idempotence), a broker that goes down and comes back
//! (backlog delivered, our retry path exercised), and a message that can never be accepted
//! (a final error, not retried).

use super::config::{KafkaConfig, Secret};
use super::metrics::KafkaMetrics;
use super::publish::{Out, PublishError, Publisher};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::ClientConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

fn cfg(bootstrap: String, delivery_timeout_ms: u64) -> KafkaConfig {
    KafkaConfig {
        brokers: Some(bootstrap),
        // The mock has no CreateTopics; topics are made on the mock itself.
        create_topics: false,
        delivery_timeout_ms,
        ..KafkaConfig::default()
    }
}

fn outs(topic: &str, n: usize) -> Vec<Out> {
    (0..n)
        .map(|i| Out {
            topic: topic.into(),
            key: Some(format!("c-{i}")),
            payload: format!("{{\"n\":{i}}}").into_bytes(),
        })
        .collect()
}

/// Every message on `topic` from the beginning, read until `want` arrive or 20 s pass, then
/// 1 s more to catch extras.
fn read_all(bootstrap: &str, topic: &str, want: usize) -> Vec<String> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("check-{topic}"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    c.subscribe(&[topic]).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut extra: Option<Instant> = None;
    while Instant::now() < deadline && extra.is_none_or(|t| t.elapsed() < Duration::from_secs(1)) {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            use rdkafka::message::Message;
            got.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
        if got.len() >= want && extra.is_none() {
            extra = Some(Instant::now());
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_errors_are_retried_and_each_message_is_written_once() {
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic("t.errors", 2, 1).unwrap();
    let bootstrap = mock.bootstrap_servers();
    let metrics = Arc::new(KafkaMetrics::new());
    let p = Publisher::new(&cfg(bootstrap.clone(), 30_000), metrics.clone()).unwrap();
    mock.request_errors(
        RDKafkaApiKey::Produce,
        &[
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        ],
    );
    let (_tx, rx) = watch::channel(false);
    p.publish_all(&outs("t.errors", 20), &rx).await.unwrap();
    let got = tokio::task::spawn_blocking(move || read_all(&bootstrap, "t.errors", 20))
        .await
        .unwrap();
    let mut sorted = got.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(got.len(), 20, "each message exactly once: {got:?}");
    assert_eq!(sorted.len(), 20);
    assert_eq!(metrics.published.with_label_values(&["t.errors"]).get(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_down_mid_stream_is_waited_out_and_the_backlog_drains() {
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic("t.down", 1, 1).unwrap();
    let bootstrap = mock.bootstrap_servers();
    let metrics = Arc::new(KafkaMetrics::new());
    // Deliveries time out after 1 s, so our own retry loop (not only librdkafka's) is used.
    let p = Arc::new(Publisher::new(&cfg(bootstrap.clone(), 1_000), metrics.clone()).unwrap());
    let (_tx, rx) = watch::channel(false);
    p.publish_all(&outs("t.down", 5), &rx).await.unwrap();
    mock.broker_down(1).unwrap();
    let p2 = p.clone();
    let rx2 = rx.clone();
    let backlog = tokio::spawn(async move {
        let later: Vec<Out> = (5..25)
            .map(|i| Out {
                topic: "t.down".into(),
                key: Some(format!("c-{i}")),
                payload: format!("{{\"n\":{i}}}").into_bytes(),
            })
            .collect();
        p2.publish_all(&later, &rx2).await
    });
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        !backlog.is_finished(),
        "nothing can be acknowledged while the broker is down"
    );
    let retried = metrics
        .produce_errors
        .with_label_values(&["retriable"])
        .get();
    assert!(retried > 0, "timed-out deliveries are counted as retriable");
    mock.broker_up(1).unwrap();
    tokio::time::timeout(Duration::from_secs(60), backlog)
        .await
        .expect("backlog drained after the broker came back")
        .unwrap()
        .unwrap();
    let got = tokio::task::spawn_blocking(move || read_all(&bootstrap, "t.down", 25))
        .await
        .unwrap();
    let mut distinct = got.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 25, "nothing lost: {got:?}");
    assert!(got.len() <= 25 + retried as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_can_never_be_accepted_is_a_final_error() {
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic("t.big", 1, 1).unwrap();
    let mut c = cfg(mock.bootstrap_servers(), 30_000);
    c.librdkafka
        .insert("message.max.bytes".into(), Secret::from("2000"));
    let metrics = Arc::new(KafkaMetrics::new());
    let p = Publisher::new(&c, metrics.clone()).unwrap();
    let (_tx, rx) = watch::channel(false);
    let big = Out {
        topic: "t.big".into(),
        key: Some("c-big".into()),
        payload: vec![b'x'; 10_000],
    };
    let t = Instant::now();
    match p.publish_all(&[big], &rx).await {
        Err(PublishError::Final { topic, error }) => {
            assert_eq!(topic, "t.big");
            assert!(
                error.contains("too large") || error.contains("Size"),
                "{error}"
            );
        }
        other => panic!("expected a final error, got {other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(5), "not retried");
    assert_eq!(
        metrics.produce_errors.with_label_values(&["final"]).get(),
        1
    );
}
