//! The contract is externalizable: the Python client of `clients/python` — written from
//! `schemas/` and `docs/contract.md` alone — lists the products of a running storefront,
//! places an order, reads it back and follows its events until it completes, through
//! `scripts/python-client` (its own venv under .tools/, nats-py and msgpack from the package
//! index). No skipping: without Python 3.10+ or the package index this test fails with the
//! script's own explanation.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use e2e::Stack;
use mandate::{CallError, Operation};
use schemas::catalog::{Product, UpsertProduct};
use schemas::inventory::{Restock, RestockRequest};
use schemas::orders::{GetOrder, GetOrderRequest, OrderStatus};
use serde_json::Value;

fn script() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts/python-client")
        .canonicalize()
        .expect("scripts/python-client exists")
}

/// Runs the client against the stack; the first run also creates its venv (pip), hence the
/// generous limit.
async fn python_client(stack: &Stack, args: &[&str]) -> Output {
    python_client_at(stack.url(), args).await
}

/// Runs `scripts/python-client` with `args`, against the server at `url` (if any).
async fn python_client_at(url: &str, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(script());
    if !url.is_empty() {
        command.arg("--server").arg(url);
    }
    command
        .args(args)
        .env_remove("NATS_URL")
        .env_remove("NATS_USER")
        .env_remove("NATS_PASSWORD")
        .env_remove("NATS_INBOX_PREFIX")
        .kill_on_drop(true);
    match tokio::time::timeout(Duration::from_secs(600), command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(err)) => panic!("cannot run {}: {err}", script().display()),
        Err(_) => panic!("scripts/python-client {args:?} did not finish within 10 minutes"),
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

/// The one JSON value the client prints on stdout with `--json`.
fn report(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("the client's stdout is not one JSON value ({e}):\n{}", shown(output)))
}

/// Calls `O` on the stack, retrying while its component is (re)starting.
async fn call<O: Operation>(stack: &Stack, request: &O::Request) -> Result<O::Response, CallError> {
    stack.call::<O>(request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_orders_and_follows_the_order_to_completion() {
    let stack = Stack::storefront().await;
    call::<UpsertProduct>(
        &stack,
        &Product {
            sku: "mug".into(),
            name: "Mug".into(),
            unit_price_minor: 1250,
            currency: "EUR".into(),
        },
    )
    .await
    .expect("product upserted");
    call::<Restock>(
        &stack,
        &RestockRequest {
            sku: "mug".into(),
            quantity: 10,
            idempotency_key: "python-restock".into(),
        },
    )
    .await
    .expect("restocked");
    // Orders prices from its own copy of the catalog (catalog's events): let it catch up.
    stack.quiesce(Duration::from_secs(30)).await;

    // The demo: list, place, read back, follow until completed.
    let demo = python_client(
        &stack,
        &[
            "--json",
            "demo",
            "--sku",
            "mug",
            "--quantity",
            "2",
            "--customer",
            "py-alice",
            "--idempotency-key",
            "python-demo-1",
        ],
    )
    .await;
    assert!(demo.status.success(), "the Python client failed:\n{}", shown(&demo));
    let done = report(&demo);
    assert_eq!(done["status"], "completed", "{}", shown(&demo));
    assert_eq!(done["total_minor"], 2 * 1250, "{done}");
    assert_eq!(done["currency"], "EUR", "{done}");
    let order_id = done["order_id"].as_str().expect("an order id").to_owned();
    let events: Vec<&str> = done["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for kind in ["inventory.reserved.v1", "payments.captured.v1", "orders.completed.v1"] {
        assert!(
            events.contains(&kind),
            "{kind} not followed: {events:?}\n{}",
            shown(&demo)
        );
    }
    // Every event the storefront published passed the client's strict reading.
    assert_eq!(done["refused_events"], serde_json::json!({}), "{}", shown(&demo));
    // The headers it sent were carried on: every event of its order has its correlation id.
    assert_eq!(done["correlated_events"].as_u64(), Some(events.len() as u64), "{done}");

    // The bus agrees.
    let order = call::<GetOrder>(
        &stack,
        &GetOrderRequest {
            order_id: order_id.clone(),
        },
    )
    .await
    .expect("the order");
    assert_eq!(order.status, OrderStatus::Completed);
    assert_eq!((order.customer_id.as_str(), order.total_minor), ("py-alice", 2500));

    // The same idempotency key again: the first order, already complete.
    let again = python_client(
        &stack,
        &[
            "--json",
            "demo",
            "--sku",
            "mug",
            "--customer",
            "py-alice",
            "--idempotency-key",
            "python-demo-1",
        ],
    )
    .await;
    assert!(again.status.success(), "{}", shown(&again));
    assert_eq!(report(&again)["order_id"], order_id.as_str(), "{}", shown(&again));

    // An order that fails makes the client fail.
    let declined = python_client(
        &stack,
        &[
            "--json",
            "demo",
            "--sku",
            "mug",
            "--payment-token",
            "decline",
            "--idempotency-key",
            "python-declined",
        ],
    )
    .await;
    assert_eq!(declined.status.code(), Some(1), "{}", shown(&declined));
    assert_eq!(report(&declined)["status"], "payment-declined", "{}", shown(&declined));

    // A typed service error is decoded, and is a failure.
    let missing = python_client(&stack, &["--json", "get", "no-such-order"]).await;
    assert_eq!(missing.status.code(), Some(1), "{}", shown(&missing));
    let error = &report(&missing)["error"];
    assert_eq!(
        (
            error["operation"].as_str(),
            error["code"].as_u64(),
            error["retryable"].as_bool()
        ),
        (Some("orders.get.v1"), Some(404), Some(false)),
        "{}",
        shown(&missing)
    );
}

/// The client's own tests (clients/python/tests): its strict reading of bodies and envelopes,
/// rule by rule, with the kit's names.
#[tokio::test]
async fn the_python_clients_own_tests_pass() {
    let output = python_client_at("", &["--unit-tests"]).await;
    assert!(output.status.success(), "{}", shown(&output));
}

/// A reply the contract forbids — here `orders.get.v1` answered in the positional form, from
/// a server that is not the kit — is refused by the client, naming the rule; not printed as
/// if it were an order.
#[tokio::test]
async fn the_python_client_refuses_a_reply_that_breaks_the_contract() {
    use futures::StreamExt;
    let server = testkit::NatsServer::start();
    let client = async_nats::connect(server.url()).await.expect("connects");
    let mut requests = client.subscribe(GetOrder::subject()).await.expect("subscribes");
    client.flush().await.expect("flush");
    let positional = rmp_serde::to_vec(&("o-1", "alice", "placed", Vec::<u8>::new(), 0, "EUR")).expect("encodes");
    let responder = client.clone();
    let serve = tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            if let Some(reply) = request.reply {
                let _ = responder.publish(reply, positional.clone().into()).await;
                let _ = responder.flush().await;
            }
        }
    });
    let output = python_client_at(&server.url(), &["get", "o-1"]).await;
    serve.abort();
    assert_eq!(output.status.code(), Some(1), "{}", shown(&output));
    let said = shown(&output);
    assert!(
        said.contains("orders.get.v1: the reply breaks the contract: not-a-map: a struct encoded as an array"),
        "{said}"
    );
}

/// `--server` takes a list, as the nats CLI and the kit do: through one whose first entry is
/// a port nobody listens on, the client reaches the live server and lists what it answers.
#[tokio::test]
async fn the_python_client_connects_through_a_server_list_whose_first_entry_is_dead() {
    use futures::StreamExt;
    use schemas::catalog::ListProducts;
    use schemas::paging::Page;
    let server = testkit::NatsServer::start();
    let client = async_nats::connect(server.url()).await.expect("connects");
    let mut requests = client.subscribe(ListProducts::subject()).await.expect("subscribes");
    client.flush().await.expect("flush");
    let page = Page {
        items: vec![Product {
            sku: "mug".into(),
            name: "Mug".into(),
            unit_price_minor: 1250,
            currency: "EUR".into(),
        }],
        next: None,
    };
    let reply = rmp_serde::to_vec_named(&page).expect("encodes");
    let responder = client.clone();
    let serve = tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            if let Some(to) = request.reply {
                let _ = responder.publish(to, reply.clone().into()).await;
                let _ = responder.flush().await;
            }
        }
    });
    let dead = runner::ports::free_port().expect("a free port");
    let list = format!("nats://127.0.0.1:{dead}, {}", server.url());
    // nats-py shuffles the list: a few runs try the dead entry first.
    for _ in 0..3 {
        let output = python_client_at(&list, &["--json", "products"]).await;
        assert!(output.status.success(), "{}", shown(&output));
        assert_eq!(report(&output)[0]["sku"], "mug", "{}", shown(&output));
    }
    serve.abort();
}
