//! The kit against a real nats-server (started per test by the testkit): correctness, not
//! timing. Components run in-process here, except in `process.rs`, which runs the example
//! binary as its own process.

mod ack_wait;
mod common;
mod dead_letters;
mod durability;
mod envelope;
mod exactly_once;
mod handoff;
mod keys;
mod linger;
mod metrics;
mod outbox;
mod oversized;
mod own_events;
mod partitions;
mod process;
mod rebuild;
mod recount;
mod relay;
mod routing;
mod servers;
mod services;
mod streams;
mod strict_events;
mod strict_services;
mod traces;
mod version;
