//! An order's journey: every event (all `EVT_*` streams) and dead letter that one order id,
//! correlation id or event id caused, in time order, with who published each, where it is
//! stored, and the time since the one before.
//!
//! How it is found, cheapest first:
//! - **By key, on the server.** A keyed event is published on `evt.<owner>.<event>.v<N>.<key>`
//!   and stored as `….v<N>.<slot>.<key>` (docs/design.md, "Partitions"), so the order id is the
//!   subject's last token: an ordered consumer filtered on `evt.*.*.*.<id>` and
//!   `evt.*.*.*.*.<id>` reads just those, however old.
//! - **By header, scanned.** A correlation id (and an event's own id) is a header, which the
//!   server cannot filter on: the streams are read headers-only from `since` on (the scan is
//!   bounded, and the journey says from when). The correlation ids of the keyed events join
//!   the search, so unkeyed events of the same chain are found too.
//! - **Dead letters** keep the original's headers and subject: `DLQ` is scanned the same way.
//!
//! What causes what: a handler's event has a deterministic id (`derived_event_id` of its
//! component, the cause's id and an index), so an event whose id derives from an earlier step's
//! is marked as caused by it. The rest began with something the bus does not store — a service
//! call (request/reply is not kept), or a publisher outside the system — and say so.

use std::collections::{BTreeMap, BTreeSet};

use async_nats::jetstream;
use mandate::Bus;
use mandate::DEAD_LETTER_STREAM;
use mandate::deadletter::{DLQ_KIND, DLQ_REASON, DLQ_SUBJECT};
use mandate::envelope::{CE_ID, CE_SOURCE, CE_TYPE, CORRELATION_ID, TRACEPARENT, derived_event_id};
use serde::Serialize;
use time::OffsetDateTime;

use crate::bus::{Start, StreamReader, all_streams, header};
use crate::since::rfc3339;

/// How many events one handler run is looked for (the emit index of `derived_event_id`).
const EMITS_LOOKED_FOR: u32 = 16;

/// What a step's cause is, as far as the bus shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum Cause {
    /// A handler reacting to this earlier event of the journey.
    Event {
        cause_id: String,
        cause_type: Option<String>,
    },
    /// Not an event of the journey: a service call (its request is not stored on the bus) or a
    /// publisher outside the system.
    Request,
    /// A dead letter: the original it carries is the event with the step's id.
    DeadLetterOf,
}

/// A dead letter's side of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    pub component: String,
    pub kind: String,
    pub reason: String,
}

/// One event or dead letter of the journey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// When the server stored it, RFC 3339.
    pub time: String,
    /// Milliseconds since the step before (none for the first).
    pub gap_ms: Option<u64>,
    pub stream: String,
    pub sequence: u64,
    /// The stored subject (for a dead letter: the original's).
    pub subject: String,
    #[serde(rename = "type")]
    pub ce_type: Option<String>,
    /// The publishing component (`ce-source`).
    pub source: Option<String>,
    pub id: Option<String>,
    pub correlation_id: Option<String>,
    /// The W3C trace id, from `traceparent`: one order is one trace.
    pub trace_id: Option<String>,
    #[serde(flatten)]
    pub cause: Cause,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<DeadLetter>,
    #[serde(skip)]
    stored: Option<OffsetDateTime>,
}

/// Everything found, and how it was looked for.
#[derive(Debug, Clone, Serialize)]
pub struct Journey {
    pub id: String,
    /// The streams read by key (the id as a subject's last token), whole.
    pub keyed_streams: Vec<String>,
    /// From when the streams were scanned for the correlation ids (headers).
    pub scanned_since: String,
    /// The correlation ids of the steps found.
    pub correlation_ids: Vec<String>,
    pub steps: Vec<Step>,
    /// What the bus does not show.
    pub not_visible: Vec<&'static str>,
}

/// What the bus cannot show of a journey.
const NOT_VISIBLE: [&str; 3] = [
    "service calls themselves: NATS request/reply is not stored, so a call shows only through the events it published (their cause is `request`)",
    "queries, and commands that were refused or changed nothing: they publish no event",
    "events older than the scan's start that carry only the correlation id (not the order id as their subject's last token)",
];

/// Finds the journey of `id` (an order id, a correlation id or an event id); streams are
/// scanned for headers from `since` on.
pub async fn find(bus: &Bus, id: &str, since: OffsetDateTime) -> anyhow::Result<Journey> {
    let js = bus.jetstream();
    let streams: Vec<String> = all_streams(js)
        .await?
        .into_iter()
        .map(|info| info.config.name)
        .filter(|name| name.starts_with("EVT_"))
        .collect();
    let mut found: BTreeMap<(String, u64), Step> = BTreeMap::new();
    let keyed = is_token(id);
    if keyed {
        let filters = vec![format!("evt.*.*.*.{id}"), format!("evt.*.*.*.*.{id}")];
        for name in &streams {
            read(js, name, &filters, Start::All, |step| {
                found.insert((step.stream.clone(), step.sequence), step);
            })
            .await?;
        }
    }
    let mut wanted: BTreeSet<String> = found.values().filter_map(|s| s.correlation_id.clone()).collect();
    wanted.insert(id.to_owned());
    let related = |step: &Step| {
        [&step.correlation_id, &step.id]
            .into_iter()
            .flatten()
            .any(|value| wanted.contains(value))
            || (keyed && step.subject.rsplit('.').next() == Some(id))
    };
    for name in streams.iter().map(String::as_str).chain([DEAD_LETTER_STREAM]) {
        if name == DEAD_LETTER_STREAM && crate::bus::find_stream(js, name).await?.is_none() {
            continue;
        }
        read(js, name, &[], Start::Time(since), |step| {
            if related(&step) {
                found.insert((step.stream.clone(), step.sequence), step);
            }
        })
        .await?;
    }
    let mut steps: Vec<Step> = found.into_values().collect();
    steps.sort_by(|a, b| a.stored.cmp(&b.stored).then(a.sequence.cmp(&b.sequence)));
    link_causes(&mut steps);
    set_gaps(&mut steps);
    Ok(Journey {
        id: id.to_owned(),
        keyed_streams: if keyed { streams } else { Vec::new() },
        scanned_since: rfc3339(since),
        correlation_ids: steps
            .iter()
            .filter_map(|s| s.correlation_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        steps,
        not_visible: NOT_VISIBLE.to_vec(),
    })
}

/// Whether `id` can be a subject token (what a key must be).
fn is_token(id: &str) -> bool {
    !id.is_empty() && !id.contains(['.', '*', '>', ' ', '\t', '\r', '\n'])
}

/// Reads `stream` headers-only from `start`, restricted to `filters`, handing each message
/// to `each` as a step.
async fn read(
    js: &jetstream::Context,
    stream: &str,
    filters: &[String],
    start: Start,
    mut each: impl FnMut(Step),
) -> anyhow::Result<()> {
    let mut reader = StreamReader::open(js, stream, filters, start, true).await?;
    while let Some(message) = reader.next_history().await? {
        let Ok(info) = message.info() else { continue };
        each(step(stream, info.stream_sequence, info.published, &message));
    }
    Ok(())
}

fn step(stream: &str, sequence: u64, stored: OffsetDateTime, message: &jetstream::Message) -> Step {
    let headers = message.headers.as_ref();
    let text = |name: &str| header(headers, name);
    let dead_letter = (stream == DEAD_LETTER_STREAM).then(|| DeadLetter {
        component: message
            .subject
            .strip_prefix("dlq.")
            .unwrap_or(&message.subject)
            .to_owned(),
        kind: text(DLQ_KIND).unwrap_or_default(),
        reason: text(DLQ_REASON).unwrap_or_default(),
    });
    let id = text(CE_ID);
    Step {
        time: rfc3339(stored),
        gap_ms: None,
        stream: stream.to_owned(),
        sequence,
        subject: match &dead_letter {
            Some(_) => text(DLQ_SUBJECT).unwrap_or_default(),
            None => message.subject.to_string(),
        },
        ce_type: text(CE_TYPE),
        source: text(CE_SOURCE),
        correlation_id: text(CORRELATION_ID),
        trace_id: text(TRACEPARENT).and_then(|t| t.split('-').nth(1).map(str::to_owned)),
        cause: match &dead_letter {
            Some(_) => Cause::DeadLetterOf,
            None => Cause::Request,
        },
        id,
        dead_letter,
        stored: Some(stored),
    }
}

/// Marks each event whose id derives from an earlier event's as caused by it.
fn link_causes(steps: &mut [Step]) {
    for later in 0..steps.len() {
        if steps[later].dead_letter.is_some() {
            continue;
        }
        let (Some(source), Some(id)) = (steps[later].source.clone(), steps[later].id.clone()) else {
            continue;
        };
        let cause = steps[..later].iter().find(|earlier| {
            earlier.dead_letter.is_none()
                && earlier.id.as_ref().is_some_and(|cause_id| {
                    (0..EMITS_LOOKED_FOR).any(|index| derived_event_id(&source, cause_id, index) == id)
                })
        });
        if let Some(cause) = cause {
            steps[later].cause = Cause::Event {
                cause_id: cause.id.clone().unwrap_or_default(),
                cause_type: cause.ce_type.clone(),
            };
        }
    }
}

fn set_gaps(steps: &mut [Step]) {
    let mut previous: Option<OffsetDateTime> = None;
    for step in steps {
        if let (Some(before), Some(now)) = (previous, step.stored) {
            step.gap_ms = Some(u64::try_from((now - before).whole_milliseconds()).unwrap_or(0));
        }
        previous = step.stored.or(previous);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The console finds journeys on its own tasks. Checked when this compiles.
    #[allow(dead_code)]
    fn finding_can_be_spawned(bus: Bus) {
        fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}
        spawnable(async move { find(&bus, "an-order", OffsetDateTime::now_utc()).await });
    }

    #[test]
    fn an_id_is_looked_up_by_key_only_when_it_can_be_a_subject_token() {
        assert!(is_token("0f8e2c1a-9b7d-5e4f-8a3b-2c1d0e9f8a7b"));
        assert!(!is_token("a.b"));
        assert!(!is_token("*"));
        assert!(!is_token(""));
    }
}
