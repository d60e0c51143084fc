//! Cancelling: allowed while the order is open — neither confirmed (paid) nor ended.
//! Inventory releases the stock and payments refunds a capture that raced the cancellation,
//! both from `orders.cancelled`; a capture that reaches orders after it confirms nothing
//! (`progress.rs`), so shipping never hears of the order.

use mandate::{Context, HandlerResult, ServiceError};
use schemas::orders::{CancelOrderRequest, OrderCancelled, OrderStatus, OrderView};

use crate::record::{self, OrderRecord};

pub(crate) fn cancel(ctx: &mut Context<'_>, request: CancelOrderRequest) -> Result<OrderView, ServiceError> {
    let mut order = record::load(ctx, &request.order_id)?;
    if !order.placed {
        return Err(ServiceError::not_found(format!("no order {}", request.order_id)));
    }
    if !order.is_open() {
        return Err(refusal(&order));
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

/// 409, saying why: the order is already cancelled, confirmed, or over.
fn refusal(order: &OrderRecord) -> ServiceError {
    let id = &order.order_id;
    ServiceError::conflict(match order.status() {
        OrderStatus::Cancelled => format!("order {id} is already cancelled"),
        OrderStatus::Paid => {
            format!("order {id} is paid and confirmed for delivery: it can no longer be cancelled")
        }
        ended => format!(
            "order {id} has already ended ({}): it can no longer be cancelled",
            record::status_name(ended)
        ),
    })
}

/// Its own `orders.cancelled`: a no-op after the command, the cancellation's rebirth in a
/// rebuild (the same step: same time, same reason).
pub(crate) fn record_cancelled(ctx: &mut Context<'_>, cancelled: OrderCancelled) -> HandlerResult {
    let mut order = record::load(ctx, &cancelled.order_id)?;
    order.advance(OrderStatus::Cancelled, ctx.event_time(), &cancelled.reason);
    record::save(ctx, &order)?;
    Ok(())
}
