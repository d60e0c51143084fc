//! `mandate import FILE`: republish the messages of an export file (format: see
//! `export.rs`) to their original subjects with their original headers.
//!
//! Nothing is imported twice. JetStream drops a message whose `Nats-Msg-Id` it has seen, but
//! only within the stream's duplicate window (2 minutes for the kit's streams); so first the
//! ids already in each target stream are read (`Nats-Msg-Id` and `ce-id`, through a
//! headers-only ordered consumer), and a record whose id is among them — or repeats an
//! earlier record of the file — is skipped. Records without any id are always published.
//!
//! Headers go back as they were, except `Nats-Expected-*`: those were preconditions of the
//! original publish (e.g. "last sequence was N") and would fail or mislead now. With
//! `--stream S`, every publish carries `Nats-Expected-Stream: S` instead, so nothing lands
//! elsewhere. Publishes are pipelined (a window of acks in flight), in file order.

use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use async_nats::HeaderMap;
use async_nats::jetstream::context::GetStreamByNameErrorKind;
use clap::Args;
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use futures::{FutureExt, StreamExt};
use mandate::Bus;
use mandate::envelope::{CE_ID, NATS_MSG_ID};
use serde::Serialize;

use super::Global;
use super::export::Record;
use crate::bus::{self, Start, StreamReader, header, headers_from_map};
use crate::{msgpack, output};

/// Publishes awaiting their ack at once.
const WINDOW: usize = 256;

#[derive(Debug, Args)]
#[command(
    after_help = "Example: mandate import orders.jsonl   (written by `mandate export EVT_ORDERS -o orders.jsonl`)"
)]
pub struct ImportArgs {
    /// The export file (`-` reads stdin).
    pub file: PathBuf,
    /// The stream every message must land in (checked per publish) and whose ids are read to
    /// skip what it holds. Default: for each subject, the stream that captures it.
    #[arg(long)]
    pub stream: Option<String>,
    /// Count what would be imported and skipped, and publish nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Default, Serialize)]
struct Counts {
    imported: u64,
    skipped: u64,
}

#[derive(Debug, Serialize)]
struct Imported {
    imported: u64,
    skipped: u64,
    dry_run: bool,
    streams: BTreeMap<String, Counts>,
}

pub async fn run(bus: &Bus, args: &ImportArgs, global: Global) -> anyhow::Result<()> {
    let messages = read_messages(&args.file)?;
    let js = bus.jetstream();

    // Where each subject goes.
    let mut target: BTreeMap<String, String> = BTreeMap::new();
    if let Some(stream) = &args.stream {
        bus::get_stream(js, stream).await?;
    }
    for message in &messages {
        if target.contains_key(&message.subject) {
            continue;
        }
        let stream = match &args.stream {
            Some(stream) => stream.clone(),
            None => capturing_stream(bus, &message.subject).await?,
        };
        target.insert(message.subject.clone(), stream);
    }

    // The ids each target stream already holds.
    let mut present: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for stream in target.values() {
        if !present.contains_key(stream) {
            present.insert(stream.clone(), ids_in(bus, stream).await?);
        }
    }

    let mut streams: BTreeMap<String, Counts> = BTreeMap::new();
    let bar = output::progress_bar(messages.len() as u64, "import");
    let mut in_flight: FuturesOrdered<BoxFuture<'static, AckResult>> = FuturesOrdered::new();
    for message in messages {
        bar.inc(1);
        let Message {
            line,
            subject,
            mut headers,
            payload,
        } = message;
        let stream = target.get(&subject).cloned().unwrap_or_default();
        let id = header(Some(&headers), NATS_MSG_ID).or_else(|| header(Some(&headers), CE_ID));
        let ids = present.entry(stream.clone()).or_default();
        if let Some(id) = &id {
            if !ids.insert(id.clone()) {
                streams.entry(stream).or_default().skipped += 1;
                continue;
            }
        }
        if args.dry_run {
            streams.entry(stream).or_default().imported += 1;
            continue;
        }
        if args.stream.is_some() {
            headers.insert("Nats-Expected-Stream", stream.as_str());
        }
        let ack = js
            .publish_with_headers(subject.clone(), headers, payload.into())
            .await
            .map_err(|e| anyhow!(e).context(format!("{}:{line}: publishing to {subject}", args.file.display())))?;
        in_flight.push_back(async move { (line, subject, ack.await) }.boxed());
        if in_flight.len() >= WINDOW {
            if let Some(result) = in_flight.next().await {
                count(&mut streams, result, &args.file)?;
            }
        }
    }
    while let Some(result) = in_flight.next().await {
        count(&mut streams, result, &args.file)?;
    }
    bar.finish_and_clear();

    let imported = Imported {
        imported: streams.values().map(|c| c.imported).sum(),
        skipped: streams.values().map(|c| c.skipped).sum(),
        dry_run: args.dry_run,
        streams,
    };
    if global.json {
        return output::json(&imported);
    }
    let into: Vec<String> = imported.streams.keys().cloned().collect();
    output::line(&format!(
        "{} {}, skipped {} already present{}",
        if args.dry_run { "would import" } else { "imported" },
        imported.imported,
        imported.skipped,
        if into.is_empty() {
            String::new()
        } else {
            format!(" (into {})", into.join(", "))
        }
    ))
}

/// A publish ack, with the line of the file and the subject it belongs to.
type AckResult = (
    u64,
    String,
    Result<async_nats::jetstream::publish::PublishAck, async_nats::jetstream::context::PublishError>,
);

fn count(streams: &mut BTreeMap<String, Counts>, (line, subject, ack): AckResult, file: &Path) -> anyhow::Result<()> {
    let ack = ack.map_err(|e| {
        anyhow!(e).context(format!(
            "{}:{line}: JetStream did not store the message for {subject} (messages before it are imported; importing again skips them)",
            file.display()
        ))
    })?;
    let counts = streams.entry(ack.stream).or_default();
    if ack.duplicate {
        counts.skipped += 1;
    } else {
        counts.imported += 1;
    }
    Ok(())
}

/// One message of the file, checked and ready to publish.
struct Message {
    /// Its line in the file, from 1.
    line: u64,
    subject: String,
    /// Its headers, without `Nats-Expected-*`.
    headers: HeaderMap,
    payload: Vec<u8>,
}

/// Every line of the file as a message; blank lines are ignored. The whole file is checked
/// before anything is published, so a bad line imports nothing.
fn read_messages(file: &Path) -> anyhow::Result<Vec<Message>> {
    let reader: Box<dyn BufRead> = if file == Path::new("-") {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
        ))
    };
    let mut messages = Vec::new();
    for (index, text) in reader.lines().enumerate() {
        let line = index as u64 + 1;
        let text = text.with_context(|| format!("reading {}", file.display()))?;
        if text.trim().is_empty() {
            continue;
        }
        let at = || format!("{}:{line}", file.display());
        let record: Record = serde_json::from_str(&text).map_err(|e| {
            anyhow!(
                "{}: not an export record ({e}); expected {{\"subject\",\"sequence\",\"time\",\"headers\",\"payload_base64\"}} as written by `mandate export`",
                at()
            )
        })?;
        crate::subjects::parse_filter(&record.subject)
            .ok()
            .filter(|s| !s.contains(['*', '>']))
            .ok_or_else(|| anyhow!("{}: {:?} is not a subject one can publish to", at(), record.subject))?;
        let headers = headers_from_map(
            record
                .headers
                .iter()
                .filter(|(name, _)| !name.to_ascii_lowercase().starts_with("nats-expected-")),
        )
        .with_context(at)?;
        let payload = msgpack::base64_decode(&record.payload_base64)
            .map_err(|e| anyhow!("{}: payload_base64 is not base64: {e}", at()))?;
        messages.push(Message {
            line,
            subject: record.subject,
            headers,
            payload,
        });
    }
    Ok(messages)
}

async fn capturing_stream(bus: &Bus, subject: &str) -> anyhow::Result<String> {
    match bus.jetstream().stream_by_subject(subject).await {
        Ok(name) => Ok(name),
        Err(err) if matches!(err.kind(), GetStreamByNameErrorKind::NotFound) => Err(anyhow!(
            "no stream on this server captures {subject}: start its owner first (it creates EVT_<OWNER>), or name an existing stream with --stream"
        )),
        Err(err) => Err(anyhow!(err).context(format!("finding the stream that captures {subject}"))),
    }
}

/// The `Nats-Msg-Id` and `ce-id` values of every message in `stream`.
async fn ids_in(bus: &Bus, stream: &str) -> anyhow::Result<HashSet<String>> {
    let mut reader = StreamReader::open(bus.jetstream(), stream, &[], Start::All, true).await?;
    let bar = output::progress_bar(reader.remaining(), &format!("reading ids of {stream}"));
    let mut ids = HashSet::new();
    while let Some(message) = reader.next_history().await? {
        bar.inc(1);
        let headers = message.headers.as_ref();
        ids.extend(header(headers, NATS_MSG_ID));
        ids.extend(header(headers, CE_ID));
    }
    bar.finish_and_clear();
    Ok(ids)
}
