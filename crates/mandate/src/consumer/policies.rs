//! The consume loop's policies, composed: what happens to one message and to one batch, in
//! which order, and why. The shape is Watermill's router — a handler wrapped in middleware,
//! each a function of the next — without a framework: every link is a small method in its own
//! file with one job, called here with the rest of the chain as its `next` (a closure, so the
//! chain is plain static dispatch, inlined, with nothing boxed per message). Read this file to
//! know the order; read a link's file to know what it does.
//!
//! One message, in its own step of the batch's transaction (`Consumer::apply`), outermost
//! first:
//!
//! 1. **skip what is applied** — at or below the watermark, a message has had its effects
//!    (exactly once; the loop's core, not a policy). First, so that nothing below runs twice.
//!
//!    Then, in a partition, **pass over another partition's key** (`owner.rs`): a partition
//!    reads the events split by its key that the server cannot sort by slot (published
//!    before keys, or stored without a slot) and moves past those of keys another partition
//!    owns, untouched. Right after the watermark: what is not this partition's must not reach
//!    a handler, nor be dead-lettered here (its owner does that).
//! 2. **dead-letter on refusal** (`dead_letter.rs`) — a message the links inside refuse is
//!    staged on `dlq.<component>` in this step, and the position moves past it. Outside every
//!    link that can refuse, so that each refusal — strict reading, a body that does not decode,
//!    an event too large to publish — ends the same way.
//! 3. **replay suppression** (`replay.rs`) — up to a rebuild's replay mark, the message was
//!    handled before: its handler's events are discarded, not published again, and a refusal
//!    is not dead-lettered again. Inside the dead-lettering (it turns a refusal into "done"
//!    before it gets there), outside the reading and the handler (both refuse again in a
//!    rebuild, exactly as the first time).
//! 4. **strict reading** (`strict.rs`) — a handler for the subject and a well-formed envelope
//!    whose `ce-type` and `ce-source` are the subject's. Before the handler: nothing of a
//!    message that breaks the contract is applied.
//! 5. **the handler, its panic caught** (`handle.rs`) — in the event's span; a handler error or
//!    a panic is a failure a retry may get past, a body that does not decode or an event too
//!    large is a refusal; whatever did not succeed leaves nothing in its step.
//!
//! A message set aside without its handler (`Consumer::refuse`: it stopped the process, or
//! failed `max_attempts` times) goes through links 2 and 3 around a refusal.
//!
//! One batch (`Consumer::process_batch`), in order, over runs of messages:
//!
//! 1. **crash guard** (`crashguard.rs`) — before a handler runs, note durably which messages
//!    this transaction applies; after a stop among them, apply them one per transaction, and
//!    set one aside (`dead_letter.rs`) once it has stopped the process `max_attempts` times.
//!    First, because a handler that aborts the process leaves nothing else behind.
//! 2. **apply the run and commit** (`batch.rs`) — the message chain above for each message,
//!    up to a failing handler or a rebuild's replay mark, and the watermark, in one
//!    transaction (flush + fdatasync; a large one on a blocking thread while the next batch is
//!    read). Under the one writer lock, with the guard's decision.
//! 3. **acknowledge, fault injection around it** (`fault.rs`) — one ack-all after the commit,
//!    never before: an ack must not run ahead of what is durable. Once the consumer has
//!    caught up, the commit may stay unsettled instead (`linger.rs`): the consumer goes on,
//!    and one ack-all follows when a sync covers it. The `--fault` points sit in
//!    exactly the window crash tests need: committed, not acknowledged.
//! 4. **hold at the replay mark** (`replay.rs`) — during a rebuild, a consumer that has
//!    re-applied its history waits for the others before handling anything new. After the
//!    ack, so that the others see this one caught up.
//! 5. **retry alone, then dead-letter** (`retry.rs`) — the message whose handler failed,
//!    retried in a transaction of its own with backoff, then set aside. After the commit of the
//!    messages before it, so that its failure undoes none of theirs and its retries hold none
//!    of them back.

use super::*;

impl Consumer {
    /// The message chain: applies `message` in the current step of `tx` (`attempt` is its
    /// delivery as the loop counts it). Moves `watermark` to it unless the handler failed; the
    /// caller writes the watermark into `tx` before the commit.
    pub(super) fn apply(
        &self,
        tx: &mut Tx,
        message: &Message,
        attempt: u32,
        watermark: &mut u64,
        committing: &mut Committing,
    ) -> Result<Applied, StoreError> {
        let Some(delivery) = self.delivery(message, attempt) else {
            return Ok(Applied::Done);
        };
        if attempt == 1 && delivery.origin.deliveries > 1 {
            self.metrics.redeliveries.inc();
        }
        if delivery.sequence() <= *watermark {
            tracing::debug!(sequence = delivery.sequence(), "already applied; skipping");
            return Ok(Applied::Done);
        }
        if self.owned_elsewhere(&delivery) {
            *watermark = delivery.sequence();
            return Ok(Applied::Done);
        }
        let applied = self.dead_letter_refused(tx, &delivery, |tx| {
            self.suppress_on_replay(&delivery, |replaying| {
                self.strict(&delivery, |subscription, meta| {
                    self.handle(tx, &delivery, subscription, meta, replaying, committing)
                })
            })
        })?;
        if let Applied::Done = applied {
            *watermark = delivery.sequence();
        }
        Ok(applied)
    }

    /// Sets `delivery` aside without running its handler, for `reason`: links 2 and 3 of the
    /// message chain around a refusal.
    pub(super) fn refuse(&self, tx: &mut Tx, delivery: &Delivery<'_>, reason: &str) -> Result<(), StoreError> {
        self.dead_letter_refused(tx, delivery, |_| {
            self.suppress_on_replay(delivery, |_| {
                Handled::Refused(DeadLetterKind::HandlerFailed, reason.to_owned())
            })
        })?;
        Ok(())
    }

    /// The batch chain: applies `batch` in stream order, in transactions over runs of
    /// messages, each committed then acknowledged; a failing message is retried alone, then
    /// dead-lettered, and the rest of the batch follows.
    pub(super) async fn process_batch(
        self: &Arc<Self>,
        mut batch: Vec<Message>,
        reading: &mut Batches,
        unsettled: &mut Option<Unsettled>,
        guard: &mut CrashGuard,
        cancel: &CancellationToken,
    ) -> Result<(), crate::Error> {
        let mut next = 0;
        while next < batch.len() {
            let writer = self.shared.writer().await;
            // 1. The crash guard: how far this transaction may reach.
            let end = match self.guard_next(guard, &batch, next)? {
                Next::Batch => batch.len(),
                Next::Alone => next + 1,
                Next::SetAside(stops) => {
                    drop(writer);
                    self.metrics.crash_guard_set_asides.inc();
                    let note = guard.take_note();
                    self.set_aside(&batch[next], stops, &stopped_the_process(stops), note)
                        .await?;
                    next += 1;
                    continue;
                }
            };
            // 2. Apply the run and commit, the guard's note removed with it.
            let Some(mut run) = self.transact(&mut batch, next, end, guard.take_note(), reading).await? else {
                return Ok(()); // The runtime is shutting down.
            };
            let linger = self.linger(&run, &batch, reading, unsettled);
            // Still the one writer: hand-offs come in commit order.
            let ticket = self.shared.hand_off(std::mem::take(&mut run.committed)).await;
            drop(writer);
            next = run.next;
            // 3. Acknowledge what is committed — or, caught up, once a sync covers it.
            if let (true, Some(last)) = (linger, run.applied_up_to) {
                self.defer(ticket, &batch[last], &mut run, unsettled);
                continue;
            }
            self.durable(ticket, &mut run).await?;
            // Whatever an earlier commit left unsettled is durable now too.
            self.settle(unsettled).await?;
            if let Some(last) = run.applied_up_to {
                self.after_commit(&batch[last]).await;
            }
            // 4. Hold at a rebuild's replay mark; a history read ends at its mark.
            if run.hold && !self.hold_at_mark(cancel).await {
                return Ok(());
            }
            if self.history_read() {
                return Ok(());
            }
            // 5. Retry the failed message alone, then dead-letter it.
            if let Some(reason) = run.failure {
                self.retry_alone(&batch[next], reason).await?;
                next += 1;
            }
        }
        Ok(())
    }
}

/// Why a message the crash guard sets aside is dead-lettered.
fn stopped_the_process(stops: u32) -> String {
    format!(
        "the component stopped {stops} time(s) while applying this message (abort, stack overflow or out of memory); set aside without running its handler again"
    )
}

/// A message on its way through the chain.
pub(super) struct Delivery<'m> {
    pub message: &'m Message,
    /// Where it came from, as a dead letter tells it (and its stream sequence).
    pub origin: Origin<'m>,
    /// The event's span, opened by the handler link once the envelope is read; the dead
    /// letter of a refused handler is logged in it too.
    pub span: OnceCell<tracing::Span>,
}

impl Delivery<'_> {
    pub fn sequence(&self) -> u64 {
        self.origin.sequence
    }
}

impl Consumer {
    /// `message` as the chain sees it, delivered `attempt` times as far as the loop knows;
    /// none without JetStream metadata (logged, and passed over: it cannot be placed in the
    /// stream).
    pub(super) fn delivery<'m>(&'m self, message: &'m Message, attempt: u32) -> Option<Delivery<'m>> {
        let info = match message.info() {
            Ok(info) => info,
            Err(err) => {
                tracing::error!(error = %err, subject = %message.subject, "a message without JetStream metadata; ignoring it");
                return None;
            }
        };
        let origin = Origin {
            subject: message.subject.as_str(),
            stream: &self.spec.stream,
            sequence: info.stream_sequence,
            consumer: &self.spec.durable,
            deliveries: info.delivered.max(i64::from(attempt)),
            headers: message.headers.as_ref(),
            payload: &message.payload,
        };
        Some(Delivery {
            message,
            origin,
            span: OnceCell::new(),
        })
    }
}

/// What a link inside the dead-lettering comes to.
pub(super) enum Handled {
    /// Applied (or, in a rebuild, handled before): the position moves past it.
    Done,
    /// It can never be handled (the kind names why): dead-letter it.
    Refused(DeadLetterKind, String),
    /// The handler failed; a retry may get past it.
    Failed(String),
}

/// What applying one message came to.
pub(super) enum Applied {
    /// Handled, skipped as a duplicate, or dead-lettered: the position moves past it.
    Done,
    /// The handler failed; retry it on its own.
    Failed(String),
}
