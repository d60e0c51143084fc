//! `mandate dev`: the whole system on this machine, one command. It installs (if needed) and
//! starts the pinned nats-server, builds and starts every component under `components/` as
//! its own process with its own data directory, restarts one that dies, and stops everything
//! on Ctrl-C. `--demo` then seeds products and stock and places a few orders. It serves the
//! console (`mandate console`) too and prints its URL. The parts it runs with live in `dev/`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use runner::{NatsBinary, Process, Settings, Supervisor};

use super::Global;
use crate::dev::{build, check_ports, demo, target_dir, write_server_config};
use crate::repo;

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  mandate dev --demo\n  mandate dev --release --gateway 0.0.0.0:8080")]
pub struct DevArgs {
    /// The repository to run (default: the workspace around the current directory).
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// The nats-server client port.
    #[arg(long, default_value_t = 4222)]
    pub port: u16,
    /// Where the gateway listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub gateway: String,
    /// Where the server's JetStream store and the components' data live.
    #[arg(long, default_value = ".tools/dev")]
    pub data: PathBuf,
    /// Start from empty streams and stores.
    #[arg(long)]
    pub fresh: bool,
    /// Build and run release binaries.
    #[arg(long)]
    pub release: bool,
    /// Do not build; run the binaries found in --bin-dir.
    #[arg(long)]
    pub no_build: bool,
    /// Where the component binaries are (default: the workspace's target/<profile>).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// Seed products and stock and place a few orders, so events flow at once.
    #[arg(long)]
    pub demo: bool,
    /// Where the console (`mandate console`) listens.
    #[arg(long, default_value = super::console::DEFAULT_LISTEN)]
    pub console: SocketAddr,
    /// Do not serve the console.
    #[arg(long)]
    pub no_console: bool,
}

pub async fn run(args: &DevArgs, _global: Global) -> anyhow::Result<()> {
    // Listened for before anything starts: a SIGTERM sent as soon as a component answers
    // (before the console is up) must stop everything cleanly, not kill this process.
    let mut signals = StopSignals::listen()?;
    let monitor = check_ports(args.port, &args.gateway)?;
    if !args.no_console && [args.port, monitor].contains(&args.console.port()) {
        return Err(crate::failure::usage(format!(
            "--console {} is a port nats-server takes (clients {}, monitoring {monitor}): pick another --console port",
            args.console, args.port
        )));
    }
    let repo = repo::discover(args.repo.as_deref(), "mandate dev")?;
    let data = if args.data.is_absolute() {
        args.data.clone()
    } else {
        repo.join(&args.data)
    };
    if args.fresh && data.exists() {
        std::fs::remove_dir_all(&data).with_context(|| format!("removing {}", data.display()))?;
    }
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;

    let server_bin = NatsBinary::install(&repo)?;
    let components = runner::components(&repo)?;
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => target_dir(&repo).join(if args.release { "release" } else { "debug" }),
    };
    if !args.no_build {
        build(&repo, &components, args.release)?;
    }

    let url = format!("nats://127.0.0.1:{}", args.port);
    let server = write_server_config(&repo, &data, args.port, monitor)?;
    let settings = Settings {
        url: url.clone(),
        data_dir: data.join("components"),
        bin_dir,
        credentials: server.credentials(&components),
        ..Settings::default()
    };
    // Every process is checked before any starts: a missing binary is one clear error.
    let mut processes = Vec::new();
    for component in &components {
        if !settings.credentials.contains_key(&component.name) && !server.passwords.is_empty() {
            eprintln!(
                "mandate dev: {} has no bus user yet: it runs as the operator; give it its own with `mandate bus-config --write`",
                component.name
            );
        }
        // A partitioned component runs as the partitions its manifest declares, each its own
        // process and store, all as its one bus user.
        for instance in component.instances() {
            let mut process = component
                .instance_process(&settings, &instance)
                .map_err(|e| anyhow::anyhow!("{e:#}: run without --no-build, or `cargo build --workspace --bins`"))?;
            if component.name == "gateway" {
                process = process.env("GATEWAY_LISTEN", &args.gateway);
            }
            processes.push(process);
        }
    }

    let mut supervisor = Supervisor::new("mandate dev");
    let nats = Process::new("nats-server", &server_bin.path)
        .args(["-c".to_owned(), server.path.display().to_string()])
        .envs(server.passwords.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output(runner::Output::Prefixed);
    supervisor.start(nats)?;
    let processes_started = processes.len();
    for process in processes {
        supervisor.start(process)?;
    }
    eprintln!("mandate dev: nats-server on {url} (monitoring http://127.0.0.1:{monitor})");
    if components.iter().any(|c| c.name == "gateway") {
        eprintln!("mandate dev: the gateway listens on http://{}", args.gateway);
    }
    // The console is one more client of the bus, as the operator (the server's no-auth user).
    // The system runs without it: a console that cannot start is a warning, not a stop. Started
    // before the line that says everything runs, which is when Ctrl-C is listened for.
    let _console = if args.no_console {
        None
    } else {
        match start_console(&url, &repo, args.console).await {
            Ok(console) => {
                eprintln!("mandate dev: the console on {}", console.url());
                Some(console)
            }
            Err(err) => {
                eprintln!("mandate dev: warning: the console did not start: {err:#}");
                None
            }
        }
    };
    eprintln!(
        "mandate dev: {} components running ({} processes); Ctrl-C stops everything",
        components.len(),
        processes_started
    );

    if args.demo {
        let demo = demo::run(&url);
        tokio::select! {
            result = demo => match result {
                Ok(summary) => eprintln!("mandate dev: demo: {summary}; watch with `mandate tail --all`"),
                Err(err) => eprintln!("mandate dev: demo failed: {err:#}"),
            },
            () = signals.recv() => return stop(supervisor).await,
        }
    }
    signals.recv().await;
    stop(supervisor).await
}

/// SIGINT (Ctrl-C) and SIGTERM, listened for from when it is made: a signal that comes
/// before [`recv`](StopSignals::recv) is awaited is kept, not left to kill the process.
struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn listen() -> anyhow::Result<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(StopSignals {
                interrupt: signal(SignalKind::interrupt()).context("listening for SIGINT")?,
                terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(StopSignals {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        mandate::shutdown_signal().await;
    }
}

async fn start_console(
    url: &str,
    repo: &std::path::Path,
    listen: SocketAddr,
) -> anyhow::Result<crate::console::Listening> {
    let bus = crate::bus::connect(&mandate::ConnectionOptions::new(url)).await?;
    let settings = crate::console::Settings {
        listen,
        every: std::time::Duration::from_secs(1),
        allow_hosts: Vec::new(),
    };
    crate::console::start(bus, repo, settings).await
}

/// Stops the components (last started first), then the server; on a blocking thread, since
/// each stop waits for its process.
async fn stop(supervisor: Supervisor) -> anyhow::Result<()> {
    eprintln!("mandate dev: stopping");
    tokio::task::spawn_blocking(move || supervisor.stop_all()).await?;
    eprintln!("mandate dev: stopped");
    Ok(())
}
