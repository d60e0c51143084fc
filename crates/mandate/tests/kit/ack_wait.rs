//! Publishing while acknowledgements go missing — a stream changing leader on a cluster, its
//! leader lost with the publishes it had not answered: the relay sends its window again, with
//! the same `Nats-Msg-Id`s, one ack wait after sending it — not one ack wait per message in
//! the window — and the stream keeps each message once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::stream;
use futures::StreamExt;
use mandate::Fault;
use schemas::orders::PlaceOrder;

use crate::common::{Harness, eventually, orders, place_request};

/// async-nats's JetStream ack timeout, which the relay's window shares.
const ACK_WAIT: Duration = Duration::from_secs(5);
const ORDERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_whose_acks_never_come_is_sent_again_after_one_ack_wait_with_the_same_ids() {
    let h = Harness::new(&[]).await;
    // A stream that stores what it is sent and acknowledges nothing: every publish ack of
    // the relay times out, as when a stream's leader is lost with the publishes it had not
    // yet answered.
    let js = h.bus.jetstream();
    let config = stream::Config {
        name: "EVT_ORDERS".into(),
        subjects: vec!["evt.orders.>".into()],
        duplicate_window: Duration::from_secs(120),
        no_ack: true,
        ..Default::default()
    };
    js.create_stream(config.clone()).await.expect("stream created");

    // Staged together, published together: one window of several messages.
    let mut options = h.options();
    options.fault = Fault::ParkRelay;
    let parked = h.start_with(orders(), options).await;
    for n in 0..ORDERS {
        h.bus
            .call::<PlaceOrder>(&place_request(&format!("o-{n}"), "alice", "sku-1", 1))
            .await
            .expect("placed");
    }
    parked.kill().await;

    // Every attempt the relay makes, by message id, as the server sees it.
    let sends: Arc<Mutex<BTreeMap<String, Vec<Instant>>>> = Arc::default();
    let mut sniffer = h.bus.client().subscribe("evt.orders.>").await.expect("subscribes");
    h.bus.client().flush().await.expect("flush");
    let seen = Arc::clone(&sends);
    let sniff = tokio::spawn(async move {
        while let Some(message) = sniffer.next().await {
            let id = message
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Msg-Id"))
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default();
            seen.lock().expect("lock").entry(id).or_default().push(Instant::now());
        }
    });
    let _relaying = h.start(orders()).await;

    // Waited for longer than the harness's `eventually`: without the fix it takes one ack wait
    // per message of the window, and the assertion below says how long.
    let deadline = Instant::now() + ACK_WAIT * (ORDERS as u32 + 2);
    let (first, again) = loop {
        let sent_twice = {
            let sends = sends.lock().expect("lock");
            let first = sends.values().filter_map(|at| at.first()).min().copied();
            let again = sends.values().filter_map(|at| at.get(1)).min().copied();
            first.zip(again)
        };
        if let Some(times) = sent_twice {
            break times;
        }
        assert!(Instant::now() < deadline, "the window was not sent a second time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let waited = again - first;
    assert!(
        waited < ACK_WAIT + Duration::from_secs(3),
        "the window of {ORDERS} was sent again {waited:?} after it was first sent: one ack wait ({ACK_WAIT:?}) per message, not per window"
    );
    {
        let sends = sends.lock().expect("lock");
        assert_eq!(sends.len(), ORDERS, "one message id per order: {sends:?}");
    }

    // The stream answers again: the next attempt is acknowledged, and the repeats were dropped
    // as duplicates — each order's event is stored once.
    js.update_stream(stream::Config {
        no_ack: false,
        ..config
    })
    .await
    .expect("stream updated");
    eventually("the outbox to drain", || async {
        (h.bus.status("orders").await.ok()?.outbox_depth == 0).then_some(())
    })
    .await;
    sniff.abort();
    assert_eq!(h.stream_messages("EVT_ORDERS").await, ORDERS as u64, "each stored once");
}
