//! One message in a transaction: skip it if already applied, dead-letter it if it cannot be
//! handled, otherwise run its handler — a panic caught as a failure to retry.

use super::*;

impl Consumer {
    /// Applies one message in the current step of `tx`: skip it if at or below `watermark`
    /// (already applied), dead-letter it if it cannot be handled, otherwise run its handler.
    /// Moves `watermark` to the message unless the handler failed; the caller writes it into
    /// `tx` before the commit.
    pub(super) fn apply(
        &self,
        tx: &mut Tx,
        message: &Message,
        attempt: u32,
        watermark: &mut u64,
    ) -> Result<Applied, StoreError> {
        let Some(mut origin) = self.origin(message) else {
            return Ok(Applied::Done);
        };
        origin.deliveries = origin.deliveries.max(i64::from(attempt));
        let sequence = origin.sequence;
        if sequence <= *watermark {
            tracing::debug!(sequence, "already applied; skipping");
            return Ok(Applied::Done);
        }
        let outcome = match self.classify(message) {
            Err((kind, reason)) => {
                self.dead_letter(tx, &origin, kind, &reason)?;
                Applied::Done
            }
            Ok((subscription, meta)) => {
                let cause = meta.as_cause();
                let replaying = sequence <= self.progress.replay_until.load(Ordering::Acquire);
                let span = tracing::info_span!(
                    "event",
                    subject = %message.subject,
                    id = %meta.id,
                    sequence,
                    correlation_id = %meta.correlation_id,
                    trace_id = %meta.traceparent.trace_id,
                );
                let _entered = span.enter();
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    let mut ctx = Context::for_event(&mut *tx, self.shared.emitter(), &meta, &cause, replaying);
                    (subscription.handler)(&mut ctx, &message.payload)
                }));
                match result {
                    Ok(Ok(())) => Applied::Done,
                    Ok(Err(Failure::Undecodable(kind, reason))) => {
                        tx.discard_step();
                        self.dead_letter(tx, &origin, kind, &reason)?;
                        Applied::Done
                    }
                    Ok(Err(Failure::Hopeless(reason))) => {
                        tx.discard_step();
                        self.dead_letter(tx, &origin, DeadLetterKind::HandlerFailed, &reason)?;
                        Applied::Done
                    }
                    Ok(Err(Failure::Handler(reason))) => return Ok(Applied::Failed(reason)),
                    Err(panic) => {
                        return Ok(Applied::Failed(format!(
                            "handler panicked: {}",
                            crate::panic_message(&panic)
                        )));
                    }
                }
            }
        };
        *watermark = sequence;
        Ok(outcome)
    }
}

/// What applying one message came to.
pub(super) enum Applied {
    /// Handled, skipped as a duplicate, or dead-lettered: the position moves past it.
    Done,
    /// The handler failed; retry it on its own.
    Failed(String),
}
