//! What the tasks of one running component share — the consumers, the service endpoints and
//! the admin endpoints: the connection, the store and its one writer, the outbox relay, and
//! whether a rebuild is under way. Each task keeps its own state; this is only the common
//! ground, so that the loops depend on it and not on the runtime that starts them.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_nats::jetstream;
use tokio::sync::{Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;

use crate::context::Emitter;
use crate::handler::Handlers;
use crate::metrics::Metrics;
use crate::options::{Fault, Options};
use crate::partition::Seat;
use crate::relay::Relay;
use crate::store::{Committed, Store};

/// State shared by the tasks of one running component. Its fields are private: the tasks
/// read them through the accessors below, and change only what is meant to change — the
/// rebuild flag, and the token that stops the component when a task fails for good.
#[derive(Debug)]
pub(crate) struct Shared {
    name: String,
    options: Options,
    client: async_nats::Client,
    js: jetstream::Context,
    store: Store,
    relay: Relay,
    /// The events this component declared it publishes.
    publishes: BTreeSet<String>,
    /// Its event handlers, by subject: its consumers' and, for its own events, its emits'
    /// (`own.rs`).
    handlers: Arc<Handlers>,
    /// The subjects of its own events it handles.
    own: BTreeSet<String>,
    /// One writer at a time: a consumer's batch or a command. Readers need no lock.
    write_lock: Mutex<()>,
    /// Every consumer's progress, to tell when a rebuild is complete.
    progress: Vec<Arc<Progress>>,
    /// True from a rebuild request until every consumer has re-applied up to its replay
    /// mark; consumers that get there first wait on it (see `Consumer::hold_at_mark`).
    rebuilding: tokio::sync::watch::Sender<bool>,
    /// Cancelled when a task fails for good: the component then shuts down.
    failed: CancellationToken,
    /// Set at start when the store is fresh and the component's own stream has a history: a
    /// lost store, rebuilt from the streams without publishing (`consumer/history.rs`).
    restoring: AtomicBool,
    /// Which partition of the component this process is, if it runs as partitions.
    seat: Option<Seat>,
    /// Why it failed: the first task's reason, said as the process's last words.
    failure: std::sync::OnceLock<String>,
    /// What it counts, for `/metrics`.
    metrics: Arc<Metrics>,
}

/// What a consumer has done, for status and rebuild.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    pub applied: AtomicU64,
    pub replay_until: AtomicU64,
    pub caught_up: AtomicBool,
    /// True while the durable consumer is seated and consuming (readiness).
    pub seated: AtomicBool,
    /// True once a consumer of the component's own stream has read its history: it has
    /// nothing more to consume (`consumer/history.rs`).
    pub history_read: AtomicBool,
}

impl Progress {
    /// Marks the consumer caught up; true if it was not already.
    pub(crate) fn catch_up(&self) -> bool {
        !self.caught_up.swap(true, Ordering::AcqRel)
    }
}

impl Shared {
    pub(crate) fn new(
        name: String,
        options: Options,
        client: async_nats::Client,
        store: Store,
        relay: Relay,
        publishes: BTreeSet<String>,
        progress: Vec<Arc<Progress>>,
    ) -> Shared {
        let metrics = Arc::new(Metrics::with_store_syncs(store.sync_seconds()));
        Shared {
            name,
            options,
            js: jetstream::new(client.clone()),
            client,
            store,
            relay,
            publishes,
            handlers: Arc::default(),
            own: BTreeSet::new(),
            write_lock: Mutex::new(()),
            progress,
            rebuilding: tokio::sync::watch::Sender::new(false),
            failed: CancellationToken::new(),
            restoring: AtomicBool::new(false),
            seat: None,
            failure: std::sync::OnceLock::new(),
            metrics,
        }
    }

    /// The component's metric families.
    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The component's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The same, running as the partition `seat` (`--partitions`, `--partition`).
    /// With its event handlers: its consumers' and, for its own events, its emits'.
    pub(crate) fn handling(mut self, handlers: Arc<Handlers>) -> Shared {
        self.own = handlers
            .iter()
            .filter(|(_, subscription)| subscription.owner == self.name)
            .map(|(subject, _)| subject.clone())
            .collect();
        self.handlers = handlers;
        self
    }

    pub(crate) fn seated(mut self, seat: Option<Seat>) -> Shared {
        self.seat = seat;
        self
    }

    /// Which partition of the component this process is, if it runs as partitions.
    pub(crate) fn seat(&self) -> Option<Seat> {
        self.seat
    }

    /// The name this process answers the admin protocol under: the component's, or for a
    /// partition `<component>.p<P>of<N>` (`svc.orders.p1of3.admin.status`), so that each
    /// partition is asked on its own and its subjects stay under `svc.<component>.>`.
    pub(crate) fn admin_name(&self) -> String {
        match &self.seat {
            Some(seat) => format!("{}.{}", self.name, seat.label()),
            None => self.name.clone(),
        }
    }

    /// How the component was started (flags and environment).
    pub(crate) fn options(&self) -> &Options {
        &self.options
    }

    pub(crate) fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub(crate) fn js(&self) -> &jetstream::Context {
        &self.js
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// The outbox relay: handed what each commit staged, drained before a rebuild and at
    /// shutdown.
    pub(crate) fn relay(&self) -> &Relay {
        &self.relay
    }

    /// Hands the outbox entries of a commit to the relay, which publishes them once they are
    /// durable. Call it holding the writer (`Shared::writer`), right after the commit:
    /// hand-offs then come in commit order, which is outbox id order. Returns the commit's
    /// ticket, for `Store::durable`.
    pub(crate) async fn hand_off(&self, committed: Committed) -> u64 {
        if self.options.fault == Fault::ParkBeforeHandOff && !committed.outbox.is_empty() {
            tracing::warn!("fault injection: parked after commit, before the hand-off");
            std::future::pending::<()>().await;
        }
        let ticket = committed.ticket;
        self.relay.hand_off(committed);
        ticket
    }

    /// The events this component declared it publishes.
    pub(crate) fn publishes(&self) -> &BTreeSet<String> {
        &self.publishes
    }

    /// Waits to be the one writer: a consumer's transaction, a group of commands, a rebuild's
    /// replay marks. Held until the commit.
    pub(crate) async fn writer(&self) -> MutexGuard<'_, ()> {
        self.write_lock.lock().await
    }

    /// A task failed for good, for `reason`: the component shuts down (the first reason is
    /// the one it reports).
    pub(crate) fn fail(&self, reason: impl Into<String>) {
        let _ = self.failure.set(reason.into());
        self.failed.cancel();
    }

    /// Why a task failed for good, once one has.
    pub(crate) fn failure(&self) -> Option<&str> {
        self.failure.get().map(String::as_str)
    }

    /// Cancelled when a task has failed for good.
    pub(crate) fn stopping(&self) -> CancellationToken {
        self.failed.clone()
    }

    /// The largest message the server takes — payload plus encoded headers — as its INFO
    /// says. The client updates it on every (re)connect, so a server restarted with another
    /// limit is followed; what is emitted is checked against it when it is staged.
    pub(crate) fn max_payload(&self) -> usize {
        self.client.max_payload()
    }

    /// Who emits through a handler's or a command's `Context`.
    pub(crate) fn emitter(&self) -> Emitter<'_> {
        Emitter {
            component: &self.name,
            declared: &self.publishes,
            max_payload: self.max_payload(),
            own: &self.own,
        }
    }

    /// Its event handlers, by subject.
    pub(crate) fn handlers(&self) -> &Arc<Handlers> {
        &self.handlers
    }

    pub(crate) fn is_rebuilding(&self) -> bool {
        *self.rebuilding.borrow()
    }

    /// Marks a rebuild as started; false if one already is.
    pub(crate) fn begin_rebuild(&self) -> bool {
        self.rebuilding
            .send_if_modified(|rebuilding| !std::mem::replace(rebuilding, true))
    }

    /// Restores a lost store: a rebuild in which every fresh consumer's replay mark is its
    /// stream's end, so that nothing the component did is published again.
    pub(crate) fn restore_lost_store(&self) {
        self.restoring.store(true, Ordering::Release);
        self.begin_rebuild();
    }

    /// True when this start restores a lost store (`restore_lost_store`).
    pub(crate) fn restores_lost_store(&self) -> bool {
        self.restoring.load(Ordering::Acquire)
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
}
