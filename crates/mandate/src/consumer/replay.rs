//! Replay suppression during a rebuild: events up to a consumer's replay mark are re-applied
//! without re-publishing (`Context::is_replaying`) or re-dead-lettering; events past it wait
//! until every consumer has re-applied its history.

use super::*;

impl Consumer {
    /// During a rebuild, events past a consumer's replay mark are new: handling them against a
    /// store that other consumers are still rebuilding would decide on half a state.
    pub(super) fn past_replay_mark_while_rebuilding(&self, message: &Message) -> bool {
        self.shared.is_rebuilding()
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
