//! Dispatching paid orders.

use mandate::{Context, HandlerResult};
use schemas::payments::PaymentCaptured;
use schemas::shipping::{ShipmentDispatched, ShipmentView};

pub(crate) fn shipment_key(order_id: &str) -> String {
    format!("shipment/{order_id}")
}

/// `payments.captured.v1`: one shipment per order, dispatched at once. A second capture
/// for an order already shipped ships nothing more. The id and time come from the event,
/// not the clock, so a rebuild recreates the very same shipment.
pub(crate) fn dispatch_paid_order(ctx: &mut Context<'_>, captured: PaymentCaptured) -> HandlerResult {
    let key = shipment_key(&captured.order_id);
    if ctx.get::<ShipmentView>(&key)?.is_some() {
        return Ok(());
    }
    let shipment = ShipmentView {
        shipment_id: ctx.new_id("shipment"),
        order_id: captured.order_id,
        customer_id: captured.customer_id,
        dispatched_at: ctx.event_time(),
    };
    ctx.put(&key, &shipment)?;
    ctx.emit(&ShipmentDispatched {
        shipment_id: shipment.shipment_id,
        order_id: shipment.order_id,
        customer_id: shipment.customer_id,
    })
}
