//! The harness and the events of other owners, as the tests inject them.

use mandate::envelope::Meta;
use mandate::{Bus, CallError, Running};
use schemas::catalog::ProductUpserted;
use schemas::inventory::{SkuQuantity, StockRejected, StockReserved};
use schemas::orders::{
    CancelOrder, CancelOrderRequest, GetOrder, GetOrderRequest, LineRequest, OrderStatus, OrderView, PlaceOrder,
    PlaceOrderRequest,
};
use schemas::payments::{PaymentCaptured, PaymentDeclined};
use schemas::shipping::ShipmentDispatched;
use testkit::eventually;

/// The shared component harness, with orders' own helpers on top.
pub struct Harness {
    pub kit: testkit::Harness,
    pub bus: Bus,
}

impl Harness {
    pub async fn new() -> Harness {
        let kit = testkit::Harness::new(&["catalog", "inventory", "payments", "shipping"]).await;
        let bus = kit.bus.clone();
        Harness { kit, bus }
    }

    pub async fn start(&self) -> Running {
        self.kit.start(orders::component()).await
    }

    pub async fn price(&self, sku: &str, unit_price_minor: i64) {
        self.bus
            .publish(&ProductUpserted {
                sku: sku.into(),
                name: format!("the {sku}"),
                unit_price_minor,
                currency: "EUR".into(),
                revision: 1,
            })
            .await
            .expect("published");
    }

    pub async fn place(&self, key: &str, lines: &[(&str, u32)]) -> Result<OrderView, CallError> {
        self.bus
            .call::<PlaceOrder>(&PlaceOrderRequest {
                idempotency_key: key.into(),
                customer_id: "alice".into(),
                lines: lines
                    .iter()
                    .map(|(sku, quantity)| LineRequest {
                        sku: (*sku).into(),
                        quantity: *quantity,
                    })
                    .collect(),
                payment_token: "tok".into(),
            })
            .await
    }

    pub async fn get(&self, order_id: &str) -> Result<OrderView, CallError> {
        self.bus
            .call::<GetOrder>(&GetOrderRequest {
                order_id: order_id.into(),
            })
            .await
    }

    pub async fn status_becomes(&self, order_id: &str, status: OrderStatus) -> OrderView {
        eventually(&format!("order {order_id} to become {status:?}"), || async {
            self.get(order_id).await.ok().filter(|o| o.status == status)
        })
        .await
    }

    pub async fn cancel(&self, order_id: &str) -> Result<OrderView, CallError> {
        self.bus
            .call::<CancelOrder>(&CancelOrderRequest {
                order_id: order_id.into(),
                reason: "changed my mind".into(),
            })
            .await
    }

    /// Waits until orders has applied everything published so far: no consumer has a message
    /// pending or unacknowledged (JetStream counts a message as soon as it acks its publish).
    pub async fn all_applied(&self) {
        eventually("orders to apply everything published", || async {
            let status = self.bus.status("orders").await.ok()?;
            status
                .consumers
                .iter()
                .all(|c| c.caught_up && c.pending == Some(0))
                .then_some(())
        })
        .await;
    }

    /// Placed with prices known: waits until orders has learned the price list.
    pub async fn place_when_priced(&self, key: &str, lines: &[(&str, u32)]) -> OrderView {
        eventually("the price list", || async { self.place(key, lines).await.ok() }).await
    }
}

pub fn code(result: Result<OrderView, CallError>) -> u16 {
    result
        .expect_err("refused")
        .service_error()
        .map(|e| e.code)
        .unwrap_or(0)
}

pub fn reserved(order: &OrderView) -> StockReserved {
    StockReserved {
        order_id: order.order_id.clone(),
        customer_id: order.customer_id.clone(),
        lines: order
            .lines
            .iter()
            .map(|l| SkuQuantity {
                sku: l.sku.clone(),
                quantity: l.quantity,
            })
            .collect(),
        amount_minor: order.total_minor,
        currency: order.currency.clone(),
        payment_token: String::new(),
    }
}

pub fn captured(order: &OrderView) -> PaymentCaptured {
    PaymentCaptured {
        payment_id: format!("pay-{}", order.order_id),
        order_id: order.order_id.clone(),
        customer_id: order.customer_id.clone(),
        amount_minor: order.total_minor,
        currency: order.currency.clone(),
    }
}

pub fn rejected(order: &OrderView) -> StockRejected {
    StockRejected {
        order_id: order.order_id.clone(),
        customer_id: order.customer_id.clone(),
        reason: "out of stock".into(),
        shortages: vec![],
    }
}

pub fn declined(order: &OrderView) -> PaymentDeclined {
    PaymentDeclined {
        order_id: order.order_id.clone(),
        customer_id: order.customer_id.clone(),
        amount_minor: order.total_minor,
        currency: order.currency.clone(),
        reason: "insufficient funds".into(),
    }
}

/// The statuses of an order's history, oldest first.
pub fn statuses(order: &OrderView) -> Vec<OrderStatus> {
    order.history.iter().map(|change| change.status).collect()
}

/// How many terminal steps an order's history shows (the contract promises one at most).
pub fn terminal_steps(order: &OrderView) -> usize {
    order
        .history
        .iter()
        .filter(|change| change.status.is_terminal())
        .count()
}

pub fn dispatched(order: &OrderView) -> ShipmentDispatched {
    ShipmentDispatched {
        shipment_id: format!("ship-{}", order.order_id),
        order_id: order.order_id.clone(),
        customer_id: order.customer_id.clone(),
    }
}

/// Every message of `EVT_ORDERS` with its envelope, in stream order.
pub async fn orders_stream(h: &Harness) -> Vec<(String, Meta, Vec<u8>)> {
    h.kit
        .read_stream("EVT_ORDERS")
        .await
        .into_iter()
        .map(|m| {
            let meta = Meta::from_headers(m.headers.as_ref()).expect("a complete envelope");
            (m.subject.to_string(), meta, m.payload.to_vec())
        })
        .collect()
}
