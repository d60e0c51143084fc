//! Service calls to a component running as partitions (docs/design.md, "Partitions"):
//! callers keep calling `svc.<owner>.<op>.v<N>` and never learn the count. Every partition
//! serves the public subject in the service's queue group, and its own private one,
//! `svc.<owner>.p<P>of<N>.<op>.v<N>` (not advertised). An operation about one key
//! (`Operation::KEY`) received by a partition that does not own the key is forwarded
//! unchanged — body, headers and reply subject — to the owner's private subject, and the
//! owner answers the caller directly. A gathered operation asks every partition and merges.

use std::time::Duration;

use async_nats::service::Request;
use futures::future::join_all;

use crate::envelope::{TRACEPARENT, TraceParent};
use crate::handler::{GatherFn, ServiceError};
use crate::partition::{Key, KeyError, Seat, key_of, slot_of};
use crate::telemetry;

/// How long a gathering partition waits for each partition's answer.
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);

/// The private subject of `seat`'s partition for the public `subject` (`svc.<owner>.<rest>`).
pub(crate) fn private_subject(subject: &str, seat: &Seat, index: u32) -> String {
    let (owner, rest) = subject
        .strip_prefix("svc.")
        .and_then(|s| s.split_once('.'))
        .unwrap_or((subject, ""));
    format!("svc.{owner}.p{index}of{}.{rest}", seat.count)
}

/// The partition that owns the request's key, when it is not `seat`: where to forward it.
/// A key that cannot be a subject token (an idempotency key with a dot) still has a slot —
/// routing needs no subject — so a retry with it reaches the same partition. A request whose
/// key cannot be read is handled here (its decoding refuses it).
pub(crate) fn elsewhere(seat: &Seat, key: &Key, payload: &[u8]) -> Option<u32> {
    if key.entity != seat.entity {
        return None;
    }
    let value = match key_of(payload, key) {
        Ok(value) | Err(KeyError::NotAToken { value, .. }) => value,
        Err(_) => return None,
    };
    let owner = slot_of(&value) % seat.count;
    (owner != seat.index).then_some(owner)
}

/// Sends `request` on to `subject` as it came, with its reply subject: the partition there
/// answers the caller.
pub(crate) async fn forward(client: &async_nats::Client, request: &Request, subject: String) {
    let message = &request.message;
    let Some(reply) = message.reply.clone() else {
        tracing::debug!(subject, "a request without a reply subject; nothing to forward");
        return;
    };
    let mut headers = message.headers.clone().unwrap_or_default();
    // Traces exported: the hop is a span of its own, the owner's the child of it.
    let received = headers.get(TRACEPARENT).map(|value| value.as_str());
    let mut span = telemetry::forward(received, &subject);
    if let Some(traceparent) = span.traceparent() {
        headers.insert(TRACEPARENT, traceparent.to_string().as_str());
    }
    if let Err(err) = client
        .publish_with_reply_and_headers(subject.clone(), reply, headers, message.payload.clone())
        .await
    {
        span.fail(|| err.to_string());
        tracing::warn!(subject, error = %err, "cannot forward the request to its partition");
    }
}

/// Asks every partition of `seat` for `request` on their private subjects and merges the
/// answers; any partition's error (or silence) is the answer. `traceparent`, when traces are
/// exported, is the gathering request's span: each partition's is its child.
pub(crate) async fn gather(
    client: &async_nats::Client,
    seat: &Seat,
    subject: &str,
    request: &Request,
    traceparent: Option<TraceParent>,
    merge: &GatherFn,
) -> Result<Vec<u8>, ServiceError> {
    let mut headers = request.message.headers.clone().unwrap_or_default();
    if let Some(traceparent) = traceparent {
        headers.insert(TRACEPARENT, traceparent.to_string().as_str());
    }
    let payload = request.message.payload.clone();
    let asks = (0..seat.count).map(|index| {
        let subject = private_subject(subject, seat, index);
        let request = async_nats::Request::new()
            .payload(payload.clone())
            .headers(headers.clone())
            .timeout(Some(GATHER_TIMEOUT));
        async move { (index, client.send_request(subject, request).await) }
    });
    let mut answers = Vec::with_capacity(seat.count as usize);
    for (index, answer) in join_all(asks).await {
        let message = answer.map_err(|err| {
            ServiceError::unavailable(format!("partition {index} of {} did not answer: {err}", seat.count))
        })?;
        if let Some(error) = crate::client::service_error(message.headers.as_ref()) {
            return Err(error);
        }
        answers.push(message.payload);
    }
    (merge.0)(&request.message.payload, answers)
}
