//! Scenario 5's critical path built on the kit (`--kit-chain`): a place command and five
//! hops of one handler each, every component a process of this executable
//! (`--stage-child k:<stage>`), doing per order what the hand-written (b) does — one state
//! write and one event per hop — through the kit's consumer, group commit and relay.
//!
//! It separates what the kit's hop costs from what the storefront does beyond the critical
//! path: against (b) as processes (`--baseline-processes`), the same work on the same two
//! CPUs. Two shapes: a component per stage, as (b) has (`split`), and place, confirm and
//! complete in one component (`orders`), as the storefront's orders runs three of the six
//! hops and the place command on one thread.

use mandate::{Component, Event, HandlerResult, Operation, Options};
use serde::{Deserialize, Serialize};

use super::SKU;
use super::baselines::{ChainEvent, next_event};

/// How the chain's work is split into components (`--kit-chain SHAPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// A component per stage, as (b)'s stages: `chain-place`, `chain-reserve`, ...
    Split,
    /// Place, confirm and complete in one component, `chain-orders`, as the storefront's
    /// orders runs them: three of the six hops on one thread.
    Orders,
}

impl Shape {
    /// The chain's stages, each a process: `(component, stage)`.
    pub(super) fn stages(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Shape::Split => &[
                ("chain-place", "place"),
                ("chain-reserve", "reserve"),
                ("chain-capture", "capture"),
                ("chain-confirm", "confirm"),
                ("chain-dispatch", "dispatch"),
                ("chain-complete", "complete"),
            ],
            Shape::Orders => &[
                ("chain-orders", "orders"),
                ("chain-reserve", "reserve"),
                ("chain-capture", "capture"),
                ("chain-dispatch", "dispatch"),
            ],
        }
    }

    /// The place command's subject.
    pub(super) fn place_subject(self) -> &'static str {
        match self {
            Shape::Split => "svc.chain-place.place.v1",
            Shape::Orders => "svc.chain-orders.place.v1",
        }
    }

    /// Where a completion is announced.
    pub(super) fn completed(self) -> &'static [&'static str] {
        match self {
            Shape::Split => &["evt.chain-complete.completed.v1"],
            Shape::Orders => &["evt.chain-orders.completed.v1"],
        }
    }

    /// The arguments that run stage `stage` of this shape as a process of this executable.
    pub(super) fn child_args(self, stage: &str) -> [String; 4] {
        use clap::ValueEnum;
        let shape = self.to_possible_value().expect("every shape is a value");
        [
            "--kit-chain".to_owned(),
            shape.get_name().to_owned(),
            "--stage-child".to_owned(),
            format!("k:{stage}"),
        ]
    }
}

/// One event of the chain, owned by the stage that emits it.
trait Link: Event {
    fn wrap(event: ChainEvent) -> Self;
    fn unwrap(self) -> ChainEvent;
}

macro_rules! link {
    ($name:ident, $owner:literal, $event:literal) => {
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[serde(transparent)]
        struct $name(ChainEvent);

        impl Event for $name {
            const OWNER: &'static str = $owner;
            const NAME: &'static str = $event;
            const VERSION: u32 = 1;
        }

        impl Link for $name {
            fn wrap(event: ChainEvent) -> Self {
                $name(event)
            }
            fn unwrap(self) -> ChainEvent {
                self.0
            }
        }
    };
}

link!(Placed, "chain-place", "placed");
link!(Reserved, "chain-reserve", "reserved");
link!(Captured, "chain-capture", "captured");
link!(Confirmed, "chain-confirm", "confirmed");
link!(Dispatched, "chain-dispatch", "dispatched");
link!(Completed, "chain-complete", "completed");
link!(OrdersPlaced, "chain-orders", "placed");
link!(OrdersConfirmed, "chain-orders", "confirmed");
link!(OrdersCompleted, "chain-orders", "completed");

/// What the driver's place request carries that the chain reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PlaceRequest {
    customer_id: String,
}

/// The answer the driver reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PlaceResponse {
    order_id: String,
}

macro_rules! place {
    ($name:ident, $owner:literal) => {
        struct $name;

        impl Operation for $name {
            const OWNER: &'static str = $owner;
            const NAME: &'static str = "place";
            const VERSION: u32 = 1;
            type Request = PlaceRequest;
            type Response = PlaceResponse;
        }
    };
}

place!(Place, "chain-place");
place!(OrdersPlace, "chain-orders");

/// The place command: one state write and `placed` (`P`), committed before the answer (as
/// (b)'s place service commits before it replies).
fn place<O: Operation<Request = PlaceRequest, Response = PlaceResponse>, P: Link>(component: Component) -> Component {
    component.publishes::<P>().command::<O>(|ctx, request: PlaceRequest| {
        let order_id = ctx.new_id("order");
        let event = ChainEvent {
            order_id: order_id.clone(),
            customer_id: request.customer_id,
            sku: SKU.to_owned(),
            quantity: 1,
            amount_minor: 1_000,
            currency: "EUR".to_owned(),
            step: "placed".to_owned(),
        };
        ctx.put(&format!("order/{order_id}"), &event)?;
        ctx.emit(&P::wrap(event))
            .map_err(|e| mandate::ServiceError::internal(e.to_string()))?;
        Ok(PlaceResponse { order_id })
    })
}

/// One hop: on `I`, one state write and `O`.
fn hop<I: Link, O: Link>(component: Component) -> Component {
    component.publishes::<O>().on::<I>(|ctx, input: I| -> HandlerResult {
        let event = input.unwrap();
        ctx.put(&format!("order/{}", event.order_id), &event)?;
        ctx.emit(&O::wrap(next_event(&event, O::NAME)))
    })
}

/// The component of `stage` in `shape`.
fn component(shape: Shape, stage: &str) -> Option<Component> {
    let (name, _) = shape.stages().iter().find(|(_, s)| *s == stage)?;
    let new = || Component::new(*name).description("bench: the critical path on the kit");
    Some(match (shape, stage) {
        (Shape::Split, "place") => place::<Place, Placed>(new()),
        (Shape::Split, "reserve") => hop::<Placed, Reserved>(new()),
        (Shape::Split, "confirm") => hop::<Captured, Confirmed>(new()),
        (Shape::Split, "dispatch") => hop::<Confirmed, Dispatched>(new()),
        (Shape::Split, "complete") => hop::<Dispatched, Completed>(new()),
        (Shape::Orders, "orders") => {
            let orders = place::<OrdersPlace, OrdersPlaced>(new());
            hop::<Dispatched, OrdersCompleted>(hop::<Captured, OrdersConfirmed>(orders))
        }
        (Shape::Orders, "reserve") => hop::<OrdersPlaced, Reserved>(new()),
        (Shape::Orders, "dispatch") => hop::<OrdersConfirmed, Dispatched>(new()),
        (_, "capture") => hop::<Reserved, Captured>(new()),
        _ => return None,
    })
}

/// `--stage-child k:<stage>`: runs that component until killed, configured from the
/// environment as any component is (`NATS_URL`, `MANDATE_DATA_DIR`, `MANDATE_BATCH_SIZE`...).
pub(super) async fn stage_child(shape: Shape, stage: &str) -> anyhow::Result<()> {
    use clap::Parser;
    let component = component(shape, stage).ok_or_else(|| anyhow::anyhow!("--stage-child k:{stage}: no such stage"))?;
    let options = Options::try_parse_from(["chain-stage"])?;
    let _running = component.start(options).await?;
    std::future::pending::<()>().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The driver's subjects are spelled out (it needs them `'static`): they must be the ones
    /// the chain's command and last event travel on.
    #[test]
    fn the_drivers_subjects_are_the_chains() {
        assert_eq!(Shape::Split.place_subject(), Place::subject());
        assert_eq!(Shape::Orders.place_subject(), OrdersPlace::subject());
        assert_eq!(Shape::Split.completed(), [Completed::subject()]);
        assert_eq!(Shape::Orders.completed(), [OrdersCompleted::subject()]);
    }

    /// Every stage of each shape is a component of the name it runs as, and the shape is
    /// one chain: whatever a stage reads another one publishes, and five events are read.
    #[test]
    fn each_shape_is_one_chain_of_components() {
        for shape in [Shape::Split, Shape::Orders] {
            let manifests: Vec<_> = shape
                .stages()
                .iter()
                .map(|(name, stage)| {
                    let manifest = component(shape, stage)
                        .unwrap_or_else(|| panic!("{shape:?}: no stage {stage}"))
                        .manifest();
                    assert_eq!(manifest.name, *name);
                    manifest
                })
                .collect();
            let published: Vec<&String> = manifests.iter().flat_map(|m| &m.publishes).collect();
            let read: Vec<&String> = manifests.iter().flat_map(|m| m.subscribes.values().flatten()).collect();
            assert_eq!(read.len(), 5, "{shape:?}: five hops");
            for event in read {
                assert!(published.contains(&event), "{shape:?}: nobody publishes {event}");
            }
        }
    }
}
