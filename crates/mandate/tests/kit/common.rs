//! Test components built on the kit, and helpers to watch the bus.

use std::future::Future;
use std::time::Duration;

use mandate::{
    Bus, Component, ConnectionOptions, Context, HandlerResult, Operation, Options, Running, ServiceError, View,
};
use schemas::inventory::{Shortage, SkuQuantity, StockRejected, StockReserved};
use schemas::orders::{GetOrder, OrderLine, OrderPlaced, OrderStatus, OrderView, PlaceOrder, PlaceOrderRequest};
use serde::{Deserialize, Serialize};
use testkit::NatsServer;

/// A server, a data directory and a client for one test.
pub struct Harness {
    pub server: NatsServer,
    pub dir: tempfile::TempDir,
    pub bus: Bus,
}

impl Harness {
    pub async fn new() -> Harness {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
            .with_test_writer()
            .try_init();
        let server = NatsServer::start();
        let bus = Bus::connect(&ConnectionOptions::new(server.url()), "test")
            .await
            .expect("connects");
        Harness {
            server,
            dir: tempfile::tempdir().expect("tempdir"),
            bus,
        }
    }

    /// Options for a component: quick retries, small batches.
    pub fn options(&self) -> Options {
        let mut options = Options::new(self.server.url(), self.dir.path());
        options.batch_size = 16;
        options.max_attempts = 3;
        options.retry_backoff = Duration::from_millis(10);
        options
    }

    pub async fn start(&self, component: Component) -> Running {
        self.start_with(component, self.options()).await
    }

    pub async fn start_with(&self, component: Component, options: Options) -> Running {
        component.start(options).await.expect("component starts")
    }

    /// Messages currently in `stream` (0 when it does not exist).
    pub async fn stream_messages(&self, stream: &str) -> u64 {
        match self.bus.jetstream().get_stream(stream).await {
            Ok(mut stream) => stream.info().await.expect("stream info").state.messages,
            Err(_) => 0,
        }
    }

    /// Every message in `stream`, in order, through an ephemeral ordered consumer.
    pub async fn read_stream(&self, stream: &str) -> Vec<async_nats::Message> {
        use async_nats::jetstream::consumer::{DeliverPolicy, pull};
        use futures::StreamExt;
        let total = self.stream_messages(stream).await as usize;
        if total == 0 {
            return Vec::new();
        }
        let stream = self.bus.jetstream().get_stream(stream).await.expect("stream");
        let consumer = stream
            .create_consumer(pull::OrderedConfig {
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .expect("ordered consumer");
        let mut messages = consumer.messages().await.expect("messages");
        let mut out = Vec::new();
        while out.len() < total {
            let message = tokio::time::timeout(Duration::from_secs(5), messages.next())
                .await
                .expect("stream delivers in time")
                .expect("stream open")
                .expect("message");
            out.push(message.message);
        }
        out
    }

    /// Creates an owner's stream as the owner would at start-up (for events published by
    /// the test itself).
    pub async fn create_stream(&self, owner: &str) {
        self.bus
            .jetstream()
            .get_or_create_stream(async_nats::jetstream::stream::Config {
                name: mandate::stream_name(owner),
                subjects: vec![format!("evt.{owner}.>")],
                ..Default::default()
            })
            .await
            .expect("stream created");
    }
}

/// Polls `probe` until it returns `Some`, or panics after `timeout` saying what it waited for.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until `component` reports `applied` for its (single) consumer.
pub async fn wait_applied(bus: &Bus, component: &str, applied: u64) {
    eventually(&format!("{component} to apply up to {applied}"), || async {
        let status = bus.status(component).await.ok()?;
        (status.consumers.iter().map(|c| c.applied_sequence).sum::<u64>() >= applied).then_some(())
    })
    .await
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
