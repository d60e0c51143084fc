//! Retry-alone, a link of the batch chain (`policies.rs`): a message whose handler failed is
//! retried in a transaction of its own with exponential backoff (kept from redelivery
//! meanwhile), then dead-lettered after `max_attempts`.

use super::*;

impl Consumer {
    /// Retries a failed message on its own with exponential backoff, keeping it from being
    /// redelivered meanwhile; dead-letters it after `max_attempts`.
    pub(super) async fn retry_alone(&self, message: &Message, mut reason: String) -> Result<(), crate::Error> {
        let shared = &self.shared;
        let options = shared.options();
        let mut backoff = options.retry_backoff;
        for attempt in 2..=options.max_attempts {
            tracing::warn!(attempt, error = %reason, retry_in = ?backoff, "handler failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
            let _ = message.ack_with(AckKind::Progress).await;
            let _writer = shared.writer().await;
            let mut tx = shared.store().begin();
            let watermark_key = self.spec.watermark_key();
            let mut watermark = tx.read_u64(&watermark_key)?;
            let mut committing = Committing::default();
            match self.apply(&mut tx, message, attempt, &mut watermark, &mut committing)? {
                Applied::Done => {
                    tx.write_u64(watermark_key, watermark);
                    let traced = committing.start();
                    let committed = shared.store().commit(tx)?;
                    committing.committed(traced);
                    shared.hand_off(committed).await;
                    self.metrics.applied.inc();
                    drop(_writer);
                    self.after_commit(message).await;
                    return Ok(());
                }
                Applied::Failed(again) => reason = again,
            }
        }
        let attempts = options.max_attempts;
        let reason = format!("handler failed {attempts} time(s); last error: {reason}");
        self.set_aside(message, attempts, &reason, None).await
    }
}
