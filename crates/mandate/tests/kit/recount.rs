//! Changing the number of partitions (docs/evolution.md): new partitions of a new count have
//! new, empty stores and re-apply the whole history. Started with
//! `replay_mark_at_stream_end`, they re-apply it without publishing what their handlers emit
//! — the old partitions published it, and the streams' duplicate window is long gone — and
//! react to what comes after.

use std::time::Duration;

use mandate::{Component, Context, Event, HandlerResult, Key, Options};
use serde::{Deserialize, Serialize};

use crate::common::{Harness, eventually};
use crate::keys::{Thing, thing};

/// What the watcher announces for each thing it sees.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Seen {
    pub thing_id: String,
}

impl Event for Seen {
    const OWNER: &'static str = "watcher";
    const NAME: &'static str = "seen";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(Key {
        entity: "thing",
        field: "thing_id",
    });
}

fn watcher(count: u32) -> Component {
    Component::new("watcher")
        .partitioned_by("thing", count)
        .publishes::<Seen>()
        .on::<Thing>(|ctx: &mut Context<'_>, thing: Thing| -> HandlerResult {
            ctx.put(&format!("thing/{}", thing.thing_id), &thing.n)?;
            ctx.emit(&Seen {
                thing_id: thing.thing_id,
            })?;
            Ok(())
        })
}

fn partition(h: &Harness, index: u32, count: u32, at_stream_end: bool) -> Options {
    let mut options = h.options();
    options.partitions = count;
    options.partition = index;
    options.replay_mark_at_stream_end = at_stream_end;
    options
}

/// Whether every partition of `count` has re-applied history (no longer rebuilding, every
/// consumer caught up).
async fn all_rebuilt(h: &Harness, count: u32) -> bool {
    for index in 0..count {
        let Ok(status) = h.bus.status(&format!("watcher.p{index}of{count}")).await else {
            return false;
        };
        if status.rebuilding || !status.consumers.iter().all(|c| c.caught_up) {
            return false;
        }
    }
    true
}

#[tokio::test]
async fn new_partitions_re_apply_history_without_publishing_it_again() {
    let h = Harness::new(&[]).await;
    let owner = h.start(Component::new("keys").publishes::<Thing>()).await;
    // The watcher's stream with a short duplicate window: what the old partitions published
    // is out of it by the time the new ones re-apply history.
    h.bus
        .jetstream()
        .create_stream(async_nats::jetstream::stream::Config {
            name: mandate::stream_name("watcher"),
            subjects: vec!["evt.watcher.>".to_owned()],
            duplicate_window: Duration::from_millis(200),
            subject_transform: Some({
                let (source, destination) = mandate::partition::stream_transform("watcher");
                async_nats::jetstream::stream::SubjectTransform { source, destination }
            }),
            ..Default::default()
        })
        .await
        .expect("stream created");
    let old: Vec<_> =
        futures::future::join_all((0..2).map(|i| h.start_with(watcher(2), partition(&h, i, 2, false)))).await;
    for n in 0..12 {
        h.bus.publish(&thing(&format!("t-{n}"), n)).await.expect("published");
    }
    eventually("the old partitions to react to every thing", || async {
        (h.stream_messages("EVT_WATCHER").await == 12).then_some(())
    })
    .await;
    for running in old {
        running.shutdown().await.expect("stops");
    }
    tokio::time::sleep(Duration::from_millis(400)).await;

    // Three partitions instead of two: new consumers, new stores, the whole history again.
    let new: Vec<_> =
        futures::future::join_all((0..3).map(|i| h.start_with(watcher(3), partition(&h, i, 3, true)))).await;
    eventually("the new partitions to re-apply history", || async {
        all_rebuilt(&h, 3).await.then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        h.stream_messages("EVT_WATCHER").await,
        12,
        "re-applying history published nothing again"
    );
    // What comes after the switch is reacted to.
    h.bus.publish(&thing("t-new", 99)).await.expect("published");
    eventually("a new thing to be reacted to", || async {
        (h.stream_messages("EVT_WATCHER").await == 13).then_some(())
    })
    .await;
    for running in new {
        running.shutdown().await.expect("stops");
    }
    owner.shutdown().await.expect("stops");
}
