//! Which nats-server the bench runs, and the config it starts it with (`server.rs`).
//!
//! A copy of the lookup of the tool's `dev/server.rs` (the bench links no tool code), until the
//! process runner crate replaces both: `NATS_SERVER_BIN`, `<repo>/.tools/bin/nats-server`
//! (where `scripts/install-nats-server` puts the pinned version), then `PATH`; 2.10 or newer.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail};

const INSTALL_HINT: &str = "run `scripts/install-nats-server` in the repository (installs the pinned version into \
                            <repo>/.tools/bin) or set NATS_SERVER_BIN to a nats-server >= 2.10";

/// The nats-server to run and its version: `NATS_SERVER_BIN`; else `.tools/bin/nats-server`
/// under the repository this bench was built from, the folders above this executable and
/// above the working directory; else `PATH`. Only 2.10 or newer is accepted.
pub fn find() -> anyhow::Result<(PathBuf, String)> {
    if let Some(env) = std::env::var_os("NATS_SERVER_BIN").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(env);
        let version = version(&path).map_err(|e| anyhow!("NATS_SERVER_BIN: {e}; {INSTALL_HINT}"))?;
        return Ok((path, version));
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let exe = std::env::current_exe().ok();
    let cwd = std::env::current_dir().ok();
    let mut candidates: Vec<PathBuf> = std::iter::once(built_from.as_path())
        .chain(exe.iter().flat_map(|e| e.ancestors()))
        .chain(cwd.iter().flat_map(|c| c.ancestors()))
        .map(|base| base.join(".tools/bin/nats-server"))
        .collect();
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("nats-server")));
    }
    let mut rejected = Vec::new();
    for candidate in candidates {
        if !candidate.is_file() {
            continue;
        }
        match version(&candidate) {
            Ok(version) => return Ok((candidate, version)),
            Err(e) => rejected.push(e),
        }
    }
    bail!(
        "no nats-server >= 2.10 found (NATS_SERVER_BIN, <repo>/.tools/bin, PATH){}: {INSTALL_HINT}",
        if rejected.is_empty() {
            String::new()
        } else {
            format!(" (rejected: {})", rejected.join("; "))
        }
    )
}

/// The version `bin --version` reports, if it is 2.10 or newer.
fn version(bin: &Path) -> Result<String, String> {
    let out = Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: cannot run it: {e}", bin.display()))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let version = text
        .split_whitespace()
        .find(|w| w.trim_start_matches('v').split('.').count() >= 3)
        .map(|w| w.trim_start_matches('v').to_owned())
        .ok_or_else(|| format!("{}: `--version` printed no version", bin.display()))?;
    mandate::connect::check_server_version(&version)
        .map_err(|v| format!("{} is {v}, older than 2.10", bin.display()))?;
    Ok(version)
}

/// A server config: clients on `127.0.0.1`, on a port the kernel picks (logged at start),
/// JetStream with its store in `store_dir`.
pub fn config_text(store_dir: &Path) -> String {
    format!(
        "listen: \"127.0.0.1:-1\"\njetstream {{\n  store_dir: {:?}\n}}\n",
        store_dir.display().to_string()
    )
}

#[cfg(test)]
mod tests {
    use super::config_text;
    use std::path::Path;

    #[test]
    fn the_config_picks_a_free_port_and_quotes_the_store() {
        assert_eq!(
            config_text(Path::new("/tmp/a \"b\"")),
            "listen: \"127.0.0.1:-1\"\njetstream {\n  store_dir: \"/tmp/a \\\"b\\\"\"\n}\n"
        );
    }
}
