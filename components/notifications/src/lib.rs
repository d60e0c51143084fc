//! The storefront's `notifications` component: the messages sent to customers about their
//! orders.
//!
//! One message per customer-facing event, whichever owner published it (one per placed
//! order, whichever version of `orders.placed` tells it: `placements.rs`), kept per customer
//! in time order (`inbox.rs`). Events from different owners arrive in any order; sorting by
//! each event's own time, not by arrival, puts "on its way" after "we have your order"
//! even when shipping's stream is read first. Notifications decides nothing and publishes
//! nothing, so re-reading the streams in a rebuild rewrites exactly the same messages.

mod inbox;
mod messages;
mod money;
mod placements;
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
        // One message per order from either version (`placements.rs`); v1 through the
        // contract's upcast.
        .on::<OrderPlacedV2>(|ctx, e: OrderPlacedV2| placements::placed(ctx, e, 2))
        .on::<OrderPlaced>(|ctx, e: OrderPlaced| placements::placed(ctx, e.into(), 1))
        .on::<OrderCancelled>(|ctx, e: OrderCancelled| inbox::tell(ctx, messages::cancelled(&e)))
        .on::<OrderCompleted>(|ctx, e: OrderCompleted| inbox::tell(ctx, messages::completed(&e)))
        .on::<StockRejected>(|ctx, e: StockRejected| inbox::tell(ctx, messages::rejected(&e)))
        .on::<PaymentDeclined>(|ctx, e: PaymentDeclined| inbox::tell(ctx, messages::declined(&e)))
        .on::<PaymentRefunded>(|ctx, e: PaymentRefunded| inbox::tell(ctx, messages::refunded(&e)))
        .on::<ShipmentDispatched>(|ctx, e: ShipmentDispatched| inbox::tell(ctx, messages::dispatched(&e)))
        .query::<ListNotifications>(queries::list_notifications)
}
