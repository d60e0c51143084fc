//! A link of the message chain (`policies.rs`): in a partition, pass over an event of a key
//! another partition owns. The server sorts keyed events stored with their slot by the
//! consumer's filters; the rest — the unkeyed form from before keys, and keyed events a
//! stream without the slot transform stored — reach every partition and are sorted here,
//! by the same slot (`Seat::owner_of`).

use super::*;

impl Consumer {
    /// True when `delivery` is an event split by this partition's key that another partition
    /// owns: the position moves past it, and nothing else happens to it here.
    pub(super) fn owned_elsewhere(&self, delivery: &Delivery<'_>) -> bool {
        let Some(seat) = self.shared.seat() else {
            return false;
        };
        let subject = delivery.message.subject.as_str();
        let Some(subscription) = self.handlers.get(crate::partition::event_subject(subject)) else {
            return false;
        };
        let Some(key) = subscription.key.filter(|_| seat.splits(subscription.key)) else {
            return false;
        };
        let owner = seat.owner_of(subject, &delivery.message.payload, &key);
        if owner == seat.index {
            return false;
        }
        tracing::trace!(subject, owner, "another partition's key; passing over it");
        true
    }
}
