//! The innermost link of the message chain (`policies.rs`): the subscription's handler, run
//! in the event's span with a `Context` on the transaction, a panic caught as a failure to
//! retry. Whatever does not succeed leaves nothing in its step.

use super::*;

impl Consumer {
    /// Runs `subscription`'s handler on `delivery` in the current step of `tx`; `replaying`
    /// discards the events it emits (replay suppression).
    pub(super) fn handle(
        &self,
        tx: &mut Tx,
        delivery: &Delivery<'_>,
        subscription: &Subscription,
        meta: &Meta,
        replaying: bool,
    ) -> Handled {
        let span = delivery.span.get_or_init(|| {
            tracing::info_span!(
                "event",
                subject = %delivery.message.subject,
                id = %meta.id,
                sequence = delivery.sequence(),
                correlation_id = %meta.correlation_id,
                trace_id = %meta.traceparent.trace_id,
            )
        });
        let _entered = span.enter();
        if self.shared.options().fault == Fault::FailHandlers {
            tx.discard_step();
            return Handled::Failed("fault injection: every handler fails (MANDATE_FAULT=fail-handlers)".to_owned());
        }
        let cause = meta.as_cause();
        let started = std::time::Instant::now();
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut ctx = Context::for_event(&mut *tx, self.shared.emitter(), meta, &cause, replaying);
            (subscription.handler)(&mut ctx, &delivery.message.payload)
        }));
        self.metrics.handler_seconds.observe(started.elapsed());
        let handled = match result {
            Ok(Ok(())) => return Handled::Done,
            Ok(Err(Failure::Undecodable(kind, reason))) => Handled::Refused(kind, reason),
            Ok(Err(Failure::Hopeless(reason))) => Handled::Refused(DeadLetterKind::HandlerFailed, reason),
            Ok(Err(Failure::Handler(reason))) => Handled::Failed(reason),
            Err(panic) => Handled::Failed(format!("handler panicked: {}", crate::panic_message(&panic))),
        };
        tx.discard_step();
        handled
    }
}
