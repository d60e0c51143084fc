use std::time::Duration;

use mandate::Fault;

use crate::common::{GetStock, Harness, INITIAL_STOCK, StockRequest, inventory, placed, wait_applied};

/// A crash after the commit but before the ack: on restart the batch is not applied again.
#[tokio::test]
async fn a_batch_committed_but_not_acknowledged_is_not_applied_twice() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let mut options = h.options();
    options.fault = Fault::ParkBeforeAck;
    let first = h.start_with(inventory(), options).await;
    for i in 0..3 {
        h.bus
            .publish(&placed(&format!("o-{i}"), "alice", "sku-1", 1))
            .await
            .expect("published");
    }
    // The first batch commits, then the component "dies" before acknowledging it.
    wait_applied(&h.bus, "inventory", 1).await;
    let applied_before_crash = h.bus.status("inventory").await.expect("status").consumers[0].applied_sequence;
    first.kill().await;

    let second = h.start(inventory()).await;
    h.bus
        .publish(&placed("o-3", "alice", "sku-1", 1))
        .await
        .expect("published");
    wait_applied(&h.bus, "inventory", 4).await;
    let stock = h
        .bus
        .call::<GetStock>(&StockRequest { sku: "sku-1".into() })
        .await
        .expect("stock");
    assert_eq!(
        stock,
        INITIAL_STOCK - 4,
        "each of the 4 orders reserved exactly once (crashed after applying {applied_before_crash})"
    );
    // One reservation per order: the re-run after the crash emitted nothing twice.
    assert_eq!(h.stream_messages("EVT_INVENTORY").await, 4);
    second.shutdown().await.expect("clean shutdown");
}

/// JetStream redelivers whatever is not acknowledged in time; the watermark skips it.
#[tokio::test]
async fn redelivered_events_are_skipped_by_the_watermark() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let mut options = h.options();
    options.ack_wait = Duration::from_millis(300);
    options.fault = Fault::NeverAck;
    let running = h.start_with(inventory(), options).await;
    for i in 0..5 {
        h.bus
            .publish(&placed(&format!("o-{i}"), "bob", "sku-2", 1))
            .await
            .expect("published");
    }
    wait_applied(&h.bus, "inventory", 5).await;

    // Nothing was acknowledged, so the server redelivers every event, again and again.
    let stream = h.bus.jetstream().get_stream("EVT_ORDERS").await.expect("stream");
    crate::common::eventually("JetStream to redeliver", || async {
        (stream.consumer_info("inventory").await.ok()?.num_redelivered >= 5).then_some(())
    })
    .await;

    let stock = h
        .bus
        .call::<GetStock>(&StockRequest { sku: "sku-2".into() })
        .await
        .expect("stock");
    assert_eq!(stock, INITIAL_STOCK - 5, "redeliveries were applied again");
    assert_eq!(
        h.stream_messages("EVT_INVENTORY").await,
        5,
        "redeliveries emitted again"
    );
    running.kill().await;
}

/// A message lost in flight — between the consumer's leader and the component, when a
/// connection drops or a cluster node goes down — must not be skipped: the ones behind it
/// would move the watermark past it, and their ack-all would acknowledge it unseen, so that
/// nothing ever delivered it again (found as stock left reserved after a node loss).
#[tokio::test]
async fn a_message_lost_in_flight_is_delivered_again_before_anything_behind_it_is_applied() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let mut options = h.options();
    options.fault = Fault::LoseDelivery;
    let _inventory = h.start_with(inventory(), options).await;
    for i in 0..3 {
        h.bus
            .publish(&placed(&format!("o-{i}"), "alice", "sku-1", 1))
            .await
            .expect("published");
    }
    wait_applied(&h.bus, "inventory", 3).await;
    let stock = h
        .bus
        .call::<GetStock>(&StockRequest { sku: "sku-1".into() })
        .await
        .expect("stock");
    assert_eq!(
        stock,
        INITIAL_STOCK - 3,
        "each of the 3 orders reserved, the lost one too"
    );
}
