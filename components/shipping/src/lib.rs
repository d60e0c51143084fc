//! The storefront's `shipping` component: shipments; dispatches every order that orders
//! confirmed.
//!
//! Orders is the authority on an order's lifecycle: shipping does not decide whether a paid
//! order may ship (a capture can race a cancellation), it follows orders' decision,
//! `orders.confirmed`. Shipping reads that one stream and decides nothing that depends on
//! another, so re-reading it in a rebuild re-creates every shipment exactly: its id is
//! derived from the confirmation and its time is that event's time.

mod dispatch;
mod queries;

use mandate::Component;
use schemas::orders::OrderConfirmed;
use schemas::shipping::{GetShipment, ShipmentDispatched};

/// The component: everything it publishes, subscribes to and serves, in one place.
pub fn component() -> Component {
    Component::new("shipping")
        .version(env!("CARGO_PKG_VERSION"))
        .description("shipments: dispatches every order that orders confirmed")
        .publishes::<ShipmentDispatched>()
        .on::<OrderConfirmed>(dispatch::dispatch_confirmed_order)
        .query::<GetShipment>(queries::get_shipment)
}
