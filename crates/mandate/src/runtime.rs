//! A running component: its connection, store, relay, consumers and services, and how they
//! start and stop together.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use tokio::sync::Mutex;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::component::{Component, Subscription};
use crate::consumer::{self, ConsumerSpec, StartAt};
use crate::contract::{DEAD_LETTER_STREAM, stream_name, validate_component_name};
use crate::error::{Error, Result};
use crate::options::Options;
use crate::outbox::Relay;
use crate::service::Served;
use crate::store::Store;

/// State shared by the tasks of one running component.
#[derive(Debug)]
pub(crate) struct Shared {
    pub name: String,
    pub version: String,
    pub description: String,
    pub options: Options,
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub store: Store,
    pub relay: Relay,
    pub subscriptions: BTreeMap<String, Subscription>,
    pub served: Vec<Served>,
    pub publishes: BTreeSet<String>,
    pub consumers: Vec<ConsumerSpec>,
    pub progress: Vec<Progress>,
    /// One writer at a time: a consumer's batch or a command. Readers need no lock.
    pub write_lock: Mutex<()>,
    /// True from a rebuild request until every consumer has re-applied up to its replay
    /// mark; consumers that get there first wait on it (see `consumer::hold_at_mark`).
    pub rebuilding: tokio::sync::watch::Sender<bool>,
    pub consumer_tasks: Mutex<ConsumerTasks>,
    pub started_at: Instant,
    pub started_at_rfc3339: String,
    /// Cancelled when a task fails for good: the component then shuts down.
    pub failed: CancellationToken,
}

/// What a consumer has done, for status and rebuild.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    pub applied: AtomicU64,
    pub replay_until: AtomicU64,
    pub caught_up: AtomicBool,
}

#[derive(Debug, Default)]
pub(crate) struct ConsumerTasks {
    cancel: CancellationToken,
    tasks: JoinSet<()>,
}

impl Shared {
    /// The largest message the server takes — payload plus encoded headers — as its INFO
    /// says. The client updates it on every (re)connect, so a server restarted with another
    /// limit is followed; what is emitted is checked against it when it is staged.
    pub(crate) fn max_payload(&self) -> usize {
        self.client.max_payload()
    }

    pub(crate) fn is_rebuilding(&self) -> bool {
        *self.rebuilding.borrow()
    }

    /// Marks a rebuild as started; false if one already is.
    pub(crate) fn begin_rebuild(&self) -> bool {
        self.rebuilding
            .send_if_modified(|rebuilding| !std::mem::replace(rebuilding, true))
    }

    /// Ends a rebuild (done, or abandoned).
    pub(crate) fn end_rebuild(&self) {
        self.rebuilding.send_replace(false);
    }

    /// Waits until no rebuild is under way.
    pub(crate) async fn rebuilt(&self) {
        let mut watch = self.rebuilding.subscribe();
        let _ = watch.wait_for(|rebuilding| !rebuilding).await;
    }

    /// Ends a rebuild once every consumer has re-applied what it had applied before.
    pub(crate) fn note_caught_up(&self) {
        if self.is_rebuilding() && self.progress.iter().all(|p| p.caught_up.load(Ordering::Acquire)) {
            self.end_rebuild();
            tracing::info!("rebuild complete: every consumer has caught up");
        }
    }

    /// Starts one task per consumer; `start` overrides where they begin (a rebuild).
    pub(crate) async fn start_consumers(self: &Arc<Self>, start: Option<StartAt>) {
        let mut guard = self.consumer_tasks.lock().await;
        guard.cancel = CancellationToken::new();
        for index in 0..self.consumers.len() {
            let shared = Arc::clone(self);
            let cancel = guard.cancel.clone();
            guard.tasks.spawn(consumer::run(shared, index, start, cancel));
        }
    }

    /// Stops every consumer after its current batch and waits for them.
    pub(crate) async fn stop_consumers(&self) {
        let mut guard = self.consumer_tasks.lock().await;
        guard.cancel.cancel();
        while guard.tasks.join_next().await.is_some() {}
    }
}

/// A component that is running. Dropping it aborts everything; call
/// [`shutdown`](Running::shutdown) to stop gracefully.
#[derive(Debug)]
pub struct Running {
    shared: Arc<Shared>,
    endpoints: JoinSet<()>,
    service: Option<async_nats::service::Service>,
    relay_cancel: CancellationToken,
    relay: Option<JoinHandle<()>>,
}

impl Running {
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Cancelled when the component fails for good and should be stopped.
    pub fn stopping(&self) -> CancellationToken {
        self.shared.failed.clone()
    }

    /// Stops fetching, finishes the batch in hand, stops the services, publishes what is
    /// left in the outbox, syncs the store and closes the connection.
    pub async fn shutdown(mut self) -> Result<()> {
        self.shared.stop_consumers().await;
        if let Some(service) = self.service.take() {
            if let Err(err) = service.stop().await {
                tracing::warn!(error = %err, "stopping the service");
            }
        }
        self.endpoints.shutdown().await;
        let drained = self.shared.relay.drain(Duration::from_secs(10)).await;
        self.relay_cancel.cancel();
        if let Some(relay) = self.relay.take() {
            let _ = relay.await;
        }
        self.shared.store.sync()?;
        if let Err(err) = self.shared.client.drain().await {
            tracing::debug!(error = %err, "draining the connection");
        }
        drained?;
        tracing::info!(component = %self.shared.name, "stopped");
        Ok(())
    }

    /// Stops everything at once, like a crash: no batch is finished, no ack sent, nothing
    /// drained. What was committed stays committed. For tests of crash recovery.
    pub async fn kill(mut self) {
        {
            let mut consumers = self.shared.consumer_tasks.lock().await;
            consumers.tasks.shutdown().await;
        }
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
        if let Some(relay) = &self.relay {
            relay.abort();
        }
        if let Ok(mut consumers) = self.shared.consumer_tasks.try_lock() {
            consumers.tasks.abort_all();
        }
    }
}

pub(crate) async fn start(component: Component, options: Options) -> Result<Running> {
    validate_component_name(&component.name).map_err(Error::Config)?;
    let store_dir = options.data_dir.join(&component.name);
    let store = Store::open(&store_dir, options.cache_bytes).map_err(|source| Error::StoreOpen {
        path: store_dir.display().to_string(),
        source,
    })?;
    let (client, refusals) = crate::connect::connect_watching(&options.connection, &component.name).await?;
    tracing::info!(max_payload = client.max_payload(), "the server's max payload");
    let js = jetstream::new(client.clone());
    if !component.publish_subjects.is_empty() {
        ensure_own_stream(&js, &component.name, usize::from(options.stream_replicas)).await?;
    }
    ensure_dead_letter_stream(&js, usize::from(options.stream_replicas)).await;

    let consumers = consumer::specs(&component.name, &component.subscriptions);
    let relay = Relay::new(store.clone(), js.clone(), refusals);
    let shared = Arc::new(Shared {
        progress: consumers.iter().map(|_| Progress::default()).collect(),
        consumers,
        name: component.name,
        version: component.version,
        description: component.description,
        client,
        js,
        store,
        relay: relay.clone(),
        subscriptions: component.subscriptions,
        served: component.served,
        publishes: component.publishes,
        write_lock: Mutex::new(()),
        rebuilding: tokio::sync::watch::Sender::new(false),
        consumer_tasks: Mutex::new(ConsumerTasks::default()),
        started_at: Instant::now(),
        started_at_rfc3339: crate::envelope::now_rfc3339(),
        failed: CancellationToken::new(),
        options,
    });

    let relay_cancel = CancellationToken::new();
    let relay_task = if shared.options.fault == crate::options::Fault::ParkRelay {
        tracing::warn!("fault injection: the outbox relay is parked");
        None
    } else {
        Some(tokio::spawn(relay.run(relay_cancel.clone())))
    };
    let mut endpoints = JoinSet::new();
    let service = crate::service::start(&shared, &mut endpoints).await?;
    shared.start_consumers(None).await;
    // "Started" means reachable. A flush only writes our subscriptions to the socket; a
    // round trip through our own service proves the server has registered them.
    shared
        .client
        .request(format!("$SRV.PING.{}", shared.name), bytes::Bytes::new())
        .await
        .map_err(|e| Error::nats("checking that the service is reachable", e))?;
    Ok(Running {
        shared,
        endpoints,
        service: Some(service),
        relay_cancel,
        relay: relay_task,
    })
}

/// Creates `EVT_<OWNER>`, capturing `evt.<owner>.>`, when it does not exist. An existing
/// stream is left as it is: from then on its configuration (replicas, limits) is the
/// operator's, and broker permissions need not let a component rewrite it.
async fn ensure_own_stream(js: &jetstream::Context, owner: &str, replicas: usize) -> Result<()> {
    let name = stream_name(owner);
    let subjects = format!("evt.{owner}.>");
    let config = stream::Config {
        name: name.clone(),
        description: Some(format!("events published by {owner}")),
        subjects: vec![subjects.clone()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        duplicate_window: Duration::from_secs(120),
        num_replicas: replicas,
        // History is what rebuilds replay: no deleting single events.
        deny_delete: true,
        allow_direct: true,
        ..Default::default()
    };
    let mut stream = js
        .get_or_create_stream(config)
        .await
        .map_err(|e| Error::js(&format!("ensuring stream {name}"), e))?;
    let info = stream
        .info()
        .await
        .map_err(|e| Error::js(&format!("reading stream {name}"), e))?;
    if !info.config.subjects.contains(&subjects) {
        return Err(Error::Config(format!(
            "stream {name} exists but does not capture {subjects} (it captures {:?}): fix it with `nats stream edit {name}`",
            info.config.subjects
        )));
    }
    Ok(())
}

/// Makes sure `DLQ` exists. Not fatal: under strict broker permissions the operator creates
/// it, and the relay keeps dead letters in the outbox until it can publish them.
async fn ensure_dead_letter_stream(js: &jetstream::Context, replicas: usize) {
    let config = stream::Config {
        name: DEAD_LETTER_STREAM.to_owned(),
        description: Some("dead letters of every component".to_owned()),
        subjects: vec!["dlq.>".to_owned()],
        storage: stream::StorageType::File,
        duplicate_window: Duration::from_secs(120),
        num_replicas: replicas,
        ..Default::default()
    };
    if let Err(err) = js.get_or_create_stream(config).await {
        tracing::warn!(error = %err, "cannot ensure the DLQ stream; dead letters wait in the outbox until it exists");
    }
}
