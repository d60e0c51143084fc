//! What a failed publish says about the message: a refusal for good, which the relay sets
//! aside (`setaside.rs`), or a failure a retry may get past, which it retries in order.
//!
//! For good: larger than the server's max payload (async-nats checks it against the server's
//! INFO before sending); larger than the stream's own limits (a JetStream error); no stream
//! for the subject — but "no responders" also answers for a while after a server restart, so
//! only when JetStream itself says the stream that should take the subject does not exist;
//! no permission — the server drops such a message and says so only with an asynchronous
//! `-ERR` while the ack times out, so a timeout counts as a refusal only when the server has
//! refused the subject since the window was sent (`connect::PublishRefusals`).
//! Anything else — a timeout, a lost connection, a server starting — is transient.

use std::collections::HashMap;
use std::time::Instant;

use async_nats::jetstream::context::{GetStreamErrorKind, PublishError, PublishErrorKind};
use async_nats::jetstream::{self, ErrorCode};

use crate::connect::PublishRefusals;
use crate::contract::{DEAD_LETTER_STREAM, stream_name};

/// Judges the failures of one window of publishes.
pub(crate) struct Judge<'a> {
    js: &'a jetstream::Context,
    denied: &'a PublishRefusals,
    /// When the window started sending: a permission refusal reported since then is one of
    /// its messages'.
    sent_from: Instant,
    /// Whether each stream asked about exists, asked once per window.
    missing: HashMap<String, bool>,
}

impl<'a> Judge<'a> {
    pub(crate) fn new(js: &'a jetstream::Context, denied: &'a PublishRefusals) -> Judge<'a> {
        Judge {
            js,
            denied,
            sent_from: Instant::now(),
            missing: HashMap::new(),
        }
    }

    /// Why the server will never take a message to `subject` whose publish (or ack) failed
    /// with `err`; `None` when a retry may get through.
    pub(crate) async fn refused_for_good(&mut self, err: &PublishError, subject: &str) -> Option<String> {
        match err.kind() {
            PublishErrorKind::MaxPayloadExceeded => Some(format!("larger than the server's max_payload ({err})")),
            PublishErrorKind::Other => {
                let code = std::error::Error::source(err)
                    .and_then(|source| source.downcast_ref::<jetstream::Error>())
                    .map(jetstream::Error::error_code)?;
                matches!(
                    code,
                    ErrorCode::STREAM_MESSAGE_EXCEEDS_MAXIMUM | ErrorCode::STREAM_HEADER_EXCEEDS_MAXIMUM
                )
                .then(|| format!("JetStream refuses it for good ({err})"))
            }
            PublishErrorKind::StreamNotFound => self.no_stream(subject).await,
            PublishErrorKind::TimedOut => self.denied.refused_since(subject, self.sent_from).then(|| {
                format!(
                    "the server denies this component permission to publish to {subject} (fix its bus user's permissions, then retry the set-aside entries)"
                )
            }),
            _ => None,
        }
    }

    /// Why a message to `subject` got "no responders", if JetStream confirms that the stream
    /// that should take it does not exist; `None` if it exists or JetStream does not say.
    async fn no_stream(&mut self, subject: &str) -> Option<String> {
        let stream = capturing_stream(subject)?;
        let missing = match self.missing.get(&stream) {
            Some(missing) => *missing,
            None => {
                let missing = match self.js.get_stream(&stream).await {
                    Ok(_) => false,
                    Err(err) => matches!(
                        err.kind(),
                        GetStreamErrorKind::JetStream(e) if e.error_code() == ErrorCode::STREAM_NOT_FOUND
                    ),
                };
                self.missing.insert(stream.clone(), missing);
                missing
            }
        };
        missing.then(|| {
            format!(
                "no stream takes {subject}: JetStream has no stream {stream} (create it, then retry the set-aside entries)"
            )
        })
    }
}

/// The stream that should capture an outbox subject: `EVT_<OWNER>` for `evt.<owner>.…`,
/// `DLQ` for `dlq.…`.
fn capturing_stream(subject: &str) -> Option<String> {
    let mut tokens = subject.split('.');
    match (tokens.next()?, tokens.next()?) {
        ("evt", owner) => Some(stream_name(owner)),
        ("dlq", _) => Some(DEAD_LETTER_STREAM.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::capturing_stream;

    #[test]
    fn the_stream_of_an_outbox_subject_is_its_owners_or_dlq() {
        assert_eq!(capturing_stream("evt.orders.placed.v1").as_deref(), Some("EVT_ORDERS"));
        assert_eq!(capturing_stream("dlq.inventory").as_deref(), Some("DLQ"));
        assert_eq!(capturing_stream("svc.orders.place.v1"), None);
    }
}
