//! Owned by `loyalty`, a component written in Python (`components/loyalty`): points for the
//! orders customers complete. One point per whole currency unit of an order's total
//! ([`points_for`]), awarded when the order completes (`orders.completed`) and taken back if
//! its payment is refunded (`payments.refunded`) — each once per order, whatever the order
//! the two arrive in.

use mandate::{Event, Operation};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Minor units per point: one point per whole unit of a two-decimal currency.
pub const MINOR_UNITS_PER_POINT: i64 = 100;

/// The points an order of `total_minor` earns: its whole currency units, rounded down; none
/// for a total below one unit (or a negative one).
pub fn points_for(total_minor: i64) -> u64 {
    u64::try_from(total_minor / MINOR_UNITS_PER_POINT).unwrap_or(0)
}

/// `evt.loyalty.points-awarded.v1`: a completed order earned its customer points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct PointsAwarded {
    pub customer_id: String,
    pub order_id: String,
    /// [`points_for`] the order's total.
    pub points: u64,
    /// The order's total, as `orders.completed` told it.
    pub total_minor: i64,
    pub currency: String,
}

impl Event for PointsAwarded {
    const OWNER: &'static str = "loyalty";
    const NAME: &'static str = "points-awarded";
    const VERSION: u32 = 1;
}

/// `evt.loyalty.points-reversed.v1`: the points an order earned were taken back, because its
/// payment was refunded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct PointsReversed {
    pub customer_id: String,
    pub order_id: String,
    /// The points taken back: all that the order earned.
    pub points: u64,
    /// The refund that took them back (`payments.refunded`'s `payment_id`).
    pub payment_id: String,
}

impl Event for PointsReversed {
    const OWNER: &'static str = "loyalty";
    const NAME: &'static str = "points-reversed";
    const VERSION: u32 = 1;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct BalanceRequest {
    pub customer_id: String,
}

/// A customer's points as `loyalty.balance.v1` returns them. A customer loyalty has not
/// heard of has none: every count is zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct Balance {
    pub customer_id: String,
    /// What the customer holds: `awarded - reversed`.
    pub points: u64,
    /// Every point ever awarded to the customer.
    pub awarded: u64,
    /// Every point taken back.
    pub reversed: u64,
    /// The completed orders that earned points (reversed ones included).
    pub orders: u64,
}

/// `svc.loyalty.balance.v1`: a customer's points.
#[derive(Debug)]
pub struct GetBalance;

impl Operation for GetBalance {
    const OWNER: &'static str = "loyalty";
    const NAME: &'static str = "balance";
    const VERSION: u32 = 1;
    type Request = BalanceRequest;
    type Response = Balance;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_earns_its_whole_currency_units() {
        assert_eq!(points_for(0), 0);
        assert_eq!(points_for(99), 0);
        assert_eq!(points_for(100), 1);
        assert_eq!(points_for(1_299), 12);
        assert_eq!(points_for(-500), 0);
    }
}
