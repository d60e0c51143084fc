//! Service calls to a component run as partitions, on a real server: callers use the public
//! subject and never learn the count; a request about one key is answered by the partition
//! that owns it whichever receives it, a gathered query by all, and a command that creates a
//! key creates it where every later call about it lands.

use bytes::Bytes;
use mandate::partition::{key_like, slot_of};
use mandate::{Component, Context, Key, Operation, Options, ServiceError, View};
use serde::{Deserialize, Serialize};

use crate::common::Harness;

const THING: Key = Key {
    entity: "thing",
    field: "thing_id",
};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Put {
    pub thing_id: String,
    pub n: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThingId {
    pub thing_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Everything {}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Create {
    pub idempotency_key: String,
}

struct PutThing;
impl Operation for PutThing {
    const OWNER: &'static str = "ledger";
    const NAME: &'static str = "put";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(THING);
    type Request = Put;
    type Response = u32;
}

struct GetThing;
impl Operation for GetThing {
    const OWNER: &'static str = "ledger";
    const NAME: &'static str = "get";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(THING);
    type Request = ThingId;
    type Response = Option<u32>;
}

struct ListThings;
impl Operation for ListThings {
    const OWNER: &'static str = "ledger";
    const NAME: &'static str = "list";
    const VERSION: u32 = 1;
    type Request = Everything;
    type Response = Vec<String>;
}

struct CreateThing;
impl Operation for CreateThing {
    const OWNER: &'static str = "ledger";
    const NAME: &'static str = "create";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(Key {
        entity: "thing",
        field: "idempotency_key",
    });
    type Request = Create;
    type Response = String;
}

fn ledger() -> Component {
    Component::new("ledger")
        .partitioned_by("thing", 3)
        .command::<PutThing>(|ctx: &mut Context<'_>, put: Put| {
            ctx.put(&format!("thing/{}", put.thing_id), &put.n)?;
            Ok(put.n)
        })
        .query::<GetThing>(|view: &View, id: ThingId| Ok(view.get(&format!("thing/{}", id.thing_id))?))
        .query::<ListThings>(|view: &View, _: Everything| {
            Ok(view.scan::<u32>("thing/")?.into_iter().map(|(key, _)| key).collect())
        })
        .gathered::<ListThings>(|_, parts| {
            let mut all: Vec<String> = parts.into_iter().flatten().collect();
            all.sort();
            all
        })
        .command::<CreateThing>(
            |ctx: &mut Context<'_>, create: Create| -> Result<String, ServiceError> {
                let id = key_like(&create.idempotency_key);
                ctx.put(&format!("thing/{id}"), &0u32)?;
                Ok(id)
            },
        )
}

fn partition(h: &Harness, index: u32, count: u32) -> Options {
    let mut options = h.options();
    options.partitions = count;
    options.partition = index;
    options
}

#[tokio::test]
async fn a_call_about_one_key_is_answered_by_its_owner_whichever_partition_receives_it() {
    let h = Harness::new(&[]).await;
    let mut running = Vec::new();
    for index in 0..3 {
        running.push(h.start_with(ledger(), partition(&h, index, 3)).await);
    }
    let keys: Vec<String> = (0..30).map(|i| format!("k-{i}")).collect();
    for (n, key) in keys.iter().enumerate() {
        let put = Put {
            thing_id: key.clone(),
            n: n as u32,
        };
        assert_eq!(h.bus.call::<PutThing>(&put).await.expect("put"), n as u32);
    }
    for (n, key) in keys.iter().enumerate() {
        let got = h
            .bus
            .call::<GetThing>(&ThingId { thing_id: key.clone() })
            .await
            .expect("get");
        assert_eq!(got, Some(n as u32), "{key}: read back through the public subject");
    }
    // Each write is in its owner's store alone: asked on its own subject, a partition knows
    // exactly the keys it owns.
    for index in 0..3u32 {
        let subject = format!("svc.ledger.p{index}of3.get.v1");
        for key in &keys {
            let body = rmp_serde::to_vec_named(&ThingId { thing_id: key.clone() }).expect("encodes");
            let reply = h.bus.request(&subject, Bytes::from(body)).await.expect("answered");
            let found: Option<u32> = rmp_serde::from_slice(&reply).expect("decodes");
            assert_eq!(found.is_some(), slot_of(key) % 3 == index, "partition {index}, {key}");
        }
    }
    // A gathered query: every partition's part, merged.
    let mut expected: Vec<String> = keys.iter().map(|k| format!("thing/{k}")).collect();
    expected.sort();
    assert_eq!(h.bus.call::<ListThings>(&Everything {}).await.expect("list"), expected);

    // Creating a key: routed by the idempotency key, the new id in its slot, the same id
    // again on a retry, and found by later calls about it.
    let create = Create {
        idempotency_key: "idem-1".into(),
    };
    let id = h.bus.call::<CreateThing>(&create).await.expect("created");
    assert_eq!(
        slot_of(&id),
        slot_of("idem-1"),
        "the new key is in the slot of the one that routed it"
    );
    assert_eq!(
        h.bus.call::<CreateThing>(&create).await.expect("again"),
        id,
        "deterministic"
    );
    let got = h
        .bus
        .call::<GetThing>(&ThingId { thing_id: id.clone() })
        .await
        .expect("get");
    assert_eq!(got, Some(0), "found where it was created");
    for r in running {
        r.shutdown().await.expect("clean shutdown");
    }
}
