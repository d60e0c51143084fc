//! The AsyncAPI 3.0.0 document of the whole system, from the contract (`schemas/json/`) and
//! the component manifests.
//!
//! - **channels**: one per subject: `evt.<owner>.<event>.v<N>` per event version, a request
//!   channel `svc.<owner>.<op>.v<N>` and its reply channel (address `null`: the caller's
//!   inbox) per operation version, `dlq.<component>` per kit component. A version that is
//!   committed but no longer used by any manifest keeps its channel (replays still read it);
//!   one a manifest names without a committed schema gets a channel without a payload schema.
//! - **operations**: per component, what it sends and receives: `<c>.publish.<type>`,
//!   `<c>.consume.<type>`, `<c>.serve.<op>` (receive, with `reply`), `<c>.call.<op>` (send,
//!   with `reply`), `<c>.listen.<type>` (a core subscription, for each event channel its
//!   `listens` pattern matches) and `<c>.dead-letter`.
//! - **components**: the messages (headers from [`super::headers`]), the payload schemas and
//!   their shared definitions ([`super::payloads`]), the bus-user security scheme.
//!
//! Everything is sorted, so the same files always give the same bytes.

use std::collections::{BTreeMap, BTreeSet};

use mandate::{DEAD_LETTER_STREAM, dead_letter_subject, stream_name};
use serde_yaml_ng::Value;

use super::headers;
use super::payloads::{Contract, Hoisted, SchemaFile};
use super::yaml::{Map, escape, reference};
use crate::repo::manifest::{ComponentManifest, split_type};

/// The queue group of every endpoint on the NATS services API (async-nats' default).
const SERVICE_QUEUE_GROUP: &str = "q";
/// The message key of a service's error reply (shared by every operation).
const SERVICE_ERROR: &str = "service-error";
/// The message key of a dead letter.
const DEAD_LETTER: &str = "dead-letter";

/// The whole document.
pub fn build(contract: &Contract, hoisted: &Hoisted, manifests: &[ComponentManifest]) -> anyhow::Result<Value> {
    let mut events: BTreeSet<String> = contract.events.keys().cloned().collect();
    let mut operations: BTreeSet<String> = contract.operations.keys().cloned().collect();
    for manifest in manifests {
        events.extend(manifest.publishes.iter().cloned());
        events.extend(manifest.subscribes.values().flatten().cloned());
        operations.extend(manifest.serves.iter().cloned());
        operations.extend(manifest.calls.iter().cloned());
    }
    let kit_components: Vec<&ComponentManifest> = manifests.iter().filter(|m| m.is_kit_component()).collect();

    Ok(Map::new()
        .with("asyncapi", "3.0.0")
        .with("info", info(manifests))
        .with("defaultContentType", mandate::envelope::CONTENT_TYPE)
        .with("servers", servers())
        .with("channels", channels(&events, &operations, &kit_components)?)
        .with("operations", operations_of(manifests, &events))
        .with("components", components(contract, hoisted, &events, &operations)?)
        .into())
}

fn owner(kind: &str) -> anyhow::Result<&str> {
    split_type(kind).map(|(owner, _)| owner).map_err(anyhow::Error::msg)
}

fn info(manifests: &[ComponentManifest]) -> Map {
    let tags: Vec<Value> = manifests
        .iter()
        .map(|m| {
            Map::new()
                .with("name", m.name.as_str())
                .maybe("description", Some(m.description.as_str()).filter(|d| !d.is_empty()))
                .into()
        })
        .collect();
    Map::new()
        .with("title", "mandate: the storefront's bus contract")
        // Messages are versioned one by one (the `v<N>` of each subject); this is the
        // version of the document's own shape.
        .with("version", "1.0.0")
        .with(
            "description",
            "Every component of the system and how they talk: only over NATS JetStream, with \
             versioned MessagePack events and request/reply services. Anyone, in any language, \
             can build a component or a client from this document, the JSON Schemas next to it \
             (`schemas/json/`), the golden samples (`schemas/samples/`) and `docs/contract.md`.\n\
             \n\
             - Events travel on `evt.<owner>.<event>.v<major>`, published by their owner only and \
             kept in the owner's stream `EVT_<OWNER>`. Each carries the CloudEvents `ce-*` headers \
             (binary mode), `traceparent`, `correlation-id` and `Nats-Msg-Id` (= `ce-id`). An \
             event about one entity names its key field in its schema (`x-mandate-key`) and is \
             published on `evt.<owner>.<event>.v<major>.<key>`; the stream stores it as \
             `….v<major>.<slot>.<key>` (slot = FNV-1a 32 of the key mod 12, the server's \
             `partition()`). Read both `evt.<owner>.<event>.v<major>` and `….v<major>.>`.\n\
             - Services answer on `svc.<owner>.<operation>.v<major>` (NATS services API, \
             discoverable with `$SRV.PING|INFO|STATS`); an error reply has an empty body and the \
             `Nats-Service-Error`, `Nats-Service-Error-Code` and `Mandate-Retryable` headers. \
             Every kit component also serves `svc.<component>.admin.status` and `.rebuild` (JSON \
             bodies, for operators; not listed here).\n\
             - Bodies are MessagePack maps with named fields; readers ignore unknown fields. Money \
             is an integer in minor units of its currency.\n\
             - What a component cannot process goes to `dlq.<component>` (stream `DLQ`).\n\
             \n\
             Payload schemas are the committed JSON Schemas (2020-12, linked from each message \
             by `x-json-schema`), embedded as AsyncAPI Schema Objects (JSON Schema draft-07 \
             superset): `$defs` moved to `components/schemas`, nothing else changed.\n\
             \n\
             GENERATED by `mandate asyncapi` from `schemas/json/**` and \
             `components/*/manifest.json`; `mandate check` fails when it is stale.",
        )
        .with("tags", Value::Sequence(tags))
}

fn servers() -> Map {
    Map::new().with(
        "local",
        Map::new()
            .with("host", "localhost:4222")
            .with("protocol", "nats")
            .with("title", "A local storefront")
            .with(
                "description",
                "nats-server 2.10 or later with JetStream (older servers ignore multi-filter \
                 consumers; the kit refuses them). `mandate dev` runs one here whose anonymous \
                 connections act as the `operator` user (replies on `_INBOX.mandate-cli.>`); the \
                 compose stack (`docker compose up`) requires a bus user for every connection \
                 (bus-config/).",
            )
            .with(
                "security",
                Value::Sequence(vec![reference("#/components/securitySchemes/bus-user")]),
            ),
    )
}

fn channels(
    events: &BTreeSet<String>,
    operations: &BTreeSet<String>,
    kit_components: &[&ComponentManifest],
) -> anyhow::Result<Map> {
    let mut channels = Map::new();
    for kind in events {
        let owner = owner(kind)?;
        let stream = stream_name(owner);
        channels.insert(
            &event_channel(kind),
            Map::new()
                .with("address", event_channel(kind))
                .with("title", kind.as_str())
                .with(
                    "description",
                    format!(
                        "The event {kind}. Published by {owner} alone; the stream {stream} captures it \
                         (`evt.{owner}.>`), de-duplicated on `Nats-Msg-Id`."
                    ),
                )
                .with("messages", Map::new().with(kind, message_ref(kind)))
                .with("x-stream", stream),
        );
    }
    for operation in operations {
        let owner = owner(operation)?;
        let endpoint = operation.replace('.', "-");
        channels.insert(
            &request_channel(operation),
            Map::new()
                .with("address", request_channel(operation))
                .with("title", operation.as_str())
                .with(
                    "description",
                    format!(
                        "Requests of {operation}, served by {owner} on the NATS services API (service \
                         `{owner}`, endpoint `{endpoint}`, queue group `{SERVICE_QUEUE_GROUP}`). No \
                         responder means {owner} is not running: retry later."
                    ),
                )
                .with(
                    "messages",
                    Map::new().with("request", message_ref(&format!("{operation}.request"))),
                ),
        );
        channels.insert(
            &reply_channel(operation),
            Map::new()
                .with("address", Value::Null)
                .with("title", format!("{operation} reply"))
                .with(
                    "description",
                    format!(
                        "The reply to a request of {operation}, on the request's reply subject (the \
                         caller's inbox, `_INBOX.<caller>.…`): the response, or an error with an empty \
                         body."
                    ),
                )
                .with(
                    "messages",
                    Map::new()
                        .with("response", message_ref(&format!("{operation}.response")))
                        .with("error", message_ref(SERVICE_ERROR)),
                ),
        );
    }
    for component in kit_components {
        let subject = dead_letter_subject(&component.name);
        channels.insert(
            &subject,
            Map::new()
                .with("address", subject.as_str())
                .with("title", format!("{} dead letters", component.name))
                .with(
                    "description",
                    format!(
                        "What {} could not process, with the reason in headers; the stream \
                         {DEAD_LETTER_STREAM} captures it (`dlq.>`). Inspect and retry with `mandate dlq`.",
                        component.name
                    ),
                )
                .with("messages", Map::new().with(DEAD_LETTER, message_ref(DEAD_LETTER)))
                .with("x-stream", DEAD_LETTER_STREAM),
        );
    }
    Ok(channels)
}

fn event_channel(kind: &str) -> String {
    format!("evt.{kind}")
}

fn request_channel(operation: &str) -> String {
    format!("svc.{operation}")
}

fn reply_channel(operation: &str) -> String {
    format!("svc.{operation}.reply")
}

fn message_ref(key: &str) -> Value {
    reference(&format!("#/components/messages/{}", escape(key)))
}

fn channel_ref(channel: &str) -> Value {
    reference(&format!("#/channels/{}", escape(channel)))
}

fn channel_message_ref(channel: &str, message: &str) -> Value {
    reference(&format!("#/channels/{}/messages/{}", escape(channel), escape(message)))
}

fn tag(name: &str) -> Value {
    Value::Sequence(vec![Map::new().with("name", name).into()])
}

/// Does the NATS subject `pattern` (`*`, `>`) match `subject`?
fn subject_matches(pattern: &str, subject: &str) -> bool {
    let subject: Vec<&str> = subject.split('.').collect();
    let pattern: Vec<&str> = pattern.split('.').collect();
    for (index, token) in pattern.iter().enumerate() {
        match *token {
            ">" => return subject.len() > index,
            "*" if index < subject.len() => {}
            literal if subject.get(index) == Some(&literal) => {}
            _ => return false,
        }
    }
    pattern.len() == subject.len()
}

fn operations_of(manifests: &[ComponentManifest], events: &BTreeSet<String>) -> Map {
    let mut operations = Map::new();
    for manifest in manifests {
        let c = manifest.name.as_str();
        let send_event = |kind: &str, summary: String| {
            Map::new()
                .with("action", "send")
                .with("channel", channel_ref(&event_channel(kind)))
                .with("summary", summary)
                .with("messages", vec![channel_message_ref(&event_channel(kind), kind)])
                .with("tags", tag(c))
        };
        let receive_event = |kind: &str, summary: String| {
            Map::new()
                .with("action", "receive")
                .with("channel", channel_ref(&event_channel(kind)))
                .with("summary", summary)
                .with("messages", vec![channel_message_ref(&event_channel(kind), kind)])
                .with("tags", tag(c))
        };
        for kind in sorted(&manifest.publishes) {
            operations.insert(
                &format!("{c}.publish.{kind}"),
                send_event(
                    kind,
                    format!("{c} publishes {kind} through its outbox (`Nats-Msg-Id` = `ce-id`)."),
                ),
            );
        }
        let mut consumed: BTreeMap<&str, &str> = BTreeMap::new();
        for (stream, kinds) in &manifest.subscribes {
            for kind in kinds {
                consumed.insert(kind, stream);
            }
        }
        for (kind, stream) in consumed {
            operations.insert(
                &format!("{c}.consume.{kind}"),
                receive_event(
                    kind,
                    format!(
                        "{c} consumes {kind} from {stream} with its durable pull consumer `{c}` \
                         (exactly-once effect, in stream order)."
                    ),
                ),
            );
        }
        for operation in sorted(&manifest.serves) {
            operations.insert(
                &format!("{c}.serve.{operation}"),
                service_operation("receive", operation, format!("{c} serves {operation}."), c).with(
                    "bindings",
                    Map::new().with(
                        "nats",
                        Map::new()
                            .with("queue", SERVICE_QUEUE_GROUP)
                            .with("bindingVersion", "0.1.0"),
                    ),
                ),
            );
        }
        for operation in sorted(&manifest.calls) {
            operations.insert(
                &format!("{c}.call.{operation}"),
                service_operation("send", operation, format!("{c} calls {operation}."), c),
            );
        }
        let mut listened: BTreeMap<&str, &str> = BTreeMap::new();
        for pattern in &manifest.listens {
            for kind in events {
                if subject_matches(pattern, &event_channel(kind)) {
                    listened.entry(kind).or_insert(pattern);
                }
            }
        }
        for (kind, pattern) in listened {
            operations.insert(
                &format!("{c}.listen.{kind}"),
                receive_event(
                    kind,
                    format!(
                        "{c} listens to {kind} with a core NATS subscription to `{pattern}` (live \
                         only: no acknowledgement, no replay)."
                    ),
                ),
            );
        }
        if manifest.is_kit_component() {
            let subject = dead_letter_subject(c);
            operations.insert(
                &format!("{c}.dead-letter"),
                Map::new()
                    .with("action", "send")
                    .with("channel", channel_ref(&subject))
                    .with(
                        "summary",
                        format!("{c} dead-letters what it cannot process, and keeps running."),
                    )
                    .with("messages", vec![channel_message_ref(&subject, DEAD_LETTER)])
                    .with("tags", tag(c)),
            );
        }
    }
    operations
}

fn sorted(items: &[String]) -> Vec<&str> {
    let set: BTreeSet<&str> = items.iter().map(String::as_str).collect();
    set.into_iter().collect()
}

fn service_operation(action: &str, operation: &str, summary: String, component: &str) -> Map {
    let request = request_channel(operation);
    let reply = reply_channel(operation);
    Map::new()
        .with("action", action)
        .with("channel", channel_ref(&request))
        .with("summary", summary)
        .with("messages", vec![channel_message_ref(&request, "request")])
        .with(
            "reply",
            Map::new().with("channel", channel_ref(&reply)).with(
                "messages",
                vec![
                    channel_message_ref(&reply, "response"),
                    channel_message_ref(&reply, "error"),
                ],
            ),
        )
        .with("tags", tag(component))
}

fn components(
    contract: &Contract,
    hoisted: &Hoisted,
    events: &BTreeSet<String>,
    operations: &BTreeSet<String>,
) -> anyhow::Result<Map> {
    let mut messages = Map::new();
    for kind in events {
        let owner = owner(kind)?;
        messages.insert(
            kind,
            message(
                kind,
                contract.events.get(kind),
                &format!("The event {kind}."),
                owner,
                Some(headers::event(kind, owner)),
            ),
        );
    }
    for operation in operations {
        let owner = owner(operation)?;
        let files = contract.operations.get(operation);
        let request = format!("{operation}.request");
        messages.insert(
            &request,
            message(
                &request,
                files.and_then(|f| f.request.as_ref()),
                &format!("A request of {operation}."),
                owner,
                Some(headers::request()),
            ),
        );
        let response = format!("{operation}.response");
        messages.insert(
            &response,
            message(
                &response,
                files.and_then(|f| f.response.as_ref()),
                &format!("The response of {operation}."),
                owner,
                None,
            ),
        );
    }
    messages.insert(
        SERVICE_ERROR,
        Map::new()
            .with("name", SERVICE_ERROR)
            .with("title", "ServiceError")
            .with(
                "summary",
                "A typed error reply of any service: code, message, retryable.",
            )
            .with(
                "description",
                "The body is empty; the error is in the headers. Retry the same request only when \
                 `Mandate-Retryable` is `true` (with an idempotency key where the operation takes \
                 one). No reply at all (a timeout) or no responders is also worth a retry.",
            )
            .with("headers", headers::service_error()),
    );
    messages.insert(
        DEAD_LETTER,
        Map::new()
            .with("name", DEAD_LETTER)
            .with("title", "DeadLetter")
            .with("summary", "A message a component could not process, with the reason.")
            .with(
                "description",
                "The body is the original message's body, byte for byte (normally MessagePack; \
                 for an undecodable one, whatever arrived).",
            )
            .with("contentType", "application/octet-stream")
            .with("headers", headers::dead_letter()),
    );

    let mut schemas = Map::new();
    for (key, schema) in hoisted.payloads.iter().chain(hoisted.defs.iter()) {
        schemas.insert(key, schema.clone());
    }
    Ok(Map::new().with("messages", messages).with("schemas", schemas).with(
        "securitySchemes",
        Map::new().with(
            "bus-user",
            Map::new().with("type", "userPassword").with(
                "description",
                "A bus user of bus-config/permissions.conf (generated from the manifests): one \
                     per component, allowed exactly the subjects its manifest implies; `observer` \
                     reads `evt.>` and `dlq.>`; `operator` runs the `mandate` tool. nkeys are \
                     supported as well (bus-config/README.md).",
            ),
        ),
    ))
}

/// A message of the contract: name, title, summary, description, content type, `headers`,
/// payload (a committed schema, when there is one), correlation id, owner tag, and where its
/// schema is committed.
fn message(key: &str, schema: Option<&SchemaFile>, fallback: &str, owner: &str, headers: Option<Value>) -> Map {
    let summary = schema
        .and_then(|s| s.description.as_deref())
        .map(summarize)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| fallback.to_owned());
    let description = match schema {
        Some(schema) => schema.description.clone(),
        None => Some(format!(
            "No JSON Schema is committed for {key} under schemas/json/: its owner has not published \
             it yet (a schema generated from a Rust type in the schemas crate, or written by hand by \
             a component in another language: docs/contract.md, \"Commit your schemas\"). Ask its \
             owner, or read its code."
        )),
    };
    let correlates = headers.is_some();
    Map::new()
        .with("name", key)
        .with(
            "title",
            schema.and_then(|s| s.title.clone()).unwrap_or_else(|| key.to_owned()),
        )
        .with("summary", summary)
        .maybe("description", description)
        .with("contentType", mandate::envelope::CONTENT_TYPE)
        .maybe("headers", headers)
        .maybe(
            "payload",
            schema.map(|_| reference(&format!("#/components/schemas/{}", escape(key)))),
        )
        .maybe("correlationId", correlates.then(correlation_id))
        .with("tags", tag(owner))
        .maybe("x-json-schema", schema.map(|s| s.file.as_str()))
}

fn correlation_id() -> Map {
    Map::new()
        .with("description", "The root of the chain this message belongs to.")
        .with(
            "location",
            format!("$message.header#/{}", mandate::envelope::CORRELATION_ID),
        )
}

/// One line from a schema's description: without the leading "`evt.x.y.v1`: " and with
/// its line breaks joined, up to the end of the first sentence, capitalized.
fn summarize(description: &str) -> String {
    let paragraph = description.split("\n\n").next().unwrap_or_default();
    let text = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = match text.strip_prefix('`').and_then(|rest| rest.split_once("`: ")) {
        Some((_, rest)) => rest.to_owned(),
        None => text,
    };
    let sentence = match text.find(". ") {
        Some(end) => &text[..=end],
        None => text.as_str(),
    };
    let mut chars = sentence.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nats_wildcards_match_like_the_server() {
        assert!(subject_matches("evt.>", "evt.orders.placed.v1"));
        assert!(subject_matches("evt.orders.>", "evt.orders.placed.v1"));
        assert!(!subject_matches("evt.orders.>", "evt.orders"));
        assert!(subject_matches("evt.*.placed.v1", "evt.orders.placed.v1"));
        assert!(!subject_matches("evt.*", "evt.orders.placed.v1"));
        assert!(subject_matches("evt.orders.placed.v1", "evt.orders.placed.v1"));
        assert!(!subject_matches("evt.orders.placed.v1", "evt.orders.placed.v2"));
        assert!(!subject_matches("evt.orders.placed.v1.x", "evt.orders.placed.v1"));
    }

    #[test]
    fn summaries_are_one_sentence_without_the_subject() {
        assert_eq!(
            summarize("`evt.inventory.reserved.v1`: every line of an order is reserved. Carries what payments\nneeds."),
            "Every line of an order is reserved."
        );
        assert_eq!(summarize("A product\nfor sale."), "A product for sale.");
        assert_eq!(summarize("Oldest first"), "Oldest first");
    }
}
