//! The handler types: what the builder (`component.rs`) stores and the loops (`consumer/`,
//! `service.rs`) run — event handlers, commands and queries, type-erased — and the typed
//! error a service answers with. Both sides depend on this module, not on each other.

use serde::{Deserialize, Serialize};

use crate::codec::Rule;
use crate::context::{Context, HandlerResult};
use crate::contract::{Event, Operation};
use crate::deadletter::DeadLetterKind;
use crate::store::{StoreError, View};

pub(crate) type EventFn = Box<dyn Fn(&mut Context<'_>, &[u8]) -> Result<(), Failure> + Send + Sync>;

/// Why applying one event failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The payload breaks the contract's encoding or is not the declared type (the kind
    /// names the rule): retrying cannot help.
    Undecodable(DeadLetterKind, String),
    /// The handler returned an error: a retry may help.
    Handler(String),
    /// The handler did something no retry can make work (emitted an event larger than the
    /// server's max payload): dead-letter it at once.
    Hopeless(String),
}

/// `handler` for events of type `E`, erased: the payload decoded strictly (a body that
/// breaks the contract's encoding fails as [`Failure::Undecodable`], naming the rule), and
/// an emit refused as too large failing the event for good, whatever the handler returned.
pub(crate) fn event_fn<E: Event>(
    handler: impl Fn(&mut Context<'_>, E) -> HandlerResult + Send + Sync + 'static,
) -> EventFn {
    Box::new(move |ctx, payload| {
        let event: E = crate::codec::decode(payload).map_err(|e| {
            Failure::Undecodable(
                kind_of(e.rule),
                format!("payload does not decode as {}: {e}", E::ce_type()),
            )
        })?;
        let result = handler(ctx, event);
        if let Some(too_large) = ctx.too_large.take() {
            return Err(Failure::Hopeless(format!(
                "the handler emitted an event too large to publish: {too_large}"
            )));
        }
        result.map_err(|e| Failure::Handler(e.to_string()))
    })
}

/// The dead-letter kind of a body that breaks `rule` of the contract's encoding: the same
/// name (`Rule::as_str` = `DeadLetterKind::as_str`).
fn kind_of(rule: Rule) -> DeadLetterKind {
    match rule {
        Rule::NotAMap => DeadLetterKind::NotAMap,
        Rule::BinaryString => DeadLetterKind::BinaryString,
        Rule::TrailingBytes => DeadLetterKind::TrailingBytes,
        Rule::Undecodable => DeadLetterKind::Undecodable,
    }
}

/// The handlers of a component, by event subject (`evt.<owner>.<event>.v<N>`): what every
/// consumer of it dispatches to, and what applies its own events when it emits them (`own.rs`).
pub(crate) type Handlers = std::collections::BTreeMap<String, Subscription>;

pub(crate) struct Subscription {
    pub owner: &'static str,
    pub ce_type: String,
    /// The event's partition key, if it declares one (`Event::KEY`).
    pub key: Option<crate::partition::Key>,
    pub handler: EventFn,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("ce_type", &self.ce_type)
            .finish_non_exhaustive()
    }
}

/// Set on error replies: `true` when the caller may retry the same request later.
pub const RETRYABLE_HEADER: &str = "Mandate-Retryable";

/// A typed service error: an HTTP-like `code`, a message for humans, and whether a retry may
/// succeed. It travels in the standard `Nats-Service-Error*` headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ServiceError {
    pub code: u16,
    pub message: String,
    pub retryable: bool,
}

impl ServiceError {
    pub fn new(code: u16, message: impl Into<String>, retryable: bool) -> ServiceError {
        ServiceError {
            code,
            message: message.into(),
            retryable,
        }
    }
    /// 400: the request is wrong; retrying it unchanged will not help.
    pub fn bad_request(message: impl Into<String>) -> ServiceError {
        ServiceError::new(400, message, false)
    }
    /// 404: what the request names does not exist.
    pub fn not_found(message: impl Into<String>) -> ServiceError {
        ServiceError::new(404, message, false)
    }
    /// 409: the request contradicts the current state.
    pub fn conflict(message: impl Into<String>) -> ServiceError {
        ServiceError::new(409, message, false)
    }
    /// 503: not now; try again later.
    pub fn unavailable(message: impl Into<String>) -> ServiceError {
        ServiceError::new(503, message, true)
    }
    /// 413: what the request would produce is larger than the bus carries; the same request
    /// will never succeed.
    pub fn payload_too_large(message: impl Into<String>) -> ServiceError {
        ServiceError::new(413, message, false)
    }
    /// 500: a fault of the service.
    pub fn internal(message: impl Into<String>) -> ServiceError {
        ServiceError::new(500, message, false)
    }
}

impl From<crate::TooLarge> for ServiceError {
    fn from(err: crate::TooLarge) -> ServiceError {
        ServiceError::payload_too_large(format!("payload too large: {err}; nothing was committed"))
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> ServiceError {
        ServiceError::internal(err.to_string())
    }
}

pub(crate) type CommandFn = Box<dyn Fn(&mut Context<'_>, &[u8]) -> Result<Vec<u8>, ServiceError> + Send + Sync>;
pub(crate) type QueryFn = Box<dyn Fn(&View, &[u8]) -> Result<Vec<u8>, ServiceError> + Send + Sync>;

/// A served operation, type-erased.
pub(crate) enum Endpoint {
    /// Changes state: runs in a store transaction, may emit events through the outbox.
    Command(CommandFn),
    /// Reads committed state only.
    Query(QueryFn),
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Endpoint::Command(_) => "Command",
            Endpoint::Query(_) => "Query",
        })
    }
}

#[derive(Debug)]
pub(crate) struct Served {
    pub operation: String,
    pub subject: String,
    pub endpoint: Endpoint,
    /// The request's key (`Operation::KEY`): a partition forwards it to the key's owner.
    pub key: Option<crate::partition::Key>,
    /// Set for an operation every partition answers in part: how the parts merge.
    pub gather: Option<GatherFn>,
}

/// `handler` for requests of `O`, erased, as a command: an emit refused as too large
/// refuses the request (413), whatever the handler returned.
pub(crate) fn command_fn<O: Operation>(
    handler: impl Fn(&mut Context<'_>, O::Request) -> Result<O::Response, ServiceError> + Send + Sync + 'static,
) -> Endpoint {
    Endpoint::Command(Box::new(move |ctx: &mut Context<'_>, payload: &[u8]| {
        let response = handler(ctx, decode_request(payload)?);
        if let Some(too_large) = ctx.too_large.take() {
            return Err(ServiceError::from(too_large));
        }
        encode_response(&response?)
    }))
}

/// `handler` for requests of `O`, erased, as a query.
pub(crate) fn query_fn<O: Operation>(
    handler: impl Fn(&View, O::Request) -> Result<O::Response, ServiceError> + Send + Sync + 'static,
) -> Endpoint {
    Endpoint::Query(Box::new(move |view: &View, payload: &[u8]| {
        let response = handler(view, decode_request(payload)?)?;
        encode_response(&response)
    }))
}

/// The request as `T`, decoded strictly (`codec/`); a 400 naming the rule broken and
/// where, otherwise.
fn decode_request<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, ServiceError> {
    crate::codec::decode(payload).map_err(|e| ServiceError::bad_request(format!("request does not decode: {e}")))
}

fn encode_response<T: Serialize>(response: &T) -> Result<Vec<u8>, ServiceError> {
    rmp_serde::to_vec_named(response).map_err(|e| ServiceError::internal(format!("response does not encode: {e}")))
}

/// Merges the encoded answers of every partition into one encoded answer.
pub(crate) type MergeFn = dyn Fn(&[u8], Vec<bytes::Bytes>) -> Result<Vec<u8>, ServiceError> + Send + Sync;

/// How a gathered operation's answers merge (`Component::gathered`).
#[derive(Clone)]
pub(crate) struct GatherFn(pub std::sync::Arc<MergeFn>);

impl std::fmt::Debug for GatherFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GatherFn")
    }
}
