//! Shipping dispatches what orders confirmed: once per order, whatever the message ids.

use mandate::envelope::derived_id;
use mandate::{CallError, Running};
use schemas::orders::{OrderConfirmed, OrderLine};
use schemas::payments::PaymentCaptured;
use schemas::shipping::{GetShipment, GetShipmentRequest, ShipmentDispatched, ShipmentView};

use testkit::{Harness, Watch};

async fn start() -> (Harness, Running, Watch) {
    let h = Harness::new(&["orders", "payments"]).await;
    let running = h.start(shipping::component()).await;
    let published = h.watch("evt.shipping.>").await;
    (h, running, published)
}

fn confirmed(order: &str) -> OrderConfirmed {
    OrderConfirmed {
        order_id: order.into(),
        customer_id: format!("customer-of-{order}"),
        payment_id: format!("payment-{order}"),
        lines: vec![OrderLine {
            sku: "tea".into(),
            quantity: 2,
            unit_price_minor: 50,
        }],
        total_minor: 100,
        currency: "EUR".into(),
        confirmed_at: "2026-03-01T10:00:00Z".into(),
    }
}

fn captured(order: &str) -> PaymentCaptured {
    PaymentCaptured {
        payment_id: format!("payment-{order}"),
        order_id: order.into(),
        customer_id: format!("customer-of-{order}"),
        amount_minor: 100,
        currency: "EUR".into(),
    }
}

async fn shipment(h: &Harness, order: &str) -> Result<ShipmentView, CallError> {
    h.bus
        .call::<GetShipment>(&GetShipmentRequest { order_id: order.into() })
        .await
}

#[tokio::test]
async fn a_confirmed_order_is_dispatched_once_with_an_id_and_time_from_the_event() {
    let (h, shipping, mut published) = start().await;
    let confirmation = h.bus.publish(&confirmed("o1")).await.expect("published");
    let (meta, dispatched) = published.next::<ShipmentDispatched>().await;
    let expected_id = derived_id("shipping", &confirmation.id, "shipment");
    assert_eq!(
        dispatched,
        ShipmentDispatched {
            shipment_id: expected_id.clone(),
            order_id: "o1".into(),
            customer_id: "customer-of-o1".into(),
        }
    );
    assert_eq!(
        meta.correlation_id, confirmation.correlation_id,
        "one order, one correlation"
    );
    let first = ShipmentView {
        shipment_id: expected_id,
        order_id: "o1".into(),
        customer_id: "customer-of-o1".into(),
        dispatched_at: confirmation.time.clone(),
    };
    assert_eq!(shipment(&h, "o1").await.expect("a shipment"), first);

    // The same confirmation told again under new ids, at the same time or later, ships
    // nothing more: one shipment per order.
    testkit::resend(&h.bus, &confirmation, &confirmed("o1"), 1).await;
    testkit::resend(&h.bus, &confirmation, &confirmed("o1"), 2).await;
    h.bus.publish(&confirmed("o1")).await.expect("published");
    h.wait_applied("shipping", 4).await;
    published.assert_silent().await;
    assert_eq!(
        shipment(&h, "o1").await.expect("a shipment"),
        first,
        "the first shipment stands"
    );
    shipping.shutdown().await.expect("clean shutdown");
}

/// Finding 3: shipping dispatched on `payments.captured`, also for an order cancelled
/// while it was being captured. A capture is payments' fact, not orders' decision: alone,
/// it ships nothing.
#[tokio::test]
async fn a_capture_alone_ships_nothing() {
    let (h, shipping, mut published) = start().await;
    h.bus.publish(&captured("o1")).await.expect("published");
    // A confirmation published after it: once that is shipped, the capture was seen too
    // if shipping were reading payments' stream at all.
    h.bus.publish(&confirmed("o2")).await.expect("published");
    assert_eq!(published.next::<ShipmentDispatched>().await.1.order_id, "o2");
    published.assert_silent().await;
    let code = shipment(&h, "o1")
        .await
        .expect_err("no shipment")
        .service_error()
        .map(|e| e.code);
    assert_eq!(code, Some(404));
    shipping.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn orders_not_dispatched_have_no_shipment() {
    let (h, shipping, _published) = start().await;
    let code = |r: Result<ShipmentView, CallError>| r.expect_err("refused").service_error().map(|e| e.code);
    assert_eq!(code(shipment(&h, "nope").await), Some(404));
    assert_eq!(code(shipment(&h, "").await), Some(400));
    shipping.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_rebuild_reproduces_the_shipments_and_publishes_nothing_again() {
    let (h, shipping, mut published) = start().await;
    for order in ["o1", "o2", "o3"] {
        h.bus.publish(&confirmed(order)).await.expect("published");
        published.next::<ShipmentDispatched>().await;
    }
    let mut before = Vec::new();
    for order in ["o1", "o2", "o3"] {
        before.push(shipment(&h, order).await.expect("a shipment"));
    }

    h.rebuild("shipping").await;
    for (order, was) in ["o1", "o2", "o3"].into_iter().zip(&before) {
        assert_eq!(
            &shipment(&h, order).await.expect("a shipment"),
            was,
            "{order} rebuilt as it was"
        );
    }
    published.assert_silent().await;
    assert_eq!(h.stream_messages("EVT_SHIPPING").await, 3);

    // Past the replay point, normal again.
    h.bus.publish(&confirmed("o4")).await.expect("published");
    assert_eq!(published.next::<ShipmentDispatched>().await.1.order_id, "o4");
    shipping.shutdown().await.expect("clean shutdown");
}
