//! Group commit (`durability.rs` in the kit): a commit is applied under the one writer and
//! made durable by a sync it shares with whatever else committed meanwhile. Nothing it decided
//! leaves the process before that sync — no publish, no ack, no reply, not even a query's
//! answer that read it — and a crash in between loses and doubles nothing.

use std::time::Duration;

use mandate::Fault;
use schemas::orders::{GetOrder, GetOrderRequest, PlaceOrder};

use crate::common::{Harness, eventually, inventory, orders, outbox_depth, place_request, placed};

fn parked_syncs(h: &Harness) -> mandate::Options {
    let mut options = h.options();
    options.fault = Fault::ParkSyncs;
    options
}

/// A consumer's commit whose sync never reports: the reservation is applied (in the outbox)
/// but neither published nor acknowledged. Killed there and started again, it is published
/// once and the delivery is not applied twice.
#[tokio::test]
async fn a_delivery_is_neither_acked_nor_its_events_published_before_its_commit_is_durable() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let first = h.start_with(inventory(), parked_syncs(&h)).await;
    h.bus
        .publish(&placed("o-1", "alice", "sku-1", 1))
        .await
        .expect("published");
    eventually("the reservation applied", || async {
        (outbox_depth(&h, "inventory").await == Some(1)).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.stream_messages("EVT_INVENTORY").await, 0, "published before durable");
    let stream = h.bus.jetstream().get_stream("EVT_ORDERS").await.expect("stream");
    let consumer = stream.consumer_info("inventory").await.expect("consumer");
    assert_eq!(consumer.ack_floor.stream_sequence, 0, "acknowledged before durable");
    first.kill().await;

    let second = h.start(inventory()).await;
    h.bus
        .publish(&placed("o-2", "alice", "sku-2", 1))
        .await
        .expect("published");
    eventually("both reservations published", || async {
        (h.stream_messages("EVT_INVENTORY").await == 2 && outbox_depth(&h, "inventory").await == Some(0)).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.stream_messages("EVT_INVENTORY").await, 2, "o-1 reserved once");
    second.shutdown().await.expect("clean shutdown");
}

/// A command's commit whose sync never reports: the caller gets no answer, nor does a query
/// that reads the order; the event is not published. Started again, the caller's retry with
/// the same idempotency key gets the order, and it is placed once.
#[tokio::test]
async fn a_command_is_not_answered_nor_its_writes_read_before_its_commit_is_durable() {
    let h = Harness::new(&[]).await;
    let first = h.start_with(orders(), parked_syncs(&h)).await;
    let impatient = h.bus.clone().with_timeout(Duration::from_millis(800));
    let unanswered = impatient
        .call::<PlaceOrder>(&place_request("k-1", "alice", "sku-1", 1))
        .await;
    assert!(unanswered.is_err(), "answered before durable: {unanswered:?}");
    assert_eq!(outbox_depth(&h, "orders").await, Some(1), "the order is applied");
    let read = impatient
        .call::<GetOrder>(&GetOrderRequest { order_id: "k-1".into() })
        .await;
    assert!(
        read.is_err(),
        "a query answered from a commit not yet durable: {read:?}"
    );
    assert_eq!(h.stream_messages("EVT_ORDERS").await, 0, "published before durable");
    first.kill().await;

    let second = h.start(orders()).await;
    let order = h
        .bus
        .call::<PlaceOrder>(&place_request("k-1", "alice", "sku-1", 1))
        .await
        .expect("the retry is answered");
    assert_eq!(order.order_id, "k-1");
    eventually("the order published", || async {
        (outbox_depth(&h, "orders").await == Some(0)).then_some(())
    })
    .await;
    assert_eq!(h.stream_messages("EVT_ORDERS").await, 1, "placed once");
    second.shutdown().await.expect("clean shutdown");
}
