//! Test fixtures: a real `nats-server` per test.
//!
//! [`NatsServer::start`] runs a real nats-server child process with JetStream on, listening on
//! `127.0.0.1` at a port the kernel picks (no bind-then-release race between parallel tests),
//! with a fresh temporary store directory. It returns once the server accepts clients with
//! JetStream ready, and the process is killed (and reaped) when the value is dropped. A small
//! watchdog (`sh`) also kills it if the test process dies without dropping it.
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
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// The oldest nats-server the kit supports (multiple consumer filter subjects need 2.10).
const MIN_VERSION: Version = (2, 10, 0);
/// How long a server may take to accept clients with JetStream ready.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`NatsServer::stop`] waits for a graceful shutdown before killing.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// How often start-up and shutdown are polled.
const POLL: Duration = Duration::from_millis(10);
/// The line nats-server logs once its client listener is bound (stable since 2.0).
const LISTENING: &str = "Listening for client connections on ";
const INSTALL_HINT: &str = "run `scripts/install-nats-server` (installs the pinned version into \
                            <repo>/.tools/bin) or set NATS_SERVER_BIN to a nats-server >= 2.10";

type Version = (u32, u32, u32);

/// A running, real nats-server child process (JetStream on, `127.0.0.1`, its own port and
/// temporary store directory). Killed and reaped on drop; the temporary directory (config, log,
/// store) is removed then.
#[derive(Debug)]
pub struct NatsServer {
    bin: PathBuf,
    extra: String,
    port: u16,
    config_path: PathBuf,
    log_path: PathBuf,
    store_dir: PathBuf,
    running: Option<Running>,
    // Last, so it is removed after the process is gone.
    dir: tempfile::TempDir,
}

#[derive(Debug)]
struct Running {
    child: Child,
    watchdog: Option<Child>,
}

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
        let bin = nats_server_bin().unwrap_or_else(|e| panic!("{e}"));
        Self::start_bin(bin, extra)
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
        Self::start_bin(bin, "")
    }

    fn start_bin(bin: PathBuf, extra: &str) -> NatsServer {
        let dir = tempfile::Builder::new()
            .prefix("testkit-nats-")
            .tempdir()
            .expect("testkit: cannot create a temporary directory for nats-server");
        let store_dir = dir.path().join("store");
        fs::create_dir(&store_dir).expect("testkit: cannot create the JetStream store directory");
        let mut server = NatsServer {
            bin,
            extra: extra.to_owned(),
            port: 0,
            config_path: dir.path().join("nats-server.conf"),
            log_path: dir.path().join("nats-server.log"),
            store_dir,
            running: None,
            dir,
        };
        server.launch();
        server
    }

    /// The client URL, `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port (stays the same across [`NatsServer::restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory (`store_dir` of the config; the server keeps its data in a
    /// `jetstream` folder inside it). It survives [`NatsServer::restart`].
    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    /// Everything the server logged so far (all runs of this fixture), for test diagnostics.
    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    /// Stops the server gracefully (SIGTERM, so JetStream flushes its state), killing it if it
    /// has not exited within 5 s, and waits for it. Does nothing when already stopped.
    pub fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shut_down(true);
        }
    }

    /// Kills the server abruptly (SIGKILL, like a crash) and waits for it. Does nothing when
    /// already stopped. [`NatsServer::restart`] brings it back.
    pub fn kill(&mut self) {
        if let Some(running) = self.running.take() {
            running.shut_down(false);
        }
    }

    /// Stops the server (if running, as [`NatsServer::stop`]) and starts it again on the same
    /// port with the same store directory, so JetStream data survives.
    ///
    /// # Panics
    /// When the server does not come back within ~10 s (e.g. the port was taken meanwhile).
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Like [`NatsServer::restart`], with `extra` replacing the config text given at start:
    /// the same port and store under different limits, e.g. `max_payload: 65536`.
    ///
    /// # Panics
    /// As [`NatsServer::restart`].
    pub fn restart_with_config(&mut self, extra: &str) {
        self.stop();
        extra.clone_into(&mut self.extra);
        self.launch();
    }

    /// Writes the config, spawns the server and waits until it is ready. The first launch uses
    /// a kernel-chosen port (`-1`); later ones reuse it, retrying while it is still taken.
    fn launch(&mut self) {
        let fixed_port = (self.port != 0).then_some(self.port);
        let config = config_text(fixed_port, &self.store_dir, &self.extra);
        fs::write(&self.config_path, config).expect("testkit: cannot write the nats-server config");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let log_start = fs::metadata(&self.log_path).map(|m| m.len()).unwrap_or(0);
            let mut running = self.spawn();
            match wait_ready(&mut running.child, &self.log_path, log_start, deadline) {
                Ok(port) => {
                    self.running = Some(running);
                    if let Some(expected) = fixed_port {
                        assert_eq!(port, expected, "testkit: restarted nats-server listens on another port");
                    }
                    self.port = port;
                    return;
                }
                Err(failure) => {
                    running.shut_down(false);
                    let log = read_from(&self.log_path, log_start);
                    let port_taken =
                        fixed_port.is_some() && failure == Failure::Exited && log.contains("address already in use");
                    if port_taken && Instant::now() + POLL * 10 < deadline {
                        thread::sleep(POLL * 10);
                        continue;
                    }
                    panic!(
                        "testkit: nats-server {} {}: {}\n--- config {} ---\n{}\n--- log {} ---\n{}",
                        self.bin.display(),
                        if fixed_port.is_some() {
                            "did not restart"
                        } else {
                            "did not start"
                        },
                        failure.describe(),
                        self.config_path.display(),
                        read_lossy(&self.config_path),
                        self.log_path.display(),
                        log
                    );
                }
            }
        }
    }

    fn spawn(&self) -> Running {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("testkit: cannot open the nats-server log file");
        let log2 = log.try_clone().expect("testkit: cannot clone the log file handle");
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&self.config_path)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .unwrap_or_else(|e| panic!("testkit: cannot run {}: {e}", self.bin.display()));
        let watchdog = spawn_watchdog(child.id());
        Running { child, watchdog }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Running {
    /// Disarms the watchdog, then ends the server (gracefully or not) and reaps it. The watchdog
    /// goes first so that it can never signal a reaped (and maybe reused) pid.
    fn shut_down(mut self, graceful: bool) {
        if let Some(mut watchdog) = self.watchdog.take() {
            if let Some(mut stdin) = watchdog.stdin.take() {
                let _ = stdin.write_all(b"done\n");
            }
            let _ = watchdog.wait();
        }
        if graceful && matches!(self.child.try_wait(), Ok(None)) {
            let signalled = Command::new("sh")
                .args(["-c", "kill -TERM \"$1\"", "sh"])
                .arg(self.child.id().to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if signalled {
                let deadline = Instant::now() + STOP_TIMEOUT;
                while Instant::now() < deadline {
                    if !matches!(self.child.try_wait(), Ok(None)) {
                        return;
                    }
                    thread::sleep(POLL);
                }
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process that kills `pid` when the test process dies without stopping the server: it reads
/// its stdin (a pipe only we hold) and sees end-of-file then; `done` disarms it. Best effort:
/// without `sh`, there is no watchdog and only drop kills the server.
fn spawn_watchdog(pid: u32) -> Option<Child> {
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

fn config_text(port: Option<u16>, store_dir: &Path, extra: &str) -> String {
    let port = port.map_or_else(|| "-1".to_owned(), |p| p.to_string());
    format!(
        "# generated by testkit\n\
         listen: \"127.0.0.1:{port}\"\n\
         jetstream {{\n  store_dir: \"{}\"\n}}\n\
         {extra}\n",
        store_dir.display()
    )
}

#[derive(Debug, PartialEq, Eq)]
enum Failure {
    Exited,
    TimedOut,
}

impl Failure {
    fn describe(&self) -> &'static str {
        match self {
            Failure::Exited => "the process exited",
            Failure::TimedOut => "not ready (listening, with JetStream) within 10 s",
        }
    }
}

/// Waits until this run of the server (its log from `log_start` on) reports its client port and
/// a client connecting there gets an `INFO` with `"jetstream":true`. Returns the port.
fn wait_ready(child: &mut Child, log_path: &Path, log_start: u64, deadline: Instant) -> Result<u16, Failure> {
    let mut port = None;
    loop {
        if !matches!(child.try_wait(), Ok(None)) {
            return Err(Failure::Exited);
        }
        if port.is_none() {
            port = listening_port(&read_from(log_path, log_start));
        }
        if let Some(port) = port {
            if jetstream_ready(port) {
                return Ok(port);
            }
        }
        if Instant::now() >= deadline {
            return Err(Failure::TimedOut);
        }
        thread::sleep(POLL);
    }
}

/// The client port from the `Listening for client connections on 127.0.0.1:<port>` log line.
fn listening_port(log: &str) -> Option<u16> {
    // Only complete lines: the last one may still be being written.
    let complete = &log[..log.rfind('\n')? + 1];
    complete.lines().find_map(|line| {
        let (_, addr) = line.split_once(LISTENING)?;
        addr.trim().rsplit_once(':')?.1.parse().ok()
    })
}

/// Whether a client connecting to `port` is greeted by an `INFO` announcing JetStream.
fn jetstream_ready(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    if stream.set_read_timeout(Some(Duration::from_secs(1))).is_err() {
        return false;
    }
    let mut line = String::new();
    match BufReader::new(stream).read_line(&mut line) {
        Ok(_) => line.starts_with("INFO ") && line.contains("\"jetstream\":true"),
        Err(_) => false,
    }
}

fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn read_from(path: &Path, start: u64) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    let start = usize::try_from(start).unwrap_or(usize::MAX).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// The nats-server binary to use: `NATS_SERVER_BIN` if set (it must be ≥ 2.10), else
/// `<repo>/.tools/bin/nats-server`, else the first `nats-server` on `PATH` — each only if its
/// `--version` reports 2.10 or newer. Found once per process.
///
/// # Errors
/// When none qualifies; the message names `scripts/install-nats-server`.
pub fn nats_server_bin() -> Result<PathBuf, String> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND.get_or_init(find_nats_server_bin).clone()
}

fn find_nats_server_bin() -> Result<PathBuf, String> {
    if let Some(env) = std::env::var_os("NATS_SERVER_BIN").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(env);
        return check_version(&path)
            .map(|_| path)
            .map_err(|e| format!("NATS_SERVER_BIN: {e}; {INSTALL_HINT}"));
    }
    let mut rejected = Vec::new();
    let tools = repo_root().join(".tools/bin/nats-server");
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("nats-server"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    for candidate in std::iter::once(tools).chain(on_path) {
        if !candidate.is_file() {
            continue;
        }
        match check_version(&candidate) {
            Ok(_) => return Ok(candidate),
            Err(e) => rejected.push(e),
        }
    }
    let rejected = if rejected.is_empty() {
        String::new()
    } else {
        format!(" (rejected: {})", rejected.join("; "))
    };
    Err(format!(
        "no nats-server >= {} found in NATS_SERVER_BIN, {}/.tools/bin or PATH{rejected}: {INSTALL_HINT}",
        fmt_version(MIN_VERSION),
        repo_root().display()
    ))
}

/// Runs `bin --version` and accepts it when it reports at least [`MIN_VERSION`].
fn check_version(bin: &Path) -> Result<Version, String> {
    let out = Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: cannot run it: {e}", bin.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let version = parse_version(&text)
        .ok_or_else(|| format!("{}: `--version` printed no version: {:?}", bin.display(), text.trim()))?;
    if version < MIN_VERSION {
        return Err(format!(
            "{} is v{}, older than {}",
            bin.display(),
            fmt_version(version),
            fmt_version(MIN_VERSION)
        ));
    }
    Ok(version)
}

/// Parses `nats-server: v2.14.6` (also `2.14.6`, `v2.11.0-RC.1`) into `(2, 14, 6)`.
fn parse_version(text: &str) -> Option<Version> {
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

fn fmt_version((major, minor, patch): Version) -> String {
    format!("{major}.{minor}.{patch}")
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

fn built_bin(subdir: Option<&str>, name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("testkit: cannot find the running executable");
    let mut dir = exe.parent().expect("testkit: the running executable has no directory");
    if matches!(dir.file_name().and_then(OsStr::to_str), Some("deps" | "examples")) {
        dir = dir.parent().expect("testkit: target/<profile> has no parent");
    }
    let dir = match subdir {
        Some(subdir) => dir.join(subdir),
        None => dir.to_path_buf(),
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

pub use harness::{Harness, Watch, eventually, permutations, resend};

#[cfg(test)]
mod tests;
