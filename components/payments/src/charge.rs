//! Charging an order once inventory has reserved it.

use mandate::{Context, HandlerResult};
use schemas::inventory::StockReserved;
use schemas::payments::{PaymentCaptured, PaymentDeclined};

use crate::ledger::{self, Outcome, change};
use crate::provider;

/// `inventory.reserved.v1`: captures or declines the order's amount — once per order.
///
/// If orders cancelled the order first, the charge is voided: nothing is taken and nothing
/// announced. While a rebuild re-applies the event, the charge is only noted as due: the
/// first run's outcome is on payments' own stream and comes back through
/// [`apply_captured`] / [`apply_declined`] (charging again could differ, and must not
/// happen twice anyway).
pub(crate) fn charge_reserved_order(ctx: &mut Context<'_>, reserved: StockReserved) -> HandlerResult {
    if ledger::load(ctx, &reserved.order_id)?.is_some_and(|p| p.is_settled()) {
        return Ok(());
    }
    let payment = change(ctx, &reserved.order_id, |p| {
        p.charge_due = true;
        p.learn(&reserved.customer_id, reserved.amount_minor, &reserved.currency);
    })?;
    if payment.cancelled || ctx.is_replaying() {
        return Ok(());
    }
    match provider::charge(&reserved.payment_token, reserved.amount_minor, &reserved.currency) {
        Ok(()) => {
            let payment_id = ctx.new_id("payment");
            change(ctx, &reserved.order_id, |p| {
                p.decide(Outcome::Captured {
                    payment_id: payment_id.clone(),
                })
            })?;
            ctx.emit(&PaymentCaptured {
                payment_id,
                order_id: reserved.order_id,
                customer_id: reserved.customer_id,
                amount_minor: reserved.amount_minor,
                currency: reserved.currency,
            })
        }
        Err(reason) => {
            change(ctx, &reserved.order_id, |p| {
                p.decide(Outcome::Declined { reason: reason.clone() })
            })?;
            ctx.emit(&PaymentDeclined {
                order_id: reserved.order_id,
                customer_id: reserved.customer_id,
                amount_minor: reserved.amount_minor,
                currency: reserved.currency,
                reason,
            })
        }
    }
}

/// Payments' own `captured.v1`: already recorded when it was decided; recorded here when
/// the ledger is being rebuilt.
pub(crate) fn apply_captured(ctx: &mut Context<'_>, captured: PaymentCaptured) -> HandlerResult {
    change(ctx, &captured.order_id, |p| {
        p.learn(&captured.customer_id, captured.amount_minor, &captured.currency);
        p.decide(Outcome::Captured {
            payment_id: captured.payment_id,
        });
    })?;
    Ok(())
}

/// Payments' own `declined.v1`, like [`apply_captured`].
pub(crate) fn apply_declined(ctx: &mut Context<'_>, declined: PaymentDeclined) -> HandlerResult {
    change(ctx, &declined.order_id, |p| {
        p.learn(&declined.customer_id, declined.amount_minor, &declined.currency);
        p.decide(Outcome::Declined {
            reason: declined.reason,
        });
    })?;
    Ok(())
}
