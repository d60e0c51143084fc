//! The customer-facing events of the four owners, as the test injects them.

use mandate::envelope::Meta;
use mandate::{Event, Running};
use schemas::inventory::{Shortage, StockRejected};
use schemas::notifications::{ListNotifications, ListNotificationsRequest, Notification};
use schemas::orders::{OrderCancelled, OrderCompleted, OrderLine, OrderPlaced, OrderPlacedV2};
use schemas::paging::Page;
use schemas::payments::{PaymentDeclined, PaymentRefunded};
use schemas::shipping::ShipmentDispatched;

use testkit::Harness;

pub async fn start() -> (Harness, Running) {
    let h = Harness::new(&["orders", "inventory", "payments", "shipping"]).await;
    let running = h.start(notifications::component()).await;
    (h, running)
}

/// Publishes `event` as its owner would, with `ce-time` = `time`.
pub async fn publish_at<E: Event>(h: &Harness, event: &E, time: &str) -> Meta {
    let mut meta = Meta::originate(E::OWNER, E::ce_type());
    meta.time = time.into();
    let body = rmp_serde::to_vec_named(event).expect("encodes");
    h.bus
        .publish_raw(&E::subject(), meta.to_headers(), body.into())
        .await
        .expect("published");
    meta
}

pub async fn list(h: &Harness, customer: &str, after: Option<String>, limit: u32) -> Page<Notification> {
    h.bus
        .call::<ListNotifications>(&ListNotificationsRequest {
            customer_id: customer.into(),
            after,
            limit,
        })
        .await
        .expect("a page")
}

/// Every message of `customer`, once `count` are there.
pub async fn inbox(h: &Harness, customer: &str, count: usize) -> Vec<Notification> {
    testkit::eventually(&format!("{count} messages for {customer}"), || async {
        let page = list(h, customer, None, 100).await;
        (page.items.len() >= count).then_some(page.items)
    })
    .await
}

pub fn placed(order: &str, customer: &str) -> OrderPlaced {
    OrderPlaced {
        order_id: order.into(),
        customer_id: customer.into(),
        lines: vec![OrderLine {
            sku: "tea".into(),
            quantity: 2,
            unit_price_minor: 225,
        }],
        total_minor: 450,
        currency: "EUR".into(),
        payment_token: String::new(),
        idempotency_key: order.into(),
        placed_at: String::new(),
    }
}

/// The same order as `orders.placed.v2` carries it: 0.75 EUR of its 4.50 EUR is tax.
pub fn placed_v2(order: &str, customer: &str) -> OrderPlacedV2 {
    let mut v2 = OrderPlacedV2::from(placed(order, customer));
    v2.lines[0].tax_minor = 75;
    (v2.tax_minor, v2.subtotal_minor) = (75, 375);
    v2.check().expect("a consistent v2");
    v2
}

/// The v1 orders publishes beside `v2` during the migration.
pub fn v1_twin(v2: &OrderPlacedV2) -> OrderPlaced {
    OrderPlaced::from(v2)
}

pub fn cancelled(order: &str, customer: &str) -> OrderCancelled {
    OrderCancelled {
        order_id: order.into(),
        customer_id: customer.into(),
        reason: "changed my mind".into(),
    }
}

pub fn completed(order: &str, customer: &str) -> OrderCompleted {
    OrderCompleted {
        order_id: order.into(),
        customer_id: customer.into(),
        total_minor: 450,
        currency: "EUR".into(),
    }
}

pub fn rejected(order: &str, customer: &str) -> StockRejected {
    StockRejected {
        order_id: order.into(),
        customer_id: customer.into(),
        reason: "out of stock".into(),
        shortages: vec![Shortage {
            sku: "tea".into(),
            requested: 2,
            available: 0,
        }],
    }
}

pub fn declined(order: &str, customer: &str) -> PaymentDeclined {
    PaymentDeclined {
        order_id: order.into(),
        customer_id: customer.into(),
        amount_minor: 450,
        currency: "EUR".into(),
        reason: "the card was declined".into(),
    }
}

pub fn refunded(order: &str, customer: &str) -> PaymentRefunded {
    PaymentRefunded {
        payment_id: format!("payment-{order}"),
        order_id: order.into(),
        customer_id: customer.into(),
        amount_minor: 450,
        currency: "EUR".into(),
    }
}

pub fn dispatched(order: &str, customer: &str) -> ShipmentDispatched {
    ShipmentDispatched {
        shipment_id: format!("shipment-{order}"),
        order_id: order.into(),
        customer_id: customer.into(),
    }
}
