//! The component's private store: one sled database under `<data dir>/<component>`, opened by
//! this process alone (sled holds an exclusive lock on it).
//!
//! The seam is deliberately narrow — get, put, delete, prefix scan, atomic commit — so another
//! backend can sit behind it. Everything lives in one sled tree, split into key spaces by a
//! prefix, so that a single `apply_batch` commits the component's state, the consumers'
//! watermarks and the outbox atomically:
//!
//! | prefix | what | wiped by a rebuild |
//! |---|---|---|
//! | `s/` | the component's own state (handlers and services) | yes |
//! | `w/` | last applied stream sequence per consumer | yes |
//! | `r/` | replay marks: up to where a rebuild must not re-publish | no |
//! | `o/` | outbox: messages committed but not yet acknowledged by JetStream | no |
//! | `u/` | outbox entries the server refuses for good, set aside by the relay | no |
//! | `m/` | kit bookkeeping: dead-letter count, crash-guard notes | no |

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use serde::{Serialize, de::DeserializeOwned};

use crate::durability::{Durability, Synced};
use crate::histogram::Histogram;

pub(crate) const STATE: &[u8] = b"s/";
pub(crate) const WATERMARK: &[u8] = b"w/";
pub(crate) const REPLAY_MARK: &[u8] = b"r/";
pub(crate) const OUTBOX: &[u8] = b"o/";
pub(crate) const SET_ASIDE: &[u8] = b"u/";
/// Per stream, the highest sequence the relay has had acknowledged on it: the component's
/// own events up to there are applied (`own.rs`, `consumer/history.rs`).
pub(crate) const PUBLISHED: &[u8] = b"p/";
pub(crate) const DEAD_LETTER_COUNT: &[u8] = b"m/dead-letters";

/// A store error: I/O, or a value that does not decode as the type asked for.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("store value at {key:?} does not decode: {source}")]
    Decode {
        key: String,
        source: rmp_serde::decode::Error,
    },
    #[error("store value does not encode: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    #[error("store {path} is locked by another process (is this component already running with the same data dir?)")]
    Locked { path: String },
    #[error("store: a sync failed, so nothing more is promised durable: {0}")]
    SyncFailed(String),
}

/// How long `open` waits for the store's lock. sled lets go of it only when its background
/// threads have finished their last writes, which can trail a `kill` in the same process (a
/// test's crash, a supervisor's restart) by a moment; a second live process never lets go.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The component's sled database.
#[derive(Debug, Clone)]
pub struct Store {
    db: sled::Db,
    tree: sled::Tree,
    /// sled's `flush` stops at `sync_file_range`; syncing this handle makes a commit durable
    /// against power loss too (docs/design.md §6).
    data_file: std::sync::Arc<File>,
    /// Group commit: which applied commits are durable (`durability.rs`).
    durability: std::sync::Arc<Durability>,
    /// How long each sync takes (flush and fdatasync): `mandate_store_sync_seconds`.
    sync_seconds: Histogram,
}

/// sled reports a held lock as an `Other` I/O error; its text is the only mark.
fn is_lock_contention(err: &sled::Error) -> bool {
    matches!(err, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

impl Store {
    /// Opens (or creates) the store in `dir`, with sled's page cache bounded to `cache_bytes`.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        Store::open_within(dir, cache_bytes, LOCK_WAIT)
    }

    fn open_within(dir: &Path, cache_bytes: u64, lock_wait: std::time::Duration) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)?;
        let deadline = std::time::Instant::now() + lock_wait;
        let db = loop {
            match sled::Config::new()
                .path(dir)
                .cache_capacity(cache_bytes)
                .mode(sled::Mode::HighThroughput)
                .open()
            {
                Err(err) if is_lock_contention(&err) => {
                    if std::time::Instant::now() >= deadline {
                        return Err(StoreError::Locked {
                            path: dir.display().to_string(),
                        });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other?,
            }
        };
        let tree = db.open_tree("mandate")?;
        let data_file = File::open(dir.join("db"))?;
        Ok(Store {
            db,
            tree,
            data_file: std::sync::Arc::new(data_file),
            durability: std::sync::Arc::default(),
            sync_seconds: Histogram::default(),
        })
    }

    /// A read-only view of the committed state.
    pub fn view(&self) -> View {
        View { store: self.clone() }
    }

    pub(crate) fn begin(&self) -> Tx {
        Tx {
            store: self.clone(),
            accepted: BTreeMap::new(),
            step: BTreeMap::new(),
        }
    }

    /// Commits a transaction atomically and durably, waiting on this thread for the disk: one
    /// `apply_batch`, a flush, an fdatasync. For the paths off the event's way (dead letters,
    /// notes, marks); the hot ones `apply` and await `durable` instead (group commit).
    /// Returns the outbox entries it made durable, for the relay (`Relay::hand_off`).
    pub(crate) fn commit(&self, tx: Tx) -> Result<Committed, StoreError> {
        let committed = self.apply(tx)?;
        self.sync()?;
        Ok(committed)
    }

    /// Applies a transaction atomically — visible to readers at once, durable only once
    /// `durable(committed.ticket)` says so. Nothing the commit decided may leave the process
    /// before that: the relay, the ack and the reply all wait for it.
    pub(crate) fn apply(&self, mut tx: Tx) -> Result<Committed, StoreError> {
        tx.accept_step();
        let mut committed = Committed::default();
        if tx.accepted.is_empty() {
            // Nothing written, but what the transaction read may be another's commit whose
            // sync is running: what it decided waits for that (an idempotent retry must not
            // answer from a commit a crash could still take back).
            committed.ticket = self.durability.last_ticket();
            return Ok(committed);
        }
        let mut batch = sled::Batch::default();
        // Keys in order: the outbox's come out in id order (big-endian ids).
        for (key, value) in std::mem::take(&mut tx.accepted) {
            match value {
                Some(value) if key.starts_with(OUTBOX) => {
                    // One buffer, shared by the store and the hand-off: no copy, no re-read.
                    let value = sled::IVec::from(value);
                    committed.outbox.push((decode_u64(&key[OUTBOX.len()..]), value.clone()));
                    batch.insert(key, value);
                }
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        self.tree.apply_batch(batch)?;
        committed.ticket = self.durability.ticket();
        Ok(committed)
    }

    /// Waits until the commit that took `ticket` is durable: a sync that began after it was
    /// applied has finished. The first waiter to find none running starts one on a blocking
    /// thread; every commit applied before it began shares it.
    pub(crate) async fn durable(&self, ticket: u64) -> Result<(), StoreError> {
        let mut news = self.durability.watch();
        loop {
            if let Some(reached) = reached(&news.borrow_and_update(), ticket) {
                return reached;
            }
            if self.durability.lead() {
                let store = self.clone();
                // A task of its own: the sync ends and lets go of the lead even if this
                // waiter is dropped meanwhile.
                tokio::task::spawn_blocking(move || {
                    let through = store.durability.last_ticket();
                    // A panic must still end the lead, or every waiter would wait for ever.
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| store.flush_and_sync()))
                        .unwrap_or_else(|panic| Err(StoreError::SyncFailed(crate::panic_message(&panic))))
                        .map_err(|err| err.to_string());
                    store.durability.led(through, result);
                });
            }
            if news.changed().await.is_err() {
                return Err(closed());
            }
        }
    }

    /// Waits until `ticket` is durable, as `durable` does, but until `deadline` only for a
    /// sync that another commit starts; from then on it starts one if need be (the sync
    /// linger, `consumer/linger.rs`).
    pub(crate) async fn durable_by(&self, ticket: u64, deadline: tokio::time::Instant) -> Result<(), StoreError> {
        let mut news = self.durability.watch();
        loop {
            if let Some(reached) = reached(&news.borrow_and_update(), ticket) {
                return reached;
            }
            tokio::select! {
                changed = news.changed() => changed.map_err(|_| closed())?,
                () = tokio::time::sleep_until(deadline) => return self.durable(ticket).await,
            }
        }
    }

    /// Waits until everything applied so far is durable (what a scan of the store read).
    pub(crate) async fn durable_now(&self) -> Result<(), StoreError> {
        self.durable(self.durability.last_ticket()).await
    }

    /// The outbox entries with ids in `from..`, in id order, at most `limit` of them.
    pub(crate) fn outbox_from(&self, from: u64, limit: usize) -> Result<Vec<(u64, sled::IVec)>, StoreError> {
        let mut entries = Vec::new();
        for entry in self.tree.range(key(OUTBOX, &encode_u64(from))..).take(limit) {
            let (key, value) = entry?;
            if !key.starts_with(OUTBOX) {
                break;
            }
            entries.push((decode_u64(&key[OUTBOX.len()..]), value));
        }
        Ok(entries)
    }

    /// True if the outbox holds an entry with an id in `from..until`.
    pub(crate) fn outbox_holds(&self, from: u64, until: u64) -> Result<bool, StoreError> {
        let range = key(OUTBOX, &encode_u64(from))..key(OUTBOX, &encode_u64(until));
        Ok(self.tree.range(range).next().transpose()?.is_some())
    }

    /// The durations of its syncs, for `/metrics` (clones share the counts).
    pub(crate) fn sync_seconds(&self) -> Histogram {
        self.sync_seconds.clone()
    }

    /// Test-only (`Fault::ParkSyncs`): no commit is reported durable from now on.
    pub(crate) fn park_syncs(&self) {
        self.durability.park();
    }

    /// Makes everything written so far durable, on this thread.
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        let through = self.durability.last_ticket();
        let result = self.flush_and_sync();
        let outcome = result.as_ref().map(drop).map_err(|err| err.to_string());
        self.durability.synced(through, outcome);
        result
    }

    /// sled's flush and an fdatasync, timed (a group sync's and an inline one's alike).
    fn flush_and_sync(&self) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        self.db.flush()?;
        self.data_file.sync_data()?;
        self.sync_seconds.observe(started.elapsed());
        Ok(())
    }

    pub(crate) fn get_raw(&self, key: &[u8]) -> Result<Option<sled::IVec>, StoreError> {
        Ok(self.tree.get(key)?)
    }

    pub(crate) fn scan_raw(
        &self,
        prefix: &[u8],
    ) -> impl DoubleEndedIterator<Item = Result<(sled::IVec, sled::IVec), sled::Error>> + use<> {
        self.tree.scan_prefix(prefix)
    }

    /// Removes `keys` and writes `put` (a key and a number), if any, in one atomic batch.
    pub(crate) fn remove_raw(
        &self,
        keys: impl IntoIterator<Item = sled::IVec>,
        put: Option<(&[u8], u64)>,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for key in keys {
            batch.remove(key);
        }
        if let Some((key, value)) = put {
            batch.insert(key, encode_u64(value));
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// Removes every key under the given prefixes in one atomic batch, then syncs.
    pub(crate) fn wipe(&self, prefixes: &[&[u8]]) -> Result<u64, StoreError> {
        let mut batch = sled::Batch::default();
        let mut removed = 0;
        for prefix in prefixes {
            for entry in self.tree.scan_prefix(prefix) {
                let (key, _) = entry?;
                batch.remove(key);
                removed += 1;
            }
        }
        self.tree.apply_batch(batch)?;
        self.sync()?;
        Ok(removed)
    }

    /// A fresh, monotonically increasing id (for outbox ordering).
    pub(crate) fn next_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()?)
    }

    pub(crate) fn read_u64(&self, key: &[u8]) -> Result<u64, StoreError> {
        Ok(self.get_raw(key)?.map(|v| decode_u64(&v)).unwrap_or(0))
    }
}

pub(crate) fn key(space: &[u8], name: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(space.len() + name.len());
    key.extend_from_slice(space);
    key.extend_from_slice(name);
    key
}

pub(crate) fn encode_u64(value: u64) -> Vec<u8> {
    value.to_be_bytes().to_vec()
}

pub(crate) fn decode_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    // Room for a typical record up front: growing from empty reallocated three or four times
    // per value written.
    let mut bytes = Vec::with_capacity(256);
    value.serialize(&mut rmp_serde::Serializer::new(&mut bytes).with_struct_map())?;
    Ok(bytes)
}

fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    rmp_serde::from_slice(bytes).map_err(|source| StoreError::Decode {
        key: String::from_utf8_lossy(key).into_owned(),
        source,
    })
}

fn user_key(raw: &[u8]) -> String {
    String::from_utf8_lossy(&raw[STATE.len()..]).into_owned()
}

/// What a commit staged in the outbox: each entry's id and bytes, in id order, and the ticket
/// that tells when it is durable.
/// Whoever commits hands it to the relay (`Shared::hand_off`) while still the one writer, so
/// that the relay is handed entries in id order; dropping it only costs latency (the relay
/// finds the entries in the store), never a message.
#[must_use = "hand the committed outbox entries to the relay (`Shared::hand_off`)"]
#[derive(Debug, Default)]
pub(crate) struct Committed {
    pub outbox: Vec<(u64, sled::IVec)>,
    /// The commit's place in the group commit (`Store::durable`).
    pub ticket: u64,
}

/// Committed state, read-only: what queries see. Keys are the component's own strings.
#[derive(Debug, Clone)]
pub struct View {
    store: Store,
}

impl View {
    /// The value at `key`, decoded as `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let full = self::key(STATE, key.as_bytes());
        self.store.get_raw(&full)?.map(|v| decode(&full, &v)).transpose()
    }

    /// Every entry whose key starts with `prefix`, in key order.
    pub fn scan<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<(String, T)>, StoreError> {
        self.page(prefix, None, usize::MAX)
    }

    /// Up to `limit` entries under `prefix` whose key sorts after `after` (a page cursor).
    pub fn page<T: DeserializeOwned>(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let full_prefix = key(STATE, prefix.as_bytes());
        let start = match after {
            Some(after) => std::ops::Bound::Excluded(key(STATE, after.as_bytes())),
            None => std::ops::Bound::Included(full_prefix.clone()),
        };
        let mut out = Vec::new();
        for entry in self.store.tree.range::<Vec<u8>, _>((start, std::ops::Bound::Unbounded)) {
            let (k, v) = entry?;
            if !k.starts_with(&full_prefix) || out.len() >= limit {
                break;
            }
            out.push((user_key(&k), decode(&k, &v)?));
        }
        Ok(out)
    }
}

/// Pending writes on top of the committed state, committed all at once by [`Store::commit`].
///
/// Writes go to the current *step* (one message, one request); a step is either accepted
/// into the transaction or discarded, so one failing message does not spoil the batch.
#[derive(Debug)]
pub(crate) struct Tx {
    store: Store,
    accepted: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    step: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl Tx {
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Reads `key` as this transaction sees it and hands the bytes to `read`, which saves a
    /// copy of every value read (the consume loop reads per event).
    fn read_raw<R>(&self, key: &[u8], read: impl FnOnce(Option<&[u8]>) -> R) -> Result<R, StoreError> {
        if let Some(value) = self.step.get(key).or_else(|| self.accepted.get(key)) {
            return Ok(read(value.as_deref()));
        }
        Ok(read(self.store.get_raw(key)?.as_deref()))
    }

    pub(crate) fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.step.insert(key, Some(value));
    }

    pub(crate) fn delete_raw(&mut self, key: Vec<u8>) {
        self.step.insert(key, None);
    }

    /// Committed entries under `prefix` merged with this transaction's writes.
    pub(crate) fn scan_raw(&self, prefix: &[u8]) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, StoreError> {
        let mut merged = BTreeMap::new();
        for entry in self.store.scan_raw(prefix) {
            let (k, v) = entry?;
            merged.insert(k.to_vec(), v.to_vec());
        }
        for layer in [&self.accepted, &self.step] {
            for (k, v) in layer
                .range(prefix.to_vec()..)
                .take_while(|(k, _)| k.starts_with(prefix))
            {
                match v {
                    Some(v) => merged.insert(k.clone(), v.clone()),
                    None => merged.remove(k),
                };
            }
        }
        Ok(merged)
    }

    pub(crate) fn accept_step(&mut self) {
        let step = std::mem::take(&mut self.step);
        self.accepted.extend(step);
    }

    pub(crate) fn discard_step(&mut self) {
        self.step.clear();
    }

    pub(crate) fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let full = self::key(STATE, key.as_bytes());
        self.read_raw(&full, |value| value.map(|v| decode(&full, v)).transpose())?
    }

    pub(crate) fn put<T: Serialize>(&mut self, key: &str, value: &T) -> Result<(), StoreError> {
        let value = encode(value)?;
        self.put_raw(self::key(STATE, key.as_bytes()), value);
        Ok(())
    }

    pub(crate) fn delete(&mut self, key: &str) {
        self.delete_raw(self::key(STATE, key.as_bytes()));
    }

    pub(crate) fn scan<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<(String, T)>, StoreError> {
        self.scan_raw(&key(STATE, prefix.as_bytes()))?
            .into_iter()
            .map(|(k, v)| Ok((user_key(&k), decode(&k, &v)?)))
            .collect()
    }

    pub(crate) fn read_u64(&self, key: &[u8]) -> Result<u64, StoreError> {
        self.read_raw(key, |value| value.map(decode_u64).unwrap_or(0))
    }

    pub(crate) fn write_u64(&mut self, key: Vec<u8>, value: u64) {
        self.put_raw(key, encode_u64(value));
    }
}

/// Whether the commit that took `ticket` is durable as `synced` tells it: yes, never (the
/// sync failed), or not yet (None).
fn reached(synced: &Synced, ticket: u64) -> Option<Result<(), StoreError>> {
    match synced {
        Synced::Failed(why) => Some(Err(StoreError::SyncFailed(why.clone()))),
        Synced::Upto(upto) if *upto >= ticket => Some(Ok(())),
        Synced::Upto(_) => None,
    }
}

fn closed() -> StoreError {
    StoreError::SyncFailed("the store was closed".to_owned())
}

#[cfg(test)]
mod tests;
