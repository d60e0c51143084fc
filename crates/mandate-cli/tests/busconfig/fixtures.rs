//! Three tiny kit components and a bus client, with a contract of their own (no `schemas`):
//!
//! - `feeder` serves the command `feeder.feed.v1`, which emits `evt.feeder.fed.v1`;
//! - `tally` consumes `feeder.fed.v1`, emits `evt.tally.counted.v1` from its handler, serves
//!   the query `tally.total.v1`, and fails on 13 (dead-lettered after its retries);
//! - `audit` consumes both streams and serves nothing of its own (only the kit's admin);
//! - `shop` is a bus client: it calls `feeder.feed.v1` and `tally.total.v1` and listens to
//!   `evt.tally.>`.

use mandate::{Component, Context, Event, HandlerResult, Operation, ServiceError, View};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fed {
    pub n: u32,
}

impl Event for Fed {
    const OWNER: &'static str = "feeder";
    const NAME: &'static str = "fed";
    const VERSION: u32 = 1;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Counted {
    pub count: u64,
}

impl Event for Counted {
    const OWNER: &'static str = "tally";
    const NAME: &'static str = "counted";
    const VERSION: u32 = 1;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeedRequest {
    pub n: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Empty {}

/// `svc.feeder.feed.v1`
pub struct Feed;

impl Operation for Feed {
    const OWNER: &'static str = "feeder";
    const NAME: &'static str = "feed";
    const VERSION: u32 = 1;
    type Request = FeedRequest;
    type Response = Empty;
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub count: u64,
    pub sum: u64,
}

/// `svc.tally.total.v1`
pub struct Total;

impl Operation for Total {
    const OWNER: &'static str = "tally";
    const NAME: &'static str = "total";
    const VERSION: u32 = 1;
    type Request = Empty;
    type Response = Totals;
}

pub fn feeder() -> Component {
    Component::new("feeder")
        .publishes::<Fed>()
        .command::<Feed>(|ctx: &mut Context<'_>, request: FeedRequest| {
            ctx.emit(&Fed { n: request.n })
                .map_err(|e| ServiceError::internal(e.to_string()))?;
            Ok(Empty {})
        })
}

pub fn tally() -> Component {
    Component::new("tally")
        .publishes::<Counted>()
        .on::<Fed>(|ctx: &mut Context<'_>, fed: Fed| -> HandlerResult {
            if fed.n == 13 {
                return Err("13 is not counted".into());
            }
            let mut totals: Totals = ctx.get("totals")?.unwrap_or_default();
            totals.count += 1;
            totals.sum += u64::from(fed.n);
            ctx.put("totals", &totals)?;
            ctx.emit(&Counted { count: totals.count })?;
            Ok(())
        })
        .query::<Total>(|view: &View, _: Empty| Ok(view.get("totals")?.unwrap_or_default()))
}

pub fn audit() -> Component {
    Component::new("audit")
        .on::<Fed>(|ctx: &mut Context<'_>, _: Fed| bump(ctx, "fed"))
        .on::<Counted>(|ctx: &mut Context<'_>, _: Counted| bump(ctx, "counted"))
}

fn bump(ctx: &mut Context<'_>, key: &str) -> HandlerResult {
    let seen: u64 = ctx.get(key)?.unwrap_or_default();
    ctx.put(key, &(seen + 1))?;
    Ok(())
}

/// The manifest of the bus client `shop` (the gateway's shape: the kit's fields plus `calls`
/// and `listens`).
pub fn shop() -> serde_json::Value {
    serde_json::json!({
        "name": "shop",
        "version": "0.1.0",
        "description": "a bus client",
        "publishes": [],
        "subscribes": {},
        "serves": [],
        "calls": ["feeder.feed.v1", "tally.total.v1"],
        "listens": ["evt.tally.>"],
    })
}

/// Every manifest of the fixtures' system.
pub fn kit_manifests() -> Vec<mandate::Manifest> {
    vec![feeder().manifest(), tally().manifest(), audit().manifest()]
}
