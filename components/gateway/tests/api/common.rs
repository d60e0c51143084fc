//! A real nats-server, the gateway served on an ephemeral port, an HTTP client, and small
//! in-test components (built with the kit) that answer the operations the gateway calls the
//! way the contract documents them.

use std::time::Duration;

use gateway::{Gateway, Settings};
use mandate::{Bus, Component, ConnectionOptions, Context, Options, Running, ServiceError, View};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use schemas::catalog::{GetProduct, ListProducts, Product, UpsertProduct};
use schemas::inventory::{GetStock, Restock, RestockRequest, StockView};
use schemas::orders::{
    CancelOrder, GetOrder, ListOrders, OrderLine, OrderStatus, OrderView, PlaceOrder, PlaceOrderRequest, StatusChange,
};
use schemas::paging::{Page, page_size};
use serde_json::Value;
use testkit::NatsServer;
use tokio::sync::oneshot;

/// One test's world.
pub struct Harness {
    pub server: NatsServer,
    pub dir: tempfile::TempDir,
    /// A client of the bus for the test itself (publishing events, silent listeners).
    pub bus: Bus,
    pub http: reqwest::Client,
    base: String,
    /// The gateway's metrics listener (`/metrics`, `/livez`, `/readyz`).
    pub metrics: String,
    _metrics_stop: tokio_util::sync::DropGuard,
    stop: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    components: Vec<Running>,
}

/// An HTTP answer: status, headers and the body as JSON (`Null` when it is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    /// The error `code`, asserting that the body has the error shape.
    pub fn code(&self) -> &str {
        assert_error_shape(self);
        self.body["code"].as_str().unwrap_or_default()
    }

    pub fn message(&self) -> &str {
        assert_error_shape(self);
        self.body["message"].as_str().unwrap_or_default()
    }
}

/// Every error is `{"code": string, "message": string}` served as JSON with a 4xx/5xx.
pub fn assert_error_shape(answer: &Answer) {
    assert!(
        answer.status.is_client_error() || answer.status.is_server_error(),
        "not an error: {answer:?}"
    );
    let content_type = answer
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "error not served as JSON: {answer:?}"
    );
    let object = answer
        .body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not a JSON object: {answer:?}"));
    assert!(
        object["code"].is_string() && object["message"].is_string(),
        "{answer:?}"
    );
    assert_eq!(object.len(), 2, "error body has other fields: {answer:?}");
}

impl Harness {
    pub async fn new() -> Harness {
        Harness::with_settings(Settings::default()).await
    }

    pub async fn with_settings(settings: Settings) -> Harness {
        let server = NatsServer::start();
        let bus = Bus::connect(&ConnectionOptions::new(server.url()), "test")
            .await
            .expect("the test connects");
        let gateway_bus = Bus::connect(&ConnectionOptions::new(server.url()), gateway::NAME)
            .await
            .expect("the gateway connects");
        let gateway = Gateway::start(gateway_bus, settings).await.expect("the gateway starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let metrics_stop = tokio_util::sync::CancellationToken::new();
        let listening = gateway
            .serve_metrics("127.0.0.1:0".parse().expect("an address"), metrics_stop.clone())
            .await
            .expect("the metrics listener starts");
        let metrics = format!("http://{}", listening.addr);
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(gateway.serve(listener, async move {
            let _ = stopped.await;
        }));
        Harness {
            server,
            dir: tempfile::tempdir().expect("tempdir"),
            bus,
            http: reqwest::Client::new(),
            base,
            metrics,
            _metrics_stop: metrics_stop.drop_guard(),
            stop: Some(stop),
            served: Some(served),
            components: Vec::new(),
        }
    }

    /// Starts an in-test component on the harness's server.
    pub async fn start(&mut self, component: Component) {
        let running = component
            .start(Options::new(self.server.url(), self.dir.path()))
            .await
            .expect("component starts");
        self.components.push(running);
    }

    /// Starts the three test components: catalog, inventory and orders.
    pub async fn start_all(&mut self) {
        self.start(catalog()).await;
        self.start(inventory()).await;
        self.start(orders()).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.request(Method::GET, path, None, None).await
    }

    /// A request with an optional JSON body and an optional `Idempotency-Key`.
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>, key: Option<&str>) -> Answer {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        answer(request.send().await.expect("the gateway answers")).await
    }

    /// A request with a raw body and content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        key: Option<&str>,
    ) -> Answer {
        let mut request = self.http.request(method, self.url(path)).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        answer(request.send().await.expect("the gateway answers")).await
    }

    /// Stops the gateway as a signal would, returning how serving ended.
    pub async fn stop_gateway(&mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let served = self.served.take().expect("the gateway is being served");
        tokio::time::timeout(Duration::from_secs(10), served)
            .await
            .expect("the gateway stops within 10 s")
            .expect("the serving task does not panic")
    }

    /// Creates an owner's stream as the owner would at start-up (for events the test publishes).
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

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        text,
    }
}

/// Waits until the server has processed everything `client` sent before (its subscriptions
/// included): a flush only writes them to the socket, a request the server answers itself is
/// a round trip behind them.
pub async fn round_trip(client: &async_nats::Client) {
    client
        .request("$JS.API.INFO", bytes::Bytes::new())
        .await
        .expect("the server answers $JS.API.INFO");
}

pub use testkit::eventually;

// ---- catalog: products by sku, validated as `catalog.upsert-product.v1` documents -----------

pub fn catalog() -> Component {
    Component::new("catalog")
        .command::<UpsertProduct>(|ctx: &mut Context<'_>, product: Product| {
            let currency_ok = product.currency.len() == 3 && product.currency.bytes().all(|b| b.is_ascii_uppercase());
            if product.sku.is_empty() || product.name.is_empty() || product.unit_price_minor < 0 || !currency_ok {
                return Err(ServiceError::bad_request(
                    "a product needs a sku, a name, a price >= 0 and a three-letter currency",
                ));
            }
            ctx.put(&format!("product/{}", product.sku), &product)?;
            Ok(product)
        })
        .query::<GetProduct>(|view: &View, request| {
            view.get(&format!("product/{}", request.sku))?
                .ok_or_else(|| ServiceError::not_found(format!("no product {}", request.sku)))
        })
        .query::<ListProducts>(|view: &View, request| {
            let after = request.after.map(|sku| format!("product/{sku}"));
            let size = page_size(request.limit);
            let items: Vec<Product> = view
                .page("product/", after.as_deref(), size)?
                .into_iter()
                .map(|(_, product)| product)
                .collect();
            let next = (items.len() == size)
                .then(|| items.last().map(|p| p.sku.clone()))
                .flatten();
            Ok(Page { items, next })
        })
}

// ---- inventory: restock (idempotent, quantity > 0) and stock per sku --------------------------

pub fn inventory() -> Component {
    Component::new("inventory")
        .command::<Restock>(|ctx: &mut Context<'_>, request: RestockRequest| {
            if request.sku.is_empty() || request.idempotency_key.is_empty() || request.quantity == 0 {
                return Err(ServiceError::bad_request(
                    "a restock needs a sku, a key and a quantity > 0",
                ));
            }
            let key = format!("stock/{}", request.sku);
            let mut stock = ctx.get::<StockView>(&key)?.unwrap_or_else(|| StockView {
                sku: request.sku.clone(),
                ..StockView::default()
            });
            let done = format!("restock/{}", request.idempotency_key);
            if ctx.get::<bool>(&done)?.is_none() {
                stock.on_hand += u64::from(request.quantity);
                stock.restocked += u64::from(request.quantity);
                ctx.put(&key, &stock)?;
                ctx.put(&done, &true)?;
            }
            Ok(stock)
        })
        .query::<GetStock>(|view: &View, request| {
            Ok(view.get(&format!("stock/{}", request.sku))?.unwrap_or(StockView {
                sku: request.sku,
                ..StockView::default()
            }))
        })
}

// ---- orders: place (idempotent, priced from a fixed list), get, list, cancel ------------------

/// The test price list: any other sku is unknown to orders.
pub const PRICES: &[(&str, i64)] = &[("sku-1", 250), ("sku-2", 100)];

pub fn orders() -> Component {
    Component::new("orders")
        .command::<PlaceOrder>(place)
        .query::<GetOrder>(|view: &View, request| {
            view.get(&format!("order/{}", request.order_id))?
                .ok_or_else(|| ServiceError::not_found(format!("no order {}", request.order_id)))
        })
        .query::<ListOrders>(|view: &View, request| {
            let prefix = format!("customer/{}/", request.customer_id);
            let after = request.after.map(|id| format!("{prefix}{id}"));
            let size = page_size(request.limit);
            let mut items = Vec::new();
            for (_, order_id) in view.page::<String>(&prefix, after.as_deref(), size)? {
                items.extend(view.get::<OrderView>(&format!("order/{order_id}"))?);
            }
            let next = (items.len() == size)
                .then(|| items.last().map(|o| o.order_id.clone()))
                .flatten();
            Ok(Page { items, next })
        })
        .command::<CancelOrder>(|ctx: &mut Context<'_>, request| {
            let key = format!("order/{}", request.order_id);
            let mut order: OrderView = ctx
                .get(&key)?
                .ok_or_else(|| ServiceError::not_found(format!("no order {}", request.order_id)))?;
            if order.status.is_terminal() || order.status == OrderStatus::Paid {
                return Err(ServiceError::conflict(format!(
                    "order {} is {:?} and can no longer be cancelled",
                    order.order_id, order.status
                )));
            }
            order.status = OrderStatus::Cancelled;
            order.history.push(StatusChange {
                status: OrderStatus::Cancelled,
                at: ctx.event_time(),
                note: request.reason,
            });
            ctx.put(&key, &order)?;
            Ok(order)
        })
}

fn place(ctx: &mut Context<'_>, request: PlaceOrderRequest) -> Result<OrderView, ServiceError> {
    let by_key = format!("key/{}", request.idempotency_key);
    if let Some(order_id) = ctx.get::<String>(&by_key)? {
        return ctx
            .get(&format!("order/{order_id}"))?
            .ok_or_else(|| ServiceError::internal("lost an order"));
    }
    if request.lines.is_empty() {
        return Err(ServiceError::bad_request("the cart is empty"));
    }
    let mut lines = Vec::new();
    for line in &request.lines {
        if line.quantity == 0 {
            return Err(ServiceError::bad_request(format!("zero quantity of {}", line.sku)));
        }
        let price = PRICES
            .iter()
            .find(|(sku, _)| *sku == line.sku)
            .map(|(_, price)| *price)
            .ok_or_else(|| ServiceError::bad_request(format!("unknown sku {}", line.sku)))?;
        lines.push(OrderLine {
            sku: line.sku.clone(),
            quantity: line.quantity,
            unit_price_minor: price,
        });
    }
    let order = OrderView {
        order_id: ctx.new_id("order"),
        customer_id: request.customer_id.clone(),
        status: OrderStatus::Placed,
        total_minor: lines.iter().map(|l| l.unit_price_minor * i64::from(l.quantity)).sum(),
        lines,
        currency: "EUR".into(),
        history: vec![StatusChange {
            status: OrderStatus::Placed,
            at: ctx.event_time(),
            note: String::new(),
        }],
    };
    ctx.put(&format!("order/{}", order.order_id), &order)?;
    ctx.put(
        &format!("customer/{}/{}", order.customer_id, order.order_id),
        &order.order_id,
    )?;
    ctx.put(&by_key, &order.order_id)?;
    Ok(order)
}

// ---- server-sent events ---------------------------------------------------------------------

/// One SSE frame: its fields (`event`, `id`, `data`) and comment lines.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Frame {
    pub event: Option<String>,
    pub id: Option<String>,
    pub data: Option<String>,
    pub comments: Vec<String>,
}

impl Frame {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.data.as_deref().expect("a data field")).expect("data is JSON")
    }
}

/// Reads an event stream frame by frame.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    pub fn new(response: reqwest::Response) -> SseReader {
        SseReader {
            response,
            buffer: String::new(),
        }
    }

    /// The next frame, `None` when the stream ends; panics after `within` without one.
    pub async fn next(&mut self, within: Duration) -> Option<Frame> {
        tokio::time::timeout(within, self.next_frame())
            .await
            .unwrap_or_else(|_| panic!("no SSE frame within {within:?}; buffered: {:?}", self.buffer))
    }

    /// The next frame that is not a comment-only frame (keep-alives, the greeting).
    pub async fn next_event(&mut self, within: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self.next(left).await?;
            if frame.event.is_some() || frame.data.is_some() {
                return Some(frame);
            }
        }
    }

    async fn next_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let raw: String = self.buffer.drain(..end + 2).collect();
                return Some(parse_frame(&raw));
            }
            let chunk = self.response.chunk().await.expect("the stream reads")?;
            self.buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }
}

fn parse_frame(raw: &str) -> Frame {
    let mut frame = Frame::default();
    for line in raw.lines().filter(|l| !l.is_empty()) {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
        match field {
            "" => frame.comments.push(value),
            "event" => frame.event = Some(value),
            "id" => frame.id = Some(value),
            "data" => {
                frame.data = Some(match frame.data.take() {
                    Some(previous) => format!("{previous}\n{value}"),
                    None => value,
                })
            }
            other => panic!("unexpected SSE field {other:?} in {raw:?}"),
        }
    }
    frame
}
