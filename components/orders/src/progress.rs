//! What inventory, payments and shipping say about an order. Each event moves the order
//! forward (or only adds to its history); none can move it back.

use mandate::{Context, HandlerResult};
use schemas::inventory::{StockRejected, StockReserved};
use schemas::orders::{OrderCompleted, OrderStatus};
use schemas::payments::{PaymentCaptured, PaymentDeclined};
use schemas::shipping::ShipmentDispatched;

use crate::record;

fn advance(
    ctx: &mut Context<'_>,
    order_id: &str,
    status: OrderStatus,
    note: &str,
) -> Result<bool, mandate::StoreError> {
    let mut order = record::load(ctx, order_id)?;
    let moved = order.advance(status, ctx.event_time(), note);
    record::save(ctx, &order)?;
    Ok(moved)
}

pub(crate) fn reserved(ctx: &mut Context<'_>, event: StockReserved) -> HandlerResult {
    advance(ctx, &event.order_id, OrderStatus::Reserved, "")?;
    Ok(())
}

pub(crate) fn rejected(ctx: &mut Context<'_>, event: StockRejected) -> HandlerResult {
    advance(ctx, &event.order_id, OrderStatus::Rejected, &event.reason)?;
    Ok(())
}

pub(crate) fn captured(ctx: &mut Context<'_>, event: PaymentCaptured) -> HandlerResult {
    advance(ctx, &event.order_id, OrderStatus::Paid, "")?;
    Ok(())
}

pub(crate) fn declined(ctx: &mut Context<'_>, event: PaymentDeclined) -> HandlerResult {
    advance(ctx, &event.order_id, OrderStatus::PaymentDeclined, &event.reason)?;
    Ok(())
}

/// Dispatched means paid and on its way: the order is complete — unless it was cancelled
/// first, in which case payments has refunded it and it stays cancelled.
pub(crate) fn dispatched(ctx: &mut Context<'_>, event: ShipmentDispatched) -> HandlerResult {
    let mut order = record::load(ctx, &event.order_id)?;
    if order.advance(OrderStatus::Completed, ctx.event_time(), "") && order.placed {
        ctx.emit(&OrderCompleted {
            order_id: order.order_id.clone(),
            customer_id: order.customer_id.clone(),
            total_minor: order.total_minor,
            currency: order.currency.clone(),
        })?;
    }
    record::save(ctx, &order)?;
    Ok(())
}
