//! Dead-lettering a message, in the transaction that moves past it — except while a rebuild
//! re-applies what was dead-lettered the first time.

use super::*;

impl Consumer {
    pub(super) fn origin<'m>(&'m self, message: &'m Message) -> Option<Origin<'m>> {
        let info = match message.info() {
            Ok(info) => info,
            Err(err) => {
                tracing::error!(error = %err, subject = %message.subject, "a message without JetStream metadata; ignoring it");
                return None;
            }
        };
        Some(Origin {
            subject: message.subject.as_str(),
            stream: &self.spec.stream,
            sequence: info.stream_sequence,
            consumer: &self.spec.durable,
            deliveries: info.delivered,
            headers: message.headers.as_ref(),
            payload: &message.payload,
        })
    }

    /// Dead-letters, unless a rebuild is re-applying what was dead-lettered the first time.
    pub(super) fn dead_letter(
        &self,
        tx: &mut Tx,
        origin: &Origin<'_>,
        kind: DeadLetterKind,
        reason: &str,
    ) -> Result<(), StoreError> {
        if origin.sequence <= self.progress.replay_until.load(Ordering::Acquire) {
            tracing::debug!(sequence = origin.sequence, "rebuild: already dead-lettered before");
            return Ok(());
        }
        deadletter::stage(tx, &self.shared.name, origin, kind, reason, self.shared.max_payload())
    }
}
