//! Acknowledging what is committed, and the fault injection points around it (`--fault`,
//! test-only): park before the ack, or never ack.

use super::*;

impl Consumer {
    /// Acknowledges everything up to `last` with one ack-all, unless a fault is injected.
    pub(super) async fn acknowledge(&self, last: &Message) {
        let fault = self.shared.options().fault;
        if fault == Fault::ParkBeforeAck {
            tracing::warn!("fault injection: parked after commit, before ack");
            std::future::pending::<()>().await;
        }
        if fault == Fault::NeverAck {
            tracing::warn!("fault injection: not acknowledging");
        } else if let Err(err) = last.ack().await {
            // Not fatal: the watermark makes a redelivery harmless.
            tracing::warn!(error = %err, "cannot acknowledge; the batch will be redelivered and skipped");
        }
    }
}
