//! Operations the CLI and the console share: each takes a `Bus`, speaks NATS only, and
//! returns serde-serialisable results, so that a command prints them and the console serves
//! or streams them. Both `commands/` and `console/` depend on this module, never the
//! reverse. One concern per file:
//!
//! - `letters.rs`: reading dead letters from `DLQ`, selected by component, kind and reason,
//!   and grouped by cause; one letter read whole (`shown`);
//! - `retry.rs`: retrying one dead letter (republish, ack, then delete);
//! - `purge.rs`: purging every dead letter, or one component's;
//! - `canary.rs`: watching a retried letter until its consumer applied it or refused it again;
//! - `redrive.rs`: a bulk redrive — canary first, then throttled, stoppable;
//! - `journey.rs`: everything the bus holds about one order or correlation id, in time order;
//! - `status.rs`: what is up on the bus (components, endpoints, admin status, streams);
//! - `replay.rs`: a rebuild's progress and refusals;
//! - `errors.rs`: the typed failures a caller tells apart (no such letter, no `DLQ`).

pub mod canary;
pub mod errors;
pub mod journey;
pub mod letters;
pub mod purge;
pub mod redrive;
pub mod replay;
pub mod retry;
pub mod status;
