use async_nats::HeaderMap;
use bytes::Bytes;
use mandate::admin::RebuildRequest;
use mandate::envelope::Meta;
use mandate::{DEAD_LETTER_STREAM, Event};
use schemas::orders::{GetOrder, GetOrderRequest, OrderPlaced, OrderStatus, PlaceOrder};

use crate::common::{
    GetStock, Harness, StockRequest, eventually, inventory, orders, place_request, placed, wait_applied,
};

async fn stock(h: &Harness) -> u32 {
    h.bus
        .call::<GetStock>(&StockRequest { sku: "sku-1".into() })
        .await
        .expect("stock")
}

/// A component started after the fact backfills from history and publishes as usual; a
/// rebuild then reproduces the same state and publishes nothing a second time.
#[tokio::test]
async fn a_rebuild_reproduces_the_state_and_re_fires_no_side_effect() {
    let h = Harness::new(&[]).await;
    let orders = h.start(orders()).await;
    for i in 0..12 {
        h.bus
            .call::<PlaceOrder>(&place_request(&format!("o-{i}"), "alice", "sku-1", 1))
            .await
            .expect("placed");
    }
    // First-time backfill: no remembered replay point, so its reactions are published.
    let inventory = h.start(inventory()).await;
    wait_applied(&h.bus, "inventory", 12).await;
    eventually("12 reactions published", || async {
        (h.stream_messages("EVT_INVENTORY").await == 12).then_some(())
    })
    .await;
    let stock_before = stock(&h).await;
    assert_eq!(stock_before, 0, "10 reserved, 2 rejected");
    let mut statuses_before = Vec::new();
    for i in 0..12 {
        let order_id = format!("o-{i}");
        let order = eventually("orders to learn the outcome", || async {
            let order = h
                .bus
                .call::<GetOrder>(&GetOrderRequest {
                    order_id: order_id.clone(),
                })
                .await
                .ok()?;
            (order.status != OrderStatus::Placed).then_some(order)
        })
        .await;
        statuses_before.push(order.status);
    }

    // JetStream's duplicate window would hide a repeated publication from the stream, so
    // watch the subject itself: core NATS delivers every publish, duplicate or not.
    let mut published = h.bus.client().subscribe("evt.inventory.>").await.expect("subscribes");
    h.bus.client().flush().await.expect("flush");
    let report = h
        .bus
        .rebuild("inventory", &RebuildRequest::default())
        .await
        .expect("rebuild starts");
    assert!(report.started);
    assert!(report.wiped > 0, "the state was wiped");
    let status = eventually("the rebuild to finish", || async {
        let status = h.bus.status("inventory").await.ok()?;
        (!status.rebuilding && status.consumers[0].applied_sequence == 12).then_some(status)
    })
    .await;
    assert_eq!(status.consumers[0].replay_until, 12);
    assert_eq!(status.outbox_depth, 0);
    assert_eq!(stock(&h).await, stock_before, "same state as the original run");
    assert_eq!(
        h.stream_messages("EVT_INVENTORY").await,
        12,
        "no reservation published twice"
    );
    h.bus.client().flush().await.expect("flush");
    let republished = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        futures::StreamExt::next(&mut published),
    )
    .await;
    assert!(
        republished.is_err(),
        "the rebuild published {:?}",
        republished.ok().flatten().map(|m| m.subject)
    );

    // Past the replay point everything is normal again: a new order gets its reaction.
    h.bus
        .call::<PlaceOrder>(&place_request("o-12", "alice", "sku-1", 1))
        .await
        .expect("placed");
    eventually("the new reaction", || async {
        (h.stream_messages("EVT_INVENTORY").await == 13).then_some(())
    })
    .await;
    for (i, before) in statuses_before.iter().enumerate() {
        let order = h
            .bus
            .call::<GetOrder>(&GetOrderRequest {
                order_id: format!("o-{i}"),
            })
            .await
            .expect("order");
        assert_eq!(order.status, *before, "orders saw no second outcome for o-{i}");
    }
    inventory.shutdown().await.expect("clean shutdown");
    orders.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_rebuild_request_with_a_bad_time_is_refused() {
    let h = Harness::new(&[]).await;
    let inventory = h.start(inventory()).await;
    let err = h
        .bus
        .rebuild(
            "inventory",
            &RebuildRequest {
                from_sequence: None,
                since: Some("yesterday".into()),
            },
        )
        .await
        .expect_err("refused");
    assert_eq!(err.service_error().map(|e| e.code), Some(400));
    assert!(!h.bus.status("inventory").await.expect("status").rebuilding);
    inventory.shutdown().await.expect("clean shutdown");
}

/// Counts what it sees of two owners' streams.
fn tally() -> mandate::Component {
    use mandate::{Component, Context, HandlerResult};
    use schemas::inventory::StockReserved;
    use schemas::orders::OrderPlaced;
    fn bump(ctx: &mut Context<'_>, key: &str) -> HandlerResult {
        let count: u64 = ctx.get(key)?.unwrap_or(0);
        ctx.put(key, &(count + 1))?;
        Ok(())
    }
    Component::new("tally")
        .on::<OrderPlaced>(|ctx, _: OrderPlaced| bump(ctx, "placed"))
        .on::<StockReserved>(|ctx, _: StockReserved| bump(ctx, "reserved"))
}

/// While a rebuild re-applies one stream, a consumer that has reached its replay mark on
/// another stream holds new events back, so nothing new is decided on half a state.
#[tokio::test]
async fn new_events_wait_until_every_consumer_has_re_applied_its_history() {
    use schemas::inventory::StockReserved;
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    h.create_stream("inventory").await;
    let reserved = |order: &str| StockReserved {
        order_id: order.into(),
        customer_id: "alice".into(),
        lines: vec![],
        amount_minor: 0,
        currency: "EUR".into(),
        payment_token: String::new(),
    };
    let tally = h.start(tally()).await;
    let history = 1500;
    let publishes = (0..history).map(|i| {
        let bus = h.bus.clone();
        async move {
            bus.publish(&crate::common::placed(&format!("o-{i}"), "alice", "sku", 1))
                .await
                .expect("published")
        }
    });
    futures::future::join_all(publishes).await;
    h.bus.publish(&reserved("o-0")).await.expect("published");
    wait_applied(&h.bus, "tally", history + 1).await;

    h.bus
        .rebuild("tally", &RebuildRequest::default())
        .await
        .expect("rebuild starts");
    h.bus.publish(&reserved("o-1")).await.expect("published");
    let mut saw_rebuilding = false;
    loop {
        let status = h.bus.status("tally").await.expect("status");
        let inventory = status
            .consumers
            .iter()
            .find(|c| c.stream == "EVT_INVENTORY")
            .expect("consumer");
        if !status.rebuilding {
            break;
        }
        saw_rebuilding = true;
        assert!(
            inventory.applied_sequence <= inventory.replay_until,
            "a new event was handled during the rebuild: {inventory:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(
        saw_rebuilding,
        "the rebuild ended before it could be observed; make the history longer"
    );
    wait_applied(&h.bus, "tally", history + 2).await;
    tally.shutdown().await.expect("clean shutdown");
}

/// A rebuild re-consumes promptly, whatever the batch size: no batch may be lost to a
/// pull request of the previous seating and wait out `ack_wait`.
#[tokio::test]
async fn a_rebuild_with_tiny_batches_does_not_stall() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let mut options = h.options();
    options.batch_size = 1;
    let tally = h.start_with(tally(), options).await;
    let history = 1000;
    let publishes = (0..history).map(|i| {
        let bus = h.bus.clone();
        async move {
            bus.publish(&crate::common::placed(&format!("o-{i}"), "alice", "sku", 1))
                .await
                .expect("published")
        }
    });
    futures::future::join_all(publishes).await;
    wait_applied(&h.bus, "tally", history).await;
    for round in 0..4 {
        let started = std::time::Instant::now();
        h.bus
            .rebuild("tally", &RebuildRequest::default())
            .await
            .expect("rebuild starts");
        eventually("the rebuild to finish", || async {
            let status = h.bus.status("tally").await.ok()?;
            let orders = status.consumers.iter().find(|c| c.stream == "EVT_ORDERS")?;
            (!status.rebuilding && orders.applied_sequence == history).then_some(())
        })
        .await;
        eprintln!("round {round}: {:?}", started.elapsed());
    }
    tally.shutdown().await.expect("clean shutdown");
}

/// What was dead-lettered the first time is not dead-lettered again by a rebuild, whichever
/// link refused it — strict reading, the body, a handler failing for good — while the good
/// event among them is re-applied: replay suppression sits inside the dead-lettering
/// (`consumer/policies.rs`).
#[tokio::test]
async fn a_rebuild_dead_letters_nothing_a_second_time() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let running = h.start(inventory()).await;
    let subject = OrderPlaced::subject();
    let good_headers = || Meta::originate("orders", OrderPlaced::ce_type()).to_headers();
    let body = |order: &OrderPlaced| Bytes::from(rmp_serde::to_vec_named(order).expect("encodes"));
    let cases = [
        // Refused by the body's strict decoding.
        (good_headers(), Bytes::from_static(b"\xc1 not msgpack")),
        // Refused by the strict reading of the envelope.
        (HeaderMap::new(), body(&placed("o-1", "carol", "sku-1", 1))),
        // The handler fails every time: set aside after max_attempts.
        (good_headers(), body(&placed("o-2", "poison", "sku-1", 1))),
        (good_headers(), body(&placed("o-3", "carol", "sku-1", 2))),
    ];
    for (headers, payload) in cases {
        h.bus.publish_raw(&subject, headers, payload).await.expect("published");
    }
    h.wait_applied("inventory", 4).await;
    eventually("three dead letters", || async {
        (h.stream_messages(DEAD_LETTER_STREAM).await == 3).then_some(())
    })
    .await;
    let stock_before = stock(&h).await;

    let mut dead_letters = h.watch("dlq.inventory").await;
    h.rebuild("inventory").await;
    assert_eq!(
        h.bus.status("inventory").await.expect("status").dead_letters,
        3,
        "none dead-lettered again"
    );
    dead_letters.assert_silent().await;
    assert_eq!(h.stream_messages(DEAD_LETTER_STREAM).await, 3);
    assert_eq!(stock(&h).await, stock_before, "the good order re-applied");
    running.shutdown().await.expect("clean shutdown");
}
