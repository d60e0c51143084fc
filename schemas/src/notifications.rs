//! Owned by `notifications`: the messages sent to customers about their orders.

use mandate::Operation;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::paging::Page;

/// One message to a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct Notification {
    /// The id of the event it tells about (so one event makes one message).
    pub id: String,
    pub customer_id: String,
    pub order_id: String,
    /// The event type it tells about, e.g. `orders.placed.v1`.
    pub kind: String,
    pub message: String,
    /// RFC 3339 time of the event.
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct ListNotificationsRequest {
    pub customer_id: String,
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub limit: u32,
}

/// `svc.notifications.list.v1`: a customer's messages, paged.
#[derive(Debug)]
pub struct ListNotifications;

impl Operation for ListNotifications {
    const OWNER: &'static str = "notifications";
    const NAME: &'static str = "list";
    const VERSION: u32 = 1;
    type Request = ListNotificationsRequest;
    type Response = Page<Notification>;
}
