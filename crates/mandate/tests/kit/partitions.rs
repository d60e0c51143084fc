//! A component run as partitions on a real server: each partition receives exactly the
//! events of the keys it owns, in stream order per key — also those published before keys —
//! and every event not split by its key; the server does the sorting of keyed events.

use std::sync::{Arc, Mutex};

use mandate::envelope::Meta;
use mandate::partition::slot_of;
use mandate::{Component, Context, Error, Event, HandlerResult, Options};

use crate::common::{Harness, eventually};
use crate::keys::{Plain, Thing, thing};

/// What one partition saw: keyed events as (key, n), and the `n` of every broadcast one.
#[derive(Debug, Default)]
struct Seen {
    things: Vec<(String, u32)>,
    plains: Vec<u32>,
}

type Shared = Arc<Mutex<Seen>>;

fn counter(seen: &Shared) -> Component {
    let things = Arc::clone(seen);
    let plains = Arc::clone(seen);
    Component::new("counter")
        .partitioned_by("thing", 3)
        .on::<Thing>(move |_: &mut Context<'_>, thing: Thing| -> HandlerResult {
            things.lock().expect("lock").things.push((thing.thing_id, thing.n));
            Ok(())
        })
        .on::<Plain>(move |_: &mut Context<'_>, plain: Plain| -> HandlerResult {
            plains.lock().expect("lock").plains.push(plain.n);
            Ok(())
        })
}

fn partition(h: &Harness, index: u32, count: u32) -> Options {
    let mut options = h.options();
    options.partitions = count;
    options.partition = index;
    options
}

#[tokio::test]
async fn three_partitions_each_get_exactly_their_keys_in_order_and_every_broadcast() {
    let h = Harness::new(&[]).await;
    let owner = h
        .start(Component::new("keys").publishes::<Thing>().publishes::<Plain>())
        .await;
    // History from before keys: the unkeyed form, which only the kit can sort by key.
    let mut published: Vec<(String, u32)> = Vec::new();
    for n in 0..30 {
        let key = format!("k-{}", n % 10);
        let meta = Meta::originate("keys", Thing::ce_type());
        let body = rmp_serde::to_vec_named(&thing(&key, n)).expect("encodes");
        h.bus
            .publish_raw(&Thing::subject(), meta.to_headers(), body.into())
            .await
            .expect("published");
        published.push((key, n));
    }
    // Then keyed events, with broadcasts in between.
    for n in 30..150 {
        let key = format!("k-{}", n % 10);
        h.bus.publish(&thing(&key, n)).await.expect("published");
        published.push((key, n));
        if n % 30 == 0 {
            h.bus.publish(&Plain { n }).await.expect("published");
        }
    }
    let plains = vec![30, 60, 90, 120];

    let seen: Vec<Shared> = (0..3).map(|_| Shared::default()).collect();
    let mut running = Vec::new();
    for (index, seen) in seen.iter().enumerate() {
        running.push(h.start_with(counter(seen), partition(&h, index as u32, 3)).await);
    }
    let total = published.len() + 3 * plains.len();
    eventually("every partition to get its events", || async {
        let got: usize = seen
            .iter()
            .map(|s| {
                let s = s.lock().expect("lock");
                s.things.len() + s.plains.len()
            })
            .sum();
        (got >= total).then_some(())
    })
    .await;

    let mut all: Vec<(String, u32)> = Vec::new();
    for (index, seen) in seen.iter().enumerate() {
        let seen = seen.lock().expect("lock");
        let expected: Vec<(String, u32)> = published
            .iter()
            .filter(|(key, _)| slot_of(key) % 3 == index as u32)
            .cloned()
            .collect();
        assert_eq!(
            seen.things, expected,
            "partition {index}: exactly its keys, in stream order"
        );
        assert_eq!(seen.plains, plains, "partition {index}: every broadcast");
        all.extend(seen.things.iter().cloned());
    }
    all.sort_by_key(|(_, n)| *n);
    assert_eq!(all, published, "every keyed event exactly once overall");

    // The server did the sorting of keyed events stored with their slot: a partition was
    // delivered the history from before keys, the broadcasts and only its own keyed events.
    let stream = h.bus.jetstream().get_stream("EVT_KEYS").await.expect("stream");
    for index in 0..3u32 {
        let info = stream
            .consumer_info(format!("counter-p{index}of3"))
            .await
            .expect("a durable consumer per partition");
        let own_keyed = published[30..]
            .iter()
            .filter(|(key, _)| slot_of(key) % 3 == index)
            .count();
        assert_eq!(
            info.delivered.consumer_sequence as usize,
            30 + own_keyed + plains.len(),
            "partition {index}: delivered by the server"
        );
        let status = h
            .bus
            .status(&format!("counter.p{index}of3"))
            .await
            .expect("its own status");
        assert_eq!(status.consumers[0].consumer, format!("counter-p{index}of3"));
    }
    for r in running {
        r.shutdown().await.expect("clean shutdown");
    }
    owner.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn partitions_need_a_declared_entity_and_a_seat_within_the_count() {
    let h = Harness::new(&[]).await;
    let undeclared = Component::new("counter")
        .on::<Plain>(|_: &mut Context<'_>, _: Plain| -> HandlerResult { Ok(()) })
        .start(partition(&h, 0, 2))
        .await
        .expect_err("refused");
    assert!(
        matches!(&undeclared, Error::Config(m) if m.contains("partitioned_by")),
        "{undeclared}"
    );
    let outside = counter(&Shared::default())
        .start(partition(&h, 3, 3))
        .await
        .expect_err("refused");
    assert!(
        matches!(&outside, Error::Config(m) if m.contains("0 to 2")),
        "{outside}"
    );
}
