//! [`Stack`]: the processes of a running storefront — start, crash, restart, logs. Which
//! components there are and how each starts comes from their manifests (the process runner,
//! `crates/runner`), so a component added with `mandate new` is part of the stack with no edit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mandate::{Bus, CallError, ConnectionOptions, Operation};
use runner::{Component, Kind, Running, Settings};
use testkit::NatsServer;

use crate::GATEWAY;
use crate::server::{Broker, Wiring};

/// How long a started or restarted process may take to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A running storefront. Dropping it kills every process.
#[derive(Debug)]
pub struct Stack {
    pub bus: Bus,
    /// The nats-server (or the cluster), behind a lock so that tests sharing the stack can
    /// crash and restart it.
    pub(crate) server: Mutex<Broker>,
    url: String,
    /// Every component of the repository, from its manifests.
    known: Vec<Component>,
    /// What each is started with (bus URL, data and log directories, binaries).
    settings: Settings,
    dir: tempfile::TempDir,
    processes: Mutex<BTreeMap<String, Running>>,
    /// The extra environment each process was started with, so a restart is the same process.
    envs: Mutex<BTreeMap<String, Vec<(String, String)>>>,
    /// Whether each process gets a metrics listener on a free port of its own (see
    /// `observed.rs`).
    observed: bool,
}

impl Stack {
    /// Starts a nats-server and the given components of this repository, and waits until each
    /// answers its admin status over the bus.
    pub async fn start(components: &[&str]) -> Stack {
        Stack::start_in(&testkit::repo_root(), &testkit::bin_dir(), Some(components)).await
    }

    /// The whole storefront: every component of this repository with a store (the gateway is
    /// started by [`Stack::start_gateway`]).
    pub async fn storefront() -> Stack {
        Stack::start_in(&testkit::repo_root(), &testkit::bin_dir(), None).await
    }

    /// Starts a nats-server and the components of the repository at `repo` (all with a store
    /// when `components` is `None`), cargo binaries from `bin_dir`; waits until each answers.
    pub async fn start_in(repo: &Path, bin_dir: &Path, components: Option<&[&str]>) -> Stack {
        Stack::start_single(repo, bin_dir, components, false).await
    }

    /// [`start_in`](Stack::start_in) on one nats-server; `observed`: every process with its
    /// metrics listener on.
    pub(crate) async fn start_single(
        repo: &Path,
        bin_dir: &Path,
        components: Option<&[&str]>,
        observed: bool,
    ) -> Stack {
        let server = NatsServer::start();
        let url = server.url();
        let bus = Bus::connect(&ConnectionOptions::new(url.clone()), "e2e")
            .await
            .expect("e2e: connects to the test server");
        let wiring = Wiring {
            broker: Broker::Single(Box::new(server)),
            bus,
            url,
            credentials: BTreeMap::new(),
            env: Vec::new(),
        };
        Stack::start_wired(wiring, repo, bin_dir, components, observed).await
    }

    /// Starts the components of the repository at `repo` on the broker of `wiring`.
    pub(crate) async fn start_wired(
        wiring: Wiring,
        repo: &Path,
        bin_dir: &Path,
        components: Option<&[&str]>,
        observed: bool,
    ) -> Stack {
        let known = runner::components(repo).unwrap_or_else(|e| panic!("e2e: {e:#}"));
        let names: Vec<String> = match components {
            // A partitioned component asked for by name is all of its partitions.
            Some(names) => names
                .iter()
                .flat_map(|name| match known.iter().find(|c| c.name == *name) {
                    Some(component) => component.instances(),
                    None => vec![(*name).to_owned()],
                })
                .collect(),
            None => stateful(&known),
        };
        let Wiring {
            broker,
            bus,
            url,
            credentials,
            env,
        } = wiring;
        let dir = tempfile::tempdir().expect("e2e: tempdir");
        let log = std::env::var("E2E_LOG").unwrap_or_else(|_| "warn".into());
        let settings = Settings {
            url: url.clone(),
            data_dir: dir.path().join("data"),
            bin_dir: bin_dir.to_owned(),
            credentials,
            env: [("RUST_LOG".to_owned(), log)].into_iter().chain(env).collect(),
            log_dir: Some(dir.path().to_owned()),
        };
        let stack = Stack {
            bus,
            server: Mutex::new(broker),
            url,
            known,
            settings,
            dir,
            processes: Mutex::new(BTreeMap::new()),
            envs: Mutex::new(BTreeMap::new()),
            observed,
        };
        for name in &names {
            stack.spawn(name);
        }
        for name in &names {
            stack.wait_ready(name).await;
        }
        stack
    }

    /// The processes of the components of the repository with a store, by the name each
    /// answers its admin status under (from their manifests): a component's name, or
    /// `<name>.p<P>of<N>` for each partition of a partitioned one.
    pub fn components(&self) -> Vec<String> {
        stateful(&self.known)
    }

    /// The `NATS_URL` the components got: the nats-server's client URL, or the cluster's
    /// nodes as a comma-separated list (the same across restarts).
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
        for process in self.processes_of(name) {
            let mut env = env.clone();
            if self.observed {
                env.push(crate::observed::listener_env());
            }
            lock(&self.envs).insert(process.clone(), env.clone());
            self.launch(&process, &env);
        }
    }

    /// The processes `name` stands for: a partitioned component's name stands for all its
    /// partitions (`orders` → `orders.p0of3`, ...); any other name for itself.
    pub fn processes_of(&self, name: &str) -> Vec<String> {
        match self.known.iter().find(|c| c.name == name) {
            Some(component) => component.instances(),
            None => vec![name.to_owned()],
        }
    }

    fn launch(&self, name: &str, env: &[(String, String)]) {
        let component = self
            .known
            .iter()
            .find(|c| c.instances().iter().any(|i| i == name))
            .unwrap_or_else(|| {
                panic!(
                    "e2e: no component {name} in this repository's manifests (there are {})",
                    self.known
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
        let child = component
            .instance_process(&self.settings, name)
            .and_then(|process| process.envs(env.iter().cloned()).spawn())
            .unwrap_or_else(|e| panic!("e2e: cannot start {name}: {e:#}"));
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
        for process in self.processes_of(name) {
            if let Err(why) = self.ready(&process, READY_TIMEOUT).await {
                panic!("e2e: {why}");
            }
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
            Some(child) => child.alive(),
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
        for process in self.processes_of(name) {
            let child = self.children().remove(&process);
            if let Some(child) = child {
                child.kill();
            }
        }
    }

    /// Kills `name` (SIGKILL) if it runs and starts it again as it was started — same data
    /// directory, same environment (the gateway keeps its port). Does not wait for it.
    pub fn restart(&self, name: &str) {
        self.kill(name);
        for process in self.processes_of(name) {
            let env = lock(&self.envs).get(&process).cloned().unwrap_or_default();
            self.launch(&process, &env);
        }
    }

    /// Stops `name` with SIGTERM and waits for it; returns whether it exited cleanly.
    pub fn terminate(&self, name: &str) -> bool {
        let mut clean = true;
        for process in self.processes_of(name) {
            let child = self.children().remove(&process);
            clean &= child.is_some_and(|child| child.terminate(Duration::from_secs(15)));
        }
        clean
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

    /// The extra environment of each process started so far.
    pub(crate) fn envs(&self) -> &Mutex<BTreeMap<String, Vec<(String, String)>>> {
        &self.envs
    }

    fn children(&self) -> MutexGuard<'_, BTreeMap<String, Running>> {
        lock(&self.processes)
    }
}

/// The processes of the components with a store (not bus clients such as the gateway): one
/// per component, or one per partition.
fn stateful(known: &[Component]) -> Vec<String> {
    known
        .iter()
        .filter(|c| c.kind == Kind::Component)
        .flat_map(Component::instances)
        .collect()
}

/// The component a process of the stack belongs to: `orders` for `orders.p1of3`.
pub fn component_of(process: &str) -> &str {
    process.split_once('.').map_or(process, |(component, _)| component)
}

/// A lock that a panicking test thread cannot poison for the others.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Drop for Stack {
    fn drop(&mut self) {
        // Each process is killed and reaped as it is dropped.
        self.children().clear();
    }
}
