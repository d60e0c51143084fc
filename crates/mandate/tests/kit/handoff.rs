//! The hand-off from a commit to the relay (`relay/`): committed outbox entries are published
//! from memory at once, the store stays the source of truth. A crash at each step loses
//! nothing, a missed hand-off costs a scan and not a message, and the relay publishes nothing
//! twice and keeps the outbox order while it switches between the two.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use mandate::{Component, Context, Fault, Operation, ServiceError};
use schemas::inventory::StockReserved;
use schemas::orders::OrderPlaced;
use serde::{Deserialize, Serialize};

use crate::common::{Harness, eventually, inventory, outbox_depth, placed};

/// The order id of an `inventory.reserved.v1` event.
fn reserved_order(payload: &[u8]) -> String {
    rmp_serde::from_slice::<StockReserved>(payload)
        .expect("a reservation")
        .order_id
}

/// The order ids of the reservations in `EVT_INVENTORY`, in stream order.
async fn reservations(h: &Harness) -> Vec<String> {
    h.read_stream("EVT_INVENTORY")
        .await
        .iter()
        .map(|m| reserved_order(&m.payload))
        .collect()
}

/// Inventory, stopped by `fault` after it committed its reservation of o-1 (with `published`
/// of it in the stream by then), killed there and started again: the reservation is
/// published, once, and the next one follows it.
async fn crash_at(fault: Fault, published: u64) {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let mut options = h.options();
    options.fault = fault;
    let first = h.start_with(inventory(), options).await;
    h.bus
        .publish(&placed("o-1", "alice", "sku-1", 1))
        .await
        .expect("published");
    eventually("the reservation committed and parked", || async {
        let parked =
            outbox_depth(&h, "inventory").await == Some(1) && h.stream_messages("EVT_INVENTORY").await == published;
        parked.then_some(())
    })
    .await;
    // Parked for good: nothing moves on by itself.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        outbox_depth(&h, "inventory").await,
        Some(1),
        "still in the outbox at the crash"
    );
    assert_eq!(h.stream_messages("EVT_INVENTORY").await, published);
    first.kill().await;

    let second = h.start(inventory()).await;
    eventually("the outbox emptied after the restart", || async {
        (outbox_depth(&h, "inventory").await == Some(0)).then_some(())
    })
    .await;
    h.bus
        .publish(&placed("o-2", "alice", "sku-2", 1))
        .await
        .expect("published");
    eventually("the next reservation", || async {
        (h.stream_messages("EVT_INVENTORY").await == 2).then_some(())
    })
    .await;
    assert_eq!(reservations(&h).await, ["o-1", "o-2"], "o-1 reserved once, before o-2");
    second.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_crash_after_the_commit_before_the_hand_off_loses_nothing() {
    crash_at(Fault::ParkBeforeHandOff, 0).await;
}

#[tokio::test]
async fn a_crash_after_the_hand_off_before_publishing_loses_nothing() {
    crash_at(Fault::ParkAfterHandOff, 0).await;
}

/// Published, the ack not awaited: the restart publishes it again under the same
/// `Nats-Msg-Id`, and JetStream keeps one.
#[tokio::test]
async fn a_crash_after_publishing_before_the_ack_keeps_one_copy() {
    crash_at(Fault::ParkBeforeRelayAck, 1).await;
}

/// Acknowledged, not deleted: the same, from the other side of the ack.
#[tokio::test]
async fn a_crash_after_the_ack_before_the_delete_keeps_one_copy() {
    crash_at(Fault::ParkBeforeDelete, 1).await;
}

/// Events published one by one (each commit takes the few that have come), every fourth hand-off lost silently and every fourth dropped as if
/// the queue were full: the relay finds those in the store (a gap the store fills, a rescan,
/// the safety net for the last), and what it sends — watched on core NATS, which shows every
/// publish, also those JetStream drops as duplicates — is each reservation once, in the order
/// they were committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_hand_offs_cost_a_scan_and_nothing_is_published_twice_or_out_of_order() {
    const ORDERS: usize = 120;
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let watcher = async_nats::connect(h.server.url()).await.expect("connects");
    let mut sent = watcher.subscribe("evt.inventory.>").await.expect("subscribed");
    watcher.flush().await.expect("flushed");
    let mut options = h.options();
    options.fault = Fault::MissHandOffs;
    let running = h.start_with(inventory(), options).await;
    let expected: Vec<String> = (0..ORDERS).map(|i| format!("o-{i:03}")).collect();
    for (i, order) in expected.iter().enumerate() {
        h.bus
            .publish(&placed(order, "alice", &format!("sku-{i}"), 1))
            .await
            .expect("published");
    }
    let mut seen = Vec::new();
    while seen.len() < ORDERS {
        let Ok(message) = tokio::time::timeout(Duration::from_secs(10), sent.next()).await else {
            let status = h.bus.status("inventory").await;
            panic!("only {} of {ORDERS} reservations sent: {status:?}", seen.len());
        };
        let message = message.expect("subscribed");
        seen.push(reserved_order(&message.payload));
    }
    // Anything sent twice would come in meanwhile.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    while let Some(Some(message)) = sent.next().now_or_never() {
        seen.push(reserved_order(&message.payload));
    }
    let mut counts = BTreeMap::new();
    for order in &seen {
        *counts.entry(order.clone()).or_insert(0) += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "published more than once: {twice:?}");
    assert_eq!(seen, expected, "sent in commit order");
    assert_eq!(reservations(&h).await, expected, "stored in commit order");
    assert_eq!(outbox_depth(&h, "inventory").await, Some(0));
    running.shutdown().await.expect("clean shutdown");
}

/// A test-local command of orders: place `count` orders in one call (one commit).
struct PlaceMany;

#[derive(Debug, Serialize, Deserialize)]
struct Many {
    count: usize,
}

impl Operation for PlaceMany {
    const OWNER: &'static str = "orders";
    const NAME: &'static str = "test-place-many";
    const VERSION: u32 = 1;
    type Request = Many;
    type Response = usize;
}

fn place_many(ctx: &mut Context<'_>, request: Many) -> Result<usize, ServiceError> {
    for i in 0..request.count {
        ctx.emit(&placed(&format!("o-{i:05}"), "alice", "sku-1", 1))
            .map_err(|err| ServiceError::internal(err.to_string()))?;
    }
    Ok(request.count)
}

/// One commit stages more entries than the relay keeps in flight (1,024) — more than the
/// client's 5,000 ack permits, too, which a relay sending the whole commit at once would wait
/// for for ever: it sends what fits, reads the rest from the store as acks come in, and
/// publishes every entry once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_larger_than_the_window_is_published_once_in_order() {
    const ORDERS: usize = 6000;
    let h = Harness::new(&[]).await;
    let watcher = async_nats::connect(h.server.url()).await.expect("connects");
    let mut sent = watcher.subscribe("evt.orders.>").await.expect("subscribed");
    watcher.flush().await.expect("flushed");
    let component = Component::new("orders")
        .publishes::<OrderPlaced>()
        .command::<PlaceMany>(place_many);
    let running = h.start(component).await;
    let placed = h.bus.call::<PlaceMany>(&Many { count: ORDERS }).await.expect("placed");
    assert_eq!(placed, ORDERS);
    let order_of = |payload: &[u8]| {
        rmp_serde::from_slice::<OrderPlaced>(payload)
            .expect("an order")
            .order_id
    };
    let mut seen = Vec::new();
    while seen.len() < ORDERS {
        let Ok(message) = tokio::time::timeout(Duration::from_secs(10), sent.next()).await else {
            panic!("only {} of {ORDERS} sent", seen.len());
        };
        seen.push(order_of(&message.expect("subscribed").payload));
    }
    // Anything sent twice would come in meanwhile.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    while let Some(Some(message)) = sent.next().now_or_never() {
        seen.push(order_of(&message.payload));
    }
    let expected: Vec<String> = (0..ORDERS).map(|i| format!("o-{i:05}")).collect();
    assert_eq!(seen, expected, "each sent once, in commit order");
    eventually("the outbox emptied", || async {
        (h.bus.status("orders").await.ok()?.outbox_depth == 0).then_some(())
    })
    .await;
    assert_eq!(h.stream_messages("EVT_ORDERS").await, ORDERS as u64);
    running.shutdown().await.expect("clean shutdown");
}
