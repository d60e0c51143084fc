use schemas::notifications::{ListNotifications, ListNotificationsRequest, Notification};

use crate::fixtures::{
    cancelled, completed, declined, dispatched, inbox, list, placed, publish_at, refunded, rejected, start,
};

/// One message per customer-facing event, carrying the event's id, time and type.
#[tokio::test]
async fn every_customer_facing_event_becomes_one_message() {
    let (h, notifications) = start().await;
    let at = |second: u32| format!("2026-03-01T10:00:{second:02}Z");
    let sent = [
        publish_at(&h, &placed("o1", "alice"), &at(1)).await,
        publish_at(&h, &rejected("o1", "alice"), &at(2)).await,
        publish_at(&h, &declined("o1", "alice"), &at(3)).await,
        publish_at(&h, &refunded("o1", "alice"), &at(4)).await,
        publish_at(&h, &dispatched("o1", "alice"), &at(5)).await,
        publish_at(&h, &completed("o1", "alice"), &at(6)).await,
        publish_at(&h, &cancelled("o1", "alice"), &at(7)).await,
    ];
    let messages = inbox(&h, "alice", sent.len()).await;
    let expected_texts = [
        "Thank you! We have your order o1: 2 items, 4.50 EUR.",
        "Sorry, we could not reserve your order o1: not enough tea in stock.",
        "Your payment of 4.50 EUR for order o1 was declined (the card was declined). Nothing was charged.",
        "We refunded 4.50 EUR for your order o1.",
        "Your order o1 is on its way (shipment shipment-o1).",
        "Your order o1 is complete: paid 4.50 EUR and dispatched. Enjoy!",
        "Your order o1 is cancelled (changed my mind).",
    ];
    assert_eq!(messages.len(), sent.len());
    for ((message, meta), text) in messages.iter().zip(&sent).zip(expected_texts) {
        assert_eq!(
            message,
            &Notification {
                id: meta.id.clone(),
                customer_id: "alice".into(),
                order_id: "o1".into(),
                kind: meta.kind.clone(),
                message: text.into(),
                at: meta.time.clone(),
            }
        );
    }
    notifications.shutdown().await.expect("clean shutdown");
}

/// Shipping's stream may be read before orders': the list follows the events' times, not
/// their arrival — also across time zones and second fractions.
#[tokio::test]
async fn messages_are_listed_in_the_order_things_happened_not_the_order_they_arrived() {
    let (h, notifications) = start().await;
    let dispatched = publish_at(&h, &dispatched("o1", "bob"), "2026-03-01T10:00:00.5Z").await;
    let completed = publish_at(&h, &completed("o1", "bob"), "2026-03-01T10:00:01Z").await;
    let placed = publish_at(&h, &placed("o1", "bob"), "2026-03-01T12:00:00+02:00").await;
    let declined = publish_at(&h, &declined("o0", "bob"), "2026-03-01T09:59:59.999Z").await;
    let ids: Vec<String> = inbox(&h, "bob", 4).await.into_iter().map(|m| m.id).collect();
    assert_eq!(ids, [declined.id, placed.id, dispatched.id, completed.id]);
    notifications.shutdown().await.expect("clean shutdown");
}

/// The same event delivered twice (here: the same ce-id under another de-duplication id, so
/// the stream keeps both) is still one message.
#[tokio::test]
async fn an_event_delivered_twice_is_one_message() {
    let (h, notifications) = start().await;
    let meta = publish_at(&h, &placed("o1", "carol"), "2026-03-01T10:00:00Z").await;
    let mut headers = meta.to_headers();
    headers.insert("Nats-Msg-Id", "another-delivery");
    let body = rmp_serde::to_vec_named(&placed("o1", "carol")).expect("encodes");
    h.bus
        .publish_raw("evt.orders.placed.v1", headers, body.into())
        .await
        .expect("published");
    publish_at(&h, &dispatched("o1", "carol"), "2026-03-01T10:00:01Z").await;
    h.wait_applied("notifications", 3).await;
    let messages = inbox(&h, "carol", 2).await;
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0].id, meta.id);
    notifications.shutdown().await.expect("clean shutdown");
}

/// Finding 5: an event told again under a new `ce-id` — a copy with the same time, or a
/// later one — is a new message to the kit but the same fact: the customer hears of each
/// (order, kind of event) once, the first telling.
#[tokio::test]
async fn an_event_told_again_under_a_new_id_is_still_one_message() {
    let (h, notifications) = start().await;
    let at = |second: u32| format!("2026-03-01T10:00:{second:02}Z");
    let later = |second: u32| format!("2026-03-01T11:00:{second:02}Z");
    macro_rules! told_three_times {
        ($event:expr, $second:expr) => {{
            let event = $event;
            let first = publish_at(&h, &event, &at($second)).await;
            testkit::resend(&h.bus, &first, &event, 1).await;
            publish_at(&h, &event, &later($second)).await;
            first
        }};
    }
    let first = [
        told_three_times!(placed("o1", "grace"), 1),
        told_three_times!(rejected("o1", "grace"), 2),
        told_three_times!(declined("o1", "grace"), 3),
        told_three_times!(refunded("o1", "grace"), 4),
        told_three_times!(dispatched("o1", "grace"), 5),
        told_three_times!(completed("o1", "grace"), 6),
        told_three_times!(cancelled("o1", "grace"), 7),
    ];
    h.wait_applied("notifications", 3 * first.len() as u64).await;
    let messages = list(&h, "grace", None, 100).await.items;
    let told: Vec<(&str, &str)> = messages.iter().map(|m| (m.kind.as_str(), m.id.as_str())).collect();
    let expected: Vec<(&str, &str)> = first.iter().map(|m| (m.kind.as_str(), m.id.as_str())).collect();
    assert_eq!(told, expected, "one message per kind of event, from its first telling");

    // Another order's events are other facts.
    publish_at(&h, &dispatched("o2", "grace"), &at(8)).await;
    assert_eq!(inbox(&h, "grace", 8).await.len(), 8);
    notifications.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_customer_sees_only_their_messages_oldest_first_in_pages() {
    let (h, notifications) = start().await;
    for minute in 0..5 {
        let order = format!("o{minute}");
        publish_at(&h, &placed(&order, "dave"), &format!("2026-03-01T10:0{minute}:00Z")).await;
    }
    publish_at(&h, &placed("x1", "dave/eve"), "2026-03-01T10:00:30Z").await;
    publish_at(&h, &placed("x2", "dav"), "2026-03-01T10:00:30Z").await;
    h.wait_applied("notifications", 7).await;

    let orders = |page: &schemas::paging::Page<Notification>| -> Vec<String> {
        page.items.iter().map(|m| m.order_id.clone()).collect()
    };
    let first = list(&h, "dave", None, 2).await;
    assert_eq!(orders(&first), ["o0", "o1"]);
    let second = list(&h, "dave", first.next.clone(), 2).await;
    assert_eq!(orders(&second), ["o2", "o3"]);
    let last = list(&h, "dave", second.next.clone(), 2).await;
    assert_eq!(orders(&last), ["o4"]);
    assert_eq!(last.next, None, "the last page has no next");
    assert_eq!(
        list(&h, "dave", None, 0).await.items.len(),
        5,
        "limit 0 is the default size"
    );
    assert_eq!(orders(&list(&h, "dave/eve", None, 0).await), ["x1"]);
    assert!(
        list(&h, "nobody", None, 0).await.items.is_empty(),
        "no messages is an empty list"
    );

    for (customer, after) in [("", None), ("dave", Some("customer/dav/".to_owned()))] {
        let err = h
            .bus
            .call::<ListNotifications>(&ListNotificationsRequest {
                customer_id: customer.into(),
                after,
                limit: 0,
            })
            .await
            .expect_err("refused");
        assert_eq!(err.service_error().map(|e| e.code), Some(400));
    }
    // Another customer's cursor does not leak their messages either.
    let err = h
        .bus
        .call::<ListNotifications>(&ListNotificationsRequest {
            customer_id: "dav".into(),
            after: first.next,
            limit: 0,
        })
        .await
        .expect_err("refused");
    assert_eq!(err.service_error().map(|e| e.code), Some(400));
    notifications.shutdown().await.expect("clean shutdown");
}

/// An event that names no customer, or no order, cannot be filed; it is dead-lettered, not
/// dropped.
#[tokio::test]
async fn an_event_without_a_customer_or_an_order_is_dead_lettered() {
    let (h, notifications) = start().await;
    publish_at(&h, &rejected("o1", ""), "2026-03-01T10:00:00Z").await;
    publish_at(&h, &dispatched("", "frank"), "2026-03-01T10:00:00Z").await;
    publish_at(&h, &placed("o2", "frank"), "2026-03-01T10:00:01Z").await;
    assert_eq!(inbox(&h, "frank", 1).await.len(), 1, "the other events are handled");
    testkit::eventually("the events to be dead-lettered", || async {
        let status = h.bus.status("notifications").await.ok()?;
        (status.dead_letters == 2).then_some(())
    })
    .await;
    assert_eq!(h.stream_messages("DLQ").await, 2);
    notifications.shutdown().await.expect("clean shutdown");
}
