//! Placing an order: validate against orders' own price list, itemise its tax, remember the
//! idempotency key, emit `orders.placed.v2`. The command writes
//! the order at once (read-your-writes); the handler of its own `placed` event writes the
//! same thing again only when it is missing, which is what a rebuild needs.

use mandate::partition::slot_of;
use mandate::{Context, HandlerResult, ServiceError};
use schemas::orders::{OrderLine, OrderLineV2, OrderPlacedV2, OrderStatus, OrderView, PlaceOrderRequest};

use crate::record::{self, OrderRecord};
use crate::{prices, tax};

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
    let (lines, currency) = price_lines(ctx, &request)?;
    let (subtotal_minor, tax_minor, total_minor) = sums(&lines)?;

    let order_id = new_order_id(ctx, &request.idempotency_key);
    let placed_at = ctx.event_time();
    let placed = OrderPlacedV2 {
        order_id: order_id.clone(),
        customer_id: request.customer_id,
        lines,
        currency,
        subtotal_minor,
        tax_minor,
        total_minor,
        payment_token: request.payment_token,
        idempotency_key: request.idempotency_key,
        placed_at,
    };
    placed.check().map_err(ServiceError::internal)?;
    let record = remember(ctx, &placed)?;
    // v2 only: the dual-publish window with v1 is closed (docs/evolution.md).
    ctx.emit(&placed).map_err(|e| ServiceError::internal(e.to_string()))?;
    record
        .into_view()
        .ok_or_else(|| ServiceError::internal("the new order is incomplete"))
}

/// A new order id in the slot of its idempotency key (docs/design.md, "Partitions"): the
/// placing was routed to its partition by that key, and every later call and event about the
/// order is routed by its id, to the same partition for any count of partitions. Still a
/// UUIDv7, so a customer's orders sort by time: fresh ones until one is in the slot (12 on
/// average).
fn new_order_id(ctx: &Context<'_>, idempotency_key: &str) -> String {
    let slot = slot_of(idempotency_key);
    loop {
        let order_id = ctx.new_id("order");
        if slot_of(&order_id) == slot {
            return order_id;
        }
    }
}

/// Prices every line from orders' own price list and itemises the tax it contains at its
/// currency's rate; refuses what it cannot price. Returns the lines and their currency.
fn price_lines(ctx: &Context<'_>, request: &PlaceOrderRequest) -> Result<(Vec<OrderLineV2>, String), ServiceError> {
    if request.lines.is_empty() {
        return Err(ServiceError::bad_request("the cart is empty: add at least one line"));
    }
    let mut lines = Vec::with_capacity(request.lines.len());
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
        let amount = price
            .unit_price_minor
            .checked_mul(i64::from(line.quantity))
            .ok_or_else(too_large)?;
        lines.push(OrderLineV2 {
            sku: line.sku.clone(),
            quantity: line.quantity,
            unit_price_minor: price.unit_price_minor,
            tax_minor: tax::contained(amount, tax::rate_bp(&price.currency)),
            currency: price.currency,
        });
    }
    Ok((lines, currency.unwrap_or_default()))
}

/// (subtotal, tax, total) of priced lines: the total is what the lines cost, tax included.
fn sums(lines: &[OrderLineV2]) -> Result<(i64, i64, i64), ServiceError> {
    let (mut total, mut tax): (i64, i64) = (0, 0);
    for line in lines {
        let amount = line.unit_price_minor.checked_mul(i64::from(line.quantity));
        total = amount.and_then(|a| total.checked_add(a)).ok_or_else(too_large)?;
        tax = tax.checked_add(line.tax_minor).ok_or_else(too_large)?;
    }
    Ok((total - tax, tax, total))
}

fn too_large() -> ServiceError {
    ServiceError::bad_request("the order total is too large")
}

/// Writes what `placed` says: the order's details, its idempotency key, the customer index.
fn remember(ctx: &mut Context<'_>, placed: &OrderPlacedV2) -> Result<OrderRecord, mandate::StoreError> {
    let mut record = record::load(ctx, &placed.order_id)?;
    record.customer_id = placed.customer_id.clone();
    record.lines = placed.lines.iter().map(OrderLine::from).collect();
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

/// Its own `orders.placed` — v2, or v1 through the contract's upcast (`lib.rs`): a no-op
/// after the command, the order's rebirth in a rebuild. An order is remembered once, from
/// whichever of its two events comes first: both say the same lines, total and currency,
/// which is all an order record keeps.
pub(crate) fn record_placed(ctx: &mut Context<'_>, placed: OrderPlacedV2) -> HandlerResult {
    if record::load(ctx, &placed.order_id)?.placed {
        return Ok(());
    }
    remember(ctx, &placed)?;
    Ok(())
}
