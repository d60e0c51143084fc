//! Events of other owners, as the test injects them.

use mandate::{CallError, Running};
use schemas::inventory::{SkuQuantity, StockReserved};
use schemas::orders::OrderCancelled;
use schemas::payments::{GetPayment, GetPaymentRequest, PaymentView};

use testkit::{Harness, Watch};

/// Payments started, and a watch on what it publishes.
pub async fn start() -> (Harness, Running, Watch) {
    let h = Harness::new(&["inventory", "orders"]).await;
    let running = h.start(payments::component()).await;
    let published = h.watch("evt.payments.>").await;
    (h, running, published)
}

pub fn reserved(order: &str, amount_minor: i64, payment_token: &str) -> StockReserved {
    StockReserved {
        order_id: order.into(),
        customer_id: format!("customer-of-{order}"),
        lines: vec![SkuQuantity {
            sku: "tea".into(),
            quantity: 1,
        }],
        amount_minor,
        currency: "EUR".into(),
        payment_token: payment_token.into(),
    }
}

pub fn cancelled(order: &str) -> OrderCancelled {
    OrderCancelled {
        order_id: order.into(),
        customer_id: format!("customer-of-{order}"),
        reason: "changed my mind".into(),
    }
}

pub async fn payment(h: &Harness, order: &str) -> Result<PaymentView, CallError> {
    h.bus
        .call::<GetPayment>(&GetPaymentRequest { order_id: order.into() })
        .await
}

pub fn status_code(result: Result<PaymentView, CallError>) -> u16 {
    result.expect_err("no payment").service_error().map_or(0, |e| e.code)
}
