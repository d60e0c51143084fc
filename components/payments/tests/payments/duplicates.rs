//! Finding 5: a real event told again under a new `ce-id` is a new message to JetStream and
//! the kit, but the same fact. The ledger keeps one payment per order whose outcome, once
//! decided, stands: copies — same time, or later — charge, refund and change nothing.

use schemas::payments::{PaymentCaptured, PaymentDeclined, PaymentRefunded, PaymentView};

use crate::fixtures::{cancelled, payment, reserved, start};

#[tokio::test]
async fn facts_told_again_under_new_ids_change_nothing() {
    let (h, payments, mut published) = start().await;
    let reservation = h.bus.publish(&reserved("o1", 2_000, "tok")).await.expect("published");
    let (captured_meta, captured) = published.next::<PaymentCaptured>().await;
    let declined_reservation = h.bus.publish(&reserved("o2", 500, "decline")).await.expect("published");
    let (declined_meta, declined) = published.next::<PaymentDeclined>().await;
    let cancellation = h.bus.publish(&cancelled("o1")).await.expect("published");
    let (refunded_meta, refunded) = published.next::<PaymentRefunded>().await;
    let before: Vec<PaymentView> = vec![
        payment(&h, "o1").await.expect("a payment"),
        payment(&h, "o2").await.expect("a payment"),
    ];

    // Other owners' facts, each told twice more: a copy and a later telling.
    testkit::resend(&h.bus, &reservation, &reserved("o1", 2_000, "tok"), 1).await;
    h.bus
        .publish(&reserved("o1", 2_000, "tok"))
        .await
        .expect("a later copy");
    testkit::resend(&h.bus, &declined_reservation, &reserved("o2", 500, "decline"), 1).await;
    testkit::resend(&h.bus, &cancellation, &cancelled("o1"), 1).await;
    h.bus.publish(&cancelled("o1")).await.expect("a later copy");
    // Payments' own decisions told again (the watch sees the copies go by).
    testkit::resend(&h.bus, &captured_meta, &captured, 1).await;
    published.next::<PaymentCaptured>().await;
    testkit::resend(&h.bus, &declined_meta, &declined, 1).await;
    published.next::<PaymentDeclined>().await;
    testkit::resend(&h.bus, &refunded_meta, &refunded, 1).await;
    published.next::<PaymentRefunded>().await;

    // Its own stream is history to payments (it applies its own events as it emits them,
    // the kit's `own.rs`): the copies there are read by the next rebuild, which also meets
    // every other copy again.
    h.rebuild("payments").await;
    // Inventory: 2 + 3 reservations; orders: 1 + 2 cancellations; own: 3 + 3 copies.
    h.wait_applied("payments", 5 + 3 + 6).await;
    published.assert_silent().await;
    let after = vec![
        payment(&h, "o1").await.expect("a payment"),
        payment(&h, "o2").await.expect("a payment"),
    ];
    assert_eq!(after, before, "the ledger is as it was");
    payments.shutdown().await.expect("clean shutdown");
}
