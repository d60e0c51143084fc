//! The envelope every message carries (DESIGN.md §4): CloudEvents headers in binary mode,
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
    /// trace, same correlation root, a child span.
    pub fn caused_by(cause: &Cause, id: String, source: &str, kind: String) -> Meta {
        Meta {
            id,
            source: source.to_owned(),
            kind,
            time: now_rfc3339(),
            traceparent: cause.traceparent.child(),
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

    /// Reads the envelope of a received event. Every CloudEvents attribute is required; a
    /// missing or malformed `traceparent` starts a new trace rather than failing, because
    /// tracing is advisory, and a missing `correlation-id` falls back to the event's own id.
    pub fn from_headers(headers: Option<&HeaderMap>) -> Result<Meta, EnvelopeError> {
        let headers = headers.ok_or(EnvelopeError::Missing(CE_ID))?;
        let required = |name: &'static str| -> Result<String, EnvelopeError> {
            headers
                .get(name)
                .map(|v| v.as_str().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or(EnvelopeError::Missing(name))
        };
        let spec = required(CE_SPECVERSION)?;
        if spec != SPEC_VERSION {
            return Err(EnvelopeError::Invalid(CE_SPECVERSION, spec));
        }
        let id = required(CE_ID)?;
        let traceparent = headers
            .get(TRACEPARENT)
            .and_then(|v| v.as_str().parse().ok())
            .unwrap_or_else(TraceParent::new_root);
        let correlation_id = headers
            .get(CORRELATION_ID)
            .map(|v| v.as_str().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| id.clone());
        if let Some(ct) = headers.get(CE_DATACONTENTTYPE) {
            if ct.as_str() != CONTENT_TYPE {
                return Err(EnvelopeError::Invalid(CE_DATACONTENTTYPE, ct.as_str().to_owned()));
            }
        }
        Ok(Meta {
            source: required(CE_SOURCE)?,
            kind: required(CE_TYPE)?,
            time: required(CE_TIME)?,
            id,
            traceparent,
            correlation_id,
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
    /// The cause of a service request: its `correlation-id`/`traceparent` headers when the
    /// caller sent them, otherwise a fresh root.
    pub fn from_request(headers: Option<&HeaderMap>) -> Cause {
        let get = |name: &str| {
            headers
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_owned())
                .filter(|v| !v.is_empty())
        };
        let id = Uuid::now_v7().to_string();
        Cause {
            traceparent: get(TRACEPARENT)
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(TraceParent::new_root),
            correlation_id: get(CORRELATION_ID).unwrap_or_else(|| id.clone()),
            id,
        }
    }
}

/// Why an envelope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("missing required header {0}")]
    Missing(&'static str),
    #[error("header {0} has an unsupported value {1:?}")]
    Invalid(&'static str, String),
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

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || EnvelopeError::Invalid(TRACEPARENT, s.to_owned());
        let mut parts = s.split('-');
        let parts = [parts.next(), parts.next(), parts.next(), parts.next(), parts.next()];
        let hex = |p: &str, len: usize| p.len() == len && p.bytes().all(|b| b.is_ascii_hexdigit());
        match parts {
            [Some(version), Some(trace), Some(span), Some(flags), None]
                if hex(version, 2) && hex(trace, 32) && hex(span, 16) && hex(flags, 2) =>
            {
                Ok(TraceParent {
                    trace_id: trace.to_ascii_lowercase(),
                    span_id: span.to_ascii_lowercase(),
                    flags: flags.to_ascii_lowercase(),
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
        assert_eq!(Meta::from_headers(None), Err(EnvelopeError::Missing(CE_ID)));
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
