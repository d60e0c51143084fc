use schemas::payments::{
    DEFAULT_CUSTOMER_LIMIT_MINOR, PaymentCaptured, PaymentDeclined, PaymentRefunded, PaymentStatus, PaymentView,
};

use crate::fixtures::{cancelled, payment, reserved, start, status_code};

#[tokio::test]
async fn a_reserved_order_is_captured_once() {
    let (h, payments, mut published) = start().await;
    h.bus
        .publish(&reserved("o1", 4_500, "tok_visa"))
        .await
        .expect("published");
    let (_, captured) = published.next::<PaymentCaptured>().await;
    assert!(!captured.payment_id.is_empty());
    assert_eq!(
        captured,
        PaymentCaptured {
            payment_id: captured.payment_id.clone(),
            order_id: "o1".into(),
            customer_id: "customer-of-o1".into(),
            amount_minor: 4_500,
            currency: "EUR".into(),
        }
    );
    assert_eq!(
        payment(&h, "o1").await.expect("a payment"),
        PaymentView {
            order_id: "o1".into(),
            customer_id: "customer-of-o1".into(),
            status: PaymentStatus::Captured,
            amount_minor: 4_500,
            currency: "EUR".into(),
            payment_id: Some(captured.payment_id.clone()),
            reason: None,
        }
    );

    // A second reservation event for the same order charges nothing more.
    h.bus
        .publish(&reserved("o1", 4_500, "tok_visa"))
        .await
        .expect("published");
    // Inventory: two reservations; own: one capture.
    h.wait_applied("payments", 3).await;
    published.assert_silent().await;
    assert_eq!(
        payment(&h, "o1").await.expect("a payment").payment_id,
        Some(captured.payment_id)
    );
    payments.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn the_simulated_provider_declines_by_token_and_by_limit() {
    let (h, payments, mut published) = start().await;
    let cases = [
        ("o-decline", DEFAULT_CUSTOMER_LIMIT_MINOR, "decline", false),
        ("o-decline-dash", 100, "decline-insufficient-funds", false),
        ("o-over", DEFAULT_CUSTOMER_LIMIT_MINOR + 1, "tok_visa", false),
        ("o-at-limit", DEFAULT_CUSTOMER_LIMIT_MINOR, "tok_visa", true),
        ("o-declined-word", 100, "declined", true),
    ];
    for (order, amount, token, captured) in cases {
        h.bus.publish(&reserved(order, amount, token)).await.expect("published");
        if captured {
            assert_eq!(published.next::<PaymentCaptured>().await.1.order_id, order);
        } else {
            let (_, declined) = published.next::<PaymentDeclined>().await;
            assert_eq!((declined.order_id.as_str(), declined.amount_minor), (order, amount));
            let view = payment(&h, order).await.expect("a payment");
            assert_eq!(view.status, PaymentStatus::Declined);
            assert_eq!(view.reason, Some(declined.reason.clone()));
            assert_eq!(view.payment_id, None);
        }
    }
    let over = payment(&h, "o-over").await.expect("a payment");
    assert!(over.reason.is_some_and(|r| r.contains("limit")));
    payments.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn cancelling_a_captured_order_refunds_it_once() {
    let (h, payments, mut published) = start().await;
    h.bus.publish(&reserved("o1", 2_000, "tok")).await.expect("published");
    let (_, captured) = published.next::<PaymentCaptured>().await;

    h.bus.publish(&cancelled("o1")).await.expect("published");
    let (_, refunded) = published.next::<PaymentRefunded>().await;
    assert_eq!(
        refunded,
        PaymentRefunded {
            payment_id: captured.payment_id.clone(),
            order_id: "o1".into(),
            customer_id: "customer-of-o1".into(),
            amount_minor: 2_000,
            currency: "EUR".into(),
        }
    );
    let view = payment(&h, "o1").await.expect("a payment");
    assert_eq!(
        (view.status, view.payment_id),
        (PaymentStatus::Refunded, Some(captured.payment_id))
    );

    h.bus.publish(&cancelled("o1")).await.expect("published");
    // Inventory 1; orders 2; own: captured, refunded.
    h.wait_applied("payments", 5).await;
    published.assert_silent().await;
    payments.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn unknown_orders_have_no_payment() {
    let (h, payments, _published) = start().await;
    assert_eq!(status_code(payment(&h, "nope").await), 404);
    assert_eq!(status_code(payment(&h, "").await), 400);
    payments.shutdown().await.expect("clean shutdown");
}
