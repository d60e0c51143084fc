//! The storefront's `inventory` component: stock per sku and a reservation per order.
//!
//! Stock is conserved: for every sku, `restocked = on_hand + reserved + shipped`. Only two
//! things move it: a restock (`restock.rs`) and the state of an order's reservation
//! (`reservation.rs`), which decides how much of each sku the order holds or has shipped.
//!
//! Orders, payments and shipping each have their own stream, so their events reach
//! inventory in any order relative to each other and to inventory's own. Every decision
//! inventory makes — reserve, reject, release, restock — is announced on its own stream,
//! and inventory consumes those announcements too: they are what a rebuild re-applies, in
//! their original order, instead of deciding again on a half-rebuilt state.

mod dispatch;
mod queries;
mod release;
mod reservation;
mod reserve;
mod restock;
mod stock;

use mandate::Component;
use schemas::inventory::{GetStock, Restock, Restocked, StockRejected, StockReleased, StockReserved};
use schemas::orders::{OrderCancelled, OrderPlaced, OrderPlacedV2};
use schemas::payments::PaymentDeclined;
use schemas::shipping::ShipmentDispatched;

/// The component: everything it publishes, subscribes to and serves, in one place.
pub fn component() -> Component {
    Component::new("inventory")
        .version(env!("CARGO_PKG_VERSION"))
        .description("stock per sku and reservations per order")
        .publishes::<Restocked>()
        .publishes::<StockReserved>()
        .publishes::<StockRejected>()
        .publishes::<StockReleased>()
        .command::<Restock>(restock::restock)
        .query::<GetStock>(queries::get_stock)
        // Other owners' events: where inventory decides.
        .on::<OrderPlacedV2>(reserve::reserve_order)
        // v1: the history from before the migration, and the twin orders still publishes
        // beside each v2; read through the contract's one upcast.
        .on::<OrderPlaced>(|ctx, v1: OrderPlaced| reserve::reserve_order(ctx, v1.into()))
        .on::<OrderCancelled>(release::release_cancelled_order)
        .on::<PaymentDeclined>(release::release_declined_payment)
        .on::<ShipmentDispatched>(dispatch::ship_dispatched_order)
        // Its own events: what it decided, applied as they are emitted (the kit reads them
        // back only in a rebuild, which re-applies the same decisions).
        .on::<Restocked>(restock::apply_restocked)
        .on::<StockReserved>(reserve::apply_reserved)
        .on::<StockRejected>(reserve::apply_rejected)
        .on::<StockReleased>(release::apply_released)
}
