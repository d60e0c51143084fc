//! The control service every component gets, on `svc.<component>.admin.*`: `status`,
//! `rebuild` and `retry-set-aside`. The operator tool talks to it over the bus; no tool ever
//! opens a component's files. Bodies are JSON so that `nats req svc.<component>.admin.status
//! ''` is readable.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::service::{Request, Service};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tokio::task::JoinSet;

use crate::consumer::{self, StartAt};
use crate::error::{Error, Result};
use crate::outbox;
use crate::runtime::Shared;
use crate::service::ServiceError;
use crate::setaside;
use crate::store::{DEAD_LETTER_COUNT, STATE, WATERMARK};

/// The admin operation that retries the set-aside outbox entries.
pub const RETRY_SET_ASIDE: &str = "retry-set-aside";

/// The subject of a component's admin operation, e.g. `svc.orders.admin.status`.
pub fn admin_subject(component: &str, operation: &str) -> String {
    format!("svc.{component}.admin.{operation}")
}

/// What `svc.<component>.admin.status` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    pub component: String,
    pub version: String,
    pub started_at: String,
    pub uptime_seconds: u64,
    /// True from a rebuild request until every consumer has re-applied its history.
    pub rebuilding: bool,
    pub consumers: Vec<ConsumerStatus>,
    /// Messages committed but not yet acknowledged by JetStream.
    pub outbox_depth: u64,
    /// Messages this component has dead-lettered since its store was created.
    pub dead_letters: u64,
    /// Outbox entries the server refuses for good, set aside so as not to hold up the rest.
    #[serde(default)]
    pub set_aside: SetAsideStatus,
    pub publishes: Vec<String>,
    pub serves: Vec<String>,
}

/// The outbox entries the relay has set aside (`StatusReport::set_aside`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAsideStatus {
    pub count: u64,
    /// When the first and the last of them (in commit order) were set aside, RFC 3339.
    pub oldest: Option<String>,
    pub newest: Option<String>,
    /// The first ones in commit order (at most 20).
    pub entries: Vec<SetAsideEntry>,
}

/// One set-aside outbox entry: what it is, and why the server will not take it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAsideEntry {
    /// Its place in commit order (the outbox id).
    pub id: u64,
    pub subject: String,
    /// Payload plus encoded headers, in bytes: what the server counts against max_payload.
    pub size: u64,
    pub ce_type: Option<String>,
    pub ce_id: Option<String>,
    pub reason: String,
    pub set_aside_at: String,
}

/// What `svc.<component>.admin.retry-set-aside` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrySetAsideReport {
    pub component: String,
    /// Entries put back at the tail of the outbox.
    pub retried: u64,
}

/// One consumer in a [`StatusReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerStatus {
    pub stream: String,
    pub consumer: String,
    pub subjects: Vec<String>,
    /// The last stream sequence whose effects are committed in the store.
    pub applied_sequence: u64,
    /// Events of the stream not yet delivered to this consumer (`None`: the server did not say).
    pub pending: Option<u64>,
    /// Up to here a rebuild re-applies without re-publishing.
    pub replay_until: u64,
    pub caught_up: bool,
}

/// What `svc.<component>.admin.rebuild` takes: where to re-consume from. An empty body
/// means the beginning.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebuildRequest {
    /// Re-consume from this stream sequence (of every source stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_sequence: Option<u64>,
    /// Re-consume events published at or after this RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

/// What a rebuild request answers: the rebuild has started; poll `status` for progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildReport {
    pub component: String,
    pub started: bool,
    /// Store entries wiped.
    pub wiped: u64,
    pub consumers: Vec<ConsumerStatus>,
}

impl RebuildRequest {
    fn start_at(&self) -> Result<StartAt, ServiceError> {
        match (self.from_sequence, &self.since) {
            (Some(_), Some(_)) => Err(ServiceError::bad_request("give from_sequence or since, not both")),
            (Some(seq), None) => Ok(StartAt::Sequence(seq)),
            (None, Some(since)) => OffsetDateTime::parse(since, &Rfc3339)
                .map(StartAt::Time)
                .map_err(|e| ServiceError::bad_request(format!("since {since:?} is not an RFC 3339 time: {e}"))),
            (None, None) => Ok(StartAt::Beginning),
        }
    }
}

pub(crate) async fn add_endpoints(shared: &Arc<Shared>, service: &Service, tasks: &mut JoinSet<()>) -> Result<()> {
    for operation in ["status", "rebuild", RETRY_SET_ASIDE] {
        let mut endpoint = service
            .endpoint_builder()
            .name(format!("admin-{operation}"))
            .add(admin_subject(&shared.name, operation))
            .await
            .map_err(|e| Error::nats("adding an admin endpoint", e))?;
        let shared = Arc::clone(shared);
        tasks.spawn(async move {
            while let Some(request) = endpoint.next().await {
                let reply = match operation {
                    "status" => to_json(status(&shared).await),
                    RETRY_SET_ASIDE => to_json(retry_set_aside(&shared)),
                    _ => match parse_rebuild(&request) {
                        Ok(start) => to_json(rebuild(&shared, start).await),
                        Err(err) => Err(err),
                    },
                };
                respond(&request, reply).await;
            }
        });
    }
    Ok(())
}

fn parse_rebuild(request: &Request) -> Result<StartAt, ServiceError> {
    let body = &request.message.payload;
    let parsed: RebuildRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RebuildRequest::default()
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ServiceError::bad_request(format!("rebuild request is not valid JSON: {e}")))?
    };
    parsed.start_at()
}

fn to_json<T: Serialize>(result: Result<T, ServiceError>) -> Result<Vec<u8>, ServiceError> {
    result.and_then(|value| serde_json::to_vec(&value).map_err(|e| ServiceError::internal(e.to_string())))
}

async fn respond(request: &Request, reply: Result<Vec<u8>, ServiceError>) {
    let result = match reply {
        Ok(body) => request.respond(Ok(body.into())).await,
        Err(err) => {
            request
                .respond(Err(async_nats::service::error::Error {
                    status: err.message,
                    code: usize::from(err.code),
                }))
                .await
        }
    };
    if let Err(err) = result {
        tracing::warn!(error = %err, "cannot answer an admin request");
    }
}

pub(crate) async fn status(shared: &Shared) -> Result<StatusReport, ServiceError> {
    let mut consumers = Vec::with_capacity(shared.consumers.len());
    for index in 0..shared.consumers.len() {
        consumers.push(consumer_status(shared, index).await?);
    }
    Ok(StatusReport {
        component: shared.name.clone(),
        version: shared.version.clone(),
        started_at: shared.started_at_rfc3339.clone(),
        uptime_seconds: shared.started_at.elapsed().as_secs(),
        rebuilding: shared.is_rebuilding(),
        consumers,
        outbox_depth: outbox::depth(&shared.store),
        dead_letters: shared.store.read_u64(DEAD_LETTER_COUNT)?,
        set_aside: setaside::status(&shared.store)?,
        publishes: shared.publishes.iter().cloned().collect(),
        serves: shared.served.iter().map(|s| s.operation.clone()).collect(),
    })
}

/// Puts the set-aside outbox entries back at the tail of the outbox and wakes the relay.
fn retry_set_aside(shared: &Shared) -> Result<RetrySetAsideReport, ServiceError> {
    let retried = setaside::retry(&shared.store)?;
    tracing::info!(retried, "set-aside outbox entries put back in the outbox");
    shared.relay.wake();
    Ok(RetrySetAsideReport {
        component: shared.name.clone(),
        retried,
    })
}

async fn consumer_status(shared: &Shared, index: usize) -> Result<ConsumerStatus, ServiceError> {
    let spec = &shared.consumers[index];
    let pending = match shared
        .js
        .get_consumer_from_stream::<async_nats::jetstream::consumer::pull::Config, _, _>(&spec.durable, &spec.stream)
        .await
    {
        Ok(mut consumer) => consumer
            .info()
            .await
            .ok()
            .map(|info| info.num_pending + info.num_ack_pending as u64),
        Err(_) => None,
    };
    Ok(ConsumerStatus {
        stream: spec.stream.clone(),
        consumer: spec.durable.clone(),
        subjects: spec.subjects.clone(),
        applied_sequence: consumer::watermark(shared, index)?,
        pending,
        replay_until: consumer::replay_mark(shared, index)?,
        caught_up: shared.progress[index].caught_up.load(Ordering::Acquire),
    })
}

/// Wipes the component's state and re-consumes its streams from `start`.
///
/// Before wiping it stops the consumers, publishes whatever the outbox holds, and records
/// each consumer's applied sequence as its replay mark: events handlers emit while
/// re-applying up to the mark are discarded, because they were published the first time.
pub(crate) async fn rebuild(shared: &Arc<Shared>, start: StartAt) -> Result<RebuildReport, ServiceError> {
    // Admin requests are handled one at a time, so nothing starts a rebuild between this
    // check and `begin_rebuild`; the consumers stop first so that none of them can see the
    // flag and report itself caught up with a rebuild that has not started.
    if shared.is_rebuilding() {
        return Err(ServiceError::conflict(format!("{} is already rebuilding", shared.name)));
    }
    tracing::info!(?start, "rebuild requested: stopping consumers");
    shared.stop_consumers().await;
    shared.begin_rebuild();
    let wiped = match wipe(shared).await {
        Ok(wiped) => wiped,
        Err(err) => {
            shared.end_rebuild();
            shared.start_consumers(None).await;
            return Err(err);
        }
    };
    for progress in &shared.progress {
        progress.caught_up.store(false, Ordering::Release);
        progress.applied.store(0, Ordering::Release);
    }
    tracing::info!(wiped, "store wiped; re-consuming");
    shared.start_consumers(Some(start)).await;
    // A component with nothing to re-consume is caught up at once.
    shared.note_caught_up();
    let mut consumers = Vec::new();
    for index in 0..shared.consumers.len() {
        consumers.push(consumer_status(shared, index).await?);
    }
    Ok(RebuildReport {
        component: shared.name.clone(),
        started: true,
        wiped,
        consumers,
    })
}

async fn wipe(shared: &Shared) -> Result<u64, ServiceError> {
    shared
        .relay
        .drain(Duration::from_secs(30))
        .await
        .map_err(|e| ServiceError::unavailable(format!("cannot publish the outbox before the rebuild: {e}")))?;
    let _writer = shared.write_lock.lock().await;
    let mut tx = shared.store.begin();
    consumer::mark_replay(shared, &mut tx)?;
    shared.store.commit(tx)?;
    for (index, progress) in shared.progress.iter().enumerate() {
        progress
            .replay_until
            .store(consumer::replay_mark(shared, index)?, Ordering::Release);
    }
    Ok(shared.store.wipe(&[STATE, WATERMARK])?)
}
