//! The system map's shape, from the manifests alone (what is declared, not what runs): every
//! component with its partitions, the stream each owner publishes to, and one edge per
//! (stream, subscriber) with the event types it takes and the durable consumers that read it.
//! `live.rs` puts the running figures on this shape.

use serde::Serialize;

use crate::repo::manifest::ComponentManifest;

#[derive(Debug, Clone, Serialize)]
pub struct Topology {
    pub components: Vec<Node>,
    pub edges: Vec<Edge>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub name: String,
    pub description: String,
    /// The names its processes answer the admin protocol under: the component's name, or
    /// `<name>.p<P>of<N>` for each partition.
    pub instances: Vec<String>,
    /// `EVT_<NAME>`, when it publishes events.
    pub stream: Option<String>,
    pub publishes: Vec<String>,
    pub serves: Vec<String>,
    pub calls: Vec<String>,
    /// Neither consumes nor serves: a client of the bus (the gateway), which answers no admin
    /// status, so its health is not asked.
    pub client_only: bool,
}

/// Events flowing from an owner's stream to one subscriber.
#[derive(Debug, Clone, Serialize)]
pub struct Edge {
    pub stream: String,
    /// The owner of the stream, when a manifest declares it.
    pub from: Option<String>,
    pub to: String,
    pub events: Vec<String>,
    /// The durable consumers reading it: the subscriber's name, or one per partition.
    pub consumers: Vec<String>,
    /// The subscriber's own stream, which it reads as history only (its own events it
    /// applies as it emits them): its consumers exist during a rebuild, not otherwise.
    pub history: bool,
}

impl Topology {
    pub fn from_manifests(manifests: &[ComponentManifest]) -> Topology {
        let components = manifests.iter().map(node).collect::<Vec<_>>();
        let edges = manifests
            .iter()
            .flat_map(|manifest| {
                manifest.subscribes.iter().map(|(stream, events)| Edge {
                    stream: stream.clone(),
                    from: components
                        .iter()
                        .find(|c| c.stream.as_deref() == Some(stream.as_str()))
                        .map(|c| c.name.clone()),
                    to: manifest.name.clone(),
                    events: events.clone(),
                    consumers: consumers_of(manifest),
                    history: reads_as_history(manifest, stream),
                })
            })
            .collect();
        Topology { components, edges }
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.components.iter().find(|c| c.name == name)
    }
}

/// True when `stream` is `manifest`'s own, which the Rust kit (a workspace binary) reads as
/// history only — unless its partition count is changing, when the other count's partitions
/// publish into its slots and it reads the stream live. Another language's kit may read it
/// live.
fn reads_as_history(manifest: &ComponentManifest, stream: &str) -> bool {
    let moving = manifest.partitions.as_ref().is_some_and(|p| p.moving_from.is_some());
    let rust_kit = !matches!(manifest.start, Some(runner::Start::Command(_)));
    rust_kit && stream == mandate::stream_name(&manifest.name) && !moving
}

fn node(manifest: &ComponentManifest) -> Node {
    let instances = match &manifest.partitions {
        Some(partitions) => partitions
            .labels()
            .into_iter()
            .map(|label| format!("{}.{label}", manifest.name))
            .collect(),
        None => vec![manifest.name.clone()],
    };
    Node {
        name: manifest.name.clone(),
        description: manifest.description.clone(),
        instances,
        stream: (!manifest.publishes.is_empty()).then(|| mandate::stream_name(&manifest.name)),
        publishes: manifest.publishes.clone(),
        serves: manifest.serves.clone(),
        calls: manifest.calls.clone(),
        client_only: manifest.subscribes.is_empty() && manifest.serves.is_empty(),
    }
}

/// The durable consumer names of a subscriber: `<name>`, or `<name>-p<P>of<N>` per partition.
fn consumers_of(manifest: &ComponentManifest) -> Vec<String> {
    match &manifest.partitions {
        Some(partitions) => partitions
            .labels()
            .into_iter()
            .map(|label| format!("{}-{label}", manifest.name))
            .collect(),
        None => vec![manifest.name.clone()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_storefront_map_has_every_component_and_an_edge_per_subscription() {
        let repo = testkit::repo_root();
        let manifests = crate::repo::manifest::read_all(&repo).expect("manifests");
        let map = Topology::from_manifests(&manifests);
        assert_eq!(map.components.len(), manifests.len());
        let orders = map.node("orders").expect("orders");
        assert_eq!(orders.instances, ["orders.p0of3", "orders.p1of3", "orders.p2of3"]);
        let shipping = map
            .edges
            .iter()
            .find(|e| e.to == "shipping" && e.stream == "EVT_ORDERS")
            .expect("shipping reads orders");
        assert_eq!(shipping.from.as_deref(), Some("orders"));
        assert_eq!(shipping.events, ["orders.confirmed.v1"]);
        let payments = map.edges.iter().find(|e| e.to == "payments").expect("payments");
        assert_eq!(
            payments.consumers,
            ["payments-p0of3", "payments-p1of3", "payments-p2of3"]
        );
        assert!(map.node("gateway").expect("gateway").client_only);
        // A component's own stream is history to it (the Rust kit applies its own events as
        // it emits them): no consumer there is not "missing".
        let histories: Vec<(&str, &str)> = map
            .edges
            .iter()
            .filter(|e| e.history)
            .map(|e| (e.stream.as_str(), e.to.as_str()))
            .collect();
        assert_eq!(
            histories,
            [
                ("EVT_CATALOG", "catalog"),
                ("EVT_INVENTORY", "inventory"),
                ("EVT_ORDERS", "orders"),
                ("EVT_PAYMENTS", "payments")
            ]
        );
    }
}
