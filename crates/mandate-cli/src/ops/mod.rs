//! Operations the CLI and the console share: each takes a `Bus`, speaks NATS only, and
//! returns serde-serialisable results, so that a command prints them and the console streams
//! them. One concern per file:
//!
//! - `letters.rs`: reading dead letters from `DLQ`, selected by component, kind and reason,
//!   and grouped by cause;
//! - `retry.rs`: retrying one dead letter (republish, ack, then delete);
//! - `canary.rs`: watching a retried letter until its consumer applied it or refused it again;
//! - `redrive.rs`: a bulk redrive — canary first, then throttled, stoppable;
//! - `journey.rs`: everything the bus holds about one order or correlation id, in time order.

pub mod canary;
pub mod journey;
pub mod letters;
pub mod redrive;
pub mod retry;
