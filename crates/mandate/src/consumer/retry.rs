//! Retry-alone: a message whose handler failed is retried on its own with exponential backoff
//! (kept from redelivery meanwhile), then dead-lettered after `max_attempts`.

use super::*;

impl Consumer {
    /// Retries a failed message on its own with exponential backoff, keeping it from being
    /// redelivered meanwhile; dead-letters it after `max_attempts`.
    pub(super) async fn retry_alone(&self, message: &Message, mut reason: String) -> Result<(), crate::Error> {
        let shared = &self.shared;
        let mut backoff = shared.options.retry_backoff;
        for attempt in 2..=shared.options.max_attempts {
            tracing::warn!(attempt, error = %reason, retry_in = ?backoff, "handler failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
            let _ = message.ack_with(AckKind::Progress).await;
            let _writer = shared.write_lock.lock().await;
            let mut tx = shared.store.begin();
            let watermark_key = self.spec.watermark_key();
            let mut watermark = tx.read_u64(&watermark_key)?;
            match self.apply(&mut tx, message, attempt, &mut watermark)? {
                Applied::Done => {
                    tx.write_u64(watermark_key, watermark);
                    shared.store.commit(tx)?;
                    drop(_writer);
                    shared.relay.wake();
                    self.after_commit(message).await;
                    return Ok(());
                }
                Applied::Failed(again) => reason = again,
            }
        }
        let attempts = shared.options.max_attempts;
        let reason = format!("handler failed {attempts} time(s); last error: {reason}");
        self.set_aside(message, attempts, &reason, None).await
    }

    /// Dead-letters `message` (it failed `attempts` times) and moves past it, removing the
    /// crash guard's note in the same transaction.
    pub(super) async fn set_aside(
        &self,
        message: &Message,
        attempts: u32,
        reason: &str,
        note: Option<NoteRemoval>,
    ) -> Result<(), crate::Error> {
        let shared = &self.shared;
        {
            let _writer = shared.write_lock.lock().await;
            let mut tx = shared.store.begin();
            if let Some(note) = note {
                note.remove_in(&mut tx);
            }
            let Some(mut origin) = self.origin(message) else {
                shared.store.commit(tx)?;
                return Ok(());
            };
            origin.deliveries = origin.deliveries.max(i64::from(attempts));
            self.dead_letter(&mut tx, &origin, DeadLetterKind::HandlerFailed, reason)?;
            tx.write_u64(self.spec.watermark_key(), origin.sequence);
            shared.store.commit(tx)?;
        }
        shared.relay.wake();
        let _ = message.ack_with(AckKind::Term).await;
        self.after_commit(message).await;
        Ok(())
    }
}
