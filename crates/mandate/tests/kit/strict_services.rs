//! Requests and replies the contract forbids: a command or a query refuses the request with
//! a 400 naming the rule and where (and commits nothing); the typed client refuses a reply.

use bytes::Bytes;
use futures::StreamExt;
use mandate::envelope::TRACEPARENT;
use mandate::{CallError, Operation, ServiceError};
use rmpv::Value;
use schemas::orders::{GetOrder, GetOrderRequest, OrderStatus, OrderView, PlaceOrder};

use crate::common::{Harness, orders, place_request};

fn s(text: &str) -> Value {
    Value::from(text)
}

fn encode(value: &Value) -> Bytes {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, value).expect("encodes");
    out.into()
}

async fn refusal(h: &Harness, subject: &str, headers: async_nats::HeaderMap, payload: Bytes) -> ServiceError {
    let reply = h
        .bus
        .client()
        .request_with_headers(subject.to_owned(), headers, payload)
        .await
        .expect("a reply");
    let headers = reply.headers.expect("an error has headers");
    let code = headers.get("Nats-Service-Error-Code").map(|v| v.as_str().to_owned());
    let message = headers.get("Nats-Service-Error").map(|v| v.as_str().to_owned());
    ServiceError::new(
        code.and_then(|c| c.parse().ok()).unwrap_or(0),
        message.unwrap_or_default(),
        false,
    )
}

fn assert_400(err: &ServiceError, names: &[&str]) {
    assert_eq!(err.code, 400, "{err}");
    for name in names {
        assert!(err.message.contains(name), "{:?} should name {name:?}", err.message);
    }
}

#[tokio::test]
async fn a_request_that_breaks_the_encoding_is_a_400_naming_the_rule_and_nothing_is_committed() {
    let h = Harness::new(&[]).await;
    let orders = h.start(orders()).await;
    let none = async_nats::HeaderMap::new;
    let request = place_request("o-1", "alice", "sku-1", 1);

    // The positional form of `orders.place.v1` used to place a real order.
    let positional = Bytes::from(rmp_serde::to_vec(&request).expect("encodes"));
    let err = refusal(&h, &PlaceOrder::subject(), none(), positional).await;
    assert_400(&err, &["not-a-map", "a struct encoded as an array"]);

    let good = rmp_serde::to_vec_named(&request).expect("encodes");
    let trailing = Bytes::from([good.as_slice(), b"more"].concat());
    let err = refusal(&h, &PlaceOrder::subject(), none(), trailing).await;
    assert_400(&err, &["trailing-bytes"]);

    let bin_sku = Value::Map(vec![
        (s("idempotency_key"), s("o-1")),
        (s("customer_id"), s("alice")),
        (
            s("lines"),
            Value::Array(vec![Value::Map(vec![
                (s("sku"), Value::Binary(b"sku-1".to_vec())),
                (s("quantity"), 1.into()),
            ])]),
        ),
    ]);
    let err = refusal(&h, &PlaceOrder::subject(), none(), encode(&bin_sku)).await;
    assert_400(&err, &["binary-string", "lines[0].sku"]);

    let mut bad_trace = async_nats::HeaderMap::new();
    bad_trace.insert(TRACEPARENT, "00-not-a-trace-01");
    let err = refusal(&h, &PlaceOrder::subject(), bad_trace, Bytes::from(good.clone())).await;
    assert_400(&err, &[TRACEPARENT]);

    let status = h.bus.status("orders").await.expect("status");
    assert_eq!(status.outbox_depth, 0, "nothing staged");
    assert_eq!(h.stream_messages("EVT_ORDERS").await, 0, "no order placed");
    let err = h
        .bus
        .call::<GetOrder>(&GetOrderRequest { order_id: "o-1".into() })
        .await
        .expect_err("no order o-1");
    assert_eq!(err.service_error().map(|e| e.code), Some(404), "{err}");

    // Queries refuse the same: a positional `orders.get.v1` is a 400, not a lookup.
    let positional = encode(&Value::Array(vec![s("o-1")]));
    let err = refusal(&h, &GetOrder::subject(), none(), positional).await;
    assert_400(&err, &["not-a-map"]);
    let mut bad_trace = async_nats::HeaderMap::new();
    bad_trace.insert(TRACEPARENT, "garbage");
    let request = Bytes::from(rmp_serde::to_vec_named(&GetOrderRequest { order_id: "o-1".into() }).expect("encodes"));
    let err = refusal(&h, &GetOrder::subject(), bad_trace, request).await;
    assert_400(&err, &[TRACEPARENT]);

    // And a well-formed request still goes through.
    let placed = h
        .bus
        .call::<PlaceOrder>(&place_request("o-2", "alice", "sku-1", 1))
        .await;
    assert_eq!(placed.map(|o| o.status).ok(), Some(OrderStatus::Placed));
    orders.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_reply_that_breaks_the_encoding_is_a_decode_error_of_the_client() {
    let h = Harness::new(&[]).await;
    let view = OrderView {
        order_id: "o-1".into(),
        customer_id: "alice".into(),
        status: OrderStatus::Placed,
        lines: Vec::new(),
        total_minor: 0,
        currency: "EUR".into(),
        history: Vec::new(),
    };
    // A server of `orders.get.v1` that answers in the positional form.
    let mut requests = h.bus.client().subscribe(GetOrder::subject()).await.expect("subscribes");
    let client = h.bus.client().clone();
    let positional = Bytes::from(rmp_serde::to_vec(&view).expect("encodes"));
    let server = tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            if let Some(reply) = request.reply {
                client.publish(reply, positional.clone()).await.expect("replies");
            }
        }
    });
    h.bus.client().flush().await.expect("flush");
    let err = h
        .bus
        .call::<GetOrder>(&GetOrderRequest { order_id: "o-1".into() })
        .await
        .expect_err("the reply is refused");
    match &err {
        CallError::Decode { reason, .. } => assert!(reason.contains("not-a-map"), "{reason}"),
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert!(!err.is_retryable());
    server.abort();
}
