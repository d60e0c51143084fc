//! Finding 5: a real event told again under a new `ce-id` is a new message to JetStream and
//! the kit, but the same fact. Inventory keeps one reservation per order and one record
//! per restock, so copies — same time, or later — change no count and decide nothing again.

use schemas::inventory::{Restocked, StockReleased, StockReserved};

use crate::fixtures::{cancelled, counts, declined, dispatched, placed_v2, restock, start_with_stock, v1_twin};

#[tokio::test]
async fn facts_told_again_under_new_ids_change_nothing() {
    let (h, inventory, mut published) = start_with_stock(&[("tea", 10)]).await;
    let shipped = placed_v2("shipped", &[("tea", 2)]);
    let cancelled_one = placed_v2("cancelled", &[("tea", 3)]);
    let declined_one = placed_v2("declined", &[("tea", 1)]);
    let mut decisions = Vec::new();
    for order in [&shipped, &cancelled_one, &declined_one] {
        let placement = h.bus.publish(order).await.expect("published");
        decisions.push(published.next::<StockReserved>().await);
        // The twin, a copy and a later telling: placed once.
        h.bus.publish(&v1_twin(order)).await.expect("published");
        testkit::resend(&h.bus, &placement, order, 1).await;
        h.bus.publish(order).await.expect("a later copy");
    }
    assert_eq!(counts(&h, "tea").await, (4, 6, 0));

    let dispatch = h.bus.publish(&dispatched("shipped")).await.expect("published");
    for copy in 1..=2 {
        testkit::resend(&h.bus, &dispatch, &dispatched("shipped"), copy).await;
    }
    let cancellation = h.bus.publish(&cancelled("cancelled")).await.expect("published");
    let (release_meta, release) = published.next::<StockReleased>().await;
    testkit::resend(&h.bus, &cancellation, &cancelled("cancelled"), 1).await;
    h.bus.publish(&cancelled("cancelled")).await.expect("a later copy");
    let decline = h.bus.publish(&declined("declined")).await.expect("published");
    let (declined_release_meta, declined_release) = published.next::<StockReleased>().await;
    assert_eq!(declined_release.order_id, "declined");
    testkit::resend(&h.bus, &decline, &declined("declined"), 1).await;

    // Inventory's own decisions told again: copies of its reservations, releases and a
    // restock (which dedupes on its restock id). Copies land on inventory's stream, so the
    // watch sees each one go by.
    for (meta, reserved) in &decisions {
        testkit::resend(&h.bus, meta, reserved, 1).await;
        published.next::<StockReserved>().await;
    }
    for (meta, released) in [(&release_meta, &release), (&declined_release_meta, &declined_release)] {
        testkit::resend(&h.bus, meta, released, 1).await;
        published.next::<StockReleased>().await;
    }
    let topped_up = restock(&h, "top-up", "tea", 5).await;
    let (restock_meta, restocked) = published.next::<Restocked>().await;
    testkit::resend(&h.bus, &restock_meta, &restocked, 1).await;
    published.next::<Restocked>().await;

    // Its own stream is history to inventory (it applies its own events as it emits them,
    // the kit's `own.rs`): the copies there are read by the next rebuild, which also meets
    // every other copy again.
    h.rebuild("inventory").await;
    // Orders: 3 × 4 placements + 3 cancellations; payments: 2 declines; shipping: 3
    // dispatches; own: 2 restocks, 3 reservations, 2 releases, and 1 + 3 + 2 copies.
    h.wait_applied("inventory", (12 + 3) + 2 + 3 + (2 + 3 + 2 + 6)).await;
    published.assert_silent().await;
    assert_eq!(
        counts(&h, "tea").await,
        (10 - 2 + 5, 0, 2),
        "shipped once, released once each, restocked once"
    );
    assert_eq!(topped_up.restocked, 15);
    assert_eq!(crate::fixtures::stock(&h, "tea").await.restocked, 15);
    inventory.shutdown().await.expect("clean shutdown");
}
