//! A day of trading through the gateway at a steady rate: each step starts on its tick,
//! whether or not the earlier ones are done (a customer does not wait for another's order),
//! and what the client was told is kept as the run's [`Expected`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::invariants::{Accepted, Cancel, Expected};
use crate::plan::{Day, OrderPlan, Step};
use crate::shop::Shop;

/// What the trading came to.
#[derive(Debug, Default)]
pub struct Traded {
    pub expected: Expected,
    /// Requests the client gave up on, or answers it did not expect.
    pub failures: Vec<String>,
}

/// Creates the day's products and initial stock (plus `extra` skus with their stock) through
/// the gateway; returns the units restocked per sku.
pub async fn open_shop(shop: &Shop, day: &Day, extra: &[(&str, i64, u32)]) -> Result<BTreeMap<String, u64>, String> {
    let mut restocked = BTreeMap::new();
    let initial = day.skus.iter().map(|(sku, price)| (*sku, *price, day.initial));
    for (sku, price, quantity) in initial.chain(extra.iter().copied()) {
        shop.put_product(sku, price).await?;
        shop.restock(&format!("initial-{sku}"), sku, quantity).await?;
        restocked.insert(sku.to_owned(), u64::from(quantity));
    }
    Ok(restocked)
}

/// Runs the day's steps, `rate` per second, and waits for every one to finish.
pub async fn trade(shop: Arc<Shop>, day: &Day, rate: f64, mut traded: Traded) -> Traded {
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.01)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = JoinSet::new();
    for step in day.steps.iter().cloned() {
        ticker.tick().await;
        let shop = Arc::clone(&shop);
        tasks.spawn(async move { run_step(&shop, step).await });
    }
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(Done::Order(accepted, failure))) => {
                traded.expected.orders.push(accepted);
                traded.failures.extend(failure);
            }
            Ok(Ok(Done::Restock(sku, quantity))) => *traded.expected.restocked.entry(sku).or_default() += quantity,
            Ok(Err(why)) => traded.failures.push(why),
            Err(panic) => traded.failures.push(format!("a client task panicked: {panic}")),
        }
    }
    traded
}

enum Done {
    /// An accepted order, and what went wrong with its cancel if anything did.
    Order(Accepted, Option<String>),
    Restock(String, u64),
}

async fn run_step(shop: &Shop, step: Step) -> Result<Done, String> {
    match step {
        Step::Order(plan) => order(shop, &plan).await,
        Step::Restock { key, sku, quantity } => {
            shop.restock(&key, sku, quantity).await?;
            Ok(Done::Restock(sku.to_owned(), u64::from(quantity)))
        }
    }
}

/// Places the order, then cancels it at the planned moment (racing the payment's capture).
async fn order(shop: &Shop, plan: &OrderPlan) -> Result<Done, String> {
    let order = shop.place(plan).await?;
    let (cancel, failure) = match plan.cancel_after {
        None => (Cancel::NotAsked, None),
        Some(after) => {
            tokio::time::sleep(after).await;
            match shop.cancel(&order.order_id).await {
                Ok(cancel) => (cancel, None),
                Err(why) => (Cancel::Unanswered, Some(why)),
            }
        }
    };
    let accepted = Accepted {
        key: plan.key.clone(),
        order_id: order.order_id,
        customer: plan.customer.clone(),
        lines: plan.lines.iter().map(|(sku, q)| ((*sku).to_owned(), *q)).collect(),
        total_minor: order.total_minor,
        cancel,
    };
    Ok(Done::Order(accepted, failure))
}
