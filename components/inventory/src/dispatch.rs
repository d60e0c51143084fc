//! Stock leaving the warehouse.

use mandate::{Context, HandlerResult};
use schemas::shipping::ShipmentDispatched;

use crate::reservation::change;

/// `shipping.dispatched.v1`: a held order's stock moves from reserved to shipped. The
/// dispatch is recorded as a fact whatever the state; the reservation's state decides what
/// it means: nothing for an order already released (stock that went back on hand is not
/// shipped), and, in a rebuild where the dispatch arrives before the reservation is
/// re-applied, "shipped" as soon as it is. Inventory announces nothing here.
pub(crate) fn ship_dispatched_order(ctx: &mut Context<'_>, dispatched: ShipmentDispatched) -> HandlerResult {
    change(ctx, &dispatched.order_id, |r| {
        r.learn_customer(&dispatched.customer_id);
        r.dispatched = true;
    })?;
    Ok(())
}
