//! The storefront end to end: every component as its own process on a real nats-server,
//! driven over the bus exactly as an outside client would.

use std::collections::BTreeSet;
use std::time::Duration;

use e2e::Stack;
use e2e::invariants::{self, Accepted, Cancel, Expected};
use e2e::plan::{Day, Step, plan};
use e2e::verdict::Verdict;
use mandate::{CallError, Operation};
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

/// Runs the day over the bus, eight requests in flight at a time (a planned cancel is sent
/// right after its order is accepted); `between` is called between groups of eight with the
/// fraction of the day done (0.0 to 1.0). Returns what the client was told.
async fn trade(stack: &Stack, day: &Day, mut between: impl FnMut(f64)) -> Expected {
    let mut expected = Expected::default();
    for (sku, price) in &day.skus {
        product(stack, sku, *price).await;
        restock(stack, &format!("initial-{sku}"), sku, day.initial).await;
        expected.skus.push((*sku).to_owned());
        expected.restocked.insert((*sku).to_owned(), u64::from(day.initial));
    }
    for (index, chunk) in day.steps.chunks(8).enumerate() {
        between((index * 8) as f64 / day.steps.len() as f64);
        let results = futures::future::join_all(chunk.iter().map(|step| async move {
            match step {
                Step::Order(plan) => {
                    let lines: Vec<(&str, u32)> = plan.lines.iter().map(|(sku, q)| (*sku, *q)).collect();
                    let order = place(stack, &plan.key, &plan.customer, &lines, plan.token).await;
                    let cancel = match plan.cancel_after {
                        None => Cancel::NotAsked,
                        // Accepted while not yet paid, refused (409) after: both are fine. A
                        // 409 for an order found cancelled answers a retry of our own cancel
                        // (its first answer lost to a crash): that cancel was accepted.
                        Some(_) => match cancel(stack, &order.order_id).await {
                            Ok(_) => Cancel::Accepted,
                            Err(err) => {
                                assert_eq!(err.service_error().map(|e| e.code), Some(409), "{err}");
                                match get_order(stack, &order.order_id).await.status {
                                    OrderStatus::Cancelled => Cancel::Accepted,
                                    _ => Cancel::Refused,
                                }
                            }
                        },
                    };
                    let accepted = Accepted {
                        key: plan.key.clone(),
                        order_id: order.order_id,
                        customer: plan.customer.clone(),
                        lines: plan.lines.iter().map(|(sku, q)| ((*sku).to_owned(), *q)).collect(),
                        total_minor: order.total_minor,
                        cancel,
                    };
                    (Some(accepted), None)
                }
                Step::Restock { key, sku, quantity } => {
                    restock(stack, key, sku, *quantity).await;
                    (None, Some((*sku, u64::from(*quantity))))
                }
            }
        }))
        .await;
        for (order, restock) in results {
            expected.orders.extend(order);
            if let Some((sku, quantity)) = restock {
                *expected.restocked.entry(sku.to_owned()).or_default() += quantity;
            }
        }
    }
    expected
}

/// Every invariant of `e2e::invariants`, and every ending exercised (or the checks prove
/// little).
async fn check_invariants(stack: &Stack, expected: &Expected) {
    stack.quiesce(Duration::from_secs(120)).await;
    let mut verdict = Verdict::new();
    let outcomes = invariants::check(stack, expected, &mut verdict).await;
    eprintln!("outcomes: {outcomes:?}");
    for ending in ["completed", "rejected", "payment-declined", "cancelled"] {
        if !outcomes.contains_key(ending) {
            verdict.broke(
                "the day exercised every ending",
                format!("no order ended {ending}: {outcomes:?}"),
            );
        }
    }
    verdict.assert_clean("storefront");
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
    let expected = trade(&stack, &day, |_| {}).await;
    check_invariants(&stack, &expected).await;
}

/// One component, chosen by the seed, is killed (SIGKILL) a third of the way through and
/// restarted half a second later; clients retry with their idempotency keys meanwhile. Two
/// thirds through, `loyalty` — the component in Python, whose exactly-once is its own code's,
/// not the kit's — is killed the same way (unless the seed chose it already).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_crashing_mid_run_loses_and_doubles_nothing() {
    let stack = std::sync::Arc::new(Stack::storefront().await);
    let seed = seed();
    let components = stack.components();
    let victim = components[(seed % components.len() as u64) as usize].clone();
    let mut victims = vec![(0.33, victim)];
    if !victims.iter().any(|(_, v)| v == invariants::LOYALTY_COMPONENT)
        && components.iter().any(|c| c == invariants::LOYALTY_COMPONENT)
    {
        victims.push((0.66, invariants::LOYALTY_COMPONENT.to_owned()));
    }
    let day = plan(seed.wrapping_add(1), orders_per_day());
    let mut restarts = Vec::new();
    let expected = trade(&stack, &day, |done| {
        if let Some((_, victim)) = victims.get(restarts.len()).filter(|(at, _)| done >= *at) {
            eprintln!("killing {victim} at {:.0}% of the day", done * 100.0);
            stack.kill(victim);
            // The restart must not wait for the traffic, which is waiting for the victim.
            let (stack, victim) = (stack.clone(), victim.clone());
            restarts.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                stack.spawn(&victim);
                victim
            }));
        }
    })
    .await;
    assert_eq!(restarts.len(), victims.len(), "every victim was killed");
    for restart in restarts {
        let victim = restart.await.expect("restarted");
        stack.wait_ready(&victim).await;
    }
    check_invariants(&stack, &expected).await;
}

/// orders and payments run as the partitions their manifests declare (three each); a
/// partition of each is killed (SIGKILL) mid-run and restarted half a second later, while the
/// other partitions go on and clients retry: every invariant still holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_crashing_mid_run_loses_and_doubles_nothing() {
    let stack = std::sync::Arc::new(Stack::storefront().await);
    for component in ["orders", "payments"] {
        assert_eq!(
            stack.processes_of(component),
            (0..3).map(|p| format!("{component}.p{p}of3")).collect::<Vec<_>>(),
            "{component} runs as the partitions its manifest declares"
        );
    }
    let victims = [(0.33, "orders.p1of3"), (0.5, "payments.p2of3")];
    let day = plan(seed().wrapping_add(2), orders_per_day());
    let mut restarts = Vec::new();
    let expected = trade(&stack, &day, |done| {
        if let Some((_, victim)) = victims.get(restarts.len()).filter(|(at, _)| done >= *at) {
            eprintln!("killing {victim} at {:.0}% of the day", done * 100.0);
            stack.kill(victim);
            let (stack, victim) = (stack.clone(), (*victim).to_owned());
            restarts.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                stack.spawn(&victim);
                victim
            }));
        }
    })
    .await;
    assert_eq!(restarts.len(), victims.len(), "every victim was killed");
    for restart in restarts {
        let victim = restart.await.expect("restarted");
        stack.wait_ready(&victim).await;
    }
    check_invariants(&stack, &expected).await;
}
