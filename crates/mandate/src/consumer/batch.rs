//! The batch chain's middle (`policies.rs`): the crash guard's decision for a run of a
//! batch, the run applied (the message chain for each message) and committed in one
//! transaction — a large one on a blocking thread while the next batch is read — and, after
//! the commit, the ack and the consumer's progress.

use super::*;

impl Consumer {
    /// The crash guard's decision for the transaction starting at `batch[next]` (and reaching
    /// the end of the batch if applied as one); writes its note when one is due.
    pub(super) fn guard_next(
        &self,
        guard: &mut CrashGuard,
        batch: &[Message],
        next: usize,
    ) -> Result<Next, StoreError> {
        let (first, last) = (sequence_of(&batch[next]), batch.last().map_or(0, sequence_of));
        guard.before(self.shared.store(), first, last, self.shared.options().max_attempts)
    }

    /// Applies `batch[next..end]` in one transaction and commits it (see `apply_run`). A small
    /// run stays on this task; a large one goes to a blocking thread while this task reads the
    /// next batch from the bus. None when the runtime is shutting down meanwhile.
    pub(super) async fn transact(
        self: &Arc<Self>,
        batch: &mut Vec<Message>,
        next: usize,
        end: usize,
        note: Option<NoteRemoval>,
        reading: &mut Batches,
    ) -> Result<Option<Run>, crate::Error> {
        if end - next < OFF_THREAD_FROM {
            return Ok(Some(self.apply_run(batch, next, end, note)?));
        }
        // A large batch's handlers and commit (flush + fdatasync, milliseconds on some disks)
        // run on a blocking thread while this task reads the next batch from the bus (pull.rs;
        // docs/benchmarks.md, scenario 1). A small one stays here: a thread hand-off per commit
        // costs more than it saves when events trickle in (scenario 5).
        let consumer = Arc::clone(self);
        let span = tracing::Span::current();
        let moved = std::mem::take(batch);
        let handle = tokio::task::spawn_blocking(move || {
            let run = span.in_scope(|| consumer.apply_run(&moved, next, end, note));
            (moved, run)
        });
        let (returned, run) = match reading.while_reading(handle).await {
            Ok(done) => done,
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(_) => return Ok(None),
        };
        *batch = returned;
        Ok(Some(run?))
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
        let mut tx = self.shared.store().begin();
        if let Some(note) = note {
            note.remove_in(&mut tx);
            tx.accept_step();
        }
        let mut run = Run {
            applied_up_to: None,
            next,
            failure: None,
            hold: false,
            committed: Committed::default(),
            committing: Committing::default(),
            started: None,
        };
        let watermark_key = self.spec.watermark_key();
        let mut watermark = tx.read_u64(&watermark_key)?;
        let before = watermark;
        let mut moved = 0;
        while next < end {
            if self.past_replay_mark(&batch[next]) {
                run.hold = true;
                break;
            }
            match self.apply(&mut tx, &batch[next], 1, &mut watermark, &mut run.committing)? {
                Applied::Done => {
                    tx.accept_step();
                    run.applied_up_to = Some(next);
                    next += 1;
                    moved += 1;
                }
                // The handler left nothing in its step.
                Applied::Failed(reason) => {
                    run.failure = Some(reason);
                    break;
                }
            }
        }
        // Once per transaction, not per event: the position of the last message applied.
        if watermark > before {
            tx.write_u64(watermark_key, watermark);
        }
        run.started = Some((std::time::Instant::now(), run.committing.start()));
        run.committed = self.shared.store().apply(tx)?;
        self.metrics.batches.inc();
        self.metrics.applied.inc_by(moved);
        run.next = next;
        Ok(run)
    }

    /// Waits until the run's commit (`ticket`) is durable (group commit, `durability.rs`): nothing it
    /// decided is acknowledged or published before. Call it after letting go of the writer,
    /// so that the next transaction is applied meanwhile and shares the sync.
    pub(super) async fn durable(&self, ticket: u64, run: &mut Run) -> Result<(), StoreError> {
        self.shared.store().durable(ticket).await?;
        if let Some((started, traced)) = run.started.take() {
            self.metrics.commit_seconds.observe(started.elapsed());
            run.committing.committed(traced);
        }
        Ok(())
    }

    /// Acknowledges everything up to `last` (ack-all) and updates progress.
    pub(super) async fn after_commit(&self, last: &Message) {
        self.acknowledge(last).await;
        let progress = &self.progress;
        if let Ok(info) = last.info() {
            self.metrics
                .pending
                .set(i64::try_from(info.pending).unwrap_or(i64::MAX));
            progress.applied.fetch_max(info.stream_sequence, Ordering::AcqRel);
            let caught_up = info.pending == 0 || info.stream_sequence >= progress.replay_until.load(Ordering::Acquire);
            if caught_up {
                self.catch_up();
            }
        }
    }
}

/// From how many messages a transaction runs on a blocking thread (see `transact`).
pub(super) const OFF_THREAD_FROM: usize = 64;

/// What one transaction over a batch came to.
pub(super) struct Run {
    /// The last message applied (its position moves the consumer), if any.
    pub applied_up_to: Option<usize>,
    /// Where the next transaction starts.
    pub next: usize,
    /// Why the handler failed at `next`, if it did.
    pub failure: Option<String>,
    /// Stopped at the replay mark of a rebuild.
    pub hold: bool,
    /// What the commit staged in the outbox, to be handed to the relay, and its ticket.
    pub committed: Committed,
    /// The spans of the messages applied, ended once the commit is durable.
    pub committing: Committing,
    /// When the commit began (and its span's start), once it did.
    pub started: Option<(std::time::Instant, Option<std::time::SystemTime>)>,
}

/// The stream sequence of a message (0 without JetStream metadata).
pub(super) fn sequence_of(message: &Message) -> u64 {
    message.info().map_or(0, |info| info.stream_sequence)
}
