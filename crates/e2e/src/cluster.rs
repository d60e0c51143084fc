//! The storefront on the committed 3-node cluster. [`Stack::on_cluster`] starts
//! `bus-config/cluster/` through the runner — three local nodes with the committed users,
//! permissions and limits — and every component with `NATS_URL` = the three nodes, its own
//! bus user with its password from `.env.example`, and `MANDATE_STREAM_REPLICAS=3`; the
//! stack's own client is the `operator` (as the `mandate` tool connects). Nodes are killed
//! (`kill -9`), stopped (SIGTERM) and restarted one at a time, by server name; who leads a
//! stream and whether its replicas are current come from the stream's info.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use async_nats::jetstream::stream::ClusterInfo;
use futures::TryStreamExt;
use mandate::{Bus, ConnectionOptions};
use runner::{Cluster, NatsBinary, NatsServer};
use tokio::time::Instant;

use crate::Stack;
use crate::server::{Broker, Wiring};
use crate::stack::lock;

/// Replicas of every stream (and durable consumer) on the cluster.
pub const REPLICAS: usize = 3;
/// How long the nodes may take to elect a JetStream meta leader.
const JETSTREAM_WITHIN: Duration = Duration::from_secs(30);
/// The operator's connection name: its inbox is `_INBOX.mandate-cli`, as its permissions say.
const OPERATOR_CLIENT: &str = "mandate-cli";

impl Stack {
    /// The whole storefront (every component with a store) on the committed cluster of this
    /// repository; the gateway is started by [`Stack::start_gateway`].
    pub async fn on_cluster() -> Stack {
        Stack::on_cluster_in(&testkit::repo_root(), &testkit::bin_dir(), None).await
    }

    /// [`Stack::start_in`] on the committed cluster of `repo`, once JetStream has a meta
    /// leader (a component creates its stream at three replicas when it starts).
    pub async fn on_cluster_in(repo: &Path, bin_dir: &Path, components: Option<&[&str]>) -> Stack {
        let passwords = env_example(repo);
        let path = testkit::nats_server_bin().unwrap_or_else(|e| panic!("e2e: {e}"));
        let binary = NatsBinary::checked(path).unwrap_or_else(|e| panic!("e2e: {e:#}"));
        let env: Vec<(String, String)> = passwords.clone().into_iter().collect();
        let cluster = Cluster::committed(&binary, repo, &env).unwrap_or_else(|e| panic!("e2e: {e:#}"));
        let url = cluster.url_list();
        let operator = ConnectionOptions::new(url.clone()).with_user("operator", &password(&passwords, "operator"));
        let bus = Bus::connect(&operator, OPERATOR_CLIENT)
            .await
            .unwrap_or_else(|e| panic!("e2e: the operator cannot connect to the cluster: {e}"));
        wait_for_jetstream(&bus, &cluster).await;
        let credentials = runner::components(repo)
            .unwrap_or_else(|e| panic!("e2e: {e:#}"))
            .into_iter()
            .map(|c| {
                let secret = password(&passwords, &c.name);
                (c.name.clone(), (c.name, secret))
            })
            .collect();
        let wiring = Wiring {
            broker: Broker::Cluster(cluster),
            bus,
            url,
            credentials,
            env: vec![("MANDATE_STREAM_REPLICAS".to_owned(), REPLICAS.to_string())],
        };
        Stack::start_wired(wiring, repo, bin_dir, components, false).await
    }

    /// The cluster's nodes by server name (`nats-1`, ...), in order.
    pub fn nodes(&self) -> Vec<String> {
        match &*lock(&self.server) {
            Broker::Cluster(cluster) => (1..=cluster.nodes.len()).map(|n| format!("nats-{n}")).collect(),
            Broker::Single(_) => Vec::new(),
        }
    }

    /// Kills node `name` with SIGKILL, like a crashed machine.
    pub fn kill_node(&self, name: &str) {
        self.with_node(name, NatsServer::kill);
    }

    /// Stops node `name` gracefully (SIGTERM: it hands over what it leads, then exits).
    pub fn stop_node(&self, name: &str) {
        self.with_node(name, NatsServer::stop);
    }

    /// Starts node `name` again on its ports with its store (stopping it first if it runs).
    pub fn restart_node(&self, name: &str) {
        self.with_node(name, |node| {
            node.restart().unwrap_or_else(|e| panic!("e2e: {e:#}"));
        });
    }

    /// Node `name`'s client URL (the same across its restarts).
    pub fn node_url(&self, name: &str) -> String {
        let mut url = String::new();
        self.with_node(name, |node| url = node.url());
        url
    }

    /// What node `name` has logged so far.
    pub fn node_log(&self, name: &str) -> String {
        let mut log = String::new();
        self.with_node(name, |node| log = node.log());
        log
    }

    fn with_node(&self, name: &str, action: impl FnOnce(&mut NatsServer)) {
        tokio::task::block_in_place(|| {
            let mut broker = lock(&self.server);
            let Broker::Cluster(cluster) = &mut *broker else {
                panic!("e2e: this stack runs on one nats-server, not a cluster: start it with Stack::on_cluster");
            };
            let count = cluster.nodes.len();
            let node = node_index(name)
                .and_then(|i| cluster.nodes.get_mut(i))
                .unwrap_or_else(|| panic!("e2e: no node {name} (the nodes are nats-1 to nats-{count})"));
            action(node);
        });
    }

    /// The server name of the node leading `stream` (its Raft group's leader).
    pub async fn stream_leader(&self, stream: &str) -> Result<String, String> {
        let mut handle = self
            .bus
            .jetstream()
            .get_stream(stream)
            .await
            .map_err(|e| format!("stream {stream}: {e}"))?;
        let info = handle
            .info()
            .await
            .map_err(|e| format!("stream {stream}'s info: {e}"))?;
        info.cluster
            .as_ref()
            .and_then(|c| c.leader.clone())
            .ok_or_else(|| format!("stream {stream} has no leader right now"))
    }

    /// The server name of the node leading `consumer` of `stream`.
    pub async fn consumer_leader(&self, stream: &str, consumer: &str) -> Result<String, String> {
        let handle = self
            .bus
            .jetstream()
            .get_stream(stream)
            .await
            .map_err(|e| format!("stream {stream}: {e}"))?;
        let info = handle
            .consumer_info(consumer)
            .await
            .map_err(|e| format!("consumer {consumer} of {stream}: {e}"))?;
        info.cluster
            .as_ref()
            .and_then(|c| c.leader.clone())
            .ok_or_else(|| format!("consumer {consumer} of {stream} has no leader right now"))
    }

    /// Asks the leader of `consumer` of `stream` to step down (another replica takes over).
    pub async fn step_down_consumer(&self, stream: &str, consumer: &str) -> Result<(), String> {
        let subject = format!("$JS.API.CONSUMER.LEADER.STEPDOWN.{stream}.{consumer}");
        self.bus
            .client()
            .request(subject, bytes::Bytes::new())
            .await
            .map(|_| ())
            .map_err(|e| format!("stepping down the leader of {consumer} of {stream}: {e}"))
    }

    /// Every stream's and durable consumer's replication, as the leaders report it.
    pub async fn replication(&self) -> Result<Vec<Replication>, String> {
        let js = self.bus.jetstream();
        let streams: Vec<_> = js
            .streams()
            .try_collect()
            .await
            .map_err(|e| format!("cannot list the streams: {e}"))?;
        let mut groups = Vec::new();
        for stream in streams {
            let name = stream.config.name.clone();
            groups.push(Replication::of(
                name.clone(),
                stream.config.num_replicas,
                stream.cluster.as_ref(),
            ));
            let handle = js.get_stream(&name).await.map_err(|e| format!("stream {name}: {e}"))?;
            let consumers: Vec<_> = handle
                .consumers()
                .try_collect()
                .await
                .map_err(|e| format!("cannot list {name}'s consumers: {e}"))?;
            for consumer in consumers.into_iter().filter(|c| c.config.durable_name.is_some()) {
                // A consumer without replicas of its own has its stream's.
                let replicas = match consumer.config.num_replicas {
                    0 => stream.config.num_replicas,
                    n => n,
                };
                groups.push(Replication::of(
                    format!("{name} consumer {}", consumer.name),
                    replicas,
                    consumer.cluster.as_ref(),
                ));
            }
        }
        Ok(groups)
    }

    /// Waits until every stream and durable consumer has [`REPLICAS`] replicas, a leader and
    /// every follower current with no lag; returns how long that took, or what was still
    /// behind at the deadline.
    pub async fn await_replicated(&self, within: Duration) -> Result<Duration, String> {
        self.await_groups(within, &format!("replicated {REPLICAS} times"), Replication::is_current)
            .await
    }

    /// Waits until every stream and durable consumer has a leader other than node `lost`
    /// (after it went: the elections are over); returns how long that took.
    pub async fn await_leaders(&self, lost: &str, within: Duration) -> Result<Duration, String> {
        self.await_groups(within, &format!("led by a node other than {lost}"), |group| {
            group.leader.as_deref().is_some_and(|leader| leader != lost)
        })
        .await
    }

    async fn await_groups(
        &self,
        within: Duration,
        what: &str,
        ready: impl Fn(&Replication) -> bool,
    ) -> Result<Duration, String> {
        let start = Instant::now();
        loop {
            let behind = match self.replication().await {
                Ok(groups) if groups.is_empty() => "no streams".to_owned(),
                Ok(groups) => groups
                    .iter()
                    .filter(|g| !ready(g))
                    .map(Replication::describe)
                    .collect::<Vec<_>>()
                    .join("; "),
                Err(why) => why,
            };
            if behind.is_empty() {
                return Ok(start.elapsed());
            }
            if start.elapsed() >= within {
                return Err(format!("not {what} within {within:?}: {behind}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// One Raft group (a stream or a consumer) as its leader reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replication {
    pub name: String,
    /// Replicas configured.
    pub replicas: usize,
    pub leader: Option<String>,
    /// The followers: name, current, offline, lag.
    pub followers: Vec<(String, bool, bool, u64)>,
}

impl Replication {
    fn of(name: String, replicas: usize, cluster: Option<&ClusterInfo>) -> Replication {
        Replication {
            name,
            replicas,
            leader: cluster.and_then(|c| c.leader.clone()),
            followers: cluster
                .map(|c| {
                    c.replicas
                        .iter()
                        .map(|p| (p.name.clone(), p.current, p.offline, p.lag.unwrap_or(0)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// [`REPLICAS`] replicas configured, a leader, and every follower current, online and
    /// with no lag.
    pub fn is_current(&self) -> bool {
        self.replicas == REPLICAS
            && self.leader.is_some()
            && self.followers.len() + 1 == REPLICAS
            && self
                .followers
                .iter()
                .all(|(_, current, offline, lag)| *current && !*offline && *lag == 0)
    }

    /// E.g. `EVT_ORDERS: R3, leader nats-2, nats-1 current, nats-3 lag 12`.
    pub fn describe(&self) -> String {
        let followers: Vec<String> = self
            .followers
            .iter()
            .map(|(name, current, offline, lag)| match (current, offline, lag) {
                (_, true, _) => format!("{name} offline"),
                (false, _, _) => format!("{name} not current (lag {lag})"),
                (true, _, 0) => format!("{name} current"),
                (true, _, lag) => format!("{name} lag {lag}"),
            })
            .collect();
        format!(
            "{}: R{}, leader {}, {}",
            self.name,
            self.replicas,
            self.leader.as_deref().unwrap_or("none"),
            if followers.is_empty() {
                "no followers".to_owned()
            } else {
                followers.join(", ")
            }
        )
    }
}

/// `nats-2` → 1: the runner starts node `n` from the committed `nats-<n>.conf`, whose
/// `server_name` is `nats-<n>`.
fn node_index(name: &str) -> Option<usize> {
    name.strip_prefix("nats-")?.parse::<usize>().ok()?.checked_sub(1)
}

/// Waits until the cluster's JetStream answers (a meta leader is elected), or panics with the
/// nodes' logs.
async fn wait_for_jetstream(bus: &Bus, cluster: &Cluster) {
    let deadline = Instant::now() + JETSTREAM_WITHIN;
    loop {
        match bus.jetstream().query_account().await {
            Ok(_) => return,
            Err(err) if Instant::now() >= deadline => panic!(
                "e2e: the cluster's JetStream did not answer within {JETSTREAM_WITHIN:?}: {err}\n{}",
                cluster.logs()
            ),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// `.env.example`'s variables: the `<USER>_PASSWORD`s of the bus-config's users.
fn env_example(repo: &Path) -> BTreeMap<String, String> {
    let path = repo.join(".env.example");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("e2e: {}: {e}", path.display()))
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// The password of bus user `user` (`ORDERS_PASSWORD` for `orders`).
fn password(passwords: &BTreeMap<String, String>, user: &str) -> String {
    let variable = format!("{}_PASSWORD", user.to_uppercase().replace('-', "_"));
    passwords.get(&variable).cloned().unwrap_or_else(|| {
        panic!("e2e: .env.example has no {variable}: regenerate it with `mandate bus-config --write`")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_found_by_its_server_name() {
        assert_eq!(node_index("nats-1"), Some(0));
        assert_eq!(node_index("nats-3"), Some(2));
        assert_eq!(node_index("nats-0"), None);
        assert_eq!(node_index("n1"), None);
    }

    #[test]
    fn a_group_is_current_with_three_replicas_a_leader_and_followers_without_lag() {
        let group = |followers: Vec<(&str, bool, bool, u64)>| Replication {
            name: "EVT_ORDERS".into(),
            replicas: 3,
            leader: Some("nats-1".into()),
            followers: followers
                .into_iter()
                .map(|(n, c, o, l)| (n.to_owned(), c, o, l))
                .collect(),
        };
        assert!(group(vec![("nats-2", true, false, 0), ("nats-3", true, false, 0)]).is_current());
        let lagging = group(vec![("nats-2", true, false, 0), ("nats-3", true, false, 4)]);
        assert!(!lagging.is_current());
        assert_eq!(
            lagging.describe(),
            "EVT_ORDERS: R3, leader nats-1, nats-2 current, nats-3 lag 4"
        );
        assert!(!group(vec![("nats-2", true, false, 0), ("nats-3", false, true, 0)]).is_current());
        assert!(!group(vec![("nats-2", true, false, 0)]).is_current());
        let leaderless = Replication {
            leader: None,
            ..group(vec![("nats-2", true, false, 0), ("nats-3", true, false, 0)])
        };
        assert!(!leaderless.is_current());
    }
}
