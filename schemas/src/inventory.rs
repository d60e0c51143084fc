//! Owned by `inventory`: stock per sku and reservations per order.
//!
//! Stock is conserved: initial + restocked = on hand + reserved + shipped. A reservation
//! ends exactly once, released (declined, cancelled) or shipped (dispatched).

use mandate::{Event, Key, Operation};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A quantity of one sku.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct SkuQuantity {
    pub sku: String,
    pub quantity: u32,
}

/// `evt.inventory.reserved.v1`: every line of an order is reserved. Carries what payments
/// needs to charge, so payments listens to this event alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct StockReserved {
    pub order_id: String,
    #[serde(default)]
    pub customer_id: String,
    pub lines: Vec<SkuQuantity>,
    /// The order's total, in minor units of `currency`.
    #[serde(default)]
    pub amount_minor: i64,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub payment_token: String,
}

impl Event for StockReserved {
    const OWNER: &'static str = "inventory";
    const NAME: &'static str = "reserved";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(crate::ORDER);
}

/// A line that could not be reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct Shortage {
    pub sku: String,
    pub requested: u32,
    pub available: u32,
}

/// `evt.inventory.rejected.v1`: the order cannot be reserved as a whole; nothing was held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct StockRejected {
    pub order_id: String,
    #[serde(default)]
    pub customer_id: String,
    pub reason: String,
    pub shortages: Vec<Shortage>,
}

impl Event for StockRejected {
    const OWNER: &'static str = "inventory";
    const NAME: &'static str = "rejected";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(crate::ORDER);
}

/// `evt.inventory.released.v1`: an order's reservation went back on hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct StockReleased {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Vec<SkuQuantity>,
    /// Why: `payment-declined` or `order-cancelled`.
    pub reason: String,
}

impl Event for StockReleased {
    const OWNER: &'static str = "inventory";
    const NAME: &'static str = "released";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(crate::ORDER);
}

/// `evt.inventory.restocked.v1`: stock arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct Restocked {
    pub sku: String,
    pub quantity: u32,
    /// On hand after the restock.
    pub on_hand: u64,
    /// The idempotency key of the `inventory.restock.v1` call.
    #[serde(default)]
    pub restock_id: String,
}

impl Event for Restocked {
    const OWNER: &'static str = "inventory";
    const NAME: &'static str = "restocked";
    const VERSION: u32 = 1;
}

/// What inventory knows about one sku.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct StockView {
    pub sku: String,
    /// Available to reserve.
    pub on_hand: u64,
    /// Held for orders not yet dispatched or released.
    pub reserved: u64,
    /// Left the warehouse.
    pub shipped: u64,
    /// Everything ever restocked.
    pub restocked: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct RestockRequest {
    pub sku: String,
    pub quantity: u32,
    /// The same key twice restocks once.
    pub idempotency_key: String,
}

/// `svc.inventory.restock.v1`: add stock. Errors: 400 (empty sku or key, zero quantity).
#[derive(Debug)]
pub struct Restock;

impl Operation for Restock {
    const OWNER: &'static str = "inventory";
    const NAME: &'static str = "restock";
    const VERSION: u32 = 1;
    type Request = RestockRequest;
    type Response = StockView;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct GetStockRequest {
    pub sku: String,
}

/// `svc.inventory.get-stock.v1`: a sku never restocked has all zeros.
#[derive(Debug)]
pub struct GetStock;

impl Operation for GetStock {
    const OWNER: &'static str = "inventory";
    const NAME: &'static str = "get-stock";
    const VERSION: u32 = 1;
    type Request = GetStockRequest;
    type Response = StockView;
}
