//! A component's own events (the kit's `own.rs` and `consumer/history.rs`): an event it emits
//! of a type it handles is applied by that handler in the transaction that emits it and is
//! never delivered back live; its stream is read back only as history — in a rebuild, into a
//! fresh store — without publishing anything again. The handler here counts, so that an
//! event applied twice (or not at all) shows.

use std::time::Duration;

use mandate::envelope::Meta;
use mandate::{CallError, Component, Context, Fault, HandlerResult, Operation, View};
use schemas::inventory::StockReserved;
use serde::{Deserialize, Serialize};

use crate::common::{GetStock, Harness, StockRequest, eventually, inventory, outbox_depth, placed};

/// How often inventory applied its own `reserved` of an order, and under which `ce-id`s.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Tally {
    applied: u32,
    ids: Vec<String>,
}

struct GetTally;

impl Operation for GetTally {
    const OWNER: &'static str = "inventory";
    const NAME: &'static str = "test-tally";
    const VERSION: u32 = 1;
    type Request = String;
    type Response = Tally;
}

/// The test inventory with a handler of its own `reserved` that counts (on purpose not
/// idempotent: applying an event twice must show).
fn tallying_inventory() -> Component {
    inventory()
        .on::<StockReserved>(tally)
        .query::<GetTally>(|view: &View, order: String| {
            Ok(view.get::<Tally>(&format!("tally/{order}"))?.unwrap_or_default())
        })
}

fn tally(ctx: &mut Context<'_>, reserved: StockReserved) -> HandlerResult {
    let key = format!("tally/{}", reserved.order_id);
    let mut tally: Tally = ctx.get(&key)?.unwrap_or_default();
    tally.applied += 1;
    tally
        .ids
        .push(ctx.meta().map(|meta| meta.id.clone()).unwrap_or_default());
    ctx.put(&key, &tally)?;
    Ok(())
}

async fn tally_of(h: &Harness, order: &str) -> Result<Tally, CallError> {
    h.bus.call::<GetTally>(&order.to_owned()).await
}

/// The `ce-id`s of inventory's `reserved` events in its stream, by order.
async fn reserved_ids(h: &Harness) -> Vec<(String, String)> {
    h.read_stream("EVT_INVENTORY")
        .await
        .iter()
        .map(|message| {
            let meta = Meta::from_headers(message.headers.as_ref()).expect("an envelope");
            let reserved: StockReserved = rmp_serde::from_slice(&message.payload).expect("a reservation");
            (reserved.order_id, meta.id)
        })
        .collect()
}

async fn settled(h: &Harness, published: u64) {
    eventually("the reservations published", || async {
        let all = h.stream_messages("EVT_INVENTORY").await == published;
        (all && outbox_depth(h, "inventory").await == Some(0)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_own_event_is_applied_once_as_it_is_emitted_and_never_delivered_back() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let running = h.start(tallying_inventory()).await;
    for order in ["o-1", "o-2", "o-3"] {
        h.bus
            .publish(&placed(order, "alice", "sku-1", 1))
            .await
            .expect("published");
    }
    settled(&h, 3).await;
    // Time for a delivery back, were there one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (order, id) in reserved_ids(&h).await {
        let tally = tally_of(&h, &order).await.expect("a tally");
        assert_eq!(
            tally,
            Tally {
                applied: 1,
                ids: vec![id]
            },
            "order {order}"
        );
    }
    let stream = h.bus.jetstream().get_stream("EVT_INVENTORY").await.expect("stream");
    assert!(
        stream.consumer_info("inventory").await.is_err(),
        "no consumer is left on its own stream"
    );
    let status = h.bus.status("inventory").await.expect("status");
    let own = status
        .consumers
        .iter()
        .find(|c| c.stream == "EVT_INVENTORY")
        .expect("listed");
    assert_eq!((own.pending, own.caught_up), (Some(0), true), "{own:?}");
    eventually("its own stream's position to follow what it published", || async {
        let status = h.bus.status("inventory").await.ok()?;
        let own = status.consumers.into_iter().find(|c| c.stream == "EVT_INVENTORY")?;
        (own.applied_sequence == 3).then_some(())
    })
    .await;
    running.shutdown().await.expect("clean shutdown");
}

/// Applied as emitted, then killed before the relay published it: started again, the
/// reservation is published once and not applied again — nor at the start after that.
#[tokio::test]
async fn an_own_event_published_after_a_crash_is_not_applied_again() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let mut parked = h.options();
    parked.fault = Fault::ParkRelay;
    let first = h.start_with(tallying_inventory(), parked).await;
    h.bus
        .publish(&placed("o-1", "alice", "sku-1", 1))
        .await
        .expect("published");
    let tally = eventually("the reservation applied", || async {
        tally_of(&h, "o-1").await.ok().filter(|t| t.applied > 0)
    })
    .await;
    assert_eq!(tally.applied, 1);
    assert_eq!(h.stream_messages("EVT_INVENTORY").await, 0, "the relay is parked");
    first.kill().await;

    for _ in 0..2 {
        let again = h.start(tallying_inventory()).await;
        settled(&h, 1).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(tally_of(&h, "o-1").await.expect("a tally"), tally, "applied once");
        again.shutdown().await.expect("clean shutdown");
    }
}

/// Its stream is history: a reservation another writer put there (an operator's import)
/// while inventory was down is not applied at an ordinary start, but by the next rebuild —
/// and into a fresh store, restored from the streams. Each is applied once, from the
/// stream, and nothing is published again.
#[tokio::test]
async fn its_own_stream_is_read_back_in_a_rebuild_and_into_a_fresh_store_publishing_nothing() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let first = h.start(tallying_inventory()).await;
    for order in ["o-1", "o-2"] {
        h.bus
            .publish(&placed(order, "alice", "sku-1", 1))
            .await
            .expect("published");
    }
    settled(&h, 2).await;
    first.shutdown().await.expect("clean shutdown");
    let imported = StockReserved {
        order_id: "o-x".into(),
        customer_id: "bob".into(),
        lines: vec![],
        amount_minor: 0,
        currency: "EUR".into(),
        payment_token: String::new(),
    };
    h.bus.publish(&imported).await.expect("published");

    let mut published = h.watch("evt.inventory.>").await;
    let second = h.start(tallying_inventory()).await;
    assert_eq!(tally_of(&h, "o-x").await.expect("a tally").applied, 0, "not at a start");
    h.rebuild("inventory").await;
    let ids = reserved_ids(&h).await;
    assert_eq!(ids.len(), 3);
    for (order, id) in &ids {
        let tally = tally_of(&h, order).await.expect("a tally");
        assert_eq!(
            tally,
            Tally {
                applied: 1,
                ids: vec![id.clone()]
            },
            "order {order} after the rebuild"
        );
    }
    published.assert_silent().await;
    second.shutdown().await.expect("clean shutdown");

    let fresh_dir = tempfile::tempdir().expect("a directory");
    let mut fresh = h.options();
    fresh.data_dir = fresh_dir.path().to_owned();
    let restored = h.start_with(tallying_inventory(), fresh).await;
    for (order, id) in &ids {
        let tally = eventually("the store restored", || async {
            tally_of(&h, order).await.ok().filter(|t| t.applied > 0)
        })
        .await;
        assert_eq!(
            tally,
            Tally {
                applied: 1,
                ids: vec![id.clone()]
            },
            "order {order} restored"
        );
    }
    let stock = h
        .bus
        .call::<GetStock>(&StockRequest { sku: "sku-1".into() })
        .await
        .expect("stock");
    assert_eq!(stock, 8, "the two orders reserved once");
    published.assert_silent().await;
    assert_eq!(h.stream_messages("EVT_INVENTORY").await, 3);
    restored.shutdown().await.expect("clean shutdown");
}
