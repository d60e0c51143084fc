//! `mandate dlq list|show|retry|purge`: the dead letters in the `DLQ` stream.
//!
//! A dead letter (kit `deadletter.rs`) is the original payload, untouched, with the original
//! headers (minus JetStream's `Nats-*`) plus `Mandate-Dlq-*` headers: kind, reason, original
//! subject, stream and sequence, consumer, deliveries, time.
//!
//! `retry` republishes the original payload to the original subject with the original
//! headers (without `Mandate-Dlq-*`) and `Nats-Msg-Id` = the original `ce-id`, waits for
//! JetStream's ack, and only then deletes the dead letter. If JetStream drops the retry as a
//! duplicate (the original id is still inside the stream's duplicate window) nothing is
//! deleted and the command says when to try again.
//!
//! A dead letter whose original would not fit in the server's max payload beside its headers
//! carries no body (`Mandate-Dlq-Body: omitted`, with the body's size and SHA-256): `show`
//! says where the original is, and `retry` reads it back from its stream, checks the digest,
//! and republishes that.
//!
//! `set-aside` and `retry-set-aside` are about the other things that were not delivered: a
//! component's outbox entries that the server refuses for good, which its relay set aside so
//! as not to hold up the rest (asked over the component's admin service).

use std::io::BufRead;

use anyhow::{Context as _, anyhow, bail};
use async_nats::HeaderMap;
use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream};
use async_nats::jetstream::{self, message::StreamMessage};
use clap::{Args, Subcommand};
use mandate::deadletter::{
    BODY_OMITTED, DLQ_BODY, DLQ_BODY_SHA256, DLQ_BODY_SIZE, DLQ_CONSUMER, DLQ_DELIVERIES, DLQ_KIND, DLQ_REASON,
    DLQ_SEQUENCE, DLQ_STREAM, DLQ_SUBJECT, DLQ_TIME,
};
use mandate::envelope::{CE_ID, CE_TYPE, NATS_MSG_ID};
use mandate::{Bus, DEAD_LETTER_STREAM};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::Global;
use super::publish::publish;
use crate::bus::{Start, StreamReader, find_stream, header, headers_to_map};
use crate::dlq_errors::{DroppedAsDuplicate, NoDlqStream, NoSuchLetter};
use crate::failure::usage;
use crate::since::rfc3339;
use crate::{msgpack, output};

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters: time, component, kind, original subject and reason.
    List(ListArgs),
    /// Show one dead letter: every header and the decoded body.
    Show(SeqArgs),
    /// Republish a dead letter's original message to its original subject, then delete it.
    Retry(SeqArgs),
    /// Delete every dead letter (or one component's), after a confirmation.
    Purge(PurgeArgs),
    /// List the outbox entries a component set aside because the server refuses them for
    /// good (too large for its max payload, refused by their stream, no stream).
    SetAside(ComponentArgs),
    /// Put a component's set-aside outbox entries back at the tail of its outbox (once the
    /// cause is fixed); any the server still refuses is set aside again.
    RetrySetAside(ComponentArgs),
}

#[derive(Debug, Args)]
pub struct ComponentArgs {
    /// The component (its service name, as `mandate status` lists it).
    #[arg(value_parser = component_name)]
    pub component: String,
}

fn component_name(text: &str) -> Result<String, String> {
    mandate::validate_component_name(text).map(|()| text.to_owned())
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only the dead letters of this component.
    #[arg(long)]
    pub component: Option<String>,
}

#[derive(Debug, Args)]
pub struct SeqArgs {
    /// The dead letter's sequence in DLQ (the first column of `mandate dlq list`).
    pub seq: u64,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Only the dead letters of this component.
    #[arg(long)]
    pub component: Option<String>,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short)]
    pub yes: bool,
}

/// A dead letter as `list` shows it (and the console, `console/deadletters.rs`).
#[derive(Debug, Serialize)]
pub struct Letter {
    pub sequence: u64,
    pub time: String,
    pub component: String,
    pub kind: String,
    pub reason: String,
    /// The subject the original message was published to.
    pub subject: String,
    pub stream: String,
    pub original_sequence: Option<u64>,
    pub consumer: String,
    pub deliveries: Option<u64>,
    #[serde(rename = "type")]
    pub ce_type: Option<String>,
    pub id: Option<String>,
    /// The original body was left out: it would not fit beside the headers.
    pub body_omitted: bool,
}

impl Letter {
    fn new(sequence: u64, subject: &str, stored: time::OffsetDateTime, headers: Option<&HeaderMap>) -> Letter {
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

fn body_omitted(headers: Option<&HeaderMap>) -> bool {
    header(headers, DLQ_BODY).as_deref() == Some(BODY_OMITTED)
}

pub async fn run(bus: &Bus, command: &DlqCommand, global: Global) -> anyhow::Result<()> {
    match command {
        DlqCommand::List(args) => list(bus, args, global).await,
        DlqCommand::Show(args) => show(bus, args.seq, global).await,
        DlqCommand::Retry(args) => retry(bus, args.seq, global).await,
        DlqCommand::Purge(args) => purge(bus, args, global).await,
        DlqCommand::SetAside(args) => list_set_aside(bus, &args.component, global).await,
        DlqCommand::RetrySetAside(args) => retry_set_aside(bus, &args.component, global).await,
    }
}

async fn dlq_stream(bus: &Bus) -> anyhow::Result<Stream> {
    find_stream(bus.jetstream(), DEAD_LETTER_STREAM)
        .await?
        .ok_or_else(|| NoDlqStream.into())
}

fn component_filter(component: Option<&String>) -> Vec<String> {
    component.map(|c| mandate::dead_letter_subject(c)).into_iter().collect()
}

/// Every dead letter in DLQ (of `component` only, when given), oldest first; none when there
/// is no DLQ stream yet.
pub async fn letters(bus: &Bus, component: Option<&String>) -> anyhow::Result<Vec<Letter>> {
    let mut letters = Vec::new();
    if find_stream(bus.jetstream(), DEAD_LETTER_STREAM).await?.is_some() {
        let filters = component_filter(component);
        let mut reader = StreamReader::open(bus.jetstream(), DEAD_LETTER_STREAM, &filters, Start::All, true).await?;
        while let Some(message) = reader.next_history().await? {
            let info = message
                .info()
                .map_err(|e| anyhow!("a DLQ message has no stream metadata: {e}"))?;
            letters.push(Letter::new(
                info.stream_sequence,
                &message.subject,
                info.published,
                message.headers.as_ref(),
            ));
        }
    }
    Ok(letters)
}

async fn list(bus: &Bus, args: &ListArgs, global: Global) -> anyhow::Result<()> {
    let letters = letters(bus, args.component.as_ref()).await?;
    if global.json {
        return output::json(&letters);
    }
    if letters.is_empty() {
        return output::line("DLQ is empty: nothing was dead-lettered (or it was all retried or purged).");
    }
    let rows: Vec<Vec<String>> = letters
        .iter()
        .map(|l| {
            vec![
                l.sequence.to_string(),
                l.time.clone(),
                l.component.clone(),
                l.kind.clone(),
                l.subject.clone(),
                output::truncate(&l.reason, 100),
            ]
        })
        .collect();
    output::line(&output::table(
        &["SEQ", "TIME", "COMPONENT", "KIND", "SUBJECT", "REASON"],
        &rows,
    ))?;
    output::line(&format!(
        "\n{} dead letter(s). `mandate dlq show SEQ` shows one; `mandate dlq retry SEQ` republishes it.",
        letters.len()
    ))
}

async fn get_letter(stream: &Stream, seq: u64) -> anyhow::Result<StreamMessage> {
    match stream.get_raw_message(seq).await {
        Ok(message) => Ok(message),
        Err(err) => {
            let missing = match err.kind() {
                LastRawMessageErrorKind::NoMessageFound => true,
                LastRawMessageErrorKind::JetStream(e) => e.error_code() == jetstream::ErrorCode::NO_MESSAGE_FOUND,
                _ => false,
            };
            if missing {
                return Err(NoSuchLetter(seq).into());
            }
            Err(anyhow!(err).context(format!("reading DLQ #{seq}")))
        }
    }
}

/// One dead letter as `dlq show --json` prints it: sequence, subject, time, every header and
/// the decoded body (or why it is not there).
pub async fn shown(bus: &Bus, seq: u64) -> anyhow::Result<Map<String, Value>> {
    let stream = dlq_stream(bus).await?;
    let message = get_letter(&stream, seq).await?;
    Ok(shown_of(&message))
}

fn shown_of(message: &StreamMessage) -> Map<String, Value> {
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

async fn show(bus: &Bus, seq: u64, global: Global) -> anyhow::Result<()> {
    let stream = dlq_stream(bus).await?;
    let message = get_letter(&stream, seq).await?;
    let headers = Some(&message.headers);
    if global.json {
        return output::json(&shown_of(&message));
    }
    let letter = Letter::new(message.sequence, &message.subject, message.time, headers);
    let mut text = format!(
        "DLQ #{} from {} at {}\nkind:     {}\nreason:   {}\noriginal: {} ({} #{}), consumer {}, {} deliveries\n\nheaders:\n",
        letter.sequence,
        letter.component,
        letter.time,
        letter.kind,
        letter.reason,
        letter.subject,
        letter.stream,
        letter
            .original_sequence
            .map_or_else(|| "?".to_owned(), |s| s.to_string()),
        letter.consumer,
        letter.deliveries.map_or_else(|| "?".to_owned(), |d| d.to_string()),
    );
    for (name, values) in headers_to_map(headers) {
        for value in values {
            text.push_str(&format!("  {name}: {value}\n"));
        }
    }
    text.push_str("\nbody:\n");
    if letter.body_omitted {
        text.push_str(&format!(
            "  <left out: {} bytes (SHA-256 {}) would not fit in the server's max payload beside the headers>\n  the original is {} #{}; `mandate dlq retry {}` republishes it from there",
            header(headers, DLQ_BODY_SIZE).unwrap_or_else(|| "?".to_owned()),
            header(headers, DLQ_BODY_SHA256).unwrap_or_else(|| "?".to_owned()),
            letter.stream,
            letter
                .original_sequence
                .map_or_else(|| "?".to_owned(), |s| s.to_string()),
            letter.sequence,
        ));
        return output::line(&text);
    }
    let mut body = Map::new();
    msgpack::body_fields(&message.payload, &mut body);
    match body.get("body_error").and_then(Value::as_str) {
        Some(error) => text.push_str(&format!(
            "  <{error}>\n  base64: {}",
            msgpack::base64_encode(&message.payload)
        )),
        None => text.push_str(&serde_json::to_string_pretty(body.get("body").unwrap_or(&Value::Null))?),
    }
    output::line(&text)
}

#[derive(Debug, Serialize)]
pub struct Retried {
    dlq_sequence: u64,
    subject: String,
    stream: String,
    sequence: u64,
    id: Option<String>,
}

async fn retry(bus: &Bus, seq: u64, global: Global) -> anyhow::Result<()> {
    let retried = retry_one(bus, seq).await?;
    if global.json {
        return output::json(&retried);
    }
    output::line(&format!(
        "retried DLQ #{seq}: republished to {} as {} #{}, and removed it from DLQ",
        retried.subject, retried.stream, retried.sequence
    ))
}

/// Republishes DLQ #`seq` to its original subject, then deletes it from DLQ (nothing is
/// deleted when JetStream drops the republish as a duplicate: the error says until when).
pub async fn retry_one(bus: &Bus, seq: u64) -> anyhow::Result<Retried> {
    let dlq = dlq_stream(bus).await?;
    let letter = get_letter(&dlq, seq).await?;
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
    if ack.duplicate {
        return Err(DroppedAsDuplicate {
            stream: ack.stream,
            id,
            subject,
            until: duplicate_window_end(bus, &letter.headers).await,
        }
        .into());
    }
    let deleted = dlq.delete_message(seq).await;
    if let Err(err) = deleted {
        bail!(
            "republished DLQ #{seq} as {} #{}, but could not delete it from DLQ ({err}): delete it with `nats stream rmm DLQ {seq}`",
            ack.stream,
            ack.sequence
        );
    }
    Ok(Retried {
        dlq_sequence: seq,
        subject,
        stream: ack.stream,
        sequence: ack.sequence,
        id,
    })
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

/// `dlq set-aside COMPONENT`: the outbox entries the component's relay set aside.
async fn list_set_aside(bus: &Bus, component: &str, global: Global) -> anyhow::Result<()> {
    let status = crate::admin::status(bus, component)
        .await
        .with_context(|| format!("asking {component} for its status"))?;
    let set_aside = status.set_aside;
    if global.json {
        return output::json(&set_aside);
    }
    if set_aside.count == 0 {
        return output::line(&format!(
            "{component} has set nothing aside: every outbox entry was published or is waiting its turn."
        ));
    }
    let rows: Vec<Vec<String>> = set_aside
        .entries
        .iter()
        .map(|e| {
            vec![
                e.id.to_string(),
                e.set_aside_at.clone(),
                e.subject.clone(),
                e.ce_id.clone().unwrap_or_default(),
                output::bytes(e.size),
                output::truncate(&e.reason, 100),
            ]
        })
        .collect();
    output::line(&output::table(
        &["ID", "AT", "SUBJECT", "CE-ID", "SIZE", "REASON"],
        &rows,
    ))?;
    let shown = if set_aside.entries.len() < set_aside.count as usize {
        format!(" (the first {} shown)", set_aside.entries.len())
    } else {
        String::new()
    };
    output::line(&format!(
        "\n{} outbox entr{} set aside by {component}{shown}: the server refuses them for good. Fix the cause, then `mandate dlq retry-set-aside {component}`.",
        set_aside.count,
        if set_aside.count == 1 { "y" } else { "ies" },
    ))
}

/// `dlq retry-set-aside COMPONENT`.
async fn retry_set_aside(bus: &Bus, component: &str, global: Global) -> anyhow::Result<()> {
    let report = crate::admin::retry_set_aside(bus, component)
        .await
        .with_context(|| format!("asking {component} to retry its set-aside outbox entries"))?;
    if global.json {
        return output::json(&report);
    }
    output::line(&format!(
        "put {} set-aside entr{} back at the tail of {component}'s outbox: its relay publishes them now; any the server still refuses is set aside again (`mandate status`)",
        report.retried,
        if report.retried == 1 { "y" } else { "ies" },
    ))
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

#[derive(Debug, Serialize)]
pub struct Purged {
    purged: u64,
    component: Option<String>,
}

async fn purge(bus: &Bus, args: &PurgeArgs, global: Global) -> anyhow::Result<()> {
    let mut stream = dlq_stream(bus).await?;
    let whose = match &args.component {
        Some(component) => format!("of {component} "),
        None => String::new(),
    };
    if !args.yes {
        if !output::stdin_is_terminal() {
            return Err(usage(
                "refusing to purge DLQ without confirmation: stdin is not a terminal; pass --yes to purge anyway",
            ));
        }
        let total = stream.info().await.map(|i| i.state.messages).unwrap_or(0);
        eprint!(
            "Delete the dead letters {whose}from DLQ ({total} message(s) in the stream)? This cannot be undone. [y/N] "
        );
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .context("reading the answer")?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            eprintln!("Nothing purged.");
            return Err(crate::failure::Reported.into());
        }
    }
    let purged = purge_letters(bus, args.component.as_deref()).await?;
    if global.json {
        return output::json(&purged);
    }
    output::line(&format!("purged {} dead letter(s) {whose}from DLQ", purged.purged))
}

/// Deletes every dead letter (or `component`'s) from DLQ, without asking: the caller asked.
pub async fn purge_letters(bus: &Bus, component: Option<&str>) -> anyhow::Result<Purged> {
    let stream = dlq_stream(bus).await?;
    let response = match component {
        Some(component) => stream.purge().filter(mandate::dead_letter_subject(component)).await,
        None => stream.purge().await,
    }
    .context("purging DLQ")?;
    Ok(Purged {
        purged: response.purged,
        component: component.map(str::to_owned),
    })
}
