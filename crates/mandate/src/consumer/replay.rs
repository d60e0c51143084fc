//! Replay suppression during a rebuild: events up to a consumer's replay mark are re-applied
//! without re-publishing (`Context::is_replaying`) or re-dead-lettering — a link of the
//! message chain (`policies.rs`); and, in the batch chain, events past the mark wait until
//! every consumer has re-applied its history.

use super::*;

impl Consumer {
    /// Tells `next` whether `delivery` is being re-applied (at or below the replay mark: what
    /// it emits is discarded), and turns its refusal into "done" if so: it was dead-lettered
    /// the first time. Not on the component's own stream, read only as history
    /// (`history.rs`): what it cannot read there came from another writer and was never
    /// read before, so it is dead-lettered (again, if an earlier rebuild read it).
    pub(super) fn suppress_on_replay(&self, delivery: &Delivery<'_>, next: impl FnOnce(bool) -> Handled) -> Handled {
        let replaying = delivery.sequence() <= self.progress.replay_until.load(Ordering::Acquire);
        match next(replaying) {
            Handled::Refused(..) if replaying && !self.spec.history => {
                tracing::debug!(sequence = delivery.sequence(), "rebuild: already dead-lettered before");
                Handled::Done
            }
            handled => handled,
        }
    }

    /// During a rebuild, events past a consumer's replay mark are new: handling them against a
    /// store that other consumers are still rebuilding would decide on half a state. A
    /// history read (`history.rs`) ends at its mark: what comes after was applied as emitted.
    pub(super) fn past_replay_mark(&self, message: &Message) -> bool {
        (self.shared.is_rebuilding() || self.spec.history)
            && message
                .info()
                .is_ok_and(|info| info.stream_sequence > self.progress.replay_until.load(Ordering::Acquire))
    }

    /// Holds this consumer at its replay mark until every consumer has reached its own, so new
    /// events are handled against the whole rebuilt state. False when cancelled meanwhile.
    pub(super) async fn hold_at_mark(&self, cancel: &CancellationToken) -> bool {
        self.catch_up();
        if self.shared.is_rebuilding() {
            tracing::info!("re-applied up to the replay mark; holding new events until the rebuild is complete");
        }
        tokio::select! {
            () = cancel.cancelled() => false,
            () = self.shared.rebuilt() => true,
        }
    }
}
