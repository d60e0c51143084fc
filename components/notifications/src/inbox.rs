//! Each customer's messages, one per event, in the order the events happened.
//!
//! Key: `customer/<customer>/<sortable event time>/<event id>`. The customer part comes
//! first so a customer's list is one prefix; the time orders it; the event id makes the key
//! unique and makes a redelivered event overwrite its own message instead of adding one.

use mandate::{Context, HandlerError, HandlerResult};
use schemas::notifications::Notification;

use crate::messages::Tidings;
use crate::sortable_time::sortable;

/// The prefix of one customer's messages. Customer ids are the clients' own strings, so a
/// `/` in one is escaped: customer `a` must not see the messages of customer `a/b`.
pub(crate) fn customer_prefix(customer_id: &str) -> String {
    format!("customer/{}/", customer_id.replace('%', "%25").replace('/', "%2F"))
}

/// Keeps the message about the event being handled. An event that names no customer, or
/// whose time is not RFC 3339, cannot be filed: it fails, so the kit retries and then
/// dead-letters it with this reason rather than dropping it silently.
pub(crate) fn tell(ctx: &mut Context<'_>, tidings: Tidings) -> HandlerResult {
    file(ctx, tidings).map(drop)
}

/// [`tell`], returning the key the message is filed under.
pub(crate) fn file(ctx: &mut Context<'_>, tidings: Tidings) -> Result<String, HandlerError> {
    let meta = ctx.meta().ok_or("a notification needs the event's envelope")?;
    if tidings.customer_id.is_empty() {
        return Err(format!(
            "{} {} about order {:?} names no customer: nobody to tell",
            meta.kind, meta.id, tidings.order_id
        )
        .into());
    }
    let at = sortable(&meta.time).ok_or_else(|| {
        format!(
            "{} {} has ce-time {:?}, which is not an RFC 3339 time",
            meta.kind, meta.id, meta.time
        )
    })?;
    let notification = Notification {
        id: meta.id.clone(),
        customer_id: tidings.customer_id,
        order_id: tidings.order_id,
        kind: meta.kind.clone(),
        message: tidings.message,
        at: meta.time.clone(),
    };
    let key = format!("{}{at}/{}", customer_prefix(&notification.customer_id), notification.id);
    ctx.put(&key, &notification)?;
    Ok(key)
}
