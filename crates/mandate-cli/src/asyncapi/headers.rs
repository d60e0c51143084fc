//! The message headers, named by the kit's own constants so the document says what the kit
//! writes and reads: the CloudEvents attributes (NATS protocol binding, binary mode),
//! `traceparent`, `correlation-id` and `Nats-Msg-Id` of every event
//! (`mandate::envelope`), what a caller sends with a request, the typed error of a service
//! reply (`Nats-Service-Error*`, `Mandate-Retryable`) and the `Mandate-Dlq-*` headers of a
//! dead letter (`mandate::deadletter`).

use async_nats::service::{NATS_SERVICE_ERROR, NATS_SERVICE_ERROR_CODE};
use mandate::deadletter::{
    DLQ_CONSUMER, DLQ_DELIVERIES, DLQ_KIND, DLQ_REASON, DLQ_SEQUENCE, DLQ_STREAM, DLQ_SUBJECT, DLQ_TIME, DeadLetterKind,
};
use mandate::envelope::{
    CE_DATACONTENTTYPE, CE_ID, CE_SOURCE, CE_SPECVERSION, CE_TIME, CE_TYPE, CONTENT_TYPE, CORRELATION_ID, NATS_MSG_ID,
    SPEC_VERSION, TRACEPARENT,
};
use serde_yaml_ng::Value;

use super::yaml::{Map, strings};

/// W3C trace context, version 00: `00-<trace-id>-<parent-id>-<flags>`.
const TRACEPARENT_PATTERN: &str = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$";

fn string(description: &str) -> Map {
    Map::new().with("type", "string").with("description", description)
}

fn traceparent(description: &str) -> Map {
    string(description).with("pattern", TRACEPARENT_PATTERN)
}

/// The headers of every event of type `ce_type` (`<owner>.<event>.v<N>`).
pub fn event(ce_type: &str, owner: &str) -> Value {
    Map::new()
        .with("type", "object")
        .with(
            "description",
            "The envelope (CloudEvents 1.0, NATS protocol binding, binary mode; W3C trace \
             context; correlation), as the kit writes it on every event. A reader dead-letters \
             an event that lacks a `required` header (`missing-header`), or has one that is \
             malformed (`invalid-header`: `ce-specversion` not 1.0, `ce-time` not RFC 3339, \
             `ce-source` not the owner, `ce-datacontenttype` not MessagePack, a malformed \
             `traceparent`) or a `ce-type` that is not the subject's (`unknown-type`); it \
             tolerates a missing `traceparent` (a new trace starts) and `correlation-id` (the \
             event's own id is used). Header names are case-sensitive: send them exactly as \
             written here.",
        )
        .with(
            "required",
            strings([CE_SPECVERSION, CE_ID, CE_SOURCE, CE_TYPE, CE_TIME]),
        )
        .with(
            "properties",
            Map::new()
                .with(
                    CE_SPECVERSION,
                    string("CloudEvents specification version.").with("const", SPEC_VERSION),
                )
                .with(
                    CE_ID,
                    string(&format!(
                        "Unique id of this event, also sent as `{NATS_MSG_ID}`. A UUIDv7 for an event a \
                         service call emits; for an event a handler emits in reaction to another, a \
                         UUIDv5 derived from the emitting component, the causing event's id and the \
                         emit index, so a re-emission (retry, rebuild) has the same id."
                    )),
                )
                .with(
                    CE_SOURCE,
                    string(&format!(
                        "The publishing component: the owner, `{owner}`, the only one that may publish \
                         this event (the operator's tools republish it unchanged: `mandate import`, \
                         `mandate dlq retry`). A reader refuses another source."
                    ))
                    .with("const", owner),
                )
                .with(
                    CE_TYPE,
                    string("`<owner>.<event>.v<major>`: the subject without `evt.`.").with("const", ce_type),
                )
                .with(
                    CE_TIME,
                    string("When the event happened, RFC 3339.").with("format", "date-time"),
                )
                .with(
                    CE_DATACONTENTTYPE,
                    string("The body's encoding: a MessagePack map with named fields.").with("const", CONTENT_TYPE),
                )
                .with(
                    TRACEPARENT,
                    traceparent(
                        "W3C trace context. An event keeps the trace id of its cause (the request \
                         or event it reacts to) with a new span id, so one order can be followed \
                         across components.",
                    ),
                )
                .with(
                    CORRELATION_ID,
                    string(
                        "The id at the root of this chain: the `correlation-id` of the request that \
                         started it (or that request's own fresh id), carried unchanged by every \
                         event caused by it.",
                    ),
                )
                .with(
                    NATS_MSG_ID,
                    string(&format!(
                        "JetStream's de-duplication id; always equal to `{CE_ID}`. The stream drops a \
                         second publication of the same id within its duplicate window."
                    )),
                ),
        )
        .into()
}

/// What a caller sends with a service request.
pub fn request() -> Value {
    Map::new()
        .with("type", "object")
        .with(
            "description",
            "Optional: what a caller should send so the events its call causes join its trace and \
             correlation. Without them the service starts a new trace and uses a fresh id as the \
             correlation root; a malformed `traceparent` is refused with a 400.",
        )
        .with(
            "properties",
            Map::new()
                .with(
                    TRACEPARENT,
                    traceparent("W3C trace context of the caller; events the call emits continue its trace."),
                )
                .with(
                    CORRELATION_ID,
                    string("An id of the caller's choosing (a UUID); every event the call causes carries it."),
                ),
        )
        .into()
}

/// The headers of an error reply.
pub fn service_error() -> Value {
    Map::new()
        .with("type", "object")
        .with(
            "description",
            "An error reply of the NATS services API (ADR-32) with the kit's retry hint. Its body \
             is empty; a successful reply never has these headers.",
        )
        .with("required", strings([NATS_SERVICE_ERROR, NATS_SERVICE_ERROR_CODE]))
        .with(
            "properties",
            Map::new()
                .with(NATS_SERVICE_ERROR, string("What went wrong, for humans."))
                .with(
                    NATS_SERVICE_ERROR_CODE,
                    string(
                        "An HTTP-like status code: 400 the request is wrong (do not retry it \
                         unchanged), 404 what it names does not exist, 409 it contradicts the \
                         current state, 500 a fault of the service, 503 not now (retry later).",
                    )
                    .with("pattern", "^[0-9]{3}$"),
                )
                .with(
                    mandate::RETRYABLE_HEADER,
                    string("`true` when the same request may succeed later (503), else `false`.")
                        .with("enum", strings(["true", "false"])),
                ),
        )
        .into()
}

/// The headers of a dead letter.
pub fn dead_letter() -> Value {
    let kinds = DeadLetterKind::ALL.map(DeadLetterKind::as_str);
    Map::new()
        .with("type", "object")
        .with(
            "description",
            "Where the message came from and why it could not be processed, plus the original \
             message's own headers (except `Nats-*` ones, which JetStream would read as \
             instructions).",
        )
        .with(
            "required",
            strings([
                NATS_MSG_ID,
                DLQ_KIND,
                DLQ_REASON,
                DLQ_SUBJECT,
                DLQ_STREAM,
                DLQ_SEQUENCE,
                DLQ_CONSUMER,
                DLQ_DELIVERIES,
                DLQ_TIME,
            ]),
        )
        .with(
            "properties",
            Map::new()
                .with(
                    NATS_MSG_ID,
                    string("`dlq:<component>:<stream>:<sequence>`: one dead letter per original message."),
                )
                .with(
                    DLQ_KIND,
                    string(
                        "The rule the message broke (the first found, headers before the body): \
                         missing-header: a required envelope header is absent or empty; \
                         invalid-header: one is malformed (`ce-specversion`, `ce-time`, `ce-source`, \
                         `ce-datacontenttype`, `traceparent`); unknown-type: no handler for its \
                         subject, or a `ce-type` that is not the subject's; not-a-map: a struct \
                         encoded as an array, or a map key that is not a string; binary-string: a \
                         string or key encoded as bin; trailing-bytes: bytes after the body; \
                         undecodable: not MessagePack, truncated, a wrong type or a missing \
                         field; handler-failed: the handler kept failing.",
                    )
                    .with("enum", strings(kinds)),
                )
                .with(DLQ_REASON, string("The error, on one line."))
                .with(DLQ_SUBJECT, string("The original subject."))
                .with(DLQ_STREAM, string("The stream the original was read from."))
                .with(
                    DLQ_SEQUENCE,
                    string("Its sequence in that stream.").with("pattern", "^[0-9]+$"),
                )
                .with(DLQ_CONSUMER, string("The durable consumer that read it."))
                .with(
                    DLQ_DELIVERIES,
                    string("How many times it was delivered.").with("pattern", "^[0-9]+$"),
                )
                .with(
                    DLQ_TIME,
                    string("When it was dead-lettered, RFC 3339.").with("format", "date-time"),
                ),
        )
        .into()
}
