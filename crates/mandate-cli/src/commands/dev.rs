//! `mandate dev`: the whole system on this machine, one command. It installs (if needed) and
//! starts the pinned nats-server, builds and starts every component under `components/` as
//! its own process with its own data directory, restarts one that dies, and stops everything
//! on Ctrl-C. `--demo` then seeds products and stock and places a few orders. The parts it
//! runs with live in `dev/`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use super::Global;
use crate::dev::supervisor::{Process, Supervisor};
use crate::dev::{build, check_ports, components, demo, monitor_port, nats_server, target_dir, write_server_config};
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
}

pub async fn run(args: &DevArgs, _global: Global) -> anyhow::Result<()> {
    check_ports(args.port, &args.gateway)?;
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

    let server_bin = nats_server(&repo)?;
    let components = components(&repo)?;
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => target_dir(&repo).join(if args.release { "release" } else { "debug" }),
    };
    if !args.no_build {
        build(&repo, &components, args.release)?;
    }
    for name in &components {
        if !bin_dir.join(name).is_file() {
            bail!(
                "no binary for component {name} in {}: run without --no-build, or `cargo build --workspace --bins`",
                bin_dir.display()
            );
        }
    }

    let url = format!("nats://127.0.0.1:{}", args.port);
    let mut supervisor = Supervisor::new();
    let config = write_server_config(&repo, &data, args.port)?;
    let mut server = Process::new("nats-server", server_bin).args(["-c".into(), config.path.display().to_string()]);
    for (variable, password) in &config.passwords {
        server = server.env(variable, password);
    }
    supervisor.add(server);
    for name in &components {
        let mut process = Process::new(name, bin_dir.join(name))
            .env("NATS_URL", &url)
            .env("MANDATE_DATA_DIR", &data.join("components").display().to_string());
        match config.password(name) {
            Some(password) => process = process.env("NATS_USER", name).env("NATS_PASSWORD", password),
            None if !config.passwords.is_empty() => eprintln!(
                "mandate dev: {name} has no bus user yet: it runs as the operator; give it its own with `mandate bus-config --write`"
            ),
            None => {}
        }
        if name == "gateway" {
            process = process.env("GATEWAY_LISTEN", &args.gateway);
        }
        supervisor.add(process);
    }
    supervisor.start_all()?;
    eprintln!(
        "mandate dev: nats-server on {url} (monitoring http://127.0.0.1:{})",
        monitor_port(args.port)
    );
    if components.iter().any(|c| c == "gateway") {
        eprintln!("mandate dev: the gateway listens on http://{}", args.gateway);
    }
    eprintln!(
        "mandate dev: {} components running; Ctrl-C stops everything",
        components.len()
    );

    if args.demo {
        let demo = demo::run(&url);
        tokio::select! {
            result = demo => match result {
                Ok(summary) => eprintln!("mandate dev: demo: {summary}; watch with `mandate tail --all`"),
                Err(err) => eprintln!("mandate dev: demo failed: {err:#}"),
            },
            () = mandate::shutdown_signal() => return supervisor.stop_all().await,
        }
    }
    supervisor.supervise_until(mandate::shutdown_signal()).await
}
