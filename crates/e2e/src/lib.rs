//! The storefront as it runs for real: a nats-server and every component as its own process,
//! each with its own data directory, talking only over the bus. End-to-end tests (and the
//! benchmarks) drive it through the bus like any outside client.
//!
//! Not a component and not a dependency of one: it runs their binaries (built by
//! `cargo build --workspace --bins`), never links their crates, and reads their state only
//! through their services and the streams.
//!
//! - [`Stack`] (`stack.rs`): the processes — start, kill, restart, logs; the nats-server's crash
//!   and return (`server.rs`); quiescence (`settle.rs`).
//! - [`cluster`]: the stack on the committed 3-node cluster ([`Stack::on_cluster`]): nodes
//!   killed, stopped and restarted, stream leaders, replicas current.
//! - [`shop`]: the gateway's HTTP API as a retrying client (idempotency keys, 409s).
//! - [`plan`]: a seeded day of trading (orders, declines, cancellations, restocks).
//! - [`services`]: the typed reads the checks make over the bus.
//! - [`streams`]: a stream's messages, read as a client.
//! - [`traffic`]: the plan traded through the gateway at a steady rate.
//! - [`invariants`]: what must hold after any run, checked through services only; findings
//!   gather in a [`verdict::Verdict`].
//! - [`monkey`]: `kill -9` of components and of the nats-server on a schedule.
//! - [`nodeloss`]: the loss of a cluster node (killed, or the stream leader's stopped) while
//!   trading, timed until an order ends and until the replicas are current again.
//! - [`summary`]: the one line a chaos run ends with.
//! - [`garbage`]: a seeded corpus of malformed messages and what each must become.
//! - [`snapshot`]: every query the components serve, to prove that nothing changed.
//! - [`observed`]: the stack with every metrics listener on, its scrape configuration from
//!   `mandate prometheus-config`, and a real Prometheus to query.
//! - [`traced`]: the stack exporting its traces to an OTLP receiver of the test's own, and a
//!   trace's tree with its checks.

pub mod cluster;
pub mod garbage;
pub mod invariants;
pub mod monkey;
pub mod nodeloss;
pub mod observed;
pub mod plan;
pub mod services;
pub mod shop;
pub mod snapshot;
pub mod streams;
pub mod summary;
pub mod traced;
pub mod traffic;
pub mod verdict;

mod server;
mod settle;
mod stack;

pub use stack::{Stack, component_of};

/// The stateless HTTP front door, started by [`Stack::start_gateway`].
pub const GATEWAY: &str = "gateway";

/// Reads a number from the environment, or `default` when unset or unreadable.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
