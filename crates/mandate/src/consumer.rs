//! The consume loop (docs/design.md §6): fetch a batch, decode, run the handlers in one store
//! transaction, record the applied stream sequence in the same transaction, commit (flush +
//! fdatasync), then acknowledge the batch with one ack-all.
//!
//! The store's watermark — not the server's ack floor — is the position of record: a message
//! at or below it is acknowledged and skipped, so every effect happens exactly once. That
//! only holds if messages arrive in stream order, so at every start the durable consumer is
//! re-seated just past the watermark; messages a previous process left unacknowledged can
//! then not arrive late, behind newer ones.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::{
    AckKind, Message,
    consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull},
    stream::Stream,
};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::context::Context;
use crate::contract::stream_name;
use crate::crashguard::{CrashGuard, Next, NoteRemoval};
use crate::deadletter::{self, DeadLetterKind, Origin};
use crate::envelope::{self, EnvelopeError, Meta};
use crate::handler::{Failure, Subscription};
use crate::options::Fault;
use crate::pull::Batches;
use crate::shared::{Progress, Shared};
use crate::store::{REPLAY_MARK, StoreError, Tx, WATERMARK, key};

/// The handlers of a component, by subject: what every consumer of it dispatches to.
pub(crate) type Handlers = BTreeMap<String, Subscription>;

/// One consumer and what it owns: where it reads (its spec), what it has done (its
/// progress, which status and rebuild read), and the handlers it dispatches to.
#[derive(Debug)]
pub(crate) struct Consumer {
    spec: ConsumerSpec,
    progress: Arc<Progress>,
    handlers: Arc<Handlers>,
    shared: Arc<Shared>,
}

/// One durable pull consumer: this component on one owner's stream.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerSpec {
    pub stream: String,
    pub durable: String,
    pub subjects: Vec<String>,
}

impl ConsumerSpec {
    fn watermark_key(&self) -> Vec<u8> {
        key(WATERMARK, self.stream.as_bytes())
    }

    fn replay_key(&self) -> Vec<u8> {
        key(REPLAY_MARK, self.stream.as_bytes())
    }
}

/// Where a consumer begins when it is (re)seated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// The first event in the stream.
    Beginning,
    /// A stream sequence.
    Sequence(u64),
    /// The first event at or after a time.
    Time(OffsetDateTime),
}

/// One consumer per source stream, filtered to exactly the subjects handled.
pub(crate) fn specs(component: &str, subscriptions: &Handlers) -> Vec<ConsumerSpec> {
    let mut by_stream: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (subject, sub) in subscriptions {
        by_stream
            .entry(stream_name(sub.owner))
            .or_default()
            .push(subject.clone());
    }
    by_stream
        .into_iter()
        .map(|(stream, subjects)| ConsumerSpec {
            stream,
            durable: component.to_owned(),
            subjects,
        })
        .collect()
}

impl Consumer {
    pub(crate) fn new(
        spec: ConsumerSpec,
        progress: Arc<Progress>,
        handlers: Arc<Handlers>,
        shared: Arc<Shared>,
    ) -> Consumer {
        Consumer {
            spec,
            progress,
            handlers,
            shared,
        }
    }

    pub(crate) fn spec(&self) -> &ConsumerSpec {
        &self.spec
    }

    pub(crate) fn progress(&self) -> &Progress {
        &self.progress
    }

    /// The last stream sequence whose effects are committed.
    pub(crate) fn watermark(&self) -> Result<u64, StoreError> {
        self.shared.store.read_u64(&self.spec.watermark_key())
    }

    /// Up to here a rebuild re-applies without re-publishing.
    pub(crate) fn replay_mark(&self) -> Result<u64, StoreError> {
        self.shared.store.read_u64(&self.spec.replay_key())
    }

    /// Records in `tx` the highest sequence this consumer has ever applied: a rebuild must
    /// not re-publish what handlers emitted up to there.
    pub(crate) fn mark_replay(&self, tx: &mut Tx) -> Result<(), StoreError> {
        let applied = tx.read_u64(&self.spec.watermark_key())?;
        let marked = tx.read_u64(&self.spec.replay_key())?;
        tx.write_u64(self.spec.replay_key(), applied.max(marked));
        Ok(())
    }

    /// Notes this consumer caught up (with a rebuild, if one is under way).
    fn catch_up(&self) {
        if self.progress.catch_up() {
            self.shared.note_caught_up();
        }
    }

    /// The consumer task: wait for the source stream, seat the consumer, consume until
    /// cancelled.
    pub(crate) async fn run(self: Arc<Self>, start: Option<StartAt>, cancel: CancellationToken) {
        let span = tracing::info_span!("consumer", stream = %self.spec.stream);
        async {
            let Some(stream) = self.wait_for_stream(&cancel).await else {
                return;
            };
            let consumer = match self.seat(&stream, start).await {
                Ok(consumer) => consumer,
                Err(err) => {
                    tracing::error!(error = %err, "cannot create the consumer");
                    self.shared.failed.cancel();
                    return;
                }
            };
            if let Err(err) = self.consume(&consumer, &cancel).await {
                tracing::error!(error = %err, "the consumer stopped");
                self.shared.failed.cancel();
            }
        }
        .instrument(span)
        .await
    }

    /// The owner creates its stream; a subscriber that starts first waits for it.
    async fn wait_for_stream(&self, cancel: &CancellationToken) -> Option<Stream> {
        let mut backoff = Duration::from_millis(100);
        let mut warned = false;
        loop {
            match self.shared.js.get_stream(&self.spec.stream).await {
                Ok(stream) => return Some(stream),
                Err(err) => {
                    if !warned {
                        tracing::warn!(error = %err, "waiting for the stream (has its owner started?)");
                        warned = true;
                        // No stream, nothing to re-apply: this consumer does not hold up a rebuild.
                        self.catch_up();
                    }
                }
            }
            tokio::select! {
                () = cancel.cancelled() => return None,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// (Re)creates the durable consumer so that it delivers from just past the watermark (or
    /// from `start` during a rebuild).
    async fn seat(&self, stream: &Stream, start: Option<StartAt>) -> Result<PullConsumer, crate::Error> {
        let spec = &self.spec;
        let applied = self.watermark()?;
        let progress = &self.progress;
        let replay_until = self.replay_mark()?;
        progress.applied.store(applied, Ordering::Release);
        progress.replay_until.store(replay_until, Ordering::Release);
        let deliver_policy = match start {
            Some(StartAt::Beginning) | None if applied == 0 => DeliverPolicy::All,
            None => DeliverPolicy::ByStartSequence {
                start_sequence: applied + 1,
            },
            Some(StartAt::Beginning) => DeliverPolicy::All,
            Some(StartAt::Sequence(seq)) => DeliverPolicy::ByStartSequence {
                start_sequence: seq.max(1),
            },
            Some(StartAt::Time(time)) => DeliverPolicy::ByStartTime { start_time: time },
        };
        // Not found is the normal case on a first start.
        let _ = stream.delete_consumer(&spec.durable).await;
        let (filter_subject, filter_subjects) = match spec.subjects.as_slice() {
            [one] => (one.clone(), Vec::new()),
            many => (String::new(), many.to_vec()),
        };
        let mut consumer: PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(spec.durable.clone()),
                description: Some(format!("{} consuming {}", spec.durable, spec.subjects.join(", "))),
                deliver_policy,
                ack_policy: AckPolicy::All,
                ack_wait: self.shared.options.ack_wait,
                max_deliver: -1,
                filter_subject,
                filter_subjects,
                max_ack_pending: 20_000,
                ..Default::default()
            })
            .await
            .map_err(|e| crate::Error::js(&format!("creating consumer {} on {}", spec.durable, spec.stream), e))?;
        let pending = consumer
            .info()
            .await
            .map(|info| info.num_pending)
            .map_err(|e| crate::Error::js("reading consumer info", e))?;
        if pending == 0 || applied >= replay_until {
            progress.caught_up.store(true, Ordering::Release);
            self.shared.note_caught_up();
        }
        tracing::info!(applied, pending, ?deliver_policy, "consumer seated");
        Ok(consumer)
    }

    async fn consume(
        self: &Arc<Self>,
        consumer: &PullConsumer,
        cancel: &CancellationToken,
    ) -> Result<(), crate::Error> {
        let batch_size = self.shared.options.batch_size as usize;
        let guard = &mut CrashGuard::at_start(&self.shared.store, &self.spec.stream)?;
        loop {
            let messages = match consumer.stream().max_messages_per_batch(batch_size).messages().await {
                Ok(messages) => messages,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot pull messages; retrying");
                    tokio::select! {
                        () = cancel.cancelled() => return Ok(()),
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            };
            let mut batches = Batches::new(messages, batch_size);
            while let Some(batch) = batches.next(cancel).await {
                self.process_batch(batch, &mut batches, guard, cancel).await?;
            }
            if cancel.is_cancelled() {
                return Ok(());
            }
        }
    }

    /// Applies `batch` in stream order. Messages up to a failing handler commit together; the
    /// failing message is retried alone, then dead-lettered; the rest of the batch follows.
    async fn process_batch(
        self: &Arc<Self>,
        mut batch: Vec<Message>,
        reading: &mut Batches,
        guard: &mut CrashGuard,
        cancel: &CancellationToken,
    ) -> Result<(), crate::Error> {
        let shared = &self.shared;
        let mut next = 0;
        while next < batch.len() {
            let run = {
                let _writer = shared.write_lock.lock().await;
                let (first, last) = (sequence_of(&batch[next]), batch.last().map_or(0, sequence_of));
                let end = match guard.before(&shared.store, first, last, shared.options.max_attempts)? {
                    Next::Batch => batch.len(),
                    Next::Alone => next + 1,
                    Next::SetAside(stops) => {
                        drop(_writer);
                        let reason = format!(
                            "the component stopped {stops} time(s) while applying this message (abort, stack overflow or out of memory); set aside without running its handler again"
                        );
                        let note = guard.take_note();
                        self.set_aside(&batch[next], stops, &reason, note).await?;
                        next += 1;
                        continue;
                    }
                };
                let note = guard.take_note();
                if end - next < OFF_THREAD_FROM {
                    self.apply_run(&batch, next, end, note)?
                } else {
                    // A large batch's handlers and commit (flush + fdatasync, milliseconds on
                    // some disks) run on a blocking thread while this task reads the next batch
                    // from the bus (pull.rs; docs/benchmarks.md, scenario 1). A small one stays
                    // here: a thread hand-off per commit costs more than it saves when events
                    // trickle in (scenario 5).
                    let consumer = Arc::clone(self);
                    let span = tracing::Span::current();
                    let handle = tokio::task::spawn_blocking(move || {
                        let run = span.in_scope(|| consumer.apply_run(&batch, next, end, note));
                        (batch, run)
                    });
                    let (returned, run) = match reading.while_reading(handle).await {
                        Ok(done) => done,
                        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
                        // The runtime is shutting down.
                        Err(_) => return Ok(()),
                    };
                    batch = returned;
                    run?
                }
            };
            next = run.next;
            shared.relay.wake();
            if let Some(last) = run.applied_up_to {
                self.after_commit(&batch[last]).await;
            }
            if run.hold && !self.hold_at_mark(cancel).await {
                return Ok(());
            }
            if let Some(reason) = run.failure {
                self.retry_alone(&batch[next], reason).await?;
                next += 1;
            }
        }
        Ok(())
    }

    /// Applies `batch` from `next` in one transaction until `end`, a failing handler or the
    /// replay mark of a rebuild, and commits it — removing the crash guard's note, if any.
    fn apply_run(
        &self,
        batch: &[Message],
        mut next: usize,
        end: usize,
        note: Option<NoteRemoval>,
    ) -> Result<Run, StoreError> {
        let mut tx = self.shared.store.begin();
        if let Some(note) = note {
            note.remove_in(&mut tx);
            tx.accept_step();
        }
        let mut run = Run {
            applied_up_to: None,
            next,
            failure: None,
            hold: false,
        };
        let watermark_key = self.spec.watermark_key();
        let mut watermark = tx.read_u64(&watermark_key)?;
        let before = watermark;
        while next < end {
            if self.past_replay_mark_while_rebuilding(&batch[next]) {
                run.hold = true;
                break;
            }
            match self.apply(&mut tx, &batch[next], 1, &mut watermark)? {
                Applied::Done => {
                    tx.accept_step();
                    run.applied_up_to = Some(next);
                    next += 1;
                }
                Applied::Failed(reason) => {
                    tx.discard_step();
                    run.failure = Some(reason);
                    break;
                }
            }
        }
        // Once per transaction, not per event: the position of the last message applied.
        if watermark > before {
            tx.write_u64(watermark_key, watermark);
        }
        self.shared.store.commit(tx)?;
        run.next = next;
        Ok(run)
    }

    /// During a rebuild, events past a consumer's replay mark are new: handling them against a
    /// store that other consumers are still rebuilding would decide on half a state.
    fn past_replay_mark_while_rebuilding(&self, message: &Message) -> bool {
        self.shared.is_rebuilding()
            && message
                .info()
                .is_ok_and(|info| info.stream_sequence > self.progress.replay_until.load(Ordering::Acquire))
    }

    /// Holds this consumer at its replay mark until every consumer has reached its own, so new
    /// events are handled against the whole rebuilt state. False when cancelled meanwhile.
    async fn hold_at_mark(&self, cancel: &CancellationToken) -> bool {
        self.catch_up();
        if self.shared.is_rebuilding() {
            tracing::info!("re-applied up to the replay mark; holding new events until the rebuild is complete");
        }
        tokio::select! {
            () = cancel.cancelled() => false,
            () = self.shared.rebuilt() => true,
        }
    }

    /// Acknowledges everything up to `last` (ack-all) and updates progress.
    async fn after_commit(&self, last: &Message) {
        self.acknowledge(last).await;
        let progress = &self.progress;
        if let Ok(info) = last.info() {
            progress.applied.fetch_max(info.stream_sequence, Ordering::AcqRel);
            let caught_up = info.pending == 0 || info.stream_sequence >= progress.replay_until.load(Ordering::Acquire);
            if caught_up {
                self.catch_up();
            }
        }
    }

    /// Acknowledges everything up to `last` with one ack-all, unless a fault is injected.
    async fn acknowledge(&self, last: &Message) {
        let fault = self.shared.options.fault;
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

    /// Retries a failed message on its own with exponential backoff, keeping it from being
    /// redelivered meanwhile; dead-letters it after `max_attempts`.
    async fn retry_alone(&self, message: &Message, mut reason: String) -> Result<(), crate::Error> {
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
    async fn set_aside(
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

    fn origin<'m>(&'m self, message: &'m Message) -> Option<Origin<'m>> {
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

    /// Applies one message in the current step of `tx`: skip it if at or below `watermark`
    /// (already applied), dead-letter it if it cannot be handled, otherwise run its handler.
    /// Moves `watermark` to the message unless the handler failed; the caller writes it into
    /// `tx` before the commit.
    fn apply(&self, tx: &mut Tx, message: &Message, attempt: u32, watermark: &mut u64) -> Result<Applied, StoreError> {
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

    /// Finds the handler and reads the envelope, or says why the message cannot be handled:
    /// no handler for the subject, a header missing or malformed (envelope.rs), a `ce-type`
    /// that is not the subject's, a `ce-source` that is not the subject's owner — the first
    /// found.
    fn classify(&self, message: &Message) -> Result<(&Subscription, Meta), (DeadLetterKind, String)> {
        let subject = message.subject.as_str();
        let subscription = self
            .handlers
            .get(subject)
            .ok_or_else(|| (DeadLetterKind::UnknownType, format!("no handler for subject {subject}")))?;
        let meta = Meta::from_headers(message.headers.as_ref()).map_err(|e| {
            let kind = match e {
                EnvelopeError::Missing(_) => DeadLetterKind::MissingHeader,
                EnvelopeError::Invalid { .. } => DeadLetterKind::InvalidHeader,
            };
            (kind, e.to_string())
        })?;
        if meta.kind != subscription.ce_type {
            return Err((
                DeadLetterKind::UnknownType,
                format!(
                    "ce-type {:?} on subject {subject}: this component handles {} there",
                    envelope::shown(&meta.kind),
                    subscription.ce_type
                ),
            ));
        }
        if meta.source != subscription.owner {
            return Err((
                DeadLetterKind::InvalidHeader,
                format!(
                    "ce-source {:?} on subject {subject}: only its owner, {}, publishes there",
                    envelope::shown(&meta.source),
                    subscription.owner
                ),
            ));
        }
        Ok((subscription, meta))
    }

    /// Dead-letters, unless a rebuild is re-applying what was dead-lettered the first time.
    fn dead_letter(
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

/// What applying one message came to.
enum Applied {
    /// Handled, skipped as a duplicate, or dead-lettered: the position moves past it.
    Done,
    /// The handler failed; retry it on its own.
    Failed(String),
}

/// From how many messages a transaction runs on a blocking thread (see `process_batch`).
const OFF_THREAD_FROM: usize = 64;

/// What one transaction over a batch came to.
struct Run {
    /// The last message applied (its position moves the consumer), if any.
    applied_up_to: Option<usize>,
    /// Where the next transaction starts.
    next: usize,
    /// Why the handler failed at `next`, if it did.
    failure: Option<String>,
    /// Stopped at the replay mark of a rebuild.
    hold: bool,
}

/// The stream sequence of a message (0 without JetStream metadata).
fn sequence_of(message: &Message) -> u64 {
    message.info().map_or(0, |info| info.stream_sequence)
}
