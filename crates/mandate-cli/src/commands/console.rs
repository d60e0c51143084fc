//! `mandate console`: the system in a browser (`crate::console`), served from this binary
//! until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use mandate::Bus;

use super::Global;
use crate::{output, repo};

/// Where the console listens unless told otherwise (and where `mandate dev` starts it). Not
/// 8222: that is nats-server's monitoring port (`mandate dev`'s too, client port + 4000).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8290";

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  mandate console\n  mandate console --listen 0.0.0.0:8290 --server nats://nats:4222"
)]
pub struct ConsoleArgs {
    /// Where the page and its API listen (port 0: any free port, printed).
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// The repository whose manifests draw the map (default: the workspace around the current
    /// directory).
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// How often the live figures are sampled.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub every: Duration,
    /// A host name the console answers to besides IP addresses and localhost (repeatable):
    /// the name it is reached by behind a proxy or in a container network. Others are refused
    /// (a page of another site resolving its name to this address).
    #[arg(long, value_name = "NAME")]
    pub allow_host: Vec<String>,
}

pub async fn run(bus: Bus, args: &ConsoleArgs, global: Global) -> anyhow::Result<()> {
    let repo = repo::discover(args.repo.as_deref(), "mandate console")?;
    let settings = crate::console::Settings {
        listen: args.listen,
        every: args.every,
        allow_hosts: args.allow_host.clone(),
    };
    let listening = crate::console::start(bus, &repo, settings).await?;
    if global.json {
        output::json(&serde_json::json!({ "url": listening.url() }))?;
    } else {
        output::line(&format!("mandate console: {} (Ctrl-C stops it)", listening.url()))?;
    }
    tokio::select! {
        _ = listening.served => anyhow::bail!("the console stopped serving (its log says why)"),
        () = mandate::shutdown_signal() => Ok(()),
    }
}
