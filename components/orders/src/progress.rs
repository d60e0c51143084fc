//! What inventory, payments and shipping say about an order. Each event moves the order
//! forward (or changes nothing); none can move it back, and a fact told twice counts once
//! (`record.rs`).
//!
//! One of them is where orders decides: payments' capture. Orders is the authority on an
//! order's lifecycle, so whether a paid order will be delivered is its decision, told on
//! its own stream as `orders.confirmed` — the stream that also tells `orders.cancelled`.
//! Shipping dispatches only confirmed orders; `cancel` is refused once an order is
//! confirmed, and a capture confirms nothing once it is cancelled. So no cancelled order
//! ships, whatever the race between a cancellation and a capture.

use mandate::{Context, HandlerResult};
use schemas::inventory::{StockRejected, StockReserved};
use schemas::orders::{OrderCompleted, OrderConfirmed, OrderStatus};
use schemas::payments::{PaymentCaptured, PaymentDeclined};
use schemas::shipping::ShipmentDispatched;

use crate::record::{self, OrderRecord};

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

/// `payments.captured.v1`: an open order (placed or reserved) is confirmed — it becomes
/// `paid` and `orders.confirmed` tells shipping to deliver it. An order that is cancelled
/// (or has ended, or is already confirmed) only notes the capture; payments refunds the
/// capture of a cancelled order on `orders.cancelled`.
///
/// While a rebuild re-applies the capture nothing is decided: the first run's decision is
/// on orders' own stream (`orders.confirmed`, or the `orders.cancelled` that made it
/// refuse) and comes back through [`record_confirmed`] or the cancellation's handler. The
/// two streams are re-read by separate consumers, so deciding here could meet an order
/// whose cancellation is not re-applied yet.
pub(crate) fn captured(ctx: &mut Context<'_>, captured: PaymentCaptured) -> HandlerResult {
    let mut order = record::load(ctx, &captured.order_id)?;
    order.note_payment(&captured.payment_id);
    if order.placed && order.is_open() && !ctx.is_replaying() {
        let confirmed = confirmation(&order, &captured.payment_id, ctx.event_time());
        order.advance(OrderStatus::Paid, confirmed.confirmed_at.clone(), "");
        ctx.emit(&confirmed)?;
    }
    record::save(ctx, &order)?;
    Ok(())
}

fn confirmation(order: &OrderRecord, payment_id: &str, at: String) -> OrderConfirmed {
    OrderConfirmed {
        order_id: order.order_id.clone(),
        customer_id: order.customer_id.clone(),
        payment_id: payment_id.to_owned(),
        lines: order.lines.clone(),
        total_minor: order.total_minor,
        currency: order.currency.clone(),
        confirmed_at: at,
    }
}

/// Its own `orders.confirmed.v1`: a no-op after the capture's handler decided it, the
/// decision's rebirth in a rebuild — `paid` at the capture's time, as the first run
/// recorded it.
pub(crate) fn record_confirmed(ctx: &mut Context<'_>, confirmed: OrderConfirmed) -> HandlerResult {
    let mut order = record::load(ctx, &confirmed.order_id)?;
    order.note_payment(&confirmed.payment_id);
    let at = if confirmed.confirmed_at.is_empty() {
        ctx.event_time()
    } else {
        confirmed.confirmed_at
    };
    order.advance(OrderStatus::Paid, at, "");
    record::save(ctx, &order)?;
    Ok(())
}

pub(crate) fn declined(ctx: &mut Context<'_>, event: PaymentDeclined) -> HandlerResult {
    advance(ctx, &event.order_id, OrderStatus::PaymentDeclined, &event.reason)?;
    Ok(())
}

/// Dispatched means confirmed and on its way: the order is complete. (A history from
/// before orders confirmed may hold a dispatch of a cancelled order: the cancellation
/// stands, `record.rs`.)
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
