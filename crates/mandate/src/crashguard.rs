//! Messages that take the process down. A handler that panics is caught and retried, then
//! dead-lettered; one that aborts, overflows its stack or runs out of memory stops the
//! process instead. Its supervisor restarts it, the consumer is re-seated just past the
//! watermark, and the same message stops it again — forever, since re-seating also resets
//! JetStream's delivery count.
//!
//! So before the first transaction after a start, the consumer notes durably which messages
//! it is about to apply (`m/attempt/<stream>`: first and last sequence, and how many starts
//! in a row began there); that transaction's commit removes the note. A start that finds the
//! note knows the last process stopped among those messages. It then applies them one per
//! transaction, each under a note of its own, and sets a message aside — dead-letters it
//! without running its handler — once it has stopped the process `max_attempts` times. It
//! costs one synced write per start; none per batch.

use crate::store::{Store, StoreError, Tx, key};

const ATTEMPT: &[u8] = b"m/attempt/";

/// Where a start began applying, as noted in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Note {
    first: u64,
    last: u64,
    /// Starts in a row that stopped at or after `first`, this one included.
    starts: u32,
}

impl Note {
    fn encode(self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(20);
        bytes.extend_from_slice(&self.first.to_be_bytes());
        bytes.extend_from_slice(&self.last.to_be_bytes());
        bytes.extend_from_slice(&self.starts.to_be_bytes());
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<Note> {
        let first = u64::from_be_bytes(bytes.get(0..8)?.try_into().ok()?);
        let last = u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?);
        let starts = u32::from_be_bytes(bytes.get(16..20)?.try_into().ok()?);
        Some(Note { first, last, starts })
    }
}

/// What the guard asks of the next transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Apply as usual.
    Batch,
    /// Apply this one message alone: an earlier process may have stopped on it.
    Alone,
    /// Do not run its handler: it stopped the process this many times.
    SetAside(u32),
}

/// One consumer's guard, from its seat to its end.
#[derive(Debug)]
pub(crate) struct CrashGuard {
    key: Vec<u8>,
    /// The note the last process left, if it stopped while applying.
    found: Option<Note>,
    /// Up to which sequence messages are applied one at a time.
    careful_until: u64,
    /// Whether the note of this start is written (normal mode writes one, once).
    noted: bool,
    /// A note is written that the next commit must remove.
    pending: bool,
}

/// A written note's removal, carried to the transaction that commits past its messages (it
/// may run on another thread): the note and the messages it guards go away together.
#[derive(Debug)]
pub(crate) struct NoteRemoval(Vec<u8>);

impl NoteRemoval {
    /// Removes the note in `tx`'s current step.
    pub(crate) fn remove_in(self, tx: &mut Tx) {
        tx.delete_raw(self.0);
    }
}

impl CrashGuard {
    pub(crate) fn at_start(store: &Store, stream: &str) -> Result<CrashGuard, StoreError> {
        let key = key(ATTEMPT, stream.as_bytes());
        let found = store.get_raw(&key)?.and_then(|bytes| Note::decode(&bytes));
        if let Some(note) = found {
            tracing::warn!(
                first = note.first,
                last = note.last,
                starts = note.starts,
                "the last process stopped while applying these messages; applying them one at a time"
            );
        }
        Ok(CrashGuard {
            key,
            careful_until: found.map_or(0, |note| note.last),
            found,
            noted: false,
            pending: false,
        })
    }

    /// Decides how the transaction starting at `sequence` (and reaching `last` if applied as
    /// a batch) runs, and writes its note (synced) when one is due.
    pub(crate) fn before(
        &mut self,
        store: &Store,
        sequence: u64,
        last: u64,
        max_attempts: u32,
    ) -> Result<Next, StoreError> {
        if sequence <= self.careful_until {
            let starts = match self.found {
                Some(note) if note.first == sequence => note.starts + 1,
                // Among the messages the stopped process was applying: once already.
                _ => 2,
            };
            if starts > max_attempts {
                return Ok(Next::SetAside(starts - 1));
            }
            let last = self.careful_until;
            self.write(
                store,
                Note {
                    first: sequence,
                    last,
                    starts,
                },
            )?;
            return Ok(Next::Alone);
        }
        if !self.noted {
            self.noted = true;
            self.write(
                store,
                Note {
                    first: sequence,
                    last,
                    starts: 1,
                },
            )?;
        }
        Ok(Next::Batch)
    }

    /// The removal of the note, due in the next transaction (the one that gets past the
    /// noted messages), if a note is written.
    pub(crate) fn take_note(&mut self) -> Option<NoteRemoval> {
        std::mem::take(&mut self.pending).then(|| NoteRemoval(self.key.clone()))
    }

    fn write(&mut self, store: &Store, note: Note) -> Result<(), StoreError> {
        let mut tx = store.begin();
        tx.put_raw(self.key.clone(), note.encode());
        // A note stages nothing in the outbox: nothing to hand off.
        let _nothing_staged = store.commit(tx)?;
        self.pending = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_round_trips() {
        let note = Note {
            first: 7,
            last: 300,
            starts: 2,
        };
        assert_eq!(Note::decode(&note.encode()), Some(note));
        assert_eq!(Note::decode(b"short"), None);
    }
}
