//! The `mandate` binary against a real nats-server (one per test) and real kit components
//! started in-process. Every command is exercised as a user would run it.

mod admin_protocol;
mod basics;
mod bench;
mod call;
mod common;
mod console;
mod dev;
mod dlq;
mod export_import;
mod journey;
mod publish_tail;
mod redrive;
mod replay;
mod schema_compatibility;
mod servers;
mod status;
