//! Seating a consumer: wait for its source stream (its owner creates it), then (re)create
//! the durable consumer just past the watermark — or where a rebuild starts — so that nothing
//! older can arrive late.

use super::*;

impl Consumer {
    /// The owner creates its stream; a subscriber that starts first waits for it.
    pub(super) async fn wait_for_stream(&self, cancel: &CancellationToken) -> Option<Stream> {
        let mut backoff = Duration::from_millis(100);
        let mut warned = false;
        loop {
            match self.shared.js().get_stream(&self.spec.stream).await {
                Ok(stream) => return Some(stream),
                Err(err) => {
                    if !warned {
                        tracing::warn!(error = %err, "waiting for the stream (has its owner started?)");
                        warned = true;
                        // No stream, nothing to re-apply: this consumer does not hold up a rebuild.
                        self.catch_up();
                    }
                }
            }
            tokio::select! {
                () = cancel.cancelled() => return None,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// Seats the consumer again after a delivery went missing. That happens when the cluster
    /// is in turmoil — a node down, leaders being elected — when JetStream's API may not
    /// answer for a while, so a failure here is waited out (unlike at the first seating, only
    /// a failing store stops it); `None` when cancelled meanwhile.
    pub(super) async fn reseat(
        &self,
        stream: &Stream,
        start: Option<StartAt>,
        cancel: &CancellationToken,
    ) -> Result<Option<PullConsumer>, crate::Error> {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.seat(stream, start).await {
                Ok(consumer) => return Ok(Some(consumer)),
                // The store is this process's own: nothing to wait out.
                Err(err @ crate::Error::Store(_)) => return Err(err),
                Err(err) => tracing::warn!(error = %err, retry_in = ?backoff, "cannot seat the consumer again yet"),
            }
            tokio::select! {
                () = cancel.cancelled() => return Ok(None),
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// (Re)creates the durable consumer so that it delivers from just past the watermark (or
    /// from `start` during a rebuild).
    pub(super) async fn seat(&self, stream: &Stream, start: Option<StartAt>) -> Result<PullConsumer, crate::Error> {
        let spec = &self.spec;
        let applied = self.watermark()?;
        let progress = &self.progress;
        let mut replay_until = self.replay_mark()?;
        let restoring = self.shared.options().replay_mark_at_stream_end || self.shared.restores_lost_store();
        if applied == 0 && replay_until == 0 && restoring {
            replay_until = self.mark_at_stream_end(stream).await?;
        }
        if spec.history && self.shared.is_rebuilding() {
            replay_until = self.mark_history_end(stream, replay_until).await?;
        }
        progress.applied.store(applied, Ordering::Release);
        progress.replay_until.store(replay_until, Ordering::Release);
        let deliver_policy = match start {
            Some(StartAt::Beginning) | None if applied == 0 => DeliverPolicy::All,
            None => DeliverPolicy::ByStartSequence {
                start_sequence: applied + 1,
            },
            Some(StartAt::Beginning) => DeliverPolicy::All,
            Some(StartAt::Sequence(seq)) => DeliverPolicy::ByStartSequence {
                start_sequence: seq.max(1),
            },
            Some(StartAt::Time(time)) => DeliverPolicy::ByStartTime { start_time: time },
        };
        // Not found is the normal case on a first start.
        let _ = stream.delete_consumer(&spec.durable).await;
        let (filter_subject, filter_subjects) = match spec.subjects.as_slice() {
            [one] => (one.clone(), Vec::new()),
            many => (String::new(), many.to_vec()),
        };
        let mut consumer: PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(spec.durable.clone()),
                description: Some(format!("{} consuming {}", spec.durable, spec.subjects.join(", "))),
                deliver_policy,
                ack_policy: AckPolicy::All,
                ack_wait: self.shared.options().ack_wait,
                max_deliver: -1,
                filter_subject,
                filter_subjects,
                max_ack_pending: 20_000,
                ..Default::default()
            })
            .await
            .map_err(|e| crate::Error::js(&format!("creating consumer {} on {}", spec.durable, spec.stream), e))?;
        let pending = consumer
            .info()
            .await
            .map(|info| info.num_pending)
            .map_err(|e| crate::Error::js("reading consumer info", e))?;
        if pending == 0 || applied >= replay_until {
            progress.caught_up.store(true, Ordering::Release);
            self.shared.note_caught_up();
        }
        tracing::info!(applied, pending, ?deliver_policy, "consumer seated");
        Ok(consumer)
    }

    /// Sets this (fresh) consumer's replay mark at `stream`'s current end and starts a
    /// rebuild, so that history is re-applied without publishing what it makes handlers emit
    /// (`Options::replay_mark_at_stream_end`). Returns the mark.
    async fn mark_at_stream_end(&self, stream: &Stream) -> Result<u64, crate::Error> {
        let end = history::stream_end(stream, &self.spec.stream).await?;
        if end == 0 {
            return Ok(0);
        }
        {
            let _writer = self.shared.writer().await;
            let mut tx = self.shared.store().begin();
            self.mark_replay_at(&mut tx, end)?;
            self.shared.hand_off(self.shared.store().commit(tx)?).await;
        }
        if self.shared.begin_rebuild() {
            tracing::info!(
                end,
                "a fresh store: re-applying history up to the stream's end without publishing"
            );
        }
        Ok(end)
    }
}
