//! Outbox entries the server refuses for good — larger than its max_payload (a store written
//! under a larger limit), refused by their stream, or with no stream to take them. Left at the
//! head of the outbox, such an entry would hold up everything committed after it, for ever;
//! so the relay moves it here (key space `u/`, kept by a rebuild), logs an error, and goes on.
//! The admin status counts and lists them; `svc.<component>.admin.retry-set-aside` puts them
//! back at the tail of the outbox once the cause is fixed.

use serde::{Deserialize, Serialize};

use crate::envelope::{CE_ID, CE_TYPE};
use crate::store::{Committed, OUTBOX, SET_ASIDE, Store, StoreError, encode_u64, key};

/// How many entries the admin status lists (the oldest first); the count covers them all.
const LISTED: usize = 20;

/// Outbox entries the server refuses for good (too large, refused by their stream, no stream,
/// permission denied), set aside so that the ones behind them are published; `mandate dlq
/// retry-set-aside` puts them back once the cause is fixed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct SetAsideStatus {
    /// How many there are.
    pub count: u64,
    /// When the first of them (in commit order) was set aside, RFC 3339.
    pub oldest: Option<String>,
    /// When the last of them was set aside, RFC 3339.
    pub newest: Option<String>,
    /// The first ones in commit order (at most 20).
    pub entries: Vec<SetAsideEntry>,
}

/// One set-aside outbox entry: what it is, and why the server will not take it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct SetAsideEntry {
    /// Its place in commit order (the outbox id).
    pub id: u64,
    /// The subject it was to be published on.
    pub subject: String,
    /// Payload plus encoded headers, in bytes: what the server counts against max_payload.
    pub size: u64,
    /// Its `ce-type` header, if it has one.
    pub ce_type: Option<String>,
    /// Its `ce-id` header, if it has one.
    pub ce_id: Option<String>,
    /// Why the server refuses it.
    pub reason: String,
    /// When it was set aside, RFC 3339.
    pub set_aside_at: String,
}

/// An outbox entry the relay could not publish for good, and why.
#[derive(Debug)]
pub(crate) struct Refused {
    /// Its outbox key, `o/<id>`.
    key: sled::IVec,
    /// The outbox entry as staged.
    entry: sled::IVec,
    reason: String,
}

impl Refused {
    pub(crate) fn new(key: sled::IVec, entry: sled::IVec, reason: String) -> Refused {
        Refused { key, entry, reason }
    }
}

/// A set-aside entry as stored: the outbox entry untouched, plus why and when.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    reason: String,
    at: String,
    #[serde(with = "serde_bytes")]
    entry: Vec<u8>,
}

/// The part of a staged outbox entry a listing shows.
#[derive(Debug, Deserialize)]
struct Staged {
    subject: String,
    headers: Vec<(String, String)>,
    #[serde(with = "serde_bytes")]
    payload: Vec<u8>,
}

/// Moves `refused` from the outbox to the set-aside key space, in one synced commit (a crash
/// before it leaves them in the outbox, to be refused and set aside again), and reports each
/// as an error: nothing else tells an operator that an event was not published.
pub(crate) fn set_aside(store: &Store, refused: Vec<Refused>) -> Result<(), StoreError> {
    let at = crate::envelope::now_rfc3339();
    let mut tx = store.begin();
    for refused in refused {
        let id = &refused.key[OUTBOX.len()..];
        if let Some(staged) = staged(&refused.entry) {
            tracing::error!(
                subject = %staged.subject,
                size = wire_size(&staged),
                id = decode_id(id),
                reason = %refused.reason,
                "outbox entry set aside: the server refuses it for good; the relay goes on with the next ones (`mandate status` lists it, `svc.<component>.admin.retry-set-aside` retries it)"
            );
        }
        let record = Record {
            reason: refused.reason,
            at: at.clone(),
            entry: refused.entry.to_vec(),
        };
        tx.put_raw(key(SET_ASIDE, id), rmp_serde::to_vec_named(&record)?);
        tx.delete_raw(refused.key.to_vec());
    }
    // Moved out of the outbox, nothing into it: nothing to hand off.
    store.commit(tx).map(drop)
}

/// How many entries are set aside, the times of the oldest and newest, and the oldest few.
pub(crate) fn status(store: &Store) -> Result<SetAsideStatus, StoreError> {
    let mut status = SetAsideStatus::default();
    for entry in store.scan_raw(SET_ASIDE) {
        let (id, value) = entry?;
        status.count += 1;
        if status.entries.len() < LISTED {
            status.entries.push(describe(&id[SET_ASIDE.len()..], &value));
        }
    }
    status.oldest = status.entries.first().map(|e| e.set_aside_at.clone());
    status.newest = store
        .scan_raw(SET_ASIDE)
        .next_back()
        .transpose()?
        .map(|(id, value)| describe(&id[SET_ASIDE.len()..], &value).set_aside_at);
    Ok(status)
}

/// Puts every set-aside entry back at the tail of the outbox (after what was committed
/// meanwhile), in the order they were committed; returns how many, and the commit for the
/// relay. One the server still refuses is set aside again. Call it as the one writer: its
/// new outbox ids must be committed in order with everyone else's.
pub(crate) fn retry(store: &Store) -> Result<(u64, Committed), StoreError> {
    let mut tx = store.begin();
    let mut moved = 0;
    for entry in store.scan_raw(SET_ASIDE) {
        let (id, value) = entry?;
        let record: Record = rmp_serde::from_slice(&value).map_err(|source| StoreError::Decode {
            key: String::from_utf8_lossy(&id).into_owned(),
            source,
        })?;
        tx.put_raw(key(OUTBOX, &encode_u64(store.next_id()?)), record.entry);
        tx.delete_raw(id.to_vec());
        moved += 1;
    }
    let committed = store.commit(tx)?;
    Ok((moved, committed))
}

fn describe(id: &[u8], value: &[u8]) -> SetAsideEntry {
    let record: Option<Record> = rmp_serde::from_slice(value).ok();
    let staged = record.as_ref().and_then(|r| staged(&r.entry));
    let header = |name: &str| {
        staged
            .as_ref()
            .and_then(|s| s.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v.clone())
    };
    SetAsideEntry {
        id: decode_id(id),
        subject: staged.as_ref().map(|s| s.subject.clone()).unwrap_or_default(),
        size: staged.as_ref().map_or(0, wire_size) as u64,
        ce_type: header(CE_TYPE),
        ce_id: header(CE_ID),
        reason: record
            .as_ref()
            .map_or_else(|| "unreadable set-aside record".to_owned(), |r| r.reason.clone()),
        set_aside_at: record.map(|r| r.at).unwrap_or_default(),
    }
}

fn staged(entry: &[u8]) -> Option<Staged> {
    rmp_serde::from_slice(entry).ok()
}

fn wire_size(staged: &Staged) -> usize {
    crate::wire::wire_size(
        staged.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        staged.payload.len(),
    )
}

fn decode_id(id: &[u8]) -> u64 {
    crate::store::decode_u64(id)
}
