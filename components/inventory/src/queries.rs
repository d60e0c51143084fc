//! Reads.

use mandate::{ServiceError, View};
use schemas::inventory::{GetStockRequest, StockView};

use crate::stock::stock_key;

/// `inventory.get-stock.v1`: a sku never restocked has all zeros (an answer, not a 404).
pub(crate) fn get_stock(view: &View, request: GetStockRequest) -> Result<StockView, ServiceError> {
    if request.sku.is_empty() {
        return Err(ServiceError::bad_request("sku is empty"));
    }
    Ok(view.get(&stock_key(&request.sku))?.unwrap_or(StockView {
        sku: request.sku,
        ..StockView::default()
    }))
}
