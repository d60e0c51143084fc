//! Owned by `orders`: order placement and lifecycle.
//!
//! An order moves forward only: placed → reserved → paid → completed, or ends rejected,
//! payment-declined or cancelled. Every order ends in exactly one terminal state.

use mandate::{Event, Operation};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::paging::Page;

/// One line of an order as the customer asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LineRequest {
    pub sku: String,
    pub quantity: u32,
}

/// One line of a placed order, priced from orders' own price list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: u32,
    /// Price of one unit, in minor units of `currency`.
    pub unit_price_minor: i64,
}

/// `evt.orders.placed.v1`: an order was accepted and awaits stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
}

/// `evt.orders.cancelled.v1`: the customer cancelled before dispatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderCancelled {
    pub order_id: String,
    pub customer_id: String,
    pub reason: String,
}

impl Event for OrderCancelled {
    const OWNER: &'static str = "orders";
    const NAME: &'static str = "cancelled";
    const VERSION: u32 = 1;
}

/// `evt.orders.completed.v1`: paid and dispatched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
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
pub struct PlaceOrderRequest {
    pub idempotency_key: String,
    pub customer_id: String,
    pub lines: Vec<LineRequest>,
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
    type Request = PlaceOrderRequest;
    type Response = OrderView;
}

/// `svc.orders.get.v1` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
    type Request = GetOrderRequest;
    type Response = OrderView;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
pub struct CancelOrderRequest {
    pub order_id: String,
    #[serde(default)]
    pub reason: String,
}

/// `svc.orders.cancel.v1`: cancel an order that is not yet paid. Errors: 404; 409 when it is
/// already paid, dispatched or ended.
#[derive(Debug)]
pub struct CancelOrder;

impl Operation for CancelOrder {
    const OWNER: &'static str = "orders";
    const NAME: &'static str = "cancel";
    const VERSION: u32 = 1;
    type Request = CancelOrderRequest;
    type Response = OrderView;
}
