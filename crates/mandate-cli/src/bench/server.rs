//! The bench's own nats-server: found like the test fixtures find theirs (`NATS_SERVER_BIN`,
//! `<repo>/.tools/bin/nats-server`, then `PATH`; 2.10 or newer), started on a free local port
//! with a temporary JetStream store, and killed when dropped.
//!
//! `testkit` does the same for tests, but it is a dev-dependency only (DESIGN.md §2), so this
//! is a minimal copy: no restart, no legacy server.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};

const LISTENING: &str = "Listening for client connections on ";
const INSTALL_HINT: &str = "run `scripts/install-nats-server` in the repository (installs the pinned version \
                            into <repo>/.tools/bin) or set NATS_SERVER_BIN to a nats-server >= 2.10";

/// A running nats-server child with JetStream on `127.0.0.1`. Killed (and reaped) on drop.
#[derive(Debug)]
pub struct Server {
    child: Child,
    watchdog: Option<Child>,
    port: u16,
    pub version: String,
    // Last: removed after the process is gone.
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts a fresh server: free port, empty store under `parent` (the bench's scratch folder).
    pub fn start(parent: &Path) -> anyhow::Result<Server> {
        let (bin, version) = find()?;
        let dir = tempfile::Builder::new()
            .prefix("nats-")
            .tempdir_in(parent)
            .context("creating the nats-server folder")?;
        let store = dir.path().join("store");
        std::fs::create_dir(&store)?;
        let config = dir.path().join("nats-server.conf");
        let log = dir.path().join("nats-server.log");
        std::fs::write(
            &config,
            format!(
                "listen: \"127.0.0.1:-1\"\njetstream {{\n  store_dir: \"{}\"\n}}\n",
                store.display()
            ),
        )?;
        let out = std::fs::File::create(&log)?;
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let watchdog = watchdog(child.id());
        let mut server = Server {
            child,
            watchdog,
            port: 0,
            version,
            _dir: dir,
        };
        server.port = server.wait_ready(&log)?;
        Ok(server)
    }

    /// The server's process id (for its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&mut self, log: &Path) -> anyhow::Result<u16> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut port = None;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!(
                    "nats-server exited with {status}:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            if port.is_none() {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                port = text.lines().find_map(|line| {
                    let (_, addr) = line.split_once(LISTENING)?;
                    addr.trim().rsplit_once(':')?.1.parse::<u16>().ok()
                });
            }
            if let Some(port) = port {
                if jetstream_ready(port) {
                    return Ok(port);
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "nats-server not ready within 10 s:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            if let Some(mut stdin) = watchdog.stdin.take() {
                let _ = stdin.write_all(b"done\n");
            }
            let _ = watchdog.wait();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kills `pid` if this process dies without dropping the server (it sees end-of-file on a
/// pipe only we hold). Best effort.
pub fn watchdog(pid: u32) -> Option<Child> {
    Command::new("sh")
        .args([
            "-c",
            "read -r line; [ \"$line\" = done ] || kill -9 \"$1\" 2>/dev/null",
            "sh",
        ])
        .arg(pid.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

fn jetstream_ready(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok()
        && line.starts_with("INFO ")
        && line.contains("\"jetstream\":true")
}

/// The nats-server to use and its version.
fn find() -> anyhow::Result<(PathBuf, String)> {
    if let Some(env) = std::env::var_os("NATS_SERVER_BIN").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(env);
        let version = check(&path).map_err(|e| anyhow!("NATS_SERVER_BIN: {e}; {INSTALL_HINT}"))?;
        return Ok((path, version));
    }
    let mut candidates = Vec::new();
    // The repository this tool was built from, then the folders above the executable and
    // the working directory (a copied binary next to a checkout).
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let exe = std::env::current_exe().ok();
    let cwd = std::env::current_dir().ok();
    for base in std::iter::once(built_from.as_path())
        .chain(exe.iter().flat_map(|e| e.ancestors()))
        .chain(cwd.iter().flat_map(|c| c.ancestors()))
    {
        candidates.push(base.join(".tools/bin/nats-server"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("nats-server")));
    }
    let mut rejected = Vec::new();
    for candidate in candidates {
        if !candidate.is_file() {
            continue;
        }
        match check(&candidate) {
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

fn check(bin: &Path) -> Result<String, String> {
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
