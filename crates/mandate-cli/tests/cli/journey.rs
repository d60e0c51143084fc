//! `mandate journey`: one order's events across streams and the dead letter it caused, in
//! time order, with what caused each — from a chain of real kit components.

use mandate::{Component, DEAD_LETTER_STREAM, Event, Key};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::{Env, eventually};

const ORDER: Key = Key {
    entity: "order",
    field: "order_id",
};

/// `evt.shop.placed.v1.<order>`: published from outside (as a service call's event would be).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Placed {
    order_id: String,
}

impl Event for Placed {
    const OWNER: &'static str = "shop";
    const NAME: &'static str = "placed";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(ORDER);
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Packed {
    order_id: String,
}

impl Event for Packed {
    const OWNER: &'static str = "packer";
    const NAME: &'static str = "packed";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(ORDER);
}

/// Unkeyed: found by its correlation id only.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Audited {
    note: String,
}

impl Event for Audited {
    const OWNER: &'static str = "packer";
    const NAME: &'static str = "audited";
    const VERSION: u32 = 1;
}

/// The same event as a reader that cannot read it: its note must be a number.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AuditedStrictly {
    note: u32,
}

impl Event for AuditedStrictly {
    const OWNER: &'static str = "packer";
    const NAME: &'static str = "audited";
    const VERSION: u32 = 1;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Completed {
    order_id: String,
}

impl Event for Completed {
    const OWNER: &'static str = "closer";
    const NAME: &'static str = "completed";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(ORDER);
}

fn packer() -> Component {
    Component::new("packer")
        .publishes::<Packed>()
        .publishes::<Audited>()
        .on::<Placed>(|ctx, placed: Placed| {
            ctx.emit(&Packed {
                order_id: placed.order_id.clone(),
            })?;
            ctx.emit(&Audited {
                note: format!("packed {}", placed.order_id),
            })
        })
}

fn closer() -> Component {
    Component::new("closer")
        .publishes::<Completed>()
        .on::<Packed>(|ctx, packed: Packed| {
            ctx.emit(&Completed {
                order_id: packed.order_id,
            })
        })
}

fn picky() -> Component {
    Component::new("picky").on::<AuditedStrictly>(|_, _| Ok(()))
}

fn types(steps: &[Value]) -> Vec<String> {
    steps
        .iter()
        .map(|s| match s["dead_letter"]["component"].as_str() {
            Some(by) => format!("dead letter by {by}"),
            None => s["type"].as_str().unwrap_or("?").to_owned(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orders_journey_lists_its_events_and_dead_letter_in_order_with_their_causes() {
    let env = Env::new().await;
    env.create_stream("shop", std::time::Duration::from_secs(120)).await;
    let running = [
        env.start(packer()).await,
        env.start(closer()).await,
        env.start(picky()).await,
    ];
    let placed = env
        .bus
        .publish(&Placed { order_id: "o-1".into() })
        .await
        .expect("placed");
    env.bus
        .publish(&Placed { order_id: "o-2".into() })
        .await
        .expect("placed");
    eventually("both orders completed and their audits dead-lettered", || async {
        (env.stream_messages("EVT_CLOSER").await == 2 && env.stream_messages(DEAD_LETTER_STREAM).await == 2)
            .then_some(())
    })
    .await;

    let journey = env.mandate(&["journey", "o-1", "--json"]).await.ok().json();
    let steps = journey["steps"].as_array().expect("steps").clone();
    let types = types(&steps);
    let at = |t: &str| {
        types
            .iter()
            .position(|x| x == t)
            .unwrap_or_else(|| panic!("{t} missing: {types:?}"))
    };
    assert_eq!(steps.len(), 5, "{types:?}");
    assert_eq!(at("shop.placed.v1"), 0, "{types:?}");
    assert!(at("packer.packed.v1") < at("closer.completed.v1"), "{types:?}");
    assert!(at("packer.audited.v1") < at("dead letter by picky"), "{types:?}");
    // Every step belongs to o-1's chain, none to o-2's.
    assert!(
        steps
            .iter()
            .all(|s| s["correlation_id"] == placed.correlation_id.as_str()),
        "{steps:?}"
    );
    // Causes: the first came from outside the bus's record; each handler's event names its cause.
    let placed_step = &steps[at("shop.placed.v1")];
    let packed_step = &steps[at("packer.packed.v1")];
    assert_eq!(placed_step["cause"], "request");
    assert_eq!(placed_step["source"], "shop");
    assert!(placed_step["gap_ms"].is_null());
    assert_eq!(packed_step["cause"], "event");
    assert_eq!(packed_step["cause_id"], placed.id.as_str());
    assert_eq!(packed_step["cause_type"], "shop.placed.v1");
    assert_eq!(packed_step["id"].as_str().map(str::len), Some(36));
    assert_eq!(packed_step["type"], "packer.packed.v1");
    let completed = &steps[at("closer.completed.v1")];
    assert_eq!(completed["cause"], "event");
    assert_eq!(completed["cause_id"], packed_step["id"]);
    assert_eq!(completed["type"], "closer.completed.v1");
    assert_eq!(completed["stream"], "EVT_CLOSER");
    let letter = &steps[at("dead letter by picky")];
    assert_eq!(letter["cause"], "dead_letter_of");
    assert_eq!(letter["id"], steps[at("packer.audited.v1")]["id"]);
    assert_eq!(letter["dead_letter"]["kind"], "undecodable");
    assert_eq!(letter["subject"], "evt.packer.audited.v1");
    assert!(steps[1..].iter().all(|s| s["gap_ms"].is_u64()), "{steps:?}");
    assert!(journey["not_visible"].as_array().is_some_and(|n| !n.is_empty()));

    // By its correlation id, the same journey (found by scanning headers).
    let by_correlation = env
        .mandate(&["journey", &placed.correlation_id, "--json"])
        .await
        .ok()
        .json();
    assert_eq!(by_correlation["steps"].as_array().map(Vec::len), Some(5));
    assert_eq!(by_correlation["keyed_streams"].as_array().map(Vec::len), Some(3));

    let text = env.mandate(&["journey", "o-1"]).await.ok().stdout;
    assert!(
        text.contains("closer.completed.v1") && text.contains("DEAD LETTER by picky") && text.contains("Not visible"),
        "{text}"
    );
    let nothing = env.mandate(&["journey", "o-404"]).await.ok().stdout;
    assert!(nothing.contains("Nothing on the bus names o-404"), "{nothing}");
    for component in running {
        component.shutdown().await.expect("clean shutdown");
    }
}
