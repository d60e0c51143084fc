//! The broker configuration (`bus-config/`, `mandate bus-config`) against a real nats-server:
//! kit components run under the permissions generated from their manifests and can reach
//! nothing else; the operator and observer users; the committed files and docker-compose.yml.

mod committed;
mod common;
mod compose;
mod fixtures;
mod foreign;
mod isolation;
mod partitions;
mod tools;
