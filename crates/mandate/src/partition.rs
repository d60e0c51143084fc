//! Partition keys (docs/design.md, "Partitions"): an event about one entity (an order) names
//! the field that holds its key, the kit publishes it on `evt.<owner>.<event>.v<N>.<key>`,
//! and the owner's stream stamps the key's slot in front of the key with the server's own
//! `partition()` (`evt.<owner>.<event>.v<N>.<slot>.<key>`). A subscriber partition reads the
//! slots it owns; routing is the server's, not ours.
//!
//! The kit computes the same slot as the server (FNV-1a 32 of the key token, modulo
//! [`SLOTS`]; nats-server `server/subject_transform.go`, `getHashPartition`), so that a
//! service can route a request to the partition that owns its key; a test against a real
//! server proves the two agree.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

/// The number of slots every owner's stream stamps keyed events with. Fixed for good: the
/// slot is stored in the subject of every keyed event, so changing it would split one key's
/// history across two slots. A subscriber runs as N partitions with N dividing nothing in
/// particular: partition `p` of `N` owns the slots `s` with `s % N == p` (N ≤ `SLOTS`).
pub const SLOTS: u32 = 12;

/// What an event's partition key is: the entity it is about and the body field that holds
/// the entity's id (`order` / `order_id`). Declared by the contract (`Event::KEY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Key {
    /// The entity, e.g. `order`: partitions of a component are partitions of one entity.
    pub entity: &'static str,
    /// The body field holding the key, e.g. `order_id`.
    pub field: &'static str,
}

/// Why an event cannot be published on its keyed subject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the body has no field {field:?}, which holds its {entity} key")]
    Missing { entity: &'static str, field: &'static str },
    #[error("the {entity} key in field {field:?} is not a string or an integer")]
    NotScalar { entity: &'static str, field: &'static str },
    #[error("the {entity} key {value:?} in field {field:?} cannot be a subject token: {reason}")]
    NotAToken {
        entity: &'static str,
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("the body does not decode as a map: {0}")]
    Undecodable(String),
}

/// The slot of a key token: what `{{partition(SLOTS, ...)}}` stamps on its subject.
pub fn slot_of(token: &str) -> u32 {
    const OFFSET: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    let hash = token
        .bytes()
        .fold(OFFSET, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(PRIME));
    hash % SLOTS
}

/// Checks that `token` can stand as one subject token: not empty, and none of `.`, `*`, `>`,
/// white space or control characters (they would split the subject or make it a wildcard).
pub fn check_token(token: &str) -> Result<(), &'static str> {
    if token.is_empty() {
        return Err("it is empty");
    }
    if token.contains(['.', '*', '>']) {
        return Err("it contains '.', '*' or '>'");
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it contains white space or a control character");
    }
    Ok(())
}

/// The key of a MessagePack event body: the value of `key.field` at the top level, checked
/// to be a subject token.
pub fn key_of(body: &[u8], key: &Key) -> Result<String, KeyError> {
    let mut deserializer = rmp_serde::Deserializer::from_read_ref(body);
    let found = FieldSeed { field: key.field }
        .deserialize(&mut deserializer)
        .map_err(|e| KeyError::Undecodable(e.to_string()))?;
    let value = match found {
        Found::Missing => {
            return Err(KeyError::Missing {
                entity: key.entity,
                field: key.field,
            });
        }
        Found::NotScalar => {
            return Err(KeyError::NotScalar {
                entity: key.entity,
                field: key.field,
            });
        }
        Found::Value(value) => value,
    };
    check_token(&value).map_err(|reason| KeyError::NotAToken {
        entity: key.entity,
        field: key.field,
        value: value.clone(),
        reason,
    })?;
    Ok(value)
}

/// A new key in the same slot as `seed`, derived from it: a command that creates an entity
/// (placing an order) is routed by its idempotency key's slot, and gives the entity an id in
/// that slot, so every later event about it lands in the partition that created it — for any
/// count of partitions. Deterministic: a retry with the same seed gets the same key.
pub fn key_like(seed: &str) -> String {
    let slot = slot_of(seed);
    (0u32..)
        .map(|attempt| {
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("{seed}/{attempt}").as_bytes()).to_string()
        })
        .find(|key| slot_of(key) == slot)
        .unwrap_or_default()
}

/// The event subject a message travels under, without its key and slot: the first four
/// tokens (`evt.<owner>.<event>.v<N>`) of `evt.<owner>.<event>.v<N>[.<slot>].<key>`.
pub fn event_subject(subject: &str) -> &str {
    match subject.match_indices('.').nth(3) {
        Some((end, _)) => &subject[..end],
        None => subject,
    }
}

/// The slot a stored subject carries (`evt.<owner>.<event>.v<N>.<slot>.<key>`), if any.
pub fn stored_slot(subject: &str) -> Option<u32> {
    let mut tokens = subject.split('.').skip(4);
    let slot = tokens.next()?;
    tokens.next()?;
    slot.parse().ok()
}

/// The key a subject carries, published (`….v<N>.<key>`) or stored (`….v<N>.<slot>.<key>`).
pub fn subject_key(subject: &str) -> Option<&str> {
    let rest = subject.splitn(5, '.').nth(4)?;
    Some(rest.rsplit('.').next().unwrap_or(rest))
}

/// The stream's subject transform for `owner`: a keyed subject (five tokens) gets the slot
/// of its key inserted before the key; anything else is stored as published.
pub fn stream_transform(owner: &str) -> (String, String) {
    (
        format!("evt.{owner}.*.*.*"),
        format!("evt.{owner}.{{{{wildcard(1)}}}}.{{{{wildcard(2)}}}}.{{{{partition({SLOTS},3)}}}}.{{{{wildcard(3)}}}}"),
    )
}

/// Which partition of a component a process is: `index` of `count`, by the key of `entity`.
/// It owns the slots `s` with `s % count == index`: every key belongs to exactly one
/// partition, for any count up to [`SLOTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seat {
    pub entity: &'static str,
    pub index: u32,
    pub count: u32,
}

impl Seat {
    /// The seat `index` of `count` (`--partition`, `--partitions`), checked.
    pub fn new(entity: &'static str, index: u32, count: u32) -> Result<Seat, String> {
        if count == 0 || count > SLOTS {
            return Err(format!(
                "--partitions {count}: a component runs as 1 to {SLOTS} partitions (the slots of a key)"
            ));
        }
        if index >= count {
            return Err(format!(
                "--partition {index} of --partitions {count}: partitions are numbered 0 to {}",
                count - 1
            ));
        }
        Ok(Seat { entity, index, count })
    }

    /// `p<index>of<count>`: a partition's durable consumers, store folder and private
    /// service subjects carry it, so a new count starts from new ones (rebuilt from history).
    pub fn label(&self) -> String {
        format!("p{}of{}", self.index, self.count)
    }

    pub fn owns_slot(&self, slot: u32) -> bool {
        slot % self.count == self.index
    }

    /// The slots this partition owns.
    pub fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        (0..SLOTS).filter(|slot| self.owns_slot(*slot))
    }

    /// Whether events with `key` are split between the partitions (keyed by this entity);
    /// every other event reaches every partition.
    pub fn splits(&self, key: Option<Key>) -> bool {
        key.is_some_and(|key| key.entity == self.entity)
    }

    /// The partition (index) that owns an event keyed by `key`'s entity: by the slot its
    /// stored subject carries, else by the key in its subject, else in its body. One whose
    /// key cannot be read goes to partition 0, so that exactly one partition refuses it.
    pub fn owner_of(&self, subject: &str, body: &[u8], key: &Key) -> u32 {
        let slot = stored_slot(subject)
            .or_else(|| subject_key(subject).map(slot_of))
            .or_else(|| key_of(body, key).ok().map(|key| slot_of(&key)))
            .unwrap_or(0);
        slot % self.count
    }

    /// The consumer filter subjects for `subject` (`evt.<owner>.<event>.v<N>`): for an event
    /// split by key, the old unkeyed form and keyed ones stored without a slot (both sorted
    /// out by key in the kit) and the slots this partition owns (sorted out by the server);
    /// for any other event, both forms whole.
    pub fn filters(&self, subject: &str, key: Option<Key>) -> Vec<String> {
        if !self.splits(key) {
            return vec![subject.to_owned(), format!("{subject}.>")];
        }
        let mut filters = vec![subject.to_owned(), format!("{subject}.*")];
        filters.extend(self.slots().map(|slot| format!("{subject}.{slot}.*")));
        filters
    }
}

enum Found {
    Missing,
    NotScalar,
    Value(String),
}

/// Reads one field of a map and skips the rest, without decoding the body into its type.
struct FieldSeed {
    field: &'static str,
}

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Found;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Found, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed {
    type Value = Found;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a map with a field {:?}", self.field)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
        let mut found = Found::Missing;
        // Keys are read as strings; a value is kept only for the field asked for.
        while let Some(name) = map.next_key::<String>()? {
            if name == self.field && matches!(found, Found::Missing) {
                found = map.next_value::<Scalar>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// A key value: a string, or an integer written in decimal; anything else is not a key.
struct Scalar(Found);

impl<'de> de::Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Scalar, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar(Found::Value(v.to_owned())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar(Found::Value(v.to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar(Found::Value(v.to_string())))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Scalar, E> {
        Ok(Scalar(Found::NotScalar))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Scalar, E> {
        Ok(Scalar(Found::NotScalar))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar(Found::NotScalar))
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Scalar, E> {
        Ok(Scalar(Found::NotScalar))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar(Found::NotScalar))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar(Found::NotScalar))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: Key = Key {
        entity: "order",
        field: "order_id",
    };

    #[derive(serde::Serialize)]
    struct Body<T> {
        sku: &'static str,
        order_id: T,
    }

    #[test]
    fn the_key_is_read_from_its_field_whatever_else_the_body_holds() {
        let body = rmp_serde::to_vec_named(&Body {
            sku: "a",
            order_id: "o-1",
        })
        .expect("encodes");
        assert_eq!(key_of(&body, &ORDER).expect("reads"), "o-1");
        let body = rmp_serde::to_vec_named(&Body {
            sku: "a",
            order_id: 42u32,
        })
        .expect("encodes");
        assert_eq!(key_of(&body, &ORDER).expect("reads"), "42");
    }

    #[test]
    fn a_key_that_cannot_be_a_token_is_refused_with_a_reason() {
        for bad in ["", "a.b", "a*", ">", "a b", "a\nb"] {
            let body = rmp_serde::to_vec_named(&Body {
                sku: "a",
                order_id: bad,
            })
            .expect("encodes");
            assert!(
                matches!(key_of(&body, &ORDER), Err(KeyError::NotAToken { .. })),
                "{bad:?} accepted"
            );
        }
        let body = rmp_serde::to_vec_named(&Body {
            sku: "a",
            order_id: [1, 2],
        })
        .expect("encodes");
        assert!(matches!(key_of(&body, &ORDER), Err(KeyError::NotScalar { .. })));
        let body = rmp_serde::to_vec_named(&serde_json::json!({"sku": "a"})).expect("encodes");
        assert!(matches!(key_of(&body, &ORDER), Err(KeyError::Missing { .. })));
        assert!(matches!(key_of(b"\x01", &ORDER), Err(KeyError::Undecodable(_))));
    }

    #[test]
    fn the_slot_is_fnv1a_32_of_the_token_modulo_the_slots() {
        // FNV-1a 32 of "a" is 0xe40c292c, of "" the offset basis 0x811c9dc5.
        assert_eq!(slot_of("a"), 0xe40c_292c % SLOTS);
        assert_eq!(slot_of(""), 0x811c_9dc5 % SLOTS);
    }

    #[test]
    fn subjects_are_read_by_their_tokens() {
        assert_eq!(event_subject("evt.orders.placed.v1"), "evt.orders.placed.v1");
        assert_eq!(event_subject("evt.orders.placed.v1.o-1"), "evt.orders.placed.v1");
        assert_eq!(event_subject("evt.orders.placed.v1.3.o-1"), "evt.orders.placed.v1");
        assert_eq!(stored_slot("evt.orders.placed.v1.3.o-1"), Some(3));
        assert_eq!(stored_slot("evt.orders.placed.v1.o-1"), None);
        assert_eq!(stored_slot("evt.orders.placed.v1"), None);
        assert_eq!(subject_key("evt.orders.placed.v1.3.o-1"), Some("o-1"));
        assert_eq!(subject_key("evt.orders.placed.v1.o-1"), Some("o-1"));
        assert_eq!(subject_key("evt.orders.placed.v1"), None);
    }
}
