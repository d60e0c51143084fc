//! Owned by `orders`: order placement and lifecycle.
//!
//! An order moves forward only: placed → reserved → paid (confirmed) → completed, or ends
//! rejected, payment-declined or cancelled. Every order ends in exactly one terminal state,
//! and its history shows each status at most once.
//!
//! Orders is the authority on an order's lifecycle: whether an order is cancelled
//! (`orders.cancelled`) or will be delivered (`orders.confirmed`) is decided by orders alone
//! and told on orders' one stream, where order holds; shipping dispatches only confirmed
//! orders.

use mandate::{Event, Key, Operation};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::paging::Page;

/// One line of an order as the customer asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct LineRequest {
    pub sku: String,
    pub quantity: u32,
}

/// One line of a placed order, priced from orders' own price list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: u32,
    /// Price of one unit, in minor units of `currency`.
    pub unit_price_minor: i64,
}

/// `evt.orders.placed.v1`: an order was accepted and awaits stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct OrderPlaced {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Vec<OrderLine>,
    /// Sum of the lines, in minor units of `currency`.
    pub total_minor: i64,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
    /// Opaque token for the payment provider.
    #[serde(default)]
    pub payment_token: String,
    /// The client's idempotency key of `orders.place.v1`.
    #[serde(default)]
    pub idempotency_key: String,
    /// RFC 3339 time the order was placed.
    #[serde(default)]
    pub placed_at: String,
}

impl Event for OrderPlaced {
    const OWNER: &'static str = "orders";
    const NAME: &'static str = "placed";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(crate::ORDER);
}

/// One line of a placed order in `orders.placed.v2`: priced and taxed on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct OrderLineV2 {
    pub sku: String,
    pub quantity: u32,
    /// Price of one unit as the customer pays it, tax included, in minor units of
    /// `currency` (orders' own price list, kept from catalog).
    pub unit_price_minor: i64,
    /// ISO 4217 code of this line's amounts. Today always the order's `currency` (orders
    /// refuses a cart in several currencies); carried so that a line reads on its own.
    pub currency: String,
    /// The tax contained in this line (`quantity` × `unit_price_minor`), in minor units of
    /// `currency`; 0 when none is itemised.
    pub tax_minor: i64,
}

/// `evt.orders.placed.v2`: an order was accepted and awaits stock — with each line's
/// currency and tax, and the order's subtotal, tax and total.
///
/// The amounts always agree: `total_minor` is the sum of `quantity` × `unit_price_minor`
/// over the lines and is what the customer is charged; `tax_minor` is the sum of the lines'
/// tax; `subtotal_minor` = `total_minor` − `tax_minor`; every line is in the order's
/// `currency`. Prices include tax, so itemising it never changes a total.
///
/// A new major version because v1 could not absorb it: the new fields are required (a
/// reader relies on them), and a required field cannot be added within a major version. The
/// owner publishes v1 and v2 of every order during the migration; readers of v2 read older
/// v1 history through one upcast (tax not itemised: 0). See `docs/evolution.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct OrderPlacedV2 {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Vec<OrderLineV2>,
    /// ISO 4217 code of every amount of the order, e.g. `EUR`.
    pub currency: String,
    /// The total less its tax, in minor units of `currency`.
    pub subtotal_minor: i64,
    /// The tax the total contains: the sum of the lines' `tax_minor`.
    pub tax_minor: i64,
    /// What the customer pays: the sum of `quantity` × `unit_price_minor` over the lines,
    /// = `subtotal_minor` + `tax_minor`.
    pub total_minor: i64,
    /// Opaque token for the payment provider.
    #[serde(default)]
    pub payment_token: String,
    /// The client's idempotency key of `orders.place.v1`.
    #[serde(default)]
    pub idempotency_key: String,
    /// RFC 3339 time the order was placed.
    #[serde(default)]
    pub placed_at: String,
}

impl Event for OrderPlacedV2 {
    const OWNER: &'static str = "orders";
    const NAME: &'static str = "placed";
    const VERSION: u32 = 2;
    const KEY: Option<Key> = Some(crate::ORDER);
}

impl OrderPlacedV2 {
    /// Checks that the amounts agree: every line is in the order's currency and has a tax
    /// between 0 and its amount; the total is the sum of the lines, the tax the sum of
    /// their tax, the subtotal their difference. The first disagreement, in words.
    pub fn check(&self) -> Result<(), String> {
        let mut total: i64 = 0;
        let mut tax: i64 = 0;
        for line in &self.lines {
            if line.currency != self.currency {
                return Err(format!(
                    "line {} is in {:?}, the order in {:?}",
                    line.sku, line.currency, self.currency
                ));
            }
            let amount = line
                .unit_price_minor
                .checked_mul(i64::from(line.quantity))
                .ok_or_else(|| format!("line {} overflows", line.sku))?;
            if !(0..=amount.max(0)).contains(&line.tax_minor) {
                return Err(format!(
                    "line {} has tax {} on an amount of {amount}",
                    line.sku, line.tax_minor
                ));
            }
            total = total.checked_add(amount).ok_or("the total overflows")?;
            tax = tax.checked_add(line.tax_minor).ok_or("the tax overflows")?;
        }
        if total != self.total_minor {
            return Err(format!(
                "total_minor is {}, the lines add up to {total}",
                self.total_minor
            ));
        }
        if tax != self.tax_minor {
            return Err(format!(
                "tax_minor is {}, the lines' tax adds up to {tax}",
                self.tax_minor
            ));
        }
        if self.subtotal_minor.checked_add(self.tax_minor) != Some(self.total_minor) {
            return Err(format!(
                "subtotal_minor {} + tax_minor {} is not total_minor {}",
                self.subtotal_minor, self.tax_minor, self.total_minor
            ));
        }
        Ok(())
    }
}

/// The one upcast of `orders.placed.v1` to v2, shared by every consumer (a v1 in the
/// history is read as this v2). How the fields v1 lacks are filled:
///
/// - each line's `currency` is the order's `currency` (a v1 order had one currency for all
///   its lines);
/// - each line's `tax_minor`, and the order's `tax_minor`, are 0: v1 orders were placed
///   before orders itemised tax, so none is stated (0 here means "not itemised", not
///   "tax-free");
/// - `subtotal_minor` is v1's `total_minor` (total less a tax of 0);
/// - everything else is copied as it is: skus, quantities, unit prices (what the customer
///   paid a unit), `total_minor` (the sum of the lines, what was charged), the customer,
///   payment token, idempotency key and time.
///
/// The v1 that `orders` publishes next to a v2 during the migration upcasts to the same
/// order with the same lines and total, only without the tax split; a consumer applies the
/// order once, from whichever of the two it reads first (`docs/evolution.md`).
impl From<OrderPlaced> for OrderPlacedV2 {
    fn from(v1: OrderPlaced) -> OrderPlacedV2 {
        let lines = v1
            .lines
            .into_iter()
            .map(|line| OrderLineV2 {
                sku: line.sku,
                quantity: line.quantity,
                unit_price_minor: line.unit_price_minor,
                currency: v1.currency.clone(),
                tax_minor: 0,
            })
            .collect();
        OrderPlacedV2 {
            order_id: v1.order_id,
            customer_id: v1.customer_id,
            lines,
            currency: v1.currency,
            subtotal_minor: v1.total_minor,
            tax_minor: 0,
            total_minor: v1.total_minor,
            payment_token: v1.payment_token,
            idempotency_key: v1.idempotency_key,
            placed_at: v1.placed_at,
        }
    }
}

/// A v2 line as v1 states it: the same sku, quantity and unit price (tax included), without
/// the line's currency and tax.
impl From<&OrderLineV2> for OrderLine {
    fn from(line: &OrderLineV2) -> OrderLine {
        OrderLine {
            sku: line.sku.clone(),
            quantity: line.quantity,
            unit_price_minor: line.unit_price_minor,
        }
    }
}

/// What `orders.placed.v1` says about an order placed as v2: what `orders` publishes next to
/// each v2 during the migration window (`docs/evolution.md`), and what tests build as the
/// v1 twin of a v2. The same lines at the same unit prices (tax included) and the same
/// total (what is charged); only the tax split, which v1 has no place for, is left out — so
/// the upcast above reads it back as the same order with its tax not itemised.
impl From<&OrderPlacedV2> for OrderPlaced {
    fn from(v2: &OrderPlacedV2) -> OrderPlaced {
        OrderPlaced {
            order_id: v2.order_id.clone(),
            customer_id: v2.customer_id.clone(),
            lines: v2.lines.iter().map(OrderLine::from).collect(),
            total_minor: v2.total_minor,
            currency: v2.currency.clone(),
            payment_token: v2.payment_token.clone(),
            idempotency_key: v2.idempotency_key.clone(),
            placed_at: v2.placed_at.clone(),
        }
    }
}

/// `evt.orders.cancelled.v1`: the customer cancelled before dispatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct OrderCancelled {
    pub order_id: String,
    pub customer_id: String,
    pub reason: String,
}

impl Event for OrderCancelled {
    const OWNER: &'static str = "orders";
    const NAME: &'static str = "cancelled";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(crate::ORDER);
}

/// `evt.orders.confirmed.v1`: the order is paid and orders commits to deliver it; from here
/// it can no longer be cancelled.
///
/// Orders decides it when payments' capture reaches an order that is neither cancelled nor
/// ended (the order becomes `paid`); a capture that finds the order cancelled confirms
/// nothing (payments refunds it on `orders.cancelled`). Cancelling and confirming are both
/// orders' decisions, told on orders' own stream, and `orders.cancel.v1` is refused once an
/// order is confirmed: so an order is told confirmed or cancelled, never both, and in that
/// order for every reader. Shipping dispatches exactly the confirmed orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct OrderConfirmed {
    pub order_id: String,
    pub customer_id: String,
    /// The capture it was confirmed on (`payments.captured.v1`'s `payment_id`).
    pub payment_id: String,
    /// What to deliver: the order's lines as placed.
    pub lines: Vec<OrderLine>,
    /// What was paid, in minor units of `currency`.
    pub total_minor: i64,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
    /// RFC 3339 time of the capture it was confirmed on: the time of the `paid` step in the
    /// order's history.
    pub confirmed_at: String,
}

impl Event for OrderConfirmed {
    const OWNER: &'static str = "orders";
    const NAME: &'static str = "confirmed";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(crate::ORDER);
}

/// `evt.orders.completed.v1`: paid and dispatched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct OrderCompleted {
    pub order_id: String,
    pub customer_id: String,
    pub total_minor: i64,
    pub currency: String,
}

impl Event for OrderCompleted {
    const OWNER: &'static str = "orders";
    const NAME: &'static str = "completed";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(crate::ORDER);
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::enum_of::<Self>)]
#[serde(rename_all = "kebab-case")]
pub enum OrderStatus {
    Placed,
    Reserved,
    Paid,
    /// Terminal: stock could not be reserved.
    Rejected,
    /// Terminal: the payment was declined; stock is released.
    PaymentDeclined,
    /// Terminal: cancelled before dispatch; stock released, payment refunded if taken.
    Cancelled,
    /// Terminal: paid and dispatched.
    Completed,
}

impl OrderStatus {
    /// True for the four end states.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Rejected | OrderStatus::PaymentDeclined | OrderStatus::Cancelled | OrderStatus::Completed
        )
    }
}

/// One step of an order's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct StatusChange {
    pub status: OrderStatus,
    /// RFC 3339 time of the event that caused it.
    pub at: String,
    /// A short human note (e.g. the decline reason).
    #[serde(default)]
    pub note: String,
}

/// An order as `orders.get.v1` and `orders.place.v1` return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct OrderView {
    pub order_id: String,
    pub customer_id: String,
    pub status: OrderStatus,
    pub lines: Vec<OrderLine>,
    pub total_minor: i64,
    pub currency: String,
    /// Oldest first.
    #[serde(default)]
    pub history: Vec<StatusChange>,
}

/// `svc.orders.place.v1` request. A repeated `idempotency_key` returns the first order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct PlaceOrderRequest {
    pub idempotency_key: String,
    pub customer_id: String,
    pub lines: Vec<LineRequest>,
    /// Opaque token for the payment provider, passed on in `orders.placed`. The reference
    /// system's simulated provider (payments) declines the token `decline` and every token
    /// that starts with `decline-` (the rest is yours, e.g. `decline-insufficient-funds`),
    /// and any order over its customer limit (100000 minor units); it captures every other
    /// token, the empty one included.
    #[serde(default)]
    pub payment_token: String,
}

/// `svc.orders.place.v1`: place an order. Errors: 400 (empty cart, zero quantity, unknown
/// sku, mixed currencies).
#[derive(Debug)]
pub struct PlaceOrder;

impl Operation for PlaceOrder {
    const OWNER: &'static str = "orders";
    const NAME: &'static str = "place";
    const VERSION: u32 = 1;
    /// Routed by its idempotency key: the order does not exist yet; orders gives it an id in
    /// the idempotency key's slot, so every later call and event about it lands there too.
    const KEY: Option<Key> = Some(Key {
        entity: "order",
        field: "idempotency_key",
    });
    type Request = PlaceOrderRequest;
    type Response = OrderView;
}

/// `svc.orders.get.v1` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct GetOrderRequest {
    pub order_id: String,
}

/// `svc.orders.get.v1`: one order. Errors: 404.
#[derive(Debug)]
pub struct GetOrder;

impl Operation for GetOrder {
    const OWNER: &'static str = "orders";
    const NAME: &'static str = "get";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(crate::ORDER);
    type Request = GetOrderRequest;
    type Response = OrderView;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct ListOrdersRequest {
    pub customer_id: String,
    /// The cursor from the previous page's `next`.
    #[serde(default)]
    pub after: Option<String>,
    /// Page size; 0 means the default (20), at most 100.
    #[serde(default)]
    pub limit: u32,
}

/// `svc.orders.list.v1`: a customer's orders, oldest first, paged.
#[derive(Debug)]
pub struct ListOrders;

impl Operation for ListOrders {
    const OWNER: &'static str = "orders";
    const NAME: &'static str = "list";
    const VERSION: u32 = 1;
    type Request = ListOrdersRequest;
    type Response = Page<OrderView>;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct CancelOrderRequest {
    pub order_id: String,
    #[serde(default)]
    pub reason: String,
}

/// `svc.orders.cancel.v1`: cancel an order that is not yet confirmed (paid). Errors: 404;
/// 409 when it is confirmed, or has already ended — cancelled included ("already
/// cancelled").
#[derive(Debug)]
pub struct CancelOrder;

impl Operation for CancelOrder {
    const OWNER: &'static str = "orders";
    const NAME: &'static str = "cancel";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(crate::ORDER);
    type Request = CancelOrderRequest;
    type Response = OrderView;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1() -> OrderPlaced {
        OrderPlaced {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            lines: vec![
                OrderLine {
                    sku: "mug".into(),
                    quantity: 2,
                    unit_price_minor: 1250,
                },
                OrderLine {
                    sku: "tea".into(),
                    quantity: 1,
                    unit_price_minor: 499,
                },
            ],
            total_minor: 2999,
            currency: "EUR".into(),
            payment_token: "tok".into(),
            idempotency_key: "k1".into(),
            placed_at: "2026-11-24T15:00:00Z".into(),
        }
    }

    #[test]
    fn v2_has_its_own_subject_beside_v1() {
        assert_eq!(OrderPlacedV2::subject(), "evt.orders.placed.v2");
        assert_eq!(OrderPlacedV2::ce_type(), "orders.placed.v2");
        assert_eq!(OrderPlaced::subject(), "evt.orders.placed.v1");
    }

    #[test]
    fn the_v1_of_a_v2_order_upcasts_back_to_it_without_the_tax_split() {
        let mut placed = OrderPlacedV2::from(v1());
        placed.lines[0].tax_minor = 417;
        placed.lines[1].tax_minor = 83;
        (placed.tax_minor, placed.subtotal_minor) = (500, 2499);
        assert_eq!(placed.check(), Ok(()));
        let v1_twin = OrderPlaced::from(&placed);
        assert_eq!(v1_twin, v1(), "the same lines, prices and total: what is charged");
        let back = OrderPlacedV2::from(v1_twin);
        assert_eq!(back.check(), Ok(()));
        assert_eq!(back, OrderPlacedV2::from(v1()), "the same order, tax not itemised");
        assert_ne!(back, placed);
    }

    #[test]
    fn the_upcast_fills_currency_per_line_and_states_no_tax() {
        let v2 = OrderPlacedV2::from(v1());
        assert_eq!(
            v2,
            OrderPlacedV2 {
                order_id: "o1".into(),
                customer_id: "c1".into(),
                lines: vec![
                    OrderLineV2 {
                        sku: "mug".into(),
                        quantity: 2,
                        unit_price_minor: 1250,
                        currency: "EUR".into(),
                        tax_minor: 0,
                    },
                    OrderLineV2 {
                        sku: "tea".into(),
                        quantity: 1,
                        unit_price_minor: 499,
                        currency: "EUR".into(),
                        tax_minor: 0,
                    },
                ],
                currency: "EUR".into(),
                subtotal_minor: 2999,
                tax_minor: 0,
                total_minor: 2999,
                payment_token: "tok".into(),
                idempotency_key: "k1".into(),
                placed_at: "2026-11-24T15:00:00Z".into(),
            }
        );
        assert_eq!(v2.check(), Ok(()), "an upcast v1 is a consistent v2");
    }

    #[test]
    fn check_names_the_first_amount_that_disagrees() {
        let good = {
            let mut v2 = OrderPlacedV2::from(v1());
            v2.lines[0].tax_minor = 417;
            v2.lines[1].tax_minor = 83;
            v2.tax_minor = 500;
            v2.subtotal_minor = 2499;
            v2
        };
        assert_eq!(good.check(), Ok(()));
        type Breaking = fn(&mut OrderPlacedV2);
        let broken: [(Breaking, &str); 5] = [
            (|v| v.total_minor += 1, "total_minor"),
            (|v| v.tax_minor += 1, "tax_minor"),
            (|v| v.subtotal_minor -= 1, "subtotal_minor"),
            (|v| v.lines[1].currency = "USD".into(), "line tea is in"),
            (|v| v.lines[1].tax_minor = 500, "line tea has tax"),
        ];
        for (breaking, says) in broken {
            let mut v2 = good.clone();
            breaking(&mut v2);
            let err = v2.check().expect_err("inconsistent");
            assert!(err.contains(says), "{err:?} should name {says:?}");
        }
    }

    /// v2's new fields are required: a v1 body is not a v2 body. (This is why it is a new
    /// major version and not an addition to v1.)
    #[test]
    fn a_v1_body_does_not_read_as_v2() {
        let bytes = rmp_serde::to_vec_named(&v1()).expect("encodes");
        let err = rmp_serde::from_slice::<OrderPlacedV2>(&bytes).expect_err("v2 needs its fields");
        assert!(err.to_string().contains("missing field"), "{err}");
    }
}
