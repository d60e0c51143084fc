//! The control service every component gets, on `svc.<component>.admin.*`: `status`,
//! `rebuild` and `retry-set-aside`. The operator tool talks to it over the bus; no tool ever
//! opens a component's files. Bodies are JSON so that `nats req svc.<component>.admin.status
//! ''` is readable.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_nats::service::{Request, Service};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tokio::task::JoinSet;

use crate::consumer::{Consumer, StartAt};
use crate::consumers::Consumers;
use crate::error::{Error, Result};
use crate::handler::ServiceError;
use crate::outbox;
use crate::setaside;
use crate::shared::Shared;
use crate::store::{DEAD_LETTER_COUNT, STATE, WATERMARK};

pub use crate::setaside::{SetAsideEntry, SetAsideStatus};

/// The admin operation that retries the set-aside outbox entries.
pub const RETRY_SET_ASIDE: &str = "retry-set-aside";

/// The subject of a component's admin operation, e.g. `svc.orders.admin.status`.
pub fn admin_subject(component: &str, operation: &str) -> String {
    format!("svc.{component}.admin.{operation}")
}

// The bodies below are the admin protocol, which a component in another language implements
// too: their doc comments are the published schemas' descriptions (`schemas/json/admin/`,
// generated with the `json-schema` feature) and speak to whoever implements it.

/// The reply of `svc.<component>.admin.status` (JSON): how the component is doing — its
/// consumers, outbox and dead letters. `mandate status` lists it; `mandate replay` polls it to
/// follow a rebuild.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct StatusReport {
    /// The component's name.
    pub component: String,
    /// Its version.
    pub version: String,
    /// When this process started, RFC 3339.
    pub started_at: String,
    /// Seconds since this process started.
    pub uptime_seconds: u64,
    /// True from a rebuild request until every consumer has re-applied its history.
    pub rebuilding: bool,
    /// One per durable consumer (per source stream); empty when it consumes nothing.
    pub consumers: Vec<ConsumerStatus>,
    /// Events committed but not yet acknowledged by JetStream (0 without an outbox).
    pub outbox_depth: u64,
    /// Messages this component has dead-lettered since its store was created.
    pub dead_letters: u64,
    /// Outbox entries the server refuses for good, set aside so as not to hold up the rest.
    #[serde(default)]
    pub set_aside: SetAsideStatus,
    /// The event types it publishes.
    pub publishes: Vec<String>,
    /// The operations it serves.
    pub serves: Vec<String>,
}

/// The reply of `svc.<component>.admin.retry-set-aside` (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct RetrySetAsideReport {
    /// The component's name.
    pub component: String,
    /// Entries put back at the tail of the outbox.
    pub retried: u64,
}

/// One durable consumer of the component, on one source stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct ConsumerStatus {
    /// The source stream, `EVT_<OWNER>`.
    pub stream: String,
    /// The durable consumer's name: the component's.
    pub consumer: String,
    /// Its filter subjects, `evt.<owner>.<event>.v<N>`.
    pub subjects: Vec<String>,
    /// The last stream sequence whose effects are committed in the store.
    pub applied_sequence: u64,
    /// Events of the stream not yet delivered to this consumer, or not yet acknowledged
    /// (null: the server did not say).
    pub pending: Option<u64>,
    /// Up to this stream sequence a rebuild re-applies without re-publishing (0: no rebuild
    /// yet).
    pub replay_until: u64,
    /// True once it has applied everything the stream held when it started (or rebuilt).
    pub caught_up: bool,
}

/// The request of `svc.<component>.admin.rebuild` (JSON; an empty body means `{}`): wipe the
/// store and re-consume every source stream from the beginning, or from a sequence or a time
/// (not both). Events handlers emit while re-applying what was applied before are not
/// published again.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "json-schema",
    schemars(extend("not" = {"required": ["from_sequence", "since"]}))
)]
pub struct RebuildRequest {
    /// Re-consume from this stream sequence (of every source stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_sequence: Option<u64>,
    /// Re-consume events published at or after this RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "json-schema", schemars(extend("format" = "date-time")))]
    pub since: Option<String>,
}

/// The reply of `svc.<component>.admin.rebuild` (JSON), sent once the rebuild has started
/// (the store is wiped, the consumers re-seated): follow it with `admin.status` until
/// `rebuilding` is false and every consumer is `caught_up`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct RebuildReport {
    /// The component's name.
    pub component: String,
    /// True: the rebuild has started.
    pub started: bool,
    /// Store entries wiped.
    pub wiped: u64,
    /// The consumers as they are after the wipe.
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

/// What the admin endpoints answer about and act on.
#[derive(Debug)]
pub(crate) struct Admin {
    pub shared: Arc<Shared>,
    pub consumers: Arc<Consumers>,
    pub version: String,
    /// The operations the component serves.
    pub serves: Vec<String>,
    pub started_at: Instant,
    pub started_at_rfc3339: String,
}

/// Adds the admin endpoints to the component's service, one task each.
pub(crate) async fn add_endpoints(admin: Arc<Admin>, service: &Service, tasks: &mut JoinSet<()>) -> Result<()> {
    for operation in ["status", "rebuild", RETRY_SET_ASIDE] {
        let mut endpoint = service
            .endpoint_builder()
            .name(format!("admin-{operation}"))
            .add(admin_subject(&admin.shared.admin_name(), operation))
            .await
            .map_err(|e| Error::nats("adding an admin endpoint", e))?;
        let admin = Arc::clone(&admin);
        tasks.spawn(async move {
            while let Some(request) = endpoint.next().await {
                let reply = match operation {
                    "status" => to_json(status(&admin).await),
                    RETRY_SET_ASIDE => to_json(retry_set_aside(&admin.shared).await),
                    _ => match parse_rebuild(&request) {
                        Ok(start) => to_json(rebuild(&admin, start).await),
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

async fn status(admin: &Admin) -> Result<StatusReport, ServiceError> {
    let shared = &admin.shared;
    // Before the rebuild flag: a report that says "rebuilding" then shows consumers as they
    // were while it was.
    let consumers = consumer_statuses(admin).await?;
    Ok(StatusReport {
        component: shared.name().to_owned(),
        version: admin.version.clone(),
        started_at: admin.started_at_rfc3339.clone(),
        uptime_seconds: admin.started_at.elapsed().as_secs(),
        rebuilding: shared.is_rebuilding(),
        consumers,
        outbox_depth: outbox::depth(shared.store()),
        dead_letters: shared.store().read_u64(DEAD_LETTER_COUNT)?,
        set_aside: setaside::status(shared.store())?,
        publishes: shared.publishes().iter().cloned().collect(),
        serves: admin.serves.clone(),
    })
}

async fn consumer_statuses(admin: &Admin) -> Result<Vec<ConsumerStatus>, ServiceError> {
    let mut statuses = Vec::new();
    for consumer in admin.consumers.iter() {
        statuses.push(consumer_status(&admin.shared, consumer).await?);
    }
    Ok(statuses)
}

/// Puts the set-aside outbox entries back at the tail of the outbox, as the one writer, and
/// hands them to the relay.
async fn retry_set_aside(shared: &Shared) -> Result<RetrySetAsideReport, ServiceError> {
    let retried = {
        let _writer = shared.writer().await;
        let (retried, committed) = setaside::retry(shared.store())?;
        shared.hand_off(committed).await;
        retried
    };
    tracing::info!(retried, "set-aside outbox entries put back in the outbox");
    Ok(RetrySetAsideReport {
        component: shared.name().to_owned(),
        retried,
    })
}

async fn consumer_status(shared: &Shared, consumer: &Consumer) -> Result<ConsumerStatus, ServiceError> {
    let spec = consumer.spec();
    // Its own stream's history read, nothing is pending for it: its own events are applied
    // as they are emitted (`own.rs`), and its durable consumer is gone.
    let history_read = consumer.progress().history_read.load(Ordering::Acquire);
    let pending = match shared
        .js()
        .get_consumer_from_stream::<async_nats::jetstream::consumer::pull::Config, _, _>(&spec.durable, &spec.stream)
        .await
    {
        Ok(mut consumer) => consumer
            .info()
            .await
            .ok()
            .map(|info| info.num_pending + info.num_ack_pending as u64),
        Err(_) if history_read => Some(0),
        Err(_) => None,
    };
    Ok(ConsumerStatus {
        stream: spec.stream.clone(),
        consumer: spec.durable.clone(),
        subjects: spec.subjects.clone(),
        applied_sequence: consumer.applied_sequence()?,
        pending,
        replay_until: consumer.replay_mark()?,
        caught_up: consumer.progress().caught_up.load(Ordering::Acquire),
    })
}

/// Wipes the component's state and re-consumes its streams from `start`.
///
/// Before wiping it stops the consumers, publishes whatever the outbox holds, and records
/// each consumer's applied sequence as its replay mark: events handlers emit while
/// re-applying up to the mark are discarded, because they were published the first time.
async fn rebuild(admin: &Admin, start: StartAt) -> Result<RebuildReport, ServiceError> {
    let (shared, consumers) = (&admin.shared, &admin.consumers);
    // Admin requests are handled one at a time, so nothing starts a rebuild between this
    // check and `begin_rebuild`; the consumers stop first so that none of them can see the
    // flag and report itself caught up with a rebuild that has not started.
    if shared.is_rebuilding() {
        return Err(ServiceError::conflict(format!(
            "{} is already rebuilding",
            shared.name()
        )));
    }
    tracing::info!(?start, "rebuild requested: stopping consumers");
    consumers.stop().await;
    shared.begin_rebuild();
    let wiped = match wipe(shared, consumers).await {
        Ok(wiped) => wiped,
        Err(err) => {
            shared.end_rebuild();
            consumers.start(None).await;
            return Err(err);
        }
    };
    for consumer in consumers.iter() {
        let progress = consumer.progress();
        progress.caught_up.store(false, Ordering::Release);
        progress.applied.store(0, Ordering::Release);
    }
    tracing::info!(wiped, "store wiped; re-consuming");
    consumers.start(Some(start)).await;
    // A component with nothing to re-consume is caught up at once.
    shared.note_caught_up();
    Ok(RebuildReport {
        component: shared.name().to_owned(),
        started: true,
        wiped,
        consumers: consumer_statuses(admin).await?,
    })
}

async fn wipe(shared: &Shared, consumers: &Consumers) -> Result<u64, ServiceError> {
    shared
        .relay()
        .drain(Duration::from_secs(30))
        .await
        .map_err(|e| ServiceError::unavailable(format!("cannot publish the outbox before the rebuild: {e}")))?;
    let _writer = shared.writer().await;
    let mut tx = shared.store().begin();
    consumers.mark_replay(&mut tx)?;
    shared.hand_off(shared.store().commit(tx)?).await;
    for consumer in consumers.iter() {
        consumer
            .progress()
            .replay_until
            .store(consumer.replay_mark()?, Ordering::Release);
    }
    Ok(shared.store().wipe(&[STATE, WATERMARK])?)
}
