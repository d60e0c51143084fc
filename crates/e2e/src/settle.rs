//! Quiescence: every running component has nothing pending and an empty outbox, as its admin
//! status over the bus says — the moment after which a run's results can be read.

use std::time::Duration;

use crate::Stack;

/// How many quiet looks in a row count as quiet: a reaction in flight between two
/// components shows up as pending on a later look.
const QUIET_ROUNDS: u32 = 3;

impl Stack {
    /// Waits until every running component has nothing pending and an empty outbox, three
    /// looks in a row, or panics saying which one did not settle and why.
    pub async fn quiesce(&self, timeout: Duration) {
        if let Err(why) = self.settle(timeout).await {
            panic!("e2e: the storefront did not settle in {timeout:?}: {why}");
        }
    }

    /// [`quiesce`](Stack::quiesce) that says what was still busy at the deadline instead of
    /// panicking (e.g. `inventory: outbox 2`), so that a run can report it and go on checking.
    pub async fn settle(&self, timeout: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut quiet_rounds = 0;
        loop {
            let busy = self.busy().await;
            quiet_rounds = if busy.is_empty() { quiet_rounds + 1 } else { 0 };
            if quiet_rounds >= QUIET_ROUNDS {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(busy.join("; "));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What each running component with a store still has to do, one entry per busy one.
    pub async fn busy(&self) -> Vec<String> {
        let mut busy = Vec::new();
        let stateful = self.components();
        for name in self.running() {
            if !stateful.contains(&name) {
                continue;
            }
            match self.bus.status(&name).await {
                Ok(status) => {
                    let mut what = Vec::new();
                    if status.rebuilding {
                        what.push("rebuilding".to_owned());
                    }
                    if status.outbox_depth > 0 {
                        what.push(format!("outbox {}", status.outbox_depth));
                    }
                    for consumer in &status.consumers {
                        match consumer.pending {
                            Some(0) => {}
                            Some(n) => what.push(format!("{} pending {n}", consumer.stream)),
                            None => what.push(format!("{} pending unknown", consumer.stream)),
                        }
                    }
                    if !what.is_empty() {
                        busy.push(format!("{name}: {}", what.join(", ")));
                    }
                }
                Err(err) => busy.push(format!("{name}: no status ({err})")),
            }
        }
        busy
    }
}

impl Stack {
    /// After a run that crashed things: waits until every process still runs (else the
    /// finding `survival`), outboxes and consumers drain, and every order of `expected` has
    /// ended, within `within`; what did not happen in time becomes a finding in `verdict` (the
    /// invariant checks then say where).
    pub async fn drain_after_havoc(
        &self,
        expected: &crate::invariants::Expected,
        within: Duration,
        survival: &str,
        verdict: &mut crate::verdict::Verdict,
    ) {
        let deadline = tokio::time::Instant::now() + within;
        for name in self.running() {
            if let Err(why) = self.alive(&name) {
                verdict.broke(survival, format!("{why}\n{}", self.log_tail(&name)));
            }
        }
        if let Err(busy) = self.settle(within).await {
            verdict.broke("quiescence: outboxes and consumers drain", busy);
            return;
        }
        loop {
            let mut open = 0;
            for accepted in &expected.orders {
                if let Ok(Some(order)) = crate::services::order(self, &accepted.order_id).await {
                    open += usize::from(!order.status.is_terminal());
                }
            }
            if open == 0 || tokio::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
