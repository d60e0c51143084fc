//! The outbox relay: publishes what commits staged, in outbox id order, and deletes each
//! entry once JetStream has acknowledged it.
//!
//! Two ways in, one order. After a commit is applied, the code that committed — still the
//! one writer, so that hand-offs come in commit order, which is id order — hands the relay
//! its entries ([`Relay::hand_off`]): their ids, stored bytes and durability ticket, through
//! a bounded queue. The relay publishes them as soon as the group commit has made them
//! durable (`durability.rs`), pipelined, with no read back and no wake-up. The store
//! stays the source of truth: the relay reads the outbox from the store in id order instead
//! on start, after a publish error, when a hand-off was dropped (the queue full), when a
//! hand-off comes after a gap in the ids that the store fills (a commit that was not handed
//! off), when a commit is larger than the window has room for, and once a second idle as a
//! safety net; what a scan read is sent once everything applied so far is durable. A missed
//! hand-off costs latency, never a message.
//!
//! The cursor keeps the two ways from sending an entry twice: `next`, the id after the last
//! entry sent. A scan starts at it; a handed entry below it was sent already (by a scan) and
//! is skipped. Entries leave the store only after their ack (`pipeline.rs`).

mod pipeline;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::connect::PublishRefusals;
use crate::error::Result;
use crate::options::Fault;
use crate::store::{Committed, PUBLISHED, Store, key};
use pipeline::{Pipeline, park};

/// How many entries the relay keeps in flight at most.
const WINDOW: usize = 1024;
/// How much room in the window a scan waits for while the store is ahead of the relay: reading
/// the store per ack would cost a read per entry.
const REFILL: usize = 256;
/// How many commits' hand-offs may wait for the relay; past that a hand-off is dropped and
/// the relay reads the store instead (a burst larger than this is read back, as before).
const QUEUE: usize = 256;
/// How long the relay waits idle before it looks at the store anyway: a safety net for a
/// hand-off or a wake-up lost to a bug, not a step of the normal path.
const SAFETY_NET: Duration = Duration::from_secs(1);

/// One commit's outbox entries: ids and stored bytes, in id order, and the ticket that says
/// when they are durable (`Store::durable`): none is sent before.
struct Handed {
    ticket: u64,
    entries: Vec<(u64, sled::IVec)>,
}

/// Publishes the outbox in commit order.
#[derive(Debug, Clone)]
pub(crate) struct Relay {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    js: jetstream::Context,
    /// What the server said it refuses this connection to publish.
    refusals: PublishRefusals,
    fault: Fault,
    queue: mpsc::Sender<Handed>,
    /// The queue's other end, taken by the relay task when it starts.
    handed: std::sync::Mutex<Option<mpsc::Receiver<Handed>>>,
    /// Set when the store may hold entries at or past the cursor that no hand-off in the
    /// queue carries: the relay reads the store before it sends anything handed.
    behind: AtomicBool,
    wake: Notify,
    /// Hand-offs so far (`Fault::MissHandOffs` counts them).
    hand_offs: AtomicU64,
    /// One publisher at a time — the relay task, or a drain (shutdown, rebuild) — and where
    /// it stands.
    cursor: tokio::sync::Mutex<Cursor>,
    /// Where its own stream stands, when the component reads that stream as history only.
    published: Option<Published>,
}

/// The highest sequence acknowledged on the component's own stream, recorded with the
/// deletes of the entries acknowledged: its own events up to there are applied (emitting one
/// applies it, `own.rs`), so a history read at the next start begins there
/// (`consumer/history.rs`).
#[derive(Debug)]
pub(crate) struct Published {
    stream: String,
    key: Vec<u8>,
    at: AtomicU64,
}

impl Published {
    fn note(&self, ack: &jetstream::publish::PublishAck) {
        if ack.stream == self.stream {
            self.at.fetch_max(ack.sequence, Ordering::AcqRel);
        }
    }

    /// What to record with the next deletes.
    fn record(&self) -> Option<(&[u8], u64)> {
        let at = self.at.load(Ordering::Acquire);
        (at > 0).then_some((self.key.as_slice(), at))
    }
}

/// Where the relay stands in the outbox.
#[derive(Debug, Default)]
struct Cursor {
    /// The id after the last entry sent; 0 before the first scan and after a failure (the
    /// whole outbox is read again).
    next: u64,
}

impl Relay {
    /// A relay of `store`'s outbox; `own_stream` is the component's stream when it reads it
    /// as history only, whose position the relay then records.
    pub(crate) fn new(
        store: Store,
        js: jetstream::Context,
        refusals: PublishRefusals,
        fault: Fault,
        own_stream: Option<String>,
    ) -> Result<Relay> {
        let published = match own_stream {
            Some(stream) => {
                let key = key(PUBLISHED, stream.as_bytes());
                let at = AtomicU64::new(store.read_u64(&key)?);
                Some(Published { stream, key, at })
            }
            None => None,
        };
        let (queue, handed) = mpsc::channel(QUEUE);
        let relay = Relay {
            inner: Arc::new(Inner {
                store,
                js,
                refusals,
                fault,
                queue,
                handed: std::sync::Mutex::new(Some(handed)),
                // On start the store is the only account of what is waiting.
                behind: AtomicBool::new(true),
                wake: Notify::new(),
                hand_offs: AtomicU64::new(0),
                cursor: tokio::sync::Mutex::new(Cursor::default()),
                published,
            }),
        };
        // The first round reads the store at once: what an earlier run left is published
        // without waiting for a commit.
        relay.inner.wake.notify_one();
        Ok(relay)
    }

    /// Hands the relay what a commit staged. Called by the one writer right after its
    /// commit, so that hand-offs arrive in id order; never waits: with the queue full the
    /// entries are left to a scan of the store.
    pub(crate) fn hand_off(&self, committed: Committed) {
        if committed.outbox.is_empty() {
            return;
        }
        if self.inner.fault == Fault::MissHandOffs {
            match self.inner.hand_offs.fetch_add(1, Ordering::Relaxed) % 4 {
                1 => return,
                // As a scan that reads a batch whose hand-off is still queued.
                3 => self.rescan(),
                _ => {}
            }
        }
        let handed = Handed {
            ticket: committed.ticket,
            entries: committed.outbox,
        };
        match self.inner.queue.try_send(handed) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.rescan(),
            // The relay has stopped (shutdown): the next start reads the store.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Tells the relay to read the store: something committed to the outbox may not be in
    /// the queue (a hand-off dropped, or found missing).
    fn rescan(&self) {
        self.inner.behind.store(true, Ordering::Release);
        self.inner.wake.notify_one();
    }

    /// Runs until cancelled, publishing whatever is handed or staged.
    pub(crate) async fn run(self, cancel: CancellationToken) {
        let Some(mut handed) = self.inner.handed.lock().expect("not poisoned").take() else {
            tracing::error!("the outbox relay runs once per component");
            return;
        };
        let mut backoff = Duration::from_millis(50);
        loop {
            let first = tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                first = handed.recv() => first,
                () = self.inner.wake.notified() => None,
                () = tokio::time::sleep(SAFETY_NET) => {
                    self.inner.behind.store(true, Ordering::Release);
                    None
                }
            };
            match self.round(Some(&mut handed), first).await {
                Ok(_) => backoff = Duration::from_millis(50),
                Err(err) => {
                    tracing::warn!(error = %err, retry_in = ?backoff, "outbox relay cannot publish yet");
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Publishes everything staged; gives up after `timeout` of failed attempts.
    pub(crate) async fn drain(&self, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.inner.behind.store(true, Ordering::Release);
            match self.round(None, None).await {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(err) if tokio::time::Instant::now() < deadline => {
                    tracing::warn!(error = %err, "outbox drain: retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// One round, as the one publisher: the store from the cursor when it may hold what was
    /// not handed, `first` and whatever else is handed meanwhile, pipelined, until nothing is
    /// in flight. Returns how many entries left the outbox. After a failure the whole outbox
    /// is read again next time: what failed is still in it, below the cursor.
    async fn round(&self, handed: Option<&mut mpsc::Receiver<Handed>>, first: Option<Handed>) -> Result<usize> {
        let mut cursor = self.inner.cursor.lock().await;
        let mut pipeline = Pipeline::new(&self.inner);
        let sent = self.pipelined(&mut cursor, &mut pipeline, handed, first).await;
        let settled = pipeline.settle().await;
        if sent.is_err() || settled.is_err() {
            cursor.next = 0;
            self.inner.behind.store(true, Ordering::Release);
        }
        sent.and(settled)
    }

    async fn pipelined(
        &self,
        cursor: &mut Cursor,
        pipeline: &mut Pipeline<'_>,
        mut handed: Option<&mut mpsc::Receiver<Handed>>,
        first: Option<Handed>,
    ) -> Result<()> {
        // The store first when it is due: a handed batch it reads as well is then skipped.
        if self.inner.behind.swap(false, Ordering::AcqRel) {
            self.scan(cursor, pipeline, WINDOW).await?;
        }
        if let Some(first) = first {
            self.take(cursor, pipeline, first).await?;
        }
        loop {
            let room = WINDOW.saturating_sub(pipeline.in_flight());
            if pipeline.has_failed() || room == 0 {
                // Nothing more is sent: the acks come in below, or `settle` awaits them.
            } else if room >= REFILL && self.inner.behind.swap(false, Ordering::AcqRel) {
                self.scan(cursor, pipeline, room).await?;
                continue;
            } else if let Some(queue) = handed.as_deref_mut() {
                if let Ok(batch) = queue.try_recv() {
                    self.take(cursor, pipeline, batch).await?;
                    continue;
                }
            }
            if pipeline.in_flight() == 0 || pipeline.has_failed() {
                return Ok(());
            }
            let more_room = pipeline.in_flight() < WINDOW;
            tokio::select! {
                biased;
                answer = pipeline.next_answer() => pipeline.answered(answer).await?,
                Some(batch) = recv(&mut handed), if more_room => self.take(cursor, pipeline, batch).await?,
            }
        }
    }

    /// Sends up to `room` entries from the store, from the cursor on; when it finds as many,
    /// more may follow and the relay stays behind.
    async fn scan(&self, cursor: &mut Cursor, pipeline: &mut Pipeline<'_>, room: usize) -> Result<()> {
        let entries = self.inner.store.outbox_from(cursor.next, room)?;
        // The store shows commits whose sync may still run: none is sent before it is durable.
        // (With nothing to send, nothing to wait for: an idle scan starts no sync.)
        if !entries.is_empty() {
            self.inner.store.durable_now().await?;
        }
        tracing::debug!(
            from = cursor.next,
            found = entries.len(),
            "outbox relay: reading the store"
        );
        if entries.len() == room {
            self.inner.behind.store(true, Ordering::Release);
        }
        for (id, entry) in entries {
            cursor.next = id + 1;
            pipeline.send(id, entry).await;
            if pipeline.has_failed() {
                break;
            }
        }
        Ok(())
    }

    /// Sends a commit's handed entries that the cursor has not passed — unless the store may
    /// hold entries before them that were not handed: then they are left to the scan that
    /// reads those first.
    async fn take(&self, cursor: &mut Cursor, pipeline: &mut Pipeline<'_>, batch: Handed) -> Result<()> {
        if self.inner.fault == Fault::ParkAfterHandOff {
            park("handed entries, before publishing them").await;
        }
        let from = cursor.next;
        let Handed { ticket, entries } = batch;
        let mut entries = entries.into_iter().skip_while(|(id, _)| *id < from).peekable();
        let Some(&(first, _)) = entries.peek() else {
            return Ok(()); // Sent already, by a scan.
        };
        if pipeline.has_failed() || self.inner.behind.load(Ordering::Acquire) {
            return Ok(());
        }
        // Ids skip what was staged and then discarded; anything the store holds in between
        // was committed without a hand-off (or its hand-off dropped).
        if first > cursor.next && self.inner.store.outbox_holds(cursor.next, first)? {
            tracing::debug!(
                from = cursor.next,
                first,
                "outbox relay: committed entries were not handed"
            );
            self.rescan();
            return Ok(());
        }
        // Handed right after the commit was applied: it may not be durable yet.
        self.inner.store.durable(ticket).await?;
        for (id, entry) in entries {
            if pipeline.in_flight() >= WINDOW {
                // The window is full: the rest is read from the store once acks come in (a
                // commit may stage more than a window; each entry in flight holds one of the
                // client's ack permits).
                self.inner.behind.store(true, Ordering::Release);
                break;
            }
            cursor.next = id + 1;
            pipeline.send(id, entry).await;
            if pipeline.has_failed() {
                break;
            }
        }
        Ok(())
    }
}

/// The next hand-off, or never without a queue (a drain reads the store only).
async fn recv(handed: &mut Option<&mut mpsc::Receiver<Handed>>) -> Option<Handed> {
    match handed {
        Some(queue) => queue.recv().await,
        None => std::future::pending().await,
    }
}
