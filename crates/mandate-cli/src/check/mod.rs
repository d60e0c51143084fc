//! The checks of `mandate check` that are not a generator's comparison: the dependency rules
//! of the mandate (crates, and components in Python), schema compatibility with
//! `schemas/history/`, and that every event a manifest consumes is described. Each returns
//! the problems it found; `commands/check.rs` runs them with the generators' own checks and
//! reports all.

pub mod dependencies;
pub mod partitions;
pub mod python;
pub mod schemas;
pub mod subscriptions;
