//! The envelope every message carries (docs/design.md §4): CloudEvents headers in binary mode,
//! W3C `traceparent`, and `correlation-id`. The body is a MessagePack map.

use async_nats::HeaderMap;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use uuid::Uuid;

pub const CE_SPECVERSION: &str = "ce-specversion";
pub const CE_ID: &str = "ce-id";
pub const CE_SOURCE: &str = "ce-source";
pub const CE_TYPE: &str = "ce-type";
pub const CE_TIME: &str = "ce-time";
pub const CE_DATACONTENTTYPE: &str = "ce-datacontenttype";
pub const TRACEPARENT: &str = "traceparent";
pub const CORRELATION_ID: &str = "correlation-id";
/// JetStream's de-duplication header; always equal to `ce-id`.
pub const NATS_MSG_ID: &str = "Nats-Msg-Id";

pub const SPEC_VERSION: &str = "1.0";
pub const CONTENT_TYPE: &str = "application/msgpack";

/// What the envelope says about a message: who sent it, when, and what caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// `ce-id`: unique per event, and the JetStream de-duplication id.
    pub id: String,
    /// `ce-source`: the publishing component.
    pub source: String,
    /// `ce-type`: `<owner>.<event>.v<major>`.
    pub kind: String,
    /// `ce-time`, RFC 3339.
    pub time: String,
    /// `traceparent`: W3C trace context.
    pub traceparent: TraceParent,
    /// `correlation-id`: the request or event at the root of this chain.
    pub correlation_id: String,
}

impl Meta {
    /// Meta for a brand-new event that nothing on the bus caused (a tool, a test, an outside
    /// publisher): a UUIDv7 id, a fresh trace, and the event itself as the correlation root.
    pub fn originate(source: &str, kind: String) -> Meta {
        let id = Uuid::now_v7().to_string();
        Meta {
            correlation_id: id.clone(),
            id,
            source: source.to_owned(),
            kind,
            time: now_rfc3339(),
            traceparent: TraceParent::new_root(),
        }
    }

    /// Meta for an event emitted because of `cause` (an event or a service request): same
    /// trace, same correlation root, the next hop ([`TraceParent::next_hop`]).
    pub fn caused_by(cause: &Cause, id: String, source: &str, kind: String) -> Meta {
        Meta {
            id,
            source: source.to_owned(),
            kind,
            time: now_rfc3339(),
            traceparent: cause.traceparent.next_hop(),
            correlation_id: cause.correlation_id.clone(),
        }
    }

    /// The headers of this envelope, `Nats-Msg-Id` included.
    pub fn to_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in self.header_pairs() {
            headers.insert(name, value);
        }
        headers
    }

    /// The headers of this envelope as name/value pairs, in a fixed order (`Nats-Msg-Id`
    /// included): what the outbox stores, without building a header map first.
    pub fn header_pairs(&self) -> [(&'static str, String); 9] {
        [
            (CE_SPECVERSION, SPEC_VERSION.to_owned()),
            (CE_ID, self.id.clone()),
            (CE_SOURCE, self.source.clone()),
            (CE_TYPE, self.kind.clone()),
            (CE_TIME, self.time.clone()),
            (CE_DATACONTENTTYPE, CONTENT_TYPE.to_owned()),
            (TRACEPARENT, self.traceparent.to_string()),
            (CORRELATION_ID, self.correlation_id.clone()),
            (NATS_MSG_ID, self.id.clone()),
        ]
    }

    /// Reads and checks the envelope of a received event (docs/contract.md, "Headers"):
    /// every CloudEvents attribute present and not empty, `ce-specversion` 1.0, `ce-time`
    /// RFC 3339, `ce-datacontenttype` MessagePack and `traceparent` well-formed when present
    /// (absent, a new trace starts: tracing is advisory, but a malformed one is a broken
    /// envelope, not something to paper over). A missing `correlation-id` falls back to the
    /// event's own id. Whether `ce-type` and `ce-source` fit the subject is for the consumer,
    /// which knows the subject. The first problem found is the one reported.
    pub fn from_headers(headers: Option<&HeaderMap>) -> Result<Meta, EnvelopeError> {
        let headers = headers.ok_or(EnvelopeError::Missing(CE_SPECVERSION))?;
        let spec = required(headers, CE_SPECVERSION)?;
        if spec != SPEC_VERSION {
            return Err(EnvelopeError::invalid(CE_SPECVERSION, spec, "1.0"));
        }
        let id = required(headers, CE_ID)?;
        let source = required(headers, CE_SOURCE)?;
        let kind = required(headers, CE_TYPE)?;
        let time = required(headers, CE_TIME)?;
        if OffsetDateTime::parse(time, &Rfc3339).is_err() {
            return Err(EnvelopeError::invalid(
                CE_TIME,
                time,
                "an RFC 3339 time such as 2026-05-01T12:00:00Z",
            ));
        }
        if let Some(content_type) = optional(Some(headers), CE_DATACONTENTTYPE) {
            if content_type != CONTENT_TYPE {
                return Err(EnvelopeError::invalid(CE_DATACONTENTTYPE, content_type, CONTENT_TYPE));
            }
        }
        let traceparent = match optional(Some(headers), TRACEPARENT) {
            Some(traceparent) => traceparent.parse()?,
            None => TraceParent::new_root(),
        };
        let correlation_id = optional(Some(headers), CORRELATION_ID).unwrap_or(id);
        Ok(Meta {
            correlation_id: correlation_id.to_owned(),
            id: id.to_owned(),
            source: source.to_owned(),
            kind: kind.to_owned(),
            time: time.to_owned(),
            traceparent,
        })
    }

    /// What an event emitted in reaction to this one inherits.
    pub fn as_cause(&self) -> Cause {
        Cause {
            id: self.id.clone(),
            traceparent: self.traceparent.clone(),
            correlation_id: self.correlation_id.clone(),
        }
    }
}

/// The part of an incoming message that outgoing events inherit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub id: String,
    pub traceparent: TraceParent,
    pub correlation_id: String,
}

impl Cause {
    /// A cause with nothing before it: a new id, trace and correlation root.
    pub fn fresh() -> Cause {
        let id = Uuid::now_v7().to_string();
        Cause {
            traceparent: TraceParent::new_root(),
            correlation_id: id.clone(),
            id,
        }
    }

    /// The cause of a service request: its `correlation-id`/`traceparent` headers when the
    /// caller sent them, otherwise a fresh root. A malformed `traceparent` is refused, as on
    /// an event.
    pub fn from_request(headers: Option<&HeaderMap>) -> Result<Cause, EnvelopeError> {
        let id = Uuid::now_v7().to_string();
        let traceparent = match optional(headers, TRACEPARENT) {
            Some(traceparent) => traceparent.parse()?,
            None => TraceParent::new_root(),
        };
        Ok(Cause {
            traceparent,
            correlation_id: optional(headers, CORRELATION_ID).map_or_else(|| id.clone(), str::to_owned),
            id,
        })
    }
}

/// A header that must be there and not empty.
fn required<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, EnvelopeError> {
    optional(Some(headers), name).ok_or(EnvelopeError::Missing(name))
}

/// A header that may be absent (or empty, which counts as absent).
fn optional<'h>(headers: Option<&'h HeaderMap>, name: &str) -> Option<&'h str> {
    headers?.get(name).map(|v| v.as_str()).filter(|v| !v.is_empty())
}

/// Why an envelope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// A required header is absent or empty.
    #[error("missing required header {0}")]
    Missing(&'static str),
    /// A header is present but malformed.
    #[error("header {header} is {value:?}, expected {expected}")]
    Invalid {
        header: &'static str,
        /// The value found (its first 64 characters).
        value: String,
        expected: &'static str,
    },
}

impl EnvelopeError {
    pub(crate) fn invalid(header: &'static str, value: &str, expected: &'static str) -> EnvelopeError {
        EnvelopeError::Invalid {
            header,
            value: shown(value),
            expected,
        }
    }
}

/// A header value as a reason quotes it: its first 64 characters. A header can be long, and
/// the reason travels in a header of its own (a dead letter's); the start is enough to
/// recognise it.
pub(crate) fn shown(value: &str) -> String {
    match value.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

/// A W3C trace context (`00-<trace-id>-<parent-id>-<flags>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: String,
    pub span_id: String,
    pub flags: String,
}

impl TraceParent {
    pub fn new_root() -> TraceParent {
        TraceParent {
            trace_id: Uuid::new_v4().simple().to_string(),
            span_id: new_span_id(),
            flags: "01".into(),
        }
    }

    /// The same trace, one hop further.
    pub fn child(&self) -> TraceParent {
        TraceParent {
            trace_id: self.trace_id.clone(),
            span_id: new_span_id(),
            flags: self.flags.clone(),
        }
    }

    /// The `traceparent` of what a component sends because of this one: while spans are
    /// exported (`telemetry.rs`), this one itself — the span it was emitted in; the span that
    /// sends it is the child — otherwise a fresh child id, as W3C asks of a hop.
    pub(crate) fn next_hop(&self) -> TraceParent {
        if SPANS_EXPORTED.load(std::sync::atomic::Ordering::Relaxed) {
            self.clone()
        } else {
            self.child()
        }
    }
}

/// Whether this process exports its spans: set once by `telemetry::init`. Kept here rather
/// than asked of `telemetry`, which builds on the envelope's types.
static SPANS_EXPORTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From now on a hop's `traceparent` is the span that sent it ([`TraceParent::next_hop`]).
pub(crate) fn spans_are_exported() {
    SPANS_EXPORTED.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn new_span_id() -> String {
    Uuid::new_v4().simple().to_string()[..16].to_owned()
}

impl std::fmt::Display for TraceParent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "00-{}-{}-{}", self.trace_id, self.span_id, self.flags)
    }
}

impl std::str::FromStr for TraceParent {
    type Err = EnvelopeError;

    /// W3C Trace Context, level 1: `version-trace_id-parent_id-flags` in lower-case hex;
    /// version `ff`, an all-zero trace id and an all-zero parent id are invalid.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid =
            || EnvelopeError::invalid(TRACEPARENT, s, "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>");
        let mut parts = s.split('-');
        let parts = [parts.next(), parts.next(), parts.next(), parts.next(), parts.next()];
        let hex = |p: &str, len: usize| p.len() == len && p.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let zero = |p: &str| p.bytes().all(|b| b == b'0');
        match parts {
            [Some(version), Some(trace), Some(span), Some(flags), None]
                if hex(version, 2)
                    && version != "ff"
                    && hex(trace, 32)
                    && !zero(trace)
                    && hex(span, 16)
                    && !zero(span)
                    && hex(flags, 2) =>
            {
                Ok(TraceParent {
                    trace_id: trace.to_owned(),
                    span_id: span.to_owned(),
                    flags: flags.to_owned(),
                })
            }
            _ => Err(invalid()),
        }
    }
}

/// The id of the `index`-th event a component emits in reaction to the event `cause_id`.
/// Deterministic, so that re-running a handler (a retry, a rebuild) produces the same id and
/// JetStream's duplicate window catches a repeated publication.
pub fn derived_event_id(component: &str, cause_id: &str, index: u32) -> String {
    let name = format!("{component}/{cause_id}/{index}");
    Uuid::new_v5(&MANDATE_NAMESPACE, name.as_bytes()).to_string()
}

/// An id for something a component creates because of `cause_id` (a payment, a shipment),
/// named by `label`: deterministic like [`derived_event_id`], and distinct from it.
pub fn derived_id(component: &str, cause_id: &str, label: &str) -> String {
    let name = format!("{component}/{cause_id}/id/{label}");
    Uuid::new_v5(&MANDATE_NAMESPACE, name.as_bytes()).to_string()
}

/// A fixed namespace for [`derived_event_id`] (a UUIDv5 of "mandate" in the URL namespace).
const MANDATE_NAMESPACE: Uuid = Uuid::from_u128(0x6e4c_3f0a_2b1d_5e8f_9a7c_1d2e_3f4a_5b6c);

pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let meta = Meta::originate("orders", "orders.placed.v1".into());
        let back = Meta::from_headers(Some(&meta.to_headers())).expect("parses");
        assert_eq!(back, meta);
        assert_eq!(
            meta.to_headers().get(NATS_MSG_ID).map(|v| v.as_str().to_owned()),
            Some(meta.id.clone())
        );
    }

    #[test]
    fn missing_headers_are_named() {
        let mut headers = Meta::originate("orders", "orders.placed.v1".into()).to_headers();
        headers.insert(CE_SOURCE, "");
        assert_eq!(
            Meta::from_headers(Some(&headers)),
            Err(EnvelopeError::Missing(CE_SOURCE))
        );
        assert_eq!(Meta::from_headers(None), Err(EnvelopeError::Missing(CE_SPECVERSION)));
    }

    fn refused_with(name: &str, value: &str) -> Option<&'static str> {
        let mut headers = Meta::originate("orders", "orders.placed.v1".into()).to_headers();
        headers.insert(name, value);
        match Meta::from_headers(Some(&headers)) {
            Err(EnvelopeError::Invalid { header, .. }) => Some(header),
            Err(EnvelopeError::Missing(header)) => panic!("{header} reported missing"),
            Ok(_) => None,
        }
    }

    #[test]
    fn malformed_headers_are_named() {
        for time in ["1700000000", "2026-13-45T99:99:99Z", "yesterday", "2026-05-01"] {
            assert_eq!(refused_with(CE_TIME, time), Some(CE_TIME), "{time}");
        }
        for time in ["2026-05-01T12:00:00Z", "2026-05-01T12:00:00.123456+02:00"] {
            assert_eq!(refused_with(CE_TIME, time), None, "{time}");
        }
        assert_eq!(refused_with(CE_SPECVERSION, "0.3"), Some(CE_SPECVERSION));
        assert_eq!(
            refused_with(CE_DATACONTENTTYPE, "application/json"),
            Some(CE_DATACONTENTTYPE)
        );
        for traceparent in [
            "garbage",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(
                refused_with(TRACEPARENT, traceparent),
                Some(TRACEPARENT),
                "{traceparent}"
            );
        }
    }

    #[test]
    fn a_request_with_a_malformed_traceparent_is_refused_and_without_one_starts_a_trace() {
        let mut headers = HeaderMap::new();
        assert!(Cause::from_request(Some(&headers)).is_ok());
        assert!(Cause::from_request(None).is_ok());
        headers.insert(TRACEPARENT, "00-xyz-00f067aa0ba902b7-01");
        assert!(matches!(
            Cause::from_request(Some(&headers)),
            Err(EnvelopeError::Invalid {
                header: TRACEPARENT,
                ..
            })
        ));
    }

    #[test]
    fn traceparent_parses_and_children_keep_the_trace() {
        let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .expect("valid");
        assert_eq!(
            tp.to_string(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        let child = tp.child();
        assert_eq!(child.trace_id, tp.trace_id);
        assert_ne!(child.span_id, tp.span_id);
        assert!("00-xyz-00f067aa0ba902b7-01".parse::<TraceParent>().is_err());
    }

    #[test]
    fn derived_ids_are_deterministic_and_distinct() {
        let a = derived_event_id("inventory", "abc", 0);
        assert_eq!(a, derived_event_id("inventory", "abc", 0));
        assert_ne!(a, derived_event_id("inventory", "abc", 1));
        assert_ne!(a, derived_event_id("payments", "abc", 0));
    }
}
