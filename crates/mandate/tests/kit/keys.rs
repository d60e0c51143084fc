//! Keyed events on a real server: published with their key, stored by the owner's stream with
//! the slot the kit computes, unkeyed events untouched, and readers of the old form served.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::StreamExt;
use mandate::envelope::{Meta, NATS_MSG_ID};
use mandate::partition::{slot_of, stream_transform};
use mandate::{Component, Context, Error, Event, HandlerResult, Key, KeyError};
use serde::{Deserialize, Serialize};

use crate::common::Harness;

/// A keyed event of a test owner, `keys`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thing {
    pub thing_id: String,
    pub n: u32,
}

impl Event for Thing {
    const OWNER: &'static str = "keys";
    const NAME: &'static str = "thing";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(Key {
        entity: "thing",
        field: "thing_id",
    });
}

/// The same owner's event about no key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plain {
    pub n: u32,
}

impl Event for Plain {
    const OWNER: &'static str = "keys";
    const NAME: &'static str = "plain";
    const VERSION: u32 = 1;
}

/// The owner: starting it ensures `EVT_KEYS` as the kit configures it.
fn owner() -> Component {
    Component::new("keys").publishes::<Thing>().publishes::<Plain>()
}

pub fn thing(id: &str, n: u32) -> Thing {
    Thing {
        thing_id: id.to_owned(),
        n,
    }
}

/// What a reader saw: (key, n) in arrival order.
type Seen = Arc<Mutex<Vec<(String, u32)>>>;

fn reader(name: &str, seen: &Seen) -> Component {
    let things = Arc::clone(seen);
    let plains = Arc::clone(seen);
    Component::new(name)
        .on::<Thing>(move |_: &mut Context<'_>, thing: Thing| -> HandlerResult {
            things.lock().expect("lock").push((thing.thing_id, thing.n));
            Ok(())
        })
        .on::<Plain>(move |_: &mut Context<'_>, plain: Plain| -> HandlerResult {
            plains.lock().expect("lock").push((String::new(), plain.n));
            Ok(())
        })
}

#[tokio::test]
async fn a_keyed_event_is_stored_with_the_slot_the_kit_computes_and_an_unkeyed_one_as_published() {
    let h = Harness::new(&[]).await;
    let running = h.start(owner()).await;
    let keys: Vec<String> = (0..120).map(|i| format!("k-{i}")).collect();
    for (i, key) in keys.iter().enumerate() {
        h.bus.publish(&thing(key, i as u32)).await.expect("published");
    }
    h.bus.publish(&Plain { n: 7 }).await.expect("published");

    let stored = h.read_stream("EVT_KEYS").await;
    assert_eq!(stored.len(), keys.len() + 1);
    for (message, key) in stored.iter().zip(&keys) {
        assert_eq!(
            message.subject.as_str(),
            format!("evt.keys.thing.v1.{}.{key}", slot_of(key)),
            "the server's slot is the kit's"
        );
    }
    let slots: BTreeSet<u32> = keys.iter().map(|k| slot_of(k)).collect();
    assert_eq!(slots.len(), mandate::SLOTS as usize, "120 keys cover every slot");
    assert_eq!(
        stored.last().expect("one").subject.as_str(),
        "evt.keys.plain.v1",
        "unkeyed: untouched"
    );
    running.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn the_duplicate_window_still_catches_a_keyed_event_sent_twice() {
    let h = Harness::new(&[]).await;
    let running = h.start(owner()).await;
    let meta = Meta::originate("keys", Thing::ce_type());
    let body = rmp_serde::to_vec_named(&thing("k-1", 1)).expect("encodes");
    for _ in 0..2 {
        h.bus
            .publish_raw("evt.keys.thing.v1.k-1", meta.to_headers(), body.clone().into())
            .await
            .expect("published");
    }
    assert_eq!(h.stream_messages("EVT_KEYS").await, 1, "one message per {NATS_MSG_ID}");
    running.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_key_that_cannot_be_a_subject_token_is_refused_with_a_typed_error() {
    let h = Harness::new(&[]).await;
    let running = h.start(owner()).await;
    let err = h.bus.publish(&thing("a.b", 1)).await.expect_err("refused");
    assert!(matches!(err, Error::Key(KeyError::NotAToken { .. })), "{err:?}");
    assert_eq!(h.stream_messages("EVT_KEYS").await, 0, "nothing published");
    running.shutdown().await.expect("clean shutdown");
}

/// A stream from before partitions: the owner adds the transform in place at its start; the
/// events stored before keep their subjects; an old reader filtering the old subject still
/// reads them, and a kit reader reads old and new alike.
#[tokio::test]
async fn a_stream_from_before_keys_is_updated_in_place_and_both_forms_are_read() {
    let h = Harness::new(&[]).await;
    h.bus
        .jetstream()
        .create_stream(async_nats::jetstream::stream::Config {
            name: "EVT_KEYS".into(),
            subjects: vec!["evt.keys.>".into()],
            ..Default::default()
        })
        .await
        .expect("created");
    // Published as a publisher from before keys did: on the event's subject, no key.
    let old = rmp_serde::to_vec_named(&thing("k-old", 1)).expect("encodes");
    let meta = Meta::originate("keys", Thing::ce_type());
    h.bus
        .publish_raw("evt.keys.thing.v1", meta.to_headers(), old.into())
        .await
        .expect("published");
    let old_reader = h
        .bus
        .jetstream()
        .get_stream("EVT_KEYS")
        .await
        .expect("stream")
        .create_consumer(pull::Config {
            durable_name: Some("old-reader".into()),
            filter_subject: "evt.keys.thing.v1".into(),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .expect("old consumer");

    let running = h.start(owner()).await;
    let info = h
        .bus
        .jetstream()
        .get_stream("EVT_KEYS")
        .await
        .expect("stream")
        .cached_info()
        .clone();
    let (source, destination) = stream_transform("keys");
    let transform = info.config.subject_transform.expect("the transform was added");
    assert_eq!((transform.source, transform.destination), (source, destination));
    assert_eq!(info.state.messages, 1, "the history stays");
    h.bus.publish(&thing("k-new", 2)).await.expect("published");

    let mut messages = old_reader.fetch().max_messages(10).messages().await.expect("fetch");
    let first = messages.next().await.expect("one").expect("message");
    assert_eq!(
        first.subject.as_str(),
        "evt.keys.thing.v1",
        "the old reader still reads the pre-move event"
    );

    let seen = Seen::default();
    let kit_reader = h.start(reader("reader", &seen)).await;
    h.wait_applied("reader", 2).await;
    assert_eq!(
        *seen.lock().expect("lock"),
        vec![("k-old".to_owned(), 1), ("k-new".to_owned(), 2)],
        "a kit reader reads the old form and the keyed form"
    );
    kit_reader.shutdown().await.expect("clean shutdown");
    running.shutdown().await.expect("clean shutdown");
}
