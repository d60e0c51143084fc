//! Everything the components will say about a set of entities: every query they serve
//! (orders, their lists, stock, payments, shipments, notifications, loyalty points, products),
//! asked over the bus and written down, so that two snapshots prove that nothing observable
//! changed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use futures::StreamExt;

use crate::{Stack, services};

/// The entities to ask about.
#[derive(Debug, Clone, Default)]
pub struct Subjects {
    pub orders: BTreeSet<String>,
    pub customers: BTreeSet<String>,
    pub skus: BTreeSet<String>,
}

/// Query → what it answered.
pub type Snapshot = BTreeMap<String, String>;

/// Asks every query about every subject, eight at a time.
pub async fn take(stack: &Stack, subjects: &Subjects) -> Snapshot {
    let mut queries: Vec<Query<'_>> = vec![Query::Products];
    for id in &subjects.orders {
        queries.extend([Query::Order(id), Query::Payment(id), Query::Shipment(id)]);
    }
    for customer in &subjects.customers {
        queries.extend([
            Query::OrdersOf(customer),
            Query::Notifications(customer),
            Query::Balance(customer),
        ]);
    }
    for sku in &subjects.skus {
        queries.extend([Query::Stock(sku), Query::Product(sku)]);
    }
    futures::stream::iter(queries)
        .map(|query| async move { (query.name(), query.ask(stack).await) })
        .buffer_unordered(8)
        .collect()
        .await
}

/// Every query whose answer changed: `query: …before… → …after…`, each answer cut to where
/// the two differ.
pub fn diff(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let not_asked = String::from("(not asked)");
            let (was, now) = (
                before.get(name).unwrap_or(&not_asked),
                after.get(name).unwrap_or(&not_asked),
            );
            (was != now).then(|| {
                let (was, now) = where_they_differ(was, now);
                format!("{name}: {was} → {now}")
            })
        })
        .collect()
}

/// Context kept on each side of a difference.
const CONTEXT: usize = 60;
/// The most of a differing part shown.
const SHOWN: usize = 240;

/// The two texts without their common beginning and end (but a little context), so that a
/// long answer shows what changed in it.
fn where_they_differ(was: &str, now: &str) -> (String, String) {
    let common = |a: &mut dyn Iterator<Item = (char, char)>| a.take_while(|(x, y)| x == y).count();
    let prefix = common(&mut was.chars().zip(now.chars()));
    let suffix = common(&mut was.chars().rev().zip(now.chars().rev()))
        .min(was.chars().count() - prefix)
        .min(now.chars().count() - prefix);
    let cut = |text: &str| {
        let chars: Vec<char> = text.chars().collect();
        let start = prefix.saturating_sub(CONTEXT);
        let end = (chars.len() - suffix + CONTEXT).min(chars.len());
        let middle: String = chars[start..end].iter().collect();
        let shown: String = middle.chars().take(SHOWN).collect();
        format!(
            "{}{shown}{}",
            if start > 0 { "…" } else { "" },
            if end < chars.len() || shown.len() < middle.len() {
                "…"
            } else {
                ""
            }
        )
    };
    (cut(was), cut(now))
}

enum Query<'a> {
    Products,
    Order(&'a str),
    Payment(&'a str),
    Shipment(&'a str),
    OrdersOf(&'a str),
    Notifications(&'a str),
    Balance(&'a str),
    Stock(&'a str),
    Product(&'a str),
}

impl Query<'_> {
    fn name(&self) -> String {
        match self {
            Query::Products => "catalog.list-products".to_owned(),
            Query::Order(id) => format!("orders.get {id}"),
            Query::Payment(id) => format!("payments.get {id}"),
            Query::Shipment(id) => format!("shipping.get {id}"),
            Query::OrdersOf(customer) => format!("orders.list {customer}"),
            Query::Notifications(customer) => format!("notifications.list {customer}"),
            Query::Balance(customer) => format!("loyalty.balance {customer}"),
            Query::Stock(sku) => format!("inventory.get-stock {sku}"),
            Query::Product(sku) => format!("catalog.get-product {sku}"),
        }
    }

    async fn ask(&self, stack: &Stack) -> String {
        match self {
            Query::Products => written(services::products(stack).await),
            Query::Order(id) => written(services::order(stack, id).await),
            Query::Payment(id) => written(services::payment(stack, id).await),
            Query::Shipment(id) => written(services::shipment(stack, id).await),
            Query::OrdersOf(customer) => written(services::orders_of(stack, customer).await),
            Query::Notifications(customer) => written(services::notifications(stack, customer).await),
            Query::Balance(customer) => written(services::balance(stack, customer).await),
            Query::Stock(sku) => written(services::stock(stack, sku).await),
            Query::Product(sku) => written(services::product(stack, sku).await),
        }
    }
}

fn written<T: Debug>(answer: Result<T, String>) -> String {
    match answer {
        Ok(value) => format!("{value:?}"),
        Err(why) => format!("error: {why}"),
    }
}
