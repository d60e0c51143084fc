//! An order's placement, sent to its followers once and as `orders.placed.v2`.
//!
//! During the migration orders publishes every order as `orders.placed.v2` and, for readers
//! not yet moved, as `orders.placed.v1`. A follower of the order gets whichever reaches the
//! gateway first (orders publishes v2 first) and not the other; a v1 is sent as the v2 it
//! reads as through the contract's one upcast (its tax not itemised: 0), under its own
//! `ce-id`. So clients see one placement per order, in one shape, as they will once v1 is
//! gone. Each watched order remembers whether its placement was sent ([`super::Hub`]).

use mandate::Event;
use schemas::orders::{OrderPlaced, OrderPlacedV2};
use serde::Deserialize;

/// Which version of `orders.placed` an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Placement {
    V1,
    V2,
}

impl Placement {
    /// The placement an event of `kind` (its `ce-type`) is, if it is one.
    pub(super) fn of(kind: &str) -> Option<Placement> {
        if kind == OrderPlaced::ce_type() {
            Some(Placement::V1)
        } else if kind == OrderPlacedV2::ce_type() {
            Some(Placement::V2)
        } else {
            None
        }
    }

    /// For a v1: the type and JSON body of the v2 it reads as, from the v1's body as JSON.
    /// `None` for a v2 (sent as it is) and for a v1 body that is not a valid v1 (sent as it
    /// is, too: nothing is hidden).
    pub(super) fn as_v2(self, body: &serde_json::Value) -> Option<(String, serde_json::Value)> {
        if self != Placement::V1 {
            return None;
        }
        let v1 = OrderPlaced::deserialize(body).ok()?;
        let v2 = OrderPlacedV2::from(v1);
        Some((OrderPlacedV2::ce_type(), serde_json::to_value(v2).ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::orders::OrderLine;

    #[test]
    fn a_v1_placement_reads_as_its_v2_and_a_v2_as_itself() {
        let v1 = OrderPlaced {
            order_id: "o-1".into(),
            customer_id: "alice".into(),
            lines: vec![OrderLine {
                sku: "tea".into(),
                quantity: 2,
                unit_price_minor: 250,
            }],
            total_minor: 500,
            currency: "EUR".into(),
            payment_token: String::new(),
            idempotency_key: String::new(),
            placed_at: String::new(),
        };
        let body = serde_json::to_value(&v1).expect("json");
        assert_eq!(Placement::of("orders.placed.v1"), Some(Placement::V1));
        assert_eq!(Placement::of("orders.placed.v2"), Some(Placement::V2));
        assert_eq!(Placement::of("orders.cancelled.v1"), None);
        let (kind, json) = Placement::V1.as_v2(&body).expect("a v1 body");
        assert_eq!(kind, "orders.placed.v2");
        assert_eq!(json, serde_json::to_value(OrderPlacedV2::from(v1)).expect("json"));
        assert_eq!(json["lines"][0]["currency"], "EUR");
        assert_eq!(json["tax_minor"], 0);
        assert!(Placement::V2.as_v2(&body).is_none());
        assert!(Placement::V1.as_v2(&serde_json::json!({"order_id": "o-1"})).is_none());
    }
}
