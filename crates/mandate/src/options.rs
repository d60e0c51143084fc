//! Configuration, from flags and the environment (clap), shared by every component.

use std::path::PathBuf;
use std::time::Duration;

/// How to reach the bus: the same flags and variables as the `nats` CLI where they overlap.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionOptions {
    /// NATS server URL, or several separated by commas (the nodes of a cluster), as the nats
    /// CLI takes them: `nats://nats-1:4222,nats://nats-2:4222`.
    #[arg(
        long = "server",
        short = 's',
        env = "NATS_URL",
        default_value = "nats://127.0.0.1:4222",
        value_parser = crate::servers::checked
    )]
    pub url: String,
    /// User name for user/password authentication.
    #[arg(long, env = "NATS_USER")]
    pub user: Option<String>,
    /// Password for user/password authentication.
    #[arg(long, env = "NATS_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// A file holding the password (e.g. a Docker or Kubernetes secret); used when no --password.
    #[arg(long, env = "NATS_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// A NATS credentials file (JWT + nkey seed).
    #[arg(long, env = "NATS_CREDS")]
    pub creds: Option<PathBuf>,
    /// A file holding an nkey seed (`SU...`), for nkey authentication.
    #[arg(long, env = "NATS_NKEY_FILE")]
    pub nkey_file: Option<PathBuf>,
    /// How long to keep retrying the first connection before giving up.
    #[arg(long, env = "MANDATE_CONNECT_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub connect_timeout: Duration,
}

impl ConnectionOptions {
    /// Options for a server at `url` with no credentials (tests, local tools).
    pub fn new(url: impl Into<String>) -> ConnectionOptions {
        ConnectionOptions {
            url: url.into(),
            user: None,
            password: None,
            password_file: None,
            creds: None,
            nkey_file: None,
            connect_timeout: Duration::from_secs(60),
        }
    }

    /// The same options with user/password credentials.
    pub fn with_user(mut self, user: &str, password: &str) -> ConnectionOptions {
        self.user = Some(user.to_owned());
        self.password = Some(password.to_owned());
        self
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Test-only fault injection: park a task at a named point, so a test can kill the component
/// there and prove that nothing is lost or doubled. Hidden from `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    None,
    /// Commit a batch, then stop before acknowledging it.
    ParkBeforeAck,
    /// Never publish the outbox.
    ParkRelay,
    /// Commit (a batch, a group of commands), then stop before handing the outbox entries
    /// to the relay.
    ParkBeforeHandOff,
    /// The relay takes handed entries, then stops before publishing them.
    ParkAfterHandOff,
    /// The relay publishes, then stops before awaiting the acks.
    ParkBeforeRelayAck,
    /// The relay has the acks, then stops before deleting the entries.
    ParkBeforeDelete,
    /// Of every four commits' hand-offs, lose one silently (as a path that forgot to hand
    /// off would), and hand one off only after asking the relay to read the store (which then
    /// finds it there first): the relay must find the lost one in the store, skip the one it
    /// has read already, and keep the outbox order.
    MissHandOffs,
    /// Apply commits but never make them durable: the group sync never reports (the writes
    /// may still reach the disk). Nothing a commit decided may leave the process — no publish,
    /// no ack, no reply.
    ParkSyncs,
    /// Apply and commit batches but never acknowledge them, so JetStream redelivers.
    NeverAck,
    /// Lose the first message each consumer is delivered, before the consume loop sees it, as
    /// a dropped connection, a cluster node going down or a client's full buffer lose one in
    /// flight.
    LoseDelivery,
    /// Every event handler fails, as a broken deployment's would: each message is retried,
    /// then dead-lettered (`handler-failed`). Started again without it, the component is
    /// "fixed", and a redrive of its letters applies them.
    FailHandlers,
}

/// The store's default page cache: 16 MiB. Measured (docs/benchmarks.md): 64 MiB left a
/// component at ~96 MB resident after 200,000 events, 16 MiB at ~45 MB, with the same
/// consume throughput; the idle footprint does not depend on it.
pub const DEFAULT_CACHE_BYTES: u64 = 16 << 20;

/// See `Options::sync_linger`.
pub const DEFAULT_SYNC_LINGER: Duration = Duration::from_millis(10);

/// Everything a component reads from its command line and environment.
#[derive(Debug, Clone, clap::Parser)]
pub struct Options {
    #[command(flatten)]
    pub connection: ConnectionOptions,
    /// Where the component's private store lives: `<data-dir>/<component>`.
    #[arg(long, env = "MANDATE_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Log format; the level comes from RUST_LOG (default `info`).
    #[arg(long, env = "MANDATE_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Events fetched, applied and committed together: the lever for throughput.
    #[arg(long, env = "MANDATE_BATCH_SIZE", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,
    /// The store's page cache, in bytes (sled's own default is 1 GiB). It bounds what a busy
    /// component holds in memory, not its idle footprint (docs/benchmarks.md, scenario 6).
    #[arg(long, env = "MANDATE_CACHE_BYTES", default_value_t = DEFAULT_CACHE_BYTES)]
    pub cache_bytes: u64,
    /// How long a consumer that has caught up leaves its commits unacknowledged, waiting for a
    /// sync that another commit of the component starts (a command's, the relay's, another
    /// consumer's), before it starts one; it goes on applying meanwhile. What a commit
    /// publishes, and a command's answer, never wait: they sync at once. Fewer syncs for what
    /// no one waits on (docs/benchmarks.md, "The hop"); 0: every commit syncs at once.
    #[arg(long, env = "MANDATE_SYNC_LINGER", default_value = "10ms", value_parser = humantime::parse_duration)]
    pub sync_linger: Duration,
    /// Attempts a handler gets at one event before it is dead-lettered.
    #[arg(long, env = "MANDATE_MAX_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
    /// The first pause between attempts; it doubles up to 5 s.
    #[arg(long, env = "MANDATE_RETRY_BACKOFF", default_value = "100ms", value_parser = humantime::parse_duration)]
    pub retry_backoff: Duration,
    /// How long JetStream waits for an acknowledgement before it redelivers.
    #[arg(long, env = "MANDATE_ACK_WAIT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub ack_wait: Duration,
    /// Replicas of the streams the component creates when missing, its own and `DLQ` (3 on a
    /// cluster). An existing stream is never changed: its configuration is the operator's.
    #[arg(long, env = "MANDATE_STREAM_REPLICAS", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub stream_replicas: u8,
    /// Run as this many partitions of the component, each its own process with its own store
    /// and consumers, receiving the events of the keys it owns (the component must declare
    /// what it is partitioned by). Changing it means rebuilding the new partitions from
    /// history (docs/design.md, "Partitions").
    #[arg(long, env = "MANDATE_PARTITIONS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::partition::SLOTS)))]
    pub partitions: u32,
    /// Which partition this process is, from 0 to `--partitions` − 1.
    #[arg(long, env = "MANDATE_PARTITION", default_value_t = 0)]
    pub partition: u32,
    /// On a fresh store (nothing applied yet), re-apply each stream's history up to its
    /// current end as a rebuild: what handlers emit meanwhile is not published. For new
    /// partitions of a changed count, whose reactions to that history the old partitions
    /// already published (docs/evolution.md, "Changing the number of partitions").
    #[arg(long, env = "MANDATE_REPLAY_MARK_AT_STREAM_END")]
    pub replay_mark_at_stream_end: bool,
    /// Print the component's manifest (what it publishes, subscribes to and serves) as JSON and exit.
    #[arg(long)]
    pub print_manifest: bool,
    /// Serve `/metrics`, `/livez` and `/readyz` on this address, IP:PORT (e.g.
    /// 127.0.0.1:9464); off when not given.
    #[arg(long, env = "MANDATE_METRICS", value_parser = parse_metrics_addr)]
    pub metrics: Option<std::net::SocketAddr>,
    /// How long the outbox's oldest entry may wait to be published before the component says
    /// it is not ready (`/readyz`): the outbox is then wedged.
    #[arg(long, env = "MANDATE_OUTBOX_WEDGED_AFTER", default_value = "60s", value_parser = humantime::parse_duration)]
    pub outbox_wedged_after: Duration,
    /// Ask this component's own listener (MANDATE_METRICS) whether it is ready, and exit 0
    /// if it is, 1 if not: a container healthcheck that needs nothing but this binary.
    #[arg(long)]
    pub healthcheck: bool,
    #[arg(long, env = "MANDATE_FAULT", value_enum, default_value = "none", hide = true)]
    pub fault: Fault,
}

impl Options {
    /// Defaults for a component talking to `url` and keeping its store under `data_dir`.
    pub fn new(url: impl Into<String>, data_dir: impl Into<PathBuf>) -> Options {
        Options {
            connection: ConnectionOptions::new(url),
            data_dir: data_dir.into(),
            log_format: LogFormat::Text,
            batch_size: 256,
            cache_bytes: DEFAULT_CACHE_BYTES,
            sync_linger: DEFAULT_SYNC_LINGER,
            max_attempts: 5,
            retry_backoff: Duration::from_millis(100),
            ack_wait: Duration::from_secs(30),
            stream_replicas: 1,
            partitions: 1,
            partition: 0,
            replay_mark_at_stream_end: false,
            print_manifest: false,
            metrics: None,
            outbox_wedged_after: Duration::from_secs(60),
            healthcheck: false,
            fault: Fault::None,
        }
    }
}

/// Installs the `tracing` subscriber: level from `RUST_LOG` (default `info`), text or JSON.
/// Does nothing when one is already installed (tests start several components).
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: piped into a file or `docker compose logs` they are
        // noise around every field.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Where a component's metrics and probes listen (`MANDATE_METRICS`).
pub type MetricsAddr = std::net::SocketAddr;

/// Parses `MANDATE_METRICS` / `--metrics`, saying what to write when it is not an address.
pub fn parse_metrics_addr(text: &str) -> Result<MetricsAddr, String> {
    text.trim().parse().map_err(|_| {
        format!(
            "`{text}` is not an address to listen on: write IP:PORT, e.g. 127.0.0.1:9464 (this host only) or 0.0.0.0:9464 (every interface, as in a container)"
        )
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Options;

    #[test]
    fn the_server_flag_takes_a_list_and_refuses_an_empty_entry_before_anything_starts() {
        let options =
            Options::try_parse_from(["component", "--server", "nats://a:4222, nats://b:4222"]).expect("a list");
        assert_eq!(options.connection.url, "nats://a:4222, nats://b:4222");
        let err = Options::try_parse_from(["component", "--server", "nats://a:4222,,nats://b:4222"])
            .expect_err("an empty entry");
        let message = err.to_string();
        assert!(message.contains("server 2 of 3 is empty"), "{message}");
    }
}
