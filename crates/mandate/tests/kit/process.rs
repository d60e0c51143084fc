//! The example component as its own process: the kit's brochure really runs.

use std::time::Duration;

use mandate::Operation;
use mandate::deadletter::{DLQ_KIND, DLQ_REASON, DLQ_SEQUENCE};
use serde::{Deserialize, Serialize};

use crate::common::{Harness, eventually, placed};

#[derive(Debug, Serialize, Deserialize)]
struct GetCountRequest {
    customer_id: String,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct CustomerCount {
    customer_id: String,
    orders: u64,
    spent_minor: i64,
}

/// The counter's contract, as an outsider would write it from the subject and the fields.
struct GetCount;

impl Operation for GetCount {
    const OWNER: &'static str = "counter";
    const NAME: &'static str = "get-count";
    const VERSION: u32 = 1;
    type Request = GetCountRequest;
    type Response = CustomerCount;
}

#[tokio::test]
async fn the_counter_example_counts_serves_and_stops_on_sigterm() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    for (order, customer, quantity) in [("o-1", "alice", 1), ("o-2", "alice", 2), ("o-3", "bob", 5)] {
        h.bus
            .publish(&placed(order, customer, "sku-1", quantity))
            .await
            .expect("published");
    }
    let child = runner::Process::new("counter", testkit::example_bin("counter"))
        .env("NATS_URL", h.server.url())
        .env("MANDATE_DATA_DIR", h.dir.path())
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("the example starts");

    let alice = eventually("alice's count", || async {
        let count = h
            .bus
            .call::<GetCount>(&GetCountRequest {
                customer_id: "alice".into(),
            })
            .await
            .ok()?;
        (count.orders == 2).then_some(count)
    })
    .await;
    assert_eq!(alice.spent_minor, 300);
    let err = h
        .bus
        .call::<GetCount>(&GetCountRequest {
            customer_id: String::new(),
        })
        .await
        .expect_err("400");
    assert_eq!(err.service_error().map(|e| e.code), Some(400));

    let stopped_cleanly = child.terminate(Duration::from_secs(10));
    assert!(stopped_cleanly, "graceful shutdown on SIGTERM exits 0 within 10 s");
}

/// A message whose handler ends the process (abort, stack overflow, out of memory) would stop
/// every restart forever; the kit sets it aside after `max_attempts` stops, dead-lettered with
/// why, and applies the rest.
#[tokio::test]
async fn a_message_that_stops_the_process_is_set_aside_after_max_attempts() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    for (order, customer) in [("o-1", "alice"), ("o-2", "poison"), ("o-3", "bob")] {
        h.bus
            .publish(&placed(order, customer, "sku-1", 1))
            .await
            .expect("published");
    }
    let mut stops = 0;
    loop {
        // As a supervisor would: start it again whenever it stops.
        let mut child = runner::Process::new("crash_loop", testkit::example_bin("crash_loop"))
            .env("NATS_URL", h.server.url())
            .env("MANDATE_DATA_DIR", h.dir.path())
            .env("MANDATE_MAX_ATTEMPTS", "2")
            .env("RUST_LOG", "error")
            .spawn()
            .expect("the example starts");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let stopped = loop {
            if child.exited().is_some() {
                break true;
            }
            let applied = h
                .bus
                .status("crash-loop")
                .await
                .ok()
                .and_then(|status| status.consumers.first().map(|c| c.applied_sequence));
            if applied == Some(3) {
                break false;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "neither stopped nor applied everything"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        if !stopped {
            child.kill();
            break;
        }
        stops += 1;
        assert!(stops <= 4, "still stopping after {stops} starts");
    }
    assert_eq!(stops, 2, "stopped max_attempts times on the poison, then set it aside");
    let dead = eventually("the poison in the DLQ", || async {
        let dead = h.read_stream(mandate::DEAD_LETTER_STREAM).await;
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    assert_eq!(dead.len(), 1, "only the poison is set aside");
    let header = |name: &str| {
        dead[0]
            .headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(header(DLQ_SEQUENCE), "2");
    assert_eq!(header(DLQ_KIND), "handler-failed");
    assert!(
        header(DLQ_REASON).contains("stopped 2 time(s)"),
        "{}",
        header(DLQ_REASON)
    );
}

#[test]
fn the_counter_prints_its_manifest() {
    let output = runner::Process::new("counter", testkit::example_bin("counter"))
        .arg("--print-manifest")
        .run(Duration::from_secs(30))
        .expect("runs");
    assert!(output.status.success());
    let manifest: mandate::Manifest = serde_json::from_str(&output.stdout).expect("manifest is JSON");
    assert_eq!(manifest.name, "counter");
    assert_eq!(
        manifest.subscribes.get("EVT_ORDERS"),
        Some(&vec!["orders.placed.v1".to_owned()])
    );
    assert_eq!(manifest.serves, vec!["counter.get-count.v1".to_owned()]);
    assert!(manifest.publishes.is_empty());
}

#[test]
fn a_mistyped_flag_says_what_to_do() {
    let output = runner::Process::new("counter", testkit::example_bin("counter"))
        .arg("--batch-size=0")
        .run(Duration::from_secs(30))
        .expect("runs");
    assert!(!output.status.success());
    assert!(output.stderr.contains("batch-size"), "{}", output.stderr);
}

/// The process contract (docs/contract.md, "Exit codes"): a stop nobody asked for exits
/// non-zero with the reason last on stderr, so that whatever supervises the process — a
/// restart policy, systemd, `mandate dev` — sees a failure and not a clean exit.
#[tokio::test]
async fn a_component_that_stops_on_its_own_exits_non_zero_saying_why() {
    let h = Harness::new(&[]).await;
    // The orders stream takes one consumer, and it has it: the counter's cannot be created,
    // which stops the counter for good.
    let js = async_nats::jetstream::new(async_nats::connect(h.server.url()).await.expect("connects"));
    let stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: "EVT_ORDERS".into(),
            subjects: vec!["evt.orders.>".into()],
            max_consumers: 1,
            ..Default::default()
        })
        .await
        .expect("the stream");
    stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("someone-else".into()),
            ..Default::default()
        })
        .await
        .expect("the one consumer it takes");

    let counter = runner::Process::new("counter", testkit::example_bin("counter"))
        .env("NATS_URL", h.server.url())
        .env("MANDATE_DATA_DIR", h.dir.path())
        .env("RUST_LOG", "warn");
    let finished = tokio::task::spawn_blocking(move || counter.run(Duration::from_secs(30)))
        .await
        .expect("joined")
        .expect("the counter stops on its own");

    assert!(
        !finished.status.success(),
        "a stop nobody asked for exits non-zero; got {:?}, stderr:\n{}",
        finished.status,
        finished.stderr
    );
    let last = finished.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error:") && last.contains("consumer"),
        "the reason is the last line on stderr; got {last:?}"
    );
    assert!(
        !finished.stderr.contains('\u{1b}'),
        "a log written to a file, not a terminal, has no colour codes:\n{}",
        finished.stderr
    );
}
