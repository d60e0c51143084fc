//! What must hold after any run, however hostile — checked through services and streams only
//! (`orders.get`/`list`, `inventory.get-stock`, `payments.get`, `shipping.get`,
//! `notifications.list`, `loyalty.balance`, stream contents read as a client), never by
//! opening a store.
//!
//! The rules are stated on behaviour (statuses, money, shipments, stock), not on event
//! names, so that they hold whichever events a design uses to get there.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use schemas::loyalty::points_for;
use schemas::orders::{OrderStatus, OrderView};
use schemas::payments::{PaymentStatus, PaymentView};
use schemas::shipping::ShipmentView;

use crate::streams::{self, Stored};
use crate::verdict::Verdict;
use crate::{Stack, services};

// The invariants, by the name failures report them under.
pub const LOST: &str = "nothing lost: every accepted order exists and is listed";
pub const DOUBLED_ORDER: &str = "nothing doubled: one order per idempotency key";
pub const STUCK: &str = "every order ends";
pub const ONE_TERMINAL: &str = "one terminal state per order, once in its history";
pub const HISTORY_ONCE: &str = "no status twice in an order's history";
pub const CANCEL_KEPT: &str = "a cancel answered 200 sticks; nobody else cancels";
pub const NOT_DISPATCHED: &str = "no cancelled order dispatched";
pub const SHIPPED_IFF_COMPLETED: &str = "shipments exist exactly for completed orders";
pub const LEDGER: &str = "ledger = completed totals: money is kept exactly for completed orders";
pub const REFUNDS: &str = "refunds = cancellations after capture";
pub const DECLINES: &str = "a payment-declined order has a declined payment";
pub const STOCK: &str = "stock conserved per sku: restocked = on hand + reserved + shipped";
pub const SHIPPED_UNITS: &str = "units shipped per sku = units of the dispatched orders";
pub const DUPLICATE_ID: &str = "no ce-id twice in the event streams";
pub const DOUBLED_EVENT: &str = "at most one event of each kind and version per order (or business key)";
pub const DOUBLED_NOTICE: &str = "at most one notification of each kind per order";
pub const DEAD_LETTERS: &str = "DLQ empty";
pub const SET_ASIDE: &str = "no outbox entry set aside: every event a component committed is published";
pub const LOYALTY: &str =
    "loyalty = points for completed orders' totals, less the points of those refunded, per customer";

/// The component whose balances [`LOYALTY`] checks.
pub const LOYALTY_COMPONENT: &str = "loyalty";

/// Invariants whose breaking means something was doubled (the summary's `doubled`).
pub const DOUBLING: [&str; 4] = [DOUBLED_ORDER, DUPLICATE_ID, DOUBLED_EVENT, DOUBLED_NOTICE];

/// What the client of a run knows: what it was told was accepted.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    pub skus: Vec<String>,
    /// Units restocked per sku (every restock the client saw accepted).
    pub restocked: BTreeMap<String, u64>,
    pub orders: Vec<Accepted>,
}

/// An order the client was told was accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub key: String,
    pub order_id: String,
    pub customer: String,
    pub lines: Vec<(String, u32)>,
    pub total_minor: i64,
    pub cancel: Cancel,
}

/// What the client's cancel of an order came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    NotAsked,
    /// Answered 200 (or 409 for an order then found cancelled: a retry of our own cancel).
    Accepted,
    /// Answered 409: too late.
    Refused,
    /// The client gave up without an answer: either ending is allowed.
    Unanswered,
}

/// Everything the services say about one order.
#[derive(Debug)]
struct Facts {
    order: Option<OrderView>,
    payment: Option<PaymentView>,
    shipment: Option<ShipmentView>,
}

/// Checks every invariant after a run has settled; returns how each order ended.
pub async fn check(stack: &Stack, expected: &Expected, verdict: &mut Verdict) -> BTreeMap<String, usize> {
    let facts = gather(stack, expected, verdict).await;
    let outcomes = check_orders(expected, &facts, verdict);
    check_lists(stack, expected, &facts, verdict).await;
    check_stock(stack, expected, &facts, verdict).await;
    check_streams(stack, verdict).await;
    check_notifications(stack, expected, verdict).await;
    check_loyalty(stack, expected, &facts, verdict).await;
    check_dead_letters(stack, verdict).await;
    check_set_aside(stack, verdict).await;
    outcomes
}

/// The services' answers about every accepted order, eight calls at a time.
async fn gather(stack: &Stack, expected: &Expected, verdict: &mut Verdict) -> BTreeMap<String, Facts> {
    let answers: Vec<_> = futures::stream::iter(&expected.orders)
        .map(|accepted| async move {
            let id = accepted.order_id.as_str();
            let facts = async {
                Ok::<_, String>(Facts {
                    order: services::order(stack, id).await?,
                    payment: services::payment(stack, id).await?,
                    shipment: services::shipment(stack, id).await?,
                })
            }
            .await;
            (id.to_owned(), facts)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut facts = BTreeMap::new();
    for (id, answer) in answers {
        match answer {
            Ok(answer) => {
                facts.insert(id, answer);
            }
            Err(why) => verdict.unchecked("order facts", format!("order {id}: {why}")),
        }
    }
    facts
}

fn check_orders(
    expected: &Expected,
    facts: &BTreeMap<String, Facts>,
    verdict: &mut Verdict,
) -> BTreeMap<String, usize> {
    let mut outcomes = BTreeMap::new();
    for accepted in &expected.orders {
        let id = &accepted.order_id;
        let Some(facts) = facts.get(id) else { continue };
        let Some(order) = &facts.order else {
            verdict.broke(
                LOST,
                format!("order {id} (key {}): orders.get answers 404", accepted.key),
            );
            continue;
        };
        let status = order.status;
        *outcomes.entry(status_name(status)).or_default() += 1;
        let history: Vec<String> = order.history.iter().map(|h| status_name(h.status)).collect();
        if !status.is_terminal() {
            verdict.broke(
                STUCK,
                format!("order {id}: still {} (history {history:?})", status_name(status)),
            );
        }
        let terminals = order.history.iter().filter(|h| h.status.is_terminal()).count();
        let last = order.history.last().map(|h| h.status);
        if (status.is_terminal() && terminals != 1) || terminals > 1 || last != Some(status) {
            verdict.broke(
                ONE_TERMINAL,
                format!("order {id}: status {} with history {history:?}", status_name(status)),
            );
        }
        if history.iter().collect::<BTreeSet<_>>().len() != history.len() {
            verdict.broke(HISTORY_ONCE, format!("order {id}: history {history:?}"));
        }
        check_cancel(accepted, status, &history, verdict);
        check_money_and_goods(accepted, order, facts, verdict);
    }
    outcomes
}

fn check_cancel(accepted: &Accepted, status: OrderStatus, history: &[String], verdict: &mut Verdict) {
    let id = &accepted.order_id;
    let cancelled = status == OrderStatus::Cancelled;
    match accepted.cancel {
        Cancel::Accepted if !cancelled => verdict.broke(
            CANCEL_KEPT,
            format!(
                "order {id}: its cancel was accepted, yet it ended {} (history {history:?})",
                status_name(status)
            ),
        ),
        Cancel::NotAsked | Cancel::Refused if cancelled => verdict.broke(
            CANCEL_KEPT,
            format!("order {id}: ended cancelled, but its cancel was {:?}", accepted.cancel),
        ),
        _ => {}
    }
}

fn check_money_and_goods(accepted: &Accepted, order: &OrderView, facts: &Facts, verdict: &mut Verdict) {
    let id = &accepted.order_id;
    let status = order.status;
    let payment = facts.payment.as_ref().map(|p| (p.status, p.amount_minor));
    let shipped = facts.shipment.as_ref().map(|s| s.shipment_id.as_str());
    if status == OrderStatus::Cancelled {
        if let Some(shipment) = shipped {
            verdict.broke(
                NOT_DISPATCHED,
                format!("order {id}: cancelled, yet dispatched as shipment {shipment} (payment {payment:?})"),
            );
        }
    } else if (status == OrderStatus::Completed) != shipped.is_some() {
        verdict.broke(
            SHIPPED_IFF_COMPLETED,
            format!("order {id}: {} with shipment {shipped:?}", status_name(status)),
        );
    }
    let kept = matches!(payment, Some((PaymentStatus::Captured, _)));
    if (status == OrderStatus::Completed) != kept || (kept && payment.map(|p| p.1) != Some(accepted.total_minor)) {
        verdict.broke(
            LEDGER,
            format!(
                "order {id}: {} (total {}) with payment {payment:?}",
                status_name(status),
                accepted.total_minor
            ),
        );
    }
    if let Some((PaymentStatus::Refunded, amount)) = payment {
        if status != OrderStatus::Cancelled || amount != accepted.total_minor {
            verdict.broke(
                REFUNDS,
                format!(
                    "order {id}: refunded {amount} but {} (total {})",
                    status_name(status),
                    accepted.total_minor
                ),
            );
        }
    }
    if status == OrderStatus::PaymentDeclined && !matches!(payment, Some((PaymentStatus::Declined, _))) {
        verdict.broke(
            DECLINES,
            format!("order {id}: payment-declined with payment {payment:?}"),
        );
    }
}

/// Each customer's list holds exactly the orders accepted for them, each once, as `get` says.
async fn check_lists(stack: &Stack, expected: &Expected, facts: &BTreeMap<String, Facts>, verdict: &mut Verdict) {
    let mut by_customer: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for accepted in &expected.orders {
        by_customer
            .entry(accepted.customer.as_str())
            .or_default()
            .insert(accepted.order_id.as_str());
    }
    for (customer, ids) in by_customer {
        let listed = match services::orders_of(stack, customer).await {
            Ok(listed) => listed,
            Err(why) => {
                verdict.unchecked("order lists", format!("customer {customer}: {why}"));
                continue;
            }
        };
        let mut seen = BTreeSet::new();
        for order in &listed {
            let id = order.order_id.as_str();
            if !ids.contains(id) || !seen.insert(id) {
                verdict.broke(
                    DOUBLED_ORDER,
                    format!("customer {customer}: order {id} listed but not (or not once) accepted: {order:?}"),
                );
            }
            let got = facts.get(id).and_then(|f| f.order.as_ref()).map(|o| o.status);
            if got.is_some_and(|got| got != order.status) {
                verdict.broke(
                    ONE_TERMINAL,
                    format!("order {id}: listed as {}, read as {got:?}", status_name(order.status)),
                );
            }
        }
        for id in ids.difference(&seen) {
            verdict.broke(LOST, format!("order {id} is missing from customer {customer}'s list"));
        }
    }
}

async fn check_stock(stack: &Stack, expected: &Expected, facts: &BTreeMap<String, Facts>, verdict: &mut Verdict) {
    let mut units_shipped: BTreeMap<&str, u64> = BTreeMap::new();
    for accepted in &expected.orders {
        if facts.get(&accepted.order_id).is_some_and(|f| f.shipment.is_some()) {
            for (sku, quantity) in &accepted.lines {
                *units_shipped.entry(sku.as_str()).or_default() += u64::from(*quantity);
            }
        }
    }
    for sku in &expected.skus {
        let view = match services::stock(stack, sku).await {
            Ok(view) => view,
            Err(why) => {
                verdict.unchecked("stock", format!("{sku}: {why}"));
                continue;
            }
        };
        let restocked = expected.restocked.get(sku).copied().unwrap_or(0);
        if view.restocked != restocked
            || view.on_hand + view.reserved + view.shipped != view.restocked
            || view.reserved != 0
        {
            verdict.broke(
                STOCK,
                format!(
                    "{sku}: restocked {restocked} by the client, inventory says {view:?} (nothing may stay reserved)"
                ),
            );
        }
        let shipped = units_shipped.get(sku.as_str()).copied().unwrap_or(0);
        if view.shipped != shipped {
            verdict.broke(
                SHIPPED_UNITS,
                format!(
                    "{sku}: inventory counts {} shipped, shipments hold {shipped}",
                    view.shipped
                ),
            );
        }
    }
}

/// Every event stream: no `ce-id` twice, at most one event of a kind per business key.
async fn check_streams(stack: &Stack, verdict: &mut Verdict) {
    let names = match streams::names(stack).await {
        Ok(names) => names,
        Err(why) => return verdict.unchecked("streams", why),
    };
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    for name in names.iter().filter(|n| n.starts_with("EVT_")) {
        let messages = match streams::read(stack, name).await {
            Ok(messages) => messages,
            Err(why) => {
                verdict.unchecked("streams", why);
                continue;
            }
        };
        let mut kinds: BTreeMap<(String, String), String> = BTreeMap::new();
        for message in &messages {
            let id = message.header("ce-id").to_owned();
            if let Some(first) = ids.insert(id.clone(), message.at()) {
                verdict.broke(DUPLICATE_ID, format!("ce-id {id} at {first} and {}", message.at()));
            }
            if let Some(key) = business_key(message) {
                let kind = message.header("ce-type").to_owned();
                if let Some(first) = kinds.insert((kind.clone(), key.clone()), message.at()) {
                    verdict.broke(
                        DOUBLED_EVENT,
                        format!("{kind} for {key} at {first} and {}", message.at()),
                    );
                }
            }
        }
    }
}

/// What an event is about: its `order_id`, else its `restock_id`, else its `sku` and
/// `revision`. `None` when the body says none of these (or is not a map).
pub fn business_key(message: &Stored) -> Option<String> {
    let body: rmpv::Value = rmp_serde::from_slice(&message.payload).ok()?;
    let field = |name: &str| {
        body.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(_, v)| v.clone())
    };
    let text = |name: &str| field(name).and_then(|v| v.as_str().map(str::to_owned));
    if let Some(order) = text("order_id") {
        return Some(format!("order {order}"));
    }
    if let Some(restock) = text("restock_id") {
        return Some(format!("restock {restock}"));
    }
    let revision = field("revision").and_then(|v| v.as_u64());
    Some(format!("sku {} revision {}", text("sku")?, revision?))
}

async fn check_notifications(stack: &Stack, expected: &Expected, verdict: &mut Verdict) {
    let customers: BTreeSet<&str> = expected.orders.iter().map(|o| o.customer.as_str()).collect();
    for customer in customers {
        let notices = match services::notifications(stack, customer).await {
            Ok(notices) => notices,
            Err(why) => {
                verdict.unchecked("notifications", format!("customer {customer}: {why}"));
                continue;
            }
        };
        let mut seen = BTreeSet::new();
        for notice in notices {
            if !seen.insert((notice.order_id.clone(), notice.kind.clone())) {
                verdict.broke(
                    DOUBLED_NOTICE,
                    format!(
                        "customer {customer}: {} about order {} sent again",
                        notice.kind, notice.order_id
                    ),
                );
            }
        }
    }
}

/// Every customer's balance is what their completed orders earned (`schemas::loyalty::points_for`
/// of each total) less what refunds took back — each order counted once, whatever was killed
/// meanwhile. Checked when the repository has the `loyalty` component.
async fn check_loyalty(stack: &Stack, expected: &Expected, facts: &BTreeMap<String, Facts>, verdict: &mut Verdict) {
    if !stack.components().iter().any(|c| c == LOYALTY_COMPONENT) {
        return;
    }
    // customer → (awarded, reversed, orders), as the other services tell the orders.
    let mut due: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for accepted in &expected.orders {
        let owed = due.entry(accepted.customer.as_str()).or_default();
        let Some(facts) = facts.get(&accepted.order_id) else {
            continue;
        };
        if facts.order.as_ref().map(|o| o.status) == Some(OrderStatus::Completed) {
            let points = points_for(accepted.total_minor);
            owed.0 += points;
            owed.2 += 1;
            if facts.payment.as_ref().map(|p| p.status) == Some(PaymentStatus::Refunded) {
                owed.1 += points;
            }
        }
    }
    for (customer, (awarded, reversed, orders)) in due {
        match services::balance(stack, customer).await {
            Ok(balance) => {
                let said = (balance.points, balance.awarded, balance.reversed, balance.orders);
                if said != (awarded - reversed, awarded, reversed, orders) {
                    verdict.broke(
                        LOYALTY,
                        format!(
                            "customer {customer}: {orders} completed order(s) earned {awarded} point(s), \
                             {reversed} taken back; loyalty says {balance:?}"
                        ),
                    );
                }
            }
            Err(why) => verdict.unchecked("loyalty balances", format!("customer {customer}: {why}")),
        }
    }
}

async fn check_dead_letters(stack: &Stack, verdict: &mut Verdict) {
    match streams::read(stack, mandate::DEAD_LETTER_STREAM).await {
        Ok(letters) => {
            for letter in letters {
                verdict.broke(DEAD_LETTERS, describe_dead_letter(&letter));
            }
        }
        Err(why) => verdict.unchecked("dead letters", why),
    }
}

/// An entry the relay set aside is an event committed but never published: its readers wait
/// for it forever (an order stays where that event would have moved it), with every outbox
/// and consumer drained — so quiescence alone cannot see it. Asked of every stateful
/// component's admin status.
async fn check_set_aside(stack: &Stack, verdict: &mut Verdict) {
    for name in stack.components() {
        if !stack.running().contains(&name) {
            continue;
        }
        match stack.bus.status(&name).await {
            Ok(status) => {
                for entry in &status.set_aside.entries {
                    verdict.broke(SET_ASIDE, format!("{name}: {entry:?}"));
                }
                let unlisted = status
                    .set_aside
                    .count
                    .saturating_sub(status.set_aside.entries.len() as u64);
                if unlisted > 0 {
                    verdict.broke(SET_ASIDE, format!("{name}: {unlisted} more set aside"));
                }
            }
            Err(err) => verdict.unchecked("set-aside entries", format!("{name}: {err}")),
        }
    }
}

/// One line about a dead letter: who set it aside, what, and why.
pub fn describe_dead_letter(letter: &Stored) -> String {
    use crate::garbage::dead_letters::{KIND, REASON, SEQUENCE, STREAM, SUBJECT};
    format!(
        "{}: {} {} #{} ({}) — {}",
        letter.at(),
        letter.header(KIND),
        letter.header(STREAM),
        letter.header(SEQUENCE),
        letter.header(SUBJECT),
        letter.header(REASON)
    )
}

/// `completed`, `payment-declined`...: the status as the contract spells it.
pub fn status_name(status: OrderStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{status:?}"))
}
