//! The migration window of `orders.placed` v1 → v2 (`docs/evolution.md`): every order is
//! published as v2 and, in the same transaction, as v1, so readers not yet moved to v2 keep
//! working. v2 goes first, so a reader of both meets the fuller event first.
//!
//! The v1 of an order says what v1 always said, and says it truthfully: the same lines at
//! the same unit prices (what the customer pays a unit, tax included) and the same total
//! (the sum of the lines, what is charged); only the tax split, which v1 has no place for,
//! is left out. Read back through the contract's upcast it is the same order with its tax
//! not itemised.
//!
//! When v1 stops: once every reader reads v2 — every manifest that subscribes to
//! `orders.placed.v1` also subscribes to `orders.placed.v2` (true of every component here),
//! and outside readers have had the announced notice — delete this file, its call in
//! `place.rs` and `.publishes::<OrderPlaced>()` in `lib.rs`. Readers keep their v1 handler
//! (the upcast) for as long as the stream holds v1 history, which a replay reads.

use schemas::orders::{OrderLine, OrderPlaced, OrderPlacedV2};

/// What `orders.placed.v1` says about an order placed as `placed`.
pub(crate) fn as_v1(placed: &OrderPlacedV2) -> OrderPlaced {
    OrderPlaced {
        order_id: placed.order_id.clone(),
        customer_id: placed.customer_id.clone(),
        lines: placed
            .lines
            .iter()
            .map(|line| OrderLine {
                sku: line.sku.clone(),
                quantity: line.quantity,
                unit_price_minor: line.unit_price_minor,
            })
            .collect(),
        total_minor: placed.total_minor,
        currency: placed.currency.clone(),
        payment_token: placed.payment_token.clone(),
        idempotency_key: placed.idempotency_key.clone(),
        placed_at: placed.placed_at.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::orders::OrderLineV2;

    #[test]
    fn the_v1_of_an_order_upcasts_back_to_it_without_the_tax_split() {
        let placed = OrderPlacedV2 {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            lines: vec![OrderLineV2 {
                sku: "mug".into(),
                quantity: 2,
                unit_price_minor: 1250,
                currency: "EUR".into(),
                tax_minor: 417,
            }],
            currency: "EUR".into(),
            subtotal_minor: 2083,
            tax_minor: 417,
            total_minor: 2500,
            payment_token: "tok".into(),
            idempotency_key: "k1".into(),
            placed_at: "2026-11-24T15:00:00Z".into(),
        };
        let v1 = as_v1(&placed);
        assert_eq!(v1.total_minor, 2500, "v1's total is what is charged");
        let back = OrderPlacedV2::from(v1);
        assert_eq!(back.check(), Ok(()));
        let without_tax = OrderPlacedV2 {
            lines: vec![OrderLineV2 {
                tax_minor: 0,
                ..placed.lines[0].clone()
            }],
            subtotal_minor: 2500,
            tax_minor: 0,
            ..placed
        };
        assert_eq!(back, without_tax);
    }
}
