//! Events from different owners arrive in any order; each of these is a "later" event
//! seen before, or after, what it would normally follow.

use schemas::inventory::{StockReleased, StockReserved};

use crate::fixtures::{cancelled, counts, declined, dispatched, placed, start_with_stock};
use testkit::eventually;

#[tokio::test]
async fn a_cancellation_seen_before_its_order_leaves_a_marker_so_the_order_reserves_nothing() {
    let (h, inventory, mut published) = start_with_stock(&[("tea", 5)]).await;

    h.bus.publish(&cancelled("o1")).await.expect("published");
    h.bus.publish(&placed("o1", &[("tea", 2)])).await.expect("published");
    // Restock (own) + cancelled + placed.
    h.wait_applied("inventory", 3).await;
    published.assert_silent().await;
    assert_eq!(counts(&h, "tea").await, (5, 0, 0));

    // The marker is for that order only.
    h.bus.publish(&placed("o2", &[("tea", 2)])).await.expect("published");
    assert_eq!(published.next::<StockReserved>().await.1.order_id, "o2");
    inventory.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_dispatch_after_a_cancellation_release_is_not_counted_as_shipped() {
    let (h, inventory, mut published) = start_with_stock(&[("tea", 5)]).await;
    h.bus.publish(&placed("o1", &[("tea", 2)])).await.expect("published");
    published.next::<StockReserved>().await;
    h.bus.publish(&cancelled("o1")).await.expect("published");
    published.next::<StockReleased>().await;

    h.bus.publish(&dispatched("o1")).await.expect("published");
    // Own: restocked, reserved, released; orders: placed, cancelled; shipping: dispatched.
    h.wait_applied("inventory", 6).await;
    assert_eq!(counts(&h, "tea").await, (5, 0, 0), "nothing shipped, nothing lost");
    published.assert_silent().await;
    inventory.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_decline_after_the_dispatch_does_not_pull_shipped_stock_back() {
    let (h, inventory, mut published) = start_with_stock(&[("tea", 5)]).await;
    h.bus.publish(&placed("o1", &[("tea", 2)])).await.expect("published");
    published.next::<StockReserved>().await;
    h.bus.publish(&dispatched("o1")).await.expect("published");
    // Shipping's and payments' streams are independent: make sure the dispatch came first.
    eventually("the dispatch to be applied", || async {
        (counts(&h, "tea").await == (3, 0, 2)).then_some(())
    })
    .await;
    h.bus.publish(&declined("o1")).await.expect("published");
    h.wait_applied("inventory", 5).await;
    published.assert_silent().await;
    assert_eq!(counts(&h, "tea").await, (3, 0, 2));
    inventory.shutdown().await.expect("clean shutdown");
}
