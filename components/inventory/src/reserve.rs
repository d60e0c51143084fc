//! Reserving an order's stock, all or nothing, when orders announces it.

use std::collections::BTreeMap;

use mandate::{Context, HandlerResult};
use schemas::inventory::{Shortage, SkuQuantity, StockRejected, StockReserved};
use schemas::orders::{OrderLineV2, OrderPlacedV2};

use crate::reservation::{self, Decision, change};
use crate::stock;

/// `orders.placed.v2` (or v1, upcast by the contract: `lib.rs`): holds every line or none,
/// and announces what payments charges — the order's total, tax included.
///
/// Nothing happens for an order inventory has already dealt with — decided before (a
/// repeated event, or the other version of the same order: during the migration orders
/// publishes each order as v2 and v1, and whichever inventory reads first decides; both
/// name the same lines, total, currency and token), or cancelled before it was placed.
/// Nothing is decided while a rebuild re-applies the event either: the first run's decision
/// is on inventory's own stream and comes back through [`apply_reserved`] /
/// [`apply_rejected`]; deciding again on a store that is only half rebuilt could decide
/// differently.
pub(crate) fn reserve_order(ctx: &mut Context<'_>, placed: OrderPlacedV2) -> HandlerResult {
    let known = reservation::load(ctx, &placed.order_id)?;
    if known.is_some_and(|r| r.is_settled()) || ctx.is_replaying() {
        return Ok(());
    }
    let wanted = per_sku(&placed.lines);
    let shortages = shortages(ctx, &wanted)?;
    if shortages.is_empty() {
        change(ctx, &placed.order_id, |r| {
            r.learn_customer(&placed.customer_id);
            r.decide(Decision::Reserved { lines: wanted.clone() });
        })?;
        ctx.emit(&StockReserved {
            order_id: placed.order_id,
            customer_id: placed.customer_id,
            lines: wanted,
            amount_minor: placed.total_minor,
            currency: placed.currency,
            payment_token: placed.payment_token,
        })
    } else {
        change(ctx, &placed.order_id, |r| {
            r.learn_customer(&placed.customer_id);
            r.decide(Decision::Rejected);
        })?;
        ctx.emit(&StockRejected {
            order_id: placed.order_id,
            customer_id: placed.customer_id,
            reason: "out of stock".into(),
            shortages,
        })
    }
}

/// Inventory's own `reserved.v1`: the decision, already applied when it was made; applied
/// here when the store is being rebuilt.
pub(crate) fn apply_reserved(ctx: &mut Context<'_>, reserved: StockReserved) -> HandlerResult {
    change(ctx, &reserved.order_id, |r| {
        r.learn_customer(&reserved.customer_id);
        r.decide(Decision::Reserved { lines: reserved.lines });
    })?;
    Ok(())
}

/// Inventory's own `rejected.v1`, like [`apply_reserved`].
pub(crate) fn apply_rejected(ctx: &mut Context<'_>, rejected: StockRejected) -> HandlerResult {
    change(ctx, &rejected.order_id, |r| {
        r.learn_customer(&rejected.customer_id);
        r.decide(Decision::Rejected);
    })?;
    Ok(())
}

/// One quantity per sku, in sku order: an order may name a sku on several lines, and
/// availability is a question about the total.
fn per_sku(lines: &[OrderLineV2]) -> Vec<SkuQuantity> {
    let mut totals: BTreeMap<&str, u32> = BTreeMap::new();
    for line in lines {
        let total = totals.entry(&line.sku).or_default();
        // Saturating: a total beyond u32 is more than any stock and is simply rejected.
        *total = total.saturating_add(line.quantity);
    }
    totals
        .into_iter()
        .map(|(sku, quantity)| SkuQuantity {
            sku: sku.to_owned(),
            quantity,
        })
        .collect()
}

/// The skus with less on hand than wanted.
fn shortages(ctx: &Context<'_>, wanted: &[SkuQuantity]) -> Result<Vec<Shortage>, mandate::StoreError> {
    let mut shortages = Vec::new();
    for line in wanted {
        let on_hand = stock::load(ctx, &line.sku)?.on_hand;
        if on_hand < u64::from(line.quantity) {
            shortages.push(Shortage {
                sku: line.sku.clone(),
                requested: line.quantity,
                available: u32::try_from(on_hand).unwrap_or(u32::MAX),
            });
        }
    }
    Ok(shortages)
}
