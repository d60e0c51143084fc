//! Events of other owners, as the test injects them, and stock reads that check the
//! invariant every time.

use mandate::Running;
use schemas::inventory::{GetStock, GetStockRequest, Restock, RestockRequest, Restocked, StockView};
use schemas::orders::{OrderCancelled, OrderLine, OrderPlaced, OrderPlacedV2};
use schemas::payments::PaymentDeclined;
use schemas::shipping::ShipmentDispatched;

use testkit::{Harness, Watch};

/// The streams inventory consumes besides its own.
pub const SOURCES: &[&str] = &["orders", "payments", "shipping"];

pub async fn start() -> (Harness, Running) {
    let h = Harness::new(SOURCES).await;
    let running = h.start(inventory::component()).await;
    (h, running)
}

/// Inventory with `stock` (sku, quantity) restocked, and a watch on what it publishes
/// that has already seen those restocks announced.
pub async fn start_with_stock(stock: &[(&str, u32)]) -> (Harness, Running, Watch) {
    let (h, running) = start().await;
    let mut published = h.watch("evt.inventory.>").await;
    for (sku, quantity) in stock {
        restock(&h, &format!("initial-{sku}"), sku, *quantity).await;
        published.next::<Restocked>().await;
    }
    (h, running, published)
}

/// An order of `lines` (sku, quantity) at 100 a unit.
pub fn placed(order: &str, lines: &[(&str, u32)]) -> OrderPlaced {
    let lines: Vec<OrderLine> = lines
        .iter()
        .map(|(sku, quantity)| OrderLine {
            sku: (*sku).into(),
            quantity: *quantity,
            unit_price_minor: 100,
        })
        .collect();
    OrderPlaced {
        order_id: order.into(),
        customer_id: format!("customer-of-{order}"),
        total_minor: lines.iter().map(|l| l.unit_price_minor * i64::from(l.quantity)).sum(),
        lines,
        currency: "EUR".into(),
        payment_token: format!("token-{order}"),
        idempotency_key: order.into(),
        placed_at: "2026-01-01T00:00:00Z".into(),
    }
}

/// The same order as `orders.placed.v2` would carry it: lines at 100 a unit, tax included,
/// of which 17 a unit is tax (so the amount charged is the total, tax included).
pub fn placed_v2(order: &str, lines: &[(&str, u32)]) -> OrderPlacedV2 {
    let mut v2 = OrderPlacedV2::from(placed(order, lines));
    for line in &mut v2.lines {
        line.tax_minor = 17 * i64::from(line.quantity);
    }
    v2.tax_minor = v2.lines.iter().map(|l| l.tax_minor).sum();
    v2.subtotal_minor = v2.total_minor - v2.tax_minor;
    v2.check().expect("a consistent v2");
    v2
}

/// The v1 orders publishes beside `v2` during the migration (the contract's projection orders emits).
pub fn v1_twin(v2: &OrderPlacedV2) -> OrderPlaced {
    OrderPlaced::from(v2)
}

pub fn cancelled(order: &str) -> OrderCancelled {
    OrderCancelled {
        order_id: order.into(),
        customer_id: format!("customer-of-{order}"),
        reason: "changed my mind".into(),
    }
}

pub fn declined(order: &str) -> PaymentDeclined {
    PaymentDeclined {
        order_id: order.into(),
        customer_id: format!("customer-of-{order}"),
        amount_minor: 100,
        currency: "EUR".into(),
        reason: "card declined".into(),
    }
}

pub fn dispatched(order: &str) -> ShipmentDispatched {
    ShipmentDispatched {
        shipment_id: format!("shipment-{order}"),
        order_id: order.into(),
        customer_id: format!("customer-of-{order}"),
    }
}

pub async fn restock(h: &Harness, key: &str, sku: &str, quantity: u32) -> StockView {
    h.bus
        .call::<Restock>(&RestockRequest {
            sku: sku.into(),
            quantity,
            idempotency_key: key.into(),
        })
        .await
        .expect("restocked")
}

/// The stock of `sku`, after checking that nothing was created or lost.
pub async fn stock(h: &Harness, sku: &str) -> StockView {
    let view = h
        .bus
        .call::<GetStock>(&GetStockRequest { sku: sku.into() })
        .await
        .expect("stock");
    assert_eq!(
        view.restocked,
        view.on_hand + view.reserved + view.shipped,
        "stock is conserved: {view:?}"
    );
    view
}

/// (on hand, reserved, shipped) of `sku`.
pub async fn counts(h: &Harness, sku: &str) -> (u64, u64, u64) {
    let view = stock(h, sku).await;
    (view.on_hand, view.reserved, view.shipped)
}
