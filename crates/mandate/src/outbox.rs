//! The transactional outbox and its relay.
//!
//! Messages are staged in the store in the same transaction as the state change that caused
//! them. After the commit the relay publishes them — pipelined, with `Nats-Msg-Id` so that
//! JetStream drops a repeat — and deletes each one once JetStream has acknowledged it. A crash
//! between commit and publish loses nothing: the relay resumes from the store.

use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, context::PublishAckFuture, message::PublishMessage};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::envelope::{Meta, NATS_MSG_ID};
use crate::error::{Error, Result};
use crate::store::{OUTBOX, Store, StoreError, Tx, encode_u64, key};

/// How many messages the relay keeps in flight before it waits for their acks.
const WINDOW: usize = 1024;

/// A message waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OutMessage {
    pub subject: String,
    pub headers: Vec<(String, String)>,
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

impl OutMessage {
    pub(crate) fn event(subject: String, meta: &Meta, payload: Vec<u8>) -> OutMessage {
        OutMessage {
            subject,
            headers: meta
                .header_pairs()
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
            payload,
        }
    }
}

/// An outbox entry as the relay reads it: borrowed from the stored bytes (the same encoding
/// as [`OutMessage`]), so that publishing copies only into the outgoing message.
#[derive(Debug, Deserialize)]
struct Staged<'a> {
    subject: &'a str,
    #[serde(borrow)]
    headers: Vec<(&'a str, &'a str)>,
    #[serde(with = "serde_bytes")]
    payload: &'a [u8],
}

impl Staged<'_> {
    fn header_map(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            headers.append(*name, *value);
        }
        headers
    }
}

pub(crate) fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .flat_map(|(name, values)| {
            values
                .iter()
                .map(move |value| (name.to_string(), value.as_str().to_owned()))
        })
        .collect()
}

/// Stages `message` in `tx`; it is published after `tx` commits.
pub(crate) fn stage(tx: &mut Tx, message: &OutMessage) -> Result<(), StoreError> {
    let id = tx.store().next_id()?;
    // Sized for the envelope's headers plus the payload: no regrowth while encoding.
    let mut bytes = Vec::with_capacity(512 + message.payload.len());
    message.serialize(&mut rmp_serde::Serializer::new(&mut bytes).with_struct_map())?;
    tx.put_raw(key(OUTBOX, &encode_u64(id)), bytes);
    Ok(())
}

/// Messages still waiting to be published.
pub(crate) fn depth(store: &Store) -> u64 {
    store.scan_raw(OUTBOX).count() as u64
}

/// Publishes the outbox in commit order.
#[derive(Debug, Clone)]
pub(crate) struct Relay {
    store: Store,
    js: jetstream::Context,
    wake: Arc<Notify>,
    /// One publisher at a time: the relay task and a drain (shutdown, rebuild) must not both
    /// send the same entry.
    publishing: Arc<tokio::sync::Mutex<()>>,
}

impl Relay {
    pub(crate) fn new(store: Store, js: jetstream::Context) -> Relay {
        Relay {
            store,
            js,
            wake: Arc::new(Notify::new()),
            publishing: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Tells the relay that a commit staged something.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs until cancelled, publishing whatever is staged.
    pub(crate) async fn run(self, cancel: CancellationToken) {
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.publish_some().await {
                Ok(0) => {
                    backoff = Duration::from_millis(50);
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = self.wake.notified() => {}
                        // A safety net: a wake-up lost to a race costs at most this much delay.
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, retry_in = ?backoff, "outbox relay cannot publish yet");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Publishes everything staged; gives up after `timeout` of failed attempts.
    pub(crate) async fn drain(&self, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.publish_some().await {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(err) if tokio::time::Instant::now() < deadline => {
                    tracing::warn!(error = %err, "outbox drain: retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Publishes up to one window of staged messages, pipelined, and deletes those JetStream
    /// acknowledged. Returns how many were published.
    async fn publish_some(&self) -> Result<usize> {
        let _publisher = self.publishing.lock().await;
        let mut in_flight: Vec<(sled::IVec, PublishAckFuture)> = Vec::new();
        let mut first_error = None;
        for entry in self.store.scan_raw(OUTBOX).take(WINDOW) {
            let (key, value) = entry.map_err(StoreError::from)?;
            let message: Staged<'_> = match rmp_serde::from_slice(&value) {
                Ok(message) => message,
                Err(err) => {
                    // Only this kit writes the outbox; an unreadable entry is a bug, not data.
                    tracing::error!(error = %err, "dropping an unreadable outbox entry");
                    self.store.remove_raw([key])?;
                    continue;
                }
            };
            let mut publish = PublishMessage::build().headers(message.header_map());
            if let Some((_, id)) = message.headers.iter().find(|(n, _)| *n == NATS_MSG_ID) {
                publish = publish.message_id(*id);
            }
            let payload = bytes::Bytes::copy_from_slice(message.payload);
            match self
                .js
                .send_publish(message.subject.to_owned(), publish.payload(payload))
                .await
            {
                Ok(ack) => in_flight.push((key, ack)),
                Err(err) => {
                    first_error = Some(Error::js("outbox publish", err));
                    break;
                }
            }
        }
        let mut acked = Vec::with_capacity(in_flight.len());
        for (key, ack) in in_flight {
            match ack.await {
                Ok(_) => acked.push(key),
                Err(err) => {
                    first_error.get_or_insert(Error::js("outbox publish ack", err));
                }
            }
        }
        let published = acked.len();
        if published > 0 {
            self.store.remove_raw(acked)?;
            tracing::debug!(published, "outbox relay published");
        }
        match first_error {
            Some(err) if published == 0 => Err(err),
            _ => Ok(published),
        }
    }
}
