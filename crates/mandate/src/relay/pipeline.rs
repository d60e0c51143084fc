//! The relay's sending side: outbox entries sent pipelined, their acks awaited oldest first,
//! the acknowledged ones deleted in batches and the ones the server refuses for good set
//! aside. An entry leaves the store only after its JetStream ack (or set aside, moved to
//! `u/`); anything else that fails stays where it is, for the next scan of the store.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck;
use serde::Deserialize;
use tokio::time::Instant;

use super::Inner;
use crate::envelope::{NATS_MSG_ID, TRACEPARENT};
use crate::error::{Error, Result};
use crate::options::Fault;
use crate::refusal::Judge;
use crate::setaside::{self, Refused};
use crate::store::{OUTBOX, encode_u64, key};
use crate::telemetry;

/// How long an entry's ack may take, counted from when it was sent: the JetStream context's
/// ack timeout (async-nats' default). Acks are awaited oldest first against deadlines set at
/// sending, so entries the server does not answer (a stream changing leader on a cluster)
/// cost one such wait together, not one each — an ack future's own timeout starts only when
/// it is awaited.
const ACK_WAIT: Duration = Duration::from_secs(5);

/// How many acknowledged entries are deleted together while more are in flight: one sled
/// batch per this many, not per entry (once nothing is in flight, they are deleted at once).
const DELETE_EVERY: usize = 256;

/// An outbox entry as the relay reads it: borrowed from the stored bytes (the encoding of
/// `OutMessage`), so that publishing copies only into the outgoing message.
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

type AckFuture = Pin<Box<dyn Future<Output = Result<PublishAck, PublishError>> + Send>>;

/// An entry sent, its ack not yet in.
struct Sent {
    id: u64,
    entry: sled::IVec,
    ack: AckFuture,
    deadline: Instant,
    span: telemetry::Span,
}

/// What came of an entry's ack.
pub(super) struct Answer {
    sent: Sent,
    result: Result<PublishAck, PublishError>,
}

/// Entries in flight, in id order, and what is to be done with the ones answered.
pub(super) struct Pipeline<'r> {
    relay: &'r Inner,
    judge: Judge<'r>,
    in_flight: VecDeque<Sent>,
    /// Acknowledged (or unreadable) entries, to be deleted.
    done: Vec<sled::IVec>,
    refused: Vec<Refused>,
    /// The first failure a retry may get past: nothing more is sent once there is one.
    failed: Option<Error>,
    /// How many entries left the outbox so far.
    left: usize,
}

impl<'r> Pipeline<'r> {
    pub(super) fn new(relay: &'r Inner) -> Pipeline<'r> {
        Pipeline {
            relay,
            judge: Judge::new(&relay.js, &relay.refusals),
            in_flight: VecDeque::new(),
            done: Vec::new(),
            refused: Vec::new(),
            failed: None,
            left: 0,
        }
    }

    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// True once a publish failed in a way a retry may get past: send nothing more.
    pub(super) fn has_failed(&self) -> bool {
        self.failed.is_some()
    }

    /// Sends the outbox entry `id`, as stored (`entry`), with `Nats-Msg-Id` so that JetStream
    /// drops a repeat.
    pub(super) async fn send(&mut self, id: u64, entry: sled::IVec) {
        let message: Staged<'_> = match rmp_serde::from_slice(&entry) {
            Ok(message) => message,
            Err(err) => {
                // Only this kit writes the outbox; an unreadable entry is a bug, not data.
                tracing::error!(error = %err, id, "dropping an unreadable outbox entry");
                self.done.push(outbox_key(id));
                return;
            }
        };
        // Sent with the publish span's traceparent: the consumer's span is its child.
        let mut span = message.publish_span();
        let traceparent = span.traceparent().map(|tp| tp.to_string());
        let mut publish = PublishMessage::build().headers(message.header_map(traceparent.as_deref()));
        if let Some(msg_id) = message.header(NATS_MSG_ID) {
            publish = publish.message_id(msg_id);
        }
        let payload = bytes::Bytes::copy_from_slice(message.payload);
        let subject = message.subject.to_owned();
        match self.relay.js.send_publish(subject, publish.payload(payload)).await {
            Ok(ack) => self.in_flight.push_back(Sent {
                id,
                entry,
                ack: std::future::IntoFuture::into_future(ack),
                deadline: Instant::now() + ACK_WAIT,
                span,
            }),
            Err(err) => {
                span.fail(|| err.to_string());
                self.judge(id, entry, err, "outbox publish").await;
            }
        }
    }

    /// The oldest entry's ack (or its timeout). Cancel-safe: an entry leaves the pipeline
    /// only in the same poll that answers it. Pending for ever when nothing is in flight.
    pub(super) async fn next_answer(&mut self) -> Answer {
        let Some(oldest) = self.in_flight.front_mut() else {
            return std::future::pending().await;
        };
        if self.relay.fault == Fault::ParkBeforeRelayAck {
            park("sent, before the acks are awaited").await;
        }
        let result = tokio::time::timeout_at(oldest.deadline, &mut oldest.ack)
            .await
            .unwrap_or_else(|_| Err(PublishError::new(PublishErrorKind::TimedOut)));
        let sent = self.in_flight.pop_front().expect("the entry awaited");
        Answer { sent, result }
    }

    /// Takes in an answer: an acknowledged entry is to be deleted, one refused for good set
    /// aside, any other failure kept for the caller.
    pub(super) async fn answered(&mut self, answer: Answer) -> Result<()> {
        let Answer { mut sent, result } = answer;
        match result {
            Ok(ack) => {
                if let Some(published) = &self.relay.published {
                    published.note(&ack);
                }
                self.done.push(outbox_key(sent.id));
                drop(sent.span);
            }
            Err(err) => {
                sent.span.fail(|| err.to_string());
                self.judge(sent.id, sent.entry, err, "outbox publish ack").await;
            }
        }
        if self.done.len() >= DELETE_EVERY {
            self.flush().await?;
        }
        Ok(())
    }

    /// Awaits every ack still due, then deletes and sets aside what they say. The first
    /// failure a retry may get past, if any, is the error (the rest is done all the same).
    pub(super) async fn settle(mut self) -> Result<usize> {
        while !self.in_flight.is_empty() {
            let answer = self.next_answer().await;
            self.answered(answer).await?;
        }
        self.flush().await?;
        // Even when others went out: a message that keeps failing behind them must not go
        // unnoticed (the caller logs it and reads the outbox again).
        match self.failed {
            Some(err) => Err(err),
            None => Ok(self.left),
        }
    }

    /// Deletes the acknowledged entries and sets aside the refused ones.
    async fn flush(&mut self) -> Result<()> {
        if !self.done.is_empty() {
            if self.relay.fault == Fault::ParkBeforeDelete {
                park("acknowledged, before the entries are deleted").await;
            }
            let done = std::mem::take(&mut self.done);
            let count = done.len();
            let published = self.relay.published.as_ref().and_then(|p| p.record());
            self.relay.store.remove_raw(done, published)?;
            self.left += count;
            tracing::debug!(published = count, "outbox relay published");
        }
        if !self.refused.is_empty() {
            let refused = std::mem::take(&mut self.refused);
            self.left += refused.len();
            setaside::set_aside(&self.relay.store, refused)?;
        }
        Ok(())
    }

    /// A failed publish: set aside if the server refuses it for good, else kept as the
    /// pipeline's failure (the entry stays in the store).
    async fn judge(&mut self, id: u64, entry: sled::IVec, err: PublishError, what: &'static str) {
        // Read again only now: the hot path keeps no copy of each subject.
        let subject = rmp_serde::from_slice::<Staged<'_>>(&entry).map_or("", |m| m.subject);
        match self.judge.refused_for_good(&err, subject).await {
            Some(reason) => self.refused.push(Refused::new(outbox_key(id), entry, reason)),
            None => {
                self.failed.get_or_insert(Error::js(what, err));
            }
        }
    }
}

fn outbox_key(id: u64) -> sled::IVec {
    key(OUTBOX, &encode_u64(id)).into()
}

/// Fault injection (`--fault`, test-only): parks the relay at a named point for good, so
/// that a test can kill the component there.
pub(super) async fn park(at: &str) {
    tracing::warn!("fault injection: the relay is parked {at}");
    std::future::pending::<()>().await;
}
