//! Which nats-server to run: `NATS_SERVER_BIN`, else `<repo>/.tools/bin/nats-server` (where
//! `scripts/install-nats-server` puts the pinned version), else `PATH` — only 2.10 or newer,
//! because the kit's consumers filter on several subjects.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, anyhow, bail};

/// The oldest nats-server mandate supports.
pub const MIN_VERSION: Version = (2, 10, 0);

/// What to do when no usable server is found.
pub const INSTALL_HINT: &str = "run `scripts/install-nats-server` in the repository (installs the pinned version \
                                into <repo>/.tools/bin) or set NATS_SERVER_BIN to a nats-server >= 2.10";

/// `(major, minor, patch)`.
pub type Version = (u32, u32, u32);

/// A nats-server executable and the version it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsBinary {
    pub path: PathBuf,
    pub version: Version,
}

impl NatsBinary {
    /// `NATS_SERVER_BIN` if set (it must qualify); else `.tools/bin/nats-server` under each of
    /// `bases` in order (a repository, the folders above the running executable...); else
    /// `PATH`. Only a server reporting [`MIN_VERSION`] or newer qualifies.
    pub fn find<'a>(bases: impl IntoIterator<Item = &'a Path>) -> anyhow::Result<NatsBinary> {
        if let Some(env) = std::env::var_os("NATS_SERVER_BIN").filter(|v| !v.is_empty()) {
            return NatsBinary::checked(PathBuf::from(env))
                .map_err(|e| anyhow!("NATS_SERVER_BIN: {e}; {INSTALL_HINT}"));
        }
        let mut candidates: Vec<PathBuf> = bases.into_iter().map(|b| b.join(".tools/bin/nats-server")).collect();
        if let Some(path) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&path).map(|d| d.join("nats-server")));
        }
        let mut rejected = Vec::new();
        for candidate in candidates.into_iter().filter(|c| c.is_file()) {
            match NatsBinary::checked(candidate) {
                Ok(binary) => return Ok(binary),
                Err(e) => rejected.push(e.to_string()),
            }
        }
        let rejected = if rejected.is_empty() {
            String::new()
        } else {
            format!(" (rejected: {})", rejected.join("; "))
        };
        bail!("no nats-server >= 2.10 found (NATS_SERVER_BIN, <repo>/.tools/bin, PATH){rejected}: {INSTALL_HINT}")
    }

    /// Runs the repository's `scripts/install-nats-server` (it does nothing when the pinned
    /// version is already there), then finds the server as [`NatsBinary::find`] does. A server
    /// named by `NATS_SERVER_BIN` is used as it is, with nothing installed.
    pub fn install(repo: &Path) -> anyhow::Result<NatsBinary> {
        if std::env::var_os("NATS_SERVER_BIN").is_some_and(|v| !v.is_empty()) {
            return NatsBinary::find([repo]);
        }
        let script = repo.join("scripts/install-nats-server");
        let status = Command::new(&script)
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("running {}", script.display()))?;
        if !status.success() {
            bail!("{} failed: see its message above", script.display());
        }
        NatsBinary::find([repo])
    }

    /// `path`, if its `--version` reports [`MIN_VERSION`] or newer.
    pub fn checked(path: PathBuf) -> anyhow::Result<NatsBinary> {
        let version = reported_version(&path)?;
        if version < MIN_VERSION {
            bail!(
                "{} is v{}, older than {}",
                path.display(),
                format_version(version),
                format_version(MIN_VERSION)
            );
        }
        Ok(NatsBinary { path, version })
    }

    /// `path` whatever its version: for tests proving that old servers are refused.
    pub fn unchecked(path: PathBuf) -> anyhow::Result<NatsBinary> {
        let version = reported_version(&path)?;
        Ok(NatsBinary { path, version })
    }

    /// Whether nats-server accepts the config file at `config` (`nats-server -t`), with `env`
    /// as its whole environment (the variables the config refers to); its complaint if not.
    pub fn check_config(&self, config: &Path, env: &[(String, String)]) -> Result<(), String> {
        let out = Command::new(&self.path)
            .arg("-t")
            .arg("-c")
            .arg(config)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: cannot run it: {e}", self.path.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// `2.14.6`.
    pub fn version_text(&self) -> String {
        format_version(self.version)
    }
}

fn reported_version(path: &Path) -> anyhow::Result<Version> {
    let out = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| anyhow!("{}: cannot run it: {e}", path.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    parse_version(&text).ok_or_else(|| anyhow!("{}: `--version` printed no version: {:?}", path.display(), text.trim()))
}

/// Parses `nats-server: v2.14.6` (also `2.14.6`, `v2.11.0-RC.1`) into `(2, 14, 6)`.
pub fn parse_version(text: &str) -> Option<Version> {
    text.split_whitespace().find_map(|word| {
        let word = word.strip_prefix('v').unwrap_or(word);
        let mut parts = word.splitn(3, '.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = parts.next()?;
        let digits = patch.find(|c: char| !c.is_ascii_digit()).unwrap_or(patch.len());
        Some((major, minor, patch[..digits].parse().ok()?))
    })
}

pub fn format_version((major, minor, patch): Version) -> String {
    format!("{major}.{minor}.{patch}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_what_nats_server_prints() {
        assert_eq!(parse_version("nats-server: v2.14.6\n"), Some((2, 14, 6)));
        assert_eq!(parse_version("2.10.0"), Some((2, 10, 0)));
        assert_eq!(parse_version("nats-server: v2.11.0-RC.1"), Some((2, 11, 0)));
        assert_eq!(parse_version("no version here"), None);
    }
}
