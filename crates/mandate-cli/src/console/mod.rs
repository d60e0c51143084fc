//! `mandate console`: the system in a browser — a map drawn from the manifests with live
//! figures, a component's page, the dead letters grouped by component and rule, and replay
//! with live progress. Like every command it is a client of the contract: it speaks NATS
//! only (services, `$SRV.*`, `$JS.API`, the admin protocol) and reads the manifests on disk,
//! never a component's store or files.
//!
//! - `server.rs`: the HTTP routes (axum) and the embedded page (`assets/`, no build step);
//! - `map.rs`: the map's shape from the manifests; `live.rs`: the figures on it, sampled
//!   about once a second and pushed by server-sent events;
//! - `component.rs`, `deadletters.rs`, `redrive.rs`, `journey.rs`, `replay.rs`: one concern
//!   of the page each, each calling the operations the CLI calls (`ops/`), never `commands/`;
//! - `error.rs`: 4xx/5xx with a JSON body; `guard.rs`: no cross-site request, no foreign host.

mod component;
mod deadletters;
mod error;
mod guard;
mod journey;
mod live;
mod map;
mod redrive;
mod replay;
mod server;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mandate::Bus;

use error::ApiError;
pub use server::Listening;

/// What every request handler reaches: the bus, the map, the latest sample, the replays and
/// redrives started from here.
pub struct Console {
    bus: Bus,
    topology: Arc<map::Topology>,
    sampled: live::Sampled,
    replays: replay::Shared,
    redrives: redrive::Shared,
}

/// How the console is served.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where it listens (port 0 picks a free one).
    pub listen: SocketAddr,
    /// How often the live figures are sampled.
    pub every: Duration,
    /// Host names it answers to besides IP addresses and `localhost` (`guard.rs`).
    pub allow_hosts: Vec<String>,
}

/// Binds and serves the console for the repository at `repo` until the process ends; returns
/// once it listens, with the address.
pub async fn start(bus: Bus, repo: &Path, settings: Settings) -> anyhow::Result<Listening> {
    let manifests = crate::repo::manifest::read_all(repo)?;
    let topology = Arc::new(map::Topology::from_manifests(&manifests));
    let sampled = live::start(bus.clone(), topology.clone(), settings.every);
    let console = Arc::new(Console {
        bus,
        topology,
        sampled,
        replays: Arc::default(),
        redrives: Arc::default(),
    });
    let allowed = guard::AllowedHosts(Arc::new(settings.allow_hosts));
    server::serve(console, allowed, settings.listen).await
}

/// A DLQ sequence from a path segment: a positive integer, or a 400 saying so.
fn sequence(text: &str) -> Result<u64, ApiError> {
    text.parse::<u64>()
        .ok()
        .filter(|seq| *seq > 0)
        .ok_or_else(|| ApiError::bad_request(format!("{text:?} is not a DLQ sequence (a positive integer)")))
}
