//! `orders.placed` v1 → v2: during the migration orders publishes every order as both, and
//! the history before it holds v1 alone. Inventory reserves each order once, whichever
//! version it reads first, and a rebuild of such a history reaches the same stock.

use schemas::inventory::{SkuQuantity, StockRejected, StockReleased, StockReserved};

use crate::fixtures::{
    cancelled, counts, declined, dispatched, placed, placed_v2, restock, start, start_with_stock, stock, v1_twin,
};
use testkit::eventually;

#[tokio::test]
async fn a_v1_and_v2_pair_of_one_order_is_decided_once_in_either_order() {
    let (h, inventory, mut published) = start_with_stock(&[("tea", 10)]).await;

    // v2 first, as orders publishes them.
    let first = placed_v2("v2-first", &[("tea", 2)]);
    h.bus.publish(&first).await.expect("published");
    h.bus.publish(&v1_twin(&first)).await.expect("published");
    let (_, reserved) = published.next::<StockReserved>().await;
    assert_eq!(
        reserved,
        StockReserved {
            order_id: "v2-first".into(),
            customer_id: "customer-of-v2-first".into(),
            lines: vec![SkuQuantity {
                sku: "tea".into(),
                quantity: 2,
            }],
            amount_minor: first.total_minor,
            currency: "EUR".into(),
            payment_token: "token-v2-first".into(),
        },
        "what payments charges is the order's total, tax included"
    );
    assert_eq!((first.total_minor, first.tax_minor), (200, 34));

    // v1 first (another writer, or a redelivery): the same decision, once.
    let second = placed_v2("v1-first", &[("tea", 3)]);
    h.bus.publish(&v1_twin(&second)).await.expect("published");
    h.bus.publish(&second).await.expect("published");
    let (_, reserved) = published.next::<StockReserved>().await;
    assert_eq!(
        (
            reserved.order_id.as_str(),
            reserved.amount_minor,
            reserved.lines[0].quantity
        ),
        ("v1-first", second.total_minor, 3)
    );

    // After the migration v2 comes alone.
    let alone = placed_v2("v2-alone", &[("tea", 1)]);
    h.bus.publish(&alone).await.expect("published");
    let (_, reserved) = published.next::<StockReserved>().await;
    assert_eq!((reserved.order_id.as_str(), reserved.amount_minor), ("v2-alone", 100));

    // A rejection is decided once too.
    let short = placed_v2("short", &[("tea", 50)]);
    h.bus.publish(&short).await.expect("published");
    h.bus.publish(&v1_twin(&short)).await.expect("published");
    assert_eq!(published.next::<StockRejected>().await.1.order_id, "short");

    // Own: restocked, 3 reserved, rejected; orders: three pairs and one v2.
    h.wait_applied("inventory", 5 + 7).await;
    published.assert_silent().await;
    assert_eq!(counts(&h, "tea").await, (4, 6, 0), "each order held once");
    assert_eq!(h.stream_messages("EVT_INVENTORY").await, 5);
    inventory.shutdown().await.expect("clean shutdown");
}

/// A history that crosses the migration: orders from before it (v1 only) and from during it
/// (v1 + v2, in either order), with every ending. Built once, then rebuilt from the streams:
/// the same stock, and nothing announced again.
#[tokio::test]
async fn a_history_of_v1_orders_and_v1_v2_pairs_rebuilds_to_the_same_stock() {
    let (h, inventory) = start().await;
    let mut published = h.watch("evt.inventory.>").await;
    restock(&h, "k1", "tea", 10).await;
    restock(&h, "k2", "cup", 5).await;
    for _ in 0..2 {
        published.next::<schemas::inventory::Restocked>().await;
    }

    // Before the migration: v1 alone.
    h.bus
        .publish(&placed("old-held", &[("tea", 2)]))
        .await
        .expect("published");
    published.next::<StockReserved>().await;
    h.bus
        .publish(&placed("old-shipped", &[("cup", 1)]))
        .await
        .expect("published");
    published.next::<StockReserved>().await;
    h.bus.publish(&dispatched("old-shipped")).await.expect("published");
    h.bus
        .publish(&placed("old-cancelled", &[("tea", 1)]))
        .await
        .expect("published");
    published.next::<StockReserved>().await;
    h.bus.publish(&cancelled("old-cancelled")).await.expect("published");
    published.next::<StockReleased>().await;

    // During it: every order as v2 and v1.
    let new_held = placed_v2("new-held", &[("tea", 3)]);
    h.bus.publish(&new_held).await.expect("published");
    h.bus.publish(&v1_twin(&new_held)).await.expect("published");
    published.next::<StockReserved>().await;
    let new_shipped = placed_v2("new-shipped", &[("cup", 2)]);
    h.bus.publish(&v1_twin(&new_shipped)).await.expect("published");
    h.bus.publish(&new_shipped).await.expect("published");
    published.next::<StockReserved>().await;
    h.bus.publish(&dispatched("new-shipped")).await.expect("published");
    let new_declined = placed_v2("new-declined", &[("tea", 1)]);
    h.bus.publish(&new_declined).await.expect("published");
    h.bus.publish(&v1_twin(&new_declined)).await.expect("published");
    published.next::<StockReserved>().await;
    h.bus.publish(&declined("new-declined")).await.expect("published");
    published.next::<StockReleased>().await;
    let new_rejected = placed_v2("new-rejected", &[("cup", 9)]);
    h.bus.publish(&new_rejected).await.expect("published");
    h.bus.publish(&v1_twin(&new_rejected)).await.expect("published");
    published.next::<StockRejected>().await;

    // Own: 2 restocked, 6 reserved, 2 released, 1 rejected; orders: 3 v1 + 1 cancelled + 4
    // pairs; payments 1; shipping 2.
    h.wait_applied("inventory", 11 + 12 + 1 + 2).await;
    eventually("both dispatches to be applied", || async {
        (stock(&h, "cup").await.shipped == 3).then_some(())
    })
    .await;
    published.assert_silent().await;
    let tea = stock(&h, "tea").await;
    let cup = stock(&h, "cup").await;
    assert_eq!((tea.on_hand, tea.reserved, tea.shipped), (5, 5, 0));
    assert_eq!((cup.on_hand, cup.reserved, cup.shipped), (2, 0, 3));
    let streams = ["EVT_INVENTORY", "EVT_ORDERS"];
    let mut counted = Vec::new();
    for stream in streams {
        counted.push(h.stream_messages(stream).await);
    }
    assert_eq!(counted, [11, 12]);

    h.rebuild("inventory").await;
    assert_eq!(stock(&h, "tea").await, tea, "the same tea stock after the rebuild");
    assert_eq!(stock(&h, "cup").await, cup, "the same cup stock after the rebuild");
    published.assert_silent().await;
    for (stream, before) in streams.iter().zip(&counted) {
        assert_eq!(h.stream_messages(stream).await, *before, "{stream} after the rebuild");
    }

    // The reservations came back with their orders settled: another copy of either version
    // of an order already decided changes nothing, and a held one still releases.
    h.bus.publish(&v1_twin(&new_held)).await.expect("published");
    h.bus
        .publish(&placed_v2("old-held", &[("tea", 2)]))
        .await
        .expect("published");
    h.bus.publish(&cancelled("new-held")).await.expect("published");
    let (_, released) = published.next::<StockReleased>().await;
    assert_eq!(released.order_id, "new-held");
    h.wait_applied("inventory", 26 + 1 + 3).await;
    published.assert_silent().await;
    assert_eq!(counts(&h, "tea").await, (8, 2, 0));
    inventory.shutdown().await.expect("clean shutdown");
}
