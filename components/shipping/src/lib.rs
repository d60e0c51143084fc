//! The storefront's `shipping` component: shipments; dispatches every captured payment.
//!
//! Shipping reads one stream (payments') and decides nothing that depends on another, so
//! re-reading that stream in a rebuild re-creates every shipment exactly: its id is derived
//! from the capture event and its time is that event's time.

mod dispatch;
mod queries;

use mandate::Component;
use schemas::payments::PaymentCaptured;
use schemas::shipping::{GetShipment, ShipmentDispatched};

/// The component: everything it publishes, subscribes to and serves, in one place.
pub fn component() -> Component {
    Component::new("shipping")
        .version(env!("CARGO_PKG_VERSION"))
        .description("shipments: dispatches every captured payment")
        .publishes::<ShipmentDispatched>()
        .on::<PaymentCaptured>(dispatch::dispatch_paid_order)
        .query::<GetShipment>(queries::get_shipment)
}
