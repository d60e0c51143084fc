//! What the stack runs on — one nats-server or the committed cluster ([`Broker`]) — and the
//! server's crash and return: `kill -9`, then a restart on the same port with the same
//! JetStream store; the components (and the stack's own client) reconnect by themselves.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::TryStreamExt;
use mandate::Bus;
use testkit::NatsServer;

use crate::Stack;
use crate::stack::lock;

/// The broker of a stack.
#[derive(Debug)]
pub(crate) enum Broker {
    /// One nats-server (testkit's), boxed: it is much larger than the cluster's handle.
    Single(Box<NatsServer>),
    /// The committed 3-node cluster (`cluster.rs`).
    Cluster(runner::Cluster),
}

/// What a stack's components are wired to: the broker, the stack's own client, and what each
/// component is given to reach it.
pub(crate) struct Wiring {
    pub broker: Broker,
    pub bus: Bus,
    /// `NATS_URL`: one server or a comma-separated list.
    pub url: String,
    /// Bus user and password by component name.
    pub credentials: BTreeMap<String, (String, String)>,
    /// More environment for every component.
    pub env: Vec<(String, String)>,
}

impl Broker {
    fn kill(&mut self) {
        match self {
            Broker::Single(server) => server.kill(),
            Broker::Cluster(cluster) => cluster.nodes.iter_mut().for_each(runner::NatsServer::kill),
        }
    }

    fn restart(&mut self) {
        match self {
            Broker::Single(server) => server.restart(),
            Broker::Cluster(cluster) => {
                for node in &mut cluster.nodes {
                    node.restart().unwrap_or_else(|e| panic!("e2e: {e:#}"));
                }
            }
        }
    }
}

impl Stack {
    /// Kills the nats-server with SIGKILL, like a crash (on a cluster: every node).
    pub fn kill_server(&self) {
        tokio::task::block_in_place(|| lock(&self.server).kill());
    }

    /// Starts the nats-server again on the same port with the same store directory (the
    /// fixture panics if the port comes back different or the server does not start); on a
    /// cluster, every node.
    pub fn restart_server(&self) {
        tokio::task::block_in_place(|| lock(&self.server).restart());
    }

    /// The last sequence of every stream, as the server reports it; retried for up to 20 s
    /// while the stack's client reconnects.
    pub async fn stream_positions(&self) -> Result<BTreeMap<String, u64>, String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            match self.read_positions().await {
                Ok(positions) => return Ok(positions),
                Err(err) if tokio::time::Instant::now() >= deadline => {
                    return Err(format!("cannot read the streams' positions: {err}"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    async fn read_positions(&self) -> Result<BTreeMap<String, u64>, String> {
        let js = self.bus.jetstream();
        let names: Vec<String> = js.stream_names().try_collect().await.map_err(|e| e.to_string())?;
        let mut positions = BTreeMap::new();
        for name in names {
            let mut stream = js.get_stream(&name).await.map_err(|e| e.to_string())?;
            let info = stream.info().await.map_err(|e| e.to_string())?;
            positions.insert(name, info.state.last_sequence);
        }
        Ok(positions)
    }

    /// The largest message the server accepts (`max_payload` of its INFO), headers included.
    pub fn max_payload(&self) -> usize {
        self.bus.client().server_info().max_payload
    }
}

/// Streams whose history went backwards between two readings of
/// [`Stack::stream_positions`] (one line each), e.g. across a server restart.
pub fn lost_history(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> Vec<String> {
    before
        .iter()
        .filter_map(|(name, was)| match after.get(name) {
            None => Some(format!("stream {name} (last sequence {was}) is gone")),
            Some(now) if now < was => Some(format!("stream {name}: last sequence {was} became {now}")),
            Some(_) => None,
        })
        .collect()
}
