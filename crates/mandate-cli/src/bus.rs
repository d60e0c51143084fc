//! What every networked command needs: a connection, headers as plain maps, and reading a
//! stream's history in order with ephemeral ordered consumers (nothing durable is left
//! behind on the server).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::{Ordered, OrderedConfig};
use async_nats::jetstream::context::{GetStreamErrorKind, PublishErrorKind};
use async_nats::jetstream::{self, stream};
use async_nats::{HeaderMap, HeaderName, HeaderValue};
use futures::{StreamExt, TryStreamExt};
use mandate::{Bus, ConnectionOptions};
use time::OffsetDateTime;

/// The name the tool connects as: its `ce-source` default and its inbox prefix
/// (`_INBOX.mandate-cli.>`), so broker permissions can grant it its own replies.
pub const CLIENT_NAME: &str = "mandate-cli";

/// How long a stream may stay silent while it still owes us history.
const HISTORY_STALL: Duration = Duration::from_secs(10);

pub async fn connect(options: &ConnectionOptions) -> anyhow::Result<Bus> {
    // The kit's connect errors already say what to do (start nats-server, set NATS_URL...).
    Ok(Bus::connect(options, CLIENT_NAME).await?)
}

/// Looks a stream up, with a helpful message when it does not exist.
pub async fn get_stream(js: &jetstream::Context, name: &str) -> anyhow::Result<stream::Stream> {
    find_stream(js, name).await?.ok_or_else(|| {
        anyhow!(
            "there is no stream {name:?} on this server: `mandate status` lists the streams (an owner creates EVT_<OWNER> when it starts)"
        )
    })
}

/// Looks a stream up; `None` when it does not exist.
pub async fn find_stream(js: &jetstream::Context, name: &str) -> anyhow::Result<Option<stream::Stream>> {
    match js.get_stream(name).await {
        Ok(stream) => Ok(Some(stream)),
        Err(err) => match err.kind() {
            GetStreamErrorKind::JetStream(e) if e.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND => Ok(None),
            _ => Err(anyhow!(err).context(format!("looking up stream {name}"))),
        },
    }
}

/// Every stream on the server, with its configuration and state.
pub async fn all_streams(js: &jetstream::Context) -> anyhow::Result<Vec<stream::Info>> {
    let mut streams: Vec<stream::Info> = js.streams().try_collect().await.context("listing JetStream streams")?;
    streams.sort_by(|a, b| a.config.name.cmp(&b.config.name));
    Ok(streams)
}

/// Where to start reading a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    All,
    Sequence(u64),
    Time(OffsetDateTime),
}

impl Start {
    fn deliver_policy(self) -> DeliverPolicy {
        match self {
            Start::All => DeliverPolicy::All,
            Start::Sequence(start_sequence) => DeliverPolicy::ByStartSequence { start_sequence },
            Start::Time(start_time) => DeliverPolicy::ByStartTime { start_time },
        }
    }
}

/// A stream read in order by an ephemeral ordered consumer: its history (what was pending
/// when it was opened), then, if wanted, whatever arrives after.
pub struct StreamReader {
    pub stream: String,
    messages: Ordered,
    remaining: u64,
}

impl StreamReader {
    /// Opens a reader on `stream` from `start`, restricted to `filters` (none: everything),
    /// optionally headers only.
    pub async fn open(
        js: &jetstream::Context,
        stream: &str,
        filters: &[String],
        start: Start,
        headers_only: bool,
    ) -> anyhow::Result<StreamReader> {
        let handle = get_stream(js, stream).await?;
        let (filter_subject, filter_subjects) = match filters {
            [one] => (one.clone(), Vec::new()),
            many => (String::new(), many.to_vec()),
        };
        let consumer = handle
            .create_consumer(OrderedConfig {
                filter_subject,
                filter_subjects,
                deliver_policy: start.deliver_policy(),
                headers_only,
                ..Default::default()
            })
            .await
            .with_context(|| format!("creating an ordered consumer on {stream}"))?;
        let remaining = consumer.cached_info().num_pending;
        let messages = consumer
            .messages()
            .await
            .with_context(|| format!("reading stream {stream}"))?;
        Ok(StreamReader {
            stream: stream.to_owned(),
            messages,
            remaining,
        })
    }

    /// Messages of the history not read yet (as the server last said).
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// The next message of the history; `None` once the reader has caught up.
    pub async fn next_history(&mut self) -> anyhow::Result<Option<jetstream::Message>> {
        if self.remaining == 0 {
            return Ok(None);
        }
        let message = tokio::time::timeout(HISTORY_STALL, self.messages.next())
            .await
            .map_err(|_| {
                anyhow!(
                    "stream {} stopped delivering with {} message(s) still pending: is the server overloaded?",
                    self.stream,
                    self.remaining
                )
            })?;
        let message = self.unwrap(message)?;
        self.remaining = message.info().map(|info| info.pending).unwrap_or(0);
        Ok(Some(message))
    }

    /// The next message, waiting as long as it takes (following a stream).
    pub async fn next(&mut self) -> anyhow::Result<jetstream::Message> {
        let message = self.messages.next().await;
        let message = self.unwrap(message)?;
        self.remaining = message.info().map(|info| info.pending).unwrap_or(0);
        Ok(message)
    }

    fn unwrap(
        &self,
        message: Option<Result<jetstream::Message, async_nats::jetstream::consumer::pull::OrderedError>>,
    ) -> anyhow::Result<jetstream::Message> {
        match message {
            Some(Ok(message)) => Ok(message),
            Some(Err(err)) => Err(anyhow!(err).context(format!("reading stream {}", self.stream))),
            None => bail!("the connection closed while reading stream {}", self.stream),
        }
    }
}

/// The first value of a header, if present.
pub fn header(headers: Option<&HeaderMap>, name: &str) -> Option<String> {
    headers?
        .get(name)
        .map(|value| value.as_str().to_owned())
        .filter(|value| !value.is_empty())
}

/// Headers as a sorted map of name → values (the export format, JSON output).
pub fn headers_to_map(headers: Option<&HeaderMap>) -> BTreeMap<String, Vec<String>> {
    let mut map = BTreeMap::new();
    if let Some(headers) = headers {
        for (name, values) in headers.iter() {
            map.insert(name.to_string(), values.iter().map(|v| v.as_str().to_owned()).collect());
        }
    }
    map
}

/// Builds headers from a name → values map, refusing names or values NATS cannot carry.
pub fn headers_from_map<'a>(
    entries: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>,
) -> anyhow::Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    for (name, values) in entries {
        let parsed: HeaderName = name
            .parse()
            .map_err(|_| anyhow!("{name:?} is not a valid NATS header name"))?;
        for value in values {
            let value: HeaderValue = value
                .parse()
                .map_err(|_| anyhow!("header {name}: {value:?} is not a valid header value (line breaks?)"))?;
            headers.append(parsed.clone(), value);
        }
    }
    Ok(headers)
}

/// A clap value parser for text that goes into a header (no line breaks).
pub fn header_text(text: &str) -> Result<String, String> {
    if text.is_empty() || text.contains(['\r', '\n']) {
        Err("must be non-empty text without line breaks".to_owned())
    } else {
        Ok(text.to_owned())
    }
}

/// Publishes to JetStream and waits for the ack, with a clear message when no stream
/// captures the subject.
pub async fn publish(
    bus: &Bus,
    subject: &str,
    headers: HeaderMap,
    payload: Vec<u8>,
) -> anyhow::Result<async_nats::jetstream::publish::PublishAck> {
    let result = async {
        bus.jetstream()
            .publish_with_headers(subject.to_owned(), headers, payload.into())
            .await?
            .await
    }
    .await;
    result.map_err(|err| match err.kind() {
        PublishErrorKind::StreamNotFound => anyhow!(
            "no JetStream stream captures {subject}: its owner creates EVT_<OWNER> when it starts — start the owner component (`mandate status` lists streams and components)"
        ),
        _ => anyhow!(err).context(format!("publishing to {subject}")),
    })
}
