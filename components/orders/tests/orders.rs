//! The orders component against a real nats-server, talking to it only over the bus.

use std::time::Duration;

use futures::StreamExt;
use mandate::envelope::Meta;
use mandate::{Bus, CallError, Event, Running};
use schemas::catalog::ProductUpserted;
use schemas::inventory::{SkuQuantity, StockRejected, StockReserved};
use schemas::orders::{
    CancelOrder, CancelOrderRequest, GetOrder, GetOrderRequest, LineRequest, ListOrders, ListOrdersRequest,
    OrderCompleted, OrderLine, OrderPlaced, OrderPlacedV2, OrderStatus, OrderView, PlaceOrder, PlaceOrderRequest,
};
use schemas::payments::{PaymentCaptured, PaymentDeclined};
use schemas::shipping::ShipmentDispatched;
use testkit::eventually;

/// The shared component harness, with orders' own helpers on top.
struct Harness {
    kit: testkit::Harness,
    bus: Bus,
}

impl Harness {
    async fn new() -> Harness {
        let kit = testkit::Harness::new(&["catalog", "inventory", "payments", "shipping"]).await;
        let bus = kit.bus.clone();
        Harness { kit, bus }
    }

    async fn start(&self) -> Running {
        self.kit.start(orders::component()).await
    }

    async fn price(&self, sku: &str, unit_price_minor: i64) {
        self.bus
            .publish(&ProductUpserted {
                sku: sku.into(),
                name: format!("the {sku}"),
                unit_price_minor,
                currency: "EUR".into(),
                revision: 1,
            })
            .await
            .expect("published");
    }

    async fn place(&self, key: &str, lines: &[(&str, u32)]) -> Result<OrderView, CallError> {
        self.bus
            .call::<PlaceOrder>(&PlaceOrderRequest {
                idempotency_key: key.into(),
                customer_id: "alice".into(),
                lines: lines
                    .iter()
                    .map(|(sku, quantity)| LineRequest {
                        sku: (*sku).into(),
                        quantity: *quantity,
                    })
                    .collect(),
                payment_token: "tok".into(),
            })
            .await
    }

    async fn get(&self, order_id: &str) -> Result<OrderView, CallError> {
        self.bus
            .call::<GetOrder>(&GetOrderRequest {
                order_id: order_id.into(),
            })
            .await
    }

    async fn status_becomes(&self, order_id: &str, status: OrderStatus) -> OrderView {
        eventually(&format!("order {order_id} to become {status:?}"), || async {
            self.get(order_id).await.ok().filter(|o| o.status == status)
        })
        .await
    }

    /// Placed with prices known: waits until orders has learned the price list.
    async fn place_when_priced(&self, key: &str, lines: &[(&str, u32)]) -> OrderView {
        eventually("the price list", || async { self.place(key, lines).await.ok() }).await
    }
}

fn code(result: Result<OrderView, CallError>) -> u16 {
    result
        .expect_err("refused")
        .service_error()
        .map(|e| e.code)
        .unwrap_or(0)
}

fn reserved(order: &OrderView) -> StockReserved {
    StockReserved {
        order_id: order.order_id.clone(),
        customer_id: order.customer_id.clone(),
        lines: order
            .lines
            .iter()
            .map(|l| SkuQuantity {
                sku: l.sku.clone(),
                quantity: l.quantity,
            })
            .collect(),
        amount_minor: order.total_minor,
        currency: order.currency.clone(),
        payment_token: String::new(),
    }
}

fn captured(order: &OrderView) -> PaymentCaptured {
    PaymentCaptured {
        payment_id: format!("pay-{}", order.order_id),
        order_id: order.order_id.clone(),
        customer_id: order.customer_id.clone(),
        amount_minor: order.total_minor,
        currency: order.currency.clone(),
    }
}

fn dispatched(order: &OrderView) -> ShipmentDispatched {
    ShipmentDispatched {
        shipment_id: format!("ship-{}", order.order_id),
        order_id: order.order_id.clone(),
        customer_id: order.customer_id.clone(),
    }
}

#[test]
fn the_committed_manifest_is_current() {
    let manifest = orders::component().manifest();
    if let Err(stale) = manifest.check_file(concat!(env!("CARGO_MANIFEST_DIR"), "/manifest.json")) {
        panic!("{stale}");
    }
}

#[tokio::test]
async fn orders_are_priced_from_its_own_price_list_and_bad_carts_are_refused() {
    let h = Harness::new().await;
    let running = h.start().await;
    assert_eq!(
        code(h.place("k0", &[("mug", 1)]).await),
        400,
        "no price known yet: unknown sku"
    );
    h.price("mug", 1250).await;
    h.price("tea", 499).await;
    let order = h.place_when_priced("k1", &[("mug", 2), ("tea", 1)]).await;
    assert_eq!(order.status, OrderStatus::Placed);
    assert_eq!(order.total_minor, 2 * 1250 + 499);
    assert_eq!(order.currency, "EUR");
    assert_eq!(order.history.len(), 1);

    assert_eq!(code(h.place("k2", &[]).await), 400, "empty cart");
    assert_eq!(code(h.place("k3", &[("mug", 0)]).await), 400, "zero quantity");
    assert_eq!(code(h.place("k4", &[("nope", 1)]).await), 400, "unknown sku");
    assert_eq!(code(h.place("", &[("mug", 1)]).await), 400, "no idempotency key");

    // The same key again returns the first order, whatever the second request says.
    let again = h.place("k1", &[("tea", 9)]).await.expect("same order");
    assert_eq!(again, order);
    assert_eq!(h.get(&order.order_id).await.expect("found"), order);
    assert_eq!(code(h.get("missing").await), 404);
    running.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn an_order_follows_its_events_in_any_arrival_order_and_completes_once() {
    let h = Harness::new().await;
    let running = h.start().await;
    h.price("mug", 1000).await;
    let mut completions = h
        .bus
        .client()
        .subscribe(OrderCompleted::subject())
        .await
        .expect("subscribes");
    h.bus.client().flush().await.expect("flush");
    let a = h.place_when_priced("a", &[("mug", 1)]).await;
    let b = h.place_when_priced("b", &[("mug", 2)]).await;

    // a: in causal order.
    h.bus.publish(&reserved(&a)).await.expect("published");
    h.status_becomes(&a.order_id, OrderStatus::Reserved).await;
    h.bus.publish(&captured(&a)).await.expect("published");
    h.status_becomes(&a.order_id, OrderStatus::Paid).await;
    h.bus.publish(&dispatched(&a)).await.expect("published");
    let a_done = h.status_becomes(&a.order_id, OrderStatus::Completed).await;
    let statuses: Vec<_> = a_done.history.iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        vec![
            OrderStatus::Placed,
            OrderStatus::Reserved,
            OrderStatus::Paid,
            OrderStatus::Completed
        ]
    );

    // b: the effect before its causes (three streams, no order between them).
    h.bus.publish(&dispatched(&b)).await.expect("published");
    h.status_becomes(&b.order_id, OrderStatus::Completed).await;
    h.bus.publish(&captured(&b)).await.expect("published");
    h.bus.publish(&reserved(&b)).await.expect("published");
    eventually("b to record every fact", || async {
        let order = h.get(&b.order_id).await.ok()?;
        (order.history.len() == 4).then_some(())
    })
    .await;
    assert_eq!(
        h.get(&b.order_id).await.expect("found").status,
        OrderStatus::Completed,
        "never moved back"
    );

    // One completion per order.
    let mut completed = Vec::new();
    while let Ok(Some(message)) = tokio::time::timeout(Duration::from_millis(300), completions.next()).await {
        let event: OrderCompleted = rmp_serde::from_slice(&message.payload).expect("decodes");
        completed.push(event.order_id);
    }
    completed.sort();
    let mut expected = vec![a.order_id.clone(), b.order_id.clone()];
    expected.sort();
    assert_eq!(completed, expected);
    running.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn cancelling_is_allowed_until_paid_and_refused_after() {
    let h = Harness::new().await;
    let running = h.start().await;
    h.price("mug", 1000).await;
    let open = h.place_when_priced("open", &[("mug", 1)]).await;
    let done = h.place_when_priced("done", &[("mug", 1)]).await;
    let cancel = |order_id: &str| {
        let request = CancelOrderRequest {
            order_id: order_id.into(),
            reason: String::new(),
        };
        let bus = h.bus.clone();
        async move { bus.call::<CancelOrder>(&request).await }
    };

    let cancelled = cancel(&open.order_id).await.expect("cancelled");
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!(
        cancel(&open.order_id).await.expect("idempotent").status,
        OrderStatus::Cancelled
    );
    // A payment that raced the cancellation does not revive the order.
    h.bus.publish(&captured(&open)).await.expect("published");
    h.bus.publish(&dispatched(&open)).await.expect("published");
    eventually("the late events to be recorded", || async {
        (h.get(&open.order_id).await.ok()?.history.len() == 4).then_some(())
    })
    .await;
    assert_eq!(
        h.get(&open.order_id).await.expect("found").status,
        OrderStatus::Cancelled
    );

    h.bus.publish(&reserved(&done)).await.expect("published");
    h.bus.publish(&captured(&done)).await.expect("published");
    h.status_becomes(&done.order_id, OrderStatus::Paid).await;
    assert_eq!(
        code(cancel(&done.order_id).await),
        409,
        "paid orders cannot be cancelled"
    );
    h.bus.publish(&dispatched(&done)).await.expect("published");
    h.status_becomes(&done.order_id, OrderStatus::Completed).await;
    assert_eq!(
        code(cancel(&done.order_id).await),
        409,
        "dispatched orders cannot be cancelled"
    );
    assert_eq!(code(cancel("missing").await), 404);
    running.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_customers_orders_are_listed_oldest_first_in_pages() {
    let h = Harness::new().await;
    let running = h.start().await;
    h.price("mug", 100).await;
    let mut placed = Vec::new();
    for i in 0..5 {
        placed.push(h.place_when_priced(&format!("k{i}"), &[("mug", 1)]).await.order_id);
    }
    let list = |after: Option<String>| {
        let bus = h.bus.clone();
        async move {
            bus.call::<ListOrders>(&ListOrdersRequest {
                customer_id: "alice".into(),
                after,
                limit: 2,
            })
            .await
            .expect("listed")
        }
    };
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = list(cursor).await;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|o| o.order_id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, placed);
    let other = h
        .bus
        .call::<ListOrders>(&ListOrdersRequest {
            customer_id: "bob".into(),
            after: None,
            limit: 0,
        })
        .await
        .expect("listed");
    assert!(other.items.is_empty() && other.next.is_none());
    running.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_rebuild_gives_back_every_order_and_publishes_nothing() {
    let h = Harness::new().await;
    let running = h.start().await;
    h.price("mug", 700).await;
    let completed = h.place_when_priced("c", &[("mug", 1)]).await;
    let rejected = h.place_when_priced("r", &[("mug", 3)]).await;
    let declined = h.place_when_priced("d", &[("mug", 2)]).await;
    let cancelled = h.place_when_priced("x", &[("mug", 1)]).await;
    for event in [reserved(&completed), reserved(&declined)] {
        h.bus.publish(&event).await.expect("published");
    }
    h.bus.publish(&captured(&completed)).await.expect("published");
    h.bus.publish(&dispatched(&completed)).await.expect("published");
    h.bus
        .publish(&StockRejected {
            order_id: rejected.order_id.clone(),
            customer_id: "alice".into(),
            reason: "out of stock".into(),
            shortages: vec![],
        })
        .await
        .expect("published");
    h.bus
        .publish(&PaymentDeclined {
            order_id: declined.order_id.clone(),
            customer_id: "alice".into(),
            amount_minor: declined.total_minor,
            currency: "EUR".into(),
            reason: "insufficient funds".into(),
        })
        .await
        .expect("published");
    h.bus
        .call::<CancelOrder>(&CancelOrderRequest {
            order_id: cancelled.order_id.clone(),
            reason: "changed my mind".into(),
        })
        .await
        .expect("cancelled");
    h.status_becomes(&completed.order_id, OrderStatus::Completed).await;
    h.status_becomes(&rejected.order_id, OrderStatus::Rejected).await;
    h.status_becomes(&declined.order_id, OrderStatus::PaymentDeclined).await;
    let ids = [&completed, &rejected, &declined, &cancelled].map(|o| o.order_id.clone());
    let mut before = Vec::new();
    for id in &ids {
        before.push(h.get(id).await.expect("found"));
    }

    let mut published = h.bus.client().subscribe("evt.orders.>").await.expect("subscribes");
    h.bus.client().flush().await.expect("flush");
    h.bus
        .rebuild("orders", &Default::default())
        .await
        .expect("rebuild starts");
    eventually("the rebuild to finish", || async {
        let status = h.bus.status("orders").await.ok()?;
        (!status.rebuilding && status.consumers.iter().all(|c| c.caught_up && c.pending == Some(0))).then_some(())
    })
    .await;
    for (id, expected) in ids.iter().zip(&before) {
        assert_eq!(
            &h.get(id).await.expect("rebuilt"),
            expected,
            "order {id} after the rebuild"
        );
    }
    // The idempotency keys came back too.
    assert_eq!(
        h.place("c", &[("mug", 5)]).await.expect("same order").order_id,
        completed.order_id
    );
    h.bus.client().flush().await.expect("flush");
    let republished = tokio::time::timeout(Duration::from_millis(300), published.next()).await;
    assert!(
        republished.is_err(),
        "the rebuild published {:?}",
        republished.ok().flatten().map(|m| m.subject)
    );
    running.shutdown().await.expect("clean shutdown");
}

/// Every message of `EVT_ORDERS` with its envelope, in stream order.
async fn orders_stream(h: &Harness) -> Vec<(String, Meta, Vec<u8>)> {
    h.kit
        .read_stream("EVT_ORDERS")
        .await
        .into_iter()
        .map(|m| {
            let meta = Meta::from_headers(m.headers.as_ref()).expect("a complete envelope");
            (m.subject.to_string(), meta, m.payload.to_vec())
        })
        .collect()
}

/// During the migration an order is published as `orders.placed.v2` and `orders.placed.v1`
/// in one transaction — v2 first — and both say the same money: v2 itemises the tax the
/// prices contain (orders' rate table: EUR 20%, USD none), v1 carries the same lines and
/// total, which is what the order view shows and what will be charged.
#[tokio::test]
async fn an_order_is_published_as_v2_and_v1_with_the_same_money() {
    let h = Harness::new().await;
    let running = h.start().await;
    h.price("mug", 1250).await;
    h.price("tea", 499).await;
    h.bus
        .publish(&ProductUpserted {
            sku: "pen".into(),
            name: "the pen".into(),
            unit_price_minor: 199,
            currency: "USD".into(),
            revision: 1,
        })
        .await
        .expect("published");
    let order = h.place_when_priced("k1", &[("mug", 2), ("tea", 1)]).await;
    assert_eq!(order.total_minor, 2 * 1250 + 499, "tax is included in the prices");
    let pens = h.place_when_priced("k2", &[("pen", 3)]).await;
    // The same key again publishes nothing.
    h.place("k1", &[("mug", 2), ("tea", 1)]).await.expect("the first order");

    let messages = eventually("both orders in the stream", || async {
        let messages = orders_stream(&h).await;
        (messages.len() >= 4).then_some(messages)
    })
    .await;
    let subjects: Vec<&str> = messages.iter().map(|(subject, _, _)| subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "evt.orders.placed.v2",
            "evt.orders.placed.v1",
            "evt.orders.placed.v2",
            "evt.orders.placed.v1"
        ]
    );
    let v2: OrderPlacedV2 = rmp_serde::from_slice(&messages[0].2).expect("a v2 body");
    let v1: OrderPlaced = rmp_serde::from_slice(&messages[1].2).expect("a v1 body");
    assert_eq!(v2.check(), Ok(()), "{v2:?}");
    assert_eq!(
        (v2.subtotal_minor, v2.tax_minor, v2.total_minor),
        (2499, 417 + 83, 2999),
        "20% contained per line: 25.00 → 4.17, 4.99 → 0.83"
    );
    let line_taxes: Vec<(&str, &str, i64)> = v2
        .lines
        .iter()
        .map(|l| (l.sku.as_str(), l.currency.as_str(), l.tax_minor))
        .collect();
    assert_eq!(line_taxes, [("mug", "EUR", 417), ("tea", "EUR", 83)]);
    assert_eq!(
        (v2.order_id.as_str(), v2.customer_id.as_str(), v2.currency.as_str()),
        (order.order_id.as_str(), "alice", "EUR")
    );
    assert_eq!((v1.total_minor, v2.total_minor), (order.total_minor, order.total_minor));
    assert_eq!(v1.lines, order.lines, "v1 and the view show the same lines");
    let mut untaxed = v2.clone();
    for line in &mut untaxed.lines {
        line.tax_minor = 0;
    }
    (untaxed.subtotal_minor, untaxed.tax_minor) = (untaxed.total_minor, 0);
    assert_eq!(
        OrderPlacedV2::from(v1.clone()),
        untaxed,
        "the v1 is the same order, tax not itemised"
    );
    let (v2_meta, v1_meta) = (&messages[0].1, &messages[1].1);
    assert_ne!(v2_meta.id, v1_meta.id);
    assert_eq!(
        (&v2_meta.time, &v2_meta.correlation_id),
        (&v1_meta.time, &v1_meta.correlation_id),
        "one placement, told twice"
    );

    let pens_v2: OrderPlacedV2 = rmp_serde::from_slice(&messages[2].2).expect("a v2 body");
    assert_eq!(pens_v2.order_id, pens.order_id);
    assert_eq!(
        (pens_v2.subtotal_minor, pens_v2.tax_minor, pens_v2.total_minor),
        (597, 0, 597),
        "no rate for USD: no tax itemised"
    );
    assert_eq!(pens_v2.lines[0].currency, "USD");
    assert_eq!(h.kit.stream_messages("EVT_ORDERS").await, 4);
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
/// orders of then), a pair that arrived v1 first, and orders placed now (v2 + v1). Orders
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
    // On orders' stream: 2 v1 alone, 3 pairs, 2 completions.
    let in_stream = 2 + 3 * 2 + 2;
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
