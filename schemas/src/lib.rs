//! The reference system's contract: every event and service type on the bus, one module per
//! owning component. Outsiders read the same contract as JSON Schema and AsyncAPI (generated
//! from these types) under `schemas/`.
//!
//! Rules (docs/design.md §5): bodies are MessagePack maps with named fields; within a major
//! version only add fields with a default; anything else is a new major version on a new
//! subject. Money is integer minor units; ids are ULID or UUIDv7 strings.

pub mod catalog;
pub mod inventory;
pub mod loyalty;
pub mod notifications;
pub mod orders;
pub mod paging;
pub mod payments;
pub mod registry;
pub mod rust_type;
pub mod shipping;

/// The partition key of every event about one order: its `order_id`. Partitions of a
/// component keyed by `order` receive these by order (docs/design.md, "Partitions").
pub const ORDER: mandate::Key = mandate::Key {
    entity: "order",
    field: "order_id",
};

#[cfg(test)]
mod tests {
    use super::orders::{OrderLine, OrderPlaced};
    use mandate::Event;

    #[test]
    fn subjects_follow_the_convention() {
        assert_eq!(OrderPlaced::subject(), "evt.orders.placed.v1");
        assert_eq!(OrderPlaced::ce_type(), "orders.placed.v1");
        assert_eq!(super::inventory::StockReserved::subject(), "evt.inventory.reserved.v1");
    }

    #[test]
    fn bodies_are_maps_with_named_fields_and_tolerate_additions() {
        let placed = OrderPlaced {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            lines: vec![OrderLine {
                sku: "sku-1".into(),
                quantity: 2,
                unit_price_minor: 150,
            }],
            total_minor: 300,
            currency: "EUR".into(),
            payment_token: String::new(),
            idempotency_key: "k1".into(),
            placed_at: "2026-11-24T15:00:00Z".into(),
        };
        let bytes = rmp_serde::to_vec_named(&placed).expect("encodes");
        // 0x88: a fixmap of eight entries, not a positional array.
        assert_eq!(bytes[0], 0x88);
        let back: OrderPlaced = rmp_serde::from_slice(&bytes).expect("decodes");
        assert_eq!(back, placed);
        // A reader ignores a field it does not know (an additive change by a newer writer).
        #[derive(serde::Serialize)]
        struct Newer<'a> {
            #[serde(flatten)]
            base: &'a OrderPlaced,
            channel: &'a str,
        }
        let newer = rmp_serde::to_vec_named(&Newer {
            base: &placed,
            channel: "web",
        })
        .expect("encodes");
        assert_eq!(rmp_serde::from_slice::<OrderPlaced>(&newer).expect("decodes"), placed);
    }
}
