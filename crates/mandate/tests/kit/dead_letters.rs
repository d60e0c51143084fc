use async_nats::HeaderMap;
use mandate::deadletter::{DLQ_DELIVERIES, DLQ_KIND, DLQ_REASON, DLQ_SEQUENCE, DLQ_STREAM, DLQ_SUBJECT};
use mandate::envelope::Meta;
use mandate::{DEAD_LETTER_STREAM, Event};
use schemas::orders::OrderPlaced;

use crate::common::{GetStock, Harness, INITIAL_STOCK, StockRequest, eventually, inventory, placed, wait_applied};

fn header(message: &async_nats::Message, name: &str) -> String {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str().to_owned())
        .unwrap_or_default()
}

/// Every reason a message cannot be handled ends in `DLQ` with that reason and where the
/// message came from; the component keeps going and handles the next good event.
#[tokio::test]
async fn each_dead_letter_reason_lands_in_the_dlq_and_the_component_carries_on() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let running = h.start(inventory()).await;
    let subject = OrderPlaced::subject();
    let good_headers = || Meta::originate("orders", OrderPlaced::ce_type()).to_headers();
    let body = |order: &OrderPlaced| bytes::Bytes::from(rmp_serde::to_vec_named(order).expect("encodes"));

    let mut v2_headers = good_headers();
    v2_headers.insert("ce-type", "orders.placed.v2");
    let cases: Vec<(&str, HeaderMap, bytes::Bytes)> = vec![
        (
            "undecodable",
            good_headers(),
            bytes::Bytes::from_static(b"\xc1 not msgpack"),
        ),
        (
            "missing-header",
            HeaderMap::new(),
            body(&placed("o-1", "carol", "sku-1", 1)),
        ),
        ("unknown-type", v2_headers, body(&placed("o-2", "carol", "sku-1", 1))),
        (
            "handler-failed",
            good_headers(),
            body(&placed("o-3", "poison", "sku-1", 1)),
        ),
        (
            "handler-failed",
            good_headers(),
            body(&placed("o-4", "panic", "sku-1", 1)),
        ),
    ];
    let mut sequences = Vec::new();
    for (_, headers, payload) in &cases {
        sequences.push(
            h.bus
                .publish_raw(&subject, headers.clone(), payload.clone())
                .await
                .expect("published"),
        );
    }
    // The component carries on: a good order after the bad ones is reserved.
    h.bus
        .publish(&placed("o-5", "carol", "sku-1", 2))
        .await
        .expect("published");
    wait_applied(&h.bus, "inventory", 6).await;
    let stock = h
        .bus
        .call::<GetStock>(&StockRequest { sku: "sku-1".into() })
        .await
        .expect("stock");
    assert_eq!(stock, INITIAL_STOCK - 2, "only the good order took stock");

    eventually("five dead letters", || async {
        (h.stream_messages(DEAD_LETTER_STREAM).await == 5).then_some(())
    })
    .await;
    let dead = h.read_stream(DEAD_LETTER_STREAM).await;
    for ((kind, _, payload), (letter, sequence)) in cases.iter().zip(dead.iter().zip(&sequences)) {
        assert_eq!(letter.subject.as_str(), "dlq.inventory");
        assert_eq!(header(letter, DLQ_KIND), *kind);
        assert!(!header(letter, DLQ_REASON).is_empty(), "{kind} has a reason");
        assert_eq!(header(letter, DLQ_SUBJECT), subject);
        assert_eq!(header(letter, DLQ_STREAM), "EVT_ORDERS");
        assert_eq!(header(letter, DLQ_SEQUENCE), sequence.to_string());
        assert_eq!(&letter.payload, payload, "the original payload is kept");
    }
    assert!(header(&dead[0], DLQ_REASON).contains("does not decode"));
    assert!(header(&dead[1], DLQ_REASON).contains("ce-"), "names the missing header");
    assert!(header(&dead[2], DLQ_REASON).contains("orders.placed.v2"));
    assert!(header(&dead[3], DLQ_REASON).contains("poison customer always fails"));
    assert_eq!(
        header(&dead[3], DLQ_DELIVERIES),
        "3",
        "dead-lettered after max_attempts"
    );
    assert!(header(&dead[4], DLQ_REASON).contains("panicked"));
    // The original envelope travels with the dead letter, for retry.
    assert_eq!(header(&dead[3], "ce-type"), "orders.placed.v1");

    let status = h.bus.status("inventory").await.expect("status");
    assert_eq!(status.dead_letters, 5);
    assert_eq!(
        h.stream_messages("EVT_INVENTORY").await,
        1,
        "one reservation, nothing for the dead"
    );
    running.shutdown().await.expect("clean shutdown");
}
