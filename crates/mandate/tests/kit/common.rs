//! Test components built on the kit, and helpers to watch the bus.

use mandate::{Bus, Component, Context, HandlerResult, Operation, ServiceError, View};
use schemas::inventory::{Shortage, SkuQuantity, StockRejected, StockReserved};
use schemas::orders::{GetOrder, OrderLine, OrderPlaced, OrderStatus, OrderView, PlaceOrder, PlaceOrderRequest};
use serde::{Deserialize, Serialize};

pub use testkit::{Harness, eventually};

/// Waits until `component` reports `applied` for its (single) consumer.
pub async fn wait_applied(bus: &Bus, component: &str, applied: u64) {
    eventually(&format!("{component} to apply up to {applied}"), || async {
        let status = bus.status(component).await.ok()?;
        (status.consumers.iter().map(|c| c.applied_sequence).sum::<u64>() >= applied).then_some(())
    })
    .await
}

/// What `component`'s outbox holds, as its admin status says; none while it does not answer.
pub async fn outbox_depth(h: &Harness, component: &str) -> Option<u64> {
    Some(h.bus.status(component).await.ok()?.outbox_depth)
}

pub fn placed(order: &str, customer: &str, sku: &str, quantity: u32) -> OrderPlaced {
    OrderPlaced {
        order_id: order.into(),
        customer_id: customer.into(),
        lines: vec![OrderLine {
            sku: sku.into(),
            quantity,
            unit_price_minor: 100,
        }],
        total_minor: 100 * i64::from(quantity),
        currency: "EUR".into(),
        payment_token: String::new(),
        idempotency_key: order.into(),
        placed_at: String::new(),
    }
}

// ---- a small inventory: 10 of every sku; reserves whole orders or rejects them ----------

pub const INITIAL_STOCK: u32 = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockRequest {
    pub sku: String,
}

/// A test-local query of the test inventory.
pub struct GetStock;

impl Operation for GetStock {
    const OWNER: &'static str = "inventory";
    const NAME: &'static str = "test-stock";
    const VERSION: u32 = 1;
    type Request = StockRequest;
    type Response = u32;
}

pub fn inventory() -> Component {
    Component::new("inventory")
        .publishes::<StockReserved>()
        .publishes::<StockRejected>()
        .on::<OrderPlaced>(reserve)
        .query::<GetStock>(|view: &View, request: StockRequest| Ok(stock(view.get(&format!("stock/{}", request.sku))?)))
}

fn stock(remaining: Option<u32>) -> u32 {
    remaining.unwrap_or(INITIAL_STOCK)
}

/// Customers named `poison` make the handler fail, `panic` make it panic.
fn reserve(ctx: &mut Context<'_>, order: OrderPlaced) -> HandlerResult {
    match order.customer_id.as_str() {
        "poison" => return Err("the poison customer always fails".into()),
        "panic" => panic!("the panic customer panics"),
        _ => {}
    }
    let mut shortages = Vec::new();
    let mut remaining = Vec::new();
    for line in &order.lines {
        let available = stock(ctx.get(&format!("stock/{}", line.sku))?);
        if available < line.quantity {
            shortages.push(Shortage {
                sku: line.sku.clone(),
                requested: line.quantity,
                available,
            });
        }
        remaining.push((line.sku.clone(), available.saturating_sub(line.quantity)));
    }
    if shortages.is_empty() {
        for (sku, left) in remaining {
            ctx.put(&format!("stock/{sku}"), &left)?;
        }
        ctx.emit(&StockReserved {
            customer_id: order.customer_id.clone(),
            amount_minor: order.total_minor,
            currency: order.currency.clone(),
            payment_token: order.payment_token.clone(),
            order_id: order.order_id,
            lines: order
                .lines
                .iter()
                .map(|l| SkuQuantity {
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                })
                .collect(),
        })
    } else {
        ctx.emit(&StockRejected {
            customer_id: order.customer_id,
            order_id: order.order_id,
            reason: "out of stock".into(),
            shortages,
        })
    }
}

// ---- a small orders: places orders (command), follows them through inventory's events ----

pub fn orders() -> Component {
    Component::new("orders")
        .publishes::<OrderPlaced>()
        .command::<PlaceOrder>(place)
        .query::<GetOrder>(get_order)
        .on::<StockReserved>(|ctx, e: StockReserved| advance(ctx, &e.order_id, OrderStatus::Reserved))
        .on::<StockRejected>(|ctx, e: StockRejected| advance(ctx, &e.order_id, OrderStatus::Rejected))
}

fn place(ctx: &mut Context<'_>, request: PlaceOrderRequest) -> Result<OrderView, ServiceError> {
    if request.lines.is_empty() {
        return Err(ServiceError::bad_request("the cart is empty"));
    }
    let key = format!("order/{}", request.idempotency_key);
    if let Some(existing) = ctx.get::<OrderView>(&key)? {
        return Ok(existing);
    }
    let lines: Vec<OrderLine> = request
        .lines
        .iter()
        .map(|l| OrderLine {
            sku: l.sku.clone(),
            quantity: l.quantity,
            unit_price_minor: 100,
        })
        .collect();
    let view = OrderView {
        order_id: request.idempotency_key.clone(),
        customer_id: request.customer_id.clone(),
        status: OrderStatus::Placed,
        total_minor: lines.iter().map(|l| l.unit_price_minor * i64::from(l.quantity)).sum(),
        lines,
        currency: "EUR".into(),
        history: Vec::new(),
    };
    ctx.put(&key, &view)?;
    ctx.emit(&OrderPlaced {
        order_id: view.order_id.clone(),
        customer_id: view.customer_id.clone(),
        lines: view.lines.clone(),
        total_minor: view.total_minor,
        currency: view.currency.clone(),
        payment_token: request.payment_token,
        idempotency_key: request.idempotency_key.clone(),
        placed_at: ctx.event_time(),
    })
    .map_err(|e| ServiceError::internal(e.to_string()))?;
    Ok(view)
}

fn advance(ctx: &mut Context<'_>, order_id: &str, status: OrderStatus) -> HandlerResult {
    ctx.put(&format!("status/{order_id}"), &status)?;
    Ok(())
}

fn get_order(view: &View, request: schemas::orders::GetOrderRequest) -> Result<OrderView, ServiceError> {
    let mut order: OrderView = view
        .get(&format!("order/{}", request.order_id))?
        .ok_or_else(|| ServiceError::not_found(format!("no order {}", request.order_id)))?;
    if let Some(status) = view.get(&format!("status/{}", request.order_id))? {
        order.status = status;
    }
    Ok(order)
}

pub fn place_request(key: &str, customer: &str, sku: &str, quantity: u32) -> PlaceOrderRequest {
    PlaceOrderRequest {
        idempotency_key: key.into(),
        customer_id: customer.into(),
        lines: vec![schemas::orders::LineRequest {
            sku: sku.into(),
            quantity,
        }],
        payment_token: String::new(),
    }
}

/// An order of `lines` lines of one unit each (sku `sku-00000`, `sku-00001`, ...): its
/// `orders.placed.v1` is about twice the size of the request.
pub fn large_request(key: &str, lines: usize) -> PlaceOrderRequest {
    PlaceOrderRequest {
        idempotency_key: key.into(),
        customer_id: "bulk".into(),
        lines: (0..lines)
            .map(|i| schemas::orders::LineRequest {
                sku: format!("sku-{i:05}"),
                quantity: 1,
            })
            .collect(),
        payment_token: String::new(),
    }
}

/// The size NATS counts against `max_payload`: the payload plus the encoded header block
/// (`NATS/1.0\r\n`, a `name: value\r\n` line per value, `\r\n`).
pub fn wire_size(headers: Option<&async_nats::HeaderMap>, payload: usize) -> usize {
    let block = headers.filter(|h| !h.is_empty()).map_or(0, |headers| {
        let lines: usize = headers
            .iter()
            .flat_map(|(name, values)| {
                values
                    .iter()
                    .map(move |v| name.to_string().len() + 2 + v.as_str().len() + 2)
            })
            .sum();
        "NATS/1.0\r\n".len() + lines + 2
    });
    block + payload
}

/// A header of `message` as text ("" when absent).
pub fn header(message: &async_nats::Message, name: &str) -> String {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str().to_owned())
        .unwrap_or_default()
}
