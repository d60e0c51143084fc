//! The gateway end to end: HTTP in, a real nats-server, in-test components answering.

mod common;
mod documents;
mod errors;
mod events;
mod health;
mod inventory;
mod orders;
mod products;
