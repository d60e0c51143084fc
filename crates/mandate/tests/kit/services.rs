use std::time::Duration;

use futures::StreamExt;
use mandate::{CallError, Operation};
use schemas::orders::{GetOrder, GetOrderRequest, OrderStatus, PlaceOrder};

use crate::common::{Harness, eventually, inventory, orders, place_request};

#[tokio::test]
async fn a_command_succeeds_and_its_effects_follow() {
    let h = Harness::new(&[]).await;
    let orders = h.start(orders()).await;
    let inventory = h.start(inventory()).await;
    let placed = h
        .bus
        .call::<PlaceOrder>(&place_request("o-1", "alice", "sku-1", 3))
        .await
        .expect("placed");
    assert_eq!((placed.status, placed.total_minor), (OrderStatus::Placed, 300));
    // The same idempotency key returns the first order and places nothing new.
    let again = h
        .bus
        .call::<PlaceOrder>(&place_request("o-1", "alice", "sku-9", 1))
        .await
        .expect("placed");
    assert_eq!(again, placed);
    let reserved = eventually("the order to be reserved", || async {
        let order = h
            .bus
            .call::<GetOrder>(&GetOrderRequest { order_id: "o-1".into() })
            .await
            .ok()?;
        (order.status == OrderStatus::Reserved).then_some(order)
    })
    .await;
    assert_eq!(reserved.lines, placed.lines);
    assert_eq!(h.stream_messages("EVT_ORDERS").await, 1);
    inventory.shutdown().await.expect("clean shutdown");
    orders.shutdown().await.expect("clean shutdown");
}

/// Commands waiting together share one transaction and one fdatasync (group commit), not
/// their fate: each gets its own reply, a refused one leaves no trace, and a repeat of an
/// idempotency key sees the write of the first, as if they had been committed apart.
#[tokio::test]
async fn concurrent_commands_each_get_their_own_outcome() {
    let h = Harness::new(&[]).await;
    let orders = h.start(orders()).await;
    let calls = (0..90u32).map(|i| {
        let bus = h.bus.clone();
        async move {
            let key = i % 30;
            let mut request = place_request(&format!("k-{key}"), "alice", "sku-1", 1);
            if key == 7 {
                request.lines.clear();
            }
            (key, bus.call::<PlaceOrder>(&request).await)
        }
    });
    let results = futures::future::join_all(calls).await;
    for key in 0..30 {
        let outcomes: Vec<_> = results.iter().filter(|(k, _)| *k == key).map(|(_, r)| r).collect();
        assert_eq!(outcomes.len(), 3);
        if key == 7 {
            for outcome in outcomes {
                let code = outcome.as_ref().err().and_then(|e| e.service_error()).map(|e| e.code);
                assert_eq!(code, Some(400), "an empty cart is refused: {outcome:?}");
            }
        } else {
            let ids: Vec<&str> = outcomes
                .iter()
                .map(|r| r.as_ref().unwrap_or_else(|e| panic!("k-{key}: {e}")).order_id.as_str())
                .collect();
            assert!(ids.iter().all(|id| *id == ids[0]), "one order per key: {ids:?}");
        }
    }
    let published = eventually("29 orders to be published", || async {
        let status = h.bus.status("orders").await.ok()?;
        let published = h.stream_messages("EVT_ORDERS").await;
        (status.outbox_depth == 0 && published >= 29).then_some(published)
    })
    .await;
    assert_eq!(
        published, 29,
        "one event per order placed; nothing from the refused ones"
    );
    orders.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn typed_errors_reach_the_caller_with_code_message_and_retryability() {
    let h = Harness::new(&[]).await;
    let orders = h.start(orders()).await;
    let err = h
        .bus
        .call::<GetOrder>(&GetOrderRequest {
            order_id: "nope".into(),
        })
        .await
        .expect_err("unknown order");
    let service_error = err
        .service_error()
        .unwrap_or_else(|| panic!("a typed error, got {err:?}"));
    assert_eq!(service_error.code, 404);
    assert!(service_error.message.contains("nope"));
    assert!(!err.is_retryable());

    let mut empty = place_request("o-2", "alice", "sku-1", 1);
    empty.lines.clear();
    let err = h.bus.call::<PlaceOrder>(&empty).await.expect_err("empty cart");
    assert_eq!(err.service_error().map(|e| e.code), Some(400));
    // A refused command changes nothing.
    assert_eq!(h.bus.status("orders").await.expect("status").outbox_depth, 0);

    // A request that does not decode is a 400 as well.
    let reply = h
        .bus
        .request(&PlaceOrder::subject(), bytes::Bytes::from_static(b"\x93garbage"))
        .await;
    match reply {
        Err(CallError::Service { error, .. }) => assert_eq!(error.code, 400),
        other => panic!("expected a 400, got {other:?}"),
    }
    orders.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_silent_service_times_out_and_a_missing_one_has_no_responders() {
    let h = Harness::new(&[]).await;
    // Something listens on the subject but never answers.
    let mut silent = h.bus.client().subscribe(GetOrder::subject()).await.expect("subscribes");
    let listener = tokio::spawn(async move { while silent.next().await.is_some() {} });
    h.bus.client().flush().await.expect("flush");
    let bus = h.bus.clone().with_timeout(Duration::from_millis(300));
    let err = bus
        .call::<GetOrder>(&GetOrderRequest { order_id: "o".into() })
        .await
        .expect_err("no answer");
    assert!(matches!(err, CallError::Timeout { .. }), "{err:?}");
    assert!(err.is_retryable());
    listener.abort();

    let err = bus
        .call::<PlaceOrder>(&place_request("o", "a", "s", 1))
        .await
        .expect_err("nobody serves it");
    assert!(matches!(err, CallError::NoResponders { .. }), "{err:?}");
}

/// Components are discoverable like any NATS micro service (`nats micro ls`).
#[tokio::test]
async fn components_answer_the_services_api_discovery() {
    let h = Harness::new(&[]).await;
    let orders = h.start(orders()).await;
    let reply = h
        .bus
        .client()
        .request("$SRV.INFO.orders", "".into())
        .await
        .expect("info");
    let info: serde_json::Value = serde_json::from_slice(&reply.payload).expect("json");
    assert_eq!(info["name"], "orders");
    let subjects: Vec<&str> = info["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .filter_map(|e| e["subject"].as_str())
        .collect();
    for expected in [
        "svc.orders.place.v1",
        "svc.orders.get.v1",
        "svc.orders.admin.status",
        "svc.orders.admin.rebuild",
    ] {
        assert!(subjects.contains(&expected), "{expected} missing from {subjects:?}");
    }
    let ping = h.bus.client().request("$SRV.PING", "".into()).await.expect("ping");
    let ping: serde_json::Value = serde_json::from_slice(&ping.payload).expect("json");
    assert_eq!(ping["name"], "orders");
    orders.shutdown().await.expect("clean shutdown");
}
