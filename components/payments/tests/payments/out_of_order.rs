//! Orders' and inventory's streams reach payments in any order relative to each other.

use schemas::payments::{PaymentDeclined, PaymentStatus};

use crate::fixtures::{cancelled, payment, reserved, start, status_code};

#[tokio::test]
async fn a_cancellation_seen_before_the_reservation_voids_the_charge() {
    let (h, payments, mut published) = start().await;
    h.bus.publish(&cancelled("o1")).await.expect("published");
    h.wait_applied("payments", 1).await;
    assert_eq!(status_code(payment(&h, "o1").await), 404, "a marker is not a payment");

    h.bus.publish(&reserved("o1", 700, "tok")).await.expect("published");
    h.wait_applied("payments", 2).await;
    published.assert_silent().await;
    let view = payment(&h, "o1").await.expect("a voided payment");
    assert_eq!(view.status, PaymentStatus::Voided);
    assert_eq!((view.amount_minor, view.payment_id), (700, None));

    // Voided is final.
    h.bus.publish(&reserved("o1", 700, "tok")).await.expect("published");
    h.bus.publish(&cancelled("o1")).await.expect("published");
    h.wait_applied("payments", 4).await;
    published.assert_silent().await;
    assert_eq!(
        payment(&h, "o1").await.expect("a payment").status,
        PaymentStatus::Voided
    );
    payments.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_cancellation_after_a_decline_refunds_nothing() {
    let (h, payments, mut published) = start().await;
    h.bus.publish(&reserved("o1", 700, "decline")).await.expect("published");
    published.next::<PaymentDeclined>().await;
    h.bus.publish(&cancelled("o1")).await.expect("published");
    // Inventory 1; orders 1; own: declined.
    h.wait_applied("payments", 3).await;
    published.assert_silent().await;
    assert_eq!(
        payment(&h, "o1").await.expect("a payment").status,
        PaymentStatus::Declined
    );
    payments.shutdown().await.expect("clean shutdown");
}
