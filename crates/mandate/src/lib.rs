//! # mandate — the component kit
//!
//! A component is a binary that owns a private sled store and talks to the rest of the
//! system only over NATS JetStream: versioned MessagePack events and request/reply services.
//! This crate is everything a component needs besides its domain logic:
//!
//! - **exactly-once effects**: each batch of events is applied in one store transaction that
//!   also records the stream sequence; a redelivered event is skipped ([`Component::on`]);
//! - **a transactional outbox**: events a handler or a command emits are committed with its
//!   state change and published after, with `Nats-Msg-Id` for de-duplication
//!   ([`Context::emit`]);
//! - **services** on the NATS services API with typed errors ([`Component::command`],
//!   [`Component::query`], [`ServiceError`]), and a typed client ([`Bus`]);
//! - **dead letters** with reasons, **rebuild** from history without re-firing side effects,
//!   an **admin** service, CloudEvents headers and `tracing`, graceful shutdown.
//!
//! See `examples/counter.rs` for a whole component, and docs/design.md for the rules.

pub mod admin;
mod client;
pub mod codec;
mod component;
pub mod connect;
mod consumer;
mod consumers;
mod context;
mod contract;
mod crashguard;
pub mod deadletter;
mod durability;
pub mod envelope;
mod error;
mod handler;
pub mod health;
mod histogram;
pub mod metrics;
mod observed;
mod options;
mod outbox;
mod own;
pub mod partition;
mod pull;
mod refusal;
mod relay;
mod routing;
mod runtime;
mod servers;
mod service;
mod setaside;
mod shared;
mod store;
mod streams;
pub mod telemetry;
mod wire;

pub use client::{Bus, CallError};
pub use component::{Component, Manifest, Partitions, shutdown_signal};
pub use consumer::StartAt;
pub use context::{Context, HandlerError, HandlerResult};
pub use contract::{DEAD_LETTER_STREAM, Event, Operation, dead_letter_subject, stream_name, validate_component_name};
pub use error::{Error, Result};
pub use handler::{RETRYABLE_HEADER, ServiceError};
pub use options::{ConnectionOptions, Fault, LogFormat, Options, init_logging};
pub use outbox::TooLarge;
pub use partition::{Key, KeyError, SLOTS};
pub use runtime::Running;
pub use store::{StoreError, View};

/// The allocator of every program linking the kit (feature `mimalloc`, on by default): the
/// kit allocates per message, and glibc's malloc cost about a fifth of the consume loop's
/// CPU (docs/benchmarks.md). Not in the kit's own unit-test build, which links the kit a
/// second time through its dev-dependencies and gets the allocator from there.
#[cfg(all(feature = "mimalloc", not(test)))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Re-exported so components need no direct dependency for their `main`.
pub use tokio;

/// The text of a caught panic.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}
