//! What is up on the bus, gathered: the components and their instances, endpoints, figures and
//! admin status, and every stream (`mandate status` prints it; the console samples it).
//!
//! Components are found with the NATS services API (ADR-32): a `$SRV.PING` whose replies are
//! gathered for a short window, then `$SRV.INFO` and `$SRV.STATS` per instance. Each
//! component is then asked for its admin status (`svc.<name>.admin.status`, the admin
//! protocol every kit component implements and any other may: `crate::admin`). One that
//! answers PING but not that is listed, never hidden, with what is missing ("no admin
//! protocol") or what is wrong with its reply ("invalid admin reply", with the JSON path of
//! each problem).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::stream;
use bytes::Bytes;
use futures::StreamExt;
use mandate::admin::StatusReport;
use mandate::{Bus, CallError};
use serde::{Deserialize, Serialize};

use crate::admin::AdminError;
use crate::{bus, output};

/// How long to listen and wait while gathering.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    /// How long to gather replies to `$SRV.PING` (every instance of every service answers).
    pub wait: Duration,
    /// How long each component may take to answer `$SRV.INFO`/`STATS` and its admin status.
    pub timeout: Duration,
}

/// What `--json` prints.
#[derive(Debug, Serialize)]
pub struct Status {
    pub components: Vec<ComponentStatus>,
    pub streams: Vec<StreamStatus>,
}

#[derive(Debug, Serialize)]
pub struct ComponentStatus {
    pub name: String,
    pub version: String,
    pub description: String,
    /// Service instance ids (one per running process).
    pub instances: Vec<String>,
    pub endpoints: Vec<String>,
    /// Each endpoint's figures, summed over instances (`$SRV.STATS`).
    pub endpoint_stats: Vec<EndpointStat>,
    /// Requests and errors served, summed over instances and endpoints (`$SRV.STATS`).
    pub requests: u64,
    pub errors: u64,
    /// `running`, `rebuilding`, `no admin protocol`, `invalid admin reply` or `not answering`.
    pub state: String,
    /// Why the admin status is missing, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Which partition this is, for a component run as partitions (null otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<PartitionStatus>,
    /// Its admin status (null when the component did not answer it as the protocol says).
    pub status: Option<StatusReport>,
}

/// One endpoint's figures over every instance of a service.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EndpointStat {
    pub name: String,
    pub subject: String,
    pub requests: u64,
    pub errors: u64,
    /// The mean processing time in milliseconds, weighted by each instance's requests.
    pub average_ms: f64,
    /// The last error an instance reported, if any.
    pub last_error: String,
}

/// A partition and the keys it owns: those whose slot is in `slots` (docs/design.md,
/// "Partitions"). Its consumers, with their lag, are in its admin status.
#[derive(Debug, Serialize)]
pub struct PartitionStatus {
    pub index: u32,
    pub count: u32,
    pub slots: Vec<u32>,
}

impl PartitionStatus {
    /// From a partition's label, `p<P>of<N>`.
    fn of(name: &str) -> Option<PartitionStatus> {
        let label = name.rsplit_once('.')?.1;
        let (index, count) = label.strip_prefix('p')?.split_once("of")?;
        let (index, count) = (index.parse::<u32>().ok()?, count.parse::<u32>().ok()?);
        (count > 0 && index < count).then(|| PartitionStatus {
            index,
            count,
            slots: (0..mandate::SLOTS).filter(|slot| slot % count == index).collect(),
        })
    }

    /// `1 of 3: slots 1 4 7 10`.
    pub fn describe(&self) -> String {
        let slots: Vec<String> = self.slots.iter().map(u32::to_string).collect();
        format!("{} of {}: slots {}", self.index, self.count, slots.join(" "))
    }
}

#[derive(Debug, Serialize)]
pub struct StreamStatus {
    pub name: String,
    pub subjects: Vec<String>,
    pub messages: u64,
    pub bytes: u64,
    pub first_sequence: u64,
    pub last_sequence: u64,
    pub consumers: usize,
}

#[derive(Debug, Deserialize)]
struct Ping {
    name: String,
    id: String,
    #[serde(default)]
    version: String,
}

#[derive(Debug, Default, Deserialize)]
struct Info {
    #[serde(default)]
    description: String,
    #[serde(default)]
    endpoints: Vec<EndpointInfo>,
}

#[derive(Debug, Deserialize)]
struct EndpointInfo {
    #[serde(default)]
    subject: String,
}

#[derive(Debug, Default, Deserialize)]
struct Stats {
    #[serde(default)]
    endpoints: Vec<EndpointStats>,
}

#[derive(Debug, Deserialize)]
struct EndpointStats {
    #[serde(default)]
    name: String,
    #[serde(default)]
    subject: String,
    #[serde(default, rename = "num_requests")]
    requests: u64,
    #[serde(default, rename = "num_errors")]
    errors: u64,
    /// Nanoseconds.
    #[serde(default)]
    average_processing_time: u64,
    #[serde(default)]
    last_error: String,
}

/// Each endpoint's figures summed over the instances, by subject.
fn endpoint_stats<'a>(stats: impl Iterator<Item = &'a EndpointStats>) -> Vec<EndpointStat> {
    let mut by_subject: BTreeMap<&str, (EndpointStat, f64)> = BTreeMap::new();
    for one in stats {
        let (sum, weighted_ns) = by_subject.entry(&one.subject).or_insert_with(|| {
            let stat = EndpointStat {
                name: one.name.clone(),
                subject: one.subject.clone(),
                ..EndpointStat::default()
            };
            (stat, 0.0)
        });
        sum.requests += one.requests;
        sum.errors += one.errors;
        *weighted_ns += one.average_processing_time as f64 * one.requests as f64;
        if !one.last_error.is_empty() {
            sum.last_error = one.last_error.clone();
        }
    }
    by_subject
        .into_values()
        .map(|(mut stat, weighted_ns)| {
            if stat.requests > 0 {
                stat.average_ms = weighted_ns / stat.requests as f64 / 1e6;
            }
            stat
        })
        .collect()
}

pub async fn gather(bus: &Bus, args: Patience) -> anyhow::Result<Status> {
    let pings = ping(bus, args.wait).await?;
    let mut by_name: BTreeMap<String, Vec<Ping>> = BTreeMap::new();
    for ping in pings {
        by_name.entry(ping.name.clone()).or_default().push(ping);
    }
    let admin = bus.clone().with_timeout(args.timeout);
    let components = futures::future::join_all(
        by_name
            .into_iter()
            .map(|(name, instances)| component(bus, &admin, name, instances, args.timeout)),
    )
    .await
    .into_iter()
    .flatten()
    .collect();
    let streams = bus::all_streams(bus.jetstream())
        .await?
        .into_iter()
        .map(stream_status)
        .collect();
    Ok(Status { components, streams })
}

/// Every reply to `$SRV.PING` within `window`.
async fn ping(bus: &Bus, window: Duration) -> anyhow::Result<Vec<Ping>> {
    let client = bus.client();
    let inbox = client.new_inbox();
    let mut replies = client
        .subscribe(inbox.clone())
        .await
        .context("subscribing for $SRV.PING replies")?;
    client
        .publish_with_reply("$SRV.PING", inbox, Bytes::new())
        .await
        .context("sending $SRV.PING")?;
    client.flush().await.context("sending $SRV.PING")?;
    let deadline = tokio::time::Instant::now() + window;
    let mut pings = Vec::new();
    while let Ok(Some(reply)) = tokio::time::timeout_at(deadline, replies.next()).await {
        if reply.status.is_some() {
            // "No responders": nothing serves $SRV.PING at all.
            continue;
        }
        match serde_json::from_slice::<Ping>(&reply.payload) {
            Ok(ping) => pings.push(ping),
            Err(err) => tracing::warn!(error = %err, "ignoring a malformed $SRV.PING reply"),
        }
    }
    let _ = replies.unsubscribe().await;
    Ok(pings)
}

/// One service's status — or, for a component run as partitions, one per partition, named as
/// each answers the admin protocol (`orders.p1of3`, `svc.orders.p1of3.admin.status`): the
/// partition an instance is shows in its endpoints (its own `svc.<name>.p<P>of<N>.…`).
async fn component(
    bus: &Bus,
    admin: &Bus,
    name: String,
    instances: Vec<Ping>,
    timeout: Duration,
) -> Vec<ComponentStatus> {
    let mut seen: BTreeMap<String, Vec<(Ping, Info, Stats)>> = BTreeMap::new();
    for instance in instances {
        let (info, stats) = tokio::join!(
            srv::<Info>(bus, "INFO", &instance, timeout),
            srv::<Stats>(bus, "STATS", &instance, timeout)
        );
        let info = info.unwrap_or_default();
        let admin_name = match partition_of(&name, &info) {
            Some(label) => format!("{name}.{label}"),
            None => name.clone(),
        };
        seen.entry(admin_name)
            .or_default()
            .push((instance, info, stats.unwrap_or_default()));
    }
    futures::future::join_all(
        seen.into_iter()
            .map(|(admin_name, instances)| one_status(admin, admin_name, instances)),
    )
    .await
}

/// `p<P>of<N>` when `info`'s endpoints include a partition's own subject of `name`.
fn partition_of(name: &str, info: &Info) -> Option<String> {
    let prefix = format!("svc.{name}.");
    info.endpoints.iter().find_map(|endpoint| {
        let label = endpoint.subject.strip_prefix(&prefix)?.split('.').next()?;
        let (index, count) = label.strip_prefix('p')?.split_once("of")?;
        (index.parse::<u32>().is_ok() && count.parse::<u32>().is_ok()).then(|| label.to_owned())
    })
}

async fn one_status(admin: &Bus, name: String, instances: Vec<(Ping, Info, Stats)>) -> ComponentStatus {
    let requests = instances
        .iter()
        .flat_map(|(_, _, s)| &s.endpoints)
        .map(|e| e.requests)
        .sum();
    let errors = instances
        .iter()
        .flat_map(|(_, _, s)| &s.endpoints)
        .map(|e| e.errors)
        .sum();
    let endpoint_stats = endpoint_stats(instances.iter().flat_map(|(_, _, s)| &s.endpoints));
    let mut instances = instances.into_iter();
    let first = instances.next();
    let (version, info, mut ids) = match first {
        Some((ping, info, _)) => (ping.version, info, vec![ping.id]),
        None => (String::new(), Info::default(), Vec::new()),
    };
    ids.extend(instances.map(|(ping, _, _)| ping.id));
    let (status, state, error) = match crate::admin::status(admin, &name).await {
        Ok(report) if report.rebuilding => (Some(report), "rebuilding", None),
        Ok(report) => (Some(report), "running", None),
        Err(err) => (None, state_of(&err), Some(admin_error(&err))),
    };
    ComponentStatus {
        version,
        description: info.description,
        instances: ids,
        endpoints: info.endpoints.into_iter().map(|e| e.subject).collect(),
        endpoint_stats,
        requests,
        errors,
        state: state.to_owned(),
        error,
        status,
        partition: PartitionStatus::of(&name),
        name,
    }
}

fn state_of(err: &AdminError) -> &'static str {
    match err {
        AdminError::Missing { .. } => "no admin protocol",
        AdminError::Invalid { .. } => "invalid admin reply",
        AdminError::Call(_) => "not answering",
    }
}

fn admin_error(err: &AdminError) -> String {
    match err {
        AdminError::Call(CallError::Timeout { subject, after }) => {
            format!("{subject} did not answer within {}", output::duration(*after))
        }
        other => other.to_string(),
    }
}

/// `$SRV.<verb>.<name>.<id>` of one instance; `None` when it does not answer in time.
async fn srv<T: serde::de::DeserializeOwned>(bus: &Bus, verb: &str, instance: &Ping, timeout: Duration) -> Option<T> {
    let subject = format!("$SRV.{verb}.{}.{}", instance.name, instance.id);
    let reply = tokio::time::timeout(timeout, bus.client().request(subject, Bytes::new()))
        .await
        .ok()?
        .ok()?;
    serde_json::from_slice(&reply.payload).ok()
}

fn stream_status(info: stream::Info) -> StreamStatus {
    StreamStatus {
        name: info.config.name,
        subjects: info.config.subjects,
        messages: info.state.messages,
        bytes: info.state.bytes,
        first_sequence: info.state.first_sequence,
        last_sequence: info.state.last_sequence,
        consumers: info.state.consumer_count,
    }
}
