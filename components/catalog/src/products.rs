//! Creating and changing products, and keeping the store in step with catalog's own stream.
//!
//! The upsert command writes the product at once (so a get right after the call sees it)
//! and publishes `product-upserted`. Catalog also consumes that event: it is how a wiped
//! store is rebuilt. Both paths write the same record, told apart by a per-product
//! revision: the command bumps it, the handler applies only a newer one. Without it, two
//! quick upserts would be undone by the first one's event coming back after the second
//! command's direct write.

use mandate::{Context, HandlerResult, ServiceError};
use schemas::catalog::{Product, ProductUpserted};
use serde::{Deserialize, Serialize};

use crate::validation::validate_product;

/// A product as catalog keeps it: the product and the revision it is at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProductRecord {
    pub product: Product,
    pub revision: u64,
}

/// Products sort by sku under one prefix, which is what the list pages over.
pub(crate) const PRODUCTS: &str = "product/";

pub(crate) fn product_key(sku: &str) -> String {
    format!("{PRODUCTS}{sku}")
}

/// `catalog.upsert-product.v1`: validates, writes the next revision and announces it. An
/// upsert that changes nothing publishes nothing, so a client may retry freely.
pub(crate) fn upsert_product(ctx: &mut Context<'_>, request: Product) -> Result<Product, ServiceError> {
    validate_product(&request)?;
    let key = product_key(&request.sku);
    let known = ctx.get::<ProductRecord>(&key)?;
    if known.as_ref().is_some_and(|k| k.product == request) {
        return Ok(request);
    }
    let record = ProductRecord {
        revision: known.map_or(0, |k| k.revision) + 1,
        product: request,
    };
    ctx.put(&key, &record)?;
    ctx.emit(&upserted(&record))
        .map_err(|e| ServiceError::internal(format!("cannot publish product-upserted: {e}")))?;
    Ok(record.product)
}

/// Handles catalog's own `product-upserted`: a no-op for an event the command has already
/// written (same revision) or one overtaken by a newer upsert; the write itself during a
/// rebuild.
pub(crate) fn apply_upserted(ctx: &mut Context<'_>, event: ProductUpserted) -> HandlerResult {
    let key = product_key(&event.sku);
    if let Some(known) = ctx.get::<ProductRecord>(&key)? {
        if !supersedes(event.revision, known.revision) {
            return Ok(());
        }
    }
    ctx.put(&key, &record_of(event))?;
    Ok(())
}

/// True when an event at `incoming` should replace a record at `known`. Events from before
/// revisions existed carry 0; among those the stream order (the last one) wins.
fn supersedes(incoming: u64, known: u64) -> bool {
    incoming > known || (incoming == 0 && known == 0)
}

fn upserted(record: &ProductRecord) -> ProductUpserted {
    let product = &record.product;
    ProductUpserted {
        sku: product.sku.clone(),
        name: product.name.clone(),
        unit_price_minor: product.unit_price_minor,
        currency: product.currency.clone(),
        revision: record.revision,
    }
}

fn record_of(event: ProductUpserted) -> ProductRecord {
    ProductRecord {
        revision: event.revision,
        product: Product {
            sku: event.sku,
            name: event.name,
            unit_price_minor: event.unit_price_minor,
            currency: event.currency,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::supersedes;

    #[test]
    fn only_a_newer_revision_replaces_a_record() {
        assert!(supersedes(2, 1));
        assert!(!supersedes(1, 1), "the command's own event coming back");
        assert!(!supersedes(1, 2), "an older event arriving after a newer write");
        assert!(
            !supersedes(0, 3),
            "a pre-revision event never replaces a revised record"
        );
        assert!(supersedes(0, 0), "pre-revision events apply in stream order");
    }
}
