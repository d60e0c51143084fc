//! Placing orders: priced from orders' own price list, idempotent by key, listed per
//! customer, and published as `orders.placed` v2 and v1.

use schemas::catalog::ProductUpserted;
use schemas::orders::{ListOrders, ListOrdersRequest, OrderLine, OrderPlacedV2, OrderStatus};
use testkit::eventually;

use crate::fixtures::{Harness, code, orders_stream};

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

/// An order is published once, as `orders.placed.v2` (the dual-publish window with v1 is
/// closed, docs/evolution.md): v2 itemises the tax the prices contain (orders' rate table:
/// EUR 20%, USD none) and carries the lines and total the order view shows, which is what
/// will be charged.
#[tokio::test]
async fn an_order_is_published_once_as_v2_with_its_tax_itemised() {
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
        (messages.len() >= 2).then_some(messages)
    })
    .await;
    // Stored as evt.orders.placed.v<N>.<slot>.<order id>: keyed by the order.
    let subjects: Vec<&str> = messages
        .iter()
        .map(|(subject, _, _)| mandate::partition::event_subject(subject))
        .collect();
    assert!(
        messages
            .iter()
            .all(|(subject, _, _)| mandate::partition::stored_slot(subject).is_some()),
        "every placement is stored with its slot"
    );
    assert_eq!(subjects, ["evt.orders.placed.v2", "evt.orders.placed.v2"]);
    let v2: OrderPlacedV2 = rmp_serde::from_slice(&messages[0].2).expect("a v2 body");
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
    assert_eq!(v2.total_minor, order.total_minor);
    assert_eq!(
        v2.lines.iter().map(OrderLine::from).collect::<Vec<_>>(),
        order.lines,
        "the event and the view show the same lines"
    );

    let pens_v2: OrderPlacedV2 = rmp_serde::from_slice(&messages[1].2).expect("a v2 body");
    assert_eq!(pens_v2.order_id, pens.order_id);
    assert_eq!(
        (pens_v2.subtotal_minor, pens_v2.tax_minor, pens_v2.total_minor),
        (597, 0, 597),
        "no rate for USD: no tax itemised"
    );
    assert_eq!(pens_v2.lines[0].currency, "USD");
    assert_eq!(h.kit.stream_messages("EVT_ORDERS").await, 2);
    running.shutdown().await.expect("clean shutdown");
}
