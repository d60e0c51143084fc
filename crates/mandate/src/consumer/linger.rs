//! The sync linger (`Options::sync_linger`; `durability.rs`): a consumer that has caught up
//! does not start a sync for its commit. The commit stays *unsettled* — not acknowledged, its
//! progress not counted — while the consumer goes on applying whatever arrives, until a sync
//! covers it: one another commit starts (the relay's, at once, for what a commit publishes; a
//! command's; this consumer's next commit that does not linger), or, once the linger is over,
//! its own. Then it is settled: acknowledged (one ack-all for every commit it held),
//! its commit timed and its spans ended.
//!
//! Only the ack waits, and nothing is acknowledged before it is durable. Not in a rebuild or
//! a history read (their end is decided by what is applied and durable), nor for a consumer
//! with more to read: its commits sync at once, as a busy consumer's always did.

use std::time::Instant;

use super::batch::Run;
use super::*;

/// Commits applied, not yet known durable, not yet acknowledged.
pub(super) struct Unsettled {
    /// The last commit's ticket: durable, it makes every earlier one durable too.
    ticket: u64,
    /// The last message applied: acknowledging it acknowledges all before it (ack-all).
    last: Message,
    /// When the first of them was applied, plus the linger: from then on, syncing is its own
    /// business.
    deadline: tokio::time::Instant,
    /// When each commit began, for the commit metric.
    started: Vec<Instant>,
    committing: Committing,
    traced: Option<std::time::SystemTime>,
}

impl Consumer {
    /// Whether the run just committed may stay unsettled, and until when at most.
    pub(super) fn linger(
        &self,
        run: &Run,
        batch: &[Message],
        reading: &Batches,
        unsettled: &Option<Unsettled>,
    ) -> bool {
        let linger = self.shared.options().sync_linger;
        let caught_up = run.next == batch.len()
            && !reading.has_read_ahead()
            && batch
                .last()
                .and_then(|last| last.info().ok())
                .is_some_and(|info| info.pending == 0);
        let overdue = unsettled
            .as_ref()
            .is_some_and(|unsettled| unsettled.deadline <= tokio::time::Instant::now());
        !linger.is_zero()
            && caught_up
            && !overdue
            && run.failure.is_none()
            && !run.hold
            && run.applied_up_to.is_some()
            && !self.spec.history
            && !self.shared.is_rebuilding()
    }

    /// Leaves the run's commit (`ticket`) unsettled, with any before it.
    pub(super) fn defer(&self, ticket: u64, last: &Message, run: &mut Run, unsettled: &mut Option<Unsettled>) {
        let (started, traced) = run
            .started
            .take()
            .map_or((None, None), |(at, traced)| (Some(at), traced));
        let committing = std::mem::take(&mut run.committing);
        match unsettled {
            Some(held) => {
                held.ticket = ticket;
                held.last = last.clone();
                held.started.extend(started);
                held.committing.absorb(committing);
            }
            None => {
                *unsettled = Some(Unsettled {
                    ticket,
                    last: last.clone(),
                    deadline: tokio::time::Instant::now() + self.shared.options().sync_linger,
                    started: started.into_iter().collect(),
                    committing,
                    traced,
                });
            }
        }
    }

    /// The next batch — settling what is unsettled as soon as a sync covers it, or at its
    /// deadline with a sync of its own, whichever comes before the batch.
    pub(super) async fn next_batch(
        &self,
        reading: &mut Batches,
        unsettled: &mut Option<Unsettled>,
        cancel: &CancellationToken,
    ) -> Result<Option<Vec<Message>>, StoreError> {
        if let Some(held) = unsettled.as_ref() {
            let store = self.shared.store();
            tokio::select! {
                biased;
                batch = reading.next(cancel) => return Ok(batch),
                durable = store.durable_by(held.ticket, held.deadline) => {
                    durable?;
                    self.settled(unsettled).await;
                }
            }
        }
        Ok(reading.next(cancel).await)
    }

    /// Settles what is unsettled: waits until it is durable (starting a sync if need be),
    /// then acknowledges it.
    pub(super) async fn settle(&self, unsettled: &mut Option<Unsettled>) -> Result<(), StoreError> {
        if let Some(held) = unsettled.as_ref() {
            self.shared.store().durable(held.ticket).await?;
            self.settled(unsettled).await;
        }
        Ok(())
    }

    /// What was unsettled is durable: time its commits, end their spans, acknowledge.
    async fn settled(&self, unsettled: &mut Option<Unsettled>) {
        let Some(mut held) = unsettled.take() else { return };
        for started in held.started {
            self.metrics.commit_seconds.observe(started.elapsed());
        }
        held.committing.committed(held.traced);
        self.after_commit(&held.last).await;
    }
}
