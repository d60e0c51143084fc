//! `mandate journey` on the real storefront: one order placed through orders' service, its
//! events across every component's stream in the order they happened, each handler's event
//! tied to its cause.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use e2e::Stack;
use schemas::catalog::{Product, UpsertProduct};
use schemas::inventory::{Restock, RestockRequest};
use schemas::orders::{GetOrder, GetOrderRequest, LineRequest, OrderStatus, PlaceOrder, PlaceOrderRequest};
use serde_json::Value;

async fn run(program: PathBuf, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(&program);
    command.args(args).env_remove("RUST_LOG").kill_on_drop(true);
    match tokio::time::timeout(Duration::from_secs(60), command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(err)) => panic!("cannot run {}: {err}", program.display()),
        Err(_) => panic!("{} {args:?} did not finish within a minute", program.display()),
    }
}

async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_orders_journey_goes_from_placed_to_completed_in_order() {
    let stack = Stack::storefront().await;
    stack
        .call::<UpsertProduct>(&Product {
            sku: "mug".into(),
            name: "a mug".into(),
            unit_price_minor: 1_250,
            currency: "EUR".into(),
        })
        .await
        .expect("product upserted");
    stack
        .call::<Restock>(&RestockRequest {
            sku: "mug".into(),
            quantity: 5,
            idempotency_key: "r1".into(),
        })
        .await
        .expect("restocked");
    let request = PlaceOrderRequest {
        idempotency_key: "journey".into(),
        customer_id: "ada".into(),
        lines: vec![LineRequest {
            sku: "mug".into(),
            quantity: 1,
        }],
        payment_token: "tok-ok".into(),
    };
    let order = eventually("orders to take the order", || async {
        stack.call::<PlaceOrder>(&request).await.ok()
    })
    .await;
    let order_id = order.order_id.clone();
    eventually("the order to complete", || async {
        let order = stack
            .call::<GetOrder>(&GetOrderRequest {
                order_id: order_id.clone(),
            })
            .await
            .ok()?;
        (order.status == OrderStatus::Completed).then_some(())
    })
    .await;
    stack.quiesce(Duration::from_secs(60)).await;

    let output = run(
        testkit::workspace_bin("mandate"),
        &["journey", &order_id, "--server", stack.url(), "--json"],
    )
    .await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let journey: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let steps = journey["steps"].as_array().expect("steps");
    let types: Vec<&str> = steps.iter().filter_map(|s| s["type"].as_str()).collect();
    let at = |t: &str| {
        types
            .iter()
            .position(|x| *x == t)
            .unwrap_or_else(|| panic!("{t} missing from {types:?}"))
    };
    let path = [
        "orders.placed.v2",
        "payments.captured.v1",
        "orders.confirmed.v1",
        "shipping.dispatched.v1",
        "orders.completed.v1",
    ];
    for pair in path.windows(2) {
        assert!(at(pair[0]) < at(pair[1]), "{} before {}: {types:?}", pair[0], pair[1]);
    }
    assert_eq!(at("orders.placed.v2"), 0, "{types:?}");
    let placed = &steps[0];
    assert_eq!(placed["source"], "orders");
    assert_eq!(placed["cause"], "request", "the place call is not on the bus: {placed}");
    // Every later step is a handler's reaction to an earlier step, or a service call's event.
    for step in &steps[1..] {
        assert!(step["gap_ms"].is_u64(), "{step}");
        assert!(matches!(step["cause"].as_str(), Some("event" | "request")), "{step}");
    }
    let dispatched = &steps[at("shipping.dispatched.v1")];
    assert_eq!(dispatched["cause"], "event");
    assert_eq!(dispatched["cause_type"], "orders.confirmed.v1", "{dispatched}");
    let trace = placed["trace_id"].as_str().expect("a trace id");
    assert!(
        steps.iter().all(|s| s["trace_id"] == trace),
        "one order, one trace: {steps:?}"
    );

    let text = run(
        testkit::workspace_bin("mandate"),
        &["journey", &order_id, "--server", stack.url()],
    )
    .await;
    let text = String::from_utf8_lossy(&text.stdout);
    eprintln!("{text}");
    assert!(
        text.contains("orders.completed.v1") && text.contains("service call"),
        "{text}"
    );
}
