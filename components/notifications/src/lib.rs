//! The storefront's `notifications` component: the messages sent to customers about their
//! orders.
//!
//! One message per customer-facing fact — an order and a kind of event — whichever owner
//! published it, however often it is told and under whichever ids (one per placed order,
//! whichever version of `orders.placed` tells it), kept per customer in time order
//! (`inbox.rs`). Events from different owners arrive in any order; sorting by
//! each event's own time, not by arrival, puts "on its way" after "we have your order"
//! even when shipping's stream is read first. Notifications decides nothing and publishes
//! nothing, so re-reading the streams in a rebuild rewrites exactly the same messages.

mod inbox;
mod messages;
mod money;
mod queries;
mod sortable_time;

use mandate::Component;
use schemas::inventory::StockRejected;
use schemas::notifications::ListNotifications;
use schemas::orders::{OrderCancelled, OrderCompleted, OrderPlaced, OrderPlacedV2};
use schemas::payments::{PaymentDeclined, PaymentRefunded};
use schemas::shipping::ShipmentDispatched;

/// The component: everything it publishes, subscribes to and serves, in one place.
pub fn component() -> Component {
    Component::new("notifications")
        .version(env!("CARGO_PKG_VERSION"))
        .description("the messages sent to customers about their orders")
        // One message per order from either version (`inbox.rs`: the v2's); v1 through the
        // contract's upcast.
        .on::<OrderPlacedV2>(|ctx, e: OrderPlacedV2| inbox::tell::<OrderPlacedV2>(ctx, messages::placed(&e)))
        .on::<OrderPlaced>(|ctx, e: OrderPlaced| inbox::tell::<OrderPlaced>(ctx, messages::placed(&e.into())))
        .on::<OrderCancelled>(|ctx, e: OrderCancelled| inbox::tell::<OrderCancelled>(ctx, messages::cancelled(&e)))
        .on::<OrderCompleted>(|ctx, e: OrderCompleted| inbox::tell::<OrderCompleted>(ctx, messages::completed(&e)))
        .on::<StockRejected>(|ctx, e: StockRejected| inbox::tell::<StockRejected>(ctx, messages::rejected(&e)))
        .on::<PaymentDeclined>(|ctx, e: PaymentDeclined| inbox::tell::<PaymentDeclined>(ctx, messages::declined(&e)))
        .on::<PaymentRefunded>(|ctx, e: PaymentRefunded| inbox::tell::<PaymentRefunded>(ctx, messages::refunded(&e)))
        .on::<ShipmentDispatched>(|ctx, e: ShipmentDispatched| {
            inbox::tell::<ShipmentDispatched>(ctx, messages::dispatched(&e))
        })
        .query::<ListNotifications>(queries::list_notifications)
}
