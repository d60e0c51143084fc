//! A component's page: what its manifest declares, each instance's admin status (consumers,
//! outbox, set-aside entries), its endpoints with their `$SRV.STATS` figures — from the
//! sampler's latest `mandate status` — and the last events on its stream, decoded.

use axum::Json;
use mandate::admin::StatusReport;
use serde::Serialize;
use serde_json::{Map, Value};

use super::Console;
use super::error::{ApiError, ApiResult};
use super::map::Node;
use crate::bus::{find_stream, headers_to_map};
use crate::msgpack;
use crate::ops::status::EndpointStat;

/// How many of the stream's last events the page shows.
const RECENT: u64 = 15;

#[derive(Debug, Serialize)]
pub struct ComponentPage {
    pub node: Node,
    pub instances: Vec<Instance>,
    pub recent_events: Vec<Map<String, Value>>,
}

#[derive(Debug, Serialize)]
pub struct Instance {
    pub name: String,
    /// As `mandate status` says it: `running`, `rebuilding`, `not answering`, ...
    pub state: String,
    pub error: Option<String>,
    pub endpoints: Vec<EndpointStat>,
    pub status: Option<StatusReport>,
}

pub async fn page(console: &Console, name: &str) -> ApiResult<ComponentPage> {
    let node = console.topology.node(name).cloned().ok_or_else(|| {
        ApiError::not_found(format!(
            "no component {name:?} in the manifests (components/*/manifest.json)"
        ))
    })?;
    let status = console.sampled.status();
    let instances = node
        .instances
        .iter()
        .map(|instance| {
            let found = status
                .as_ref()
                .as_ref()
                .and_then(|s| s.components.iter().find(|c| &c.name == instance));
            match found {
                Some(found) => Instance {
                    name: instance.clone(),
                    state: found.state.clone(),
                    error: found.error.clone(),
                    endpoints: found.endpoint_stats.clone(),
                    status: found.status.clone(),
                },
                None => Instance {
                    name: instance.clone(),
                    state: "not running".into(),
                    error: Some(format!("{instance} does not answer $SRV.PING")),
                    endpoints: Vec::new(),
                    status: None,
                },
            }
        })
        .collect();
    let recent_events = match &node.stream {
        Some(stream) => recent(console, stream).await?,
        None => Vec::new(),
    };
    Ok(Json(ComponentPage {
        node,
        instances,
        recent_events,
    }))
}

/// The last events of `stream`, newest first, each with its headers and decoded body.
async fn recent(console: &Console, stream: &str) -> anyhow::Result<Vec<Map<String, Value>>> {
    let Some(mut stream) = find_stream(console.bus.jetstream(), stream).await? else {
        return Ok(Vec::new());
    };
    let state = stream.info().await?.state.clone();
    let mut events = Vec::new();
    let oldest = state
        .first_sequence
        .max(1)
        .max(state.last_sequence.saturating_sub(4 * RECENT));
    let mut sequence = state.last_sequence;
    while sequence >= oldest && (events.len() as u64) < RECENT {
        // A sequence may be gone (deleted, or removed by the stream's limits): skip it.
        if let Ok(message) = stream.get_raw_message(sequence).await {
            let mut event = Map::new();
            event.insert("sequence".into(), Value::from(message.sequence));
            event.insert("subject".into(), Value::String(message.subject.to_string()));
            event.insert("time".into(), Value::String(crate::since::rfc3339(message.time)));
            event.insert(
                "headers".into(),
                serde_json::to_value(headers_to_map(Some(&message.headers)))?,
            );
            msgpack::body_fields(&message.payload, &mut event);
            events.push(event);
        }
        sequence -= 1;
    }
    Ok(events)
}
