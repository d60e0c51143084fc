//! The consume loop (docs/design.md §6): fetch a batch, decode, run the handlers in one store
//! transaction, record the applied stream sequence in the same transaction, commit (flush +
//! fdatasync), then acknowledge the batch with one ack-all.
//!
//! The store's watermark — not the server's ack floor — is the position of record: a message
//! at or below it is acknowledged and skipped, so every effect happens exactly once. That
//! only holds if messages arrive in stream order, so at every start the durable consumer is
//! re-seated just past the watermark; messages a previous process left unacknowledged can
//! then not arrive late, behind newer ones. For the same reason a delivery lost on the way (a
//! gap in the consumer sequence, `pull.rs` `Deliveries`) ends the stretch and the consumer is
//! re-seated past the watermark before anything behind the lost one is applied.
//!
//! Where each part lives: `policies.rs` composes the loop's policies — the chain one message
//! goes through and the chain of one batch, in order, with why each link sits where it does;
//! start there. The links, one file each: `strict.rs` (strict reading of the envelope),
//! `replay.rs` (replay suppression, and the hold at a rebuild's mark), `dead_letter.rs`
//! (dead-lettering in the transaction that moves past the message), `handle.rs` (the handler,
//! a panic caught), `batch.rs` (the crash guard's decision, a run applied and committed, the
//! ack and progress), `fault.rs` (the ack, fault injection around it), `retry.rs` (retry
//! alone, then dead-letter), `linger.rs` (a caught-up consumer's commits acknowledged once a
//! sync covers them). `seat.rs` waits for the stream and seats the consumer past the
//! watermark; `history.rs` makes the consumer of the component's own stream a reader of its
//! history only (emitting an event applies it, `own.rs`). The crash guard is `crashguard.rs`.

mod batch;
mod dead_letter;
mod fault;
mod handle;
mod history;
mod linger;
mod owner;
mod policies;
mod replay;
mod retry;
mod seat;
mod strict;

use linger::Unsettled;
use policies::{Applied, Delivery, Handled};

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
use crate::handler::{Failure, Handlers, Subscription};
use crate::metrics::ConsumerMetrics;
use crate::options::Fault;
use crate::own;
use crate::partition::Seat;
use crate::pull::{Batches, Deliveries};
use crate::shared::{Progress, Shared};
use crate::store::{Committed, PUBLISHED, REPLAY_MARK, StoreError, Tx, WATERMARK, key};
use crate::telemetry::{self, Committing};

/// One consumer and what it owns: where it reads (its spec), what it has done (its
/// progress, which status and rebuild read), and the handlers it dispatches to.
#[derive(Debug)]
pub(crate) struct Consumer {
    spec: ConsumerSpec,
    progress: Arc<Progress>,
    handlers: Arc<Handlers>,
    shared: Arc<Shared>,
    /// `Fault::LoseDelivery` loses one delivery per process, not one per seating.
    fault_spent: AtomicBool,
    /// Its figures for `/metrics`: atomics, counted as it goes.
    metrics: ConsumerMetrics,
}

/// How often the server says it is there while a pull waits. Two missed ones end the stretch
/// and re-seat the consumer: deliveries that were on their way when a consumer's leader went
/// down are then delivered again at once, not after the ack wait (30 s by default).
const HEARTBEAT: Duration = Duration::from_secs(5);

/// How a stretch of consuming ended.
enum Consumed {
    /// Asked to stop.
    Cancelled,
    /// A delivery went missing (why): seat the consumer again past the watermark.
    Broken(String),
    /// A consumer of the component's own stream has read its history (`history.rs`).
    HistoryRead,
}

/// One durable pull consumer: this component on one owner's stream.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerSpec {
    pub stream: String,
    pub durable: String,
    pub subjects: Vec<String>,
    /// It reads the component's own stream as history only (`history.rs`).
    pub history: bool,
}

/// How a component reads its own stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadsOwn {
    /// As history only: emitting an event applies it (`own.rs`); what is on the stream is
    /// read back into a fresh or rebuilt store and from the position last recorded.
    AsHistory,
    /// Live, like any other stream: while its partition count changes, the other count's
    /// partitions publish into its slots.
    Live,
}

impl ConsumerSpec {
    fn watermark_key(&self) -> Vec<u8> {
        key(WATERMARK, self.stream.as_bytes())
    }

    fn replay_key(&self) -> Vec<u8> {
        key(REPLAY_MARK, self.stream.as_bytes())
    }

    /// Where the relay records what it published on this (the component's own) stream.
    fn published_key(&self) -> Vec<u8> {
        key(PUBLISHED, self.stream.as_bytes())
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

/// One consumer per source stream, filtered to exactly the events handled — each in both
/// forms: `evt.<owner>.<event>.v<N>` (unkeyed events, and keyed ones published before keys)
/// and `evt.<owner>.<event>.v<N>.>` (keyed ones, stored with their slot), so that a reader
/// gets old and new history alike whichever form its publisher uses.
///
/// A partition (`seat`) has its own durable consumers, `<component>-p<P>of<N>`, and filters
/// the events split by its key to the slots it owns (`Seat::filters`).
pub(crate) fn specs(
    component: &str,
    subscriptions: &Handlers,
    seat: Option<Seat>,
    reads_own: ReadsOwn,
) -> Vec<ConsumerSpec> {
    let own = stream_name(component);
    let mut by_stream: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (subject, sub) in subscriptions {
        let subjects = by_stream.entry(stream_name(sub.owner)).or_default();
        match &seat {
            Some(seat) => subjects.extend(seat.filters(subject, sub.key)),
            None => subjects.extend([subject.clone(), format!("{subject}.>")]),
        }
    }
    let durable = match &seat {
        Some(seat) => format!("{component}-{}", seat.label()),
        None => component.to_owned(),
    };
    by_stream
        .into_iter()
        .map(|(stream, subjects)| ConsumerSpec {
            history: stream == own && reads_own == ReadsOwn::AsHistory,
            stream,
            durable: durable.clone(),
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
        let metrics = shared.metrics().consumer(&spec.stream, &spec.durable);
        Consumer {
            spec,
            progress,
            handlers,
            shared,
            fault_spent: AtomicBool::new(false),
            metrics,
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
        self.shared.store().read_u64(&self.spec.watermark_key())
    }

    /// Up to here a rebuild re-applies without re-publishing.
    pub(crate) fn replay_mark(&self) -> Result<u64, StoreError> {
        self.shared.store().read_u64(&self.spec.replay_key())
    }

    /// Records in `tx` the highest sequence this consumer has ever applied (for a reader of
    /// the component's own stream, what it published: applied as emitted): a rebuild must
    /// not re-publish what handlers emitted up to there.
    pub(crate) fn mark_replay(&self, tx: &mut Tx) -> Result<(), StoreError> {
        let applied = tx.read_u64(&self.spec.watermark_key())?;
        let published = match self.spec.history {
            true => tx.read_u64(&self.spec.published_key())?,
            false => 0,
        };
        let marked = tx.read_u64(&self.spec.replay_key())?;
        tx.write_u64(self.spec.replay_key(), applied.max(published).max(marked));
        Ok(())
    }

    /// Records in `tx` `sequence` as this consumer's replay mark, unless it has a higher one.
    pub(crate) fn mark_replay_at(&self, tx: &mut Tx, sequence: u64) -> Result<(), StoreError> {
        let marked = tx.read_u64(&self.spec.replay_key())?;
        tx.write_u64(self.spec.replay_key(), sequence.max(marked));
        Ok(())
    }

    /// Notes this consumer caught up (with a rebuild, if one is under way).
    fn catch_up(&self) {
        if self.progress.catch_up() {
            self.shared.note_caught_up();
        }
    }

    /// The consumer task: wait for the source stream, seat the consumer, consume until
    /// cancelled — seating it again whenever a delivery went missing.
    pub(crate) async fn run(self: Arc<Self>, start: Option<StartAt>, cancel: CancellationToken) {
        let span = tracing::info_span!("consumer", stream = %self.spec.stream);
        async {
            self.progress.history_read.store(false, Ordering::Release);
            let Some(stream) = self.wait_for_stream(&cancel).await else {
                return;
            };
            match self.nothing_to_read() {
                Ok(false) => {}
                Ok(true) => return self.history_finished(&stream).await,
                Err(err) => {
                    return self
                        .shared
                        .fail(format!("its consumer on {} stopped: {err}", self.spec.stream));
                }
            }
            let mut start = start;
            let mut reseating = false;
            loop {
                let seated = match reseating {
                    false => self.seat(&stream, start).await.map(Some),
                    true => self.reseat(&stream, start, &cancel).await,
                };
                let consumer = match seated {
                    Ok(Some(consumer)) => consumer,
                    Ok(None) => return,
                    Err(err) => {
                        tracing::error!(error = %err, "cannot create the consumer");
                        self.shared
                            .fail(format!("cannot create its consumer on {}: {err}", self.spec.stream));
                        return;
                    }
                };
                if self.history_read() {
                    return self.history_finished(&stream).await;
                }
                self.progress.seated.store(true, Ordering::Release);
                let consumed = self.consume(&consumer, &cancel).await;
                self.progress.seated.store(false, Ordering::Release);
                match consumed {
                    Ok(Consumed::Cancelled) => return,
                    Ok(Consumed::HistoryRead) => return self.history_finished(&stream).await,
                    Ok(Consumed::Broken(why)) => {
                        self.metrics.reseats.inc();
                        tracing::warn!(%why, "a delivery went missing; seating the consumer again past the watermark");
                        // A rebuild's start stands until something is applied; from then on
                        // the watermark says where to go on.
                        if self.watermark().map_or(true, |applied| applied > 0) {
                            start = None;
                        }
                        reseating = true;
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "the consumer stopped");
                        self.shared
                            .fail(format!("its consumer on {} stopped: {err}", self.spec.stream));
                        return;
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn consume(
        self: &Arc<Self>,
        consumer: &PullConsumer,
        cancel: &CancellationToken,
    ) -> Result<Consumed, crate::Error> {
        let batch_size = self.shared.options().batch_size as usize;
        let guard = &mut CrashGuard::at_start(self.shared.store(), &self.spec.stream)?;
        let mut deliveries = self.deliveries(consumer);
        loop {
            let messages = match consumer
                .stream()
                .max_messages_per_batch(batch_size)
                .heartbeat(HEARTBEAT)
                .messages()
                .await
            {
                Ok(messages) => messages,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot pull messages; retrying");
                    tokio::select! {
                        () = cancel.cancelled() => return Ok(Consumed::Cancelled),
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            };
            let mut batches = Batches::new(messages, batch_size, deliveries);
            let mut unsettled = None;
            while let Some(batch) = self.next_batch(&mut batches, &mut unsettled, cancel).await? {
                self.process_batch(batch, &mut batches, &mut unsettled, guard, cancel)
                    .await?;
                if self.history_read() {
                    return Ok(Consumed::HistoryRead);
                }
            }
            if cancel.is_cancelled() {
                // Best effort: what stays unacknowledged is redelivered and skipped.
                if let Err(err) = self.settle(&mut unsettled).await {
                    tracing::debug!(error = %err, "stopping with commits unacknowledged");
                }
                return Ok(Consumed::Cancelled);
            }
            self.settle(&mut unsettled).await?;
            deliveries = batches.into_deliveries();
            if let Some(why) = deliveries.broken() {
                return Ok(Consumed::Broken(why));
            }
        }
    }

    /// The deliveries of a consumer just seated, from where its info says it stands.
    fn deliveries(&self, consumer: &PullConsumer) -> Deliveries {
        let deliveries = Deliveries::after(consumer.cached_info().delivered.consumer_sequence);
        let fault = self.shared.options().fault == Fault::LoseDelivery;
        if fault && !self.fault_spent.swap(true, Ordering::AcqRel) {
            deliveries.losing_the_first()
        } else {
            deliveries
        }
    }
}
