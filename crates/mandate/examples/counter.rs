//! A whole component: it counts the orders each customer places and serves the count.
//!
//! Everything here is domain logic. Connecting, the stream position, the exactly-once
//! bookkeeping, the store, retries, dead letters, the service plumbing, the admin service and
//! shutdown are the kit's.
//!
//! Run it against a local nats-server:
//!
//! ```sh
//! scripts/install-nats-server && .tools/bin/nats-server -js &
//! cargo run -p mandate --example counter -- --data-dir /tmp/counter
//! ```

use mandate::{Component, Context, HandlerResult, Operation, ServiceError, View};
use schemas::orders::OrderPlaced;
use serde::{Deserialize, Serialize};

/// What the counter knows about one customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerCount {
    pub customer_id: String,
    pub orders: u64,
    /// Sum of the order totals, in minor units.
    pub spent_minor: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GetCountRequest {
    pub customer_id: String,
}

/// `svc.counter.get-count.v1`: the counter's own contract.
pub struct GetCount;

impl Operation for GetCount {
    const OWNER: &'static str = "counter";
    const NAME: &'static str = "get-count";
    const VERSION: u32 = 1;
    type Request = GetCountRequest;
    type Response = CustomerCount;
}

fn customer_key(customer_id: &str) -> String {
    format!("customer/{customer_id}")
}

/// Runs once per `orders.placed.v1`, exactly once, even across crashes and redeliveries.
fn count_order(ctx: &mut Context<'_>, placed: OrderPlaced) -> HandlerResult {
    let key = customer_key(&placed.customer_id);
    let mut count = ctx.get::<CustomerCount>(&key)?.unwrap_or_else(|| CustomerCount {
        customer_id: placed.customer_id.clone(),
        ..CustomerCount::default()
    });
    count.orders += 1;
    count.spent_minor += placed.total_minor;
    ctx.put(&key, &count)?;
    Ok(())
}

/// A customer nobody has seen yet has placed no orders: that is an answer, not a 404.
fn get_count(view: &View, request: GetCountRequest) -> Result<CustomerCount, ServiceError> {
    if request.customer_id.is_empty() {
        return Err(ServiceError::bad_request("customer_id is empty"));
    }
    Ok(view.get(&customer_key(&request.customer_id))?.unwrap_or(CustomerCount {
        customer_id: request.customer_id,
        ..CustomerCount::default()
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    Component::new("counter")
        .description("counts the orders each customer places")
        .on::<OrderPlaced>(count_order)
        .query::<GetCount>(get_count)
        .main()
        .await
}
