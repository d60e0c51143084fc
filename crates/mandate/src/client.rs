//! [`Bus`]: the typed client side of the contract, for callers that are not components —
//! the gateway, tools, tests — and for components calling each other's services.

use std::time::Duration;

use async_nats::{HeaderMap, RequestErrorKind, jetstream};
use bytes::Bytes;

use crate::admin::{RETRY_SET_ASIDE, RebuildReport, RebuildRequest, RetrySetAsideReport, StatusReport, admin_subject};
use crate::contract::{Event, Operation};
use crate::envelope::{CORRELATION_ID, Meta, TRACEPARENT, TraceParent};
use crate::error::{Error, Result};
use crate::handler::{RETRYABLE_HEADER, ServiceError};
use crate::options::ConnectionOptions;

/// Why a service call did not return a response.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The service answered with a typed error.
    #[error("{subject} refused: {error}")]
    Service { subject: String, error: ServiceError },
    /// Nobody answered in time.
    #[error("{subject} did not answer within {after:?}")]
    Timeout { subject: String, after: Duration },
    /// Nobody serves the subject (is the component running?).
    #[error("nobody serves {subject}: is its component running?")]
    NoResponders { subject: String },
    /// The reply is not the declared response type.
    #[error("the reply of {subject} does not decode: {reason}")]
    Decode { subject: String, reason: String },
    /// The request did not encode or could not be sent.
    #[error("cannot send {subject}: {reason}")]
    Send { subject: String, reason: String },
}

impl CallError {
    /// True when the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        match self {
            CallError::Service { error, .. } => error.retryable,
            CallError::Timeout { .. } | CallError::NoResponders { .. } => true,
            CallError::Decode { .. } | CallError::Send { .. } => false,
        }
    }

    /// The service's typed error, if that is what this is.
    pub fn service_error(&self) -> Option<&ServiceError> {
        match self {
            CallError::Service { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// A connection to the bus with typed calls and publishes.
#[derive(Debug, Clone)]
pub struct Bus {
    client: async_nats::Client,
    js: jetstream::Context,
    name: String,
    timeout: Duration,
}

impl Bus {
    /// Connects as `name` (retry, credentials and the version check as for components).
    pub async fn connect(options: &ConnectionOptions, name: &str) -> Result<Bus> {
        let client = crate::connect::connect(options, name).await?;
        Ok(Bus::new(client, name))
    }

    /// Wraps an existing connection, named `name` (in logs and the server's connection list).
    pub fn new(client: async_nats::Client, name: &str) -> Bus {
        Bus {
            js: jetstream::new(client.clone()),
            client,
            name: name.to_owned(),
            timeout: Duration::from_secs(5),
        }
    }

    /// The same bus with another call timeout (default 5 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Bus {
        self.timeout = timeout;
        self
    }

    /// The name this bus was given.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// Calls `O` with `request` and decodes its response or typed error.
    pub async fn call<O: Operation>(&self, request: &O::Request) -> Result<O::Response, CallError> {
        let subject = O::subject();
        let payload = rmp_serde::to_vec_named(request).map_err(|e| CallError::Send {
            subject: subject.clone(),
            reason: e.to_string(),
        })?;
        let reply = self.request(&subject, payload.into()).await?;
        crate::codec::decode(&reply).map_err(|e| CallError::Decode {
            subject,
            reason: e.to_string(),
        })
    }

    /// Sends raw bytes to a service subject and returns the raw reply, or the typed error
    /// from its `Nats-Service-Error*` headers. Starts a correlation id, and a trace — or,
    /// inside a span of this process (`telemetry::in_span`, traces exported), goes on with its.
    pub async fn request(&self, subject: &str, payload: Bytes) -> Result<Bytes, CallError> {
        let mut headers = HeaderMap::new();
        let traceparent = crate::telemetry::current().unwrap_or_else(TraceParent::new_root);
        headers.insert(TRACEPARENT, traceparent.to_string().as_str());
        headers.insert(CORRELATION_ID, uuid::Uuid::now_v7().to_string().as_str());
        let request = async_nats::Request::new()
            .payload(payload)
            .headers(headers)
            .timeout(Some(self.timeout));
        let message = self
            .client
            .send_request(subject.to_owned(), request)
            .await
            .map_err(|e| match e.kind() {
                RequestErrorKind::TimedOut => CallError::Timeout {
                    subject: subject.to_owned(),
                    after: self.timeout,
                },
                RequestErrorKind::NoResponders => CallError::NoResponders {
                    subject: subject.to_owned(),
                },
                _ => CallError::Send {
                    subject: subject.to_owned(),
                    reason: e.to_string(),
                },
            })?;
        if let Some(error) = service_error(message.headers.as_ref()) {
            return Err(CallError::Service {
                subject: subject.to_owned(),
                error,
            });
        }
        Ok(message.payload)
    }

    /// Publishes `event` as an outside publisher would (a fresh id and trace; not through an
    /// outbox) and waits for JetStream's ack. Components emit through their
    /// [`Context`](crate::Context) instead.
    ///
    /// `ce-source` is `E`'s owner, whatever this bus is named: only the owner publishes its
    /// events (the broker enforces it), so whoever may publish one speaks for the owner, and
    /// consumers refuse another source.
    pub async fn publish<E: Event>(&self, event: &E) -> Result<Meta> {
        let meta = Meta::originate(E::OWNER, E::ce_type());
        let payload = rmp_serde::to_vec_named(event)?;
        let subject = E::publish_subject(&payload)?;
        self.publish_raw(&subject, meta.to_headers(), payload.into()).await?;
        Ok(meta)
    }

    /// Publishes raw bytes with the given headers to JetStream and waits for the ack.
    pub async fn publish_raw(&self, subject: &str, headers: HeaderMap, payload: Bytes) -> Result<u64> {
        let ack = self
            .js
            .publish_with_headers(subject.to_owned(), headers, payload)
            .await
            .map_err(|e| Error::js(&format!("publishing to {subject}"), e))?
            .await
            .map_err(|e| Error::js(&format!("publishing to {subject}"), e))?;
        Ok(ack.sequence)
    }

    /// Asks a component for its status over its admin service.
    pub async fn status(&self, component: &str) -> Result<StatusReport, CallError> {
        self.admin(component, "status", Bytes::new()).await
    }

    /// Asks a component to wipe its store and rebuild it from the streams.
    pub async fn rebuild(&self, component: &str, request: &RebuildRequest) -> Result<RebuildReport, CallError> {
        let body = serde_json::to_vec(request).map_err(|e| CallError::Send {
            subject: admin_subject(component, "rebuild"),
            reason: e.to_string(),
        })?;
        self.admin(component, "rebuild", body.into()).await
    }

    /// Asks a component to put the outbox entries its relay set aside back in its outbox
    /// (once what made the server refuse them is fixed).
    pub async fn retry_set_aside(&self, component: &str) -> Result<RetrySetAsideReport, CallError> {
        self.admin(component, RETRY_SET_ASIDE, Bytes::new()).await
    }

    async fn admin<T: serde::de::DeserializeOwned>(
        &self,
        component: &str,
        operation: &str,
        body: Bytes,
    ) -> Result<T, CallError> {
        let subject = admin_subject(component, operation);
        let reply = self.request(&subject, body).await?;
        serde_json::from_slice(&reply).map_err(|e| CallError::Decode {
            subject,
            reason: e.to_string(),
        })
    }
}

/// The typed error in a reply's headers, if any.
pub(crate) fn service_error(headers: Option<&HeaderMap>) -> Option<ServiceError> {
    let headers = headers?;
    let code = headers.get(async_nats::service::NATS_SERVICE_ERROR_CODE)?;
    let message = headers
        .get(async_nats::service::NATS_SERVICE_ERROR)
        .map(|v| v.as_str().to_owned())
        .unwrap_or_default();
    Some(ServiceError {
        code: code.as_str().parse().unwrap_or(500),
        message,
        retryable: headers.get(RETRYABLE_HEADER).is_some_and(|v| v.as_str() == "true"),
    })
}
