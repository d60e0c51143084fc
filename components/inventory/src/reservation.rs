//! An order's reservation, as a set of facts, and the state those facts add up to.
//!
//! Facts come from four streams whose relative order is not guaranteed: the decision
//! (reserve or reject) and a release are inventory's own, the cancellation is orders', the
//! dispatch shipping's. So the record keeps each fact once, and its state is a function of
//! which facts are known — not of the order they arrived in:
//!
//! | facts | state |
//! |---|---|
//! | rejected | `Rejected` |
//! | reserved + released | `Released` (a release always wins: a dispatch that comes after it is not counted) |
//! | reserved + dispatched | `Shipped` |
//! | reserved | `Held` |
//! | cancelled, no decision | `Cancelled` (a marker: the order, if it comes, reserves nothing) |
//! | nothing decided | `Undecided` |
//!
//! In normal operation a release is only ever decided from `Held`, so an entity only moves
//! forward. In a rebuild the same facts arrive in another order and add up to the same
//! state. Stock follows the state through [`change`], which moves the difference.

use mandate::{Context, HandlerError, StoreError};
use schemas::inventory::SkuQuantity;
use serde::{Deserialize, Serialize};

use crate::stock::{Holding, move_stock};

/// What inventory decided for an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub(crate) enum Decision {
    /// Every line is held, one quantity per sku.
    Reserved { lines: Vec<SkuQuantity> },
    /// Not every line could be held, so none is.
    Rejected,
}

/// Where a reservation stands (derived, never stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Undecided,
    Cancelled,
    Held,
    Rejected,
    Released,
    Shipped,
}

/// Everything inventory knows about one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Reservation {
    pub order_id: String,
    #[serde(default)]
    pub customer_id: String,
    #[serde(default)]
    pub decision: Option<Decision>,
    /// Why the held stock went back on hand, once it did.
    #[serde(default)]
    pub released: Option<String>,
    /// Orders cancelled the order.
    #[serde(default)]
    pub cancelled: bool,
    /// Shipping dispatched the order.
    #[serde(default)]
    pub dispatched: bool,
}

impl Reservation {
    pub(crate) fn new(order_id: &str) -> Reservation {
        Reservation {
            order_id: order_id.to_owned(),
            customer_id: String::new(),
            decision: None,
            released: None,
            cancelled: false,
            dispatched: false,
        }
    }

    pub(crate) fn state(&self) -> State {
        match &self.decision {
            Some(Decision::Rejected) => State::Rejected,
            Some(Decision::Reserved { .. }) if self.released.is_some() => State::Released,
            Some(Decision::Reserved { .. }) if self.dispatched => State::Shipped,
            Some(Decision::Reserved { .. }) => State::Held,
            None if self.cancelled => State::Cancelled,
            None => State::Undecided,
        }
    }

    /// True once an order's placement has been dealt with: decided, or cancelled first.
    pub(crate) fn is_settled(&self) -> bool {
        self.decision.is_some() || self.cancelled
    }

    /// The lines held for the order (empty unless it was reserved).
    pub(crate) fn lines(&self) -> &[SkuQuantity] {
        match &self.decision {
            Some(Decision::Reserved { lines }) => lines,
            _ => &[],
        }
    }

    /// The first decision stands; a second one (a repeated event) changes nothing.
    pub(crate) fn decide(&mut self, decision: Decision) {
        self.decision.get_or_insert(decision);
    }

    /// The first reason stands.
    pub(crate) fn release(&mut self, reason: &str) {
        self.released.get_or_insert_with(|| reason.to_owned());
    }

    pub(crate) fn learn_customer(&mut self, customer_id: &str) {
        if self.customer_id.is_empty() {
            self.customer_id = customer_id.to_owned();
        }
    }

    /// What the order takes out of on-hand stock in its current state.
    pub(crate) fn holding(&self) -> Holding {
        let mut holding = Holding::default();
        let side = match self.state() {
            State::Held => &mut holding.reserved,
            State::Shipped => &mut holding.shipped,
            _ => return holding,
        };
        for line in self.lines() {
            *side.entry(line.sku.clone()).or_default() += u64::from(line.quantity);
        }
        holding
    }
}

fn reservation_key(order_id: &str) -> String {
    format!("reservation/{order_id}")
}

pub(crate) fn load(ctx: &Context<'_>, order_id: &str) -> Result<Option<Reservation>, StoreError> {
    ctx.get(&reservation_key(order_id))
}

/// Changes an order's reservation (creating it if need be) and moves stock to match its new
/// state. Returns the reservation as it is now.
pub(crate) fn change(
    ctx: &mut Context<'_>,
    order_id: &str,
    edit: impl FnOnce(&mut Reservation),
) -> Result<Reservation, HandlerError> {
    let before = load(ctx, order_id)?;
    let mut after = before.clone().unwrap_or_else(|| Reservation::new(order_id));
    edit(&mut after);
    if before.as_ref() != Some(&after) {
        let held_before = before.as_ref().map(Reservation::holding).unwrap_or_default();
        move_stock(ctx, &held_before, &after.holding())?;
        ctx.put(&reservation_key(order_id), &after)?;
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines() -> Vec<SkuQuantity> {
        vec![SkuQuantity {
            sku: "a".into(),
            quantity: 2,
        }]
    }

    #[derive(Debug, Clone, Copy)]
    enum Fact {
        Reserved,
        Rejected,
        Released,
        Cancelled,
        Dispatched,
    }

    fn learn(reservation: &mut Reservation, fact: Fact) {
        match fact {
            Fact::Reserved => reservation.decide(Decision::Reserved { lines: lines() }),
            Fact::Rejected => reservation.decide(Decision::Rejected),
            Fact::Released => reservation.release("order-cancelled"),
            Fact::Cancelled => reservation.cancelled = true,
            Fact::Dispatched => reservation.dispatched = true,
        }
    }

    /// Whatever order a rebuild delivers the facts in, they add up to one state and one
    /// holding — the state the original run reached.
    #[test]
    fn the_state_does_not_depend_on_the_arrival_order() {
        use Fact::*;
        let histories: [(&[Fact], State); 8] = [
            (&[Reserved], State::Held),
            (&[Reserved, Dispatched], State::Shipped),
            (&[Reserved, Released, Cancelled], State::Released),
            (&[Reserved, Released, Cancelled, Dispatched], State::Released),
            (&[Reserved, Dispatched, Cancelled], State::Shipped),
            (&[Rejected, Cancelled], State::Rejected),
            (&[Cancelled], State::Cancelled),
            (&[Dispatched], State::Undecided),
        ];
        for (facts, expected) in histories {
            let mut holdings = Vec::new();
            for order in testkit::permutations(facts) {
                let mut reservation = Reservation::new("o1");
                for fact in &order {
                    learn(&mut reservation, *fact);
                }
                assert_eq!(reservation.state(), expected, "facts in the order {order:?}");
                holdings.push(reservation.holding());
            }
            holdings.dedup();
            assert_eq!(holdings.len(), 1, "one holding for {facts:?}");
        }
    }

    #[test]
    fn a_held_order_holds_its_lines_and_a_shipped_one_has_shipped_them() {
        let mut reservation = Reservation::new("o1");
        assert_eq!(reservation.holding(), Holding::default());
        reservation.decide(Decision::Reserved { lines: lines() });
        assert_eq!(reservation.holding().reserved.get("a"), Some(&2));
        reservation.dispatched = true;
        let shipped = reservation.holding();
        assert_eq!((shipped.reserved.get("a"), shipped.shipped.get("a")), (None, Some(&2)));
        reservation.release("order-cancelled");
        assert_eq!(
            reservation.holding(),
            Holding::default(),
            "a release hands everything back"
        );
    }

    #[test]
    fn the_first_decision_and_the_first_release_reason_stand() {
        let mut reservation = Reservation::new("o1");
        reservation.decide(Decision::Rejected);
        reservation.decide(Decision::Reserved { lines: lines() });
        assert_eq!(reservation.state(), State::Rejected);
        let mut reservation = Reservation::new("o2");
        reservation.release("payment-declined");
        reservation.release("order-cancelled");
        assert_eq!(reservation.released.as_deref(), Some("payment-declined"));
    }
}
