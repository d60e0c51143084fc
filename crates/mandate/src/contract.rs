//! The traits a contract crate (such as `schemas`) implements: what an event or a service
//! operation *is* on the bus. The kit derives subjects, stream names and `ce-type` from them,
//! so a typo cannot send an event to the wrong place.

use serde::{Serialize, de::DeserializeOwned};

use crate::partition::{Key, KeyError, key_of};

/// A versioned event, published by exactly one owner on `evt.<owner>.<name>.v<version>`.
///
/// Within a major version only compatible changes are allowed (docs/design.md §5): add fields with
/// a default, never remove, rename or retype one. Anything else is a new `VERSION`.
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The component that owns (and alone publishes) this event, e.g. `orders`.
    const OWNER: &'static str;
    /// The event's name within its owner, e.g. `placed`.
    const NAME: &'static str;
    /// The major version, e.g. `1` for `evt.orders.placed.v1`.
    const VERSION: u32;
    /// The entity this event is about and the field holding its id, when it is about one
    /// (`order` / `order_id`): it is then published with its key as a last subject token and
    /// partitions of a subscriber receive it by key. `None`: every partition receives it.
    const KEY: Option<Key> = None;

    /// The subject of its type: `evt.<owner>.<name>.v<version>`. A keyed event travels on
    /// this plus `.<key>` ([`publish_subject`](Event::publish_subject)).
    fn subject() -> String {
        format!("evt.{}.{}.v{}", Self::OWNER, Self::NAME, Self::VERSION)
    }

    /// The subject one encoded event is published on: [`subject`](Event::subject), with
    /// `.<key>` when the event declares a [`KEY`](Event::KEY). A key that cannot be a subject
    /// token is refused.
    fn publish_subject(body: &[u8]) -> Result<String, KeyError> {
        match &Self::KEY {
            None => Ok(Self::subject()),
            Some(key) => Ok(format!("{}.{}", Self::subject(), key_of(body, key)?)),
        }
    }

    /// The CloudEvents type: `<owner>.<name>.v<version>`.
    fn ce_type() -> String {
        format!("{}.{}.v{}", Self::OWNER, Self::NAME, Self::VERSION)
    }
}

/// A versioned request/reply operation served by one owner on `svc.<owner>.<name>.v<version>`.
pub trait Operation: Send + Sync + 'static {
    /// The component that serves it, e.g. `orders`.
    const OWNER: &'static str;
    /// The operation's name within its owner, e.g. `place`.
    const NAME: &'static str;
    /// The major version.
    const VERSION: u32;
    /// The entity the request is about and its field holding the key, when it is about one:
    /// a component running as partitions answers it in the partition that owns the key,
    /// whichever partition receives it. A command that creates the entity names the field
    /// that decides where it is created (the idempotency key), and the command picks the new
    /// id with [`key_like`](crate::partition::key_like).
    const KEY: Option<Key> = None;
    /// What the caller sends.
    type Request: Serialize + DeserializeOwned + Send + Sync + 'static;
    /// What the service answers on success.
    type Response: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// The subject it is served on: `svc.<owner>.<name>.v<version>`.
    fn subject() -> String {
        format!("svc.{}.{}.v{}", Self::OWNER, Self::NAME, Self::VERSION)
    }

    /// `<owner>.<name>.v<version>`, the name used in logs, manifests and `ce-type`.
    fn qualified_name() -> String {
        format!("{}.{}.v{}", Self::OWNER, Self::NAME, Self::VERSION)
    }
}

/// The JetStream stream that holds an owner's events: `EVT_<OWNER>`.
pub fn stream_name(owner: &str) -> String {
    format!("EVT_{}", owner.to_uppercase())
}

/// The dead-letter subject of a component: `dlq.<component>`.
pub fn dead_letter_subject(component: &str) -> String {
    format!("dlq.{component}")
}

/// The name of the stream that captures every dead letter (`dlq.>`).
pub const DEAD_LETTER_STREAM: &str = "DLQ";

/// Component names become subject tokens, stream names, consumer names and store folders,
/// so they are restricted to lower-case ASCII letters, digits and dashes.
pub fn validate_component_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if first_ok && rest_ok && !name.ends_with('-') {
        Ok(())
    } else {
        Err(format!(
            "invalid component name {name:?}: use lower-case letters, digits and dashes, starting with a letter (e.g. \"order-history\")"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_names_must_be_subject_safe() {
        assert!(validate_component_name("orders").is_ok());
        assert!(validate_component_name("order-history2").is_ok());
        for bad in ["", "Orders", "2orders", "orders.v1", "orders-", "a b", "a>"] {
            assert!(validate_component_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn stream_names_are_upper_case() {
        assert_eq!(stream_name("orders"), "EVT_ORDERS");
        assert_eq!(stream_name("order-history"), "EVT_ORDER-HISTORY");
    }
}
