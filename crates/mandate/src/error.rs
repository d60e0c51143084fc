//! The kit's errors. Each message says what went wrong and, where it can, what to do.

use crate::store::StoreError;

/// An error that stops a component (or a client) from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "cannot connect to NATS at {url}: {reason} (is nats-server running? `scripts/install-nats-server` installs one; set NATS_URL or --server to point elsewhere: one URL, or several separated by commas)"
    )]
    Connect { url: String, reason: String },
    #[error(
        "nats-server {found} at {url} is too old: mandate needs 2.10 or newer, because 2.9 silently ignores a consumer's multiple filter subjects and would deliver every event of a stream to every consumer. Install a newer server (`scripts/install-nats-server`)."
    )]
    ServerTooOld { url: String, found: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "cannot open the store at {path}: {source} (is another process of this component running with the same data dir?)"
    )]
    StoreOpen { path: String, source: StoreError },
    #[error("JetStream: {0}")]
    JetStream(String),
    #[error("NATS: {0}")]
    Nats(String),
    /// A keyed event whose key cannot be published (no such field, not a subject token).
    #[error("the event's partition key: {0}")]
    Key(#[from] crate::partition::KeyError),
    #[error("stopped on its own: {0}")]
    Stopped(String),
    #[error("encoding: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
}

impl Error {
    pub(crate) fn js(context: &str, err: impl std::fmt::Display) -> Error {
        Error::JetStream(format!("{context}: {err}"))
    }

    pub(crate) fn nats(context: &str, err: impl std::fmt::Display) -> Error {
        Error::Nats(format!("{context}: {err}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
