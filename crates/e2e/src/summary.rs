//! The one line a chaos run ends with — what `scripts/chaos` prints and
//! `docs/reliability.md` quotes: `CHAOS SUMMARY seed=… orders=… kills=… lost=… …`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::invariants::{DEAD_LETTERS, DOUBLING, LOST, STUCK};
use crate::monkey::Havoc;
use crate::verdict::Verdict;

/// The prefix `scripts/chaos` looks for.
pub const PREFIX: &str = "CHAOS SUMMARY";

#[derive(Debug)]
pub struct Summary<'a> {
    pub seed: u64,
    /// Orders the client was told were accepted.
    pub orders: usize,
    /// Requests the client gave up on.
    pub unanswered: usize,
    pub havoc: &'a Havoc,
    pub verdict: &'a Verdict,
    pub outcomes: &'a BTreeMap<String, usize>,
    pub retries: u64,
    pub elapsed: Duration,
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kills: usize = self.havoc.kills.values().sum();
        let by_component = join(self.havoc.kills.iter().map(|(name, n)| format!("{name}:{n}")));
        let recoveries = join(self.havoc.recoveries.iter().map(|d| format!("{:.1}s", d.as_secs_f64())));
        let doubled: usize = DOUBLING.iter().map(|name| self.verdict.count(name)).sum();
        write!(
            f,
            "{PREFIX} seed={} orders={} kills={kills} ({by_component}) server_kills={} lost={} doubled={doubled} \
             stuck={} dead_lettered={} recover_after_server_kill=[{recoveries}] unanswered={} client_retries={} \
             outcomes=({}) elapsed={:.0}s broken=[{}]",
            self.seed,
            self.orders,
            self.havoc.server_kills,
            self.verdict.count(LOST),
            self.verdict.count(STUCK),
            self.verdict.count(DEAD_LETTERS),
            self.unanswered,
            self.retries,
            join(self.outcomes.iter().map(|(status, n)| format!("{status}:{n}"))),
            self.elapsed.as_secs_f64(),
            self.verdict.headline(),
        )
    }
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(",")
}
