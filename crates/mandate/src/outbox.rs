//! The transactional outbox: messages staged in the store in the same transaction as the
//! state change that caused them. After the commit the relay (`relay/`) publishes them — with
//! `Nats-Msg-Id`, so that JetStream drops a repeat — and deletes each one once JetStream has
//! acknowledged it. A crash between commit and publish loses nothing: the relay resumes from
//! the store.

use serde::{Deserialize, Serialize};

use crate::envelope::Meta;
use crate::error::Result;
use crate::store::{OUTBOX, Store, StoreError, Tx, encode_u64, key};
use crate::wire::wire_size;

/// A message waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OutMessage {
    pub subject: String,
    pub headers: Vec<(String, String)>,
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

impl OutMessage {
    /// The size the server counts against its `max_payload`: the payload plus the encoded
    /// header block. The relay sends exactly these headers (`Nats-Msg-Id` is among them).
    pub(crate) fn wire_size(&self) -> usize {
        wire_size(
            self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            self.payload.len(),
        )
    }

    /// Refuses a message the server could never take, naming it as `what`.
    pub(crate) fn check_fits(&self, what: impl FnOnce() -> String, max_payload: usize) -> Result<(), TooLarge> {
        let size = self.wire_size();
        if size > max_payload {
            return Err(TooLarge {
                what: what(),
                size,
                max_payload,
            });
        }
        Ok(())
    }

    pub(crate) fn event(subject: String, meta: &Meta, payload: Vec<u8>) -> OutMessage {
        OutMessage {
            subject,
            headers: meta
                .header_pairs()
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
            payload,
        }
    }
}

/// A message larger than the server's `max_payload`: no server with that limit will ever
/// take it, so the kit refuses to commit it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} would be {size} bytes with its headers, more than the server's max_payload of {max_payload} bytes: it could never be published"
)]
pub struct TooLarge {
    /// What was refused, e.g. `event orders.placed.v2`.
    pub what: String,
    /// Payload plus encoded headers, in bytes.
    pub size: usize,
    /// The server's limit, from its INFO.
    pub max_payload: usize,
}

/// Stages `message` in `tx`; it is published after `tx` commits.
pub(crate) fn stage(tx: &mut Tx, message: &OutMessage) -> Result<(), StoreError> {
    let id = tx.store().next_id()?;
    // Sized for the envelope's headers plus the payload: no regrowth while encoding.
    let mut bytes = Vec::with_capacity(512 + message.payload.len());
    message.serialize(&mut rmp_serde::Serializer::new(&mut bytes).with_struct_map())?;
    tx.put_raw(key(OUTBOX, &encode_u64(id)), bytes);
    Ok(())
}

/// Messages still waiting to be published.
pub(crate) fn depth(store: &Store) -> u64 {
    store.scan_raw(OUTBOX).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_size_is_the_payload_plus_the_encoded_header_block() {
        assert_eq!(wire_size([], 3), 3, "no header block without headers");
        // "NATS/1.0\r\n" + "a: bc\r\n" + "\r\n" + the payload.
        assert_eq!(wire_size([("a", "bc")], 3), 10 + 7 + 2 + 3);
    }
}
