//! Reads.

use mandate::{ServiceError, View};
use schemas::notifications::{ListNotificationsRequest, Notification};
use schemas::paging::Page;

use crate::inbox::customer_prefix;
use schemas::paging::page;

/// `notifications.list.v1`: a customer's messages, oldest first, paged. A customer with no
/// messages has an empty list, not a 404.
pub(crate) fn list_notifications(
    view: &View,
    request: ListNotificationsRequest,
) -> Result<Page<Notification>, ServiceError> {
    if request.customer_id.is_empty() {
        return Err(ServiceError::bad_request("customer_id is empty"));
    }
    page(
        view,
        &customer_prefix(&request.customer_id),
        request.after.as_deref(),
        request.limit,
        |n: Notification| n,
    )
}
