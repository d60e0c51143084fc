//! A component's own events (docs/design.md, "Its own events"): an event it emits of a type
//! it also handles is applied by that handler in the transaction that emitted it, once the
//! code that emitted it is done — so the component never reads its own events back live,
//! one delivery, decode and commit per event saved. Its stream is read back only as history
//! (`consumer/history.rs`): in a rebuild, into a fresh store, and what was published since
//! the position it recorded.
//!
//! The handler sees what a rebuild would give it: the event's envelope as the handled one's
//! (its `ce-time`, and its `ce-id` as the cause, so the ids it derives are the same), on the
//! state the emitting code left — where, before, it ran on the committed state right after.
//! What it emits is applied the same way, and published like anything else the transaction
//! emits. A replayed handler's events are discarded, not emitted, so nothing is applied for
//! them: the stream's copy is, when the history reaches it.

use crate::context::Context;
use crate::handler::{Failure, Handlers, ServiceError};

/// How deep own events may cause own events: a handler that emits the event it handles would
/// otherwise never end.
const MAX_DEPTH: usize = 8;

/// Applies the own events `ctx` emitted, in emit order, each by its handler in `ctx`'s
/// transaction — and those they emit in turn. A failure fails the emitting code as its own
/// would: the command is refused, the handled event retried or dead-lettered.
pub(crate) fn apply(ctx: &mut Context<'_>, handlers: &Handlers) -> Result<(), Failure> {
    apply_at(ctx, handlers, 1)
}

fn apply_at(ctx: &mut Context<'_>, handlers: &Handlers, depth: usize) -> Result<(), Failure> {
    for event in ctx.take_own_emitted() {
        if depth > MAX_DEPTH {
            return Err(Failure::Hopeless(format!(
                "its own events cause its own events more than {MAX_DEPTH} deep (at {}): does a handler emit the event it handles?",
                event.meta.kind
            )));
        }
        let Some(subscription) = handlers.get(&event.subject) else {
            continue;
        };
        let cause = event.meta.as_cause();
        let mut own = ctx.for_own_event(&event.meta, &cause);
        (subscription.handler)(&mut own, &event.body).map_err(|failure| in_own(failure, &event.meta.kind))?;
        apply_at(&mut own, handlers, depth + 1)?;
    }
    Ok(())
}

/// `failure` of the handler of the own event `kind`, said as such.
fn in_own(failure: Failure, kind: &str) -> Failure {
    let said = |reason: String| format!("applying its own {kind} as it was emitted: {reason}");
    match failure {
        Failure::Handler(reason) => Failure::Handler(said(reason)),
        // Its own event, just encoded, does not decode as its own type: no retry helps.
        Failure::Undecodable(_, reason) | Failure::Hopeless(reason) => Failure::Hopeless(said(reason)),
    }
}

/// A command's answer when applying its own events failed: a fault of the component (500).
pub(crate) fn refusal(failure: Failure) -> ServiceError {
    match failure {
        Failure::Handler(reason) | Failure::Undecodable(_, reason) | Failure::Hopeless(reason) => {
            ServiceError::internal(reason)
        }
    }
}
