use schemas::inventory::{Shortage, SkuQuantity, StockRejected, StockReleased, StockReserved};

use crate::fixtures::{cancelled, counts, declined, dispatched, placed, restock, start_with_stock};

fn line(sku: &str, quantity: u32) -> SkuQuantity {
    SkuQuantity {
        sku: sku.into(),
        quantity,
    }
}

#[tokio::test]
async fn an_order_with_stock_for_every_line_is_reserved_whole() {
    let (h, inventory, mut published) = start_with_stock(&[("tea", 5), ("cup", 2)]).await;

    // The same sku on two lines counts as one demand of 3.
    let order = placed("o1", &[("tea", 2), ("cup", 1), ("tea", 1)]);
    h.bus.publish(&order).await.expect("published");
    let (_, reserved) = published.next::<StockReserved>().await;
    assert_eq!(
        reserved,
        StockReserved {
            order_id: "o1".into(),
            customer_id: "customer-of-o1".into(),
            lines: vec![line("cup", 1), line("tea", 3)],
            amount_minor: 400,
            currency: "EUR".into(),
            payment_token: "token-o1".into(),
        },
        "carries what payments needs to charge"
    );
    assert_eq!(counts(&h, "tea").await, (2, 3, 0));
    assert_eq!(counts(&h, "cup").await, (1, 1, 0));

    // A repeated placement of a decided order changes nothing.
    h.bus.publish(&order).await.expect("published");
    // Own: two restocks and the reservation; orders: two placements.
    h.wait_applied("inventory", 3 + 2).await;
    published.assert_silent().await;
    assert_eq!(counts(&h, "tea").await, (2, 3, 0));
    inventory.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn an_order_short_on_any_line_reserves_nothing() {
    let (h, inventory, mut published) = start_with_stock(&[("tea", 5), ("cup", 1)]).await;

    h.bus
        .publish(&placed("o1", &[("tea", 2), ("cup", 2), ("spoon", 1)]))
        .await
        .expect("published");
    let (_, rejected) = published.next::<StockRejected>().await;
    assert_eq!(rejected.order_id, "o1");
    assert_eq!(rejected.customer_id, "customer-of-o1");
    assert_eq!(
        rejected.shortages,
        vec![
            Shortage {
                sku: "cup".into(),
                requested: 2,
                available: 1,
            },
            Shortage {
                sku: "spoon".into(),
                requested: 1,
                available: 0,
            },
        ]
    );
    assert_eq!(counts(&h, "tea").await, (5, 0, 0), "not even the line in stock is held");
    assert_eq!(counts(&h, "cup").await, (1, 0, 0));

    // Rejected is final: the same order after a restock is still not reserved.
    restock(&h, "k3", "cup", 5).await;
    published.next::<schemas::inventory::Restocked>().await;
    h.bus
        .publish(&placed("o1", &[("tea", 2), ("cup", 2)]))
        .await
        .expect("published");
    h.wait_applied("inventory", 4 + 2).await;
    published.assert_silent().await;
    assert_eq!(counts(&h, "tea").await, (5, 0, 0));
    inventory.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn cancelling_a_held_order_puts_its_stock_back_once() {
    let (h, inventory, mut published) = start_with_stock(&[("tea", 5)]).await;
    h.bus.publish(&placed("o1", &[("tea", 3)])).await.expect("published");
    published.next::<StockReserved>().await;

    h.bus.publish(&cancelled("o1")).await.expect("published");
    let (_, released) = published.next::<StockReleased>().await;
    assert_eq!(
        released,
        StockReleased {
            order_id: "o1".into(),
            customer_id: "customer-of-o1".into(),
            lines: vec![line("tea", 3)],
            reason: "order-cancelled".into(),
        }
    );
    assert_eq!(counts(&h, "tea").await, (5, 0, 0));

    h.bus.publish(&cancelled("o1")).await.expect("published");
    h.bus.publish(&declined("o1")).await.expect("published");
    h.wait_applied("inventory", 3 + 3 + 1).await;
    published.assert_silent().await;
    assert_eq!(counts(&h, "tea").await, (5, 0, 0), "released once");
    inventory.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_declined_payment_puts_the_stock_back() {
    let (h, inventory, mut published) = start_with_stock(&[("tea", 5)]).await;
    h.bus.publish(&placed("o1", &[("tea", 4)])).await.expect("published");
    published.next::<StockReserved>().await;
    assert_eq!(counts(&h, "tea").await, (1, 4, 0));

    h.bus.publish(&declined("o1")).await.expect("published");
    let (_, released) = published.next::<StockReleased>().await;
    assert_eq!(released.reason, "payment-declined");
    assert_eq!(released.lines, vec![line("tea", 4)]);
    assert_eq!(counts(&h, "tea").await, (5, 0, 0));

    // A decline for an order inventory never held releases nothing.
    h.bus.publish(&declined("o-unknown")).await.expect("published");
    h.wait_applied("inventory", 3 + 1 + 2).await;
    published.assert_silent().await;
    assert_eq!(counts(&h, "tea").await, (5, 0, 0));
    inventory.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_dispatched_order_ships_what_it_held_and_stays_shipped() {
    let (h, inventory, mut published) = start_with_stock(&[("tea", 5)]).await;
    h.bus.publish(&placed("o1", &[("tea", 2)])).await.expect("published");
    published.next::<StockReserved>().await;

    h.bus.publish(&dispatched("o1")).await.expect("published");
    h.wait_applied("inventory", 1 + 1 + 1 + 1).await;
    assert_eq!(counts(&h, "tea").await, (3, 0, 2));

    // Shipped goods are not released by a late cancellation or a repeated dispatch.
    h.bus.publish(&cancelled("o1")).await.expect("published");
    h.bus.publish(&dispatched("o1")).await.expect("published");
    h.wait_applied("inventory", 6).await;
    published.assert_silent().await;
    assert_eq!(counts(&h, "tea").await, (3, 0, 2));
    inventory.shutdown().await.expect("clean shutdown");
}
