//! One batch: transactions over runs of messages (as many as the crash guard allows, up to a
//! failing handler or a rebuild's replay mark), each committed then acknowledged with one
//! ack-all; a large one on a blocking thread while the next batch is read.

use super::*;

impl Consumer {
    /// Applies `batch` in stream order. Messages up to a failing handler commit together; the
    /// failing message is retried alone, then dead-lettered; the rest of the batch follows.
    pub(super) async fn process_batch(
        self: &Arc<Self>,
        mut batch: Vec<Message>,
        reading: &mut Batches,
        guard: &mut CrashGuard,
        cancel: &CancellationToken,
    ) -> Result<(), crate::Error> {
        let shared = &self.shared;
        let mut next = 0;
        while next < batch.len() {
            let run = {
                let _writer = shared.write_lock.lock().await;
                let (first, last) = (sequence_of(&batch[next]), batch.last().map_or(0, sequence_of));
                let end = match guard.before(&shared.store, first, last, shared.options.max_attempts)? {
                    Next::Batch => batch.len(),
                    Next::Alone => next + 1,
                    Next::SetAside(stops) => {
                        drop(_writer);
                        let reason = format!(
                            "the component stopped {stops} time(s) while applying this message (abort, stack overflow or out of memory); set aside without running its handler again"
                        );
                        let note = guard.take_note();
                        self.set_aside(&batch[next], stops, &reason, note).await?;
                        next += 1;
                        continue;
                    }
                };
                let note = guard.take_note();
                if end - next < OFF_THREAD_FROM {
                    self.apply_run(&batch, next, end, note)?
                } else {
                    // A large batch's handlers and commit (flush + fdatasync, milliseconds on
                    // some disks) run on a blocking thread while this task reads the next batch
                    // from the bus (pull.rs; docs/benchmarks.md, scenario 1). A small one stays
                    // here: a thread hand-off per commit costs more than it saves when events
                    // trickle in (scenario 5).
                    let consumer = Arc::clone(self);
                    let span = tracing::Span::current();
                    let handle = tokio::task::spawn_blocking(move || {
                        let run = span.in_scope(|| consumer.apply_run(&batch, next, end, note));
                        (batch, run)
                    });
                    let (returned, run) = match reading.while_reading(handle).await {
                        Ok(done) => done,
                        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
                        // The runtime is shutting down.
                        Err(_) => return Ok(()),
                    };
                    batch = returned;
                    run?
                }
            };
            next = run.next;
            shared.relay.wake();
            if let Some(last) = run.applied_up_to {
                self.after_commit(&batch[last]).await;
            }
            if run.hold && !self.hold_at_mark(cancel).await {
                return Ok(());
            }
            if let Some(reason) = run.failure {
                self.retry_alone(&batch[next], reason).await?;
                next += 1;
            }
        }
        Ok(())
    }

    /// Applies `batch` from `next` in one transaction until `end`, a failing handler or the
    /// replay mark of a rebuild, and commits it — removing the crash guard's note, if any.
    pub(super) fn apply_run(
        &self,
        batch: &[Message],
        mut next: usize,
        end: usize,
        note: Option<NoteRemoval>,
    ) -> Result<Run, StoreError> {
        let mut tx = self.shared.store.begin();
        if let Some(note) = note {
            note.remove_in(&mut tx);
            tx.accept_step();
        }
        let mut run = Run {
            applied_up_to: None,
            next,
            failure: None,
            hold: false,
        };
        let watermark_key = self.spec.watermark_key();
        let mut watermark = tx.read_u64(&watermark_key)?;
        let before = watermark;
        while next < end {
            if self.past_replay_mark_while_rebuilding(&batch[next]) {
                run.hold = true;
                break;
            }
            match self.apply(&mut tx, &batch[next], 1, &mut watermark)? {
                Applied::Done => {
                    tx.accept_step();
                    run.applied_up_to = Some(next);
                    next += 1;
                }
                Applied::Failed(reason) => {
                    tx.discard_step();
                    run.failure = Some(reason);
                    break;
                }
            }
        }
        // Once per transaction, not per event: the position of the last message applied.
        if watermark > before {
            tx.write_u64(watermark_key, watermark);
        }
        self.shared.store.commit(tx)?;
        run.next = next;
        Ok(run)
    }

    /// Acknowledges everything up to `last` (ack-all) and updates progress.
    pub(super) async fn after_commit(&self, last: &Message) {
        self.acknowledge(last).await;
        let progress = &self.progress;
        if let Ok(info) = last.info() {
            progress.applied.fetch_max(info.stream_sequence, Ordering::AcqRel);
            let caught_up = info.pending == 0 || info.stream_sequence >= progress.replay_until.load(Ordering::Acquire);
            if caught_up {
                self.catch_up();
            }
        }
    }
}

/// From how many messages a transaction runs on a blocking thread (see `process_batch`).
pub(super) const OFF_THREAD_FROM: usize = 64;

/// What one transaction over a batch came to.
pub(super) struct Run {
    /// The last message applied (its position moves the consumer), if any.
    applied_up_to: Option<usize>,
    /// Where the next transaction starts.
    next: usize,
    /// Why the handler failed at `next`, if it did.
    failure: Option<String>,
    /// Stopped at the replay mark of a rebuild.
    hold: bool,
}

/// The stream sequence of a message (0 without JetStream metadata).
pub(super) fn sequence_of(message: &Message) -> u64 {
    message.info().map_or(0, |info| info.stream_sequence)
}
