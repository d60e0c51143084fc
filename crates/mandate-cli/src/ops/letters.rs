//! Dead letters as the operations see them: read from `DLQ` (headers only: the bodies stay on
//! the server until a retry needs one), selected by component, kind and reason, and grouped
//! by cause (component × kind × reason) — what an operator fixes one at a time; and one
//! letter read whole, as `dlq show --json` prints it and the console inspects it.

use std::collections::BTreeMap;

use anyhow::anyhow;
use async_nats::HeaderMap;
use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream};
use async_nats::jetstream::{self, message::StreamMessage};
use mandate::deadletter::{
    BODY_OMITTED, DLQ_BODY, DLQ_CONSUMER, DLQ_DELIVERIES, DLQ_KIND, DLQ_REASON, DLQ_SEQUENCE, DLQ_STREAM, DLQ_SUBJECT,
    DLQ_TIME,
};
use mandate::envelope::{CE_ID, CE_TYPE};
use mandate::{Bus, DEAD_LETTER_STREAM};
use serde::Serialize;
use serde_json::{Map, Value};

use super::errors::{NoDlqStream, NoSuchLetter};
use crate::bus::{Start, StreamReader, find_stream, header, headers_to_map};
use crate::msgpack;
use crate::since::rfc3339;

/// A dead letter, from its headers.
#[derive(Debug, Clone, Serialize)]
pub struct Letter {
    /// Its sequence in `DLQ`.
    pub sequence: u64,
    pub time: String,
    /// The component that dead-lettered it (`dlq.<component>`).
    pub component: String,
    pub kind: String,
    pub reason: String,
    /// The subject the original message was published to.
    pub subject: String,
    pub stream: String,
    pub original_sequence: Option<u64>,
    /// The durable consumer that refused it (`<component>` or `<component>-p<P>of<N>`).
    pub consumer: String,
    pub deliveries: Option<u64>,
    #[serde(rename = "type")]
    pub ce_type: Option<String>,
    pub id: Option<String>,
    /// The original body was left out: it would not fit beside the headers.
    pub body_omitted: bool,
}

impl Letter {
    pub fn new(sequence: u64, subject: &str, stored: time::OffsetDateTime, headers: Option<&HeaderMap>) -> Letter {
        let text = |name: &str| header(headers, name).unwrap_or_default();
        Letter {
            sequence,
            time: header(headers, DLQ_TIME).unwrap_or_else(|| rfc3339(stored)),
            component: subject.strip_prefix("dlq.").unwrap_or(subject).to_owned(),
            kind: text(DLQ_KIND),
            reason: text(DLQ_REASON),
            subject: text(DLQ_SUBJECT),
            stream: text(DLQ_STREAM),
            original_sequence: header(headers, DLQ_SEQUENCE).and_then(|s| s.parse().ok()),
            consumer: text(DLQ_CONSUMER),
            deliveries: header(headers, DLQ_DELIVERIES).and_then(|s| s.parse().ok()),
            ce_type: header(headers, CE_TYPE),
            id: header(headers, CE_ID),
            body_omitted: body_omitted(headers),
        }
    }
}

pub fn body_omitted(headers: Option<&HeaderMap>) -> bool {
    header(headers, DLQ_BODY).as_deref() == Some(BODY_OMITTED)
}

/// How a reason is matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReasonMatch {
    /// The whole reason, as `dlq list` prints it.
    Exact(String),
    /// Its beginning: reasons name the rule first and the details after (the field, the
    /// value), so a prefix selects one cause across many messages.
    Prefix(String),
}

/// Which dead letters an operation is about; empty selects every one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub component: Option<String>,
    pub kind: Option<String>,
    pub reason: Option<ReasonMatch>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.component.is_none() && self.kind.is_none() && self.reason.is_none()
    }

    pub fn matches(&self, letter: &Letter) -> bool {
        let component = self.component.as_ref().is_none_or(|c| *c == letter.component);
        let kind = self.kind.as_ref().is_none_or(|k| *k == letter.kind);
        let reason = match &self.reason {
            None => true,
            Some(ReasonMatch::Exact(reason)) => *reason == letter.reason,
            Some(ReasonMatch::Prefix(prefix)) => letter.reason.starts_with(prefix.as_str()),
        };
        component && kind && reason
    }

    /// The server-side filter: the component is the subject's last token; kind and reason
    /// are headers, matched here.
    fn subjects(&self) -> Vec<String> {
        self.component.iter().map(|c| mandate::dead_letter_subject(c)).collect()
    }
}

/// The dead letters `filter` selects, oldest first (none when there is no `DLQ` stream).
pub async fn read(bus: &Bus, filter: &Filter) -> anyhow::Result<Vec<Letter>> {
    read_from(bus, filter, Start::All).await
}

/// The dead letters `filter` selects from `start` on.
pub async fn read_from(bus: &Bus, filter: &Filter, start: Start) -> anyhow::Result<Vec<Letter>> {
    let mut letters = Vec::new();
    if find_stream(bus.jetstream(), DEAD_LETTER_STREAM).await?.is_none() {
        return Ok(letters);
    }
    let mut reader = StreamReader::open(bus.jetstream(), DEAD_LETTER_STREAM, &filter.subjects(), start, true).await?;
    while let Some(message) = reader.next_history().await? {
        let info = message
            .info()
            .map_err(|e| anyhow!("a DLQ message has no stream metadata: {e}"))?;
        let letter = Letter::new(
            info.stream_sequence,
            &message.subject,
            info.published,
            message.headers.as_ref(),
        );
        if filter.matches(&letter) {
            letters.push(letter);
        }
    }
    Ok(letters)
}

/// The `DLQ` stream; `NoDlqStream` when there is none (nothing was ever dead-lettered here).
pub async fn dlq_stream(bus: &Bus) -> anyhow::Result<Stream> {
    Ok(find_stream(bus.jetstream(), DEAD_LETTER_STREAM)
        .await?
        .ok_or(NoDlqStream)?)
}

/// Reads DLQ #`seq`; `None` when it is not there.
pub async fn find_letter(dlq: &Stream, seq: u64) -> anyhow::Result<Option<StreamMessage>> {
    match dlq.get_raw_message(seq).await {
        Ok(message) => Ok(Some(message)),
        Err(err) => {
            let missing = match err.kind() {
                LastRawMessageErrorKind::NoMessageFound => true,
                LastRawMessageErrorKind::JetStream(e) => e.error_code() == jetstream::ErrorCode::NO_MESSAGE_FOUND,
                _ => false,
            };
            if missing {
                Ok(None)
            } else {
                Err(anyhow!(err).context(format!("reading DLQ #{seq}")))
            }
        }
    }
}

/// Reads DLQ #`seq`; `NoSuchLetter` when it is not there.
pub async fn get_letter(dlq: &Stream, seq: u64) -> anyhow::Result<StreamMessage> {
    Ok(find_letter(dlq, seq).await?.ok_or(NoSuchLetter(seq))?)
}

/// One dead letter whole, as `dlq show --json` prints it: sequence, subject, time, every
/// header and the decoded body (or why it is not there).
pub async fn shown(bus: &Bus, seq: u64) -> anyhow::Result<Map<String, Value>> {
    let dlq = dlq_stream(bus).await?;
    Ok(shown_of(&get_letter(&dlq, seq).await?))
}

pub fn shown_of(message: &StreamMessage) -> Map<String, Value> {
    let headers = Some(&message.headers);
    let mut shown = Map::new();
    shown.insert("sequence".into(), Value::from(message.sequence));
    shown.insert("subject".into(), Value::String(message.subject.to_string()));
    shown.insert("time".into(), Value::String(rfc3339(message.time)));
    shown.insert(
        "headers".into(),
        serde_json::to_value(headers_to_map(headers)).unwrap_or_default(),
    );
    if body_omitted(headers) {
        shown.insert("body".into(), Value::Null);
        shown.insert("body_omitted".into(), Value::Bool(true));
    } else {
        msgpack::body_fields(&message.payload, &mut shown);
    }
    shown
}

/// Dead letters of one cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub component: String,
    pub kind: String,
    pub reason: String,
    pub count: u64,
    /// The oldest and newest letter's sequence in `DLQ`.
    pub first_sequence: u64,
    pub last_sequence: u64,
}

/// `letters` counted per component × kind × reason, the largest group first.
pub fn groups(letters: &[Letter]) -> Vec<Group> {
    let mut by_cause: BTreeMap<(&str, &str, &str), Group> = BTreeMap::new();
    for letter in letters {
        let key = (letter.component.as_str(), letter.kind.as_str(), letter.reason.as_str());
        let group = by_cause.entry(key).or_insert_with(|| Group {
            component: letter.component.clone(),
            kind: letter.kind.clone(),
            reason: letter.reason.clone(),
            count: 0,
            first_sequence: letter.sequence,
            last_sequence: letter.sequence,
        });
        group.count += 1;
        group.first_sequence = group.first_sequence.min(letter.sequence);
        group.last_sequence = group.last_sequence.max(letter.sequence);
    }
    let mut groups: Vec<Group> = by_cause.into_values().collect();
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.first_sequence.cmp(&b.first_sequence)));
    groups
}

#[cfg(test)]
impl Letter {
    /// A letter with only what grouping and filtering read, for unit tests.
    pub(crate) fn sample(sequence: u64, component: &str, kind: &str, reason: &str) -> Letter {
        Letter {
            sequence,
            time: String::new(),
            component: component.to_owned(),
            kind: kind.to_owned(),
            reason: reason.to_owned(),
            subject: String::new(),
            stream: String::new(),
            original_sequence: None,
            consumer: String::new(),
            deliveries: None,
            ce_type: None,
            id: None,
            body_omitted: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(sequence: u64, component: &str, kind: &str, reason: &str) -> Letter {
        Letter::sample(sequence, component, kind, reason)
    }

    #[test]
    fn a_filter_matches_component_kind_and_reason_exactly_or_by_prefix() {
        let l = letter(1, "orders", "undecodable", "does not decode: n is a string");
        assert!(Filter::default().matches(&l));
        let exact = Filter {
            reason: Some(ReasonMatch::Exact("does not decode".into())),
            ..Filter::default()
        };
        assert!(!exact.matches(&l), "an exact reason is the whole reason");
        let prefix = Filter {
            component: Some("orders".into()),
            kind: Some("undecodable".into()),
            reason: Some(ReasonMatch::Prefix("does not decode".into())),
        };
        assert!(prefix.matches(&l));
        let other = Filter {
            component: Some("payments".into()),
            ..Filter::default()
        };
        assert!(!other.matches(&l));
    }

    #[test]
    fn groups_count_per_component_kind_and_reason_largest_first() {
        let letters = [
            letter(1, "a", "undecodable", "x"),
            letter(2, "b", "handler-failed", "y"),
            letter(3, "b", "handler-failed", "y"),
            letter(4, "a", "undecodable", "z"),
        ];
        let groups = groups(&letters);
        assert_eq!(groups.len(), 3);
        assert_eq!((groups[0].component.as_str(), groups[0].count), ("b", 2));
        assert_eq!((groups[0].first_sequence, groups[0].last_sequence), (2, 3));
        assert_eq!(groups[1].reason, "x");
    }
}
