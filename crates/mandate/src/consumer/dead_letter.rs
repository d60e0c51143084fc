//! Dead-lettering, in the transaction that moves past the message: a link of the message
//! chain (`policies.rs`) that stages what the links inside refuse, and setting a message
//! aside without its handler (the crash guard, retries exhausted).

use super::*;

impl Consumer {
    /// Runs `next` and dead-letters `delivery` in the current step of `tx` if it refuses it
    /// (in the event's span, when the handler opened one).
    pub(super) fn dead_letter_refused(
        &self,
        tx: &mut Tx,
        delivery: &Delivery<'_>,
        next: impl FnOnce(&mut Tx) -> Handled,
    ) -> Result<Applied, StoreError> {
        match next(tx) {
            Handled::Done => Ok(Applied::Done),
            Handled::Failed(reason) => Ok(Applied::Failed(reason)),
            Handled::Refused(kind, reason) => {
                self.metrics.dead_lettered(kind);
                let _in_event = delivery.span.get().map(tracing::Span::enter);
                let shared = &self.shared;
                deadletter::stage(tx, shared.name(), &delivery.origin, kind, &reason, shared.max_payload())?;
                Ok(Applied::Done)
            }
        }
    }

    /// Dead-letters `message` (it failed `attempts` times) without running its handler and
    /// moves past it, removing the crash guard's note in the same transaction; then
    /// acknowledges it.
    pub(super) async fn set_aside(
        &self,
        message: &Message,
        attempts: u32,
        reason: &str,
        note: Option<NoteRemoval>,
    ) -> Result<(), crate::Error> {
        let shared = &self.shared;
        {
            let _writer = shared.writer().await;
            let mut tx = shared.store().begin();
            if let Some(note) = note {
                note.remove_in(&mut tx);
            }
            let Some(delivery) = self.delivery(message, attempts) else {
                shared.hand_off(shared.store().commit(tx)?).await;
                return Ok(());
            };
            self.refuse(&mut tx, &delivery, reason)?;
            tx.write_u64(self.spec.watermark_key(), delivery.sequence());
            shared.hand_off(shared.store().commit(tx)?).await;
            self.metrics.applied.inc();
        }
        let _ = message.ack_with(AckKind::Term).await;
        self.after_commit(message).await;
        Ok(())
    }
}
