//! Each customer's messages: one per order and kind of event, in the order the events
//! happened.
//!
//! Key: `customer/<customer>/<sortable event time>/<event id>`. The customer part comes
//! first so a customer's list is one prefix; the time orders it; the event id makes the key
//! unique.
//!
//! A customer hears of each fact once. The fact is the business key — the order and the
//! kind of event (`orders.cancelled`, whatever its major version) — not the message id: an
//! event redelivered, or told again under a new `ce-id` (an owner's bug, an operator's
//! import, a dead letter retried), changes nothing. A marker `told/<order>/<kind>` says
//! where the message is filed and from which major version. The one exception is a newer
//! major of the same kind: it replaces the older's message, because it may say more.
//! That is how an order placed during the migration to `orders.placed.v2` — published as
//! v2 and v1 — is told once, as its v2 (which names the tax), whichever arrives first; an
//! order placed before the migration, with only a v1, is told by that v1. Within one
//! stream a copy comes after its original in every replay, so the first telling stands in
//! a rebuild too.

use mandate::{Context, Event, HandlerError, HandlerResult};
use schemas::notifications::Notification;
use serde::{Deserialize, Serialize};

use crate::messages::Tidings;
use crate::sortable_time::sortable;

/// Which message tells the customer of one (order, kind of event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Told {
    /// Where the message is filed.
    key: String,
    /// The major version of the event it was made from.
    version: u32,
}

/// The prefix of one customer's messages. Customer ids are the clients' own strings, so a
/// `/` in one is escaped: customer `a` must not see the messages of customer `a/b`.
pub(crate) fn customer_prefix(customer_id: &str) -> String {
    format!("customer/{}/", customer_id.replace('%', "%25").replace('/', "%2F"))
}

/// Outside the `customer/` key space, so never listed. The kind (no `/` in it) comes last,
/// so any order id gives a key of its own.
fn told_key(order_id: &str, kind: &str) -> String {
    format!("told/{order_id}/{kind}")
}

/// Tells the customer about the `E` being handled, unless they were told of this order and
/// kind of event already. An event that names no customer or no order, or whose time is not
/// RFC 3339, cannot be filed: it fails, so the kit retries and then dead-letters it with
/// this reason rather than dropping it silently.
pub(crate) fn tell<E: Event>(ctx: &mut Context<'_>, tidings: Tidings) -> HandlerResult {
    let (notification, sortable_at) = notification(ctx, tidings)?;
    let told = told_key(&notification.order_id, &format!("{}.{}", E::OWNER, E::NAME));
    if let Some(earlier) = ctx.get::<Told>(&told)? {
        if earlier.version >= E::VERSION {
            return Ok(());
        }
        ctx.delete(&earlier.key);
    }
    let key = format!(
        "{}{sortable_at}/{}",
        customer_prefix(&notification.customer_id),
        notification.id
    );
    ctx.put(&key, &notification)?;
    ctx.put(
        &told,
        &Told {
            key,
            version: E::VERSION,
        },
    )?;
    Ok(())
}

/// The message about the event being handled, checked to be fileable, and its time as a key.
fn notification(ctx: &Context<'_>, tidings: Tidings) -> Result<(Notification, String), HandlerError> {
    let meta = ctx.meta().ok_or("a notification needs the event's envelope")?;
    if tidings.customer_id.is_empty() {
        return Err(format!(
            "{} {} about order {:?} names no customer: nobody to tell",
            meta.kind, meta.id, tidings.order_id
        )
        .into());
    }
    if tidings.order_id.is_empty() {
        return Err(format!(
            "{} {} for customer {:?} names no order: nothing to tell",
            meta.kind, meta.id, tidings.customer_id
        )
        .into());
    }
    let sortable_at = sortable(&meta.time).ok_or_else(|| {
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
    Ok((notification, sortable_at))
}
