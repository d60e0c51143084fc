//! `mandate dev --demo`: a few products, some stock and three orders, placed through the
//! services like any client would (JSON → MessagePack), so a newcomer sees events flow.

use std::time::Duration;

use anyhow::Context;
use mandate::{Bus, ConnectionOptions};
use serde_json::{Value, json};

use crate::msgpack;

pub async fn run(url: &str) -> anyhow::Result<String> {
    let bus = Bus::connect(&ConnectionOptions::new(url), "mandate-cli").await?;
    let products = [
        ("mug", "Mug", 1250),
        ("tea", "Green tea", 499),
        ("pot", "Tea pot", 3000),
    ];
    for (sku, name, price) in products {
        call(
            &bus,
            "catalog.upsert-product.v1",
            json!({"sku": sku, "name": name, "unit_price_minor": price, "currency": "EUR"}),
        )
        .await?;
        call(
            &bus,
            "inventory.restock.v1",
            json!({"sku": sku, "quantity": 20, "idempotency_key": format!("demo-{sku}")}),
        )
        .await?;
    }
    let orders = [
        (
            "demo-order-1",
            "alice",
            json!([{"sku": "mug", "quantity": 2}, {"sku": "tea", "quantity": 1}]),
            "tok-ok",
        ),
        ("demo-order-2", "bob", json!([{"sku": "pot", "quantity": 1}]), "decline"),
        (
            "demo-order-3",
            "carol",
            json!([{"sku": "tea", "quantity": 3}]),
            "tok-ok",
        ),
    ];
    let mut placed = Vec::new();
    for (key, customer, lines, token) in orders {
        let request = json!({"idempotency_key": key, "customer_id": customer, "lines": lines, "payment_token": token});
        let order = call(&bus, "orders.place.v1", request).await?;
        placed.push(order["order_id"].as_str().unwrap_or_default().to_owned());
    }
    Ok(format!("3 products, 60 units of stock, orders {}", placed.join(", ")))
}

/// Calls a service, retrying while its component starts up or has not yet learned what the
/// request needs (orders learns prices from catalog's events).
async fn call(bus: &Bus, operation: &str, request: Value) -> anyhow::Result<Value> {
    let subject = format!("svc.{operation}");
    let payload = msgpack::from_json(&request)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match bus.request(&subject, payload.clone().into()).await {
            Ok(reply) => return msgpack::to_json(&reply).map_err(|e| anyhow::anyhow!("{operation}: {e}")),
            Err(err) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(%operation, error = %err, "demo: retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => return Err(err).context(format!("demo: {operation}")),
        }
    }
}
