//! The storefront's `payments` component: the payment ledger, with a deterministic
//! simulated provider.
//!
//! Payments charges an order when inventory has reserved it, and refunds it when orders
//! cancels it after the charge. Those two owners' events reach payments in any order, so a
//! payment is kept as a set of facts whose state does not depend on their arrival order
//! (`ledger.rs`). Every decision — captured, declined, refunded — is announced on payments'
//! own stream and consumed again, so a rebuild re-applies the first run's decisions
//! instead of deciding anew on a half-rebuilt ledger.

mod charge;
mod ledger;
mod provider;
mod queries;
mod refund;

use mandate::Component;
use schemas::inventory::StockReserved;
use schemas::orders::OrderCancelled;
use schemas::payments::{GetPayment, PaymentCaptured, PaymentDeclined, PaymentRefunded};

/// The component: everything it publishes, subscribes to and serves, in one place.
pub fn component() -> Component {
    Component::new("payments")
        .version(env!("CARGO_PKG_VERSION"))
        .description("the payment ledger, with a deterministic simulated provider")
        // Three processes, each the payments of a third of the orders' slots (docs/design.md,
        // "Partitions"): everything it reads and decides is about one order.
        .partitioned_by("order", 3)
        .publishes::<PaymentCaptured>()
        .publishes::<PaymentDeclined>()
        .publishes::<PaymentRefunded>()
        .query::<GetPayment>(queries::get_payment)
        // Other owners' events: where payments decides.
        .on::<StockReserved>(charge::charge_reserved_order)
        .on::<OrderCancelled>(refund::refund_cancelled_order)
        // Its own events: what it decided, applied as they are emitted (the kit reads them
        // back only in a rebuild, which re-applies the same decisions).
        .on::<PaymentCaptured>(charge::apply_captured)
        .on::<PaymentDeclined>(charge::apply_declined)
        .on::<PaymentRefunded>(refund::apply_refunded)
}
