//! The sync linger (`Options::sync_linger`, kit `consumer/linger.rs`): once a consumer has
//! caught up, its commit waits for a sync another commit of the component starts rather than
//! starting its own — only its ack waits, and the consumer goes on applying meanwhile. What a
//! commit publishes is synced at once by the relay, a command's commit at once to answer, and
//! a busy consumer's at once, as before.
//!
//! The linger here is an hour, so that only a shared sync can end it within the test.

use std::time::Duration;

use mandate::{Component, Context, HandlerResult};
use schemas::inventory::{SkuQuantity, StockReserved};
use schemas::orders::{GetOrder, GetOrderRequest, OrderPlaced, OrderStatus, PlaceOrder};

use crate::common::{Harness, eventually, inventory, orders, place_request, placed};

const AN_HOUR: Duration = Duration::from_secs(3600);

fn lingering(h: &Harness, batch_size: u32) -> mandate::Options {
    let mut options = h.options();
    options.sync_linger = AN_HOUR;
    options.batch_size = batch_size;
    options
}

fn reserved(order: &str) -> StockReserved {
    StockReserved {
        order_id: order.into(),
        customer_id: "alice".into(),
        lines: vec![SkuQuantity {
            sku: "sku-1".into(),
            quantity: 1,
        }],
        amount_minor: 1_000,
        currency: "EUR".into(),
        payment_token: String::new(),
    }
}

/// Where the component's consumer of `stream` has acknowledged up to, and how many of its
/// deliveries wait for an ack; none before the consumer is created.
async fn acks(h: &Harness, stream: &str, consumer: &str) -> Option<(u64, usize)> {
    let stream = h.bus.jetstream().get_stream(stream).await.ok()?;
    let info = stream.consumer_info(consumer).await.ok()?;
    Some((info.ack_floor.stream_sequence, info.num_ack_pending))
}

/// Waits until the consumer has its one delivery, and sees that it stays unacknowledged: no
/// sync was started for its commit.
async fn lingers(h: &Harness, stream: &str, consumer: &str) {
    eventually("the delivery", || async {
        (acks(h, stream, consumer).await == Some((0, 1))).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        acks(h, stream, consumer).await,
        Some((0, 1)),
        "acknowledged without waiting for a sync to share"
    );
}

/// Orders' consumer of inventory's events records a status and publishes nothing: its commit
/// is not acknowledged while no sync covers it — until a command (which syncs at once, to
/// answer) makes it durable with its own.
#[tokio::test]
async fn a_commit_that_publishes_nothing_waits_for_a_sync_it_can_share() {
    let h = Harness::new(&[]).await;
    h.create_stream("inventory").await;
    let component = h.start_with(orders(), lingering(&h, 256)).await;
    h.bus.publish(&reserved("o-1")).await.expect("published");
    lingers(&h, "EVT_INVENTORY", "orders").await;

    h.bus
        .call::<PlaceOrder>(&place_request("k-1", "alice", "sku-1", 1))
        .await
        .expect("the command is answered at once");
    eventually("the reservation acknowledged with the command's sync", || async {
        (acks(&h, "EVT_INVENTORY", "orders").await == Some((1, 0))).then_some(())
    })
    .await;
    component.shutdown().await.expect("clean shutdown");
}

/// Inventory's consumer publishes a reservation for each order: its commits sync at once
/// whatever the linger, so the reservation is out and the order acknowledged.
#[tokio::test]
async fn a_commit_that_publishes_does_not_linger() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let component = h.start_with(inventory(), lingering(&h, 256)).await;
    h.bus
        .publish(&placed("o-1", "alice", "sku-1", 1))
        .await
        .expect("published");
    eventually("the reservation published and the order acknowledged", || async {
        let published = h.stream_messages("EVT_INVENTORY").await == 1;
        (published && acks(&h, "EVT_ORDERS", "inventory").await == Some((1, 0))).then_some(())
    })
    .await;
    component.shutdown().await.expect("clean shutdown");
}

/// Reserves each order's stock but a `quiet` customer's, which it only records: one
/// consumer whose commits publish, or not.
fn sometimes_quiet() -> Component {
    Component::new("inventory")
        .publishes::<StockReserved>()
        .on::<OrderPlaced>(|ctx: &mut Context<'_>, order: OrderPlaced| -> HandlerResult {
            ctx.put(&format!("seen/{}", order.order_id), &true)?;
            if order.customer_id == "quiet" {
                return Ok(());
            }
            ctx.emit(&reserved(&order.order_id))
        })
}

/// A quiet order's commit lingers; the next order, arriving meanwhile, is applied and its
/// reservation published at once, and the one sync that made it durable settles both.
#[tokio::test]
async fn a_consumer_goes_on_applying_while_a_commit_lingers() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let component = h.start_with(sometimes_quiet(), lingering(&h, 256)).await;
    h.bus
        .publish(&placed("o-1", "quiet", "sku-1", 1))
        .await
        .expect("published");
    lingers(&h, "EVT_ORDERS", "inventory").await;

    h.bus
        .publish(&placed("o-2", "alice", "sku-1", 1))
        .await
        .expect("published");
    eventually("the next order reserved, and both acknowledged", || async {
        let published = h.stream_messages("EVT_INVENTORY").await == 1;
        (published && acks(&h, "EVT_ORDERS", "inventory").await == Some((2, 0))).then_some(())
    })
    .await;
    component.shutdown().await.expect("clean shutdown");
}

/// A consumer with a backlog syncs each batch at once: lingering would hold the batches
/// behind it. Only the last, read once nothing more is pending, waits.
#[tokio::test]
async fn a_consumer_with_more_to_read_does_not_linger() {
    let h = Harness::new(&[]).await;
    h.create_stream("inventory").await;
    for n in 0..200 {
        h.bus.publish(&reserved(&format!("o-{n}"))).await.expect("published");
    }
    let component = h.start_with(orders(), lingering(&h, 10)).await;
    eventually("the backlog acknowledged but for its last batch", || async {
        let (floor, _) = acks(&h, "EVT_INVENTORY", "orders").await?;
        (floor >= 190).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (floor, pending) = acks(&h, "EVT_INVENTORY", "orders").await.expect("the consumer");
    assert!(
        floor < 200 && pending > 0,
        "the last batch did not wait for a sync to share: floor {floor}, {pending} pending"
    );
    component.shutdown().await.expect("clean shutdown");
}

/// Killed while a commit lingers, the component loses nothing: started again, the
/// reservation is applied (again, or found applied) and acknowledged.
#[tokio::test]
async fn a_component_killed_while_a_commit_lingers_loses_nothing() {
    let h = Harness::new(&[]).await;
    h.create_stream("inventory").await;
    let first = h.start_with(orders(), lingering(&h, 256)).await;
    h.bus
        .call::<PlaceOrder>(&place_request("k-1", "alice", "sku-1", 1))
        .await
        .expect("placed");
    h.bus.publish(&reserved("k-1")).await.expect("published");
    eventually("the reservation delivered", || async {
        (acks(&h, "EVT_INVENTORY", "orders").await == Some((0, 1))).then_some(())
    })
    .await;
    first.kill().await;

    let second = h.start(orders()).await;
    eventually("the reservation acknowledged after the restart", || async {
        (acks(&h, "EVT_INVENTORY", "orders").await == Some((1, 0))).then_some(())
    })
    .await;
    let order = h
        .bus
        .call::<GetOrder>(&GetOrderRequest { order_id: "k-1".into() })
        .await
        .expect("the order");
    assert_eq!(order.status, OrderStatus::Reserved, "the reservation was lost");
    second.shutdown().await.expect("clean shutdown");
}
