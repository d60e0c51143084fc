//! The process runner: everything in mandate that starts a process goes through here — the
//! tests' servers (testkit), the end-to-end stack (e2e), `mandate dev` and the benchmark.
//!
//! - [`NatsBinary`] (`binary.rs`): which nats-server to run (≥ 2.10), installing the pinned
//!   one with the repository's script.
//! - [`NatsServer`] (`server.rs`): one server on a free port with a temporary store, ready
//!   when JetStream answers (`ready.rs`); stop, kill, restart on the same port and store. Its
//!   config is generated ([`ServerConfig`], `config.rs`) or a file of the caller's.
//! - [`Cluster`] (`cluster.rs`): the committed 3-node cluster config, made local.
//! - [`components`] (`manifest.rs`): the components of a repository from their manifests —
//!   never from a list in code — and the [`Process`] that runs each ([`Start`]: a cargo binary
//!   or any command, for components in other languages).
//! - [`Process`] / [`Running`] (`process.rs`): one child, its environment and output; killed
//!   with its owner (`watchdog.rs`).
//! - [`Supervisor`] (`supervisor.rs`): restart-on-death, for `mandate dev`.
//! - `ports.rs`: free ports, and a monitoring port that cannot collide with the client port.
//!
//! It links no component and no kit: it runs binaries and reads manifests as files.

mod binary;
mod cluster;
mod config;
mod manifest;
pub mod ports;
mod process;
mod ready;
mod server;
mod supervisor;
mod watchdog;

pub use binary::{INSTALL_HINT, MIN_VERSION, NatsBinary, Version, format_version, parse_version};
pub use cluster::Cluster;
pub use config::ServerConfig;
pub use manifest::{Component, Kind, Settings, Start, components};
pub use process::{Finished, Output, Process, Running, read_from, tail};
pub use server::{NatsServer, ServerOptions};
pub use supervisor::{STABLE_AFTER, Supervisor};
