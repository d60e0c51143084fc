//! Dispatching confirmed orders.

use mandate::{Context, HandlerResult};
use schemas::orders::OrderConfirmed;
use schemas::shipping::{ShipmentDispatched, ShipmentView};

pub(crate) fn shipment_key(order_id: &str) -> String {
    format!("shipment/{order_id}")
}

/// `orders.confirmed.v1`: orders has committed to deliver the order, so it is dispatched
/// at once — one shipment per order: a confirmation told again, under any id, ships
/// nothing more. Only a confirmation ships: orders confirms no cancelled order, and refuses
/// to cancel a confirmed one. The id and time come from the event, not the clock, so a
/// rebuild recreates the very same shipment.
pub(crate) fn dispatch_confirmed_order(ctx: &mut Context<'_>, confirmed: OrderConfirmed) -> HandlerResult {
    let key = shipment_key(&confirmed.order_id);
    if ctx.get::<ShipmentView>(&key)?.is_some() {
        return Ok(());
    }
    let shipment = ShipmentView {
        shipment_id: ctx.new_id("shipment"),
        order_id: confirmed.order_id,
        customer_id: confirmed.customer_id,
        dispatched_at: ctx.event_time(),
    };
    ctx.put(&key, &shipment)?;
    ctx.emit(&ShipmentDispatched {
        shipment_id: shipment.shipment_id,
        order_id: shipment.order_id,
        customer_id: shipment.customer_id,
    })
}
