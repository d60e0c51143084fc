//! orders as three partitions by `order` (its manifest's `partitions`), called only on the
//! public subjects: an order is placed in the partition of its idempotency key with an id in
//! the same slot, so every later call and event about it lands there; a customer's orders are
//! listed across partitions, oldest first, in pages.

use mandate::partition::slot_of;
use mandate::{Options, Running};
use schemas::orders::{ListOrders, ListOrdersRequest, OrderStatus};

use crate::fixtures::{Harness, captured, code, reserved};

fn partition(h: &Harness, index: u32) -> Options {
    let mut options = h.kit.options();
    options.partitions = 3;
    options.partition = index;
    options
}

async fn start_partitions(h: &Harness) -> Vec<Running> {
    let mut running = Vec::new();
    for index in 0..3 {
        running.push(h.kit.start_with(orders::component(), partition(h, index)).await);
    }
    running
}

#[tokio::test]
async fn orders_run_as_three_partitions_behind_the_public_subjects() {
    let h = Harness::new().await;
    let running = start_partitions(&h).await;
    h.price("mug", 100).await;
    let mut placed = Vec::new();
    // Any idempotency key routes: one that cannot be a subject token has a slot too.
    for i in 0..9 {
        let key = if i == 4 {
            "key.4 *".to_owned()
        } else {
            format!("key-{i}")
        };
        let order = h.place_when_priced(&key, &[("mug", 1)]).await;
        assert_eq!(
            slot_of(&order.order_id),
            slot_of(&key),
            "the order's id is in the slot of the key that routed its placing"
        );
        let again = h.place(&key, &[("mug", 1)]).await.expect("placed again");
        assert_eq!(again.order_id, order.order_id, "a retry reaches the same partition");
        placed.push(order);
    }
    // Every later event about an order reaches the partition that placed it.
    for order in &placed {
        h.bus.publish(&reserved(order)).await.expect("published");
        h.bus.publish(&captured(order)).await.expect("published");
    }
    for order in &placed {
        h.status_becomes(&order.order_id, OrderStatus::Paid).await;
    }
    assert_eq!(
        code(h.cancel(&placed[0].order_id).await),
        409,
        "paid: its owner knows, whichever partition the call reached"
    );

    // The customer's orders, gathered from every partition, oldest first, two a page.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = h
            .bus
            .call::<ListOrders>(&ListOrdersRequest {
                customer_id: "alice".into(),
                after,
                limit: 2,
            })
            .await
            .expect("listed");
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|o| o.order_id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let ids: Vec<String> = placed.iter().map(|o| o.order_id.clone()).collect();
    assert_eq!(seen, ids);
    for r in running {
        r.shutdown().await.expect("clean shutdown");
    }
}
