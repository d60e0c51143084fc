//! Reading orders: one, or a customer's, paged oldest first.

use mandate::{ServiceError, View};
use schemas::orders::{GetOrderRequest, ListOrdersRequest, OrderView};
use schemas::paging::{Page, page_size};

use crate::record;

pub(crate) fn get(view: &View, request: GetOrderRequest) -> Result<OrderView, ServiceError> {
    record::view(view, &request.order_id)?
        .ok_or_else(|| ServiceError::not_found(format!("no order {}", request.order_id)))
}

pub(crate) fn list(view: &View, request: ListOrdersRequest) -> Result<Page<OrderView>, ServiceError> {
    if request.customer_id.trim().is_empty() {
        return Err(ServiceError::bad_request("customer_id is empty"));
    }
    let prefix = format!("customer/{}/", request.customer_id);
    let after = request.after.as_ref().map(|order_id| format!("{prefix}{order_id}"));
    let limit = page_size(request.limit);
    // One more than asked tells whether another page follows.
    let ids: Vec<(String, String)> = view.page(&prefix, after.as_deref(), limit + 1)?;
    let more = ids.len() > limit;
    let page: Vec<String> = ids.into_iter().take(limit).map(|(_, order_id)| order_id).collect();
    let next = if more { page.last().cloned() } else { None };
    let mut items = Vec::with_capacity(page.len());
    for order_id in page {
        // A record known only from later events (mid-rebuild) is not shown yet.
        if let Some(order) = record::view(view, &order_id)? {
            items.push(order);
        }
    }
    Ok(Page { items, next })
}

/// One page of a customer's orders from each partition's page after the same cursor: the
/// first `limit` of them all, in order id order (UUIDv7: by time). Each partition's page holds
/// its first `limit`, so the first `limit` of all are among them; another page follows when
/// any partition had more or more are left here.
pub(crate) fn merge_pages(request: ListOrdersRequest, pages: Vec<Page<OrderView>>) -> Page<OrderView> {
    let limit = page_size(request.limit);
    let more_behind = pages.iter().any(|page| page.next.is_some());
    let mut items: Vec<OrderView> = pages.into_iter().flat_map(|page| page.items).collect();
    items.sort_by(|a, b| a.order_id.cmp(&b.order_id));
    let more = more_behind || items.len() > limit;
    items.truncate(limit);
    let next = if more {
        items.last().map(|o| o.order_id.clone())
    } else {
        None
    };
    Page { items, next }
}
