//! The typed reads that checks make, over the bus only: each retries while its component is
//! (re)starting ([`Stack::call`]), reads a 404 as "none", and turns any other failure into a
//! sentence naming the call.

use mandate::{CallError, Operation};
use schemas::catalog::{GetProduct, GetProductRequest, ListProducts, ListProductsRequest, Product};
use schemas::inventory::{GetStock, GetStockRequest, StockView};
use schemas::loyalty::{Balance, BalanceRequest, GetBalance};
use schemas::notifications::{ListNotifications, ListNotificationsRequest, Notification};
use schemas::orders::{GetOrder, GetOrderRequest, ListOrders, ListOrdersRequest, OrderView};
use schemas::paging::{MAX_PAGE, Page};
use schemas::payments::{GetPayment, GetPaymentRequest, PaymentView};
use schemas::shipping::{GetShipment, GetShipmentRequest, ShipmentView};

use crate::Stack;

/// `Ok(None)` for a 404, the value for a success, a sentence for anything else.
async fn maybe<O: Operation>(stack: &Stack, request: &O::Request) -> Result<Option<O::Response>, String> {
    match stack.call::<O>(request).await {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.service_error().is_some_and(|e| e.code == 404) => Ok(None),
        Err(err) => Err(failed::<O>(&err)),
    }
}

async fn surely<O: Operation>(stack: &Stack, request: &O::Request) -> Result<O::Response, String> {
    stack.call::<O>(request).await.map_err(|err| failed::<O>(&err))
}

fn failed<O: Operation>(err: &CallError) -> String {
    format!("{} failed: {err}", O::qualified_name())
}

/// Every item of a paged list, following `next` to the end.
async fn all_pages<O, T>(stack: &Stack, request: impl Fn(Option<String>) -> O::Request) -> Result<Vec<T>, String>
where
    O: Operation<Response = Page<T>>,
{
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let page = surely::<O>(stack, &request(after)).await?;
        items.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(items),
        }
    }
}

pub async fn order(stack: &Stack, order_id: &str) -> Result<Option<OrderView>, String> {
    maybe::<GetOrder>(
        stack,
        &GetOrderRequest {
            order_id: order_id.into(),
        },
    )
    .await
}

/// Every order of `customer`, oldest first.
pub async fn orders_of(stack: &Stack, customer: &str) -> Result<Vec<OrderView>, String> {
    all_pages::<ListOrders, _>(stack, |after| ListOrdersRequest {
        customer_id: customer.into(),
        after,
        limit: MAX_PAGE,
    })
    .await
}

pub async fn stock(stack: &Stack, sku: &str) -> Result<StockView, String> {
    surely::<GetStock>(stack, &GetStockRequest { sku: sku.into() }).await
}

pub async fn payment(stack: &Stack, order_id: &str) -> Result<Option<PaymentView>, String> {
    maybe::<GetPayment>(
        stack,
        &GetPaymentRequest {
            order_id: order_id.into(),
        },
    )
    .await
}

pub async fn shipment(stack: &Stack, order_id: &str) -> Result<Option<ShipmentView>, String> {
    maybe::<GetShipment>(
        stack,
        &GetShipmentRequest {
            order_id: order_id.into(),
        },
    )
    .await
}

/// Every message sent to `customer`.
pub async fn notifications(stack: &Stack, customer: &str) -> Result<Vec<Notification>, String> {
    all_pages::<ListNotifications, _>(stack, |after| ListNotificationsRequest {
        customer_id: customer.into(),
        after,
        limit: MAX_PAGE,
    })
    .await
}

pub async fn product(stack: &Stack, sku: &str) -> Result<Option<Product>, String> {
    maybe::<GetProduct>(stack, &GetProductRequest { sku: sku.into() }).await
}

/// Every product of the catalog.
pub async fn products(stack: &Stack) -> Result<Vec<Product>, String> {
    all_pages::<ListProducts, _>(stack, |after| ListProductsRequest { after, limit: MAX_PAGE }).await
}

/// `customer`'s loyalty points (`loyalty`, the component in Python).
pub async fn balance(stack: &Stack, customer: &str) -> Result<Balance, String> {
    surely::<GetBalance>(
        stack,
        &BalanceRequest {
            customer_id: customer.into(),
        },
    )
    .await
}
