//! The read side of the consume loop: batches from a JetStream pull consumer, and reading
//! ahead while the previous batch commits.
//!
//! A pull consumer asks the server for more only as its messages are taken, so a loop that
//! stops reading while it commits (flush + fdatasync: a millisecond, or ten on a busy disk)
//! leaves the bus idle for that long. [`Batches::while_reading`] keeps taking messages during
//! such work; they form the next transaction, which therefore grows with the commit's
//! latency — fewer syncs per event exactly when syncing is slow (group commit). Order is
//! unchanged: messages are applied one transaction after another, in stream order.

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
}

impl Batches {
    pub(crate) fn new(messages: pull::Stream, batch_size: usize) -> Batches {
        Batches {
            chunks: messages.ready_chunks(batch_size),
            ahead: Vec::new(),
            limit: batch_size * READ_AHEAD_BATCHES,
            ended: false,
        }
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
                Ok(message) => self.ahead.push(message),
                // Heartbeats, idle pulls and the like: the stream carries on.
                Err(err) => tracing::debug!(error = %err, "pull status"),
            }
        }
    }
}
