//! `mandate dev`: the whole system on this machine, one command. It installs (if needed) and
//! starts the pinned nats-server, builds and starts every component under `components/` as
//! its own process with its own data directory, restarts one that dies, and stops everything
//! on Ctrl-C. `--demo` then seeds products and stock and places a few orders.

mod demo;
pub(crate) mod server;
mod supervisor;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use crate::check::current_workspace;
use crate::commands::Global;
use supervisor::{Process, Supervisor};

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
    let repo = match &args.repo {
        Some(repo) => repo.clone(),
        None => current_workspace()?,
    };
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

/// The pinned nats-server, installed by the repository's script when missing, then found as
/// `mandate bench` finds its own ([`server::find`]).
fn nats_server(repo: &Path) -> anyhow::Result<PathBuf> {
    let script = repo.join("scripts/install-nats-server");
    let status = std::process::Command::new(&script)
        .stdout(std::process::Stdio::null())
        .status()
        .with_context(|| format!("running {}", script.display()))?;
    if !status.success() {
        bail!("{} failed: see its message above", script.display());
    }
    Ok(server::find(Some(repo))?.0)
}

/// Every crate under `components/`, by name.
fn components(repo: &Path) -> anyhow::Result<Vec<String>> {
    let dir = repo.join("components");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    if names.is_empty() {
        bail!(
            "no components under {}: scaffold one with `mandate new component NAME`",
            dir.display()
        );
    }
    Ok(names)
}

fn target_dir(repo: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"))
}

fn build(repo: &Path, components: &[String], release: bool) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command.current_dir(repo).arg("build");
    if release {
        command.arg("--release");
    }
    for name in components {
        command.args(["-p", name]);
    }
    eprintln!("mandate dev: building {} components", components.len());
    if !command.status().context("running cargo build")?.success() {
        bail!("cargo build failed: fix the errors above and run `mandate dev` again");
    }
    Ok(())
}

fn monitor_port(port: u16) -> u16 {
    port.wrapping_add(4000)
}

/// The server `mandate dev` runs: the repository's bus-config (`bus-config/permissions.conf`,
/// the users and least-privilege permissions generated from the manifests), on local ports,
/// with its store under the dev data directory. Each run gets fresh passwords. Anonymous local
/// connections act as the `operator` user, so the `mandate` tool and the `nats` CLI work in
/// another terminal without credentials, while every component is held to its own user.
struct ServerConfig {
    path: PathBuf,
    /// `<USER>_PASSWORD` variables, for nats-server's environment.
    passwords: Vec<(String, String)>,
}

impl ServerConfig {
    /// The password of `user`, when the bus-config has that user.
    fn password(&self, user: &str) -> Option<&str> {
        let variable = password_variable(user);
        self.passwords
            .iter()
            .find(|(name, _)| *name == variable)
            .map(|(_, password)| password.as_str())
    }
}

fn password_variable(user: &str) -> String {
    format!("{}_PASSWORD", user.to_uppercase().replace('-', "_"))
}

fn write_server_config(repo: &Path, data: &Path, port: u16) -> anyhow::Result<ServerConfig> {
    let permissions = repo.join("bus-config/permissions.conf");
    let users = std::fs::read_to_string(repo.join(".env.example")).unwrap_or_default();
    let passwords: Vec<(String, String)> = users
        .lines()
        .filter_map(|line| line.split_once('='))
        .filter(|(name, _)| name.ends_with("_PASSWORD") && !name.starts_with('#'))
        .map(|(name, _)| (name.to_owned(), format!("dev{}", uuid::Uuid::new_v4().simple())))
        .collect();
    let authorization = match std::fs::read_to_string(&permissions) {
        Ok(text) if !passwords.is_empty() => {
            // Next to the config: nats-server resolves includes relative to the config file.
            std::fs::write(data.join("permissions.conf"), text).context("copying the bus-config")?;
            "no_auth_user: operator\ninclude \"permissions.conf\"\n"
        }
        _ => {
            eprintln!(
                "mandate dev: no bus-config/permissions.conf or .env.example: running the server without users \
                 (generate them with `mandate bus-config --write`)"
            );
            ""
        }
    };
    let config = format!(
        "# Written by `mandate dev`: the repository's bus-config on local ports.\n{}",
        server::config_text(
            Some(port),
            &data.join("jetstream"),
            &format!(
                "http: \"127.0.0.1:{}\"\nserver_name: mandate-dev\n{authorization}",
                monitor_port(port)
            ),
        )
    );
    let path = data.join("nats-server.conf");
    std::fs::write(&path, config).with_context(|| format!("writing {}", path.display()))?;
    Ok(ServerConfig { path, passwords })
}

/// How long a process must run before a crash is no longer "right after a restart".
pub(crate) const STABLE_AFTER: Duration = Duration::from_secs(30);
