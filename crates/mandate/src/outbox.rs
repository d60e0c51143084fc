//! The transactional outbox and its relay.
//!
//! Messages are staged in the store in the same transaction as the state change that caused
//! them. After the commit the relay publishes them — pipelined, with `Nats-Msg-Id` so that
//! JetStream drops a repeat — and deletes each one once JetStream has acknowledged it. A crash
//! between commit and publish loses nothing: the relay resumes from the store.

use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::context::{PublishAckFuture, PublishError, PublishErrorKind};
use async_nats::jetstream::{self, message::PublishMessage};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::connect::PublishRefusals;
use crate::envelope::{Meta, NATS_MSG_ID, TRACEPARENT};
use crate::error::{Error, Result};
use crate::refusal::Judge;
use crate::setaside::{self, Refused};
use crate::store::{OUTBOX, Store, StoreError, Tx, encode_u64, key};
use crate::telemetry;
use crate::wire::wire_size;

/// How many messages the relay keeps in flight before it waits for their acks.
const WINDOW: usize = 1024;
/// How long a window's acks may take, all together, counted from when it was sent: the
/// JetStream context's ack timeout (async-nats' default). A window whose acks do not come
/// (a stream changing leader on a cluster) is sent again after one such wait — each ack
/// future's own timeout starts only when it is awaited, so awaiting them one after the other
/// would wait once per message.
const ACK_WAIT: Duration = Duration::from_secs(5);

/// A message waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OutMessage {
    pub subject: String,
    pub headers: Vec<(String, String)>,
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

impl OutMessage {
    /// The size the server counts against its `max_payload`: the payload plus the encoded
    /// header block. The relay sends exactly these headers (`Nats-Msg-Id` is among them).
    pub(crate) fn wire_size(&self) -> usize {
        wire_size(
            self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            self.payload.len(),
        )
    }

    /// Refuses a message the server could never take, naming it as `what`.
    pub(crate) fn check_fits(&self, what: impl FnOnce() -> String, max_payload: usize) -> Result<(), TooLarge> {
        let size = self.wire_size();
        if size > max_payload {
            return Err(TooLarge {
                what: what(),
                size,
                max_payload,
            });
        }
        Ok(())
    }

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
    /// The stored headers; `traceparent`, when given, instead of the stored one.
    fn header_map(&self, traceparent: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            match traceparent {
                Some(traceparent) if *name == TRACEPARENT => headers.append(*name, traceparent),
                _ => headers.append(*name, *value),
            }
        }
        headers
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    /// The relay's span for this entry (traces exported), child of the span that staged it.
    fn publish_span(&self) -> telemetry::Span {
        if !telemetry::enabled() {
            return telemetry::Span::default();
        }
        telemetry::publish(self.header(TRACEPARENT), crate::partition::event_subject(self.subject))
    }
}

/// A message larger than the server's `max_payload`: no server with that limit will ever
/// take it, so the kit refuses to commit it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} would be {size} bytes with its headers, more than the server's max_payload of {max_payload} bytes: it could never be published"
)]
pub struct TooLarge {
    /// What was refused, e.g. `event orders.placed.v2`.
    pub what: String,
    /// Payload plus encoded headers, in bytes.
    pub size: usize,
    /// The server's limit, from its INFO.
    pub max_payload: usize,
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
    /// What the server said it refuses this connection to publish.
    refusals: PublishRefusals,
}

impl Relay {
    pub(crate) fn new(store: Store, js: jetstream::Context, refusals: PublishRefusals) -> Relay {
        Relay {
            store,
            js,
            wake: Arc::new(Notify::new()),
            publishing: Arc::new(tokio::sync::Mutex::new(())),
            refusals,
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
    /// acknowledged. An entry the server refuses for good is set aside (`setaside.rs`) instead
    /// of holding up the ones behind it; anything else that fails (a timeout, a lost
    /// connection) stays where it is and is retried in order. Returns how many entries left
    /// the outbox.
    async fn publish_some(&self) -> Result<usize> {
        let _publisher = self.publishing.lock().await;
        let mut judge = Judge::new(&self.js, &self.refusals);
        let mut in_flight: Vec<(sled::IVec, sled::IVec, PublishAckFuture, telemetry::Span)> = Vec::new();
        let mut refused = Vec::new();
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
            // Sent with the publish span's traceparent: the consumer's span is its child.
            let mut span = message.publish_span();
            let traceparent = span.traceparent().map(|tp| tp.to_string());
            let mut publish = PublishMessage::build().headers(message.header_map(traceparent.as_deref()));
            if let Some(id) = message.header(NATS_MSG_ID) {
                publish = publish.message_id(id);
            }
            let payload = bytes::Bytes::copy_from_slice(message.payload);
            let sent = self
                .js
                .send_publish(message.subject.to_owned(), publish.payload(payload))
                .await;
            match sent {
                Ok(ack) => in_flight.push((key, value, ack, span)),
                Err(err) => {
                    span.fail(|| err.to_string());
                    match judge.refused_for_good(&err, message.subject).await {
                        Some(reason) => refused.push(Refused::new(key, value, reason)),
                        // Not sent, or not known to be: retried, in order, next time.
                        None => {
                            first_error = Some(Error::js("outbox publish", err));
                            break;
                        }
                    }
                }
            }
        }
        let mut acked = Vec::with_capacity(in_flight.len());
        let deadline = tokio::time::Instant::now() + ACK_WAIT;
        for (key, value, ack, mut span) in in_flight {
            let answer = tokio::time::timeout_at(deadline, ack)
                .await
                .unwrap_or_else(|_| Err(PublishError::new(PublishErrorKind::TimedOut)));
            let err = match answer {
                Ok(_) => {
                    acked.push(key);
                    continue;
                }
                Err(err) => err,
            };
            span.fail(|| err.to_string());
            // Read again only now: the hot path keeps no copy of each subject.
            let subject = rmp_serde::from_slice::<Staged<'_>>(&value).map_or("", |m| m.subject);
            match judge.refused_for_good(&err, subject).await {
                Some(reason) => refused.push(Refused::new(key, value, reason)),
                None => {
                    first_error.get_or_insert(Error::js("outbox publish ack", err));
                }
            }
        }
        let published = acked.len();
        if published > 0 {
            self.store.remove_raw(acked)?;
            tracing::debug!(published, "outbox relay published");
        }
        let set_aside = refused.len();
        if set_aside > 0 {
            setaside::set_aside(&self.store, refused)?;
        }
        match first_error {
            Some(err) if published + set_aside == 0 => Err(err),
            Some(err) => {
                // Others went out: say so anyway, or a message that keeps failing behind
                // them would go unnoticed.
                tracing::warn!(error = %err, published, set_aside, "outbox relay: some messages are not published yet; retrying them");
                Ok(published + set_aside)
            }
            None => Ok(published + set_aside),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_size_is_the_payload_plus_the_encoded_header_block() {
        assert_eq!(wire_size([], 3), 3, "no header block without headers");
        // "NATS/1.0\r\n" + "a: bc\r\n" + "\r\n" + the payload.
        assert_eq!(wire_size([("a", "bc")], 3), 10 + 7 + 2 + 3);
    }
}
