//! The bench's own nats-server, a fresh one per scenario: the binary and config of
//! `lookup.rs`, on a free local port with a temporary JetStream store, ready once it accepts
//! clients with JetStream on, and killed when dropped.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::lookup::{config_text, find};

const LISTENING: &str = "Listening for client connections on ";

/// A running nats-server child with JetStream on `127.0.0.1`. Killed (and reaped) on drop.
#[derive(Debug)]
pub struct Server {
    process: Guarded,
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
        std::fs::write(&config, config_text(&store))?;
        let out = std::fs::File::create(&log)?;
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut server = Server {
            process: Guarded::new(child),
            port: 0,
            version,
            _dir: dir,
        };
        server.port = server.wait_ready(&log)?;
        Ok(server)
    }

    /// The server's process id (for its CPU time).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&mut self, log: &Path) -> anyhow::Result<u16> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut port = None;
        loop {
            if let Some(status) = self.process.exited() {
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

/// A child process the bench started (the server, a component, a footprint child): killed
/// and reaped on [`Guarded::stop`] or drop, and by a watchdog if the bench itself dies first.
#[derive(Debug)]
pub struct Guarded {
    child: Child,
    watchdog: Option<Child>,
}

impl Guarded {
    pub fn new(child: Child) -> Guarded {
        let watchdog = watchdog(child.id());
        Guarded { child, watchdog }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How it ended, if it has.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn stop(&mut self) {
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

impl Drop for Guarded {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Kills `pid` if this process dies without stopping it (it sees end-of-file on a pipe only
/// we hold; `done` disarms it). Best effort: without `sh`, only drop kills.
fn watchdog(pid: u32) -> Option<Child> {
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
