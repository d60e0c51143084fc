//! The storefront's `orders` component: orders, their status history, and orders' own price
//! list.
//!
//! The mandate in one component: orders never asks catalog for a price — it keeps its own
//! price list from catalog's `product-upserted` events — and learns what happened to an order
//! only from the events of inventory, payments and shipping.
//!
//! Orders is the authority on an order's lifecycle: it alone decides that an order is
//! cancelled (`cancel.rs`) or confirmed for delivery (`progress.rs`), and tells both on its
//! own stream, where order holds. Shipping dispatches only confirmed orders.

mod cancel;
mod place;
mod prices;
mod progress;
mod queries;
mod record;
mod tax;

use mandate::Component;
use schemas::catalog::ProductUpserted;
use schemas::inventory::{StockRejected, StockReserved};
use schemas::orders::{
    CancelOrder, GetOrder, ListOrders, OrderCancelled, OrderCompleted, OrderConfirmed, OrderPlaced, OrderPlacedV2,
    PlaceOrder,
};
use schemas::payments::{PaymentCaptured, PaymentDeclined};
use schemas::shipping::ShipmentDispatched;

/// The component: everything it publishes, subscribes to and serves, in one place.
pub fn component() -> Component {
    Component::new("orders")
        .version(env!("CARGO_PKG_VERSION"))
        .description("orders, their status history and orders' own price list")
        // Three processes, each the orders of a third of the slots (docs/design.md,
        // "Partitions"); catalog's prices reach all of them.
        .partitioned_by("order", 3)
        // v2 only since every reader reads v2 (docs/evolution.md, "When v1 stopped"); the
        // stream still holds v1 history, which the handler below reads.
        .publishes::<OrderPlacedV2>()
        .publishes::<OrderCancelled>()
        .publishes::<OrderConfirmed>()
        .publishes::<OrderCompleted>()
        .command::<PlaceOrder>(place::place)
        .command::<CancelOrder>(cancel::cancel)
        .query::<GetOrder>(queries::get)
        .query::<ListOrders>(queries::list)
        .gathered::<ListOrders>(queries::merge_pages)
        // Its own events: what the commands did, applied as they are emitted (the kit reads
        // them back only in a rebuild, which redoes it from them).
        .on::<OrderPlacedV2>(place::record_placed)
        // v1 history (from before the migration, or the twin of a v2 in the window): the
        // contract's upcast.
        .on::<OrderPlaced>(|ctx, v1: OrderPlaced| place::record_placed(ctx, v1.into()))
        .on::<OrderCancelled>(cancel::record_cancelled)
        .on::<OrderConfirmed>(progress::record_confirmed)
        .on::<ProductUpserted>(prices::record_price)
        .on::<StockReserved>(progress::reserved)
        .on::<StockRejected>(progress::rejected)
        .on::<PaymentCaptured>(progress::captured)
        .on::<PaymentDeclined>(progress::declined)
        .on::<ShipmentDispatched>(progress::dispatched)
}
