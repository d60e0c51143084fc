//! `orders.placed` v1 → v2: orders publishes every order as both during the migration, and
//! the history before it holds v1 alone. The customer hears about each order once.

use schemas::notifications::Notification;

use crate::fixtures::{dispatched, inbox, placed, placed_v2, publish_at, start, v1_twin};

fn told_with_tax(order: &str) -> String {
    format!("Thank you! We have your order {order}: 2 items, 4.50 EUR including 0.75 EUR tax.")
}

/// v2 then v1 (as orders publishes them), or v1 then v2: one message, the v2's, either way.
#[tokio::test]
async fn a_v1_and_v2_pair_of_one_order_is_one_message_in_either_order() {
    let (h, notifications) = start().await;
    let at = "2026-03-01T10:00:00Z";
    let order = placed_v2("o1", "alice");
    let v2_first = publish_at(&h, &order, at).await;
    publish_at(&h, &v1_twin(&order), at).await;
    let order = placed_v2("o2", "bob");
    publish_at(&h, &v1_twin(&order), at).await;
    let v2_second = publish_at(&h, &order, at).await;
    // A later event of each, so the count below proves the twins were handled, not pending.
    publish_at(&h, &dispatched("o1", "alice"), "2026-03-01T10:00:01Z").await;
    publish_at(&h, &dispatched("o2", "bob"), "2026-03-01T10:00:01Z").await;
    h.wait_applied("notifications", 4 + 2).await;

    for (customer, order, v2) in [("alice", "o1", v2_first), ("bob", "o2", v2_second)] {
        let messages = inbox(&h, customer, 2).await;
        assert_eq!(messages.len(), 2, "{customer}: {messages:?}");
        assert_eq!(
            messages[0],
            Notification {
                id: v2.id.clone(),
                customer_id: customer.into(),
                order_id: order.into(),
                kind: "orders.placed.v2".into(),
                message: told_with_tax(order),
                at: at.into(),
            },
            "{customer}"
        );
        assert_eq!(messages[1].kind, "shipping.dispatched.v1");
    }
    notifications.shutdown().await.expect("clean shutdown");
}

/// A history across the migration: orders from before it (v1 only) and pairs in both
/// orders. A rebuild rewrites exactly the same messages and publishes nothing.
#[tokio::test]
async fn a_history_of_v1_orders_and_v1_v2_pairs_rebuilds_to_the_same_messages() {
    let (h, notifications) = start().await;
    let at = |second: u32| format!("2026-03-01T10:00:{second:02}Z");
    let old = publish_at(&h, &placed("old", "carol"), &at(1)).await;
    let new = placed_v2("new", "carol");
    publish_at(&h, &new, &at(2)).await;
    publish_at(&h, &v1_twin(&new), &at(2)).await;
    let late = placed_v2("late", "carol");
    publish_at(&h, &v1_twin(&late), &at(3)).await;
    publish_at(&h, &late, &at(3)).await;
    publish_at(&h, &dispatched("old", "carol"), &at(4)).await;
    h.wait_applied("notifications", 5 + 1).await;
    let before = inbox(&h, "carol", 4).await;
    let told: Vec<(&str, &str)> = before.iter().map(|m| (m.order_id.as_str(), m.kind.as_str())).collect();
    assert_eq!(
        told,
        [
            ("old", "orders.placed.v1"),
            ("new", "orders.placed.v2"),
            ("late", "orders.placed.v2"),
            ("old", "shipping.dispatched.v1"),
        ]
    );
    assert_eq!(before[0].id, old.id);
    assert_eq!(
        before[0].message, "Thank you! We have your order old: 2 items, 4.50 EUR.",
        "an order from before tax was itemised says nothing of tax"
    );
    let orders_stream = h.stream_messages("EVT_ORDERS").await;
    assert_eq!(orders_stream, 5);
    let mut published = h.watch("evt.>").await;

    h.rebuild("notifications").await;
    assert_eq!(inbox(&h, "carol", 4).await, before);
    published.assert_silent().await;
    assert_eq!(h.stream_messages("EVT_ORDERS").await, orders_stream);
    assert_eq!(h.stream_messages("EVT_NOTIFICATIONS").await, 0);
    notifications.shutdown().await.expect("clean shutdown");
}
