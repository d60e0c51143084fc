//! Orders rebuilt from the streams: the same orders, nothing published again.

use schemas::orders::{OrderConfirmed, OrderLine, OrderPlaced, OrderPlacedV2, OrderStatus, OrderView};
use testkit::eventually;

use crate::fixtures::{Harness, captured, code, declined, dispatched, rejected, reserved, terminal_steps};

use OrderStatus::{Cancelled, Completed, Paid, PaymentDeclined, Rejected, Reserved};

/// Orders consumes four owners' streams, its own included; a rebuild re-reads them with
/// separate consumers, so it meets their events interleaved unlike the first run (a capture
/// before the cancellation it followed, a rejection before the cancellation it lost to). The
/// decisions on orders' own stream — cancelled, confirmed — are what it re-applies; it must
/// reach the same orders and publish nothing.
#[tokio::test]
async fn a_rebuild_gives_back_every_order_and_publishes_nothing() {
    let h = Harness::new().await;
    let running = h.start().await;
    h.price("mug", 700).await;
    let mut orders = Vec::new();
    for key in ["c", "p", "r", "d", "x", "xc", "xr", "xd", "open"] {
        orders.push(h.place_when_priced(key, &[("mug", 1)]).await);
    }
    let [
        completed,
        paid,
        rejected_one,
        declined_one,
        cancelled,
        cancel_then_capture,
        cancel_then_reject,
        cancel_then_decline,
        open,
    ] = &orders[..]
    else {
        unreachable!()
    };
    for order in [
        completed,
        paid,
        declined_one,
        cancel_then_capture,
        cancel_then_decline,
        open,
    ] {
        h.bus.publish(&reserved(order)).await.expect("published");
    }
    h.status_becomes(&open.order_id, Reserved).await;
    for order in [cancelled, cancel_then_capture, cancel_then_reject, cancel_then_decline] {
        h.cancel(&order.order_id).await.expect("cancelled");
    }
    for order in [completed, paid, cancel_then_capture] {
        h.bus.publish(&captured(order)).await.expect("published");
    }
    h.status_becomes(&paid.order_id, Paid).await;
    // Confirmed before the dispatch, as shipping would have it (three streams, no order).
    h.status_becomes(&completed.order_id, Paid).await;
    h.bus.publish(&dispatched(completed)).await.expect("published");
    for order in [rejected_one, cancel_then_reject] {
        h.bus.publish(&rejected(order)).await.expect("published");
    }
    for order in [declined_one, cancel_then_decline] {
        h.bus.publish(&declined(order)).await.expect("published");
    }
    h.status_becomes(&completed.order_id, Completed).await;
    h.all_applied().await;
    let expected = [
        Completed,
        Paid,
        Rejected,
        PaymentDeclined,
        Cancelled,
        Cancelled,
        Cancelled,
        Cancelled,
        Reserved,
    ];
    let mut before = Vec::new();
    for (order, status) in orders.iter().zip(expected) {
        let now = h.get(&order.order_id).await.expect("found");
        assert_eq!(now.status, status, "{now:?}");
        assert!(terminal_steps(&now) <= 1, "{now:?}");
        before.push(now);
    }
    let stream = h.kit.stream_messages("EVT_ORDERS").await;

    let mut published = h.kit.watch("evt.orders.>").await;
    h.kit.rebuild("orders").await;
    h.all_applied().await;
    for (order, expected) in orders.iter().zip(&before) {
        assert_eq!(
            &h.get(&order.order_id).await.expect("rebuilt"),
            expected,
            "order {} after the rebuild",
            order.order_id
        );
    }
    published.assert_silent().await;
    assert_eq!(h.kit.stream_messages("EVT_ORDERS").await, stream);

    // Rebuilt, not just restored: the idempotency keys came back, a confirmed order still
    // cannot be cancelled, and an open one is still confirmed by its capture.
    assert_eq!(
        h.place("c", &[("mug", 5)]).await.expect("same order").order_id,
        completed.order_id
    );
    assert_eq!(code(h.cancel(&paid.order_id).await), 409);
    h.bus.publish(&captured(open)).await.expect("published");
    assert_eq!(published.next::<OrderConfirmed>().await.1.order_id, open.order_id);
    running.shutdown().await.expect("clean shutdown");
}

fn old_order(order_id: &str, key: &str, unit_price_minor: i64) -> OrderPlaced {
    OrderPlaced {
        order_id: order_id.into(),
        customer_id: "alice".into(),
        lines: vec![OrderLine {
            sku: "mug".into(),
            quantity: 2,
            unit_price_minor,
        }],
        total_minor: 2 * unit_price_minor,
        currency: "EUR".into(),
        payment_token: "tok".into(),
        idempotency_key: key.into(),
        placed_at: "2025-12-01T10:00:00Z".into(),
    }
}

/// A history across the migration: orders placed before it (v1 only, published by the
/// orders of then), a pair of the dual-publish window that arrived v1 first, and orders
/// placed now (v2 only). Orders
/// builds every one once, and a rebuild from the streams gives back the same orders
/// without publishing anything.
#[tokio::test]
async fn a_history_of_v1_orders_and_v1_v2_pairs_rebuilds_to_the_same_orders() {
    let h = Harness::new().await;
    h.kit.create_stream("orders").await;
    let old_completed = old_order("0190f7a4-0000-7000-8000-000000000001", "old-c", 900);
    let old_open = old_order("0190f7a4-0000-7000-8000-000000000002", "old-o", 1000);
    h.bus.publish(&old_completed).await.expect("published");
    h.bus.publish(&old_open).await.expect("published");
    let reversed = OrderPlacedV2::from(old_order("0190f7a4-0000-7000-8000-000000000003", "rev", 600));
    h.bus
        .publish(&old_order(&reversed.order_id, "rev", 600))
        .await
        .expect("published");
    h.bus.publish(&reversed).await.expect("published");

    let running = h.start().await;
    h.price("mug", 1250).await;
    let new_completed = h.place_when_priced("new-c", &[("mug", 1)]).await;
    let new_open = h.place_when_priced("new-o", &[("mug", 3)]).await;
    let as_view = |placed: &OrderPlaced| OrderView {
        order_id: placed.order_id.clone(),
        customer_id: placed.customer_id.clone(),
        status: OrderStatus::Placed,
        lines: placed.lines.clone(),
        total_minor: placed.total_minor,
        currency: placed.currency.clone(),
        history: vec![],
    };
    for order in [as_view(&old_completed), new_completed.clone()] {
        h.bus.publish(&reserved(&order)).await.expect("published");
        h.bus.publish(&captured(&order)).await.expect("published");
        // Confirmed before the dispatch, as shipping would have it: the three come from
        // three streams, and a dispatch applied first would end the order unconfirmed.
        h.status_becomes(&order.order_id, OrderStatus::Paid).await;
        h.bus.publish(&dispatched(&order)).await.expect("published");
        h.status_becomes(&order.order_id, OrderStatus::Completed).await;
    }
    let ids = [
        &old_completed.order_id,
        &old_open.order_id,
        &reversed.order_id,
        &new_completed.order_id,
        &new_open.order_id,
    ];
    // On orders' stream: 2 v1 alone, 1 pair, 2 v2 alone, 2 confirmations, 2 completions.
    let in_stream = 2 + 2 + 2 + 2 + 2;
    eventually("orders to apply everything", || async {
        let status = h.bus.status("orders").await.ok()?;
        let done = status.consumers.iter().all(|c| c.caught_up && c.pending == Some(0));
        (done && h.kit.stream_messages("EVT_ORDERS").await == in_stream).then_some(())
    })
    .await;
    let mut before = Vec::new();
    for id in ids {
        let order = h.get(id).await.expect("found");
        let placed = order.history.iter().filter(|c| c.status == OrderStatus::Placed).count();
        assert_eq!(placed, 1, "order {id} placed once: {order:?}");
        before.push(order);
    }
    assert_eq!(before[1].total_minor, 2000);
    assert_eq!(before[2].status, OrderStatus::Placed);
    assert_eq!(h.kit.stream_messages("EVT_ORDERS").await, in_stream);

    let mut published = h.kit.watch("evt.orders.>").await;
    h.kit.rebuild("orders").await;
    for (id, expected) in ids.iter().zip(&before) {
        assert_eq!(
            &h.get(id).await.expect("rebuilt"),
            expected,
            "order {id} after the rebuild"
        );
    }
    published.assert_silent().await;
    assert_eq!(h.kit.stream_messages("EVT_ORDERS").await, in_stream);
    // The idempotency keys of old and new orders came back too.
    for (key, order) in [("old-o", &old_open.order_id), ("new-o", &new_open.order_id)] {
        assert_eq!(
            &h.place(key, &[("mug", 9)]).await.expect("the same order").order_id,
            order
        );
    }
    published.assert_silent().await;
    running.shutdown().await.expect("clean shutdown");
}
