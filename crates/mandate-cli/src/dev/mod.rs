//! What `mandate dev` (`commands/dev.rs`) runs the system with, on the process runner
//! (`crates/runner`): the pinned nats-server (installed if needed) configured with the
//! repository's bus-config ([`write_server_config`]), every component
//! found by its manifest under `components/` (cargo ones built first), kept running by the
//! runner's supervisor; and the demo orders of `--demo` (`demo.rs`).

pub mod demo;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use runner::{Component, ServerConfig, ports};

pub fn target_dir(repo: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"))
}

/// Builds the components that are cargo binaries of the workspace (the others say in their
/// manifest how they start, and are run as they are).
pub fn build(repo: &Path, components: &[Component], release: bool) -> anyhow::Result<()> {
    let cargo_built: Vec<&Component> = components.iter().filter(|c| c.is_cargo()).collect();
    if cargo_built.is_empty() {
        return Ok(());
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command.current_dir(repo).arg("build");
    if release {
        command.arg("--release");
    }
    for component in &cargo_built {
        command.args(["-p", &component.name]);
    }
    eprintln!("mandate dev: building {} components", cargo_built.len());
    if !command.status().context("running cargo build")?.success() {
        bail!("cargo build failed: fix the errors above and run `mandate dev` again");
    }
    Ok(())
}

/// Refuses ports that collide: a gateway on a port nats-server takes (its client port or its
/// monitoring port, client + 4000) would crash-loop on "address in use" while the banner said
/// it listened there; a client port without room for its monitoring port is refused too. An
/// address without a readable port is left for the gateway to refuse.
pub fn check_ports(port: u16, gateway: &str) -> anyhow::Result<u16> {
    let monitor = ports::monitor_port(port).map_err(|e| crate::failure::usage(format!("--port {e}")))?;
    let Some(gateway_port) = gateway.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()) else {
        return Ok(monitor);
    };
    let taken = if gateway_port == port {
        "client port"
    } else if gateway_port == monitor {
        "monitoring port"
    } else {
        return Ok(monitor);
    };
    Err(crate::failure::usage(format!(
        "--gateway {gateway} is nats-server's {taken} {gateway_port} (with --port {port} it listens for clients on \
         {port} and for monitoring on {monitor}): pick another --gateway port, or another --port"
    )))
}

/// The server `mandate dev` runs: the repository's bus-config (`bus-config/permissions.conf`,
/// the users and least-privilege permissions generated from the manifests), on local ports,
/// with its store under the dev data directory. Each run gets fresh passwords. Anonymous local
/// connections act as the `operator` user, so the `mandate` tool and the `nats` CLI work in
/// another terminal without credentials, while every component is held to its own user.
pub struct DevServer {
    pub path: PathBuf,
    /// `<USER>_PASSWORD` variables, for nats-server's environment.
    pub passwords: Vec<(String, String)>,
}

impl DevServer {
    /// Each component's bus user and password, for those the bus-config has a user for.
    pub fn credentials(&self, components: &[Component]) -> BTreeMap<String, (String, String)> {
        components
            .iter()
            .filter_map(|c| {
                let variable = password_variable(&c.name);
                let (_, password) = self.passwords.iter().find(|(name, _)| *name == variable)?;
                Some((c.name.clone(), (c.name.clone(), password.clone())))
            })
            .collect()
    }
}

fn password_variable(user: &str) -> String {
    format!("{}_PASSWORD", user.to_uppercase().replace('-', "_"))
}

/// The server holds every component to the committed bus-config, not to its manifest: a
/// component whose rights the manifest changed since `mandate bus-config --write` would loop
/// on `Authorization Violation` with nothing saying why. One warning at start, with what to run.
fn stale_bus_config(repo: &Path) -> Option<String> {
    let stale = match crate::busconfig::stale_files(repo) {
        Ok(stale) if stale.is_empty() => return None,
        Ok(stale) => format!(
            "{} {} from what components/*/manifest.json generate",
            stale.join(" and "),
            if stale.len() == 1 { "differs" } else { "differ" }
        ),
        Err(err) => format!("{err:#}"),
    };
    Some(format!(
        "mandate dev: warning: the bus-config is stale: {stale}. The server enforces the committed \
         bus-config/permissions.conf, so a component whose manifest changed is refused (`Authorization \
         Violation`) until you run `mandate bus-config --write` and start `mandate dev` again"
    ))
}

pub fn write_server_config(repo: &Path, data: &Path, port: u16, monitor: u16) -> anyhow::Result<DevServer> {
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
            if let Some(warning) = stale_bus_config(repo) {
                eprintln!("{warning}");
            }
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
    let config = ServerConfig::new(data.join("jetstream"))
        .port(port)
        .monitor_port(monitor)
        .server_name("mandate-dev")
        .extra(authorization);
    let path = data.join("nats-server.conf");
    std::fs::write(&path, config.text()).with_context(|| format!("writing {}", path.display()))?;
    Ok(DevServer { path, passwords })
}
