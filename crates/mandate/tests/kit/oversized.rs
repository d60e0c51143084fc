//! Nothing emitted exceeds the server's max payload: a dead letter leaves out a body too large
//! to travel with it, a command whose event could never be published is refused with nothing
//! committed, and a handler whose event could never be published is dead-lettered at once.

use mandate::deadletter::{DLQ_DELIVERIES, DLQ_KIND, DLQ_REASON, DLQ_SEQUENCE, DLQ_STREAM, DLQ_SUBJECT};
use mandate::envelope::Meta;
use mandate::{CallError, Component, DEAD_LETTER_STREAM, Event, Fault, Operation, ServiceError};
use schemas::orders::{GetOrder, GetOrderRequest, OrderPlaced, PlaceOrder};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::common::{
    Harness, eventually, header, inventory, large_request, orders, place_request, placed, wait_applied, wire_size,
};

/// Publishes, on a subject inventory handles, a body that does not decode and that fills the
/// server's max payload but for a few bytes: the server takes it, but with the dead-letter
/// headers and the reason added it would not fit.
async fn publish_oversized(h: &Harness) -> (u64, Vec<u8>) {
    let max = h.bus.client().server_info().max_payload;
    let headers = Meta::originate("orders", OrderPlaced::ce_type()).to_headers();
    // 0xc1 is never valid MessagePack.
    let body = vec![0xc1; max - wire_size(Some(&headers), 0) - 16];
    let sequence = h
        .bus
        .publish_raw(&OrderPlaced::subject(), headers, body.clone().into())
        .await
        .expect("the server takes it");
    (sequence, body)
}

/// The one dead letter in `DLQ`.
async fn the_dead_letter(h: &Harness) -> async_nats::Message {
    eventually("a dead letter", || async {
        (h.stream_messages(DEAD_LETTER_STREAM).await == 1).then_some(())
    })
    .await;
    h.read_stream(DEAD_LETTER_STREAM).await.remove(0)
}

/// A dead letter that left the body out says so, and how to find and check it.
fn assert_body_left_out(h: &Harness, letter: &async_nats::Message, sequence: u64, body: &[u8]) {
    let max = h.bus.client().server_info().max_payload;
    assert_eq!(letter.subject.as_str(), "dlq.inventory");
    assert!(letter.payload.is_empty(), "the body is left out");
    assert_eq!(header(letter, "Mandate-Dlq-Body"), "omitted");
    assert_eq!(header(letter, "Mandate-Dlq-Body-Size"), body.len().to_string());
    assert_eq!(
        header(letter, "Mandate-Dlq-Body-Sha256"),
        format!("{:x}", Sha256::digest(body))
    );
    assert_eq!(header(letter, DLQ_KIND), "undecodable");
    assert!(header(letter, DLQ_REASON).contains("does not decode"));
    assert_eq!(header(letter, DLQ_SUBJECT), OrderPlaced::subject());
    assert_eq!(header(letter, DLQ_STREAM), "EVT_ORDERS", "where to read it back");
    assert_eq!(header(letter, DLQ_SEQUENCE), sequence.to_string());
    assert_eq!(
        header(letter, "ce-type"),
        "orders.placed.v1",
        "the original headers are kept"
    );
    assert!(wire_size(letter.headers.as_ref(), letter.payload.len()) <= max);
}

/// Finding 1: the dead letter of a message just under max_payload used to exceed it, stay at
/// the head of the outbox for ever and stop everything the component emitted after it.
#[tokio::test]
async fn an_oversized_undecodable_message_is_dead_lettered_without_its_body_and_the_relay_goes_on() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let running = h.start(inventory()).await;
    let (sequence, body) = publish_oversized(&h).await;
    h.bus
        .publish(&placed("o-1", "carol", "sku-1", 1))
        .await
        .expect("published");

    let letter = the_dead_letter(&h).await;
    assert_body_left_out(&h, &letter, sequence, &body);
    eventually("the reservation emitted after it to be published", || async {
        (h.stream_messages("EVT_INVENTORY").await == 1).then_some(())
    })
    .await;
    eventually("an empty outbox", || async {
        (h.bus.status("inventory").await.ok()?.outbox_depth == 0).then_some(())
    })
    .await;
    running.shutdown().await.expect("clean shutdown");
}

/// Finding 1 across a `kill -9`: what the first process committed is published by the next.
#[tokio::test]
async fn an_oversized_message_dead_lettered_before_a_crash_does_not_stop_the_next_process() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let mut options = h.options();
    options.fault = Fault::ParkRelay;
    let first = h.start_with(inventory(), options).await;
    let (sequence, body) = publish_oversized(&h).await;
    h.bus
        .publish(&placed("o-1", "carol", "sku-1", 1))
        .await
        .expect("published");
    wait_applied(&h.bus, "inventory", 2).await;
    assert_eq!(h.bus.status("inventory").await.expect("status").outbox_depth, 2);
    first.kill().await;

    let second = h.start(inventory()).await;
    let letter = the_dead_letter(&h).await;
    assert_body_left_out(&h, &letter, sequence, &body);
    h.bus
        .publish(&placed("o-2", "carol", "sku-1", 1))
        .await
        .expect("published");
    eventually("both reservations to be published", || async {
        (h.stream_messages("EVT_INVENTORY").await == 2).then_some(())
    })
    .await;
    second.shutdown().await.expect("clean shutdown");
}

/// Finding 1b: a valid command whose event exceeds max_payload was answered with success,
/// and its event then blocked every later one. It is refused, typed, with nothing committed.
#[tokio::test]
async fn a_command_whose_event_exceeds_max_payload_is_refused_and_leaves_no_trace() {
    let h = Harness::with_config(&[], "max_payload: 65536").await;
    let running = h.start(orders()).await;
    let request = large_request("big", 1800);
    let request_size = rmp_serde::to_vec_named(&request).expect("encodes").len();
    assert!(request_size < 60_000, "the request itself fits ({request_size} bytes)");

    let refused = h.bus.call::<PlaceOrder>(&request).await.expect_err("refused");
    let CallError::Service { error, .. } = refused else {
        panic!("expected a typed error, got {refused}");
    };
    assert_eq!(error.code, 413, "{error}");
    assert!(!error.retryable, "the same request can never fit");
    for named in ["orders.placed.v1", "65536"] {
        assert!(error.message.contains(named), "{named} in {:?}", error.message);
    }
    let lookup = h
        .bus
        .call::<GetOrder>(&GetOrderRequest { order_id: "big".into() })
        .await;
    assert!(
        matches!(&lookup, Err(CallError::Service { error, .. }) if error.code == 404),
        "the order was not committed: {lookup:?}"
    );
    assert_eq!(h.bus.status("orders").await.expect("status").outbox_depth, 0);

    h.bus
        .call::<PlaceOrder>(&place_request("small", "alice", "sku-1", 1))
        .await
        .expect("an ordinary order is placed");
    eventually("the ordinary order's event to be published", || async {
        (h.stream_messages("EVT_ORDERS").await == 1).then_some(())
    })
    .await;
    let published: OrderPlaced = rmp_serde::from_slice(&h.read_stream("EVT_ORDERS").await[0].payload).expect("decodes");
    assert_eq!(published.order_id, "small");
    running.shutdown().await.expect("clean shutdown");
}

// ---- padder: emits an event of the size it is asked for ---------------------------------

#[derive(Debug, Serialize, Deserialize)]
struct Padded {
    padding: String,
}

impl Event for Padded {
    const OWNER: &'static str = "padder";
    const NAME: &'static str = "padded";
    const VERSION: u32 = 1;
}

/// Emits a `Padded` of `size` bytes of padding.
struct Pad;

impl Operation for Pad {
    const OWNER: &'static str = "padder";
    const NAME: &'static str = "pad";
    const VERSION: u32 = 1;
    type Request = usize;
    type Response = ();
}

/// Pads on request, and for every placed order by its first line's quantity.
fn padder() -> Component {
    Component::new("padder")
        .publishes::<Padded>()
        .command::<Pad>(|ctx, size: usize| {
            ctx.emit(&Padded {
                padding: "x".repeat(size),
            })
            .map_err(|e| ServiceError::internal(e.to_string()))
        })
        .on::<OrderPlaced>(|ctx, order: OrderPlaced| {
            ctx.put(&format!("seen/{}", order.order_id), &true)?;
            ctx.emit(&Padded {
                padding: "x".repeat(order.lines[0].quantity as usize),
            })
        })
}

/// The check at staging counts exactly what the client and the server count: the largest
/// event it lets through is published, one a few bytes larger is refused.
#[tokio::test]
async fn what_fits_at_staging_is_what_the_server_takes() {
    let max = 8192;
    let h = Harness::with_config(&[], &format!("max_payload: {max}")).await;
    let running = h.start(padder()).await;
    let (mut fits, mut too_large, mut accepted) = (0, max, 0);
    while too_large - fits > 1 {
        let size = (fits + too_large) / 2;
        match h.bus.call::<Pad>(&size).await {
            Ok(()) => {
                fits = size;
                accepted += 1;
            }
            Err(CallError::Service { error, .. }) if error.code == 413 => too_large = size,
            Err(other) => panic!("padding {size}: {other}"),
        }
    }
    eventually("every accepted event to be published", || async {
        (h.stream_messages("EVT_PADDER").await == accepted).then_some(())
    })
    .await;
    eventually("an empty outbox", || async {
        (h.bus.status("padder").await.ok()?.outbox_depth == 0).then_some(())
    })
    .await;
    let largest = h
        .read_stream("EVT_PADDER")
        .await
        .iter()
        .map(|m| wire_size(m.headers.as_ref(), m.payload.len()))
        .max()
        .expect("published");
    // Headers vary by a few bytes from one event to the next (ce-time's fraction).
    assert!(
        (max - 32..=max).contains(&largest),
        "the largest event let through is {largest} bytes of {max}"
    );
    running.shutdown().await.expect("clean shutdown");
}

/// A handler whose event could never be published cannot succeed on a retry either: it is
/// dead-lettered at once, its writes discarded, and the component carries on.
#[tokio::test]
async fn a_handler_whose_event_exceeds_max_payload_is_dead_lettered_at_once() {
    let h = Harness::new(&["orders"]).await;
    let max = h.bus.client().server_info().max_payload;
    let running = h.start(padder()).await;
    h.bus
        .publish(&placed("o-big", "carol", "sku-1", u32::try_from(max).expect("fits")))
        .await
        .expect("published");
    h.bus
        .publish(&placed("o-small", "carol", "sku-1", 10))
        .await
        .expect("published");
    let letter = the_dead_letter(&h).await;
    assert_eq!(header(&letter, DLQ_KIND), "handler-failed");
    assert_eq!(header(&letter, DLQ_DELIVERIES), "1", "not retried: it can never fit");
    let reason = header(&letter, DLQ_REASON);
    assert!(
        reason.contains("padder.padded.v1") && reason.contains("max_payload"),
        "{reason}"
    );
    eventually("the small order's event to be published", || async {
        (h.stream_messages("EVT_PADDER").await == 1).then_some(())
    })
    .await;
    running.shutdown().await.expect("clean shutdown");
}
