//! A component's consumers, one per source stream, and their tasks: started together at
//! start-up and by a rebuild, stopped together by a rebuild and at shutdown.

use std::sync::Arc;

use tokio::sync::Mutex;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::consumer::{Consumer, StartAt};
use crate::store::{StoreError, Tx};

#[derive(Debug)]
pub(crate) struct Consumers {
    all: Vec<Arc<Consumer>>,
    tasks: Mutex<Tasks>,
}

#[derive(Debug, Default)]
struct Tasks {
    cancel: CancellationToken,
    running: JoinSet<()>,
}

impl Consumers {
    pub(crate) fn new(all: Vec<Arc<Consumer>>) -> Consumers {
        Consumers {
            all,
            tasks: Mutex::new(Tasks::default()),
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Consumer> {
        self.all.iter().map(|consumer| &**consumer)
    }

    /// Decides what the reader of the component's own stream re-reads (`consumer/history.rs`):
    /// at start, before anything is served, consumed or published.
    pub(crate) async fn prepare_history(&self) -> crate::Result<()> {
        for consumer in self.all.iter().filter(|consumer| consumer.spec().history) {
            consumer.prepare_history().await?;
        }
        Ok(())
    }

    /// Starts one task per consumer; `start` overrides where they begin (a rebuild).
    pub(crate) async fn start(&self, start: Option<StartAt>) {
        let mut tasks = self.tasks.lock().await;
        tasks.cancel = CancellationToken::new();
        for consumer in &self.all {
            let cancel = tasks.cancel.clone();
            tasks.running.spawn(Arc::clone(consumer).run(start, cancel));
        }
    }

    /// Stops every consumer after its current batch and waits for them.
    pub(crate) async fn stop(&self) {
        let mut tasks = self.tasks.lock().await;
        tasks.cancel.cancel();
        while tasks.running.join_next().await.is_some() {}
    }

    /// Stops every consumer at once, like a crash: no batch is finished, no ack sent.
    pub(crate) async fn kill(&self) {
        self.tasks.lock().await.running.shutdown().await;
    }

    /// Aborts every consumer task without waiting (a dropped `Running`).
    pub(crate) fn abort(&self) {
        if let Ok(mut tasks) = self.tasks.try_lock() {
            tasks.running.abort_all();
        }
    }

    /// Records, for every consumer, the highest sequence it has ever applied: a rebuild must
    /// not re-publish what handlers emitted up to there.
    pub(crate) fn mark_replay(&self, tx: &mut Tx) -> Result<(), StoreError> {
        for consumer in &self.all {
            consumer.mark_replay(tx)?;
        }
        tx.accept_step();
        Ok(())
    }
}
