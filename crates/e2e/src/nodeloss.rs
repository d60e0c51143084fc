//! Node loss on the cluster, while trading goes on: each round kills one node (`kill -9`, a
//! seeded pick), then stops the node leading `EVT_ORDERS` (SIGTERM: it hands its leaderships
//! over); each comes back once every stream and consumer it led has a new leader. For each
//! loss it times, from the moment the node went, until those elections are over, until an
//! order placed through the gateway has ended, and until every stream and durable consumer is
//! back at three current replicas; and it checks that no stream lost history.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use tokio::time::Instant;

use crate::invariants::Accepted;
use crate::monkey::complete;
use crate::plan::{ACCEPT, OrderPlan};
use crate::shop::Shop;
use crate::{Stack, server};

/// How long after a node loss an order must have ended.
const RECOVER_WITHIN: Duration = Duration::from_secs(60);
/// How long after a node's return its replicas must be current again.
const REPLICATED_WITHIN: Duration = Duration::from_secs(60);
/// The stream whose leader's node is stopped: the busiest.
pub const LED_STREAM: &str = "EVT_ORDERS";

/// What to break.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub seed: u64,
    /// Rounds of a kill and a leader stop.
    pub rounds: usize,
    /// How long a lost node stays down at least (it also stays down until every stream and
    /// consumer it led has a new leader).
    pub down: Duration,
    /// A pause before each loss, so that trading is in full swing.
    pub pause: Duration,
    /// A sku with plenty of stock, for the orders that time the recovery.
    pub probe_sku: &'static str,
}

/// How a node was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// `kill -9`.
    Killed,
    /// SIGTERM to the node leading [`LED_STREAM`].
    LeaderStopped,
}

/// One node loss and what it took to recover.
#[derive(Debug, Clone)]
pub struct Loss {
    pub how: How,
    pub node: String,
    /// From the loss until every stream and consumer had a leader on another node.
    pub leaders_again: Option<Duration>,
    /// From the loss until an order placed then had ended.
    pub order_again: Option<Duration>,
    /// From the loss until every stream and consumer had three current replicas again.
    pub replicated: Option<Duration>,
    /// Of which after the node's return.
    pub caught_up: Option<Duration>,
    /// The node leading [`LED_STREAM`] once it was stopped (for [`How::LeaderStopped`]).
    pub new_leader: Option<String>,
}

/// What the node losses did and saw.
#[derive(Debug, Default)]
pub struct Losses {
    pub losses: Vec<Loss>,
    /// The orders placed to time the recoveries (they count like any other order).
    pub probes: Vec<Accepted>,
    /// What did not recover, or recovered wrong.
    pub failures: Vec<String>,
}

/// Runs the schedule to its end.
pub async fn run(stack: Arc<Stack>, shop: Arc<Shop>, schedule: Schedule) -> Losses {
    let mut rng = StdRng::seed_from_u64(schedule.seed ^ 0x6e6f_6465);
    let nodes = stack.nodes();
    let mut losses = Losses::default();
    let mut late = Vec::new();
    for _ in 0..schedule.rounds {
        tokio::time::sleep(schedule.pause).await;
        let victim = nodes.choose(&mut rng).cloned().unwrap_or_else(|| "nats-1".to_owned());
        lose(&stack, &shop, &schedule, (How::Killed, victim), &mut losses, &mut late).await;
        tokio::time::sleep(schedule.pause).await;
        match leader(&stack).await {
            Ok(node) => {
                lose(
                    &stack,
                    &shop,
                    &schedule,
                    (How::LeaderStopped, node),
                    &mut losses,
                    &mut late,
                )
                .await
            }
            Err(why) => losses.failures.push(why),
        }
    }
    // A probe that ended late is still an order the client placed: the checks count it.
    for probe in late {
        if let Ok(Ok(Ok((accepted, _)))) = tokio::time::timeout(RECOVER_WITHIN, probe).await {
            losses.probes.push(accepted);
        }
    }
    losses
}

/// The node leading [`LED_STREAM`], waited for while an election is under way.
async fn leader(stack: &Stack) -> Result<String, String> {
    let deadline = Instant::now() + RECOVER_WITHIN;
    loop {
        match stack.stream_leader(LED_STREAM).await {
            Ok(node) => return Ok(node),
            Err(why) if Instant::now() >= deadline => return Err(format!("no leader of {LED_STREAM}: {why}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// A probe order still under way when its time was up.
type Late = tokio::task::JoinHandle<Result<(Accepted, Instant), String>>;

async fn lose(
    stack: &Stack,
    shop: &Arc<Shop>,
    schedule: &Schedule,
    (how, node): (How, String),
    losses: &mut Losses,
    late: &mut Vec<Late>,
) {
    let before = match stack.stream_positions().await {
        Ok(positions) => positions,
        Err(why) => {
            losses.failures.push(format!("before losing {node}: {why}"));
            return;
        }
    };
    let lost_at = Instant::now();
    match how {
        How::Killed => stack.kill_node(&node),
        How::LeaderStopped => stack.stop_node(&node),
    }
    let mut probe = tokio::spawn(timed_order(Arc::clone(shop), probe_plan(schedule, losses.losses.len())));
    let new_leader = match how {
        How::Killed => None,
        How::LeaderStopped => match leader(stack).await {
            Ok(elected) if elected == node => {
                losses
                    .failures
                    .push(format!("{node} was stopped and still leads {LED_STREAM}"));
                Some(elected)
            }
            Ok(elected) => Some(elected),
            Err(why) => {
                losses.failures.push(format!("after stopping {node}: {why}"));
                None
            }
        },
    };
    // The node stays down until every group it led has a new leader, and at least `down`.
    let leaders = stack
        .await_leaders(&node, RECOVER_WITHIN)
        .await
        .map(|_| lost_at.elapsed());
    tokio::time::sleep(schedule.down.saturating_sub(lost_at.elapsed())).await;
    stack.restart_node(&node);
    let back_at = Instant::now();
    let mut loss = Loss {
        how,
        node,
        leaders_again: None,
        order_again: None,
        replicated: None,
        caught_up: None,
        new_leader,
    };
    match leaders {
        Ok(took) => loss.leaders_again = Some(took),
        Err(why) => losses.failures.push(format!("after {loss}: {why}")),
    }
    match stack.await_replicated(REPLICATED_WITHIN).await {
        Ok(took) => {
            loss.caught_up = Some(took);
            loss.replicated = Some(back_at + took - lost_at);
        }
        Err(why) => losses.failures.push(format!("after {loss}: {why}")),
    }
    match tokio::time::timeout(RECOVER_WITHIN, &mut probe).await {
        Ok(Ok(Ok((accepted, ended_at)))) => {
            loss.order_again = Some(ended_at - lost_at);
            losses.probes.push(accepted);
        }
        Ok(Ok(Err(why))) => losses.failures.push(format!("after {loss}: {why}")),
        Ok(Err(panic)) => losses
            .failures
            .push(format!("after {loss}: the probe panicked: {panic}")),
        Err(_) => {
            losses.failures.push(format!(
                "after {loss}: an order placed then did not end within {RECOVER_WITHIN:?}"
            ));
            late.push(probe);
        }
    }
    match stack.stream_positions().await {
        Ok(after) => losses.failures.extend(
            server::lost_history(&before, &after)
                .into_iter()
                .map(|lost| format!("across {loss}: {lost}")),
        ),
        Err(why) => losses.failures.push(format!("after {loss}: {why}")),
    }
    losses.losses.push(loss);
}

/// Places `plan` and waits until it ends; returns when it did.
async fn timed_order(shop: Arc<Shop>, plan: OrderPlan) -> Result<(Accepted, Instant), String> {
    let accepted = complete(&shop, &plan).await?;
    Ok((accepted, Instant::now()))
}

fn probe_plan(schedule: &Schedule, index: usize) -> OrderPlan {
    OrderPlan {
        key: format!("node-loss-probe-{}-{index}", schedule.seed),
        customer: "prober".into(),
        lines: vec![(schedule.probe_sku, 1)],
        token: ACCEPT,
        cancel_after: None,
    }
}

impl fmt::Display for Loss {
    /// `kill -9 of nats-2` or `stop of nats-1 (leader of EVT_ORDERS)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.how {
            How::Killed => write!(f, "kill -9 of {}", self.node),
            How::LeaderStopped => write!(f, "stop of {} (leader of {LED_STREAM})", self.node),
        }
    }
}

impl Loss {
    /// `kill -9 of nats-2: leaders again 4.2s, order again 5.1s, 3 current replicas 9.1s (1.0s
    /// after its return)`.
    pub fn describe(&self) -> String {
        let secs = |d: Option<Duration>| d.map_or("-".to_owned(), |d| format!("{:.1}s", d.as_secs_f64()));
        let leader = self
            .new_leader
            .as_ref()
            .map(|l| format!(", new leader {l}"))
            .unwrap_or_default();
        format!(
            "{self}{leader}: leaders again {}, order again {}, 3 current replicas {} ({} after its return)",
            secs(self.leaders_again),
            secs(self.order_again),
            secs(self.replicated),
            secs(self.caught_up)
        )
    }
}
