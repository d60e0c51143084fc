//! Giving a captured payment back when its order is cancelled.

use mandate::{Context, HandlerResult};
use schemas::orders::OrderCancelled;
use schemas::payments::{PaymentRefunded, PaymentStatus};

use crate::ledger::{self, change};

/// `orders.cancelled.v1`: a captured payment is refunded and the refund announced. The
/// cancellation itself is always noted: before any charge it is the marker that voids the
/// charge when it comes; after a decline or a refund it changes nothing.
///
/// While a rebuild re-applies the event nothing is refunded: if the first run refunded,
/// the refund is on payments' own stream and comes back through [`apply_refunded`].
pub(crate) fn refund_cancelled_order(ctx: &mut Context<'_>, cancelled: OrderCancelled) -> HandlerResult {
    let was_captured =
        ledger::load(ctx, &cancelled.order_id)?.is_some_and(|p| p.status() == Some(PaymentStatus::Captured));
    change(ctx, &cancelled.order_id, |p| {
        if p.customer_id.is_empty() {
            p.customer_id.clone_from(&cancelled.customer_id);
        }
        p.cancelled = true;
    })?;
    if !was_captured || ctx.is_replaying() {
        return Ok(());
    }
    let payment = change(ctx, &cancelled.order_id, |p| p.refunded = true)?;
    ctx.emit(&PaymentRefunded {
        payment_id: payment.payment_id().unwrap_or_default().to_owned(),
        order_id: payment.order_id.clone(),
        customer_id: payment.customer_id.clone(),
        amount_minor: payment.amount_minor,
        currency: payment.currency.clone(),
    })
}

/// Payments' own `refunded.v1`: already recorded when it was decided; recorded here when
/// the ledger is being rebuilt.
pub(crate) fn apply_refunded(ctx: &mut Context<'_>, refunded: PaymentRefunded) -> HandlerResult {
    change(ctx, &refunded.order_id, |p| {
        p.learn(&refunded.customer_id, refunded.amount_minor, &refunded.currency);
        p.refunded = true;
    })?;
    Ok(())
}
