//! `mandate publish SUBJECT JSON`: one event, as an outside publisher would send it.
//!
//! The body becomes a MessagePack map with named fields; the headers are the full envelope
//! (docs/design.md §4): `ce-*`, `traceparent`, `correlation-id`, and `Nats-Msg-Id` = `ce-id`. The
//! publish goes to JetStream and waits for its ack, so "published" means stored.

use anyhow::Context as _;
use clap::Args;
use mandate::Bus;
use mandate::envelope::Meta;
use serde::Serialize;
use serde_json::Value;

use super::Global;
use crate::failure::usage;
use crate::subjects::{EventSubject, parse_event_subject};
use crate::{bus, msgpack, output, schema};

#[derive(Debug, Args)]
#[command(after_help = "Example: mandate publish evt.orders.placed.v1 '{\"order_id\": \"o-1\", \"total_minor\": 500}'")]
pub struct PublishArgs {
    /// The event subject, evt.<owner>.<name>.v<major>; ce-type is derived from it.
    #[arg(value_parser = parse_event_subject)]
    pub subject: EventSubject,
    /// The body as a JSON object (`-` reads it from stdin).
    #[arg(value_name = "JSON")]
    pub body: String,
    /// The `ce-source` header [default: the subject's owner]. Kit components dead-letter an
    /// event whose source is not its owner (`invalid-header`): only the owner publishes its
    /// events, so this tool publishing one speaks for the owner.
    #[arg(long, value_parser = bus::header_text)]
    pub source: Option<String>,
    /// Use this `ce-id` (and `Nats-Msg-Id`) instead of a fresh UUIDv7, e.g. to republish
    /// idempotently: JetStream drops a repeat within its duplicate window.
    #[arg(long, value_parser = bus::header_text)]
    pub id: Option<String>,
    /// The `correlation-id` header (default: the event's own id).
    #[arg(long, value_parser = bus::header_text)]
    pub correlation_id: Option<String>,
}

#[derive(Debug, Serialize)]
struct Published {
    subject: String,
    stream: String,
    sequence: u64,
    duplicate: bool,
    id: String,
    #[serde(rename = "type")]
    kind: String,
}

pub async fn run(bus: &Bus, args: &PublishArgs, global: Global) -> anyhow::Result<()> {
    let body = read_json_arg(&args.body)?;
    if !body.is_object() {
        return Err(usage(format!(
            "the body of an event must be a JSON object (its fields), not {}",
            kind_of(&body)
        )));
    }
    schema::validate_event_body(&args.subject, &body)?;
    let payload = msgpack::from_json(&body)?;

    let source = args.source.as_deref().unwrap_or(&args.subject.owner);
    let mut meta = Meta::originate(source, args.subject.ce_type());
    if let Some(id) = &args.id {
        meta.id.clone_from(id);
        meta.correlation_id.clone_from(id);
    }
    if let Some(correlation_id) = &args.correlation_id {
        meta.correlation_id.clone_from(correlation_id);
    }
    let headers = meta.to_headers();
    let subject = keyed_subject(&args.subject, &body)?;
    let ack = bus::publish(bus, &subject, headers, payload).await?;
    let published = Published {
        subject,
        stream: ack.stream,
        sequence: ack.sequence,
        duplicate: ack.duplicate,
        id: meta.id,
        kind: meta.kind,
    };
    if global.json {
        return output::json(&published);
    }
    if published.duplicate {
        output::line(&format!(
            "not stored again: {} already holds ce-id {} (within its duplicate window), at #{}",
            published.stream, published.id, published.sequence
        ))
    } else {
        output::line(&format!(
            "published {} to {} #{} (ce-id {})",
            published.subject, published.stream, published.sequence, published.id
        ))
    }
}

/// The subject to publish on: the event's, plus `.<key>` when its schema names a key field
/// (`x-mandate-key`), as the kit publishes it, so that partitions receive it by key.
fn keyed_subject(event: &EventSubject, body: &serde_json::Value) -> anyhow::Result<String> {
    let Some(field) = schema::event_key_field(event)? else {
        return Ok(event.subject());
    };
    let key = match body.get(&field) {
        Some(serde_json::Value::String(key)) => key.clone(),
        Some(serde_json::Value::Number(key)) if key.is_i64() || key.is_u64() => key.to_string(),
        _ => {
            return Err(usage(format!(
                "{} is keyed by its field {field:?}: give it as a string",
                event.ce_type()
            )));
        }
    };
    mandate::partition::check_token(&key).map_err(|reason| {
        usage(format!(
            "the key {key:?} in {field:?} cannot be a subject token: {reason}"
        ))
    })?;
    Ok(format!("{}.{key}", event.subject()))
}

/// The JSON argument, or stdin for `-`. Invalid JSON is a usage error.
pub fn read_json_arg(text: &str) -> anyhow::Result<Value> {
    let text = if text == "-" {
        let mut input = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut input).context("reading stdin")?;
        input
    } else {
        text.to_owned()
    };
    serde_json::from_str(&text).map_err(|e| usage(format!("the JSON argument is not valid JSON: {e}")))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
