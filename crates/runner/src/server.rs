//! [`NatsServer`]: one real nats-server child with JetStream on `127.0.0.1`, its own port
//! (the kernel picks it: no bind-then-release race between parallel users) and its own
//! temporary directory (config, log, store). Ready once it accepts clients with JetStream;
//! stopped, killed or restarted on the same port and store; killed and reaped when dropped.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::binary::NatsBinary;
use crate::config::ServerConfig;
use crate::process::{Output, Process, Running, read_from};
use crate::ready::{NotReady, wait_ready};

/// How long a server may take to accept clients with JetStream ready.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`NatsServer::stop`] waits for a graceful shutdown before killing.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait between attempts while a restart's port is still taken.
const PORT_RETRY: Duration = Duration::from_millis(100);

/// What a server is started with, beyond what the runner owns (listen address, store).
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Config text appended to the generated config (users, limits, `accounts { ... }`); it
    /// must not set `listen`/`port`, `jetstream` or `log_file`.
    pub extra: String,
    /// Environment of the server process (e.g. the `<USER>_PASSWORD` variables a config uses).
    pub env: Vec<(String, String)>,
    /// Where its temporary directory goes (default: the system's temporary directory).
    pub parent: Option<PathBuf>,
}

impl ServerOptions {
    pub fn extra(extra: &str) -> ServerOptions {
        ServerOptions {
            extra: extra.to_owned(),
            ..ServerOptions::default()
        }
    }
}

/// Where a server's config comes from.
#[derive(Debug)]
enum Config {
    /// Written by the runner before every start; its port is filled in after the first.
    Generated(ServerConfig),
    /// A file of the caller's (its ports fixed in it), e.g. a node of the committed cluster.
    File { port: Option<u16>, store_dir: PathBuf },
}

/// A running nats-server child process. See the module docs.
#[derive(Debug)]
pub struct NatsServer {
    binary: NatsBinary,
    config: Config,
    env: Vec<(String, String)>,
    config_path: PathBuf,
    log_path: PathBuf,
    running: Option<Running>,
    // Last, so it is removed after the process is gone.
    dir: tempfile::TempDir,
}

impl NatsServer {
    /// Starts `binary` with JetStream on `127.0.0.1`, a free port and a fresh store.
    pub fn start(binary: &NatsBinary, options: ServerOptions) -> anyhow::Result<NatsServer> {
        let dir = temporary_dir(&options)?;
        let store_dir = dir.path().join("store");
        std::fs::create_dir(&store_dir).context("creating the JetStream store directory")?;
        let mut server = NatsServer {
            binary: binary.clone(),
            config: Config::Generated(ServerConfig::new(store_dir).extra(&options.extra)),
            env: options.env,
            config_path: dir.path().join("nats-server.conf"),
            log_path: dir.path().join("nats-server.log"),
            running: None,
            dir,
        };
        server.launch()?;
        Ok(server)
    }

    /// Starts `binary` with the config file at `config` (which fixes its ports and names its
    /// JetStream `store_dir`); its log goes to a temporary directory of its own.
    pub fn start_with_file(
        binary: &NatsBinary,
        config: &Path,
        store_dir: &Path,
        options: ServerOptions,
    ) -> anyhow::Result<NatsServer> {
        let dir = temporary_dir(&options)?;
        let mut server = NatsServer {
            binary: binary.clone(),
            config: Config::File {
                port: None,
                store_dir: store_dir.to_owned(),
            },
            env: options.env,
            config_path: config.to_owned(),
            log_path: dir.path().join("nats-server.log"),
            running: None,
            dir,
        };
        server.launch()?;
        Ok(server)
    }

    /// The client URL, `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port())
    }

    /// The client port (the same across restarts).
    pub fn port(&self) -> u16 {
        match &self.config {
            Config::Generated(config) => config.port,
            Config::File { port, .. } => *port,
        }
        .unwrap_or_default()
    }

    /// The running process's id (for its CPU time), if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(Running::pid)
    }

    /// The version of the binary it runs.
    pub fn binary(&self) -> &NatsBinary {
        &self.binary
    }

    /// The JetStream store directory; it survives restarts.
    pub fn store_dir(&self) -> &Path {
        match &self.config {
            Config::Generated(config) => &config.store_dir,
            Config::File { store_dir, .. } => store_dir,
        }
    }

    /// The directory holding its config, log and store.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything it logged so far (all its runs).
    pub fn log(&self) -> String {
        read_from(&self.log_path, 0)
    }

    /// Stops it gracefully (SIGTERM, so JetStream flushes), killing it after 5 s. Does nothing
    /// when it is not running.
    pub fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.terminate(STOP_TIMEOUT);
        }
    }

    /// Kills it (SIGKILL, like a crash). Does nothing when it is not running.
    pub fn kill(&mut self) {
        if let Some(running) = self.running.take() {
            running.kill();
        }
    }

    /// Stops it (if running) and starts it again on the same port with the same store.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.launch()
    }

    /// [`restart`](NatsServer::restart) with `extra` replacing the config text given at start
    /// (a generated config only).
    pub fn restart_with_config(&mut self, extra: &str) -> anyhow::Result<()> {
        let Config::Generated(config) = &mut self.config else {
            bail!("restart_with_config: this server runs a config file of its own; edit that file and restart");
        };
        extra.clone_into(&mut config.extra);
        self.stop();
        self.launch()
    }

    fn set_port(&mut self, learned: u16) {
        match &mut self.config {
            Config::Generated(config) => config.port = Some(learned),
            Config::File { port, .. } => *port = Some(learned),
        }
    }

    /// Writes the config, spawns the server and waits until it is ready. The first launch uses
    /// a kernel-chosen port; later ones reuse it, retrying while it is still taken.
    fn launch(&mut self) -> anyhow::Result<()> {
        if let Config::Generated(config) = &self.config {
            std::fs::write(&self.config_path, config.text()).context("writing the nats-server config")?;
        }
        let fixed_port = (self.port() != 0).then(|| self.port());
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let log_start = std::fs::metadata(&self.log_path).map(|m| m.len()).unwrap_or(0);
            let mut running = Process::new("nats-server", &self.binary.path)
                .arg("-c")
                .arg(&self.config_path)
                .envs(self.env.clone())
                .cwd(self.dir.path())
                .output(Output::File(self.log_path.clone()))
                .spawn()?;
            match wait_ready(&mut running, &self.log_path, log_start, deadline) {
                Ok(port) => {
                    if fixed_port.is_some_and(|expected| expected != port) {
                        bail!("the restarted nats-server listens on {port}, not {fixed_port:?}");
                    }
                    self.set_port(port);
                    self.running = Some(running);
                    return Ok(());
                }
                Err(failure) => {
                    running.kill();
                    let log = read_from(&self.log_path, log_start);
                    let port_taken =
                        fixed_port.is_some() && failure == NotReady::Exited && log.contains("address already in use");
                    if port_taken && Instant::now() + PORT_RETRY < deadline {
                        std::thread::sleep(PORT_RETRY);
                        continue;
                    }
                    bail!(self.failure(fixed_port.is_some(), failure, &log));
                }
            }
        }
    }

    fn failure(&self, restarting: bool, failure: NotReady, log: &str) -> String {
        format!(
            "nats-server {} {}: {}\n--- config {} ---\n{}\n--- log {} ---\n{log}",
            self.binary.path.display(),
            if restarting { "did not restart" } else { "did not start" },
            failure.describe(),
            self.config_path.display(),
            read_from(&self.config_path, 0),
            self.log_path.display(),
        )
    }
}

fn temporary_dir(options: &ServerOptions) -> anyhow::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("nats-")
        .tempdir_in(options.parent.clone().unwrap_or_else(std::env::temp_dir))
        .context("creating a temporary directory for nats-server")
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
