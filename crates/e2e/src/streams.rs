//! A stream's messages, read as any client would: an ephemeral ordered consumer from the
//! first message to the last one the stream held when the reading began.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use crate::Stack;

/// One stored message.
#[derive(Debug, Clone)]
pub struct Stored {
    pub stream: String,
    pub sequence: u64,
    pub subject: String,
    pub headers: HeaderMap,
    pub payload: Bytes,
}

impl Stored {
    /// A header's value ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.as_str())
    }

    /// `stream #sequence (subject)`, for failure messages.
    pub fn at(&self) -> String {
        format!("{} #{} ({})", self.stream, self.sequence, self.subject)
    }
}

/// The names of every stream on the server, sorted.
pub async fn names(stack: &Stack) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = stack
        .bus
        .jetstream()
        .stream_names()
        .try_collect()
        .await
        .map_err(|e| format!("cannot list the streams: {e}"))?;
    names.sort();
    Ok(names)
}

/// Every message of `stream` (none when it does not exist), in order.
pub async fn read(stack: &Stack, stream: &str) -> Result<Vec<Stored>, String> {
    let js = stack.bus.jetstream();
    let Ok(mut handle) = js.get_stream(stream).await else {
        return Ok(Vec::new());
    };
    let state = handle
        .info()
        .await
        .map_err(|e| format!("cannot read {stream}'s info: {e}"))?
        .state
        .clone();
    if state.messages == 0 {
        return Ok(Vec::new());
    }
    let consumer = handle
        .create_consumer(OrderedConfig::default())
        .await
        .map_err(|e| format!("cannot read {stream}: {e}"))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| format!("cannot read {stream}: {e}"))?;
    let mut out = Vec::with_capacity(usize::try_from(state.messages).unwrap_or(0));
    while out.last().is_none_or(|m: &Stored| m.sequence < state.last_sequence) {
        let next = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .map_err(|_| format!("{stream} stopped delivering after {} messages", out.len()))?;
        let message = next
            .ok_or_else(|| format!("{stream} ended after {} messages", out.len()))?
            .map_err(|e| format!("reading {stream}: {e}"))?;
        let sequence = message
            .info()
            .map_err(|e| format!("reading {stream}: {e}"))?
            .stream_sequence;
        out.push(Stored {
            stream: stream.to_owned(),
            sequence,
            subject: message.subject.to_string(),
            headers: message.headers.clone().unwrap_or_default(),
            payload: message.payload.clone(),
        });
    }
    Ok(out)
}
