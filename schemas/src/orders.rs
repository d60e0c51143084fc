//! Owned by `orders`: order placement and lifecycle.

use mandate::{Event, Operation};
use serde::{Deserialize, Serialize};

/// One line of an order as the customer asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRequest {
    pub sku: String,
    pub quantity: u32,
}

/// One line of a placed order, priced from orders' own price list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: u32,
    /// Price of one unit, in minor units of `currency`.
    pub unit_price_minor: i64,
}

/// `evt.orders.placed.v1`: an order was accepted and awaits stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl Event for OrderPlaced {
    const OWNER: &'static str = "orders";
    const NAME: &'static str = "placed";
    const VERSION: u32 = 1;
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrderStatus {
    Placed,
    Reserved,
    Rejected,
    Paid,
    PaymentDeclined,
    Cancelled,
    Completed,
}

/// An order as `orders.get.v1` and `orders.place.v1` return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderView {
    pub order_id: String,
    pub customer_id: String,
    pub status: OrderStatus,
    pub lines: Vec<OrderLine>,
    pub total_minor: i64,
    pub currency: String,
}

/// `svc.orders.place.v1` request. A repeated `idempotency_key` returns the first order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceOrderRequest {
    pub idempotency_key: String,
    pub customer_id: String,
    pub lines: Vec<LineRequest>,
    #[serde(default)]
    pub payment_token: String,
}

/// `svc.orders.place.v1`: place an order. Errors: 400 (empty cart, bad quantity, unknown sku).
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
