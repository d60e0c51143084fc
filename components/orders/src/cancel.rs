//! Cancelling: allowed until the order is paid. Inventory releases the stock and payments
//! refunds a charge that raced the cancellation, both from `orders.cancelled`.

use mandate::{Context, HandlerResult, ServiceError};
use schemas::orders::{CancelOrderRequest, OrderCancelled, OrderStatus, OrderView};

use crate::record;

pub(crate) fn cancel(ctx: &mut Context<'_>, request: CancelOrderRequest) -> Result<OrderView, ServiceError> {
    let mut order = record::load(ctx, &request.order_id)?;
    if !order.placed {
        return Err(ServiceError::not_found(format!("no order {}", request.order_id)));
    }
    match order.status() {
        OrderStatus::Placed | OrderStatus::Reserved => {}
        OrderStatus::Cancelled => {
            // Cancelling twice is asking for what is already true.
            return order
                .into_view()
                .ok_or_else(|| ServiceError::internal("incomplete order"));
        }
        other => {
            return Err(ServiceError::conflict(format!(
                "order {} is {} and can no longer be cancelled",
                request.order_id,
                record::status_name(other)
            )));
        }
    }
    let reason = if request.reason.trim().is_empty() {
        "cancelled by the customer".to_owned()
    } else {
        request.reason
    };
    order.advance(OrderStatus::Cancelled, ctx.event_time(), &reason);
    record::save(ctx, &order)?;
    ctx.emit(&OrderCancelled {
        order_id: order.order_id.clone(),
        customer_id: order.customer_id.clone(),
        reason,
    })
    .map_err(|e| ServiceError::internal(e.to_string()))?;
    order
        .into_view()
        .ok_or_else(|| ServiceError::internal("incomplete order"))
}

/// Its own `orders.cancelled`: a no-op after the command, the cancellation's rebirth in a
/// rebuild.
pub(crate) fn record_cancelled(ctx: &mut Context<'_>, cancelled: OrderCancelled) -> HandlerResult {
    let mut order = record::load(ctx, &cancelled.order_id)?;
    if order.history.iter().any(|h| h.status == OrderStatus::Cancelled) {
        return Ok(());
    }
    order.advance(OrderStatus::Cancelled, ctx.event_time(), &cancelled.reason);
    record::save(ctx, &order)?;
    Ok(())
}
