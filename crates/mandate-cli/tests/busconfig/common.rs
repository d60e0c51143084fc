//! A broker configured by what `mandate bus-config` generates, small kit components to run
//! under it, and probes that tell an allowed operation from a refused one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event};
use mandate::{ConnectionOptions, Manifest, Options};
use testkit::NatsServer;
use tokio::sync::mpsc;

/// How long a probe waits for the server's verdict on an operation.
const VERDICT: Duration = Duration::from_secs(3);

/// The workspace root (this crate is `crates/mandate-cli`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the workspace root")
        .to_path_buf()
}

/// Runs the real `mandate` binary (no NATS variables inherited).
pub fn mandate(args: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mandate"));
    command.args(args).env_remove("RUST_LOG");
    for name in [
        "NATS_URL",
        "NATS_USER",
        "NATS_PASSWORD",
        "NATS_PASSWORD_FILE",
        "NATS_CREDS",
        "NATS_NKEY_FILE",
    ] {
        command.env_remove(name);
    }
    command.output().expect("mandate runs")
}

/// The test's password of `user` (the generated config reads it from `$<USER>_PASSWORD`).
pub fn password(user: &str) -> String {
    format!("secret-{user}")
}

/// A nats-server whose users and permissions are exactly what `mandate bus-config --write`
/// generates from the given manifests.
pub struct Broker {
    pub server: NatsServer,
    /// The components' data directories.
    pub data: tempfile::TempDir,
}

impl Broker {
    /// Writes the manifests (kit manifests, and raw JSON for bus clients) into a fresh
    /// repository, runs `mandate bus-config --write` there, and starts nats-server with the
    /// generated permissions and a password variable per user.
    pub fn start(kit: &[Manifest], clients: &[serde_json::Value]) -> Broker {
        let repo = repo_with(kit, clients);
        let out = mandate(&["bus-config", "--write", "--repo", &repo.path().display().to_string()]);
        assert!(
            out.status.success(),
            "mandate bus-config --write failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let permissions =
            std::fs::read_to_string(repo.path().join("bus-config/permissions.conf")).expect("permissions generated");
        let mut config = String::new();
        for user in users(&repo) {
            config.push_str(&format!("{}: \"{}\"\n", var(&user, "PASSWORD"), password(&user)));
        }
        config.push_str(&permissions);
        Broker::with_config(&config)
    }

    /// Like [`Broker::start`] with `mandate bus-config --nkeys`: every user gets a fresh nkey
    /// pair, its public key in `$<USER>_NKEY`. Returns the seeds by user.
    pub fn start_with_nkeys(kit: &[Manifest], clients: &[serde_json::Value]) -> (Broker, BTreeMap<String, String>) {
        let repo = repo_with(kit, clients);
        let out = mandate(&["bus-config", "--nkeys", "--repo", &repo.path().display().to_string()]);
        assert!(
            out.status.success(),
            "mandate bus-config --nkeys failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // `--nkeys` prints and writes nothing; the password variant lists the users.
        let write = mandate(&["bus-config", "--write", "--repo", &repo.path().display().to_string()]);
        assert!(write.status.success());
        let mut config = String::new();
        let mut seeds = BTreeMap::new();
        for user in users(&repo) {
            let pair = nkeys::KeyPair::new_user();
            config.push_str(&format!("{}: \"{}\"\n", var(&user, "NKEY"), pair.public_key()));
            seeds.insert(user, pair.seed().expect("a seed"));
        }
        config.push_str(&String::from_utf8_lossy(&out.stdout));
        (Broker::with_config(&config), seeds)
    }

    fn with_config(config: &str) -> Broker {
        Broker {
            server: NatsServer::start_with_config(config),
            data: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Connection options of `user` with its password.
    pub fn connection(&self, user: &str) -> ConnectionOptions {
        let mut connection = ConnectionOptions::new(self.server.url()).with_user(user, &password(user));
        connection.connect_timeout = Duration::from_secs(5);
        connection
    }

    /// Options for a kit component running as its own bus user.
    pub fn options(&self, user: &str) -> Options {
        let mut options = Options::new(self.server.url(), self.data.path());
        options.connection = self.connection(user);
        options.batch_size = 16;
        options.max_attempts = 2;
        options.retry_backoff = Duration::from_millis(10);
        options.ack_wait = Duration::from_secs(2);
        options
    }

    /// A raw connection as `user` (inbox `_INBOX.<inbox>`) that reports the server's errors.
    pub async fn probe(&self, user: &str, inbox: &str) -> Probe {
        Probe::connect(
            &self.server.url(),
            Some((user, &password(user))),
            &format!("_INBOX.{inbox}"),
        )
        .await
    }

    /// The permission violations the server has logged so far.
    pub fn violations(&self) -> Vec<String> {
        self.server
            .log()
            .lines()
            .filter(|line| line.contains("Violation"))
            .map(str::to_owned)
            .collect()
    }
}

/// A repository holding `components/<name>/manifest.json` for the given manifests.
fn repo_with(kit: &[Manifest], clients: &[serde_json::Value]) -> tempfile::TempDir {
    let repo = tempfile::tempdir().expect("tempdir");
    let mut manifests: Vec<(String, String)> = kit
        .iter()
        .map(|m| (m.name.clone(), serde_json::to_string_pretty(m).expect("json")))
        .collect();
    for client in clients {
        let name = client["name"]
            .as_str()
            .expect("a client manifest has a name")
            .to_owned();
        manifests.push((name, client.to_string()));
    }
    for (name, json) in &manifests {
        let dir = repo.path().join("components").join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("manifest.json"), json).expect("manifest written");
    }
    repo
}

/// The users of the generated `.env.example` (`<USER>_PASSWORD=change-me-<user>`).
fn users(repo: &tempfile::TempDir) -> Vec<String> {
    std::fs::read_to_string(repo.path().join(".env.example"))
        .expect(".env.example generated")
        .lines()
        .filter_map(|line| line.split_once("=change-me-").map(|(_, user)| user.to_owned()))
        .collect()
}

/// `$<USER>_<WHAT>`, the variable the generated config reads. The test defines it as a
/// config variable in the same file: nats-server passes no variables into includes, and the
/// server's environment is not the test's to set.
fn var(user: &str, what: &str) -> String {
    format!("{}_{what}", user.to_uppercase().replace('-', "_"))
}

/// A connection whose server errors (`-ERR 'Permissions Violation ...'`) are collected.
pub struct Probe {
    pub client: Client,
    errors: mpsc::UnboundedReceiver<String>,
}

impl Probe {
    pub async fn connect(url: &str, credentials: Option<(&str, &str)>, inbox_prefix: &str) -> Probe {
        let (tx, errors) = mpsc::unbounded_channel();
        let mut options = ConnectOptions::new()
            .custom_inbox_prefix(inbox_prefix)
            .event_callback(move |event| {
                let tx = tx.clone();
                async move {
                    if let Event::ServerError(error) = event {
                        let _ = tx.send(error.to_string());
                    }
                }
            });
        if let Some((user, password)) = credentials {
            options = options.user_and_password(user.to_owned(), password.to_owned());
        }
        let client = options.connect(url).await.expect("the probe connects");
        Probe { client, errors }
    }

    /// Publishes to `subject` (with a reply subject in the probe's inbox, as a request would)
    /// and asserts that the server refuses it.
    pub async fn publish_refused(&mut self, subject: &str) {
        let inbox = self.client.new_inbox();
        self.client
            .publish_with_reply(subject.to_owned(), inbox, "{}".into())
            .await
            .expect("published");
        self.expect_violation(&format!("Permissions Violation for Publish to \"{subject}\""))
            .await;
    }

    /// Subscribes to `subject` and asserts that the server refuses it.
    pub async fn subscribe_refused(&mut self, subject: &str) {
        let _subscriber = self.client.subscribe(subject.to_owned()).await.expect("sent");
        self.expect_violation(&format!("Permissions Violation for Subscription to \"{subject}\""))
            .await;
    }

    /// Publishes to `subject` and asserts that the server raised no error.
    pub async fn publish_allowed(&mut self, subject: &str) {
        self.client
            .publish(subject.to_owned(), "{}".into())
            .await
            .expect("published");
        self.expect_no_error(subject).await;
    }

    /// Sends a request to an allowed JetStream API subject and returns the JSON answer.
    pub async fn api(&mut self, subject: &str, body: serde_json::Value) -> serde_json::Value {
        let reply = tokio::time::timeout(
            VERDICT,
            self.client.request(subject.to_owned(), body.to_string().into()),
        )
        .await
        .unwrap_or_else(|_| panic!("{subject}: no answer"))
        .unwrap_or_else(|e| panic!("{subject}: {e}"));
        serde_json::from_slice(&reply.payload).expect("a JSON answer")
    }

    async fn expect_violation(&mut self, expected: &str) {
        self.client.flush().await.expect("flushed");
        let deadline = tokio::time::Instant::now() + VERDICT;
        loop {
            match tokio::time::timeout_at(deadline, self.errors.recv()).await {
                Ok(Some(error)) if error.contains(expected) => return,
                Ok(Some(_other)) => continue,
                Ok(None) | Err(_) => panic!("the server did not refuse it: expected `{expected}`"),
            }
        }
    }

    async fn expect_no_error(&mut self, what: &str) {
        self.client.flush().await.expect("flushed");
        // An -ERR precedes the PONG that ended the flush; give the event task a moment.
        if let Ok(Some(error)) = tokio::time::timeout(Duration::from_millis(200), self.errors.recv()).await {
            panic!("{what}: the server refused it: {error}");
        }
    }
}

/// Polls `probe` until it returns `Some`, or panics after 15 s saying what it waited for.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
