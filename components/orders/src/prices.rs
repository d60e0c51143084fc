//! Orders' own price list, kept from catalog's `product-upserted` events. Orders never asks
//! catalog (or reads its store) for a price: that is the mandate.

use mandate::{Context, HandlerResult, StoreError};
use schemas::catalog::ProductUpserted;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Price {
    pub unit_price_minor: i64,
    pub currency: String,
    pub revision: u64,
}

fn price_key(sku: &str) -> String {
    format!("price/{sku}")
}

pub(crate) fn lookup(ctx: &Context<'_>, sku: &str) -> Result<Option<Price>, StoreError> {
    ctx.get(&price_key(sku))
}

/// Keeps the newest price: catalog's stream is ordered, and the revision guards anyway.
pub(crate) fn record_price(ctx: &mut Context<'_>, product: ProductUpserted) -> HandlerResult {
    let key = price_key(&product.sku);
    if let Some(known) = ctx.get::<Price>(&key)? {
        if known.revision > product.revision {
            return Ok(());
        }
    }
    ctx.put(
        &key,
        &Price {
            unit_price_minor: product.unit_price_minor,
            currency: product.currency,
            revision: product.revision,
        },
    )?;
    Ok(())
}
