//! loyalty, the storefront's component in Python (components/loyalty), as the others see it:
//! started by the stack from its manifest, it awards points for completed orders, answers
//! `loyalty.balance.v1`, dead-letters what it cannot read, rebuilds through `mandate replay`
//! without publishing anything twice, and stops cleanly on SIGTERM. Its own unit tests (store,
//! outbox, points, the transaction over a batch) run here too, as the Python client's and the
//! Python kit's do. No skipping: without Python 3.10+ or the package index,
//! `scripts/python-component` fails and says why.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use e2e::{Stack, services, streams};
use futures::StreamExt;
use schemas::catalog::{Product, UpsertProduct};
use schemas::inventory::{Restock, RestockRequest};
use schemas::loyalty::{Balance, points_for};
use schemas::orders::{GetOrder, GetOrderRequest, LineRequest, OrderStatus, PlaceOrder, PlaceOrderRequest};

const LOYALTY: &str = "loyalty";

fn repo_file(path: &str) -> PathBuf {
    testkit::repo_root().join(path)
}

async fn run(program: PathBuf, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(&program);
    command.args(args).kill_on_drop(true);
    match tokio::time::timeout(Duration::from_secs(600), command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(err)) => panic!("cannot run {}: {err}", program.display()),
        Err(_) => panic!("{} {args:?} did not finish within 10 minutes", program.display()),
    }
}

fn shown(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A product with stock, then orders number `orders` of `customer` (n + 1 mugs each), each
/// waited for until it completes; their totals.
async fn completed_orders(stack: &Stack, customer: &str, orders: std::ops::Range<usize>) -> Vec<i64> {
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
            quantity: 100,
            idempotency_key: format!("restock-{customer}"),
        })
        .await
        .expect("restocked");
    let mut totals = Vec::new();
    for n in orders {
        let request = PlaceOrderRequest {
            idempotency_key: format!("{customer}-{n}"),
            customer_id: customer.into(),
            lines: vec![LineRequest {
                sku: "mug".into(),
                quantity: u32::try_from(n + 1).expect("small"),
            }],
            payment_token: "tok-ok".into(),
        };
        // Orders learns the product from catalog's event: retry the moment it does not know it.
        let order = loop {
            match stack.call::<PlaceOrder>(&request).await {
                Err(err) if err.service_error().is_some_and(|e| e.code == 400) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => break other.expect("order placed"),
            }
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let status = stack
                .call::<GetOrder>(&GetOrderRequest {
                    order_id: order.order_id.clone(),
                })
                .await
                .expect("order read")
                .status;
            if status == OrderStatus::Completed {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "order {n} still {status:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        totals.push(order.total_minor);
    }
    totals
}

async fn balance(stack: &Stack, customer: &str) -> Balance {
    services::balance(stack, customer)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn count(stack: &Stack, stream: &str) -> usize {
    streams::read(stack, stream)
        .await
        .map(|m| m.len())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loyaltys_own_tests_pass() {
    let output = run(repo_file("scripts/python-component"), &["loyalty", "--unit-tests"]).await;
    assert!(output.status.success(), "{}", shown(&output));
}

/// The Python kit's own tests (kits/python/tests): its store, dead letters, admin requests,
/// and a component on it against a real nats-server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_kits_own_tests_pass() {
    let output = run(repo_file("scripts/python-component"), &["kit", "--unit-tests"]).await;
    assert!(output.status.success(), "{}", shown(&output));
    let ran = String::from_utf8_lossy(&output.stderr);
    assert!(ran.contains("OK") && !ran.contains("Ran 0 tests"), "{}", shown(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loyalty_awards_completed_orders_and_a_replay_publishes_nothing_twice() {
    let stack = Stack::storefront().await;
    let totals = completed_orders(&stack, "ada", 0..3).await;
    // Something loyalty cannot read: dead-lettered once, by each subscriber of the subject.
    stack
        .bus
        .client()
        .publish("evt.orders.completed.v1", vec![0xc1, 0x00].into())
        .await
        .expect("garbage published");
    stack.quiesce(Duration::from_secs(60)).await;
    let earned: u64 = totals.iter().map(|t| points_for(*t)).sum();
    let before = balance(&stack, "ada").await;
    assert_eq!(
        (before.points, before.awarded, before.reversed, before.orders),
        (earned, earned, 0, 3)
    );
    let (events, letters) = (count(&stack, "EVT_LOYALTY").await, count(&stack, "DLQ").await);
    assert_eq!(events, 3, "one points-awarded per completed order");
    let status = stack.bus.status(LOYALTY).await.expect("loyalty's status");
    assert_eq!(status.dead_letters, 1, "{status:?}");

    // Every publication, as it happens: JetStream would drop a repeat of a deterministic id
    // within its duplicate window, so the streams alone could not show one.
    let client = stack.bus.client();
    let mut published = client.subscribe("evt.loyalty.>").await.expect("subscribed");
    let mut dead = client.subscribe("dlq.loyalty").await.expect("subscribed");
    client.flush().await.expect("flushed");

    // The operator's replay, as a user runs it.
    let replay = run(
        testkit::workspace_bin("mandate"),
        &["replay", LOYALTY, "--server", stack.url(), "--json"],
    )
    .await;
    assert!(replay.status.success(), "{}", shown(&replay));
    let report: serde_json::Value = serde_json::from_slice(&replay.stdout).expect("one JSON value");
    assert!(report["wiped"].as_u64().is_some_and(|n| n > 0), "{report}");
    stack.quiesce(Duration::from_secs(60)).await;
    assert_eq!(balance(&stack, "ada").await, before, "the same state, rebuilt");
    for (what, subscription) in [("an event", &mut published), ("a dead letter", &mut dead)] {
        let again = tokio::time::timeout(Duration::from_millis(500), subscription.next()).await;
        assert!(
            again.is_err(),
            "the replay published {what} again: {:?}",
            again.ok().flatten()
        );
    }
    assert_eq!(count(&stack, "EVT_LOYALTY").await, events);
    assert_eq!(count(&stack, "DLQ").await, letters);

    // After the rebuild, new orders earn as before.
    let more = completed_orders(&stack, "ada", 3..4).await;
    stack.quiesce(Duration::from_secs(60)).await;
    assert_eq!(balance(&stack, "ada").await.points, earned + points_for(more[0]));
    assert_eq!(count(&stack, "EVT_LOYALTY").await, events + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loyalty_stops_cleanly_on_sigterm_and_resumes_where_it_was() {
    let stack = Stack::storefront().await;
    assert!(
        stack.terminate(LOYALTY),
        "loyalty exits 0 on SIGTERM:\n{}",
        stack.log_tail(LOYALTY)
    );
    // Orders complete while it is away; it catches up when it is back.
    let totals = completed_orders(&stack, "grace", 0..2).await;
    stack.spawn(LOYALTY);
    stack.wait_ready(LOYALTY).await;
    stack.quiesce(Duration::from_secs(60)).await;
    let earned: u64 = totals.iter().map(|t| points_for(*t)).sum();
    assert_eq!(balance(&stack, "grace").await.points, earned);
    assert_eq!(count(&stack, "EVT_LOYALTY").await, 2);
}
