//! A component run as partitions under the permissions `mandate bus-config` generates from
//! its manifest (`"partitions": {"by": "thing", "count": 3}`): the three share its one user,
//! each seats its own durable consumers (`ledger-p<P>of3`), a call about one key received by
//! any partition is forwarded to the key's owner, which answers the caller, and a list is
//! gathered from all — with no permission violation.

use mandate::{Bus, Component, Context, Event, Key, Operation, Running, View};
use serde::{Deserialize, Serialize};

use crate::common::{Broker, eventually};

const THING: Key = Key {
    entity: "thing",
    field: "thing_id",
};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThingId {
    pub thing_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Everything {}

/// `evt.ledger.noted.v1.<thing_id>`, consumed by the partition owning the thing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Noted {
    pub thing_id: String,
}

impl Event for Noted {
    const OWNER: &'static str = "ledger";
    const NAME: &'static str = "noted";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(THING);
}

struct Note;
impl Operation for Note {
    const OWNER: &'static str = "ledger";
    const NAME: &'static str = "note";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(THING);
    type Request = ThingId;
    type Response = Everything;
}

struct Count;
impl Operation for Count {
    const OWNER: &'static str = "ledger";
    const NAME: &'static str = "count";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(THING);
    type Request = ThingId;
    type Response = u64;
}

struct List;
impl Operation for List {
    const OWNER: &'static str = "ledger";
    const NAME: &'static str = "list";
    const VERSION: u32 = 1;
    type Request = Everything;
    type Response = Vec<String>;
}

fn ledger() -> Component {
    Component::new("ledger")
        .partitioned_by("thing", 3)
        .publishes::<Noted>()
        .command::<Note>(|ctx: &mut Context<'_>, id: ThingId| {
            ctx.emit(&Noted { thing_id: id.thing_id })
                .map_err(|e| mandate::ServiceError::internal(e.to_string()))?;
            Ok(Everything {})
        })
        .on::<Noted>(|ctx: &mut Context<'_>, noted: Noted| {
            let key = format!("count/{}", noted.thing_id);
            let seen: u64 = ctx.get(&key)?.unwrap_or_default();
            ctx.put(&key, &(seen + 1))?;
            Ok(())
        })
        .query::<Count>(|view: &View, id: ThingId| Ok(view.get(&format!("count/{}", id.thing_id))?.unwrap_or_default()))
        .query::<List>(|view: &View, _: Everything| {
            Ok(view.scan::<u64>("count/")?.into_iter().map(|(key, _)| key).collect())
        })
        .gathered::<List>(|_, parts| {
            let mut all: Vec<String> = parts.into_iter().flatten().collect();
            all.sort();
            all
        })
}

/// The bus client calling it.
fn desk() -> serde_json::Value {
    serde_json::json!({
        "name": "desk",
        "calls": ["ledger.note.v1", "ledger.count.v1", "ledger.list.v1"],
    })
}

async fn partition(broker: &Broker, index: u32) -> Running {
    partition_of(broker, index, 3).await
}

async fn partition_of(broker: &Broker, index: u32, count: u32) -> Running {
    let mut options = broker.options("ledger");
    options.partitions = count;
    options.partition = index;
    ledger()
        .start(options)
        .await
        .unwrap_or_else(|e| panic!("partition {index} does not start: {e}\n{:#?}", broker.violations()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_forward_and_gather_under_their_shared_generated_user_without_a_violation() {
    let broker = Broker::start(&[ledger().manifest()], &[desk()]);
    let mut running = Vec::new();
    for index in 0..3 {
        running.push(partition(&broker, index).await);
    }
    let desk = Bus::connect(&broker.connection("desk"), "desk")
        .await
        .expect("desk connects");
    // Twelve things: whichever partition the queue group hands a call to, most calls are
    // about a key another partition owns, and are forwarded.
    let things: Vec<String> = (0..12).map(|i| format!("t-{i}")).collect();
    for thing in &things {
        desk.call::<Note>(&ThingId {
            thing_id: thing.clone(),
        })
        .await
        .unwrap_or_else(|e| panic!("note {thing}: {e}; violations {:#?}", broker.violations()));
    }
    for thing in &things {
        eventually(&format!("{thing} counted by its owner"), || async {
            let id = ThingId {
                thing_id: thing.clone(),
            };
            (desk.call::<Count>(&id).await.ok()? == 1).then_some(())
        })
        .await;
    }
    let mut expected: Vec<String> = things.iter().map(|t| format!("count/{t}")).collect();
    expected.sort();
    let listed = desk.call::<List>(&Everything {}).await.expect("gathered from all");
    assert_eq!(listed, expected);

    assert_eq!(broker.violations(), Vec::<String>::new());
    for r in running {
        r.shutdown().await.expect("stops");
    }
    assert_eq!(broker.violations(), Vec::<String>::new());
}

/// While the count changes from 2 to 3 (the manifest's `"moving_from": 2`), the old and the
/// new partitions run side by side under the one generated user: each seats its durable
/// consumers and serves, with no permission violation (docs/evolution.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_and_new_partitions_run_side_by_side_while_the_count_changes() {
    let broker = Broker::start(&[ledger().partitions_moving_from(2).manifest()], &[desk()]);
    let mut running = Vec::new();
    for (index, count) in [(0, 2), (1, 2), (0, 3), (1, 3), (2, 3)] {
        running.push(partition_of(&broker, index, count).await);
    }
    let desk = Bus::connect(&broker.connection("desk"), "desk")
        .await
        .expect("desk connects");
    for i in 0..6 {
        desk.call::<Note>(&ThingId {
            thing_id: format!("t-{i}"),
        })
        .await
        .unwrap_or_else(|e| panic!("note t-{i}: {e}; violations {:#?}", broker.violations()));
    }
    assert_eq!(broker.violations(), Vec::<String>::new());
    for r in running {
        r.shutdown().await.expect("stops");
    }
    assert_eq!(broker.violations(), Vec::<String>::new());
}
