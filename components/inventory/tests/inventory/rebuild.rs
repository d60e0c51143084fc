use schemas::inventory::{Restocked, StockRejected, StockReleased, StockReserved};

use crate::fixtures::{cancelled, declined, dispatched, placed, restock, start, stock};
use testkit::eventually;

/// Every kind of history at once: held, shipped, released by a cancellation and by a
/// decline, rejected, cancelled before placed, dispatched after release. Inventory
/// consumes four streams; a rebuild re-reads them concurrently, in an interleaving unlike
/// the first run's, and must still reach the same state without announcing anything again.
#[tokio::test]
async fn a_rebuild_reproduces_stock_and_reservations_and_publishes_nothing_again() {
    let (h, inventory) = start().await;
    let mut published = h.watch("evt.inventory.>").await;
    restock(&h, "k1", "tea", 10).await;
    restock(&h, "k2", "cup", 3).await;
    published.next::<Restocked>().await;
    published.next::<Restocked>().await;

    h.bus.publish(&placed("held", &[("tea", 2)])).await.expect("published");
    published.next::<StockReserved>().await;
    h.bus
        .publish(&placed("shipped", &[("tea", 1), ("cup", 1)]))
        .await
        .expect("published");
    published.next::<StockReserved>().await;
    h.bus.publish(&dispatched("shipped")).await.expect("published");
    eventually("the dispatch to be applied", || async {
        (stock(&h, "cup").await.shipped == 1).then_some(())
    })
    .await;
    // Too late: shipped goods stay shipped (a rebuild may see this before the dispatch).
    h.bus.publish(&cancelled("shipped")).await.expect("published");
    h.bus
        .publish(&placed("cancelled", &[("tea", 3)]))
        .await
        .expect("published");
    published.next::<StockReserved>().await;
    h.bus.publish(&cancelled("cancelled")).await.expect("published");
    published.next::<StockReleased>().await;
    h.bus.publish(&dispatched("cancelled")).await.expect("published");
    h.bus
        .publish(&placed("rejected", &[("cup", 5)]))
        .await
        .expect("published");
    published.next::<StockRejected>().await;
    h.bus.publish(&cancelled("early")).await.expect("published");
    h.bus.publish(&placed("early", &[("tea", 1)])).await.expect("published");
    h.bus
        .publish(&placed("declined", &[("cup", 2)]))
        .await
        .expect("published");
    published.next::<StockReserved>().await;
    h.bus.publish(&declined("declined")).await.expect("published");
    published.next::<StockReleased>().await;
    restock(&h, "k1", "tea", 10).await;
    // Own 2 restocked + 4 reserved + 1 rejected + 2 released; orders 9; payments 1; shipping 2.
    h.wait_applied("inventory", 9 + 9 + 1 + 2).await;
    published.assert_silent().await;

    let tea = stock(&h, "tea").await;
    let cup = stock(&h, "cup").await;
    assert_eq!((tea.on_hand, tea.reserved, tea.shipped, tea.restocked), (7, 2, 1, 10));
    assert_eq!((cup.on_hand, cup.reserved, cup.shipped, cup.restocked), (2, 0, 1, 3));

    assert_eq!(h.stream_messages("EVT_INVENTORY").await, 9);

    h.rebuild("inventory").await;
    assert_eq!(stock(&h, "tea").await, tea, "the same tea stock after the rebuild");
    assert_eq!(stock(&h, "cup").await, cup, "the same cup stock after the rebuild");
    published.assert_silent().await;
    assert_eq!(h.stream_messages("EVT_INVENTORY").await, 9);

    // The reservations were rebuilt too: the held order is still held and releases on
    // cancellation; the early cancellation still keeps its order from reserving; the
    // restock key is still known.
    h.bus.publish(&cancelled("held")).await.expect("published");
    let (_, released) = published.next::<StockReleased>().await;
    assert_eq!(released.order_id, "held");
    h.bus.publish(&placed("early", &[("tea", 1)])).await.expect("published");
    h.bus.publish(&dispatched("declined")).await.expect("published");
    assert_eq!(restock(&h, "k2", "cup", 3).await, cup);
    h.wait_applied("inventory", 21 + 1 + 2 + 1).await;
    published.assert_silent().await;
    assert_eq!(stock(&h, "tea").await.on_hand, 9);
    assert_eq!(stock(&h, "cup").await, cup);
    inventory.shutdown().await.expect("clean shutdown");
}
