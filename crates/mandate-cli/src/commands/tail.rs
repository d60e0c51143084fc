//! `mandate tail [FILTER]`: events as they happen, one line each.
//!
//! Live only (the default), it is a core NATS subscription to FILTER. With `--all`,
//! `--since` or `--from-seq` it first reads the history of every stream whose subjects
//! overlap FILTER, through ephemeral ordered consumers (found with the JetStream API; nothing
//! durable is created), merged across streams by the time the server stored each event; then
//! it keeps following those consumers unless `--no-follow`.
//!
//! Output: one JSON object per line (`--json`, or whenever stdout is not a terminal) with
//! `subject`, `type`, `id`, `source`, `time`, `correlation_id`, `stream`, `sequence` (both
//! null for a live core subscription) and `body` (the MessagePack body as JSON; when it does
//! not decode, `body` is null and `body_error` and `payload_base64` say why and what). On a
//! terminal, a readable line per event.

use anyhow::Context as _;
use async_nats::HeaderMap;
use async_nats::jetstream::stream;
use clap::Args;
use futures::StreamExt;
use mandate::Bus;
use mandate::envelope::{CE_ID, CE_SOURCE, CE_TIME, CE_TYPE, CORRELATION_ID};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::Global;
use crate::bus::{self, Start, StreamReader, header};
use crate::since::{parse_since, rfc3339};
use crate::subjects::{is_subset, overlap, parse_filter};
use crate::{msgpack, output};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  mandate tail\n  mandate tail 'evt.orders.>' --since 10m\n  mandate tail --all --no-follow --json > events.jsonl"
)]
pub struct TailArgs {
    /// The subjects to show (`*` one token, `>` the rest).
    #[arg(default_value = "evt.>", value_parser = parse_filter)]
    pub filter: String,
    /// Start with the whole history of the matching streams.
    #[arg(long, group = "history")]
    pub all: bool,
    /// Start with history since a time: a duration back from now (10m, 2h) or RFC 3339.
    #[arg(long, group = "history", value_parser = parse_since, value_name = "TIME")]
    pub since: Option<OffsetDateTime>,
    /// Start with history from this stream sequence (of every matching stream).
    #[arg(long, group = "history", value_name = "N")]
    pub from_seq: Option<u64>,
    /// Stop once the history is shown instead of following new events.
    #[arg(long, requires = "history")]
    pub no_follow: bool,
}

impl TailArgs {
    fn start(&self) -> Option<Start> {
        if self.all {
            Some(Start::All)
        } else if let Some(at) = self.since {
            Some(Start::Time(at))
        } else {
            self.from_seq.map(Start::Sequence)
        }
    }
}

pub async fn run(bus: &Bus, args: &TailArgs, global: Global) -> anyhow::Result<()> {
    let printer = Printer {
        json: global.json || !output::stdout_is_terminal(),
    };
    let Some(start) = args.start() else {
        return follow_live(bus, &args.filter, &printer).await;
    };
    let streams = bus::all_streams(bus.jetstream()).await?;
    let mut readers = Vec::new();
    for info in &streams {
        if let Some(filters) = consumer_filters(&info.config, &args.filter) {
            readers.push(StreamReader::open(bus.jetstream(), &info.config.name, &filters, start, false).await?);
        }
    }
    if readers.is_empty() {
        eprintln!(
            "no stream captures {}: there is no history to show (`mandate status` lists the streams)",
            args.filter
        );
        if args.no_follow {
            return Ok(());
        }
        return follow_live(bus, &args.filter, &printer).await;
    }
    history(&mut readers, &printer).await?;
    if args.no_follow {
        return Ok(());
    }
    let followers = readers.into_iter().map(|reader| {
        futures::stream::unfold(reader, |mut reader| async move {
            let next = reader.next().await;
            Some((next, reader))
        })
        .boxed()
    });
    let mut merged = futures::stream::select_all(followers);
    while let Some(message) = merged.next().await {
        printer.stream_message(&message?)?;
    }
    Ok(())
}

/// Prints every stream's history, merged by stored time.
async fn history(readers: &mut [StreamReader], printer: &Printer) -> anyhow::Result<()> {
    let mut heads: Vec<Option<async_nats::jetstream::Message>> = Vec::new();
    for reader in readers.iter_mut() {
        heads.push(reader.next_history().await?);
    }
    loop {
        let earliest = heads
            .iter()
            .enumerate()
            .filter_map(|(i, head)| head.as_ref().map(|m| (i, stored_at(m))))
            .min_by_key(|(_, at)| *at)
            .map(|(i, _)| i);
        let Some(i) = earliest else { return Ok(()) };
        if let Some(message) = heads[i].take() {
            printer.stream_message(&message)?;
        }
        heads[i] = readers[i].next_history().await?;
    }
}

fn stored_at(message: &async_nats::jetstream::Message) -> Option<OffsetDateTime> {
    message.info().ok().map(|info| info.published)
}

async fn follow_live(bus: &Bus, filter: &str, printer: &Printer) -> anyhow::Result<()> {
    let mut subscription = bus
        .client()
        .subscribe(filter.to_owned())
        .await
        .with_context(|| format!("subscribing to {filter}"))?;
    while let Some(message) = subscription.next().await {
        printer.print(&message.subject, message.headers.as_ref(), &message.payload, None)?;
    }
    anyhow::bail!("the connection to NATS closed")
}

/// The consumer filter subjects that select `filter` within a stream: `Some(vec![])` means
/// the whole stream; `None` that the stream holds nothing `filter` matches. Stream subjects
/// entirely inside the filter are taken as they are; where the filter is narrower or only
/// partly overlaps, the filter itself is used.
pub fn consumer_filters(config: &stream::Config, filter: &str) -> Option<Vec<String>> {
    let subjects = &config.subjects;
    if subjects.is_empty() {
        // Mirrors and sourced streams repeat events of other streams: skip them.
        return None;
    }
    let overlapping: Vec<&String> = subjects.iter().filter(|s| overlap(s, filter)).collect();
    if overlapping.is_empty() {
        return None;
    }
    if overlapping.len() == subjects.len() && overlapping.iter().all(|s| is_subset(s, filter)) {
        return Some(Vec::new());
    }
    if overlapping.iter().all(|s| is_subset(s, filter)) {
        return Some(overlapping.into_iter().cloned().collect());
    }
    Some(vec![filter.to_owned()])
}

struct Printer {
    json: bool,
}

impl Printer {
    fn stream_message(&self, message: &async_nats::jetstream::Message) -> anyhow::Result<()> {
        let info = message.info().ok();
        let position = info
            .as_ref()
            .map(|info| (info.stream, info.stream_sequence, info.published));
        self.print(&message.subject, message.headers.as_ref(), &message.payload, position)
    }

    fn print(
        &self,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: &[u8],
        position: Option<(&str, u64, OffsetDateTime)>,
    ) -> anyhow::Result<()> {
        let record = record(subject, headers, payload, position);
        if self.json {
            output::json_line(&record)
        } else {
            output::line(&human_line(&record))
        }
    }
}

/// One event as the JSON object `tail` prints.
pub fn record(
    subject: &str,
    headers: Option<&HeaderMap>,
    payload: &[u8],
    position: Option<(&str, u64, OffsetDateTime)>,
) -> Map<String, Value> {
    let text = |name: &str| header(headers, name).map_or(Value::Null, Value::String);
    let mut record = Map::new();
    record.insert("subject".into(), Value::String(subject.to_owned()));
    record.insert("type".into(), text(CE_TYPE));
    record.insert("id".into(), text(CE_ID));
    record.insert("source".into(), text(CE_SOURCE));
    let time = match (header(headers, CE_TIME), position) {
        (Some(time), _) => Value::String(time),
        (None, Some((_, _, stored))) => Value::String(rfc3339(stored)),
        (None, None) => Value::Null,
    };
    record.insert("time".into(), time);
    record.insert("correlation_id".into(), text(CORRELATION_ID));
    record.insert(
        "stream".into(),
        position.map_or(Value::Null, |(stream, _, _)| Value::String(stream.to_owned())),
    );
    record.insert(
        "sequence".into(),
        position.map_or(Value::Null, |(_, sequence, _)| Value::from(sequence)),
    );
    msgpack::body_fields(payload, &mut record);
    record
}

/// `12:00:00.123  EVT_ORDERS#42  evt.orders.placed.v1  {"order_id":"o-1",...}`
fn human_line(record: &Map<String, Value>) -> String {
    let text = |name: &str| record.get(name).and_then(Value::as_str).unwrap_or("");
    let clock = clock(text("time"));
    let position = match (record.get("stream").and_then(Value::as_str), record.get("sequence")) {
        (Some(stream), Some(Value::Number(sequence))) => format!("{stream}#{sequence}"),
        _ => "live".to_owned(),
    };
    let body = match record.get("body_error").and_then(Value::as_str) {
        Some(error) => format!("<{error}>"),
        None => record.get("body").map(Value::to_string).unwrap_or_default(),
    };
    format!(
        "{clock:<12}  {position:<18}  {:<32}  {}",
        text("subject"),
        output::truncate(&body, 200)
    )
}

/// The time of day of an RFC 3339 time, to the millisecond: `12:00:00.123`.
fn clock(time: &str) -> String {
    let Some((_, rest)) = time.split_once('T') else {
        return time.to_owned();
    };
    let end = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    rest[..end].chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(subjects: &[&str]) -> stream::Config {
        stream::Config {
            name: "S".into(),
            subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn filters_per_stream() {
        assert_eq!(consumer_filters(&config(&["evt.orders.>"]), "evt.>"), Some(vec![]));
        assert_eq!(
            consumer_filters(&config(&["evt.orders.>"]), "evt.orders.placed.v1"),
            Some(vec!["evt.orders.placed.v1".to_owned()])
        );
        assert_eq!(
            consumer_filters(&config(&["evt.orders.>"]), "evt.*.placed.v1"),
            Some(vec!["evt.*.placed.v1".to_owned()])
        );
        assert_eq!(
            consumer_filters(&config(&["evt.orders.>", "other.>"]), "evt.>"),
            Some(vec!["evt.orders.>".to_owned()])
        );
        assert_eq!(consumer_filters(&config(&["dlq.>"]), "evt.>"), None);
        assert_eq!(consumer_filters(&config(&[]), "evt.>"), None);
    }

    #[test]
    fn clock_shows_the_time_of_day() {
        assert_eq!(clock("2025-01-31T12:00:00.123456Z"), "12:00:00.123");
        assert_eq!(clock("2025-01-31T12:00:00+01:00"), "12:00:00");
        assert_eq!(clock("garbage"), "garbage");
    }
}
