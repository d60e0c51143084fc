//! One message per placed order, whichever version of `orders.placed` tells it.
//!
//! During the migration to `orders.placed.v2` orders publishes every order twice, as v2 and
//! as v1 (read here through the contract's upcast: the same order with its tax not
//! itemised). The customer hears about it once. The first of the two files the message;
//! a v2 that comes after a v1 of the same order replaces that message with its own (which
//! names the tax); anything else about an order already told changes nothing. Whatever the
//! arrival order, an order ends with the one message its v2 makes — or, for an order placed
//! before the migration, which has only a v1, the one message that makes.

use mandate::{Context, HandlerResult};
use schemas::orders::OrderPlacedV2;
use serde::{Deserialize, Serialize};

use crate::inbox;
use crate::messages;

/// Which message tells the customer about the placement of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Told {
    /// Where the message is filed (`inbox.rs`).
    key: String,
    /// The major version of the event it was made from.
    version: u32,
}

/// Outside the `customer/` key space, so never listed.
fn told_key(order_id: &str) -> String {
    format!("placed/{order_id}")
}

/// `orders.placed`, v2 or (upcast) v1 as `version` says.
pub(crate) fn placed(ctx: &mut Context<'_>, placed: OrderPlacedV2, version: u32) -> HandlerResult {
    let key = told_key(&placed.order_id);
    if let Some(told) = ctx.get::<Told>(&key)? {
        if told.version >= version {
            return Ok(());
        }
        ctx.delete(&told.key);
    }
    let filed = inbox::file(ctx, messages::placed(&placed))?;
    ctx.put(&key, &Told { key: filed, version })?;
    Ok(())
}
