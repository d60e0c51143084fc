//! Dead letters: what a component could not process goes to `dlq.<component>` (stream `DLQ`)
//! with the reason, the original subject, stream, sequence and headers, and the original
//! payload untouched — so it can be inspected and retried, never silently lost.

use async_nats::HeaderMap;

use crate::contract::dead_letter_subject;
use crate::envelope::{NATS_MSG_ID, now_rfc3339};
use crate::outbox::{self, OutMessage, header_pairs};
use crate::store::{DEAD_LETTER_COUNT, StoreError, Tx};

pub const DLQ_KIND: &str = "Mandate-Dlq-Kind";
pub const DLQ_REASON: &str = "Mandate-Dlq-Reason";
pub const DLQ_SUBJECT: &str = "Mandate-Dlq-Subject";
pub const DLQ_STREAM: &str = "Mandate-Dlq-Stream";
pub const DLQ_SEQUENCE: &str = "Mandate-Dlq-Sequence";
pub const DLQ_CONSUMER: &str = "Mandate-Dlq-Consumer";
pub const DLQ_DELIVERIES: &str = "Mandate-Dlq-Deliveries";
pub const DLQ_TIME: &str = "Mandate-Dlq-Time";

/// Why a message was dead-lettered: its `Mandate-Dlq-Kind`, naming the rule it broke
/// (docs/contract.md, "Dead letters"). A message is reported for the first rule found;
/// headers are read before the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterKind {
    /// A required envelope header is absent or empty.
    MissingHeader,
    /// A header is present but malformed: `ce-specversion` not 1.0, `ce-time` not RFC 3339,
    /// `traceparent` malformed, `ce-source` not the subject's owner, `ce-datacontenttype`
    /// not MessagePack.
    InvalidHeader,
    /// No handler for the subject, or `ce-type` is not the subject's type.
    UnknownType,
    /// A struct encoded as an array, or a map with a key that is not a string.
    NotAMap,
    /// A string or a map key encoded as MessagePack `bin`.
    BinaryString,
    /// Bytes after the body's value.
    TrailingBytes,
    /// Not MessagePack, truncated, a field of the wrong type, a required field missing.
    Undecodable,
    /// The handler kept failing for the configured number of attempts.
    HandlerFailed,
}

impl DeadLetterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterKind::MissingHeader => "missing-header",
            DeadLetterKind::InvalidHeader => "invalid-header",
            DeadLetterKind::UnknownType => "unknown-type",
            DeadLetterKind::NotAMap => "not-a-map",
            DeadLetterKind::BinaryString => "binary-string",
            DeadLetterKind::TrailingBytes => "trailing-bytes",
            DeadLetterKind::Undecodable => "undecodable",
            DeadLetterKind::HandlerFailed => "handler-failed",
        }
    }
}

/// Where the dead message came from.
#[derive(Debug, Clone)]
pub(crate) struct Origin<'a> {
    pub subject: &'a str,
    pub stream: &'a str,
    pub sequence: u64,
    pub consumer: &'a str,
    pub deliveries: i64,
    pub headers: Option<&'a HeaderMap>,
    pub payload: &'a [u8],
}

/// Stages a dead letter in `tx` (published by the relay after commit, exactly once) and
/// counts it.
pub(crate) fn stage(
    tx: &mut Tx,
    component: &str,
    origin: &Origin<'_>,
    kind: DeadLetterKind,
    reason: &str,
) -> Result<(), StoreError> {
    tracing::warn!(
        subject = origin.subject,
        stream = origin.stream,
        sequence = origin.sequence,
        kind = kind.as_str(),
        reason,
        "dead-lettering a message"
    );
    let mut headers: Vec<(String, String)> = origin
        .headers
        .map(header_pairs)
        .unwrap_or_default()
        .into_iter()
        // JetStream would read these as instructions for the DLQ stream itself.
        .filter(|(name, _)| !name.to_ascii_lowercase().starts_with("nats-"))
        .collect();
    let id = format!("dlq:{component}:{}:{}", origin.stream, origin.sequence);
    headers.extend([
        (NATS_MSG_ID.to_owned(), id),
        (DLQ_KIND.to_owned(), kind.as_str().to_owned()),
        (DLQ_REASON.to_owned(), one_line(reason)),
        (DLQ_SUBJECT.to_owned(), origin.subject.to_owned()),
        (DLQ_STREAM.to_owned(), origin.stream.to_owned()),
        (DLQ_SEQUENCE.to_owned(), origin.sequence.to_string()),
        (DLQ_CONSUMER.to_owned(), origin.consumer.to_owned()),
        (DLQ_DELIVERIES.to_owned(), origin.deliveries.to_string()),
        (DLQ_TIME.to_owned(), now_rfc3339()),
    ]);
    let message = OutMessage {
        subject: dead_letter_subject(component),
        headers,
        payload: origin.payload.to_vec(),
    };
    outbox::stage(tx, &message)?;
    let count = tx.read_u64(DEAD_LETTER_COUNT)?;
    tx.write_u64(DEAD_LETTER_COUNT.to_vec(), count + 1);
    Ok(())
}

/// Header values cannot hold line breaks.
fn one_line(text: &str) -> String {
    text.split(['\r', '\n'])
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}
