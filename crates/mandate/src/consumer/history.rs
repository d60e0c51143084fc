//! A consumer of the component's own stream reads it as history only (`own.rs`: emitting an
//! event applies it, so nothing the component publishes is read back live). It reads what
//! the store lacks, and only that, up to a replay mark — re-applied without publishing what it
//! makes handlers emit — then deletes its durable consumer and ends:
//!
//! - in a rebuild (its state wiped): the whole stream, to its end;
//! - into a fresh store, when the stream has history (the store was lost): the same, as a
//!   rebuild in which every consumer re-applies its stream's history without publishing, as
//!   new partitions do (`Options::replay_mark_at_stream_end`) — commands wait and nothing new
//!   is handled until it is read, so nothing is decided on half a state;
//! - after a read a crash cut short: on to its recorded mark;
//! - a store from a kit that read its own stream live: what came after its watermark.
//!
//! At any other start there is nothing to read: everything on the stream the component
//! published itself, and so applied as it emitted it. Its position is the highest sequence
//! the relay had acknowledged (`relay/`, recorded with the outbox deletes). That is decided
//! at start before anything is served, consumed or published — an event emitted after it is
//! past the mark, never read back and applied twice. What another writer puts on the stream
//! (an operator's `mandate publish` or `import`, a dead letter retried) is read by the next
//! rebuild; while its partition count changes the component reads its stream live instead
//! (`ReadsOwn::Live`).

use super::*;

impl Consumer {
    /// Decides at start, before the component serves, consumes or publishes anything, what of
    /// its own stream this reader re-reads (see the module doc), and records it as its replay
    /// mark; begins a rebuild when the store lacks its history.
    pub(crate) async fn prepare_history(&self) -> Result<(), crate::Error> {
        let store = self.shared.store();
        let applied = self.watermark()?;
        let mark = self.replay_mark()?;
        if applied < mark {
            // A read a crash cut short: the store still lacks that history.
            self.shared.begin_rebuild();
            return Ok(());
        }
        let fresh = store.get_raw(&self.spec.watermark_key())?.is_none();
        let published = store
            .get_raw(&self.spec.published_key())?
            .map(|v| crate::store::decode_u64(&v));
        let end = self.own_stream_end().await?;
        let (from, until) = match published {
            _ if fresh => {
                if end > 0 {
                    // The component has a history and its store does not: a lost store is
                    // restored, and nothing it did is published again.
                    self.shared.restore_lost_store();
                    tracing::info!(end, "a fresh store: restoring it from the streams before anything else");
                }
                (0, end)
            }
            // Written by a kit that read its own stream live: what came after it is unread.
            None => (applied, end.max(applied)),
            Some(published) => (applied.max(published), applied.max(published)),
        };
        let _writer = self.shared.writer().await;
        let mut tx = store.begin();
        tx.write_u64(self.spec.watermark_key(), from);
        // Present from now on: a store without it was written by a kit before this one.
        tx.write_u64(self.spec.published_key(), published.unwrap_or(0));
        self.mark_replay_at(&mut tx, until)?;
        self.shared.hand_off(store.commit(tx)?).await;
        Ok(())
    }

    /// In a rebuild, this reader's mark reaches the stream's end: nothing publishes its own
    /// events while it is under way (commands wait, other consumers hold or discard what
    /// they emit), so everything on the stream now is history to re-read.
    pub(super) async fn mark_history_end(&self, stream: &Stream, mark: u64) -> Result<u64, crate::Error> {
        let end = stream_end(stream, &self.spec.stream).await?;
        if end <= mark {
            return Ok(mark);
        }
        let _writer = self.shared.writer().await;
        let mut tx = self.shared.store().begin();
        self.mark_replay_at(&mut tx, end)?;
        self.shared.hand_off(self.shared.store().commit(tx)?).await;
        Ok(end)
    }

    /// The last sequence of its own stream, which it has created by now.
    async fn own_stream_end(&self) -> Result<u64, crate::Error> {
        let stream = self
            .shared
            .js()
            .get_stream(&self.spec.stream)
            .await
            .map_err(|e| crate::Error::js(&format!("reading stream {}", self.spec.stream), e))?;
        stream_end(&stream, &self.spec.stream).await
    }

    /// The last sequence of its stream whose effects are committed: its watermark and, for a
    /// reader of the component's own stream, what the component published itself (applied
    /// as it was emitted), once no read of history is under way below a mark.
    pub(crate) fn applied_sequence(&self) -> Result<u64, StoreError> {
        let store = self.shared.store();
        let applied = self.watermark()?;
        if !self.spec.history || applied < self.replay_mark()? {
            return Ok(applied);
        }
        Ok(applied.max(store.read_u64(&self.spec.published_key())?))
    }

    /// True for a reader of history with nothing to read (no rebuild, its mark reached): it
    /// is not even seated.
    pub(super) fn nothing_to_read(&self) -> Result<bool, StoreError> {
        if !self.spec.history || self.shared.is_rebuilding() {
            return Ok(false);
        }
        let mark = self.replay_mark()?;
        self.progress.replay_until.store(mark, Ordering::Release);
        Ok(self.watermark()? >= mark)
    }

    /// True once this reader of history has read it: nothing is left for it to consume.
    pub(super) fn history_read(&self) -> bool {
        self.spec.history && self.progress.caught_up.load(Ordering::Acquire)
    }

    /// Ends a history read; a failure stops the component (its store failed).
    pub(super) async fn history_finished(&self, stream: &Stream) {
        if let Err(err) = self.finish_history(stream).await {
            tracing::error!(error = %err, "cannot record the end of its own stream's history");
            self.shared
                .fail(format!("its consumer on {} stopped: {err}", self.spec.stream));
        }
    }

    /// Everything up to its mark is applied (the mark may be a message of the stream it does
    /// not read), the durable consumer is deleted (it would only pile up what the component
    /// applies as it emits), and the reader counts as caught up for good.
    async fn finish_history(&self, stream: &Stream) -> Result<(), crate::Error> {
        let until = self.progress.replay_until.load(Ordering::Acquire);
        if self.watermark()? < until {
            let _writer = self.shared.writer().await;
            let mut tx = self.shared.store().begin();
            tx.write_u64(self.spec.watermark_key(), until);
            self.shared.hand_off(self.shared.store().commit(tx)?).await;
        }
        if let Err(err) = stream.delete_consumer(&self.spec.durable).await {
            tracing::debug!(error = %err, "deleting the consumer of its own stream's history");
        }
        self.metrics.pending.set(0);
        self.progress.history_read.store(true, Ordering::Release);
        self.catch_up();
        tracing::info!(
            until,
            "its own stream's history is read; its own events are applied as they are emitted"
        );
        Ok(())
    }
}

/// The last sequence in `stream` (`name`).
pub(super) async fn stream_end(stream: &Stream, name: &str) -> Result<u64, crate::Error> {
    Ok(stream
        .get_info()
        .await
        .map_err(|e| crate::Error::js(&format!("reading stream {name}"), e))?
        .state
        .last_sequence)
}
