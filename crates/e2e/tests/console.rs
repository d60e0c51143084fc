//! The console in a real browser: the storefront running, `mandate console` on a free port,
//! and `crates/e2e/console/console.mjs` driving Debian's chromium through playwright-core
//! (`scripts/install-browser`). The page must draw every running component up, show an order
//! placed by this test live, show that order's journey (every step from placed to completed,
//! in time order), show a component's page (consumers, endpoints, recent events), put a dead
//! letter this test made in its component's group, retry it (it is republished to its stream:
//! checked here over the bus), purge after a confirm, **redrive a group, canary first, so that
//! an order stuck behind a dead letter completes** (`break_an_order`), and follow a replay to
//! its end. `MANDATE_CONSOLE_SCREENSHOT=path` saves the map (docs/console.png).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use async_nats::HeaderMap;
use e2e::{Stack, component_of};
use mandate::deadletter::{DLQ_SEQUENCE, DLQ_SUBJECT};
use schemas::catalog::{Product, UpsertProduct};
use schemas::inventory::{Restock, RestockRequest};
use schemas::orders::{GetOrder, GetOrderRequest, LineRequest, OrderStatus, PlaceOrder, PlaceOrderRequest};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// The whole browser session may take this long.
const SESSION: Duration = Duration::from_secs(360);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_running_storefront_live_and_repairs_a_dead_letter_in_chromium() {
    let (chromium, playwright) = browser();
    let stack = Stack::storefront().await;
    open_for_business(&stack).await;
    let (letter, original) = dead_letter(&stack).await;
    let (_console, url) = console(&stack).await;

    let processes = stack.components();
    let mut components: Vec<&str> = processes.iter().map(|p| component_of(p)).collect();
    components.dedup();
    let mut node = Command::new("node")
        .arg(testkit::repo_root().join("crates/e2e/console/console.mjs"))
        .env("CONSOLE_URL", &url)
        .env("COMPONENTS", components.join(","))
        .env("DLQ_SEQ", letter.to_string())
        .env("DLQ_COMPONENT", "shipping")
        .env("PLAYWRIGHT_DIR", &playwright)
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("e2e: node runs (scripts/install-browser installs it)");
    let steps = tokio::time::timeout(SESSION, drive(&stack, &mut node, original))
        .await
        .unwrap_or_else(|_| panic!("the browser session did not end within {SESSION:?}"));
    let output = node.wait_with_output().await.expect("node ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "console.mjs failed after {steps:?}:\n{stderr}");
    for step in [
        "map",
        "place-order",
        "order-live",
        "inspected",
        "retried",
        "purged",
        "journey",
        "redriven",
        "replayed",
        "done",
    ] {
        assert!(
            steps.iter().any(|s| s["step"] == step),
            "no step {step} in {steps:?}:\n{stderr}"
        );
    }
    journey_in_order(&steps);
    let map = steps.iter().find(|s| s["step"] == "map").expect("map");
    for name in components.iter().chain(&["gateway"]) {
        assert!(
            map["components"].as_array().expect("names").iter().any(|n| n == name),
            "{name} on the map: {map}"
        );
    }
}

/// The journey the page showed: the order's path from placed to completed, in that order.
fn journey_in_order(steps: &[Value]) {
    let journey = steps.iter().find(|s| s["step"] == "journey").expect("journey");
    let types: Vec<&str> = journey["steps"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|row| row["type"].as_str())
        .collect();
    let at = |t: &str| {
        types
            .iter()
            .position(|x| *x == t)
            .unwrap_or_else(|| panic!("the page's journey lacks {t}: {types:?}"))
    };
    let path = [
        "orders.placed.v2",
        "payments.captured.v1",
        "orders.confirmed.v1",
        "shipping.dispatched.v1",
        "orders.completed.v1",
    ];
    assert_eq!(at(path[0]), 0, "the journey begins with the order placed: {types:?}");
    for pair in path.windows(2) {
        assert!(at(pair[0]) < at(pair[1]), "{} before {}: {types:?}", pair[0], pair[1]);
    }
}

/// Plays the test's side of the session: places the orders and breaks one when asked, checks
/// each step's effect over the bus; returns every step the page reported.
async fn drive(stack: &Stack, node: &mut Child, original: (u64, Vec<u8>)) -> Vec<Value> {
    let mut stdin = node.stdin.take().expect("stdin");
    let mut lines = BufReader::new(node.stdout.take().expect("stdout")).lines();
    let mut steps = Vec::new();
    let mut stuck = None;
    while let Ok(Some(line)) = lines.next_line().await {
        let step: Value = serde_json::from_str(&line).unwrap_or_else(|_| Value::String(line.clone()));
        match step["step"].as_str() {
            Some("place-order") => {
                let order_id = place(stack, "console-order").await;
                answer(&mut stdin, &order_id).await;
                completes(stack, &order_id).await;
            }
            Some("retried") => republished(stack, &step["message"], &original).await,
            Some("break-an-order") => {
                let (order_id, letter) = break_an_order(stack).await;
                answer(&mut stdin, &letter.to_string()).await;
                stuck = Some(order_id);
            }
            Some("redriven") => {
                let order_id = stuck.as_deref().expect("an order was stuck first");
                completes(stack, order_id).await;
            }
            _ => {}
        }
        steps.push(step);
    }
    steps
}

async fn answer(stdin: &mut tokio::process::ChildStdin, line: &str) {
    stdin
        .write_all(format!("{line}\n").as_bytes())
        .await
        .expect("answer the page");
    stdin.flush().await.expect("answer the page");
}

/// An order stuck behind a dead letter, whose redrive is what completes it: shipping is
/// restarted broken (`MANDATE_FAULT=fail-handlers`: every handler fails, as a bad deployment's
/// would), an order is placed, and shipping dead-letters its `orders.confirmed` after its
/// retries (`handler-failed`) — the order stays `paid`, never dispatched. Then shipping is
/// restarted as it should be (the fix deployed); nothing redelivers the letter, so the order
/// completes only if the page's redrive republishes it and shipping applies it.
///
/// The retry carries the original `ce-id` as `Nats-Msg-Id`, and JetStream drops it while the
/// original is inside `EVT_ORDERS`'s duplicate window (two minutes as the kit creates it; the
/// letter stays, "retry after the window"). Rather than wait two minutes, the test does what
/// the operator may (the kit leaves an existing stream's configuration to the operator):
/// shortens the window to a second and a half, and waits it out.
///
/// Returns the order's id and the letter's DLQ sequence.
async fn break_an_order(stack: &Stack) -> (String, u64) {
    shorten_the_duplicate_window(stack).await;

    stack.kill("shipping");
    stack.spawn_with("shipping", &[("MANDATE_FAULT", "fail-handlers")]);
    stack.wait_ready("shipping").await;
    let order_id = place(stack, "console-stuck-order").await;
    let letter = dead_lettered_by_shipping(stack, &order_id).await;
    let request = GetOrderRequest {
        order_id: order_id.clone(),
    };
    let order = stack.call::<GetOrder>(&request).await.expect("the order");
    assert_eq!(order.status, OrderStatus::Paid, "stuck before shipping: {order:?}");

    stack.kill("shipping");
    stack.spawn("shipping");
    stack.wait_ready("shipping").await;
    tokio::time::sleep(Duration::from_secs(3)).await; // the original leaves the window
    let order = stack.call::<GetOrder>(&request).await.expect("the order");
    assert_eq!(
        order.status,
        OrderStatus::Paid,
        "shipping fixed does not see the letter by itself: {order:?}"
    );
    (order_id, letter)
}

/// `EVT_ORDERS`'s duplicate window down to a second or two. Twice: nats-server (v2.14,
/// `stream.update`) makes its dedupe purge run at once *before* it applies the new window, so
/// after one change the purge may still be scheduled by the old two minutes (seen: a redrive
/// skipped as inside the window seconds after it had closed); a second change, between two
/// short windows, has it run with a short one whichever it reads.
async fn shorten_the_duplicate_window(stack: &Stack) {
    let js = stack.bus.jetstream();
    for window in [Duration::from_secs(1), Duration::from_millis(1500)] {
        let mut orders = js.get_stream("EVT_ORDERS").await.expect("EVT_ORDERS");
        let mut config = orders.info().await.expect("EVT_ORDERS's info").config.clone();
        config.duplicate_window = window;
        js.update_stream(config).await.expect("the window shortened");
    }
}

/// The DLQ sequence of shipping's letter for `order_id`'s `orders.confirmed`.
async fn dead_lettered_by_shipping(stack: &Stack, order_id: &str) -> u64 {
    let dlq = stack
        .bus
        .jetstream()
        .get_stream(mandate::DEAD_LETTER_STREAM)
        .await
        .expect("DLQ");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(letter) = dlq.get_last_raw_message_by_subject("dlq.shipping").await
            && letter
                .headers
                .get(DLQ_SUBJECT)
                .is_some_and(|s| s.as_str().ends_with(order_id))
        {
            return letter.sequence;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "shipping did not dead-letter order {order_id}'s confirmation:\n{}",
            stack.log_tail("shipping")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// chromium and playwright-core, as scripts/install-browser installs them.
fn browser() -> (PathBuf, PathBuf) {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("e2e: no chromium: install it with scripts/install-browser (scripts/test does)"));
    let playwright = testkit::repo_root().join(".tools/playwright");
    assert!(
        playwright.join("node_modules/playwright-core/package.json").exists(),
        "e2e: no playwright-core in {}: install it with scripts/install-browser (scripts/test does)",
        playwright.display()
    );
    (chromium, playwright)
}

/// `mandate console` on a free port, as the operator would run it; its URL.
async fn console(stack: &Stack) -> (Child, String) {
    let mut child = Command::new(testkit::workspace_bin("mandate"))
        .args(["--server", stack.url(), "--json", "console", "--listen", "127.0.0.1:0"])
        .arg("--repo")
        .arg(testkit::repo_root())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("e2e: mandate console starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("mandate console prints its URL")
        .expect("reads")
        .expect("a line");
    let printed: Value = serde_json::from_str(&first).expect("JSON");
    let url = printed["url"].as_str().expect("url").to_owned();
    (child, url)
}

async fn open_for_business(stack: &Stack) {
    let product = Product {
        sku: "mug".into(),
        name: "the mug".into(),
        unit_price_minor: 1250,
        currency: "EUR".into(),
    };
    stack.call::<UpsertProduct>(&product).await.expect("product");
    let restock = RestockRequest {
        sku: "mug".into(),
        quantity: 20,
        idempotency_key: "console-initial".into(),
    };
    stack.call::<Restock>(&restock).await.expect("restock");
}

async fn place(stack: &Stack, idempotency_key: &str) -> String {
    let request = PlaceOrderRequest {
        idempotency_key: idempotency_key.into(),
        customer_id: "alice".into(),
        lines: vec![LineRequest {
            sku: "mug".into(),
            quantity: 1,
        }],
        payment_token: "tok".into(),
    };
    stack.call::<PlaceOrder>(&request).await.expect("placed").order_id
}

async fn completes(stack: &Stack, order_id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let request = GetOrderRequest {
            order_id: order_id.to_owned(),
        };
        if let Ok(order) = stack.call::<GetOrder>(&request).await
            && order.status == OrderStatus::Completed
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "order {order_id} did not complete"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An order confirmation without its `ce-id` (the envelope rule every reader enforces), which
/// only shipping reads live (orders reads its own stream as history only): its DLQ sequence
/// once shipping dead-lettered it, and where the original is.
async fn dead_letter(stack: &Stack) -> (u64, (u64, Vec<u8>)) {
    let js = stack.bus.jetstream();
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("ce-specversion", "1.0"),
        ("ce-source", "orders"),
        ("ce-type", "orders.confirmed.v1"),
        ("ce-time", "2026-01-01T00:00:00Z"),
        ("ce-datacontenttype", "application/msgpack"),
    ] {
        headers.insert(name, value);
    }
    let body = rmp_serde::to_vec_named(&serde_json::json!({"order_id": "console-garbage"})).expect("body");
    let ack = js
        .publish_with_headers("evt.orders.confirmed.v1.console-garbage", headers, body.clone().into())
        .await
        .expect("publish")
        .await
        .expect("stored");
    let dlq = js.get_stream(mandate::DEAD_LETTER_STREAM).await.expect("DLQ");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(letter) = dlq.get_last_raw_message_by_subject("dlq.shipping").await
            && letter.headers.get(DLQ_SEQUENCE).map(|v| v.as_str().to_owned()) == Some(ack.sequence.to_string())
        {
            return (letter.sequence, (ack.sequence, body));
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "shipping did not dead-letter EVT_ORDERS #{}",
            ack.sequence
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The page said "retried DLQ #N: republished to SUBJECT as STREAM #M": STREAM #M holds the
/// original body again, at a newer sequence.
async fn republished(stack: &Stack, message: &Value, (sequence, body): &(u64, Vec<u8>)) {
    let message = message.as_str().expect("a message");
    let (stream, at) = message
        .rsplit_once(" as ")
        .and_then(|(_, at)| at.split_once(" #"))
        .unwrap_or_else(|| panic!("the page's retry message names no stream sequence: {message}"));
    let at: u64 = at.trim().parse().expect("a sequence");
    assert!(at > *sequence, "{message}: republished after the original #{sequence}");
    let stream = stack.bus.jetstream().get_stream(stream).await.expect("stream");
    let stored = stream.get_raw_message(at).await.expect("the republished message");
    assert_eq!(&stored.payload[..], &body[..], "{message}: the original body");
}
