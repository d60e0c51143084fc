//! Reads.

use mandate::{ServiceError, View};
use schemas::shipping::{GetShipmentRequest, ShipmentView};

use crate::dispatch::shipment_key;

/// `shipping.get.v1`: 404 until the order is dispatched.
pub(crate) fn get_shipment(view: &View, request: GetShipmentRequest) -> Result<ShipmentView, ServiceError> {
    if request.order_id.is_empty() {
        return Err(ServiceError::bad_request("order_id is empty"));
    }
    view.get(&shipment_key(&request.order_id))?
        .ok_or_else(|| ServiceError::not_found(format!("no shipment for order {:?}", request.order_id)))
}
