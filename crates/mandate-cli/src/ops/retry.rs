//! Retrying one dead letter: republish the original payload to the original subject with the
//! original headers (without `Mandate-Dlq-*`) and `Nats-Msg-Id` = the original `ce-id`, wait
//! for JetStream's ack, and only then delete the dead letter.
//!
//! Why nothing is applied twice, even by two redrives at once or one stopped and run again:
//! the letter is deleted only after the retry is stored, so a retry is never lost and, once
//! deleted, never made again; and every retry of one letter carries the same `Nats-Msg-Id`,
//! so a second retry inside the stream's duplicate window is dropped by JetStream. A dropped
//! retry tells which message holds the id: if it is a retry (a later sequence than the
//! original), the letter's work is done and the letter is deleted; if it is the original
//! itself (still inside its window), nothing is deleted and the operator is told when to try
//! again.
//!
//! A dead letter whose original would not fit in the server's max payload beside its headers
//! carries no body: the original is read back from its stream and checked against the
//! letter's SHA-256 before it is republished.

use anyhow::{anyhow, bail};
use async_nats::HeaderMap;
use async_nats::jetstream::stream::Stream;
use mandate::Bus;
use mandate::deadletter::{DLQ_BODY_SHA256, DLQ_SEQUENCE, DLQ_STREAM, DLQ_SUBJECT};
use mandate::envelope::{CE_ID, NATS_MSG_ID};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::letters::{body_omitted, find_letter};
use crate::bus::{find_stream, header, headers_to_map, publish};
use crate::since::rfc3339;

/// What retrying one dead letter did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// Republished as `stream` #`sequence`; the letter is deleted.
    Republished { stream: String, sequence: u64 },
    /// JetStream already holds a retry of this id (`stream` #`sequence`): an earlier or
    /// concurrent redrive published it and did not get to delete the letter. Nothing was
    /// published again; the letter is deleted.
    AlreadyRepublished { stream: String, sequence: u64 },
    /// The original is still inside its stream's duplicate window, so JetStream dropped the
    /// retry; the letter stays (retry after `until`).
    InsideWindow { stream: String, until: Option<String> },
    /// The letter is no longer in `DLQ` (retried or purged meanwhile): nothing to do.
    Gone,
}

/// One retried dead letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retried {
    pub dlq_sequence: u64,
    pub subject: String,
    pub id: Option<String>,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl Retried {
    /// The stream and sequence that hold the retry, if there is one.
    pub fn stored_at(&self) -> Option<(&str, u64)> {
        match &self.outcome {
            Outcome::Republished { stream, sequence } | Outcome::AlreadyRepublished { stream, sequence } => {
                Some((stream, *sequence))
            }
            _ => None,
        }
    }
}

/// Retries DLQ #`seq` (see the module's docs).
pub async fn retry(bus: &Bus, dlq: &Stream, seq: u64) -> anyhow::Result<Retried> {
    let Some(letter) = find_letter(dlq, seq).await? else {
        return Ok(Retried {
            dlq_sequence: seq,
            subject: String::new(),
            id: None,
            outcome: Outcome::Gone,
        });
    };
    let subject = header(Some(&letter.headers), DLQ_SUBJECT).ok_or_else(|| {
        anyhow!(
            "DLQ #{seq} has no {DLQ_SUBJECT} header, so its original subject is unknown: it was not written by the kit"
        )
    })?;
    let (headers, payload, id) = if body_omitted(Some(&letter.headers)) {
        read_back(bus, seq, &letter.headers).await?
    } else {
        let (headers, id) = original_headers(&letter.headers)?;
        (headers, letter.payload.to_vec(), id)
    };
    let ack = publish(bus, &subject, headers, payload).await?;
    let original = header(Some(&letter.headers), DLQ_SEQUENCE).and_then(|s| s.parse::<u64>().ok());
    let outcome = if !ack.duplicate {
        Outcome::Republished {
            stream: ack.stream,
            sequence: ack.sequence,
        }
    } else if original.is_some_and(|o| ack.sequence > o) {
        Outcome::AlreadyRepublished {
            stream: ack.stream,
            sequence: ack.sequence,
        }
    } else {
        let until = duplicate_window_end(bus, &letter.headers).await;
        return Ok(Retried {
            dlq_sequence: seq,
            subject,
            id,
            outcome: Outcome::InsideWindow {
                stream: ack.stream,
                until,
            },
        });
    };
    // Only now, with the retry stored, may the letter go.
    let retried = Retried {
        dlq_sequence: seq,
        subject,
        id,
        outcome,
    };
    if let Err(err) = dlq.delete_message(seq).await {
        // Gone meanwhile (a concurrent redrive deleted it) is what was wanted.
        if find_letter(dlq, seq).await?.is_some() {
            let (stream, sequence) = retried.stored_at().unwrap_or_default();
            bail!(
                "republished DLQ #{seq} as {stream} #{sequence}, but could not delete it from DLQ ({err}): delete it with `nats stream rmm DLQ {seq}`"
            );
        }
    }
    Ok(retried)
}

/// The original headers of a dead letter: without `Mandate-Dlq-*` and the dead letter's own
/// `Nats-Msg-Id`, with `Nats-Msg-Id` = the original `ce-id` (when it has one).
fn original_headers(letter: &HeaderMap) -> anyhow::Result<(HeaderMap, Option<String>)> {
    let kept: Vec<(String, Vec<String>)> = headers_to_map(Some(letter))
        .into_iter()
        .filter(|(name, _)| {
            let lower = name.to_ascii_lowercase();
            !lower.starts_with("mandate-dlq-") && !lower.starts_with("nats-")
        })
        .collect();
    let mut headers = crate::bus::headers_from_map(kept.iter().map(|(n, v)| (n, v)))?;
    let id = header(Some(letter), CE_ID);
    if let Some(id) = &id {
        headers.insert(NATS_MSG_ID, id.as_str());
    }
    Ok((headers, id))
}

/// The original of a dead letter that left its body out, read back from the stream and
/// sequence it names, with the headers and body to republish. The body must match the
/// letter's SHA-256: the sequence could have been reused by a recreated stream.
async fn read_back(bus: &Bus, seq: u64, letter: &HeaderMap) -> anyhow::Result<(HeaderMap, Vec<u8>, Option<String>)> {
    let (Some(stream_name), Some(sequence)) = (
        header(Some(letter), DLQ_STREAM),
        header(Some(letter), DLQ_SEQUENCE).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        bail!("DLQ #{seq} left its body out and does not say where the original is ({DLQ_STREAM}, {DLQ_SEQUENCE})");
    };
    let stream = find_stream(bus.jetstream(), &stream_name).await?.ok_or_else(|| {
        anyhow!("DLQ #{seq} left its body out, and its original's stream {stream_name} no longer exists: the body cannot be read back")
    })?;
    let original = stream.get_raw_message(sequence).await.map_err(|e| {
        anyhow!("DLQ #{seq} left its body out, and {stream_name} #{sequence} cannot be read back ({e}): the stream's limits may have removed it")
    })?;
    let digest = format!("{:x}", Sha256::digest(&original.payload));
    if header(Some(letter), DLQ_BODY_SHA256).as_deref() != Some(digest.as_str()) {
        bail!(
            "{stream_name} #{sequence} is not the body DLQ #{seq} left out (its SHA-256 differs): nothing republished"
        );
    }
    let (headers, id) = original_headers(&original.headers)?;
    Ok((headers, original.payload.to_vec(), id))
}

/// When the original message leaves its stream's duplicate window, if it can be told.
async fn duplicate_window_end(bus: &Bus, letter: &HeaderMap) -> Option<String> {
    let stream_name = header(Some(letter), DLQ_STREAM)?;
    let sequence: u64 = header(Some(letter), DLQ_SEQUENCE)?.parse().ok()?;
    let mut stream = bus.jetstream().get_stream(&stream_name).await.ok()?;
    let window = stream.info().await.ok()?.config.duplicate_window;
    let original = stream.get_raw_message(sequence).await.ok()?;
    let window = time::Duration::try_from(window).ok()?;
    Some(rfc3339(original.time + window))
}
