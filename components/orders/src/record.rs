//! An order as orders keeps it, and the one rule for moving it: forward only.
//!
//! Events about an order come from four streams, so they can arrive in any order — even
//! before `orders.placed` during a rebuild. A record can therefore exist before its details
//! are known (`placed == false`), and a status is only ever replaced by a later one. Terminal
//! states are decided by precedence, not arrival: an accepted cancellation wins over
//! everything else, so a rebuild that meets the events in another order ends in the same
//! state.

use mandate::{Context, StoreError, View};
use schemas::orders::{OrderLine, OrderStatus, OrderView, StatusChange};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OrderRecord {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Vec<OrderLine>,
    pub total_minor: i64,
    pub currency: String,
    /// False while only later events have been seen (possible during a rebuild).
    pub placed: bool,
    pub status: Option<OrderStatus>,
    pub history: Vec<StatusChange>,
}

pub(crate) fn order_key(order_id: &str) -> String {
    format!("order/{order_id}")
}

pub(crate) fn load(ctx: &Context<'_>, order_id: &str) -> Result<OrderRecord, StoreError> {
    Ok(ctx.get(&order_key(order_id))?.unwrap_or_else(|| OrderRecord {
        order_id: order_id.to_owned(),
        ..OrderRecord::default()
    }))
}

pub(crate) fn save(ctx: &mut Context<'_>, record: &OrderRecord) -> Result<(), StoreError> {
    ctx.put(&order_key(&record.order_id), record)
}

/// A placed order as callers see it; `None` when it is unknown or only half-known.
pub(crate) fn view(view: &View, order_id: &str) -> Result<Option<OrderView>, StoreError> {
    Ok(view
        .get::<OrderRecord>(&order_key(order_id))?
        .and_then(OrderRecord::into_view))
}

impl OrderRecord {
    pub(crate) fn into_view(self) -> Option<OrderView> {
        self.placed.then(|| OrderView {
            status: self.status.unwrap_or(OrderStatus::Placed),
            order_id: self.order_id,
            customer_id: self.customer_id,
            lines: self.lines,
            total_minor: self.total_minor,
            currency: self.currency,
            history: self.history,
        })
    }

    pub(crate) fn status(&self) -> OrderStatus {
        self.status.unwrap_or(OrderStatus::Placed)
    }

    /// Records that the order reached `next` (history keeps every such fact, sorted by the
    /// time of the event that caused it, so any arrival order yields the same history) and
    /// moves the status there if that is forward. Returns whether the status moved.
    pub(crate) fn advance(&mut self, next: OrderStatus, at: String, note: &str) -> bool {
        let change = StatusChange {
            status: next,
            at,
            note: note.to_owned(),
        };
        let position = self
            .history
            .partition_point(|h| (h.at.as_str(), h.status) <= (change.at.as_str(), change.status));
        self.history.insert(position, change);
        if !moves_forward(self.status, next) {
            return false;
        }
        self.status = Some(next);
        true
    }
}

/// The status as the contract spells it.
pub(crate) fn status_name(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Placed => "placed",
        OrderStatus::Reserved => "reserved",
        OrderStatus::Paid => "paid",
        OrderStatus::Rejected => "rejected",
        OrderStatus::PaymentDeclined => "payment-declined",
        OrderStatus::Cancelled => "cancelled",
        OrderStatus::Completed => "completed",
    }
}

/// Non-terminal states move up (placed → reserved → paid); a terminal state replaces any
/// non-terminal one; among terminal states only a cancellation replaces another (it was
/// accepted before the other outcome could be known to the customer).
fn moves_forward(current: Option<OrderStatus>, next: OrderStatus) -> bool {
    let Some(current) = current else { return true };
    match (current.is_terminal(), next.is_terminal()) {
        (false, false) => next > current,
        (false, true) => true,
        (true, _) => next == OrderStatus::Cancelled && current != OrderStatus::Cancelled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn statuses_only_move_forward() {
        assert!(moves_forward(None, Reserved));
        assert!(moves_forward(Some(Placed), Paid));
        assert!(!moves_forward(Some(Paid), Reserved));
        assert!(moves_forward(Some(Reserved), Rejected));
        assert!(!moves_forward(Some(Completed), Paid));
        assert!(!moves_forward(Some(Rejected), Completed));
        assert!(
            moves_forward(Some(Completed), Cancelled),
            "an accepted cancellation wins"
        );
        assert!(!moves_forward(Some(Cancelled), Completed));
        assert!(!moves_forward(Some(Cancelled), Cancelled));
    }

    #[test]
    fn any_arrival_order_gives_the_same_status_and_history() {
        let facts = [(Placed, "t1"), (Reserved, "t2"), (Paid, "t3"), (Completed, "t4")];
        let mut in_order = OrderRecord::default();
        for (status, at) in facts {
            in_order.advance(status, at.into(), "");
        }
        let mut reversed = OrderRecord::default();
        for (status, at) in facts.iter().rev() {
            reversed.advance(*status, (*at).into(), "");
        }
        assert_eq!(in_order, reversed);
        assert_eq!(in_order.status(), Completed);
        let statuses: Vec<_> = in_order.history.iter().map(|h| h.status).collect();
        assert_eq!(statuses, vec![Placed, Reserved, Paid, Completed]);
    }
}
