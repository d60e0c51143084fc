//! The read side of the consume loop: batches from a JetStream pull consumer, and reading
//! ahead while the previous batch commits.
//!
//! A pull consumer asks the server for more only as its messages are taken, so a loop that
//! stops reading while it commits (flush + fdatasync: a millisecond, or ten on a busy disk)
//! leaves the bus idle for that long. [`Batches::while_reading`] keeps taking messages during
//! such work; they form the next transaction, which therefore grows with the commit's
//! latency — fewer syncs per event exactly when syncing is slow (group commit). Order is
//! unchanged: messages are applied one transaction after another, in stream order.
//!
//! It also keeps the deliveries whole ([`Deliveries`]): the first one that does not follow
//! the last ends the batches, because what comes after a lost delivery must not be applied.

use std::future::Future;

use async_nats::jetstream::{Message, consumer::pull};
use futures::StreamExt;
use futures::stream::ReadyChunks;
use tokio_util::sync::CancellationToken;

/// How many batches may be read ahead of the one committing: bounds a transaction at
/// `1 + READ_AHEAD_BATCHES` batches, and the memory held for it.
const READ_AHEAD_BATCHES: usize = 3;

/// Batches of messages in stream order.
pub(crate) struct Batches {
    chunks: ReadyChunks<pull::Stream>,
    ahead: Vec<Message>,
    limit: usize,
    ended: bool,
    deliveries: Deliveries,
}

impl Batches {
    pub(crate) fn new(messages: pull::Stream, batch_size: usize, deliveries: Deliveries) -> Batches {
        Batches {
            chunks: messages.ready_chunks(batch_size),
            ahead: Vec::new(),
            limit: batch_size * READ_AHEAD_BATCHES,
            ended: false,
            deliveries,
        }
    }

    /// The deliveries as far as they were read, for the next pull stream of the same consumer.
    pub(crate) fn into_deliveries(self) -> Deliveries {
        self.deliveries
    }

    /// The next batch: what was read ahead, or else the next messages to arrive. `None`
    /// when cancelled or when the pull stream ended (the caller opens a new one).
    pub(crate) async fn next(&mut self, cancel: &CancellationToken) -> Option<Vec<Message>> {
        while self.ahead.is_empty() {
            if self.ended {
                return None;
            }
            let chunk = tokio::select! {
                biased;
                () = cancel.cancelled() => return None,
                chunk = self.chunks.next() => chunk,
            };
            self.take(chunk);
        }
        Some(std::mem::take(&mut self.ahead))
    }

    /// Whether messages read ahead wait for the next batch.
    pub(crate) fn has_read_ahead(&self) -> bool {
        !self.ahead.is_empty()
    }

    /// Runs `work` to completion while reading ahead, up to the limit.
    pub(crate) async fn while_reading<T>(&mut self, work: impl Future<Output = T>) -> T {
        let mut work = std::pin::pin!(work);
        loop {
            if self.ended || self.ahead.len() >= self.limit {
                return work.await;
            }
            tokio::select! {
                biased;
                out = &mut work => return out,
                chunk = self.chunks.next() => self.take(chunk),
            }
        }
    }

    fn take(&mut self, chunk: Option<Vec<Result<Message, pull::MessagesError>>>) {
        let Some(items) = chunk else {
            self.ended = true;
            return;
        };
        for item in items {
            match item {
                Ok(message) => match self.deliveries.follows(&message) {
                    Next::Follows => self.ahead.push(message),
                    Next::Lost => {}
                    Next::Broken => {
                        // Nothing after a lost delivery may be applied: end here; the
                        // consumer is seated again past the watermark.
                        self.ended = true;
                        return;
                    }
                },
                // The server went quiet: the consumer's leader may be gone, and with it what
                // was on its way here, which no later delivery would then reveal.
                Err(err) if err.kind() == pull::MessagesErrorKind::MissingHeartbeat => {
                    self.deliveries.went_quiet();
                    self.ended = true;
                    return;
                }
                // Idle pulls and the like: the stream carries on.
                Err(err) => tracing::debug!(error = %err, "pull status"),
            }
        }
    }
}

/// The consumer sequence the server gives each delivery of a consumer — 1, 2, 3… from its
/// creation, redeliveries included — checked as messages arrive.
///
/// The watermark skips everything at or below the last applied stream sequence, and one
/// ack-all acknowledges everything up to the last message of a batch. Both assume that no
/// delivery goes missing. One can: a connection that drops, a cluster node that goes down
/// with the consumer's leader, a client buffer that overflows — each loses what was on its
/// way. If what followed were applied, the lost message would fall below the watermark and
/// be acknowledged unseen, and no one would ever deliver it again. A gap in the consumer
/// sequence is how the loss shows; what the component does about it is to stop reading and
/// seat the consumer again just past the watermark, so the server delivers everything after
/// it again, in stream order.
#[derive(Debug)]
pub(crate) struct Deliveries {
    /// The consumer sequence the next delivery must carry.
    next: u64,
    /// The sequence that broke the order, once one has.
    broken_by: Option<u64>,
    /// The server missed its heartbeats: the consumer's leader may have gone with
    /// deliveries on their way.
    quiet: bool,
    /// Fault injection (`Fault::LoseDelivery`): drop the next delivery as if lost on the way.
    lose_next: bool,
}

/// What one delivery is, next to the ones before it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Follows,
    /// Dropped by fault injection.
    Lost,
    /// It does not follow the last one: one went missing, or the consumer's state went back.
    Broken,
}

impl Deliveries {
    /// For a consumer that has delivered `delivered` messages so far (its info at creation:
    /// 0 when new).
    pub(crate) fn after(delivered: u64) -> Deliveries {
        Deliveries {
            next: delivered + 1,
            broken_by: None,
            quiet: false,
            lose_next: false,
        }
    }

    /// The same, losing the first delivery on purpose (`Fault::LoseDelivery`).
    pub(crate) fn losing_the_first(self) -> Deliveries {
        Deliveries {
            lose_next: true,
            ..self
        }
    }

    fn follows(&mut self, message: &Message) -> Next {
        let Ok(info) = message.info() else {
            // Not a JetStream delivery (no consumer sequence to check): the strict reading
            // of the consume loop deals with it.
            return Next::Follows;
        };
        if std::mem::take(&mut self.lose_next) {
            // As if it never came: the one after it is the first to be checked.
            tracing::warn!(
                stream_sequence = info.stream_sequence,
                "fault injection: a delivery lost on the way"
            );
            return Next::Lost;
        }
        if info.consumer_sequence != self.next {
            self.broken_by = Some(info.consumer_sequence);
            return Next::Broken;
        }
        self.next += 1;
        Next::Follows
    }

    fn went_quiet(&mut self) {
        self.quiet = true;
    }

    /// Why the deliveries stopped following one another, once they have.
    pub(crate) fn broken(&self) -> Option<String> {
        let due = self.next;
        if self.quiet && self.broken_by.is_none() {
            return Some(format!(
                "the server missed its heartbeats with delivery {due} due: the consumer's leader may have gone with deliveries on their way"
            ));
        }
        self.broken_by.map(|came| match came > due {
            true => format!("delivery {came} came where {due} was due: the ones between were lost on the way"),
            false => {
                format!("delivery {came} came where {due} was due: the consumer's state went back (a new leader?)")
            }
        })
    }
}
