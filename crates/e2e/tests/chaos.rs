//! Chaos: orders at a steady rate through the gateway — idempotency keys and client retries,
//! `decline` tokens, cancellations racing captures — while `kill -9` hits a random process
//! every few seconds (every kind in turn, the gateway too) and the nats-server itself. Then
//! quiescence, and every invariant of `e2e::invariants` checked through services only.
//!
//! CI-sized by default (≤ 3 minutes on two cores). `scripts/chaos` runs the long one with
//! the sizes from the environment:
//!
//! | variable | default | what |
//! |---|---|---|
//! | `MANDATE_CHAOS_SEED` | 20261201 | the day's plan and the kill order |
//! | `MANDATE_CHAOS_ORDERS` | 240 | orders placed |
//! | `MANDATE_CHAOS_KILLS` | 16 | `kill -9` of a component (8 kinds, loyalty and the gateway included: each twice) |
//! | `MANDATE_CHAOS_SERVER_KILLS` | 1 | `kill -9` of the nats-server |
//! | `MANDATE_CHAOS_RATE` | 6 | orders (and restocks) started per second |
//! | `MANDATE_CHAOS_CANCEL_PERCENT` | 20 | orders cancelled (half at once, half a little later); 0 leaves the cancel/capture races out |

use std::sync::Arc;
use std::time::Duration;

use e2e::invariants::{self, Expected};
use e2e::monkey::{self, Schedule};
use e2e::plan::plan_with;
use e2e::shop::Shop;
use e2e::summary::Summary;
use e2e::traffic::{self, Traded};
use e2e::verdict::Verdict;
use e2e::{Stack, env_number};
use tokio::time::Instant;

/// A sku with plenty of stock, for the orders that time the recovery after a server crash.
const PROBE_SKU: &str = "probe";
/// How long the storefront may take to drain after the last order was placed.
const DRAIN_WITHIN: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_keep_every_invariant_while_processes_and_the_server_are_killed() {
    let started = Instant::now();
    let seed = env_number("MANDATE_CHAOS_SEED", 20_261_201_u64);
    let orders = env_number("MANDATE_CHAOS_ORDERS", 240_usize);
    let kills = env_number("MANDATE_CHAOS_KILLS", 16_usize);
    let server_kills = env_number("MANDATE_CHAOS_SERVER_KILLS", 1_usize);
    let rate = env_number("MANDATE_CHAOS_RATE", 6.0_f64);
    let cancel_percent = env_number("MANDATE_CHAOS_CANCEL_PERCENT", 20_u32);

    let stack = Arc::new(Stack::storefront().await);
    let shop = Arc::new(Shop::new(&stack.start_gateway().await));
    let day = plan_with(seed, orders, cancel_percent);
    let restocked = traffic::open_shop(&shop, &day, &[(PROBE_SKU, 100, 10_000)])
        .await
        .expect("the shop opens");
    // Orders learns prices from catalog's events: let it learn them before the first order.
    stack.quiesce(Duration::from_secs(30)).await;

    let schedule = Schedule {
        seed,
        kills,
        server_kills,
        over: Duration::from_secs_f64(day.steps.len() as f64 / rate),
        probe_sku: PROBE_SKU,
    };
    let monkey = tokio::spawn(monkey::run(Arc::clone(&stack), Arc::clone(&shop), schedule));
    let expected = Expected {
        skus: restocked.keys().cloned().collect(),
        restocked,
        orders: Vec::new(),
    };
    let traded = traffic::trade(
        Arc::clone(&shop),
        &day,
        rate,
        Traded {
            expected,
            failures: Vec::new(),
        },
    )
    .await;
    let havoc = monkey.await.expect("the monkey finishes its schedule");

    let mut verdict = Verdict::new();
    for failure in &havoc.failures {
        verdict.broke("every process comes back as it was", failure.clone());
    }
    for failure in &traded.failures {
        verdict.broke("the client gets an answer to every request", failure.clone());
    }
    let mut expected = traded.expected;
    expected.orders.extend(havoc.probes.iter().cloned());
    stack
        .drain_after_havoc(&expected, DRAIN_WITHIN, "every process survives the run", &mut verdict)
        .await;
    let outcomes = invariants::check(&stack, &expected, &mut verdict).await;
    for ending in ["completed", "payment-declined", "cancelled"] {
        if !outcomes.contains_key(ending) && (ending != "cancelled" || cancel_percent > 0) {
            verdict.broke(
                "the run exercised every ending",
                format!("no order ended {ending}: {outcomes:?}"),
            );
        }
    }

    let summary = Summary {
        seed,
        orders: expected.orders.len(),
        unanswered: traded.failures.len(),
        havoc: &havoc,
        verdict: &verdict,
        outcomes: &outcomes,
        retries: shop.retries(),
        elapsed: started.elapsed(),
    };
    println!("{summary}");
    verdict.assert_clean(&format!("chaos seed {seed}"));
}
