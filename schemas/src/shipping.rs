//! Owned by `shipping`: shipments. Every order that orders confirmed is dispatched, once.

use mandate::{Event, Key, Operation};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `evt.shipping.dispatched.v1`: the order left the warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct ShipmentDispatched {
    pub shipment_id: String,
    pub order_id: String,
    pub customer_id: String,
}

impl Event for ShipmentDispatched {
    const OWNER: &'static str = "shipping";
    const NAME: &'static str = "dispatched";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(crate::ORDER);
}

/// A shipment as `shipping.get.v1` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct ShipmentView {
    pub shipment_id: String,
    pub order_id: String,
    pub customer_id: String,
    /// RFC 3339.
    pub dispatched_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct GetShipmentRequest {
    pub order_id: String,
}

/// `svc.shipping.get.v1`: the shipment of an order. Errors: 404.
#[derive(Debug)]
pub struct GetShipment;

impl Operation for GetShipment {
    const OWNER: &'static str = "shipping";
    const NAME: &'static str = "get";
    const VERSION: u32 = 1;
    type Request = GetShipmentRequest;
    type Response = ShipmentView;
}
