//! The storefront as it runs for real: a nats-server and every component as its own process,
//! each with its own data directory, talking only over the bus. End-to-end tests (and the
//! benchmarks) drive it through the bus like any outside client.
//!
//! Not a component and not a dependency of one: it runs their binaries (built by
//! `cargo build --workspace --bins`), never links their crates.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use mandate::{Bus, CallError, ConnectionOptions, Operation};
use testkit::NatsServer;

/// The storefront's components with a store, in start order (owners before subscribers is
/// not required — subscribers wait for streams — but it makes start-up quieter).
pub const COMPONENTS: [&str; 6] = [
    "catalog",
    "inventory",
    "orders",
    "payments",
    "shipping",
    "notifications",
];

/// A running storefront. Dropping it kills every process.
#[derive(Debug)]
pub struct Stack {
    pub server: NatsServer,
    pub bus: Bus,
    dir: tempfile::TempDir,
    processes: Mutex<BTreeMap<String, Child>>,
}

impl Stack {
    /// Starts a nats-server and the given components, and waits until each answers its admin
    /// status over the bus.
    pub async fn start(components: &[&str]) -> Stack {
        let server = NatsServer::start();
        let bus = Bus::connect(&ConnectionOptions::new(server.url()), "e2e")
            .await
            .expect("e2e: connects to the test server");
        let stack = Stack {
            server,
            bus,
            dir: tempfile::tempdir().expect("e2e: tempdir"),
            processes: Mutex::new(BTreeMap::new()),
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

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    /// Starts `name` as its own process, with its own data directory under the stack's.
    pub fn spawn(&self, name: &str) {
        self.spawn_with(name, &[]);
    }

    /// [`spawn`](Stack::spawn) with extra environment variables.
    pub fn spawn_with(&self, name: &str, env: &[(&str, &str)]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(name))
            .expect("e2e: log file");
        let child = Command::new(testkit::workspace_bin(name))
            .env("NATS_URL", self.server.url())
            .env("MANDATE_DATA_DIR", self.dir.path().join("data"))
            .env("RUST_LOG", std::env::var("E2E_LOG").unwrap_or_else(|_| "warn".into()))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("e2e: log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("e2e: cannot start {name}: {e}"));
        self.children().insert(name.to_owned(), child);
    }

    /// Starts the gateway on a free local port and waits until `/healthz` answers; returns its
    /// base URL.
    pub async fn start_gateway(&self) -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("e2e: a free port")
            .port();
        let listen = format!("127.0.0.1:{port}");
        self.spawn_with("gateway", &[("GATEWAY_LISTEN", listen.as_str())]);
        let base = format!("http://{listen}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut stream) = tokio::net::TcpStream::connect(&listen).await {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let request = format!("GET /healthz HTTP/1.1\r\nHost: {listen}\r\nConnection: close\r\n\r\n");
                let mut response = String::new();
                if stream.write_all(request.as_bytes()).await.is_ok()
                    && stream.read_to_string(&mut response).await.is_ok()
                    && response.starts_with("HTTP/1.1 200")
                {
                    return base;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "e2e: the gateway did not become healthy:\n{}",
                self.log("gateway")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `name` answers `svc.<name>.admin.status`.
    pub async fn wait_ready(&self, name: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if self.bus.status(name).await.is_ok() {
                return;
            }
            let exited = self
                .children()
                .get_mut(name)
                .and_then(|child| child.try_wait().ok().flatten());
            if let Some(exit) = exited {
                panic!(
                    "e2e: {name} exited with {exit} before it was ready:\n{}",
                    self.log(name)
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "e2e: {name} not ready in time:\n{}",
                self.log(name)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What `name` has logged so far.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }

    /// Kills `name` with SIGKILL: a crash, no shutdown of any kind.
    pub fn kill(&self, name: &str) {
        let child = self.children().remove(name);
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
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

    /// Waits until every running component has nothing pending and an empty outbox, twice
    /// in a row (a reaction in flight between two components shows up as pending on the
    /// second look).
    pub async fn quiesce(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut quiet_rounds = 0;
        while quiet_rounds < 3 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "e2e: the storefront did not settle in time"
            );
            let mut quiet = true;
            let names: Vec<String> = self.children().keys().cloned().collect();
            for name in &names {
                match self.bus.status(name).await {
                    Ok(status) => {
                        quiet &= !status.rebuilding
                            && status.outbox_depth == 0
                            && status.consumers.iter().all(|c| c.pending == Some(0));
                    }
                    Err(_) => quiet = false,
                }
            }
            quiet_rounds = if quiet { quiet_rounds + 1 } else { 0 };
            tokio::time::sleep(Duration::from_millis(50)).await;
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
}

impl Stack {
    fn children(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Child>> {
        self.processes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for child in self.children().values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
