//! Declaring a component: what it handles, serves and publishes — in one place, which is
//! also its manifest for the tools and the broker configuration.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::context::{Context, HandlerResult};
use crate::contract::{Event, Operation, stream_name};
use crate::error::{Error, Result};
use crate::handler::{self, Endpoint, Served, ServiceError, Subscription};
use crate::options::Options;
use crate::runtime::{Declared, Running};
use crate::store::View;

/// A component under construction: name it, add handlers and services, then `run` it.
///
/// ```no_run
/// # use mandate::{Component, Context, HandlerResult};
/// # async fn demo() -> mandate::Result<()> {
/// Component::new("counter")
///     // .on::<OrderPlaced>(count_order)
///     // .query::<GetCount>(get_count)
///     .run()
///     .await
/// # }
/// ```
#[derive(Debug)]
pub struct Component {
    name: String,
    version: String,
    description: String,
    subscriptions: BTreeMap<String, Subscription>,
    served: Vec<Served>,
    publishes: BTreeSet<String>,
    publish_subjects: BTreeSet<String>,
    partitioned_by: Option<&'static str>,
    partition_count: u32,
    partitions_moving_from: Option<u32>,
}

impl Component {
    /// A component named `name` (lower-case letters, digits, dashes): its subjects, stream,
    /// consumers, service and store folder are all derived from it.
    pub fn new(name: impl Into<String>) -> Component {
        let name = name.into();
        Component {
            description: format!("{name} (a mandate component)"),
            name,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            subscriptions: BTreeMap::new(),
            served: Vec::new(),
            publishes: BTreeSet::new(),
            publish_subjects: BTreeSet::new(),
            partitioned_by: None,
            partition_count: 1,
            partitions_moving_from: None,
        }
    }

    /// Declares that this component may run as partitions (`--partitions N --partition P`)
    /// by the key of `entity` (e.g. `order`): each partition receives the events keyed by
    /// that entity (`Event::KEY`) whose key it owns, and every other event it handles.
    /// `count` is how many partitions it is deployed as (the manifest's `partitions`): the
    /// broker's permissions name their consumers and private subjects, and `mandate dev`, the
    /// end-to-end stack and the compose file run that many. `--partitions` still decides what
    /// one process is (a new count runs beside the old while it is rebuilt, docs/evolution.md).
    pub fn partitioned_by(mut self, entity: &'static str, count: u32) -> Component {
        self.partitioned_by = Some(entity);
        self.partition_count = count;
        self
    }

    /// While the count of partitions changes (docs/evolution.md, "Changing the number of
    /// partitions"): the count the old partitions still run as beside the new. The manifest
    /// says so, and the broker's permissions grant both counts' consumers and private
    /// subjects; remove it once the old partitions are stopped.
    pub fn partitions_moving_from(mut self, old_count: u32) -> Component {
        self.partitions_moving_from = Some(old_count);
        self
    }

    /// The version shown by `$SRV.INFO` (use `env!("CARGO_PKG_VERSION")`).
    pub fn version(mut self, version: impl Into<String>) -> Component {
        self.version = version.into();
        self
    }

    /// A one-line description, shown by `nats micro info` and `--help`.
    pub fn description(mut self, description: impl Into<String>) -> Component {
        self.description = description.into();
        self
    }

    /// Declares that this component publishes `E` (it must be `E`'s owner). Handlers and
    /// commands may then [`emit`](Context::emit) it.
    pub fn publishes<E: Event>(mut self) -> Component {
        self.publishes.insert(E::ce_type());
        self.publish_subjects.insert(E::subject());
        self
    }

    /// Handles every `E` on the bus, from the owner's stream, exactly once, in stream order.
    /// The handler's writes and emits commit atomically with the stream position.
    pub fn on<E: Event>(
        mut self,
        handler: impl Fn(&mut Context<'_>, E) -> HandlerResult + Send + Sync + 'static,
    ) -> Component {
        self.subscriptions.insert(
            E::subject(),
            Subscription {
                owner: E::OWNER,
                ce_type: E::ce_type(),
                key: E::KEY,
                handler: handler::event_fn(handler),
            },
        );
        self
    }

    /// Serves `O` as a command: it runs in a store transaction, may change state and emit
    /// events (published after the commit, through the outbox). A command that emits an
    /// event larger than the server's max payload is refused with a 413 and leaves no trace.
    pub fn command<O: Operation>(
        self,
        handler: impl Fn(&mut Context<'_>, O::Request) -> Result<O::Response, ServiceError> + Send + Sync + 'static,
    ) -> Component {
        self.serve::<O>(handler::command_fn::<O>(handler))
    }

    /// Serves `O` as a query: it reads committed state and changes nothing.
    pub fn query<O: Operation>(
        self,
        handler: impl Fn(&View, O::Request) -> Result<O::Response, ServiceError> + Send + Sync + 'static,
    ) -> Component {
        self.serve::<O>(handler::query_fn::<O>(handler))
    }

    fn serve<O: Operation>(mut self, endpoint: Endpoint) -> Component {
        self.served.push(Served {
            operation: O::qualified_name(),
            subject: O::subject(),
            endpoint,
            key: O::KEY,
            gather: None,
        });
        self
    }

    /// Makes the query `O` (declared before) one that every partition answers in part, when
    /// the component runs as partitions: the partition that receives it asks all of them and
    /// answers with `merge` of their answers (a list of orders, say). Unpartitioned, `O` is
    /// answered as it is.
    pub fn gathered<O: Operation>(
        mut self,
        merge: impl Fn(O::Request, Vec<O::Response>) -> O::Response + Send + Sync + 'static,
    ) -> Component {
        let gather = crate::handler::GatherFn(std::sync::Arc::new(
            move |request: &[u8], answers: Vec<bytes::Bytes>| {
                let request = crate::codec::decode::<O::Request>(request)
                    .map_err(|e| ServiceError::bad_request(format!("the request does not decode: {e}")))?;
                let answers = answers
                    .iter()
                    .map(|answer| crate::codec::decode::<O::Response>(answer))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| ServiceError::internal(format!("a partition's answer does not decode: {e}")))?;
                rmp_serde::to_vec_named(&merge(request, answers)).map_err(|e| ServiceError::internal(e.to_string()))
            },
        ));
        let name = O::qualified_name();
        match self.served.iter_mut().find(|served| served.operation == name) {
            Some(served) => served.gather = Some(gather),
            None => panic!("gathered::<{name}>: declare it with `query` first"),
        }
        self
    }

    /// What this component publishes, subscribes to and serves.
    pub fn manifest(&self) -> Manifest {
        let mut subscribes: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for sub in self.subscriptions.values() {
            subscribes
                .entry(stream_name(sub.owner))
                .or_default()
                .push(sub.ce_type.clone());
        }
        Manifest {
            name: self.name.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            publishes: self.publishes.iter().cloned().collect(),
            subscribes,
            serves: self.served.iter().map(|s| s.operation.clone()).collect(),
            partitions: self.partitioned_by.map(|entity| Partitions {
                by: entity.to_owned(),
                count: self.partition_count,
                moving_from: self.partitions_moving_from,
            }),
        }
    }

    /// Parses flags and environment, sets up logging, runs until SIGTERM or SIGINT, then
    /// shuts down gracefully. `--print-manifest` prints the manifest and returns.
    pub async fn run(self) -> Result<()> {
        use clap::{CommandFactory, FromArgMatches};
        let command = Options::command()
            .name(self.name.clone())
            .about(self.description.clone())
            .version(self.version.clone());
        let options = Options::from_arg_matches(&command.get_matches()).map_err(|e| Error::Config(e.to_string()))?;
        if options.print_manifest {
            let json = serde_json::to_string_pretty(&self.manifest()).map_err(|e| Error::Config(e.to_string()))?;
            println!("{json}");
            return Ok(());
        }
        if options.healthcheck {
            return healthcheck(&options);
        }
        crate::options::init_logging(options.log_format);
        let partition = (options.partitions > 1).then(|| format!("p{}of{}", options.partition, options.partitions));
        let telemetry = crate::telemetry::init(&self.name, partition);
        let running = self.start(options).await?;
        tracing::info!(component = %running.name(), "ready");
        let stopping = running.stopping();
        tokio::select! {
            () = shutdown_signal() => tracing::info!("shutdown requested; draining"),
            () = stopping.cancelled() => tracing::warn!("a task of the component stopped; shutting down"),
        }
        // A stop nobody asked for is a failure even when the shutdown itself goes well: the
        // process contract has it exit non-zero, so that a supervisor restarts it.
        let failure = running.failure();
        let stopped = running.shutdown().await;
        // After the drain: the spans of the last events and publishes are in the queue.
        if let Some(telemetry) = telemetry {
            telemetry.shutdown().await;
        }
        stopped?;
        match failure {
            Some(reason) => Err(Error::Stopped(reason)),
            None => Ok(()),
        }
    }

    /// [`run`](Component::run) for `main`: prints an error in plain words (not `Debug`)
    /// and turns it into a failing exit code.
    ///
    /// ```no_run
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> std::process::ExitCode {
    ///     mandate::Component::new("counter").main().await
    /// }
    /// ```
    pub async fn main(self) -> std::process::ExitCode {
        match self.run().await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => {
                tracing::error!(error = %err, "stopped with an error");
                eprintln!("error: {err}");
                std::process::ExitCode::FAILURE
            }
        }
    }

    /// Starts the component with explicit options and returns a handle to it (tests, tools,
    /// embedding). [`run`](Component::run) is this plus flags, logging and signals.
    pub async fn start(self, options: Options) -> Result<Running> {
        let declared = Declared {
            name: self.name,
            version: self.version,
            description: self.description,
            subscriptions: self.subscriptions,
            served: self.served,
            publishes: self.publishes,
            publish_subjects: self.publish_subjects,
            partitioned_by: self.partitioned_by,
            partitions_moving: self.partitions_moving_from.is_some(),
        };
        crate::runtime::start(declared, options).await
    }
}

/// `--healthcheck`: asks the running component's own listener whether it is ready.
fn healthcheck(options: &Options) -> Result<()> {
    let addr = options.metrics.ok_or_else(|| {
        Error::Config("--healthcheck asks the component's metrics listener: set MANDATE_METRICS (or --metrics) to its address, e.g. 0.0.0.0:9464".to_owned())
    })?;
    crate::health::healthcheck(addr).map_err(Error::Config)
}

/// What a component publishes, subscribes to (per source stream) and serves: the input of
/// the tools, the broker permissions and the compose file. Written as `manifest.json`, it
/// follows the published manifest format (`schemas/json/manifest.json`, docs/contract.md),
/// of which it is the part a kit component needs; `mandate check` validates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub description: String,
    /// Event types, `<owner>.<name>.v<major>`.
    pub publishes: Vec<String>,
    /// Source stream → event types consumed from it.
    pub subscribes: BTreeMap<String, Vec<String>>,
    /// Operations, `<owner>.<name>.v<major>`.
    pub serves: Vec<String>,
    /// How it runs as partitions, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<Partitions>,
}

/// A partitioned component's declaration in its manifest: `{"by": "order", "count": 3}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Partitions {
    /// The entity whose key splits the events between the partitions (`Key::entity`).
    pub by: String,
    /// How many partitions it is deployed as.
    pub count: u32,
    /// The count the old partitions still run as, while the count changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moving_from: Option<u32>,
}

impl Manifest {
    /// Compares this manifest with the committed `manifest.json` at `path`, which tools,
    /// broker permissions and the compose file read without running the component. With
    /// `UPDATE_MANIFESTS=1` in the environment it rewrites the file instead.
    pub fn check_file(&self, path: impl AsRef<std::path::Path>) -> std::result::Result<(), String> {
        let path = path.as_ref();
        let json = serde_json::to_string_pretty(self).map_err(|e| e.to_string())? + "\n";
        if std::env::var_os("UPDATE_MANIFESTS").is_some() {
            return std::fs::write(path, json).map_err(|e| format!("cannot write {}: {e}", path.display()));
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        if committed == json {
            Ok(())
        } else {
            Err(format!(
                "{} is stale: the component declares\n{json}\nregenerate it with `UPDATE_MANIFESTS=1 cargo test -p {}`",
                path.display(),
                self.name
            ))
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM: what every binary of the system stops on.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
