//! [`Stack`]: the processes of a running storefront — start, crash, restart, logs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mandate::{Bus, CallError, ConnectionOptions, Operation};
use testkit::NatsServer;

use crate::{COMPONENTS, GATEWAY};

/// How long a started or restarted process may take to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A running storefront. Dropping it kills every process.
#[derive(Debug)]
pub struct Stack {
    pub bus: Bus,
    /// Behind a lock so that tests sharing the stack can crash and restart it.
    pub(crate) server: Mutex<NatsServer>,
    url: String,
    dir: tempfile::TempDir,
    processes: Mutex<BTreeMap<String, Child>>,
    /// The extra environment each process was started with, so a restart is the same process.
    envs: Mutex<BTreeMap<String, Vec<(String, String)>>>,
}

impl Stack {
    /// Starts a nats-server and the given components, and waits until each answers its admin
    /// status over the bus.
    pub async fn start(components: &[&str]) -> Stack {
        let server = NatsServer::start();
        let url = server.url();
        let bus = Bus::connect(&ConnectionOptions::new(url.clone()), "e2e")
            .await
            .expect("e2e: connects to the test server");
        let stack = Stack {
            bus,
            server: Mutex::new(server),
            url,
            dir: tempfile::tempdir().expect("e2e: tempdir"),
            processes: Mutex::new(BTreeMap::new()),
            envs: Mutex::new(BTreeMap::new()),
        };
        for name in components {
            stack.spawn(name);
        }
        for name in components {
            stack.wait_ready(name).await;
        }
        stack
    }

    /// The whole storefront.
    pub async fn storefront() -> Stack {
        Stack::start(&COMPONENTS).await
    }

    /// The nats-server's client URL (the same across server restarts).
    pub fn url(&self) -> &str {
        &self.url
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    /// Starts `name` as its own process, with its own data directory under the stack's.
    pub fn spawn(&self, name: &str) {
        self.spawn_with(name, &[]);
    }

    /// [`spawn`](Stack::spawn) with extra environment variables, kept for its restarts.
    pub fn spawn_with(&self, name: &str, env: &[(&str, &str)]) {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        lock(&self.envs).insert(name.to_owned(), env.clone());
        self.launch(name, &env);
    }

    fn launch(&self, name: &str, env: &[(String, String)]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(name))
            .expect("e2e: log file");
        let child = Command::new(testkit::workspace_bin(name))
            .env("NATS_URL", &self.url)
            .env("MANDATE_DATA_DIR", self.dir.path().join("data"))
            .env("RUST_LOG", std::env::var("E2E_LOG").unwrap_or_else(|_| "warn".into()))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("e2e: log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("e2e: cannot start {name}: {e}"));
        self.children().insert(name.to_owned(), child);
    }

    /// Starts the gateway on a free local port and waits until `/healthz` answers; returns its
    /// base URL. A [`restart`](Stack::restart) keeps the port.
    pub async fn start_gateway(&self) -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("e2e: a free port")
            .port();
        let listen = format!("127.0.0.1:{port}");
        self.spawn_with(GATEWAY, &[("GATEWAY_LISTEN", listen.as_str())]);
        self.wait_ready(GATEWAY).await;
        format!("http://{listen}")
    }

    /// Waits until `name` answers (its admin status; the gateway its `/healthz`), or panics
    /// with its log.
    pub async fn wait_ready(&self, name: &str) {
        if let Err(why) = self.ready(name, READY_TIMEOUT).await {
            panic!("e2e: {why}");
        }
    }

    /// Waits until `name` answers (its admin status over the bus; the gateway `/healthz`
    /// with 200), or says why not: it exited, or did not answer within `timeout`.
    pub async fn ready(&self, name: &str, timeout: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let answered = if name == GATEWAY {
                self.gateway_healthy().await
            } else {
                self.bus.status(name).await.is_ok()
            };
            if answered {
                return Ok(());
            }
            if let Err(exit) = self.alive(name) {
                return Err(format!("{exit} before it was ready:\n{}", self.log_tail(name)));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("{name} not ready within {timeout:?}:\n{}", self.log_tail(name)));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn gateway_healthy(&self) -> bool {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Some(listen) = self.gateway_listen() else {
            return false;
        };
        let Ok(mut stream) = tokio::net::TcpStream::connect(&listen).await else {
            return false;
        };
        let request = format!("GET /healthz HTTP/1.1\r\nHost: {listen}\r\nConnection: close\r\n\r\n");
        let mut response = String::new();
        stream.write_all(request.as_bytes()).await.is_ok()
            && stream.read_to_string(&mut response).await.is_ok()
            && response.starts_with("HTTP/1.1 200")
    }

    fn gateway_listen(&self) -> Option<String> {
        lock(&self.envs)
            .get(GATEWAY)?
            .iter()
            .find(|(k, _)| k == "GATEWAY_LISTEN")
            .map(|(_, v)| v.clone())
    }

    /// `Ok` while `name` runs; otherwise how it ended (or that it was never started).
    pub fn alive(&self, name: &str) -> Result<(), String> {
        match self.children().get_mut(name) {
            None => Err(format!("{name} is not running (killed and not restarted?)")),
            Some(child) => match child.try_wait() {
                Ok(None) => Ok(()),
                Ok(Some(exit)) => Err(format!("{name} exited with {exit}")),
                Err(err) => Err(format!("{name}: cannot tell whether it runs: {err}")),
            },
        }
    }

    /// The names of the processes started and not killed, in name order.
    pub fn running(&self) -> Vec<String> {
        self.children().keys().cloned().collect()
    }

    /// What `name` has logged so far.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }

    /// The last lines `name` logged, for failure messages.
    pub fn log_tail(&self, name: &str) -> String {
        let log = self.log(name);
        let lines: Vec<&str> = log.lines().collect();
        let start = lines.len().saturating_sub(30);
        format!("--- last lines of {name}'s log ---\n{}", lines[start..].join("\n"))
    }

    /// Kills `name` with SIGKILL: a crash, no shutdown of any kind.
    pub fn kill(&self, name: &str) {
        let child = self.children().remove(name);
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills `name` (SIGKILL) if it runs and starts it again as it was started — same data
    /// directory, same environment (the gateway keeps its port). Does not wait for it.
    pub fn restart(&self, name: &str) {
        self.kill(name);
        let env = lock(&self.envs).get(name).cloned().unwrap_or_default();
        self.launch(name, &env);
    }

    /// Stops `name` with SIGTERM and waits for it; returns whether it exited cleanly.
    pub fn terminate(&self, name: &str) -> bool {
        let child = self.children().remove(name);
        let Some(mut child) = child else {
            return false;
        };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(exit)) = child.try_wait() {
                return exit.success();
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Calls `O`, retrying for up to 30 s while its component is down, starting or
    /// restarting (the client side of at-least-once: every request the tests send carries an
    /// idempotency key or is a read).
    pub async fn call<O: Operation>(&self, request: &O::Request) -> Result<O::Response, CallError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            match self.bus.call::<O>(request).await {
                Err(err) if err.is_retryable() && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => return other,
            }
        }
    }

    fn children(&self) -> MutexGuard<'_, BTreeMap<String, Child>> {
        lock(&self.processes)
    }
}

/// A lock that a panicking test thread cannot poison for the others.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Drop for Stack {
    fn drop(&mut self) {
        for child in self.children().values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
