//! Events the contract forbids — in their body or their envelope — are dead-lettered with
//! the kind of the rule they break, and nothing of them is applied.

use async_nats::HeaderMap;
use bytes::Bytes;
use mandate::deadletter::{DLQ_KIND, DLQ_REASON};
use mandate::envelope::{self, Meta};
use mandate::{DEAD_LETTER_STREAM, Event};
use rmpv::Value;
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

fn s(text: &str) -> Value {
    Value::from(text)
}

fn bin(text: &str) -> Value {
    Value::Binary(text.as_bytes().to_vec())
}

fn encode(value: &Value) -> Bytes {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, value).expect("encodes");
    out.into()
}

/// `evt.orders.placed.v1` for one unit of sku-1, as a map of `(key, value)` entries, with
/// `line` as its only line.
fn order_body(order: &str, line: Value) -> Vec<(Value, Value)> {
    vec![
        (s("order_id"), s(order)),
        (s("customer_id"), s("mallory")),
        (s("lines"), Value::Array(vec![line])),
        (s("total_minor"), 100.into()),
        (s("currency"), s("EUR")),
    ]
}

fn good_line() -> Value {
    Value::Map(vec![
        (s("sku"), s("sku-1")),
        (s("quantity"), 1.into()),
        (s("unit_price_minor"), 100.into()),
    ])
}

/// Publishes each case on the subscribed subject, then one good order; waits until all are
/// past; checks that only the good order took stock and that the dead letters carry the
/// expected kinds (and reasons), in order.
async fn publish_and_expect(h: &Harness, cases: Vec<(&str, &str, HeaderMap, Bytes)>) {
    let subject = OrderPlaced::subject();
    for (_, _, headers, payload) in &cases {
        h.bus
            .publish_raw(&subject, headers.clone(), payload.clone())
            .await
            .expect("published");
    }
    h.bus
        .publish(&placed("good", "carol", "sku-1", 2))
        .await
        .expect("published");
    wait_applied(&h.bus, "inventory", cases.len() as u64 + 1).await;
    let stock = h
        .bus
        .call::<GetStock>(&StockRequest { sku: "sku-1".into() })
        .await
        .expect("stock");
    assert_eq!(stock, INITIAL_STOCK - 2, "only the good order took stock");
    assert_eq!(
        h.stream_messages("EVT_INVENTORY").await,
        1,
        "one reservation: nothing emitted for the refused"
    );
    eventually("every refused event dead-lettered", || async {
        (h.stream_messages(DEAD_LETTER_STREAM).await == cases.len() as u64).then_some(())
    })
    .await;
    let dead = h.read_stream(DEAD_LETTER_STREAM).await;
    for ((kind, reason, _, payload), letter) in cases.iter().zip(&dead) {
        let why = header(letter, DLQ_REASON);
        assert_eq!(header(letter, DLQ_KIND), *kind, "{why}");
        assert!(why.contains(reason), "the reason {why:?} should contain {reason:?}");
        assert_eq!(&letter.payload, payload, "the original payload is kept");
    }
}

#[tokio::test]
async fn bodies_that_break_the_encoding_are_dead_lettered_by_rule_and_never_applied() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let running = h.start(inventory()).await;
    let headers = || Meta::originate("orders", OrderPlaced::ce_type()).to_headers();
    let good = rmp_serde::to_vec_named(&placed("trailing", "mallory", "sku-1", 1)).expect("encodes");
    let positional_line = Value::Array(vec![s("sku-1"), 1.into(), 100.into()]);
    let bin_sku = Value::Map(vec![
        (s("sku"), bin("sku-1")),
        (s("quantity"), 1.into()),
        (s("unit_price_minor"), 100.into()),
    ]);
    let mut bin_key = order_body("bin-key", good_line());
    bin_key[0].0 = bin("order_id");
    let mut int_keys = order_body("int-keys", good_line());
    for (index, entry) in int_keys.iter_mut().enumerate() {
        entry.0 = Value::from(index);
    }
    let wrong_type = Value::Map(vec![
        (s("sku"), s("sku-1")),
        (s("quantity"), s("one")),
        (s("unit_price_minor"), 100.into()),
    ]);
    let cases = vec![
        (
            "not-a-map",
            "a struct encoded as an array",
            headers(),
            Bytes::from(rmp_serde::to_vec(&placed("positional", "mallory", "sku-1", 1)).expect("encodes")),
        ),
        (
            "not-a-map",
            "lines[0]",
            headers(),
            encode(&Value::Map(order_body("nested", positional_line))),
        ),
        (
            "trailing-bytes",
            "after the body",
            headers(),
            Bytes::from([good.as_slice(), &[0xc0]].concat()),
        ),
        (
            "binary-string",
            "lines[0].sku",
            headers(),
            encode(&Value::Map(order_body("bin-sku", bin_sku))),
        ),
        (
            "binary-string",
            "map key encoded as bin",
            headers(),
            encode(&Value::Map(bin_key)),
        ),
        ("not-a-map", "not a string", headers(), encode(&Value::Map(int_keys))),
        (
            "undecodable",
            "truncated",
            headers(),
            Bytes::from(good[..good.len() - 4].to_vec()),
        ),
        (
            "undecodable",
            "lines[0].quantity",
            headers(),
            encode(&Value::Map(order_body("wrong-type", wrong_type))),
        ),
    ];
    publish_and_expect(&h, cases).await;
    running.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn malformed_envelopes_are_dead_lettered_as_invalid_or_missing_headers() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let running = h.start(inventory()).await;
    let body = Bytes::from(rmp_serde::to_vec_named(&placed("o-1", "mallory", "sku-1", 1)).expect("encodes"));
    let with = |name: &str, value: &str| {
        let mut headers = Meta::originate("orders", OrderPlaced::ce_type()).to_headers();
        headers.insert(name, value);
        headers
    };
    let mut cases = Vec::new();
    for time in ["1700000000", "2026-13-45T99:99:99Z", "yesterday"] {
        cases.push((
            "invalid-header",
            envelope::CE_TIME,
            with(envelope::CE_TIME, time),
            body.clone(),
        ));
    }
    cases.extend([
        (
            "invalid-header",
            envelope::CE_SOURCE,
            with(envelope::CE_SOURCE, "mallory"),
            body.clone(),
        ),
        (
            "invalid-header",
            envelope::TRACEPARENT,
            with(envelope::TRACEPARENT, "00-nope-01"),
            body.clone(),
        ),
        (
            "invalid-header",
            envelope::CE_SPECVERSION,
            with(envelope::CE_SPECVERSION, "0.3"),
            body.clone(),
        ),
        (
            "invalid-header",
            envelope::CE_DATACONTENTTYPE,
            with(envelope::CE_DATACONTENTTYPE, "application/json"),
            body.clone(),
        ),
        (
            "missing-header",
            envelope::CE_TIME,
            with(envelope::CE_TIME, ""),
            body.clone(),
        ),
        (
            "missing-header",
            envelope::CE_ID,
            with(envelope::CE_ID, ""),
            body.clone(),
        ),
        (
            "unknown-type",
            "orders.placed.v9",
            with(envelope::CE_TYPE, "orders.placed.v9"),
            body.clone(),
        ),
        // Headers are read before the body: a bad header on a bad body is a header's fault.
        (
            "invalid-header",
            envelope::CE_TIME,
            with(envelope::CE_TIME, "yesterday"),
            Bytes::from_static(b"\xc1"),
        ),
    ]);
    publish_and_expect(&h, cases).await;
    running.shutdown().await.expect("clean shutdown");
}
