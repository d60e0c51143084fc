//! Dead letters: what a component could not process goes to `dlq.<component>` (stream `DLQ`)
//! with the reason, the original subject, stream, sequence and headers, and the original
//! payload untouched — so it can be inspected and retried, never silently lost.
//!
//! A dead letter never exceeds the server's max payload: when the original body would not fit
//! beside the headers, it is left out (`Mandate-Dlq-Body: omitted`, with its size and SHA-256)
//! — the original stays in its stream, at the sequence the letter names — and the original
//! headers are kept as far as they fit, each value capped.

use async_nats::HeaderMap;
use sha2::{Digest, Sha256};

use crate::contract::dead_letter_subject;
use crate::envelope::{NATS_MSG_ID, now_rfc3339};
use crate::outbox::{self, OutMessage};
use crate::store::{DEAD_LETTER_COUNT, StoreError, Tx};
use crate::wire::{header_pairs, wire_size};

pub const DLQ_KIND: &str = "Mandate-Dlq-Kind";
pub const DLQ_REASON: &str = "Mandate-Dlq-Reason";
pub const DLQ_SUBJECT: &str = "Mandate-Dlq-Subject";
pub const DLQ_STREAM: &str = "Mandate-Dlq-Stream";
pub const DLQ_SEQUENCE: &str = "Mandate-Dlq-Sequence";
pub const DLQ_CONSUMER: &str = "Mandate-Dlq-Consumer";
pub const DLQ_DELIVERIES: &str = "Mandate-Dlq-Deliveries";
pub const DLQ_TIME: &str = "Mandate-Dlq-Time";
/// `omitted` when the original body was left out of the dead letter (it would not fit).
pub const DLQ_BODY: &str = "Mandate-Dlq-Body";
/// The original body's size in bytes, when it was left out.
pub const DLQ_BODY_SIZE: &str = "Mandate-Dlq-Body-Size";
/// The original body's SHA-256 (lower-case hex), when it was left out.
pub const DLQ_BODY_SHA256: &str = "Mandate-Dlq-Body-Sha256";
/// How many original headers were left out for room, when any were.
pub const DLQ_HEADERS_OMITTED: &str = "Mandate-Dlq-Headers-Omitted";
/// The value of [`DLQ_BODY`] in a dead letter without its body.
pub const BODY_OMITTED: &str = "omitted";

/// In a dead letter that leaves its body out, the longest original header name or value (and
/// reason) kept, in bytes: whoever published the original chose them.
const HEADER_CAP: usize = 1024;

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
    /// Every kind, in the order of the contract's table: for whatever must name them all
    /// (a metric series per kind, the AsyncAPI header's values).
    pub const ALL: [DeadLetterKind; 8] = [
        DeadLetterKind::MissingHeader,
        DeadLetterKind::InvalidHeader,
        DeadLetterKind::UnknownType,
        DeadLetterKind::NotAMap,
        DeadLetterKind::BinaryString,
        DeadLetterKind::TrailingBytes,
        DeadLetterKind::Undecodable,
        DeadLetterKind::HandlerFailed,
    ];

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
/// counts it. It fits in `max_payload`, the server's limit.
pub(crate) fn stage(
    tx: &mut Tx,
    component: &str,
    origin: &Origin<'_>,
    kind: DeadLetterKind,
    reason: &str,
    max_payload: usize,
) -> Result<(), StoreError> {
    tracing::warn!(
        subject = origin.subject,
        stream = origin.stream,
        sequence = origin.sequence,
        kind = kind.as_str(),
        reason,
        "dead-lettering a message"
    );
    let message = letter(component, origin, kind, reason, max_payload);
    outbox::stage(tx, &message)?;
    let count = tx.read_u64(DEAD_LETTER_COUNT)?;
    tx.write_u64(DEAD_LETTER_COUNT.to_vec(), count + 1);
    Ok(())
}

/// The dead letter of `origin`: its headers and body with the `Mandate-Dlq-*` headers, or —
/// when that would exceed `max_payload` — without the body, with as many of its headers as
/// fit (values capped).
fn letter(component: &str, origin: &Origin<'_>, kind: DeadLetterKind, reason: &str, max_payload: usize) -> OutMessage {
    let original: Vec<(String, String)> = origin
        .headers
        .map(header_pairs)
        .unwrap_or_default()
        .into_iter()
        // JetStream would read these as instructions for the DLQ stream itself.
        .filter(|(name, _)| !name.to_ascii_lowercase().starts_with("nats-"))
        .collect();
    let reason = one_line(reason);
    let subject = dead_letter_subject(component);
    let about = dlq_headers(component, origin, kind, &reason);
    let whole = wire_size(
        original.iter().chain(&about).map(|(n, v)| (n.as_str(), v.as_str())),
        origin.payload.len(),
    );
    if whole <= max_payload {
        let mut headers = original;
        headers.extend(about);
        return OutMessage {
            subject,
            headers,
            payload: origin.payload.to_vec(),
        };
    }
    tracing::warn!(
        size = whole,
        max_payload,
        "the dead letter leaves the original body out: with it, it would exceed the server's max payload"
    );
    let about = dlq_headers(component, origin, kind, &capped(&reason));
    OutMessage {
        subject,
        headers: without_body(original, about, origin.payload, max_payload),
        payload: Vec::new(),
    }
}

/// The headers of a dead letter that leaves `body` out: `about` and what the body was, and as
/// many of the `original` headers (capped) as fit in `max_payload`, counting the others.
fn without_body(
    original: Vec<(String, String)>,
    mut about: Vec<(String, String)>,
    body: &[u8],
    max_payload: usize,
) -> Vec<(String, String)> {
    about.extend([
        (DLQ_BODY.to_owned(), BODY_OMITTED.to_owned()),
        (DLQ_BODY_SIZE.to_owned(), body.len().to_string()),
        (DLQ_BODY_SHA256.to_owned(), format!("{:x}", Sha256::digest(body))),
    ]);
    // Room for the count of omitted headers, whether or not it is needed.
    let mut size = wire_size(about.iter().map(|(n, v)| (n.as_str(), v.as_str())), 0)
        + DLQ_HEADERS_OMITTED.len()
        + u64::MAX.to_string().len()
        + 4;
    let mut headers = Vec::with_capacity(original.len() + about.len() + 1);
    let mut omitted = 0u64;
    for (name, value) in original {
        let value = capped(&value);
        let line = name.len() + value.len() + 4;
        if name.len() <= HEADER_CAP && size + line <= max_payload {
            size += line;
            headers.push((name, value));
        } else {
            omitted += 1;
        }
    }
    headers.extend(about);
    if omitted > 0 {
        headers.push((DLQ_HEADERS_OMITTED.to_owned(), omitted.to_string()));
    }
    headers
}

/// The `Mandate-Dlq-*` headers (and the letter's own `Nats-Msg-Id`): what, why, where from.
fn dlq_headers(component: &str, origin: &Origin<'_>, kind: DeadLetterKind, reason: &str) -> Vec<(String, String)> {
    let id = format!("dlq:{component}:{}:{}", origin.stream, origin.sequence);
    vec![
        (NATS_MSG_ID.to_owned(), id),
        (DLQ_KIND.to_owned(), kind.as_str().to_owned()),
        (DLQ_REASON.to_owned(), reason.to_owned()),
        (DLQ_SUBJECT.to_owned(), origin.subject.to_owned()),
        (DLQ_STREAM.to_owned(), origin.stream.to_owned()),
        (DLQ_SEQUENCE.to_owned(), origin.sequence.to_string()),
        (DLQ_CONSUMER.to_owned(), origin.consumer.to_owned()),
        (DLQ_DELIVERIES.to_owned(), origin.deliveries.to_string()),
        (DLQ_TIME.to_owned(), now_rfc3339()),
    ]
}

/// `text` cut to [`HEADER_CAP`] bytes (at a character boundary), marked with `…` when cut.
fn capped(text: &str) -> String {
    if text.len() <= HEADER_CAP {
        return text.to_owned();
    }
    let mut end = HEADER_CAP;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Header values cannot hold line breaks.
fn one_line(text: &str) -> String {
    text.split(['\r', '\n'])
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin<'a>(headers: &'a HeaderMap, payload: &'a [u8]) -> Origin<'a> {
        Origin {
            subject: "evt.orders.placed.v1",
            stream: "EVT_ORDERS",
            sequence: 7,
            consumer: "inventory",
            deliveries: 1,
            headers: Some(headers),
            payload,
        }
    }

    fn header<'m>(message: &'m OutMessage, name: &str) -> Option<&'m str> {
        message.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_dead_letter_that_fits_keeps_the_body_and_every_header() {
        let mut headers = HeaderMap::new();
        headers.insert("ce-type", "orders.placed.v1");
        let letter = letter(
            "inventory",
            &origin(&headers, b"body"),
            DeadLetterKind::Undecodable,
            "bad",
            1024,
        );
        assert_eq!(letter.payload, b"body");
        assert_eq!(header(&letter, "ce-type"), Some("orders.placed.v1"));
        assert_eq!(header(&letter, DLQ_BODY), None);
    }

    #[test]
    fn a_dead_letter_that_would_not_fit_leaves_the_body_out_and_says_what_it_was() {
        let mut headers = HeaderMap::new();
        headers.insert("ce-type", "orders.placed.v1");
        let body = vec![7u8; 4000];
        let letter = letter(
            "inventory",
            &origin(&headers, &body),
            DeadLetterKind::Undecodable,
            "bad",
            4096,
        );
        assert!(letter.payload.is_empty());
        assert!(letter.wire_size() <= 4096);
        assert_eq!(header(&letter, DLQ_BODY), Some(BODY_OMITTED));
        assert_eq!(header(&letter, DLQ_BODY_SIZE), Some("4000"));
        assert_eq!(
            header(&letter, DLQ_BODY_SHA256).map(str::len),
            Some(64),
            "a SHA-256 in hex"
        );
        assert_eq!(header(&letter, DLQ_SEQUENCE), Some("7"));
        assert_eq!(header(&letter, "ce-type"), Some("orders.placed.v1"));
        assert_eq!(header(&letter, DLQ_HEADERS_OMITTED), None);
    }

    #[test]
    fn hostile_headers_are_capped_and_what_does_not_fit_is_counted() {
        let max_payload = 16 * 1024;
        let mut headers = HeaderMap::new();
        headers.insert("ce-type", "orders.placed.v1");
        headers.insert("x-huge", "é".repeat(100_000).as_str());
        for i in 0..100 {
            headers.insert(format!("x-{i:03}").as_str(), "v".repeat(500).as_str());
        }
        let reason = "r".repeat(50_000);
        let letter = letter(
            "inventory",
            &origin(&headers, b"small"),
            DeadLetterKind::HandlerFailed,
            &reason,
            max_payload,
        );
        assert!(letter.wire_size() <= max_payload, "{}", letter.wire_size());
        assert!(letter.payload.is_empty(), "the headers alone push it over");
        for (name, value) in &letter.headers {
            assert!(value.len() <= HEADER_CAP + "…".len(), "{name} is capped");
        }
        let omitted: usize = header(&letter, DLQ_HEADERS_OMITTED)
            .expect("some headers did not fit")
            .parse()
            .expect("a count");
        let kept = letter.headers.iter().filter(|(n, _)| n.starts_with("x-")).count();
        assert_eq!(kept + omitted, 101, "every original header is kept or counted");
        assert!(header(&letter, DLQ_REASON).is_some_and(|r| r.ends_with('…')));
    }
}
