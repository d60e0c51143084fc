use std::time::Duration;

use gateway::Settings;
use reqwest::StatusCode;
use schemas::catalog::ProductUpserted;
use schemas::inventory::{SkuQuantity, StockReserved};
use schemas::orders::{OrderCancelled, OrderLine, OrderPlaced, OrderPlacedV2};

use crate::common::{Harness, SseReader};

const WAIT: Duration = Duration::from_secs(5);

fn placed(order: &str) -> OrderPlaced {
    OrderPlaced {
        order_id: order.into(),
        customer_id: "alice".into(),
        lines: vec![OrderLine {
            sku: "sku-1".into(),
            quantity: 2,
            unit_price_minor: 250,
        }],
        total_minor: 500,
        currency: "EUR".into(),
        payment_token: "tok".into(),
        idempotency_key: format!("key-{order}"),
        placed_at: "2026-11-24T15:00:00Z".into(),
    }
}

fn cancelled(order: &str) -> OrderCancelled {
    OrderCancelled {
        order_id: order.into(),
        customer_id: "bob".into(),
        reason: "changed my mind".into(),
    }
}

/// Opens the event stream of `order` and waits for its greeting (the stream is subscribed).
async fn follow(h: &Harness, order: &str) -> SseReader {
    let response = h
        .http
        .get(h.url(&format!("/v1/orders/{order}/events")))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let mut reader = SseReader::new(response);
    let hello = reader.next(WAIT).await.expect("a greeting");
    assert_eq!(hello.comments, [format!("following the events of order {order}")]);
    reader
}

#[tokio::test]
async fn an_order_stream_delivers_the_orders_events_and_no_others() {
    let h = Harness::new().await;
    for owner in ["orders", "inventory", "catalog"] {
        h.create_stream(owner).await;
    }
    let mut mine = follow(&h, "o-1").await;
    let mut theirs = follow(&h, "o-2").await;

    // Another order's event and an event with no order come first.
    h.bus.publish(&cancelled("o-2")).await.expect("published");
    h.bus
        .publish(&ProductUpserted {
            sku: "sku-1".into(),
            name: "Tea".into(),
            unit_price_minor: 250,
            currency: "EUR".into(),
            revision: 1,
        })
        .await
        .expect("published");
    let placed_meta = h.bus.publish(&placed("o-1")).await.expect("published");
    let reserved_meta = h
        .bus
        .publish(&StockReserved {
            order_id: "o-1".into(),
            customer_id: "alice".into(),
            lines: vec![SkuQuantity {
                sku: "sku-1".into(),
                quantity: 2,
            }],
            amount_minor: 500,
            currency: "EUR".into(),
            payment_token: "tok".into(),
        })
        .await
        .expect("published");

    // A placement from before the migration (v1 alone) is sent as the v2 it reads as.
    let first = mine.next_event(WAIT).await.expect("an event");
    assert_eq!(first.event.as_deref(), Some("orders.placed.v2"), "{first:?}");
    assert_eq!(first.id.as_deref(), Some(placed_meta.id.as_str()));
    assert_eq!(
        first.json(),
        serde_json::to_value(OrderPlacedV2::from(placed("o-1"))).expect("json")
    );
    let second = mine.next_event(WAIT).await.expect("an event");
    assert_eq!(second.event.as_deref(), Some("inventory.reserved.v1"), "{second:?}");
    assert_eq!(second.id.as_deref(), Some(reserved_meta.id.as_str()));
    assert_eq!(second.json()["order_id"], "o-1");
    assert_eq!(second.json()["lines"][0]["quantity"], 2);

    let other = theirs.next_event(WAIT).await.expect("an event");
    assert_eq!(other.event.as_deref(), Some("orders.cancelled.v1"), "{other:?}");
    assert_eq!(other.json(), serde_json::to_value(cancelled("o-2")).expect("json"));

    // Later events keep flowing to the right stream only.
    h.bus.publish(&cancelled("o-2")).await.expect("published");
    h.bus.publish(&cancelled("o-1")).await.expect("published");
    let third = mine.next_event(WAIT).await.expect("an event");
    assert_eq!(
        (third.event.as_deref(), &third.json()["order_id"]),
        (Some("orders.cancelled.v1"), &serde_json::json!("o-1"))
    );
    let again = theirs.next_event(WAIT).await.expect("an event");
    assert_eq!(again.json()["order_id"], "o-2");
}

/// The v2 of `placed`, as orders publishes it beside v1 during the migration.
fn placed_v2(order: &str) -> OrderPlacedV2 {
    let mut v2 = OrderPlacedV2::from(placed(order));
    v2.lines[0].tax_minor = 83;
    (v2.tax_minor, v2.subtotal_minor) = (83, 417);
    v2.check().expect("consistent");
    v2
}

/// During the migration orders publishes each order as v2 and v1: a follower gets the
/// placement once, as `orders.placed.v2` — the v2 itself when it comes first (as orders
/// publishes them), the v1's upcast when that does.
#[tokio::test]
async fn a_placement_published_as_v2_and_v1_is_sent_once_as_v2() {
    let h = Harness::new().await;
    h.create_stream("orders").await;
    let mut first = follow(&h, "o-1").await;
    let mut second = follow(&h, "o-2").await;

    let v2_meta = h.bus.publish(&placed_v2("o-1")).await.expect("published");
    h.bus.publish(&placed("o-1")).await.expect("published");
    let v1_meta = h.bus.publish(&placed("o-2")).await.expect("published");
    h.bus.publish(&placed_v2("o-2")).await.expect("published");
    for order in ["o-1", "o-2"] {
        h.bus.publish(&cancelled(order)).await.expect("published");
    }

    let told = first.next_event(WAIT).await.expect("an event");
    assert_eq!(
        (told.event.as_deref(), told.id.as_deref()),
        (Some("orders.placed.v2"), Some(v2_meta.id.as_str()))
    );
    assert_eq!(told.json(), serde_json::to_value(placed_v2("o-1")).expect("json"));
    let told = second.next_event(WAIT).await.expect("an event");
    assert_eq!(
        (told.event.as_deref(), told.id.as_deref()),
        (Some("orders.placed.v2"), Some(v1_meta.id.as_str()))
    );
    assert_eq!(
        told.json(),
        serde_json::to_value(OrderPlacedV2::from(placed("o-2"))).expect("json")
    );
    // The twin is not sent: the next event of each order is its cancellation.
    for stream in [&mut first, &mut second] {
        let next = stream.next_event(WAIT).await.expect("an event");
        assert_eq!(next.event.as_deref(), Some("orders.cancelled.v1"), "{next:?}");
    }
}

#[tokio::test]
async fn idle_streams_get_keep_alives_and_end_when_the_gateway_stops() {
    let mut h = Harness::with_settings(Settings {
        keep_alive: Duration::from_millis(100),
        ..Settings::default()
    })
    .await;
    let mut stream = follow(&h, "o-1").await;
    let idle = stream.next(WAIT).await.expect("a keep-alive");
    assert!(
        idle.event.is_none() && idle.data.is_none() && !idle.comments.is_empty(),
        "{idle:?}"
    );

    // Graceful shutdown ends open streams instead of waiting for them forever.
    h.stop_gateway().await.expect("the gateway stops cleanly");
    let mut ended = false;
    for _ in 0..100 {
        if stream.next(WAIT).await.is_none() {
            ended = true;
            break;
        }
    }
    assert!(ended, "the event stream did not end");
}
