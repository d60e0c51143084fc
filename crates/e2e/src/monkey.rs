//! `kill -9` on a schedule: a random component every few seconds (every kind in turn, in a
//! seeded random order, so each is hit about as often), and the nats-server itself. Each
//! victim stays down a random moment, then comes back as it was (same data directory, same
//! port); after a server crash the monkey times how long until an order placed through the
//! gateway completes again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use crate::invariants::{Accepted, Cancel};
use crate::plan::{ACCEPT, OrderPlan};
use crate::shop::Shop;
use crate::{GATEWAY, Stack, server};

/// How long a restarted process may take to answer again.
const BACK_WITHIN: Duration = Duration::from_secs(60);
/// How long after a server restart an order must have completed.
const RECOVER_WITHIN: Duration = Duration::from_secs(60);

/// What to break, and over how long.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub seed: u64,
    /// Component kills (the gateway counts as a component).
    pub kills: usize,
    pub server_kills: usize,
    /// The kills are spread evenly over this long.
    pub over: Duration,
    /// A sku with plenty of stock, for the orders that time the recovery.
    pub probe_sku: &'static str,
}

/// What the monkey did and saw.
#[derive(Debug, Default)]
pub struct Havoc {
    /// Kills per component.
    pub kills: BTreeMap<String, usize>,
    pub server_kills: usize,
    /// Per server crash: from the server's return until an order placed then completed.
    pub recoveries: Vec<Duration>,
    /// The orders placed to time those recoveries (they count like any other order).
    pub probes: Vec<Accepted>,
    /// What did not come back, or came back wrong.
    pub failures: Vec<String>,
}

/// Every process a kill can hit: the components with a store, and the gateway.
pub fn victims(stack: &Stack) -> Vec<String> {
    stack.components().into_iter().chain([GATEWAY.to_owned()]).collect()
}

/// Runs the schedule to its end.
pub async fn run(stack: Arc<Stack>, shop: Arc<Shop>, schedule: Schedule) -> Havoc {
    let mut rng = StdRng::seed_from_u64(schedule.seed ^ 0x6d6f_6e6b_6579);
    let blows = blows(&victims(&stack), &schedule, &mut rng);
    let step = schedule.over / u32::try_from(blows.len() + 1).unwrap_or(u32::MAX);
    let start = Instant::now();
    let mut havoc = Havoc::default();
    for (index, blow) in blows.iter().enumerate() {
        tokio::time::sleep_until(start + step * u32::try_from(index + 1).unwrap_or(u32::MAX)).await;
        let down = Duration::from_millis(rng.random_range(100..1500));
        match blow {
            Some(victim) => kill_component(&stack, victim, down, &mut havoc).await,
            None => {
                let probe = probe_plan(&schedule, havoc.server_kills);
                kill_server(&stack, &shop, &probe, down + Duration::from_millis(500), &mut havoc).await;
            }
        }
    }
    havoc
}

/// The order of blows: `Some(component)` or `None` for the server, whose kills sit evenly
/// among the others.
fn blows(victims: &[String], schedule: &Schedule, rng: &mut StdRng) -> Vec<Option<String>> {
    let mut components = Vec::with_capacity(schedule.kills);
    while components.len() < schedule.kills {
        let mut round = victims.to_vec();
        round.shuffle(rng);
        components.extend(round);
    }
    components.truncate(schedule.kills);
    let total = schedule.kills + schedule.server_kills;
    let mut blows: Vec<Option<String>> = components.into_iter().map(Some).collect();
    for k in 0..schedule.server_kills {
        let at = (k + 1) * total / (schedule.server_kills + 1);
        blows.insert(at.min(blows.len()), None);
    }
    blows
}

async fn kill_component(stack: &Stack, victim: &str, down: Duration, havoc: &mut Havoc) {
    stack.kill(victim);
    *havoc.kills.entry(victim.to_owned()).or_default() += 1;
    tokio::time::sleep(down).await;
    stack.restart(victim);
    if let Err(why) = stack.ready(victim, BACK_WITHIN).await {
        havoc
            .failures
            .push(format!("after kill #{} of {victim}: {why}", havoc.kills[victim]));
    }
}

/// Crashes the server, brings it back on the same port with the same store, checks that no
/// stream lost history, and times an order from then to its end.
async fn kill_server(stack: &Stack, shop: &Shop, probe: &OrderPlan, down: Duration, havoc: &mut Havoc) {
    let before = match stack.stream_positions().await {
        Ok(positions) => positions,
        Err(why) => {
            havoc.failures.push(format!("before the server kill: {why}"));
            return;
        }
    };
    stack.kill_server();
    havoc.server_kills += 1;
    tokio::time::sleep(down).await;
    stack.restart_server();
    let back = Instant::now();
    match stack.stream_positions().await {
        Ok(after) => havoc.failures.extend(
            server::lost_history(&before, &after)
                .into_iter()
                .map(|lost| format!("across server kill #{}: {lost}", havoc.server_kills)),
        ),
        Err(why) => havoc
            .failures
            .push(format!("after server kill #{}: {why}", havoc.server_kills)),
    }
    match tokio::time::timeout(RECOVER_WITHIN, complete(shop, probe)).await {
        Ok(Ok(accepted)) => {
            havoc.recoveries.push(back.elapsed());
            havoc.probes.push(accepted);
        }
        Ok(Err(why)) => havoc
            .failures
            .push(format!("after server kill #{}: {why}", havoc.server_kills)),
        Err(_) => havoc.failures.push(format!(
            "after server kill #{}: order {} did not end within {RECOVER_WITHIN:?} of the server's return",
            havoc.server_kills, probe.key
        )),
    }
}

fn probe_plan(schedule: &Schedule, index: usize) -> OrderPlan {
    OrderPlan {
        key: format!("probe-{}-{index}", schedule.seed),
        customer: "prober".into(),
        lines: vec![(schedule.probe_sku, 1)],
        token: ACCEPT,
        cancel_after: None,
    }
}

/// Places `plan` and waits until it ends (any terminal state: the system works end to end).
pub async fn complete(shop: &Shop, plan: &OrderPlan) -> Result<Accepted, String> {
    let order = shop.place(plan).await?;
    loop {
        if shop.order(&order.order_id).await?.status.is_terminal() {
            return Ok(Accepted {
                key: plan.key.clone(),
                order_id: order.order_id,
                customer: plan.customer.clone(),
                lines: plan.lines.iter().map(|(s, q)| ((*s).to_owned(), *q)).collect(),
                total_minor: order.total_minor,
                cancel: Cancel::NotAsked,
            });
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
