//! A running component: its connection, store, relay, consumers and services (its domain
//! endpoints and the admin endpoints), and how they start and stop together.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::admin::{self, Admin};
use crate::consumer::{self, Consumer};
use crate::consumers::Consumers;
use crate::contract::validate_component_name;
use crate::error::{Error, Result};
use crate::handler::{Served, Subscription};
use crate::metrics::{self, ConsumerLabels};
use crate::observed::ComponentState;
use crate::options::Options;
use crate::partition::Seat;
use crate::relay::Relay;
use crate::shared::{Progress, Shared};
use crate::store::Store;
use crate::streams;

/// Everything a component declared, as the builder hands it over.
#[derive(Debug)]
pub(crate) struct Declared {
    pub name: String,
    pub version: String,
    pub description: String,
    pub subscriptions: BTreeMap<String, Subscription>,
    pub served: Vec<Served>,
    pub publishes: BTreeSet<String>,
    pub publish_subjects: BTreeSet<String>,
    pub partitioned_by: Option<&'static str>,
    /// Its partition count is changing (`Component::partitions_moving_from`): the other
    /// count's partitions publish into its slots, so it reads its own stream live.
    pub partitions_moving: bool,
}

/// A component that is running. Dropping it aborts everything; call
/// [`shutdown`](Running::shutdown) to stop gracefully.
#[derive(Debug)]
pub struct Running {
    shared: Arc<Shared>,
    consumers: Arc<Consumers>,
    endpoints: JoinSet<()>,
    service: Option<async_nats::service::Service>,
    relay_cancel: CancellationToken,
    relay: Option<JoinHandle<()>>,
    /// The metrics and probes listener, when `--metrics` is set; stopped last.
    listener: Option<JoinHandle<()>>,
    listener_stop: CancellationToken,
    /// Where it listens (the port the system chose, for `--metrics 127.0.0.1:0`).
    metrics_addr: Option<std::net::SocketAddr>,
}

impl Running {
    pub fn name(&self) -> &str {
        self.shared.name()
    }

    /// Where `/metrics`, `/livez` and `/readyz` are served, when `--metrics` is set.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_addr
    }

    /// Cancelled when the component fails for good and should be stopped.
    pub fn stopping(&self) -> CancellationToken {
        self.shared.stopping()
    }

    /// Why it failed for good, once it has (see [`stopping`](Running::stopping)).
    pub fn failure(&self) -> Option<String> {
        self.shared.failure().map(str::to_owned)
    }

    /// Stops fetching, finishes the batch in hand, stops the services, publishes what is
    /// left in the outbox, syncs the store and closes the connection.
    pub async fn shutdown(mut self) -> Result<()> {
        self.consumers.stop().await;
        if let Some(service) = self.service.take() {
            if let Err(err) = service.stop().await {
                tracing::warn!(error = %err, "stopping the service");
            }
        }
        self.endpoints.shutdown().await;
        let drained = self.shared.relay().drain(Duration::from_secs(10)).await;
        self.relay_cancel.cancel();
        if let Some(relay) = self.relay.take() {
            let _ = relay.await;
        }
        self.shared.store().sync()?;
        if let Err(err) = self.shared.client().drain().await {
            tracing::debug!(error = %err, "draining the connection");
        }
        self.listener_stop.cancel();
        if let Some(listener) = self.listener.take() {
            let _ = listener.await;
        }
        drained?;
        tracing::info!(component = %self.shared.name(), "stopped");
        Ok(())
    }

    /// Stops everything at once, like a crash: no batch is finished, no ack sent, nothing
    /// drained. What was committed stays committed. For tests of crash recovery.
    pub async fn kill(mut self) {
        self.listener_stop.cancel();
        self.consumers.kill().await;
        self.endpoints.shutdown().await;
        if let Some(relay) = self.relay.take() {
            relay.abort();
            let _ = relay.await;
        }
        if let Some(service) = self.service.take() {
            let _ = service.stop().await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.relay_cancel.cancel();
        self.listener_stop.cancel();
        if let Some(relay) = &self.relay {
            relay.abort();
        }
        self.consumers.abort();
    }
}

pub(crate) async fn start(declared: Declared, options: Options) -> Result<Running> {
    validate_component_name(&declared.name).map_err(Error::Config)?;
    let seat = seat(&declared, &options)?;
    // A partition keeps its own store: a new count of partitions starts from empty ones.
    let store_dir = match &seat {
        Some(seat) => options.data_dir.join(format!("{}-{}", declared.name, seat.label())),
        None => options.data_dir.join(&declared.name),
    };
    let store = Store::open(&store_dir, options.cache_bytes).map_err(|source| Error::StoreOpen {
        path: store_dir.display().to_string(),
        source,
    })?;
    if options.fault == crate::options::Fault::ParkSyncs {
        tracing::warn!("fault injection: no commit is reported durable");
        store.park_syncs();
    }
    let (client, refusals) = crate::connect::connect_watching(&options.connection, &declared.name).await?;
    tracing::info!(max_payload = client.max_payload(), "the server's max payload");
    let js = jetstream::new(client.clone());
    if !declared.publish_subjects.is_empty() {
        streams::ensure_own(&js, &declared.name, usize::from(options.stream_replicas)).await?;
    }
    streams::ensure_dead_letter(&js, usize::from(options.stream_replicas)).await;

    let (started_at, started_at_rfc3339) = (Instant::now(), crate::envelope::now_rfc3339());
    let reads_own = match declared.partitions_moving {
        true => consumer::ReadsOwn::Live,
        false => consumer::ReadsOwn::AsHistory,
    };
    let specs = consumer::specs(&declared.name, &declared.subscriptions, seat, reads_own);
    let progress: Vec<Arc<Progress>> = specs.iter().map(|_| Arc::default()).collect();
    let own_history = specs.iter().find(|spec| spec.history).map(|spec| spec.stream.clone());
    let relay = Relay::new(store.clone(), js, refusals, options.fault, own_history)?;
    let handlers = Arc::new(declared.subscriptions);
    let shared = Arc::new(
        Shared::new(
            declared.name,
            options,
            client,
            store,
            relay.clone(),
            declared.publishes,
            progress.clone(),
        )
        .handling(Arc::clone(&handlers))
        .seated(seat),
    );
    let watched: Vec<_> = specs
        .iter()
        .zip(&progress)
        .map(|(spec, progress)| (ConsumerLabels::new(&spec.stream, &spec.durable), Arc::clone(progress)))
        .collect();
    let consumers = Arc::new(Consumers::new(
        specs
            .into_iter()
            .zip(progress)
            .map(|(spec, progress)| {
                Arc::new(Consumer::new(
                    spec,
                    progress,
                    Arc::clone(&handlers),
                    Arc::clone(&shared),
                ))
            })
            .collect(),
    ));

    consumers.prepare_history().await?;
    let relay_cancel = CancellationToken::new();
    let relay_task = if shared.options().fault == crate::options::Fault::ParkRelay {
        tracing::warn!("fault injection: the outbox relay is parked");
        None
    } else {
        Some(tokio::spawn(relay.run(relay_cancel.clone())))
    };
    let mut endpoints = JoinSet::new();
    let admin = Arc::new(Admin {
        shared: Arc::clone(&shared),
        consumers: Arc::clone(&consumers),
        version: declared.version.clone(),
        serves: declared.served.iter().map(|s| s.operation.clone()).collect(),
        started_at,
        started_at_rfc3339,
    });
    let service = crate::service::start(
        &shared,
        &declared.version,
        &declared.description,
        declared.served,
        &mut endpoints,
    )
    .await?;
    admin::add_endpoints(admin, &service, &mut endpoints).await?;
    consumers.start(None).await;
    // "Started" means reachable. A flush only writes our subscriptions to the socket; a
    // round trip through our own service proves the server has registered them.
    shared
        .client()
        .request(format!("$SRV.PING.{}", shared.name()), bytes::Bytes::new())
        .await
        .map_err(|e| Error::nats("checking that the service is reachable", e))?;
    let listener_stop = CancellationToken::new();
    let (listener, metrics_addr) = match shared.options().metrics {
        None => (None, None),
        Some(addr) => {
            let state = Arc::new(ComponentState::new(Arc::clone(&shared), watched));
            let registry = metrics::registry(shared.name(), shared.metrics(), Box::new(Arc::clone(&state)));
            let listening = metrics::serve(addr, registry, state, listener_stop.clone())
                .await
                .map_err(|err| Error::Config(err.to_string()))?;
            (Some(listening.task), Some(listening.addr))
        }
    };
    Ok(Running {
        shared,
        consumers,
        endpoints,
        service: Some(service),
        relay_cancel,
        relay: relay_task,
        listener,
        listener_stop,
        metrics_addr,
    })
}

/// Which partition this process is, if it runs as one: `--partitions` above 1 needs the
/// component to declare what it is partitioned by.
fn seat(declared: &Declared, options: &Options) -> Result<Option<Seat>> {
    if options.partitions == 1 && options.partition == 0 {
        return Ok(None);
    }
    let Some(entity) = declared.partitioned_by else {
        return Err(Error::Config(format!(
            "--partitions {}: {} does not declare what it is partitioned by (`Component::partitioned_by`)",
            options.partitions, declared.name
        )));
    };
    Seat::new(entity, options.partition, options.partitions)
        .map(Some)
        .map_err(Error::Config)
}
