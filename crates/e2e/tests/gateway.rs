//! "Your first order" through the gateway, as an outside developer would do it with curl:
//! every component and the gateway as their own processes.

use std::time::Duration;

use e2e::Stack;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_order_through_the_gateway_completes_and_its_events_stream_live() {
    let stack = Stack::storefront().await;
    let base = stack.start_gateway().await;
    let http = reqwest::Client::new();

    let product = http
        .put(format!("{base}/v1/products/mug"))
        .json(&json!({"name": "Mug", "unit_price_minor": 1250, "currency": "EUR"}))
        .send()
        .await
        .expect("put product");
    assert!(product.status().is_success(), "{:?}", product.text().await);
    let restock = http
        .post(format!("{base}/v1/inventory/mug/restock"))
        .header("Idempotency-Key", "restock-1")
        .json(&json!({"quantity": 5}))
        .send()
        .await
        .expect("restock");
    assert!(restock.status().is_success(), "{:?}", restock.text().await);

    // Hold payments back, so the order waits (reserved) while we open its event stream.
    stack.terminate("payments");

    // Orders learns prices from catalog's events: retry until it knows the mug.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let order: Value = loop {
        let response = http
            .post(format!("{base}/v1/orders"))
            .header("Idempotency-Key", "first-order")
            .json(&json!({"customer_id": "alice", "lines": [{"sku": "mug", "quantity": 2}], "payment_token": "tok"}))
            .send()
            .await
            .expect("place");
        if response.status().as_u16() == 201 {
            break response.json().await.expect("order json");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "order not accepted: {:?}",
            response.text().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let order_id = order["order_id"].as_str().expect("order id").to_owned();
    assert_eq!(order["total_minor"], 2500);

    let get_status = || {
        let http = http.clone();
        let url = format!("{base}/v1/orders/{order_id}");
        async move {
            http.get(url)
                .send()
                .await
                .expect("get")
                .json::<Value>()
                .await
                .expect("json")["status"]
                .clone()
        }
    };
    while get_status().await != "reserved" {
        assert!(tokio::time::Instant::now() < deadline, "the order was not reserved");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut events = http
        .get(format!("{base}/v1/orders/{order_id}/events"))
        .send()
        .await
        .expect("sse");
    assert_eq!(events.status().as_u16(), 200);
    // Read the greeting, so the stream is surely subscribed before payments comes back.
    let first = tokio::time::timeout(Duration::from_secs(5), events.chunk())
        .await
        .expect("a greeting in time");
    let mut seen = String::from_utf8_lossy(&first.expect("stream").expect("open")).into_owned();
    stack.spawn("payments");
    while !seen.contains("event: orders.completed.v1") {
        let chunk = tokio::time::timeout(Duration::from_secs(20), events.chunk())
            .await
            .unwrap_or_else(|_| panic!("no completion streamed; so far:\n{seen}"))
            .expect("stream")
            .expect("open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    for kind in [
        "payments.captured.v1",
        "orders.confirmed.v1",
        "shipping.dispatched.v1",
        "orders.completed.v1",
    ] {
        assert!(
            seen.contains(&format!("event: {kind}")),
            "{kind} was not streamed:\n{seen}"
        );
    }
    assert!(seen.contains(&order_id), "events carry the order:\n{seen}");
    assert_eq!(get_status().await, "completed");

    let listed: Value = http
        .get(format!("{base}/v1/customers/alice/orders"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["items"][0]["order_id"], order_id.as_str());
    let stock: Value = http
        .get(format!("{base}/v1/inventory/mug"))
        .send()
        .await
        .expect("stock")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (stock["on_hand"].as_u64(), stock["shipped"].as_u64()),
        (Some(3), Some(2))
    );

    // Bad input gets a JSON 4xx, never a 5xx.
    let bad = http
        .post(format!("{base}/v1/orders"))
        .header("Idempotency-Key", "bad")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("bad request");
    assert_eq!(bad.status().as_u16(), 400);
    let body: Value = bad.json().await.expect("a JSON error body");
    assert!(body["code"].is_string() && body["message"].is_string(), "{body}");
}
