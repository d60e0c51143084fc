//! Stock per sku, and the one place that moves it between on hand, reserved and shipped.

use std::collections::{BTreeMap, BTreeSet};

use mandate::{Context, HandlerError, StoreError};
use schemas::inventory::StockView;

pub(crate) fn stock_key(sku: &str) -> String {
    format!("stock/{sku}")
}

/// A sku nobody has restocked has nothing: all zeros, not "unknown".
pub(crate) fn load(ctx: &Context<'_>, sku: &str) -> Result<StockView, StoreError> {
    Ok(ctx.get(&stock_key(sku))?.unwrap_or_else(|| StockView {
        sku: sku.to_owned(),
        ..StockView::default()
    }))
}

pub(crate) fn save(ctx: &mut Context<'_>, view: &StockView) -> Result<(), StoreError> {
    ctx.put(&stock_key(&view.sku), view)
}

/// What one order takes out of on-hand stock, per sku: held for it, or shipped to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Holding {
    pub reserved: BTreeMap<String, u64>,
    pub shipped: BTreeMap<String, u64>,
}

/// Moves stock from what an order held (`before`) to what it holds now (`after`): whatever
/// it holds more comes off on hand, whatever it holds less goes back. Because every
/// reservation change goes through here, `restocked = on_hand + reserved + shipped` holds
/// after each one. Refuses (and so leaves the event to be retried or dead-lettered) a move
/// that would take any count below zero.
pub(crate) fn move_stock(ctx: &mut Context<'_>, before: &Holding, after: &Holding) -> Result<(), HandlerError> {
    let skus: BTreeSet<&String> = [before, after]
        .iter()
        .flat_map(|h| h.reserved.keys().chain(h.shipped.keys()))
        .collect();
    for sku in skus {
        let delta = |side: fn(&Holding) -> &BTreeMap<String, u64>| {
            i128::from(side(after).get(sku).copied().unwrap_or(0))
                - i128::from(side(before).get(sku).copied().unwrap_or(0))
        };
        let reserved = delta(|h| &h.reserved);
        let shipped = delta(|h| &h.shipped);
        if reserved == 0 && shipped == 0 {
            continue;
        }
        let mut view = load(ctx, sku)?;
        view.reserved = shift(view.reserved, reserved, sku, "reserved")?;
        view.shipped = shift(view.shipped, shipped, sku, "shipped")?;
        view.on_hand = shift(view.on_hand, -(reserved + shipped), sku, "on hand")?;
        save(ctx, &view)?;
    }
    Ok(())
}

fn shift(count: u64, delta: i128, sku: &str, what: &str) -> Result<u64, HandlerError> {
    u64::try_from(i128::from(count) + delta).map_err(|_| {
        format!("stock of {sku} would go wrong: {what} is {count}, the change is {delta}; refusing to apply it").into()
    })
}
