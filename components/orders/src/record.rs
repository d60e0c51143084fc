//! An order as orders keeps it, and the one rule for moving it: forward only, each step
//! once, one end.
//!
//! Events about an order come from four streams, so they can arrive in any order — even
//! before `orders.placed` during a rebuild — and the same fact can be told twice (a copy
//! under a new `ce-id`). A record can therefore exist before its details are known
//! (`placed == false`), and its history is kept as a set of steps whose result does not
//! depend on the order they were learnt in:
//!
//! - one step per status: a status already in the history is not added again (of two
//!   tellings, the earlier time stands);
//! - one terminal step: of two terminal facts the one of higher precedence stands and the
//!   other is not recorded. An accepted cancellation outranks every other end (it was
//!   promised to the customer, and orders refuses it once anything else is known);
//! - the status is the terminal step if there is one, else the furthest of placed →
//!   reserved → paid.
//!
//! So a rebuild that meets the events interleaved unlike the first run ends in the same
//! status and history.

use mandate::{Context, StoreError, View};
use schemas::orders::{OrderLine, OrderStatus, OrderView, StatusChange};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OrderRecord {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Vec<OrderLine>,
    pub total_minor: i64,
    pub currency: String,
    /// False while only later events have been seen (possible during a rebuild).
    pub placed: bool,
    /// Oldest first (`step_rank`); one step per status, at most one terminal.
    pub history: Vec<StatusChange>,
    /// The capture payments announced, once one did. A capture that found the order
    /// cancelled is only noted here: payments refunds it.
    #[serde(default)]
    pub payment_id: Option<String>,
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
            status: self.status(),
            history: self.history_until_the_end(),
            order_id: self.order_id,
            customer_id: self.customer_id,
            lines: self.lines,
            total_minor: self.total_minor,
            currency: self.currency,
        })
    }

    /// The history as callers see it: it ends with the terminal step. A step learnt later
    /// than the end (inventory reserving an order it had not yet seen cancelled, then
    /// releasing it) stays in the record — a fact, and needed for any arrival order to give
    /// the same record — but is no part of the order's life as its customer knows it.
    fn history_until_the_end(&self) -> Vec<StatusChange> {
        let end = self.history.iter().position(|h| h.status.is_terminal());
        let shown = end.map_or(self.history.len(), |end| end + 1);
        self.history[..shown].to_vec()
    }

    /// The terminal step's status, else the furthest step (placed when none is known).
    pub(crate) fn status(&self) -> OrderStatus {
        self.terminal()
            .or_else(|| self.history.iter().map(|h| h.status).max())
            .unwrap_or(OrderStatus::Placed)
    }

    /// Neither confirmed nor ended: the only statuses from which an order may still be
    /// cancelled — or confirmed.
    pub(crate) fn is_open(&self) -> bool {
        matches!(self.status(), OrderStatus::Placed | OrderStatus::Reserved)
    }

    fn terminal(&self) -> Option<OrderStatus> {
        self.history.iter().map(|h| h.status).find(|s| s.is_terminal())
    }

    /// Learns that the order reached `next` at `at` (the time of the event that says so),
    /// by the rules of the module doc. Returns whether the status changed.
    pub(crate) fn advance(&mut self, next: OrderStatus, at: String, note: &str) -> bool {
        let before = self.status();
        let step = StatusChange {
            status: next,
            at,
            note: note.to_owned(),
        };
        if let Some(known) = self.history.iter().position(|h| h.status == next) {
            // The same step told again: the earlier telling stands, whichever came first.
            if step_rank(&step) >= step_rank(&self.history[known]) {
                return false;
            }
            self.history.remove(known);
        } else if let Some(end) = self.terminal().filter(|_| next.is_terminal()) {
            if precedence(end) > precedence(next) {
                return false;
            }
            self.history.retain(|h| h.status != end);
        }
        let position = self.history.partition_point(|h| step_rank(h) <= step_rank(&step));
        self.history.insert(position, step);
        self.status() != before
    }

    /// Notes the capture payments announced; the first one stands.
    pub(crate) fn note_payment(&mut self, payment_id: &str) {
        self.payment_id.get_or_insert_with(|| payment_id.to_owned());
    }
}

/// How steps sort, and which of two tellings of one step stands: by time, then status,
/// then note — a total order, so the outcome never depends on arrival. Times compare as
/// instants, not as text: RFC 3339 text does not sort (`…:00.12Z` is after `…:00.123Z` as
/// text); a time that does not parse sorts first, by its text.
fn step_rank(step: &StatusChange) -> (Option<OffsetDateTime>, &str, OrderStatus, &str) {
    let instant = OffsetDateTime::parse(&step.at, &Rfc3339).ok();
    (instant, step.at.as_str(), step.status, step.note.as_str())
}

/// Which end stands when an order is told two. A cancellation first: orders accepts it only
/// while nothing else is known, so it was promised to the customer before any other outcome
/// could be. The others cannot meet in one order (an order completes only once confirmed,
/// is confirmed only once captured, and is captured only once reserved — not rejected —
/// and not declined); their ranks only make the outcome independent of arrival, also for a
/// history written before orders was the authority (a dispatch of a cancelled order).
fn precedence(end: OrderStatus) -> u8 {
    match end {
        OrderStatus::Cancelled => 4,
        OrderStatus::Completed => 3,
        OrderStatus::PaymentDeclined => 2,
        OrderStatus::Rejected => 1,
        OrderStatus::Placed | OrderStatus::Reserved | OrderStatus::Paid => 0,
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

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    /// A status learnt, at a time, with a note.
    type Fact = (OrderStatus, &'static str, &'static str);
    /// Facts in some order, the status they add up to, and the history's (status, time).
    type Case = (&'static [Fact], OrderStatus, &'static [(OrderStatus, &'static str)]);

    fn learn(facts: &[Fact]) -> OrderRecord {
        let mut record = OrderRecord::default();
        for (status, at, note) in facts {
            record.advance(*status, (*at).into(), note);
        }
        record
    }

    fn steps(record: &OrderRecord) -> Vec<(OrderStatus, &str)> {
        record.history.iter().map(|h| (h.status, h.at.as_str())).collect()
    }

    /// Whatever order the facts of a first run arrive in (a rebuild meets the streams
    /// interleaved differently), and however often each is told, they add up to one status
    /// and one history, with each status once and one end.
    #[test]
    fn any_arrival_order_gives_the_same_status_and_history() {
        let histories: [Case; 7] = [
            (
                &[
                    (Placed, "t1", ""),
                    (Reserved, "t2", ""),
                    (Paid, "t3", ""),
                    (Completed, "t4", ""),
                ],
                Completed,
                &[(Placed, "t1"), (Reserved, "t2"), (Paid, "t3"), (Completed, "t4")],
            ),
            // Finding 4: a rejection after an accepted cancellation.
            (
                &[
                    (Placed, "t1", ""),
                    (Cancelled, "t2", "changed my mind"),
                    (Rejected, "t3", "out of stock"),
                ],
                Cancelled,
                &[(Placed, "t1"), (Cancelled, "t2")],
            ),
            (
                &[
                    (Placed, "t1", ""),
                    (Reserved, "t2", ""),
                    (Cancelled, "t3", ""),
                    (PaymentDeclined, "t4", ""),
                ],
                Cancelled,
                &[(Placed, "t1"), (Reserved, "t2"), (Cancelled, "t3")],
            ),
            // A history from before orders confirmed: a cancelled order dispatched anyway.
            (
                &[(Placed, "t1", ""), (Cancelled, "t2", ""), (Completed, "t4", "")],
                Cancelled,
                &[(Placed, "t1"), (Cancelled, "t2")],
            ),
            // Finding 5: the same facts told again, at the same time or later.
            (
                &[
                    (Placed, "t1", ""),
                    (Reserved, "t2", ""),
                    (Reserved, "t2", ""),
                    (Reserved, "t5", ""),
                    (Paid, "t3", ""),
                ],
                Paid,
                &[(Placed, "t1"), (Reserved, "t2"), (Paid, "t3")],
            ),
            (
                &[
                    (Placed, "t1", ""),
                    (Cancelled, "t2", "a"),
                    (Cancelled, "t2", "b"),
                    (Cancelled, "t3", "a"),
                ],
                Cancelled,
                &[(Placed, "t1"), (Cancelled, "t2")],
            ),
            // Ends that cannot meet in one order still give one end, by rank.
            (
                &[(Rejected, "t2", ""), (PaymentDeclined, "t1", ""), (Completed, "t3", "")],
                Completed,
                &[(Completed, "t3")],
            ),
        ];
        for (facts, status, expected) in histories {
            let first = learn(facts);
            assert_eq!(first.status(), status, "{facts:?}");
            assert_eq!(steps(&first), expected, "{facts:?}");
            for order in testkit::permutations(facts) {
                assert_eq!(learn(&order), first, "facts in the order {order:?}");
            }
        }
    }

    #[test]
    fn the_history_callers_see_ends_with_the_terminal_step() {
        for facts in testkit::permutations(&[(Placed, "t1", ""), (Cancelled, "t2", ""), (Reserved, "t3", "")]) {
            let mut record = learn(&facts);
            record.placed = true;
            let view = record.into_view().expect("placed");
            let shown: Vec<OrderStatus> = view.history.iter().map(|h| h.status).collect();
            assert_eq!((view.status, shown), (Cancelled, vec![Placed, Cancelled]), "{facts:?}");
        }
    }

    #[test]
    fn steps_sort_by_instant_not_by_text() {
        let record = learn(&[
            (Paid, "2026-03-01T10:00:00.12Z", ""),
            (Reserved, "2026-03-01T10:00:00.123+00:00", ""),
            (Placed, "2026-03-01T11:00:00+02:00", ""),
            (Completed, "2026-03-01T10:00:00Z", ""),
        ]);
        let statuses: Vec<OrderStatus> = record.history.iter().map(|h| h.status).collect();
        assert_eq!(statuses, [Placed, Completed, Paid, Reserved]);
        let told_again = learn(&[
            (Reserved, "2026-03-01T10:00:01Z", ""),
            (Reserved, "2026-03-01T10:00:00.9Z", ""),
        ]);
        assert_eq!(
            told_again.history[0].at, "2026-03-01T10:00:00.9Z",
            "the earlier instant stands"
        );
    }

    #[test]
    fn a_step_told_again_does_not_move_the_order() {
        let mut record = OrderRecord::default();
        assert!(
            !record.advance(Placed, "t1".into(), ""),
            "placed is where a record starts"
        );
        assert!(record.advance(Reserved, "t2".into(), ""));
        assert!(!record.advance(Reserved, "t2".into(), ""));
        assert!(record.advance(Paid, "t3".into(), ""));
        assert!(!record.advance(Reserved, "t0".into(), ""), "never back");
        assert!(!record.is_open(), "a paid order is confirmed");
        assert!(record.advance(Completed, "t4".into(), ""));
        assert!(!record.advance(Completed, "t5".into(), ""));
        assert!(!record.advance(Rejected, "t6".into(), ""));
        assert!(
            record.advance(Cancelled, "t7".into(), ""),
            "a cancellation outranks every end (only a history from before confirmation has both)"
        );
        assert_eq!(record.history.iter().filter(|h| h.status.is_terminal()).count(), 1);
    }

    #[test]
    fn an_order_is_open_until_confirmed_or_ended() {
        let mut record = OrderRecord::default();
        assert!(record.is_open());
        record.advance(Reserved, "t2".into(), "");
        assert!(record.is_open());
        for end in [Rejected, PaymentDeclined, Cancelled, Completed] {
            let mut ended = record.clone();
            ended.advance(end, "t3".into(), "");
            assert!(!ended.is_open(), "{end:?}");
        }
    }
}
