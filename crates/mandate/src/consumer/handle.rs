//! The innermost link of the message chain (`policies.rs`): the subscription's handler, run
//! in the event's span with a `Context` on the transaction, a panic caught as a failure to
//! retry. Whatever does not succeed leaves nothing in its step. The component's own events
//! the handler emitted are applied in the same step (`own.rs`).
//!
//! With traces exported (`telemetry.rs`), the event gets a `consume` span parented on its
//! `traceparent`, held open until its transaction commits (`Committing`), and the handler a
//! `handler` span inside it, whose `traceparent` what it emits carries.

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
        committing: &mut Committing,
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
        let subject = crate::partition::event_subject(&delivery.message.subject);
        let mut consumed = telemetry::consume(&meta.traceparent, subject, &meta.id, &self.spec.durable);
        let mut handler = consumed.child(|| format!("handler {}", subscription.ce_type));
        let cause = meta.as_cause();
        let cause = handler.cause(&cause);
        let started = std::time::Instant::now();
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut ctx = Context::for_event(&mut *tx, self.shared.emitter(), meta, &cause, replaying);
            (subscription.handler)(&mut ctx, &delivery.message.payload)?;
            own::apply(&mut ctx, self.shared.handlers())
        }));
        self.metrics.handler_seconds.observe(started.elapsed());
        let handled = match result {
            Ok(Ok(())) => {
                drop(handler);
                committing.hold(consumed);
                return Handled::Done;
            }
            Ok(Err(Failure::Undecodable(kind, reason))) => Handled::Refused(kind, reason),
            Ok(Err(Failure::Hopeless(reason))) => Handled::Refused(DeadLetterKind::HandlerFailed, reason),
            Ok(Err(Failure::Handler(reason))) => Handled::Failed(reason),
            Err(panic) => Handled::Failed(format!("handler panicked: {}", crate::panic_message(&panic))),
        };
        tx.discard_step();
        match &handled {
            // Dead-lettered in this transaction: the message is consumed when it commits.
            Handled::Refused(kind, reason) => {
                handler.fail(|| format!("{}: {reason}", kind.as_str()));
                drop(handler);
                committing.hold(consumed);
            }
            Handled::Failed(reason) => {
                handler.fail(|| reason.clone());
                consumed.fail(|| reason.clone());
            }
            Handled::Done => {}
        }
        handled
    }
}
