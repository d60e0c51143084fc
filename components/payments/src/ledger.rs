//! One order's payment, as a set of facts, and the state they add up to.
//!
//! | facts | state |
//! |---|---|
//! | captured + refunded | `Refunded` |
//! | captured | `Captured` |
//! | declined | `Declined` |
//! | charge asked + cancelled, nothing decided | `Voided` (cancelled before it could be charged) |
//! | cancelled only | a marker, not a payment: the charge, if it is asked, is voided |
//!
//! Live, the facts arrive in an order that only moves a payment forward. In a rebuild the
//! same facts may arrive in another order (a cancellation before the capture it followed)
//! and add up to the same state.

use mandate::{Context, StoreError};
use schemas::payments::{PaymentStatus, PaymentView};
use serde::{Deserialize, Serialize};

/// What the provider decided, as announced on payments' own stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub(crate) enum Outcome {
    Captured { payment_id: String },
    Declined { reason: String },
}

/// Everything payments knows about one order's payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Payment {
    pub order_id: String,
    #[serde(default)]
    pub customer_id: String,
    /// Inventory reserved the order: the charge is due.
    #[serde(default)]
    pub charge_due: bool,
    #[serde(default)]
    pub amount_minor: i64,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub outcome: Option<Outcome>,
    #[serde(default)]
    pub refunded: bool,
    /// Orders cancelled the order.
    #[serde(default)]
    pub cancelled: bool,
}

impl Payment {
    pub(crate) fn new(order_id: &str) -> Payment {
        Payment {
            order_id: order_id.to_owned(),
            customer_id: String::new(),
            charge_due: false,
            amount_minor: 0,
            currency: String::new(),
            outcome: None,
            refunded: false,
            cancelled: false,
        }
    }

    /// The state, or `None` while there is no payment to speak of (only a cancellation
    /// marker, or — mid-rebuild — a charge whose outcome has not come back yet).
    pub(crate) fn status(&self) -> Option<PaymentStatus> {
        match &self.outcome {
            Some(Outcome::Captured { .. }) if self.refunded => Some(PaymentStatus::Refunded),
            Some(Outcome::Captured { .. }) => Some(PaymentStatus::Captured),
            Some(Outcome::Declined { .. }) => Some(PaymentStatus::Declined),
            None if self.charge_due && self.cancelled => Some(PaymentStatus::Voided),
            None => None,
        }
    }

    /// True once the charge was dealt with: decided, or voided.
    pub(crate) fn is_settled(&self) -> bool {
        self.outcome.is_some() || self.charge_due
    }

    pub(crate) fn payment_id(&self) -> Option<&str> {
        match &self.outcome {
            Some(Outcome::Captured { payment_id }) => Some(payment_id),
            _ => None,
        }
    }

    /// The first outcome stands; a repeated event changes nothing.
    pub(crate) fn decide(&mut self, outcome: Outcome) {
        self.outcome.get_or_insert(outcome);
    }

    /// Who pays what, from whichever event says so first.
    pub(crate) fn learn(&mut self, customer_id: &str, amount_minor: i64, currency: &str) {
        if self.customer_id.is_empty() {
            self.customer_id = customer_id.to_owned();
        }
        if self.currency.is_empty() {
            self.amount_minor = amount_minor;
            self.currency = currency.to_owned();
        }
    }

    pub(crate) fn view(&self) -> Option<PaymentView> {
        let status = self.status()?;
        Some(PaymentView {
            order_id: self.order_id.clone(),
            customer_id: self.customer_id.clone(),
            status,
            amount_minor: self.amount_minor,
            currency: self.currency.clone(),
            payment_id: self.payment_id().map(str::to_owned),
            reason: match (&self.outcome, status) {
                (Some(Outcome::Declined { reason }), _) => Some(reason.clone()),
                (_, PaymentStatus::Voided) => Some("the order was cancelled before it was charged".into()),
                _ => None,
            },
        })
    }
}

pub(crate) fn payment_key(order_id: &str) -> String {
    format!("payment/{order_id}")
}

/// Changes an order's payment record (creating it if need be); returns it as it is now.
pub(crate) fn change(
    ctx: &mut Context<'_>,
    order_id: &str,
    edit: impl FnOnce(&mut Payment),
) -> Result<Payment, StoreError> {
    let key = payment_key(order_id);
    let before = ctx.get::<Payment>(&key)?;
    let mut after = before.clone().unwrap_or_else(|| Payment::new(order_id));
    edit(&mut after);
    if before.as_ref() != Some(&after) {
        ctx.put(&key, &after)?;
    }
    Ok(after)
}

pub(crate) fn load(ctx: &Context<'_>, order_id: &str) -> Result<Option<Payment>, StoreError> {
    ctx.get(&payment_key(order_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy)]
    enum Fact {
        ChargeDue,
        Captured,
        Declined,
        Refunded,
        Cancelled,
    }

    fn learn(payment: &mut Payment, fact: Fact) {
        match fact {
            Fact::ChargeDue => payment.charge_due = true,
            Fact::Captured => payment.decide(Outcome::Captured {
                payment_id: "p1".into(),
            }),
            Fact::Declined => payment.decide(Outcome::Declined { reason: "no".into() }),
            Fact::Refunded => payment.refunded = true,
            Fact::Cancelled => payment.cancelled = true,
        }
    }

    /// Whatever order a rebuild delivers the facts of a first run in, they add up to the
    /// state that run reached.
    #[test]
    fn the_state_does_not_depend_on_the_arrival_order() {
        use Fact::*;
        let histories: [(&[Fact], Option<PaymentStatus>); 6] = [
            (&[ChargeDue, Captured], Some(PaymentStatus::Captured)),
            (
                &[ChargeDue, Captured, Cancelled, Refunded],
                Some(PaymentStatus::Refunded),
            ),
            (&[ChargeDue, Declined], Some(PaymentStatus::Declined)),
            (&[ChargeDue, Declined, Cancelled], Some(PaymentStatus::Declined)),
            (&[Cancelled, ChargeDue], Some(PaymentStatus::Voided)),
            (&[Cancelled], None),
        ];
        for (facts, expected) in histories {
            for order in testkit::permutations(facts) {
                let mut payment = Payment::new("o1");
                for fact in &order {
                    learn(&mut payment, *fact);
                }
                assert_eq!(payment.status(), expected, "facts in the order {order:?}");
            }
        }
    }

    #[test]
    fn a_view_says_why_and_keeps_the_payment_id_after_a_refund() {
        let mut payment = Payment::new("o1");
        assert_eq!(payment.view(), None);
        payment.charge_due = true;
        payment.learn("c1", 500, "EUR");
        payment.decide(Outcome::Captured {
            payment_id: "p1".into(),
        });
        payment.refunded = true;
        let view = payment.view().expect("a payment");
        assert_eq!(view.status, PaymentStatus::Refunded);
        assert_eq!(view.payment_id.as_deref(), Some("p1"));
        assert_eq!((view.amount_minor, view.currency.as_str()), (500, "EUR"));
    }
}
