//! Publishing the corpus to JetStream as any client could, a window of acks in flight; each
//! message's stream sequence is what its dead letters must name.

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishAckFuture;

use super::corpus::Garbage;
use crate::Stack;

/// Acks awaited at once.
const WINDOW: usize = 256;

/// Where a message of the corpus was stored.
#[derive(Debug, Clone)]
pub struct Sent {
    pub garbage: Garbage,
    pub stream: String,
    pub sequence: u64,
}

impl Sent {
    /// `EVT_ORDERS #12 (positional-top on evt.orders.placed.v2)`, for failure messages.
    pub fn at(&self) -> String {
        format!(
            "{} #{} ({} on {})",
            self.stream,
            self.sequence,
            self.garbage.defect.name(),
            self.garbage.subject
        )
    }
}

/// Publishes every message and waits for each ack.
pub async fn publish(stack: &Stack, corpus: Vec<Garbage>) -> Result<Vec<Sent>, String> {
    let js = stack.bus.jetstream();
    let mut sent = Vec::with_capacity(corpus.len());
    for chunk in corpus.chunks(WINDOW) {
        let mut acks: Vec<(Garbage, PublishAckFuture)> = Vec::with_capacity(chunk.len());
        for garbage in chunk {
            let mut headers = HeaderMap::new();
            for (name, value) in &garbage.headers {
                headers.append(name.as_str(), value.as_str());
            }
            let ack = js
                .publish_with_headers(garbage.subject.clone(), headers, garbage.payload.clone().into())
                .await
                .map_err(|e| format!("publishing {} to {}: {e}", garbage.defect.name(), garbage.subject))?;
            acks.push((garbage.clone(), ack));
        }
        for (garbage, ack) in acks {
            let ack = ack
                .await
                .map_err(|e| format!("no ack for {} on {}: {e}", garbage.defect.name(), garbage.subject))?;
            if ack.duplicate {
                return Err(format!(
                    "JetStream took {} on {} for a duplicate: its Nats-Msg-Id was seen before",
                    garbage.defect.name(),
                    garbage.subject
                ));
            }
            sent.push(Sent {
                garbage,
                stream: ack.stream,
                sequence: ack.sequence,
            });
        }
    }
    Ok(sent)
}
