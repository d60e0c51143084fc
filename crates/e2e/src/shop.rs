//! The gateway's HTTP API as a careful client uses it: every write carries an idempotency
//! key (or is a cancel, which is safe to repeat), and a connection error or a 5xx is retried
//! with the same request until a deadline — so a crash anywhere behind the gateway, or of the
//! gateway itself, costs time, never an order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use schemas::orders::{OrderStatus, OrderView};
use serde_json::json;

use crate::invariants::Cancel;
use crate::plan::OrderPlan;

/// How long one request may keep failing before the client gives up.
const GIVE_UP_AFTER: Duration = Duration::from_secs(120);
/// One attempt's limit (the gateway answers 504 after its own 5 s call timeout).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Shop {
    http: reqwest::Client,
    base: String,
    retries: AtomicU64,
}

impl Shop {
    /// A client of the gateway at `base` (`http://127.0.0.1:<port>`).
    pub fn new(base: &str) -> Shop {
        Shop {
            http: reqwest::Client::builder()
                .timeout(ATTEMPT_TIMEOUT)
                .build()
                .expect("e2e: an HTTP client"),
            base: base.trim_end_matches('/').to_owned(),
            retries: AtomicU64::new(0),
        }
    }

    /// Attempts that failed (connection error, timeout, 5xx) and were made again.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// `PUT /v1/products/{sku}`.
    pub async fn put_product(&self, sku: &str, unit_price_minor: i64) -> Result<(), String> {
        let body = json!({"name": format!("the {sku}"), "unit_price_minor": unit_price_minor, "currency": "EUR"});
        let url = format!("{}/v1/products/{sku}", self.base);
        self.expect_success(&format!("PUT {url}"), || self.http.put(&url).json(&body))
            .await
            .map(drop)
    }

    /// `POST /v1/inventory/{sku}/restock` with `key` as its idempotency key.
    pub async fn restock(&self, key: &str, sku: &str, quantity: u32) -> Result<(), String> {
        let url = format!("{}/v1/inventory/{sku}/restock", self.base);
        let body = json!({ "quantity": quantity });
        self.expect_success(&format!("restock {key}"), || {
            self.http.post(&url).header("Idempotency-Key", key).json(&body)
        })
        .await
        .map(drop)
    }

    /// `POST /v1/orders` with the plan's idempotency key; the order as accepted.
    pub async fn place(&self, plan: &OrderPlan) -> Result<OrderView, String> {
        let url = format!("{}/v1/orders", self.base);
        let lines: Vec<_> = plan
            .lines
            .iter()
            .map(|(sku, quantity)| json!({"sku": sku, "quantity": quantity}))
            .collect();
        let body = json!({"customer_id": plan.customer, "lines": lines, "payment_token": plan.token});
        let what = format!("order {}", plan.key);
        let reply = self
            .expect_success(&what, || {
                self.http.post(&url).header("Idempotency-Key", &plan.key).json(&body)
            })
            .await?;
        serde_json::from_slice(&reply).map_err(|e| format!("{what}: the 201 body is not an order: {e}"))
    }

    /// `POST /v1/orders/{id}/cancel`: 200 is accepted; 409 is refused — unless the order turns
    /// out to be cancelled, which only our own earlier attempt can have done (its answer
    /// lost to a crash), so that 409 is "already cancelled" and counts as accepted.
    pub async fn cancel(&self, order_id: &str) -> Result<Cancel, String> {
        let url = format!("{}/v1/orders/{order_id}/cancel", self.base);
        let body = json!({"reason": "changed my mind"});
        let what = format!("cancel of {order_id}");
        let (status, reply) = self.send(&what, || self.http.post(&url).json(&body)).await?;
        match status {
            StatusCode::OK => Ok(Cancel::Accepted),
            StatusCode::CONFLICT => match self.order(order_id).await?.status {
                OrderStatus::Cancelled => Ok(Cancel::Accepted),
                _ => Ok(Cancel::Refused),
            },
            other => Err(format!("{what}: {other} {}", String::from_utf8_lossy(&reply))),
        }
    }

    /// `GET /v1/orders/{id}`.
    pub async fn order(&self, order_id: &str) -> Result<OrderView, String> {
        let url = format!("{}/v1/orders/{order_id}", self.base);
        let what = format!("GET {url}");
        let reply = self.expect_success(&what, || self.http.get(&url)).await?;
        serde_json::from_slice(&reply).map_err(|e| format!("{what}: not an order: {e}"))
    }

    /// [`send`](Shop::send), where anything but a 2xx is a failure.
    async fn expect_success(&self, what: &str, request: impl Fn() -> RequestBuilder) -> Result<bytes::Bytes, String> {
        let (status, reply) = self.send(what, request).await?;
        if status.is_success() {
            Ok(reply)
        } else {
            Err(format!("{what}: {status} {}", String::from_utf8_lossy(&reply)))
        }
    }

    /// Sends the request built by `request` until it gets an answer that is not a 5xx,
    /// backing off from 50 ms to 1 s; gives up after two minutes.
    async fn send(
        &self,
        what: &str,
        request: impl Fn() -> RequestBuilder,
    ) -> Result<(StatusCode, bytes::Bytes), String> {
        let deadline = tokio::time::Instant::now() + GIVE_UP_AFTER;
        let mut backoff = Duration::from_millis(50);
        loop {
            let failure = match request().send().await {
                Ok(response) if !response.status().is_server_error() => {
                    let status = response.status();
                    match response.bytes().await {
                        Ok(body) => return Ok((status, body)),
                        Err(err) => format!("reading the body: {err}"),
                    }
                }
                Ok(response) => format!("{} {}", response.status(), response.text().await.unwrap_or_default()),
                Err(err) => format!("{err}"),
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("{what}: gave up after {GIVE_UP_AFTER:?}; last: {failure}"));
            }
            self.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }
}
