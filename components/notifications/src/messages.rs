//! What to tell the customer about each event: short, friendly, and naming the order.

use schemas::inventory::StockRejected;
use schemas::orders::{OrderCancelled, OrderCompleted, OrderPlacedV2};
use schemas::payments::{PaymentDeclined, PaymentRefunded};
use schemas::shipping::ShipmentDispatched;

use crate::money::format_money;

/// A message for one customer about one order; the envelope supplies the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tidings {
    pub customer_id: String,
    pub order_id: String,
    pub message: String,
}

fn tidings(customer_id: &str, order_id: &str, message: String) -> Tidings {
    Tidings {
        customer_id: customer_id.to_owned(),
        order_id: order_id.to_owned(),
        message,
    }
}

/// The tax is named when the order itemises it (v2 with tax; an order placed before tax was
/// itemised reads as v2 with tax 0, and says nothing about it).
pub(crate) fn placed(e: &OrderPlacedV2) -> Tidings {
    let items: u64 = e.lines.iter().map(|l| u64::from(l.quantity)).sum();
    let plural = if items == 1 { "" } else { "s" };
    let tax = if e.tax_minor > 0 {
        format!(" including {} tax", format_money(e.tax_minor, &e.currency))
    } else {
        String::new()
    };
    tidings(
        &e.customer_id,
        &e.order_id,
        format!(
            "Thank you! We have your order {}: {items} item{plural}, {}{tax}.",
            e.order_id,
            format_money(e.total_minor, &e.currency)
        ),
    )
}

pub(crate) fn cancelled(e: &OrderCancelled) -> Tidings {
    let because = match e.reason.trim() {
        "" => String::new(),
        reason => format!(" ({reason})"),
    };
    tidings(
        &e.customer_id,
        &e.order_id,
        format!("Your order {} is cancelled{because}.", e.order_id),
    )
}

pub(crate) fn completed(e: &OrderCompleted) -> Tidings {
    tidings(
        &e.customer_id,
        &e.order_id,
        format!(
            "Your order {} is complete: paid {} and dispatched. Enjoy!",
            e.order_id,
            format_money(e.total_minor, &e.currency)
        ),
    )
}

pub(crate) fn rejected(e: &StockRejected) -> Tidings {
    let missing: Vec<&str> = e.shortages.iter().map(|s| s.sku.as_str()).collect();
    let why = if missing.is_empty() {
        e.reason.clone()
    } else {
        format!("not enough {} in stock", missing.join(", "))
    };
    tidings(
        &e.customer_id,
        &e.order_id,
        format!("Sorry, we could not reserve your order {}: {why}.", e.order_id),
    )
}

pub(crate) fn declined(e: &PaymentDeclined) -> Tidings {
    tidings(
        &e.customer_id,
        &e.order_id,
        format!(
            "Your payment of {} for order {} was declined ({}). Nothing was charged.",
            format_money(e.amount_minor, &e.currency),
            e.order_id,
            e.reason
        ),
    )
}

pub(crate) fn refunded(e: &PaymentRefunded) -> Tidings {
    tidings(
        &e.customer_id,
        &e.order_id,
        format!(
            "We refunded {} for your order {}.",
            format_money(e.amount_minor, &e.currency),
            e.order_id
        ),
    )
}

pub(crate) fn dispatched(e: &ShipmentDispatched) -> Tidings {
    tidings(
        &e.customer_id,
        &e.order_id,
        format!("Your order {} is on its way (shipment {}).", e.order_id, e.shipment_id),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::inventory::Shortage;
    use schemas::orders::{OrderLine, OrderPlaced};

    #[test]
    fn messages_name_the_order_and_what_happened() {
        let v1 = OrderPlaced {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            lines: vec![OrderLine {
                sku: "tea".into(),
                quantity: 3,
                unit_price_minor: 150,
            }],
            total_minor: 450,
            currency: "EUR".into(),
            payment_token: String::new(),
            idempotency_key: String::new(),
            placed_at: String::new(),
        };
        let mut v2 = OrderPlacedV2::from(v1);
        let untaxed = placed(&v2);
        assert_eq!(untaxed.message, "Thank you! We have your order o1: 3 items, 4.50 EUR.");
        assert_eq!((untaxed.customer_id.as_str(), untaxed.order_id.as_str()), ("c1", "o1"));
        (v2.lines[0].tax_minor, v2.tax_minor, v2.subtotal_minor) = (75, 75, 375);
        assert_eq!(
            placed(&v2).message,
            "Thank you! We have your order o1: 3 items, 4.50 EUR including 0.75 EUR tax."
        );

        let rejected = rejected(&StockRejected {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            reason: "out of stock".into(),
            shortages: vec![Shortage {
                sku: "tea".into(),
                requested: 3,
                available: 1,
            }],
        });
        assert_eq!(
            rejected.message,
            "Sorry, we could not reserve your order o1: not enough tea in stock."
        );

        let cancelled = cancelled(&OrderCancelled {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            reason: String::new(),
        });
        assert_eq!(cancelled.message, "Your order o1 is cancelled.");
    }
}
