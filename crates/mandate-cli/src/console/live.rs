//! The live figures on the map, sampled about once a second and pushed to every open page
//! over server-sent events (`GET /api/live`). Each sample asks the bus only: `mandate status`'s
//! gathering (`$SRV.PING/INFO/STATS` and every instance's admin status), the durable consumer
//! of each edge (`$JS.API.CONSUMER.INFO`: lag, deliveries), every stream's state, and the DLQ
//! stream's count per `dlq.<component>` subject. Rates are the difference between two samples.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use mandate::{Bus, DEAD_LETTER_STREAM};
use serde::Serialize;
use tokio::sync::watch;

use super::map::{Edge, Node, Topology};
use crate::ops::status::{self, ComponentStatus, Patience, Status};

/// One sample of the running system, as the page draws it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Live {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub components: BTreeMap<String, NodeLive>,
    pub edges: Vec<EdgeLive>,
    pub streams: BTreeMap<String, StreamLive>,
    /// What went wrong while sampling (the server unreachable, ...), shown on the page.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct NodeLive {
    /// `up`, `partly up`, `rebuilding`, `down` or `client` (a bus client answers no status).
    pub health: String,
    pub instances_up: usize,
    pub instances: usize,
    pub outbox_depth: u64,
    /// Dead letters of this component now in DLQ.
    pub dead_letters: u64,
    pub requests: u64,
    pub errors: u64,
    /// Why an instance did not answer its admin status, when one did not.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EdgeLive {
    pub stream: String,
    pub to: String,
    /// Messages the stream holds for this subscriber that it has not acknowledged.
    pub lag: u64,
    /// Deliveries per second since the previous sample.
    pub rate: f64,
    /// Deliveries so far (summed over the edge's consumers).
    pub delivered: u64,
    /// Consumers of the edge the server does not know (not created yet).
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct StreamLive {
    pub messages: u64,
    pub last_sequence: u64,
    /// Messages per second since the previous sample.
    pub rate: f64,
}

/// The sampler's output: the latest [`Live`], and the latest `mandate status` it came from
/// (the component page reads endpoints and consumers from it).
#[derive(Clone)]
pub struct Sampled {
    live: watch::Receiver<Arc<Live>>,
    status: watch::Receiver<Arc<Option<Status>>>,
}

impl Sampled {
    pub fn live(&self) -> Arc<Live> {
        self.live.borrow().clone()
    }

    pub fn status(&self) -> Arc<Option<Status>> {
        self.status.borrow().clone()
    }

    /// Server-sent events: the latest sample now, then each new one (`event: live`).
    pub fn events(&self) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
        let receiver = self.live.clone();
        let stream = futures::stream::unfold((receiver, true), |(mut receiver, first)| async move {
            if !first && receiver.changed().await.is_err() {
                return None;
            }
            let live = receiver.borrow_and_update().clone();
            Some((live, (receiver, false)))
        })
        .map(|live| Ok(Event::default().event("live").json_data(&*live).unwrap_or_default()));
        Sse::new(stream).keep_alive(KeepAlive::default())
    }
}

/// Starts sampling every `every`, for as long as the process runs.
pub fn start(bus: Bus, topology: Arc<Topology>, every: Duration) -> Sampled {
    let (live_tx, live) = watch::channel(Arc::new(Live::default()));
    let (status_tx, status) = watch::channel(Arc::new(None));
    tokio::spawn(async move {
        let mut previous: Option<(Instant, Live)> = None;
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let (mut sample, gathered) = sample(&bus, &topology).await;
            let now = Instant::now();
            if let Some((at, before)) = &previous {
                rates(&mut sample, before, now.duration_since(*at));
            }
            previous = Some((now, sample.clone()));
            let _ = live_tx.send(Arc::new(sample));
            if gathered.is_some() {
                let _ = status_tx.send(Arc::new(gathered));
            }
        }
    });
    Sampled { live, status }
}

async fn sample(bus: &Bus, topology: &Topology) -> (Live, Option<Status>) {
    let mut live = Live {
        at_ms: time::OffsetDateTime::now_utc().unix_timestamp_nanos() as u64 / 1_000_000,
        ..Live::default()
    };
    let patience = Patience {
        wait: Duration::from_millis(300),
        timeout: Duration::from_secs(1),
    };
    let gathered = match status::gather(bus, patience).await {
        Ok(status) => Some(status),
        Err(err) => {
            live.error = Some(format!("{err:#}"));
            None
        }
    };
    let dead_letters = dead_letters_by_component(bus).await;
    for node in &topology.components {
        let components = gathered.as_ref().map_or(&[][..], |s| &s.components[..]);
        let mut figures = node_live(node, components);
        figures.dead_letters = dead_letters.get(&node.name).copied().unwrap_or(0);
        live.components.insert(node.name.clone(), figures);
    }
    for edge in &topology.edges {
        live.edges.push(edge_live(bus, edge).await);
    }
    if let Some(status) = &gathered {
        for stream in &status.streams {
            live.streams.insert(
                stream.name.clone(),
                StreamLive {
                    messages: stream.messages,
                    last_sequence: stream.last_sequence,
                    rate: 0.0,
                },
            );
        }
    }
    (live, gathered)
}

/// A component's health from its instances' admin status: each partition counts.
fn node_live(node: &Node, components: &[ComponentStatus]) -> NodeLive {
    let mut figures = NodeLive {
        instances: node.instances.len(),
        ..NodeLive::default()
    };
    if node.client_only {
        figures.health = "client".to_owned();
        return figures;
    }
    let mut rebuilding = false;
    for instance in &node.instances {
        let Some(found) = components.iter().find(|c| &c.name == instance) else {
            figures.problems.push(format!("{instance} does not answer $SRV.PING"));
            continue;
        };
        figures.requests += found.requests;
        figures.errors += found.errors;
        match &found.status {
            Some(report) => {
                figures.instances_up += 1;
                figures.outbox_depth += report.outbox_depth;
                rebuilding |= report.rebuilding;
            }
            None => figures.problems.push(format!(
                "{instance}: {}",
                found.error.clone().unwrap_or_else(|| found.state.clone())
            )),
        }
    }
    figures.health = if rebuilding {
        "rebuilding"
    } else if figures.instances_up == figures.instances {
        "up"
    } else if figures.instances_up > 0 {
        "partly up"
    } else {
        "down"
    }
    .to_owned();
    figures
}

async fn edge_live(bus: &Bus, edge: &Edge) -> EdgeLive {
    let mut figures = EdgeLive {
        stream: edge.stream.clone(),
        to: edge.to.clone(),
        ..EdgeLive::default()
    };
    let Ok(stream) = bus.jetstream().get_stream_no_info(&edge.stream).await else {
        figures.missing = edge.consumers.clone();
        return figures;
    };
    for consumer in &edge.consumers {
        match stream.consumer_info(consumer).await {
            Ok(info) => {
                figures.lag += info.num_pending + info.num_ack_pending as u64;
                figures.delivered += info.delivered.consumer_sequence;
            }
            // A reader of history has no consumer once it has read it.
            Err(_) if edge.history => {}
            Err(_) => figures.missing.push(consumer.clone()),
        }
    }
    figures
}

/// Dead letters now in DLQ per component (the subject `dlq.<component>`).
async fn dead_letters_by_component(bus: &Bus) -> BTreeMap<String, u64> {
    let Ok(stream) = bus.jetstream().get_stream_no_info(DEAD_LETTER_STREAM).await else {
        return BTreeMap::new();
    };
    let Ok(subjects) = stream.info_with_subjects("dlq.>").await else {
        return BTreeMap::new();
    };
    let counts: Vec<(String, usize)> = subjects.filter_map(|r| async { r.ok() }).collect().await;
    counts
        .into_iter()
        .map(|(subject, count)| {
            let component = subject.strip_prefix("dlq.").unwrap_or(&subject).to_owned();
            (component, count as u64)
        })
        .collect()
}

/// Per-second rates from the previous sample. A count that went down (a consumer created
/// again, a stream purged) gives no rate rather than a negative one.
fn rates(sample: &mut Live, before: &Live, elapsed: Duration) {
    let seconds = elapsed.as_secs_f64().max(0.001);
    let per_second = |now: u64, then: u64| now.saturating_sub(then) as f64 / seconds;
    for edge in &mut sample.edges {
        if let Some(old) = before.edges.iter().find(|e| e.stream == edge.stream && e.to == edge.to) {
            edge.rate = per_second(edge.delivered, old.delivered);
        }
    }
    for (name, stream) in &mut sample.streams {
        if let Some(old) = before.streams.get(name) {
            stream.rate = per_second(stream.last_sequence, old.last_sequence);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_per_second_and_never_negative() {
        let edge = |delivered| EdgeLive {
            stream: "EVT_ORDERS".into(),
            to: "shipping".into(),
            delivered,
            ..EdgeLive::default()
        };
        let before = Live {
            edges: vec![edge(10)],
            ..Live::default()
        };
        let mut now = Live {
            edges: vec![edge(30)],
            ..Live::default()
        };
        rates(&mut now, &before, Duration::from_secs(2));
        assert_eq!(now.edges[0].rate, 10.0);
        let mut reset = Live {
            edges: vec![edge(3)],
            ..Live::default()
        };
        rates(&mut reset, &before, Duration::from_secs(1));
        assert_eq!(reset.edges[0].rate, 0.0);
    }
}
