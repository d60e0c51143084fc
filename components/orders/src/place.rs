//! Placing an order: validate against orders' own price list, remember the idempotency key,
//! emit `orders.placed`. The command writes the order at once (read-your-writes); the
//! handler of its own `placed` event writes the same thing again only when it is missing,
//! which is what a rebuild needs.

use mandate::{Context, HandlerResult, ServiceError};
use schemas::orders::{OrderLine, OrderPlaced, OrderStatus, OrderView, PlaceOrderRequest};

use crate::prices;
use crate::record::{self, OrderRecord};

pub(crate) fn idempotency_key(key: &str) -> String {
    format!("idempotency/{key}")
}

/// Orders of a customer, oldest first: order ids are UUIDv7, which sort by time.
pub(crate) fn customer_key(customer_id: &str, order_id: &str) -> String {
    format!("customer/{customer_id}/{order_id}")
}

pub(crate) fn place(ctx: &mut Context<'_>, request: PlaceOrderRequest) -> Result<OrderView, ServiceError> {
    if request.idempotency_key.trim().is_empty() {
        return Err(ServiceError::bad_request("idempotency_key is empty"));
    }
    if let Some(order_id) = ctx.get::<String>(&idempotency_key(&request.idempotency_key))? {
        // The same request again: the first order, whatever this one says.
        let first = record::load(ctx, &order_id)?;
        return first
            .into_view()
            .ok_or_else(|| ServiceError::internal(format!("order {order_id} of this key is incomplete")));
    }
    if request.customer_id.trim().is_empty() {
        return Err(ServiceError::bad_request("customer_id is empty"));
    }
    let (lines, total_minor, currency) = price_lines(ctx, &request)?;

    let order_id = ctx.new_id("order");
    let placed_at = ctx.event_time();
    let placed = OrderPlaced {
        order_id: order_id.clone(),
        customer_id: request.customer_id,
        lines,
        total_minor,
        currency,
        payment_token: request.payment_token,
        idempotency_key: request.idempotency_key,
        placed_at,
    };
    let record = remember(ctx, &placed)?;
    ctx.emit(&placed).map_err(|e| ServiceError::internal(e.to_string()))?;
    record
        .into_view()
        .ok_or_else(|| ServiceError::internal("the new order is incomplete"))
}

/// Prices every line from orders' own price list; refuses what it cannot price.
fn price_lines(ctx: &Context<'_>, request: &PlaceOrderRequest) -> Result<(Vec<OrderLine>, i64, String), ServiceError> {
    if request.lines.is_empty() {
        return Err(ServiceError::bad_request("the cart is empty: add at least one line"));
    }
    let mut lines = Vec::with_capacity(request.lines.len());
    let mut total: i64 = 0;
    let mut currency: Option<String> = None;
    for line in &request.lines {
        if line.quantity == 0 {
            return Err(ServiceError::bad_request(format!(
                "quantity of {} must be at least 1",
                line.sku
            )));
        }
        let price = prices::lookup(ctx, &line.sku)?
            .ok_or_else(|| ServiceError::bad_request(format!("unknown sku {:?}", line.sku)))?;
        match &currency {
            Some(c) if *c != price.currency => {
                return Err(ServiceError::bad_request(format!(
                    "{} is priced in {}, the rest of the cart in {c}: one currency per order",
                    line.sku, price.currency
                )));
            }
            _ => currency = Some(price.currency.clone()),
        }
        let line_total = price
            .unit_price_minor
            .checked_mul(i64::from(line.quantity))
            .and_then(|t| total.checked_add(t))
            .ok_or_else(|| ServiceError::bad_request("the order total is too large"))?;
        total = line_total;
        lines.push(OrderLine {
            sku: line.sku.clone(),
            quantity: line.quantity,
            unit_price_minor: price.unit_price_minor,
        });
    }
    Ok((lines, total, currency.unwrap_or_default()))
}

/// Writes what `placed` says: the order's details, its idempotency key, the customer index.
fn remember(ctx: &mut Context<'_>, placed: &OrderPlaced) -> Result<OrderRecord, mandate::StoreError> {
    let mut record = record::load(ctx, &placed.order_id)?;
    record.customer_id = placed.customer_id.clone();
    record.lines = placed.lines.clone();
    record.total_minor = placed.total_minor;
    record.currency = placed.currency.clone();
    record.placed = true;
    record.advance(OrderStatus::Placed, placed.placed_at.clone(), "");
    record::save(ctx, &record)?;
    if !placed.idempotency_key.is_empty() {
        ctx.put(&idempotency_key(&placed.idempotency_key), &placed.order_id)?;
    }
    ctx.put(&customer_key(&placed.customer_id, &placed.order_id), &placed.order_id)?;
    Ok(record)
}

/// Its own `orders.placed`: a no-op after the command, the order's rebirth in a rebuild.
pub(crate) fn record_placed(ctx: &mut Context<'_>, placed: OrderPlaced) -> HandlerResult {
    if record::load(ctx, &placed.order_id)?.placed {
        return Ok(());
    }
    remember(ctx, &placed)?;
    Ok(())
}
