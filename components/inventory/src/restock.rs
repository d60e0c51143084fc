//! Stock arriving: the `restock` command, idempotent by its key, and its own event.

use mandate::{Context, HandlerError, HandlerResult, ServiceError};
use schemas::inventory::{RestockRequest, Restocked, StockView};
use serde::{Deserialize, Serialize};

use crate::stock;

/// A restock that has been applied, kept under its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RestockRecord {
    sku: String,
    quantity: u32,
}

fn restock_key(restock_id: &str) -> String {
    format!("restock/{restock_id}")
}

/// `inventory.restock.v1`: the same key twice restocks once and answers the current stock.
/// The same key with another sku or quantity is a client bug, refused with 409.
pub(crate) fn restock(ctx: &mut Context<'_>, request: RestockRequest) -> Result<StockView, ServiceError> {
    validate(&request)?;
    if let Some(done) = ctx.get::<RestockRecord>(&restock_key(&request.idempotency_key))? {
        if done.sku != request.sku || done.quantity != request.quantity {
            return Err(ServiceError::conflict(format!(
                "idempotency key {:?} was used to restock {} of {}; use a new key for another restock",
                request.idempotency_key, done.quantity, done.sku
            )));
        }
        return Ok(stock::load(ctx, &request.sku)?);
    }
    let view = add(ctx, &request.idempotency_key, &request.sku, request.quantity).map_err(internal)?;
    ctx.emit(&Restocked {
        sku: view.sku.clone(),
        quantity: request.quantity,
        on_hand: view.on_hand,
        restock_id: request.idempotency_key,
    })
    .map_err(internal)?;
    Ok(view)
}

/// Inventory's own `restocked.v1`: a restock the command applied already has its record
/// and is skipped; in a rebuild it is applied here. An event from before restock ids
/// existed is keyed by its own event id.
pub(crate) fn apply_restocked(ctx: &mut Context<'_>, restocked: Restocked) -> HandlerResult {
    let restock_id = match (restocked.restock_id.is_empty(), ctx.meta()) {
        (false, _) => restocked.restock_id.clone(),
        (true, Some(meta)) => meta.id.clone(),
        (true, None) => return Err("a restocked event without a restock id or envelope".into()),
    };
    if ctx.get::<RestockRecord>(&restock_key(&restock_id))?.is_some() {
        return Ok(());
    }
    add(ctx, &restock_id, &restocked.sku, restocked.quantity)?;
    Ok(())
}

/// Adds `quantity` on hand (and to the restocked total) and records the restock.
fn add(ctx: &mut Context<'_>, restock_id: &str, sku: &str, quantity: u32) -> Result<StockView, HandlerError> {
    let mut view = stock::load(ctx, sku)?;
    let (Some(on_hand), Some(restocked)) = (
        view.on_hand.checked_add(u64::from(quantity)),
        view.restocked.checked_add(u64::from(quantity)),
    ) else {
        return Err(format!("restocking {quantity} of {sku} overflows its counts").into());
    };
    view.on_hand = on_hand;
    view.restocked = restocked;
    stock::save(ctx, &view)?;
    ctx.put(
        &restock_key(restock_id),
        &RestockRecord {
            sku: sku.to_owned(),
            quantity,
        },
    )?;
    Ok(view)
}

fn validate(request: &RestockRequest) -> Result<(), ServiceError> {
    if request.sku.is_empty() {
        return Err(ServiceError::bad_request("sku is empty"));
    }
    if request.idempotency_key.is_empty() {
        return Err(ServiceError::bad_request(
            "idempotency_key is empty: give each restock a unique key, so a retry does not restock twice",
        ));
    }
    if request.quantity == 0 {
        return Err(ServiceError::bad_request("quantity is 0: restock at least one"));
    }
    Ok(())
}

fn internal(err: HandlerError) -> ServiceError {
    ServiceError::internal(err.to_string())
}
