//! Garbage: a seeded corpus of messages nobody here wrote — one defect each — published on
//! every subject some component subscribes to, and what each must become: a dead letter
//! naming the rule it broke, at every subscriber, and no change anywhere else.
//!
//! - [`manifest`]: who subscribes to what (the components' `manifest.json` files).
//! - [`templates`]: right messages of each type (real events from the streams, else samples).
//! - [`mutate`]: one defect made to a right body.
//! - [`corpus`]: the categories, their expected `Mandate-Dlq-Kind`, and the generator.
//! - [`publish`]: the corpus to JetStream, with each message's stream sequence.
//! - [`dead_letters`]: the dead-letter stream checked against what was sent.

pub mod corpus;
pub mod dead_letters;
pub mod manifest;
pub mod mutate;
pub mod publish;
pub mod templates;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::snapshot::Subjects;
use templates::Template;

/// Adds every order, customer and sku the templates' bodies name (a defective copy of them
/// could touch those), at any depth.
pub fn named_in(templates: &BTreeMap<String, Template>, subjects: &mut Subjects) {
    for template in templates.values() {
        let bodies = template.real.iter().map(|r| &r.body).chain(template.sample.iter());
        for body in bodies {
            collect(body, subjects);
        }
    }
}

fn collect(value: &rmpv::Value, subjects: &mut Subjects) {
    match value {
        rmpv::Value::Map(fields) => {
            for (key, value) in fields {
                if let (Some(key), Some(text)) = (key.as_str(), value.as_str()) {
                    let set = match key {
                        "order_id" => Some(&mut subjects.orders),
                        "customer_id" => Some(&mut subjects.customers),
                        "sku" => Some(&mut subjects.skus),
                        _ => None,
                    };
                    if let Some(set) = set {
                        set.insert(text.to_owned());
                    }
                }
                collect(value, subjects);
            }
        }
        rmpv::Value::Array(items) => items.iter().for_each(|item| collect(item, subjects)),
        _ => {}
    }
}
