use schemas::payments::{PaymentCaptured, PaymentDeclined, PaymentRefunded, PaymentStatus, PaymentView};

use crate::fixtures::{cancelled, payment, reserved, start};
use testkit::Harness;

const ORDERS: [&str; 4] = ["captured", "refunded", "declined", "voided"];

async fn ledger(h: &Harness) -> Vec<PaymentView> {
    let mut views = Vec::new();
    for order in ORDERS {
        views.push(payment(h, order).await.expect("a payment"));
    }
    views
}

/// Payments consumes three streams; a rebuild re-reads them concurrently, in an
/// interleaving unlike the first run's (a cancellation may come back before the capture it
/// followed), and must still reach the same ledger without charging or refunding again.
#[tokio::test]
async fn a_rebuild_reproduces_the_ledger_and_publishes_nothing_again() {
    let (h, payments, mut published) = start().await;
    h.bus
        .publish(&reserved("captured", 100, "tok"))
        .await
        .expect("published");
    published.next::<PaymentCaptured>().await;
    h.bus
        .publish(&reserved("refunded", 200, "tok"))
        .await
        .expect("published");
    published.next::<PaymentCaptured>().await;
    h.bus.publish(&cancelled("refunded")).await.expect("published");
    published.next::<PaymentRefunded>().await;
    h.bus
        .publish(&reserved("declined", 300, "decline"))
        .await
        .expect("published");
    published.next::<PaymentDeclined>().await;
    h.bus.publish(&cancelled("declined")).await.expect("published");
    h.bus.publish(&cancelled("voided")).await.expect("published");
    // Inventory 3; orders 3; own: 2 captured, 1 refunded, 1 declined.
    h.wait_applied("payments", 3 + 3 + 4).await;
    h.bus.publish(&reserved("voided", 400, "tok")).await.expect("published");
    h.wait_applied("payments", 4 + 3 + 4).await;
    published.assert_silent().await;
    let before = ledger(&h).await;
    let statuses: Vec<PaymentStatus> = before.iter().map(|v| v.status).collect();
    assert_eq!(
        statuses,
        [
            PaymentStatus::Captured,
            PaymentStatus::Refunded,
            PaymentStatus::Declined,
            PaymentStatus::Voided
        ]
    );
    assert_eq!(h.stream_messages("EVT_PAYMENTS").await, 4);

    h.rebuild("payments").await;
    assert_eq!(ledger(&h).await, before, "the same ledger after the rebuild");
    published.assert_silent().await;
    assert_eq!(h.stream_messages("EVT_PAYMENTS").await, 4);

    // Rebuilt, not just restored: the captured order still refunds on cancellation, with
    // the payment id of the first run.
    h.bus.publish(&cancelled("captured")).await.expect("published");
    let (_, refunded) = published.next::<PaymentRefunded>().await;
    assert_eq!(Some(refunded.payment_id), before[0].payment_id);
    payments.shutdown().await.expect("clean shutdown");
}
