//! Test fixtures: a real `nats-server` per test.
//!
//! [`NatsServer::start`] runs a real nats-server child process with JetStream on, listening on
//! `127.0.0.1` at a port the kernel picks (no bind-then-release race between parallel tests),
//! with a fresh temporary store directory. It returns once the server accepts clients with
//! JetStream ready, and the process is killed (and reaped) when the value is dropped — or by a
//! watchdog if the test process dies without dropping it. The process runner
//! (`crates/runner`) does the work; this fixture only turns its errors into panics.
//!
//! The binary comes from [`nats_server_bin`]: `NATS_SERVER_BIN`, then
//! `<repo>/.tools/bin/nats-server` (installed by `scripts/install-nats-server`), then `PATH`;
//! only nats-server 2.10 or newer is accepted.
//!
//! ```no_run
//! let mut server = testkit::NatsServer::start();
//! let url = server.url(); // "nats://127.0.0.1:<port>"
//! server.restart(); // same port, same store: streams and messages survive
//! # let _ = url;
//! ```
//!
//! This crate is a dev-dependency only; it panics (with a message saying what to do) instead of
//! returning errors, because that is what a test wants.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use runner::{NatsBinary, ServerOptions};

/// A running, real nats-server child process (JetStream on, `127.0.0.1`, its own port and
/// temporary store directory). Killed and reaped on drop; the temporary directory (config, log,
/// store) is removed then.
#[derive(Debug)]
pub struct NatsServer(runner::NatsServer);

impl NatsServer {
    /// Starts nats-server (from [`nats_server_bin`]) with JetStream on, on `127.0.0.1`, a free
    /// port and a fresh temporary store directory.
    ///
    /// # Panics
    /// When no nats-server ≥ 2.10 is found, or the server does not become ready within ~10 s
    /// (the panic message includes the server's log).
    pub fn start() -> NatsServer {
        Self::start_with_config("")
    }

    /// Like [`NatsServer::start`], plus `extra` nats-server config text appended to the
    /// generated config file (after `listen` and `jetstream { store_dir }`), e.g.
    /// `authorization { users = [ {user: a, password: b} ] }` or `accounts { ... }`.
    ///
    /// `extra` must not set `listen`/`port`, `jetstream` or `log_file`: the fixture owns those.
    ///
    /// # Panics
    /// As [`NatsServer::start`]; a config error shows up in the logged output of the panic.
    pub fn start_with_config(extra: &str) -> NatsServer {
        Self::start_binary(&binary(), extra)
    }

    /// Starts the legacy nats-server (Debian's 2.9.x) from `NATS_SERVER_LEGACY_BIN` or
    /// `<repo>/.tools/legacy/nats-server`, configured like [`NatsServer::start`]. Only for tests
    /// proving that servers older than 2.10 are refused.
    ///
    /// # Panics
    /// When the legacy binary is missing (the message names
    /// `scripts/install-nats-server --legacy`), or it does not become ready.
    pub fn start_legacy() -> NatsServer {
        let bin = match std::env::var_os("NATS_SERVER_LEGACY_BIN").filter(|v| !v.is_empty()) {
            Some(path) => PathBuf::from(path),
            None => repo_root().join(".tools/legacy/nats-server"),
        };
        if !bin.is_file() {
            panic!(
                "legacy nats-server (older than 2.10, e.g. Debian's 2.9.10) not found at {}: run \
                 `scripts/install-nats-server --legacy`, or set NATS_SERVER_LEGACY_BIN",
                bin.display()
            );
        }
        let legacy = NatsBinary::unchecked(bin).unwrap_or_else(|e| panic!("testkit: {e:#}"));
        Self::start_binary(&legacy, "")
    }

    fn start_binary(binary: &NatsBinary, extra: &str) -> NatsServer {
        match runner::NatsServer::start(binary, ServerOptions::extra(extra)) {
            Ok(server) => NatsServer(server),
            Err(e) => panic!("testkit: {e:#}"),
        }
    }

    /// The client URL, `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.0.url()
    }

    /// The client port (stays the same across [`NatsServer::restart`]).
    pub fn port(&self) -> u16 {
        self.0.port()
    }

    /// The JetStream store directory (`store_dir` of the config; the server keeps its data in a
    /// `jetstream` folder inside it). It survives [`NatsServer::restart`].
    pub fn store_dir(&self) -> &Path {
        self.0.store_dir()
    }

    /// Everything the server logged so far (all runs of this fixture), for test diagnostics.
    pub fn log(&self) -> String {
        self.0.log()
    }

    /// Stops the server gracefully (SIGTERM, so JetStream flushes its state), killing it if it
    /// has not exited within 5 s, and waits for it. Does nothing when already stopped.
    pub fn stop(&mut self) {
        self.0.stop();
    }

    /// Kills the server abruptly (SIGKILL, like a crash) and waits for it. Does nothing when
    /// already stopped. [`NatsServer::restart`] brings it back.
    pub fn kill(&mut self) {
        self.0.kill();
    }

    /// Stops the server (if running, as [`NatsServer::stop`]) and starts it again on the same
    /// port with the same store directory, so JetStream data survives.
    ///
    /// # Panics
    /// When the server does not come back within ~10 s (e.g. the port was taken meanwhile).
    pub fn restart(&mut self) {
        self.0.restart().unwrap_or_else(|e| panic!("testkit: {e:#}"));
    }

    /// Like [`NatsServer::restart`], with `extra` replacing the config text given at start:
    /// the same port and store under different limits, e.g. `max_payload: 65536`.
    ///
    /// # Panics
    /// As [`NatsServer::restart`].
    pub fn restart_with_config(&mut self, extra: &str) {
        self.0
            .restart_with_config(extra)
            .unwrap_or_else(|e| panic!("testkit: {e:#}"));
    }
}

/// The nats-server to test with, found once per process (see [`nats_server_bin`]).
fn found() -> &'static Result<NatsBinary, String> {
    static FOUND: OnceLock<Result<NatsBinary, String>> = OnceLock::new();
    FOUND.get_or_init(|| NatsBinary::find([repo_root().as_path()]).map_err(|e| format!("{e:#}")))
}

fn binary() -> NatsBinary {
    found().clone().unwrap_or_else(|e| panic!("testkit: {e}"))
}

/// The nats-server binary to use: `NATS_SERVER_BIN` if set (it must be ≥ 2.10), else
/// `<repo>/.tools/bin/nats-server`, else the first `nats-server` on `PATH` — each only if its
/// `--version` reports 2.10 or newer. Found once per process.
///
/// # Errors
/// When none qualifies; the message names `scripts/install-nats-server`.
pub fn nats_server_bin() -> Result<PathBuf, String> {
    found().as_ref().map(|b| b.path.clone()).map_err(Clone::clone)
}

/// The workspace root (two levels above this crate's manifest directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("testkit: CARGO_MANIFEST_DIR has no grandparent")
        .to_path_buf()
}

/// The path of the cargo example binary `name`, built next to the running test:
/// `target/<profile>/deps/<test>` → `target/<profile>/examples/<name>`.
///
/// Examples are built by `cargo build --examples` (and by `cargo test` without target
/// selection); `cargo test --all-targets` builds them as test harnesses instead, which is why
/// `scripts/test` runs `cargo build --workspace --examples` first.
///
/// # Panics
/// When the binary does not exist, with a message saying how to build it.
pub fn example_bin(name: &str) -> PathBuf {
    built_bin(Some("examples"), name)
}

/// The path of the workspace binary `name` (a component, the `mandate` tool), built next to
/// the running test: `target/<profile>/deps/<test>` → `target/<profile>/<name>`. End-to-end
/// tests run components as their own processes from here.
///
/// # Panics
/// When the binary does not exist, with a message saying how to build it.
pub fn workspace_bin(name: &str) -> PathBuf {
    built_bin(None, name)
}

/// The directory the workspace's binaries are built into next to the running test,
/// `target/<profile>` (from `target/<profile>/deps/<test>`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("testkit: cannot find the running executable");
    let mut dir = exe.parent().expect("testkit: the running executable has no directory");
    if matches!(dir.file_name().and_then(OsStr::to_str), Some("deps" | "examples")) {
        dir = dir.parent().expect("testkit: target/<profile> has no parent");
    }
    dir.to_path_buf()
}

fn built_bin(subdir: Option<&str>, name: &str) -> PathBuf {
    let dir = match subdir {
        Some(subdir) => bin_dir().join(subdir),
        None => bin_dir(),
    };
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        panic!(
            "testkit: binary `{name}` not found at {}: build it first with \
             `cargo build --workspace --bins --examples` (scripts/test does). Note that \
             `cargo test --all-targets` builds examples as test harnesses, not as this binary.",
            path.display()
        );
    }
    path
}

mod harness;
pub mod workspace;

pub use harness::{Harness, Watch, eventually, permutations, resend};

#[cfg(test)]
mod tests;
