use std::time::Duration;

use futures::StreamExt;
use mandate::envelope::{self, Meta};
use mandate::{Event, Operation};
use schemas::inventory::StockReserved;
use schemas::orders::{OrderPlaced, PlaceOrder};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::common::{Harness, inventory, orders, place_request};

fn header(message: &async_nats::Message, name: &str) -> String {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str().to_owned())
        .unwrap_or_else(|| panic!("header {name} missing on {}", message.subject))
}

async fn next(events: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("an event in time")
        .expect("subscription open")
}

/// Every envelope field survives the trip command → outbox → JetStream → handler → outbox,
/// and the causal chain (trace, correlation, derived id) is carried from hop to hop.
#[tokio::test]
async fn every_envelope_field_round_trips_and_follows_the_causal_chain() {
    let h = Harness::new(&[]).await;
    let orders = h.start(orders()).await;
    let inventory = h.start(inventory()).await;
    let mut events = h.bus.client().subscribe("evt.>").await.expect("subscribes");
    h.bus.client().flush().await.expect("flush");

    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        envelope::TRACEPARENT,
        format!("00-{trace}-00f067aa0ba902b7-01").as_str(),
    );
    headers.insert(envelope::CORRELATION_ID, "checkout-42");
    let body = rmp_serde::to_vec_named(&place_request("o-1", "alice", "sku-1", 2)).expect("encodes");
    let reply = h
        .bus
        .client()
        .request_with_headers(PlaceOrder::subject(), headers, body.into())
        .await
        .expect("placed");
    assert!(
        reply
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-Service-Error-Code"))
            .is_none()
    );

    let placed = next(&mut events).await;
    let reserved = next(&mut events).await;
    // Both are about one order: published with its id as the last token.
    assert_eq!(placed.subject.as_str(), "evt.orders.placed.v1.o-1");
    assert_eq!(reserved.subject.as_str(), "evt.inventory.reserved.v1.o-1");

    // The first hop: every CloudEvents attribute, as sent.
    assert_eq!(header(&placed, "ce-specversion"), "1.0");
    assert_eq!(header(&placed, "ce-source"), "orders");
    assert_eq!(header(&placed, "ce-type"), OrderPlaced::ce_type());
    assert_eq!(header(&placed, "ce-datacontenttype"), "application/msgpack");
    let placed_id = header(&placed, "ce-id");
    assert_eq!(
        uuid::Uuid::parse_str(&placed_id).expect("uuid").get_version_num(),
        7,
        "command events get UUIDv7 ids"
    );
    assert_eq!(header(&placed, "Nats-Msg-Id"), placed_id);
    OffsetDateTime::parse(&header(&placed, "ce-time"), &Rfc3339).expect("ce-time is RFC 3339");
    assert_eq!(header(&placed, "correlation-id"), "checkout-42");
    let placed_trace: envelope::TraceParent = header(&placed, "traceparent").parse().expect("traceparent");
    assert_eq!(placed_trace.trace_id, trace);
    let body: OrderPlaced = rmp_serde::from_slice(&placed.payload).expect("body decodes");
    assert_eq!((body.order_id.as_str(), body.total_minor), ("o-1", 200));

    // The kit's own reading of the envelope agrees.
    let meta = Meta::from_headers(placed.headers.as_ref()).expect("envelope parses");
    assert_eq!(meta.id, placed_id);
    assert_eq!(meta.correlation_id, "checkout-42");

    // The second hop: same trace and correlation, a new span, an id derived from the cause.
    assert_eq!(header(&reserved, "ce-source"), "inventory");
    assert_eq!(header(&reserved, "ce-type"), StockReserved::ce_type());
    assert_eq!(header(&reserved, "correlation-id"), "checkout-42");
    let reserved_trace: envelope::TraceParent = header(&reserved, "traceparent").parse().expect("traceparent");
    assert_eq!(reserved_trace.trace_id, trace);
    assert_ne!(reserved_trace.span_id, placed_trace.span_id);
    assert_eq!(
        header(&reserved, "ce-id"),
        envelope::derived_event_id("inventory", &placed_id, 0)
    );
    assert_eq!(header(&reserved, "Nats-Msg-Id"), header(&reserved, "ce-id"));

    inventory.shutdown().await.expect("clean shutdown");
    orders.shutdown().await.expect("clean shutdown");
}
