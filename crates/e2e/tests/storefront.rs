//! The storefront end to end: every component as its own process on a real nats-server,
//! driven over the bus exactly as an outside client would.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use e2e::Stack;
use futures::StreamExt;
use mandate::{CallError, Operation};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use schemas::catalog::{Product, UpsertProduct};
use schemas::inventory::{GetStock, GetStockRequest, Restock, RestockRequest, StockView};
use schemas::notifications::{ListNotifications, ListNotificationsRequest};
use schemas::orders::{
    CancelOrder, CancelOrderRequest, GetOrder, GetOrderRequest, LineRequest, OrderStatus, OrderView, PlaceOrder,
    PlaceOrderRequest,
};
use schemas::payments::{GetPayment, GetPaymentRequest, PaymentStatus, PaymentView};
use schemas::shipping::{GetShipment, GetShipmentRequest};

/// Calls `O` on the stack, retrying while its component is (re)starting.
async fn call<O: Operation>(stack: &Stack, request: &O::Request) -> Result<O::Response, CallError> {
    stack.call::<O>(request).await
}

async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn product(stack: &Stack, sku: &str, unit_price_minor: i64) {
    call::<UpsertProduct>(
        stack,
        &Product {
            sku: sku.into(),
            name: format!("the {sku}"),
            unit_price_minor,
            currency: "EUR".into(),
        },
    )
    .await
    .expect("product upserted");
}

async fn restock(stack: &Stack, key: &str, sku: &str, quantity: u32) -> StockView {
    call::<Restock>(
        stack,
        &RestockRequest {
            sku: sku.into(),
            quantity,
            idempotency_key: key.into(),
        },
    )
    .await
    .expect("restocked")
}

async fn stock(stack: &Stack, sku: &str) -> StockView {
    call::<GetStock>(stack, &GetStockRequest { sku: sku.into() })
        .await
        .expect("stock")
}

fn order_request(key: &str, customer: &str, lines: &[(&str, u32)], token: &str) -> PlaceOrderRequest {
    PlaceOrderRequest {
        idempotency_key: key.into(),
        customer_id: customer.into(),
        lines: lines
            .iter()
            .map(|(sku, quantity)| LineRequest {
                sku: (*sku).into(),
                quantity: *quantity,
            })
            .collect(),
        payment_token: token.into(),
    }
}

/// Places an order once orders knows the prices (it learns them from catalog's events).
async fn place(stack: &Stack, key: &str, customer: &str, lines: &[(&str, u32)], token: &str) -> OrderView {
    let request = order_request(key, customer, lines, token);
    eventually("orders to accept the order", || async {
        call::<PlaceOrder>(stack, &request).await.ok()
    })
    .await
}

async fn get_order(stack: &Stack, order_id: &str) -> OrderView {
    call::<GetOrder>(
        stack,
        &GetOrderRequest {
            order_id: order_id.into(),
        },
    )
    .await
    .expect("order")
}

async fn settled(stack: &Stack, order_id: &str) -> OrderView {
    eventually(&format!("order {order_id} to end"), || async {
        let order = get_order(stack, order_id).await;
        order.status.is_terminal().then_some(order)
    })
    .await
}

async fn payment(stack: &Stack, order_id: &str) -> Option<PaymentView> {
    call::<GetPayment>(
        stack,
        &GetPaymentRequest {
            order_id: order_id.into(),
        },
    )
    .await
    .ok()
}

async fn cancel(stack: &Stack, order_id: &str) -> Result<OrderView, CallError> {
    call::<CancelOrder>(
        stack,
        &CancelOrderRequest {
            order_id: order_id.into(),
            reason: "changed my mind".into(),
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_happy_path_completes_and_every_component_agrees() {
    let stack = Stack::storefront().await;
    product(&stack, "mug", 1250).await;
    product(&stack, "tea", 499).await;
    restock(&stack, "r1", "mug", 10).await;
    restock(&stack, "r2", "tea", 10).await;

    let order = place(&stack, "first", "alice", &[("mug", 2), ("tea", 1)], "tok-ok").await;
    assert_eq!(order.total_minor, 2 * 1250 + 499);
    let done = settled(&stack, &order.order_id).await;
    assert_eq!(done.status, OrderStatus::Completed, "{done:?}");

    let paid = payment(&stack, &order.order_id).await.expect("a payment");
    assert_eq!(
        (paid.status, paid.amount_minor),
        (PaymentStatus::Captured, order.total_minor)
    );
    let shipment = call::<GetShipment>(
        &stack,
        &GetShipmentRequest {
            order_id: order.order_id.clone(),
        },
    )
    .await
    .expect("a shipment");
    assert_eq!(shipment.customer_id, "alice");
    let mug = eventually("inventory to ship", || async {
        let mug = stock(&stack, "mug").await;
        (mug.shipped == 2).then_some(mug)
    })
    .await;
    assert_eq!((mug.on_hand, mug.reserved, mug.restocked), (8, 0, 10));

    let kinds = eventually("notifications about the order", || async {
        let page = call::<ListNotifications>(
            &stack,
            &ListNotificationsRequest {
                customer_id: "alice".into(),
                after: None,
                limit: 0,
            },
        )
        .await
        .ok()?;
        let kinds: BTreeSet<String> = page.items.iter().map(|n| n.kind.clone()).collect();
        kinds.contains("orders.completed.v1").then_some(kinds)
    })
    .await;
    for kind in ["orders.placed.v2", "shipping.dispatched.v1", "orders.completed.v1"] {
        assert!(kinds.contains(kind), "{kind} missing from {kinds:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_declines_cancellations_and_retries_end_where_they_should() {
    let stack = Stack::storefront().await;
    product(&stack, "mug", 1000).await;
    restock(&stack, "r1", "mug", 5).await;

    // Out of stock: rejected, and nobody is charged.
    let greedy = place(&stack, "greedy", "bob", &[("mug", 6)], "tok").await;
    assert_eq!(settled(&stack, &greedy.order_id).await.status, OrderStatus::Rejected);
    assert!(
        payment(&stack, &greedy.order_id).await.is_none(),
        "a rejected order is not charged"
    );

    // Declined payment: the stock goes back.
    let declined = place(&stack, "declined", "bob", &[("mug", 2)], "decline").await;
    assert_eq!(
        settled(&stack, &declined.order_id).await.status,
        OrderStatus::PaymentDeclined
    );
    eventually("the reservation to be released", || async {
        let mug = stock(&stack, "mug").await;
        (mug.on_hand == 5 && mug.reserved == 0).then_some(())
    })
    .await;

    // The same idempotency key twice: one order.
    let once = place(&stack, "twice", "bob", &[("mug", 1)], "tok").await;
    let again = place(&stack, "twice", "bob", &[("mug", 4)], "tok").await;
    assert_eq!(once.order_id, again.order_id);
    let completed = settled(&stack, &once.order_id).await;
    assert_eq!(completed.status, OrderStatus::Completed);
    // Cancel after dispatch: refused.
    let refused = cancel(&stack, &once.order_id).await.expect_err("too late");
    assert_eq!(refused.service_error().map(|e| e.code), Some(409));

    // Cancel before dispatch: hold payments back so the order waits, reserved.
    stack.terminate("payments");
    let waiting = place(&stack, "waiting", "bob", &[("mug", 3)], "tok").await;
    eventually("the order to be reserved", || async {
        (get_order(&stack, &waiting.order_id).await.status == OrderStatus::Reserved).then_some(())
    })
    .await;
    let cancelled = cancel(&stack, &waiting.order_id).await.expect("cancelled");
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    eventually("the cancelled reservation to be released", || async {
        let mug = stock(&stack, "mug").await;
        (mug.reserved == 0 && mug.on_hand == 4).then_some(())
    })
    .await;
    stack.spawn("payments");
    stack.wait_ready("payments").await;
    stack.quiesce(Duration::from_secs(30)).await;
    assert_eq!(
        get_order(&stack, &waiting.order_id).await.status,
        OrderStatus::Cancelled
    );
    let ledger = payment(&stack, &waiting.order_id).await;
    assert!(
        matches!(
            ledger.map(|p| p.status),
            None | Some(PaymentStatus::Voided | PaymentStatus::Refunded)
        ),
        "a cancelled order keeps no charge"
    );
}

/// A seeded random day of trading: restocks, declines and cancellations over a small stock.
struct Day {
    skus: Vec<(&'static str, i64)>,
    initial: u32,
    steps: Vec<Step>,
}

enum Step {
    Order {
        key: String,
        customer: String,
        lines: Vec<(&'static str, u32)>,
        token: &'static str,
        cancel: bool,
    },
    Restock {
        key: String,
        sku: &'static str,
        quantity: u32,
    },
}

fn plan(seed: u64, orders: usize) -> Day {
    let mut rng = StdRng::seed_from_u64(seed);
    let skus = vec![
        ("mug", 1250),
        ("tea", 499),
        ("pot", 3000),
        ("cup", 800),
        ("jar", 99_000),
    ];
    let mut steps = Vec::new();
    for i in 0..orders {
        if i % 10 == 9 {
            let (sku, _) = skus[rng.random_range(0..skus.len())];
            steps.push(Step::Restock {
                key: format!("restock-{i}"),
                sku,
                quantity: rng.random_range(10..40),
            });
        }
        let lines = (0..rng.random_range(1..=3))
            .map(|_| (skus[rng.random_range(0..skus.len())].0, rng.random_range(1..=3)))
            .collect();
        steps.push(Step::Order {
            key: format!("order-{i}"),
            customer: format!("customer-{}", rng.random_range(0..20)),
            lines,
            token: if rng.random_bool(0.1) { "decline" } else { "tok" },
            cancel: rng.random_bool(0.1),
        });
    }
    Day {
        skus,
        initial: 30,
        steps,
    }
}

/// Runs the day, eight requests in flight at a time; `between` is called between groups of
/// eight with the fraction of the day done (0.0 to 1.0).
async fn trade(stack: &Stack, day: &Day, mut between: impl FnMut(f64)) -> (Vec<String>, BTreeMap<&'static str, u64>) {
    let mut restocked: BTreeMap<&'static str, u64> = BTreeMap::new();
    for (sku, price) in &day.skus {
        product(stack, sku, *price).await;
        restock(stack, &format!("initial-{sku}"), sku, day.initial).await;
        restocked.insert(sku, u64::from(day.initial));
    }
    let mut order_ids = Vec::new();
    for (index, chunk) in day.steps.chunks(8).enumerate() {
        between((index * 8) as f64 / day.steps.len() as f64);
        let results = futures::future::join_all(chunk.iter().map(|step| async move {
            match step {
                Step::Order {
                    key,
                    customer,
                    lines,
                    token,
                    cancel: wants_cancel,
                } => {
                    let order = place(stack, key, customer, lines, token).await;
                    if *wants_cancel {
                        // Accepted while not yet paid, refused (409) after: both are fine.
                        match cancel(stack, &order.order_id).await {
                            Ok(_) => {}
                            Err(err) => assert_eq!(err.service_error().map(|e| e.code), Some(409), "{err}"),
                        }
                    }
                    (Some(order.order_id), None)
                }
                Step::Restock { key, sku, quantity } => {
                    restock(stack, key, sku, *quantity).await;
                    (None, Some((*sku, u64::from(*quantity))))
                }
            }
        }))
        .await;
        for (order, restock) in results {
            order_ids.extend(order);
            if let Some((sku, quantity)) = restock {
                *restocked.entry(sku).or_default() += quantity;
            }
        }
    }
    (order_ids, restocked)
}

/// Every message of `stream`, decoded far enough to read its `order_id`.
async fn events_by_order(stack: &Stack, stream: &str) -> BTreeMap<(String, String), usize> {
    #[derive(serde::Deserialize)]
    struct AboutAnOrder {
        #[serde(default)]
        order_id: String,
    }
    let mut counts = BTreeMap::new();
    let Ok(mut stream) = stack.bus.jetstream().get_stream(stream).await else {
        return counts;
    };
    let total = stream.info().await.expect("stream info").state.messages as usize;
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
        .expect("ordered consumer");
    let mut messages = consumer.messages().await.expect("messages");
    for _ in 0..total {
        let message = messages.next().await.expect("open").expect("message");
        let about: AboutAnOrder = rmp_serde::from_slice(&message.payload).expect("decodes");
        if !about.order_id.is_empty() {
            *counts.entry((message.subject.to_string(), about.order_id)).or_default() += 1;
        }
    }
    counts
}

async fn check_invariants(stack: &Stack, day: &Day, order_ids: &[String], restocked: &BTreeMap<&'static str, u64>) {
    stack.quiesce(Duration::from_secs(120)).await;

    // Stock is conserved, never negative, and nothing is left reserved.
    for (sku, _) in &day.skus {
        let view = stock(stack, sku).await;
        assert_eq!(view.restocked, restocked[sku], "{sku}: every restock counted once");
        assert_eq!(
            view.on_hand + view.reserved + view.shipped,
            view.restocked,
            "{sku}: stock conserved: {view:?}"
        );
        assert_eq!(view.reserved, 0, "{sku}: a reservation outlived its order: {view:?}");
    }

    // Exactly one terminal state per order, in its status and its history, and each status
    // once; no cancelled order dispatched; the ledger and the shipped stock match the
    // completed orders.
    let mut completed_total = 0i64;
    let mut captured_total = 0i64;
    let mut completed = BTreeSet::new();
    let mut captured = BTreeSet::new();
    let mut shipped: BTreeMap<String, u64> = BTreeMap::new();
    let mut outcomes: BTreeMap<OrderStatus, usize> = BTreeMap::new();
    for order_id in order_ids {
        let order = get_order(stack, order_id).await;
        assert!(order.status.is_terminal(), "order {order_id} did not end: {order:?}");
        let ends: Vec<OrderStatus> = order
            .history
            .iter()
            .map(|c| c.status)
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(ends, [order.status], "order {order_id}: one terminal state: {order:?}");
        let steps: BTreeSet<OrderStatus> = order.history.iter().map(|c| c.status).collect();
        assert_eq!(
            steps.len(),
            order.history.len(),
            "order {order_id}: a status twice: {order:?}"
        );
        *outcomes.entry(order.status).or_default() += 1;
        if order.status == OrderStatus::Cancelled {
            let shipment = call::<GetShipment>(
                stack,
                &GetShipmentRequest {
                    order_id: order_id.clone(),
                },
            )
            .await;
            assert_eq!(
                shipment.as_ref().err().and_then(|e| e.service_error()).map(|e| e.code),
                Some(404),
                "cancelled order {order_id} was dispatched: {shipment:?}"
            );
        }
        if order.status == OrderStatus::Completed {
            completed_total += order.total_minor;
            completed.insert(order_id.clone());
            for line in &order.lines {
                *shipped.entry(line.sku.clone()).or_default() += u64::from(line.quantity);
            }
        }
        if let Some(payment) = payment(stack, order_id).await {
            if payment.status == PaymentStatus::Captured {
                captured_total += payment.amount_minor;
                captured.insert(order_id.clone());
            }
        }
    }
    // The day must have exercised every ending, or the checks above prove little.
    eprintln!("outcomes: {outcomes:?}");
    for ending in [
        OrderStatus::Completed,
        OrderStatus::Rejected,
        OrderStatus::PaymentDeclined,
        OrderStatus::Cancelled,
    ] {
        assert!(
            outcomes.get(&ending).is_some_and(|n| *n > 0),
            "no order ended {ending:?}: {outcomes:?}"
        );
    }
    assert_eq!(
        captured, completed,
        "captured payments and completed orders are the same orders"
    );
    assert_eq!(
        captured_total, completed_total,
        "the ledger's captured sum equals the completed totals"
    );
    for (sku, _) in &day.skus {
        assert_eq!(
            stock(stack, sku).await.shipped,
            shipped.get(*sku).copied().unwrap_or(0),
            "{sku}: shipped = the units of the completed orders"
        );
    }

    // Nothing doubled: no event about an order was published twice.
    for stream in ["EVT_ORDERS", "EVT_INVENTORY", "EVT_PAYMENTS", "EVT_SHIPPING"] {
        for ((subject, order_id), count) in events_by_order(stack, stream).await {
            assert_eq!(count, 1, "{subject} published {count} times for order {order_id}");
        }
    }
}

fn seed() -> u64 {
    std::env::var("E2E_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261124)
}

fn orders_per_day() -> usize {
    std::env::var("E2E_ORDERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_random_orders_keep_every_invariant() {
    let stack = Stack::storefront().await;
    let day = plan(seed(), orders_per_day());
    let (order_ids, restocked) = trade(&stack, &day, |_| {}).await;
    check_invariants(&stack, &day, &order_ids, &restocked).await;
}

/// One component, chosen by the seed, is killed (SIGKILL) a third of the way through and
/// restarted half a second later; clients retry with their idempotency keys meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_crashing_mid_run_loses_and_doubles_nothing() {
    let stack = std::sync::Arc::new(Stack::storefront().await);
    let seed = seed();
    let victim = e2e::COMPONENTS[(seed % e2e::COMPONENTS.len() as u64) as usize];
    let day = plan(seed.wrapping_add(1), orders_per_day());
    let mut restart = None;
    let (order_ids, restocked) = trade(&stack, &day, |done| {
        if done >= 0.33 && restart.is_none() {
            stack.kill(victim);
            // The restart must not wait for the traffic, which is waiting for the victim.
            let stack = stack.clone();
            restart = Some(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                stack.spawn(victim);
            }));
        }
    })
    .await;
    restart.expect("the victim was killed").await.expect("restarted");
    stack.wait_ready(victim).await;
    check_invariants(&stack, &day, &order_ids, &restocked).await;
}
