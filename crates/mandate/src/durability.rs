//! Group commit: one flush + fdatasync makes every commit applied before it durable.
//!
//! A commit is applied under the one writer (`Store::apply`: sled's `apply_batch`, in
//! memory) and takes a ticket; the writer is then let go, and whoever committed awaits its
//! ticket (`Store::durable`) before anything leaves the process — the relay's publish, the
//! ack, the reply. The first waiter to find no sync running starts one on a blocking thread;
//! it covers every ticket taken before it began, so the commits of all the component's
//! consumers and commands that arrive while a sync runs share the next one, and the async
//! task that waits never blocks its runtime on the disk.
//!
//! A consumer's commit need not start a sync at once (`Store::durable_by`,
//! `consumer/linger.rs`): once the consumer has caught up, its commit stays unacknowledged
//! for up to `Options::sync_linger` while the consumer goes on, waiting for a sync another
//! commit starts — the relay's, which syncs at once whatever it publishes; a command's, which
//! must answer; another consumer's — and starts one only then. Only its ack waits, so a
//! component whose consumers publish nothing (a read model; the storefront's notifications)
//! syncs about once per linger instead of once per delivery, and leaves the disk to the
//! commits someone waits for (PostgreSQL's `commit_delay`, Kafka's `linger.ms`).
//!
//! Why that is safe: sled's log is written in order, so a durable commit implies that every
//! commit applied before it is durable too, and what a later transaction read from an
//! earlier one's not-yet-durable writes is lost with it in a crash — together with the
//! deliveries (not acked, so redelivered) or requests (not answered) that made both. Readers
//! (queries) may see a commit whose sync is still running: read-committed, not read-durable.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::watch;

/// Where durability stands: every ticket up to a number, or failed for good (after a failed
/// fdatasync the file's state is unknown: nothing more may be promised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Synced {
    Upto(u64),
    Failed(String),
}

/// The group-commit state of one store.
#[derive(Debug)]
pub(crate) struct Durability {
    /// Tickets handed out: one per applied commit, taken after its `apply_batch` returned.
    applied: AtomicU64,
    /// True while a group sync runs (one at a time).
    syncing: AtomicBool,
    /// Test-only (`Fault::ParkSyncs`): no sync ever reports.
    parked: AtomicBool,
    durable: watch::Sender<Synced>,
}

impl Default for Durability {
    fn default() -> Durability {
        Durability {
            applied: AtomicU64::new(0),
            syncing: AtomicBool::new(false),
            parked: AtomicBool::new(false),
            durable: watch::Sender::new(Synced::Upto(0)),
        }
    }
}

impl Durability {
    /// A ticket for a commit whose `apply_batch` has returned.
    pub(crate) fn ticket(&self) -> u64 {
        self.applied.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// The last ticket handed out: a sync that starts now covers it.
    pub(crate) fn last_ticket(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Records what a sync that began after `through` was handed out came to (a sync on a
    /// caller's thread, `Store::sync`): news only if it got further.
    pub(crate) fn synced(&self, through: u64, result: Result<(), String>) {
        if self.parked.load(Ordering::Acquire) {
            return;
        }
        self.durable.send_if_modified(|synced| record(synced, through, result));
    }

    /// Takes the lead of the next group sync, unless one is running.
    pub(crate) fn lead(&self) -> bool {
        !self.syncing.swap(true, Ordering::AcqRel)
    }

    /// The lead's sync is over: let go of the lead *before* telling the waiters, so that a
    /// waiter its sync did not cover, woken by the news, can take the lead of the next one.
    /// Always news, even when it got no further than a sync on a caller's thread that
    /// overtook it: a waiter that found the lead taken sleeps until the lead's end, and would
    /// sleep for ever.
    pub(crate) fn led(&self, through: u64, result: Result<(), String>) {
        self.syncing.store(false, Ordering::Release);
        if self.parked.load(Ordering::Acquire) {
            return;
        }
        self.durable.send_modify(|synced| {
            record(synced, through, result);
        });
    }

    /// Test-only (`Fault::ParkSyncs`): from now on no sync reports.
    pub(crate) fn park(&self) {
        self.parked.store(true, Ordering::Release);
    }

    /// Where durability stands, and news of it.
    pub(crate) fn watch(&self) -> watch::Receiver<Synced> {
        self.durable.subscribe()
    }
}

/// `synced` moved on by a sync that began after `through` was handed out, if it got further
/// (or failed); true if it changed.
fn record(synced: &mut Synced, through: u64, result: Result<(), String>) -> bool {
    match (&*synced, result) {
        (Synced::Failed(_), _) => false,
        (_, Err(why)) => {
            *synced = Synced::Failed(why);
            true
        }
        (Synced::Upto(upto), Ok(())) if *upto < through => {
            *synced = Synced::Upto(through);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_covers_the_tickets_taken_before_it_began_and_a_failure_sticks() {
        let durability = Durability::default();
        let first = durability.ticket();
        let through = durability.last_ticket();
        let second = durability.ticket();
        durability.synced(through, Ok(()));
        assert_eq!(*durability.watch().borrow(), Synced::Upto(first));
        assert!(first < second, "the second is not covered");
        durability.synced(first, Ok(()));
        assert_eq!(*durability.watch().borrow(), Synced::Upto(first), "never goes back");
        durability.synced(second, Err("disk gone".to_owned()));
        durability.synced(second, Ok(()));
        assert_eq!(*durability.watch().borrow(), Synced::Failed("disk gone".to_owned()));
    }

    #[test]
    fn one_lead_at_a_time_and_it_is_let_go_before_the_news() {
        let durability = Durability::default();
        assert!(durability.lead());
        assert!(!durability.lead(), "a sync runs");
        let news = durability.watch();
        let ticket = durability.ticket();
        durability.led(ticket, Ok(()));
        assert!(news.has_changed().expect("open"));
        assert!(durability.lead(), "the lead is free once the news is out");
    }

    /// Seen as a hung storefront in the bench: payments' group sync was running when a crash
    /// guard note (a sync on the consumer's own thread) got further; a commit applied after
    /// both began found the lead taken and waited for the lead's news — which, being no
    /// further, was never sent. Every consumer ended up waiting.
    #[test]
    fn the_end_of_a_lead_is_news_even_when_a_sync_on_a_callers_thread_got_further() {
        let durability = Durability::default();
        for _ in 0..12 {
            durability.ticket();
        }
        assert!(durability.lead(), "a group sync starts, covering ticket 10");
        durability.synced(12, Ok(()));
        let mut waiter = durability.watch();
        assert_eq!(*waiter.borrow_and_update(), Synced::Upto(12));
        assert!(!durability.lead(), "ticket 13's waiter finds the lead taken and sleeps");
        durability.led(10, Ok(()));
        assert!(waiter.has_changed().expect("open"), "the waiter would sleep for ever");
        assert_eq!(*waiter.borrow(), Synced::Upto(12), "and it goes no further back");
        assert!(durability.lead(), "the waiter leads the next sync");
    }
}
