//! Owned by `inventory`: stock and reservations.

use mandate::Event;
use serde::{Deserialize, Serialize};

/// A quantity of one sku.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkuQuantity {
    pub sku: String,
    pub quantity: u32,
}

/// `evt.inventory.reserved.v1`: every line of an order is reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReserved {
    pub order_id: String,
    pub lines: Vec<SkuQuantity>,
}

impl Event for StockReserved {
    const OWNER: &'static str = "inventory";
    const NAME: &'static str = "reserved";
    const VERSION: u32 = 1;
}

/// A line that could not be reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortage {
    pub sku: String,
    pub requested: u32,
    pub available: u32,
}

/// `evt.inventory.rejected.v1`: the order cannot be reserved as a whole; nothing was held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockRejected {
    pub order_id: String,
    pub reason: String,
    pub shortages: Vec<Shortage>,
}

impl Event for StockRejected {
    const OWNER: &'static str = "inventory";
    const NAME: &'static str = "rejected";
    const VERSION: u32 = 1;
}
