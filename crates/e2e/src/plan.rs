//! A seeded day of trading over a small stock: orders (some with the `decline` payment token,
//! some cancelled right after placing or a little later, racing the capture) and restocks.
//! The same seed gives the same day, so a failing run can be run again.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The payment token the simulated provider declines.
pub const DECLINE: &str = "decline";
/// A payment token the simulated provider accepts.
pub const ACCEPT: &str = "tok";

/// What the day trades, and how.
#[derive(Debug, Clone)]
pub struct Day {
    /// Every sku with its unit price in minor units.
    pub skus: Vec<(&'static str, i64)>,
    /// Units of each sku restocked before the first order.
    pub initial: u32,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub enum Step {
    Order(OrderPlan),
    Restock {
        key: String,
        sku: &'static str,
        quantity: u32,
    },
}

/// One order as the customer means it.
#[derive(Debug, Clone)]
pub struct OrderPlan {
    /// The idempotency key: every retry of the placement carries it.
    pub key: String,
    pub customer: String,
    pub lines: Vec<(&'static str, u32)>,
    pub token: &'static str,
    /// Cancel this long after the order is accepted (zero: at once), or never.
    pub cancel_after: Option<Duration>,
}

/// The day of `seed` with `orders` orders: one order in ten declined, one in ten cancelled at
/// once and one in ten cancelled up to 0.8 s later; a restock after every ninth order.
pub fn plan(seed: u64, orders: usize) -> Day {
    plan_with(seed, orders, 20)
}

/// [`plan`] with `cancel_percent` of the orders cancelled (half at once, half up to 0.8 s
/// later); 0 leaves out the races between cancellations and captures.
pub fn plan_with(seed: u64, orders: usize, cancel_percent: u32) -> Day {
    let mut rng = StdRng::seed_from_u64(seed);
    let skus = vec![
        ("mug", 1250),
        ("tea", 499),
        ("pot", 3000),
        ("cup", 800),
        // Dear: three of them are over a customer's limit at the payment provider, so such an
        // order is declined whatever its token.
        ("jar", 40_000),
    ];
    let mut steps = Vec::new();
    for i in 0..orders {
        if i % 10 == 9 {
            let (sku, _) = skus[rng.random_range(0..skus.len())];
            steps.push(Step::Restock {
                key: format!("restock-{seed}-{i}"),
                sku,
                quantity: rng.random_range(20..60),
            });
        }
        let lines = (0..rng.random_range(1..=3))
            .map(|_| (skus[rng.random_range(0..skus.len())].0, rng.random_range(1..=3)))
            .collect();
        let roll = rng.random_range(0..100);
        let cancel_after = if roll < cancel_percent / 2 {
            Some(Duration::ZERO)
        } else if roll < cancel_percent {
            Some(Duration::from_millis(rng.random_range(20..800)))
        } else {
            None
        };
        steps.push(Step::Order(OrderPlan {
            key: format!("order-{seed}-{i}"),
            customer: format!("customer-{}", rng.random_range(0..20)),
            lines,
            token: if rng.random_bool(0.1) { DECLINE } else { ACCEPT },
            cancel_after,
        }));
    }
    Day {
        skus,
        initial: 30,
        steps,
    }
}

impl Day {
    /// The orders of the day, in order.
    pub fn orders(&self) -> impl Iterator<Item = &OrderPlan> {
        self.steps.iter().filter_map(|step| match step {
            Step::Order(order) => Some(order),
            Step::Restock { .. } => None,
        })
    }
}
