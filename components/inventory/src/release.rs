//! Giving held stock back: when the order is cancelled, or its payment declined.

use mandate::{Context, HandlerResult};
use schemas::inventory::StockReleased;
use schemas::orders::OrderCancelled;
use schemas::payments::PaymentDeclined;

use crate::reservation::{self, State, change};

pub(crate) const ORDER_CANCELLED: &str = "order-cancelled";
pub(crate) const PAYMENT_DECLINED: &str = "payment-declined";

/// `orders.cancelled.v1`: a held order's stock goes back on hand. A cancellation that
/// arrives before the order is noted, so the order reserves nothing when it comes. An order
/// already shipped, rejected or released stays as it is.
pub(crate) fn release_cancelled_order(ctx: &mut Context<'_>, cancelled: OrderCancelled) -> HandlerResult {
    release_if_held(ctx, &cancelled.order_id, &cancelled.customer_id, ORDER_CANCELLED)?;
    change(ctx, &cancelled.order_id, |r| {
        r.learn_customer(&cancelled.customer_id);
        r.cancelled = true;
    })?;
    Ok(())
}

/// `payments.declined.v1`: a held order's stock goes back on hand; otherwise nothing.
pub(crate) fn release_declined_payment(ctx: &mut Context<'_>, declined: PaymentDeclined) -> HandlerResult {
    release_if_held(ctx, &declined.order_id, &declined.customer_id, PAYMENT_DECLINED)
}

/// Inventory's own `released.v1`: already applied when it was decided; applied here when
/// the store is being rebuilt. A release wins over a dispatch that arrived first in a
/// rebuild, because in the first run the dispatch came after it and was not counted.
pub(crate) fn apply_released(ctx: &mut Context<'_>, released: StockReleased) -> HandlerResult {
    change(ctx, &released.order_id, |r| {
        r.learn_customer(&released.customer_id);
        r.release(&released.reason);
    })?;
    Ok(())
}

/// Releases the order's stock and announces it, if the order holds stock now.
///
/// While a rebuild re-applies the causing event nothing is decided: if the first run
/// released, that release is on inventory's own stream and comes back through
/// [`apply_released`]; the state seen here may be a half-rebuilt one.
fn release_if_held(ctx: &mut Context<'_>, order_id: &str, customer_id: &str, reason: &str) -> HandlerResult {
    let held = reservation::load(ctx, order_id)?.is_some_and(|r| r.state() == State::Held);
    if !held || ctx.is_replaying() {
        return Ok(());
    }
    let released = change(ctx, order_id, |r| {
        r.learn_customer(customer_id);
        r.release(reason);
    })?;
    ctx.emit(&StockReleased {
        order_id: order_id.to_owned(),
        customer_id: released.customer_id.clone(),
        lines: released.lines().to_vec(),
        reason: reason.to_owned(),
    })
}
