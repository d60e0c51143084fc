//! An order's lifecycle: orders is its authority. It confirms a paid order (from here it
//! cannot be cancelled) or accepts a cancellation (from here it is never confirmed); every
//! order ends in one terminal state; and a fact told twice, under any id, counts once.

use mandate::Event;
use schemas::orders::{OrderCompleted, OrderConfirmed, OrderLine, OrderStatus, OrderView};

use crate::fixtures::{Harness, captured, code, declined, dispatched, rejected, reserved, statuses, terminal_steps};

use OrderStatus::{Cancelled, Completed, Paid, PaymentDeclined, Placed, Rejected, Reserved};

/// What orders should confirm for `order`, paid by `captured(order)` at `at`.
fn confirmation(order: &OrderView, at: &str) -> OrderConfirmed {
    OrderConfirmed {
        order_id: order.order_id.clone(),
        customer_id: order.customer_id.clone(),
        payment_id: captured(order).payment_id,
        lines: order.lines.clone(),
        total_minor: order.total_minor,
        currency: order.currency.clone(),
        confirmed_at: at.to_owned(),
    }
}

#[tokio::test]
async fn a_capture_confirms_the_order_once_and_dispatch_completes_it() {
    let h = Harness::new().await;
    let running = h.start().await;
    h.price("mug", 1000).await;
    let mut confirmations = h.kit.watch(&OrderConfirmed::subject()).await;
    let mut completions = h.kit.watch("evt.orders.completed.v1").await;
    let a = h.place_when_priced("a", &[("mug", 1)]).await;
    let b = h.place_when_priced("b", &[("mug", 2)]).await;

    // a: in causal order.
    h.bus.publish(&reserved(&a)).await.expect("published");
    h.status_becomes(&a.order_id, Reserved).await;
    let capture = h.bus.publish(&captured(&a)).await.expect("published");
    let (meta, confirmed) = confirmations.next::<OrderConfirmed>().await;
    assert_eq!(confirmed, confirmation(&a, &capture.time));
    assert_eq!(
        meta.correlation_id, capture.correlation_id,
        "one order, one correlation"
    );
    h.status_becomes(&a.order_id, Paid).await;
    h.bus.publish(&dispatched(&a)).await.expect("published");
    let a_done = h.status_becomes(&a.order_id, Completed).await;
    assert_eq!(statuses(&a_done), [Placed, Reserved, Paid, Completed]);
    assert_eq!(completions.next::<OrderCompleted>().await.1.order_id, a.order_id);

    // b: payments' stream read before inventory's (no order between two owners' streams).
    h.bus.publish(&captured(&b)).await.expect("published");
    assert_eq!(confirmations.next::<OrderConfirmed>().await.1.order_id, b.order_id);
    h.bus.publish(&reserved(&b)).await.expect("published");
    h.all_applied().await;
    let b_paid = h.get(&b.order_id).await.expect("found");
    assert_eq!(b_paid.status, Paid, "never moved back");
    // The history is in the order things happened: here the test captured first.
    assert_eq!(statuses(&b_paid), [Placed, Paid, Reserved]);
    h.bus.publish(&dispatched(&b)).await.expect("published");
    h.status_becomes(&b.order_id, Completed).await;
    assert_eq!(completions.next::<OrderCompleted>().await.1.order_id, b.order_id);

    confirmations.assert_silent().await;
    completions.assert_silent().await;
    running.shutdown().await.expect("clean shutdown");
}

/// The race of finding 3: the customer cancels while payments is capturing. The capture
/// reaches orders after the accepted cancellation: it confirms nothing (so shipping never
/// hears of the order), the order stays cancelled, and its history has one end.
#[tokio::test]
async fn a_capture_after_an_accepted_cancel_confirms_nothing() {
    let h = Harness::new().await;
    let running = h.start().await;
    h.price("mug", 1000).await;
    let mut confirmations = h.kit.watch(&OrderConfirmed::subject()).await;
    let order = h.place_when_priced("x", &[("mug", 1)]).await;
    h.bus.publish(&reserved(&order)).await.expect("published");
    h.status_becomes(&order.order_id, Reserved).await;
    assert_eq!(h.cancel(&order.order_id).await.expect("cancelled").status, Cancelled);

    h.bus.publish(&captured(&order)).await.expect("published");
    h.all_applied().await;
    confirmations.assert_silent().await;
    let after = h.get(&order.order_id).await.expect("found");
    assert_eq!(after.status, Cancelled);
    assert_eq!(statuses(&after), [Placed, Reserved, Cancelled]);
    running.shutdown().await.expect("clean shutdown");
}

/// The race of finding 4: a cancellation accepted while inventory's rejection or payments'
/// decline was on its way. The cancellation was promised to the customer: it stands, and
/// the late outcome does not become a second terminal state.
#[tokio::test]
async fn a_rejection_or_decline_after_an_accepted_cancel_leaves_one_terminal_state() {
    let h = Harness::new().await;
    let running = h.start().await;
    h.price("mug", 1000).await;
    let unreserved = h.place_when_priced("r", &[("mug", 1)]).await;
    let reserved_one = h.place_when_priced("d", &[("mug", 1)]).await;
    h.bus.publish(&reserved(&reserved_one)).await.expect("published");
    h.status_becomes(&reserved_one.order_id, Reserved).await;
    for order in [&unreserved, &reserved_one] {
        h.cancel(&order.order_id).await.expect("cancelled");
    }

    h.bus.publish(&rejected(&unreserved)).await.expect("published");
    h.bus.publish(&declined(&reserved_one)).await.expect("published");
    h.all_applied().await;
    let (r, d) = (
        h.get(&unreserved.order_id).await.expect("found"),
        h.get(&reserved_one.order_id).await.expect("found"),
    );
    assert_eq!((r.status, statuses(&r)), (Cancelled, vec![Placed, Cancelled]));
    assert_eq!((d.status, statuses(&d)), (Cancelled, vec![Placed, Reserved, Cancelled]));
    running.shutdown().await.expect("clean shutdown");
}

/// Finding 5: a real event published again under a new `ce-id` (same body; the same time,
/// or a later one) is a new message to JetStream and the kit, but the same fact: the
/// order's history gains nothing, and nothing is confirmed or completed twice.
#[tokio::test]
async fn an_event_told_again_under_a_new_id_changes_the_order_once() {
    let h = Harness::new().await;
    let running = h.start().await;
    h.price("mug", 1000).await;
    let mut confirmations = h.kit.watch(&OrderConfirmed::subject()).await;
    let mut completions = h.kit.watch(&OrderCompleted::subject()).await;
    let order = h.place_when_priced("k", &[("mug", 1)]).await;

    let reservation = h.bus.publish(&reserved(&order)).await.expect("published");
    testkit::resend(&h.bus, &reservation, &reserved(&order), 1).await;
    h.bus.publish(&reserved(&order)).await.expect("a later copy");
    let capture = h.bus.publish(&captured(&order)).await.expect("published");
    testkit::resend(&h.bus, &capture, &captured(&order), 1).await;
    testkit::resend(&h.bus, &capture, &captured(&order), 2).await;
    let (confirmed_meta, confirmed) = confirmations.next::<OrderConfirmed>().await;
    // Orders' own confirmation told again: the watch sees the copy, orders changes nothing.
    testkit::resend(&h.bus, &confirmed_meta, &confirmed, 1).await;
    confirmations.next::<OrderConfirmed>().await;
    let dispatch = h.bus.publish(&dispatched(&order)).await.expect("published");
    testkit::resend(&h.bus, &dispatch, &dispatched(&order), 1).await;
    h.bus.publish(&dispatched(&order)).await.expect("a later copy");
    assert_eq!(completions.next::<OrderCompleted>().await.1.order_id, order.order_id);
    h.all_applied().await;
    confirmations.assert_silent().await;
    completions.assert_silent().await;

    let done = h.get(&order.order_id).await.expect("found");
    assert_eq!(done.status, Completed);
    assert_eq!(statuses(&done), [Placed, Reserved, Paid, Completed], "{done:?}");
    let times: Vec<&str> = done.history[1..].iter().map(|c| c.at.as_str()).collect();
    assert_eq!(
        times,
        [&reservation.time, &capture.time, &dispatch.time],
        "each step at the time of its first telling"
    );
    running.shutdown().await.expect("clean shutdown");
}

/// A cancellation told again under a new id is one cancellation.
#[tokio::test]
async fn a_cancellation_told_again_is_one_cancellation() {
    let h = Harness::new().await;
    let running = h.start().await;
    h.price("mug", 1000).await;
    let order = h.place_when_priced("c", &[("mug", 1)]).await;
    h.cancel(&order.order_id).await.expect("cancelled");
    let message = h
        .kit
        .read_stream("EVT_ORDERS")
        .await
        .into_iter()
        .find(|m| mandate::partition::event_subject(&m.subject) == "evt.orders.cancelled.v1")
        .expect("the cancellation in the stream");
    let meta = mandate::envelope::Meta::from_headers(message.headers.as_ref()).expect("an envelope");
    let cancelled: schemas::orders::OrderCancelled = rmp_serde::from_slice(&message.payload).expect("decodes");
    for copy in 1..=3 {
        testkit::resend(&h.bus, &meta, &cancelled, copy).await;
    }
    h.all_applied().await;
    let after = h.get(&order.order_id).await.expect("found");
    assert_eq!(statuses(&after), [Placed, Cancelled], "{after:?}");
    running.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn cancelling_is_allowed_until_confirmed_and_an_ended_order_is_a_conflict() {
    let h = Harness::new().await;
    let running = h.start().await;
    h.price("mug", 1000).await;
    let mut orders = Vec::new();
    for key in ["open", "paid", "completed", "rejected", "declined"] {
        orders.push(h.place_when_priced(key, &[("mug", 1)]).await);
    }
    let [open, paid, completed, rejected_one, declined_one] = &orders[..] else {
        unreachable!()
    };
    for order in [paid, completed, declined_one] {
        h.bus.publish(&reserved(order)).await.expect("published");
    }
    for order in [paid, completed] {
        h.bus.publish(&captured(order)).await.expect("published");
    }
    // Confirmed before the dispatch, as shipping would have it (three streams, no order).
    h.status_becomes(&completed.order_id, Paid).await;
    h.bus.publish(&dispatched(completed)).await.expect("published");
    h.bus.publish(&rejected(rejected_one)).await.expect("published");
    h.bus.publish(&declined(declined_one)).await.expect("published");
    h.status_becomes(&paid.order_id, Paid).await;
    h.status_becomes(&completed.order_id, Completed).await;
    h.status_becomes(&rejected_one.order_id, Rejected).await;
    h.status_becomes(&declined_one.order_id, PaymentDeclined).await;

    let cancelled = h.cancel(&open.order_id).await.expect("cancelled");
    assert_eq!(cancelled.status, Cancelled);
    assert_eq!(cancelled.history[1].note, "changed my mind");
    let conflicts = [
        (open, "already cancelled"),
        (paid, "confirmed"),
        (completed, "completed"),
        (rejected_one, "rejected"),
        (declined_one, "payment-declined"),
    ];
    for (order, says) in conflicts {
        let err = h.cancel(&order.order_id).await.expect_err("refused");
        let error = err.service_error().expect("a typed error");
        assert_eq!(error.code, 409, "{order:?}");
        assert!(error.message.contains(says), "{:?} should say {says:?}", error.message);
        let after = h.get(&order.order_id).await.expect("found");
        assert!(terminal_steps(&after) <= 1, "{after:?}");
    }
    assert_eq!(code(h.cancel("missing").await), 404);
    running.shutdown().await.expect("clean shutdown");
}

/// Confirmation carries what shipping delivers: the order's lines as placed.
#[tokio::test]
async fn a_confirmation_names_the_lines_to_deliver() {
    let h = Harness::new().await;
    let running = h.start().await;
    h.price("mug", 1250).await;
    h.price("tea", 499).await;
    let mut confirmations = h.kit.watch(&OrderConfirmed::subject()).await;
    let order = h.place_when_priced("two", &[("mug", 2), ("tea", 1)]).await;
    h.bus.publish(&captured(&order)).await.expect("published");
    let (_, confirmed) = confirmations.next::<OrderConfirmed>().await;
    let lines: Vec<(&str, u32)> = confirmed
        .lines
        .iter()
        .map(|OrderLine { sku, quantity, .. }| (sku.as_str(), *quantity))
        .collect();
    assert_eq!(lines, [("mug", 2), ("tea", 1)]);
    assert_eq!(confirmed.total_minor, 2 * 1250 + 499);
    running.shutdown().await.expect("clean shutdown");
}
