//! What `mandate dev` (`commands/dev.rs`) runs the system with: the pinned nats-server
//! (installed if needed, `server.rs`) configured with the repository's bus-config, every
//! component under `components/` built and run as its own process (`supervisor.rs`, which
//! restarts one that dies), and the demo orders of `--demo` (`demo.rs`).

pub mod demo;
pub mod server;
pub mod supervisor;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

/// The pinned nats-server, installed by the repository's script when missing, then found by
/// [`server::find`].
pub fn nats_server(repo: &Path) -> anyhow::Result<PathBuf> {
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
pub fn components(repo: &Path) -> anyhow::Result<Vec<String>> {
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

pub fn target_dir(repo: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"))
}

pub fn build(repo: &Path, components: &[String], release: bool) -> anyhow::Result<()> {
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

/// nats-server's monitoring port: the client port + 4000.
pub fn monitor_port(port: u16) -> u16 {
    port.wrapping_add(4000)
}

/// Refuses a gateway on a port nats-server takes (its client port or its monitoring port):
/// the gateway would crash-loop on "address in use" while the banner said it listened there.
/// An address without a readable port is left for the gateway to refuse.
pub fn check_ports(port: u16, gateway: &str) -> anyhow::Result<()> {
    let Some(gateway_port) = gateway.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()) else {
        return Ok(());
    };
    let taken = if gateway_port == port {
        "client port"
    } else if gateway_port == monitor_port(port) {
        "monitoring port"
    } else {
        return Ok(());
    };
    Err(crate::failure::usage(format!(
        "--gateway {gateway} is nats-server's {taken} {gateway_port} (with --port {port} it listens for clients on \
         {port} and for monitoring on {}): pick another --gateway port, or another --port",
        monitor_port(port)
    )))
}

/// The server `mandate dev` runs: the repository's bus-config (`bus-config/permissions.conf`,
/// the users and least-privilege permissions generated from the manifests), on local ports,
/// with its store under the dev data directory. Each run gets fresh passwords. Anonymous local
/// connections act as the `operator` user, so the `mandate` tool and the `nats` CLI work in
/// another terminal without credentials, while every component is held to its own user.
pub struct ServerConfig {
    pub path: PathBuf,
    /// `<USER>_PASSWORD` variables, for nats-server's environment.
    pub passwords: Vec<(String, String)>,
}

impl ServerConfig {
    /// The password of `user`, when the bus-config has that user.
    pub fn password(&self, user: &str) -> Option<&str> {
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

pub fn write_server_config(repo: &Path, data: &Path, port: u16) -> anyhow::Result<ServerConfig> {
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
pub const STABLE_AFTER: Duration = Duration::from_secs(30);
