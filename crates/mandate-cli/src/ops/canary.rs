//! Watching a canary: after one dead letter is retried, wait until its consumer has either
//! applied it or dead-lettered it again — told from outside, over the bus only.
//!
//! - **Reached**: the component's admin status shows its consumer's applied sequence on the
//!   retry's stream at or past the retry's sequence (the publish ack gave it). A message
//!   dead-lettered again is "reached" too: dead-lettering commits with the watermark.
//! - **Dead-lettered again**: a new letter in `DLQ` (after the last one before the retry) from
//!   the same component whose original is the retry (its stream and sequence), or with the
//!   same `ce-id`. The kit publishes dead letters through its
//!   outbox, so a letter may follow the watermark by a moment: reached alone proves nothing
//!   while the component may still owe `DLQ` a letter.
//! - **Applied**: reached, and a status read after the one that showed it reached says
//!   either that the component has dead-lettered nothing since before the retry (its
//!   `dead_letters` count is committed with the watermark), or that its outbox is empty (so
//!   any letter of ours is in `DLQ` already) and `DLQ` holds none. A status *after* the one
//!   that showed it reached, so that the answer does not depend on the order in which a
//!   component (in any language) reads its counters.

use std::time::Duration;

use mandate::Bus;
use mandate::admin::StatusReport;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::letters::{self, Filter, Letter};
use crate::bus::Start;

/// How often the component and `DLQ` are asked while waiting.
const POLL: Duration = Duration::from_millis(100);

/// How a canary ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Its consumer applied it.
    Applied,
    /// Its consumer refused it again: the new letter's sequence in `DLQ`, and why.
    DeadLetteredAgain { dlq_sequence: u64, reason: String },
    /// Neither within the wait: where its consumer was (`None`: it did not answer).
    TimedOut { applied_sequence: Option<u64> },
    /// The operator stopped the redrive while it waited.
    Stopped,
}

/// What the component said before the canary was retried.
#[derive(Debug, Clone, Copy)]
pub struct Before {
    /// `DLQ`'s last sequence.
    pub dlq_last: u64,
    /// The component's dead-letter count.
    pub dead_letters: u64,
}

/// The name the letter's consumer answers the admin protocol under: the component's, or a
/// partition's, `<component>.p<P>of<N>`, whose durable consumer is `<component>-p<P>of<N>`.
pub fn admin_name(letter: &Letter) -> String {
    let partition = letter
        .consumer
        .strip_prefix(letter.component.as_str())
        .and_then(|rest| rest.strip_prefix("-p"))
        .and_then(|rest| rest.split_once("of"))
        .filter(|(p, n)| p.parse::<u32>().is_ok() && n.parse::<u32>().is_ok());
    match partition {
        Some((p, n)) => format!("{}.p{p}of{n}", letter.component),
        None => letter.component.clone(),
    }
}

/// What to ask before retrying a canary; an error when its component does not answer (a
/// canary into a stopped component would only time out).
pub async fn before(bus: &Bus, letter: &Letter) -> anyhow::Result<Before> {
    let name = admin_name(letter);
    let status = crate::admin::status(bus, &name)
        .await
        .map_err(|err| anyhow::anyhow!("{name} must answer its admin status for a canary to be watched: {err}"))?;
    let dlq_last = match crate::bus::find_stream(bus.jetstream(), mandate::DEAD_LETTER_STREAM).await? {
        Some(mut dlq) => dlq.info().await?.state.last_sequence,
        None => 0,
    };
    Ok(Before {
        dlq_last,
        dead_letters: status.dead_letters,
    })
}

/// The retry a canary watches.
#[derive(Debug, Clone, Copy)]
pub struct Retry<'a> {
    /// Where it is stored.
    pub stream: &'a str,
    pub sequence: u64,
    /// Stored by this run. Otherwise an earlier retry stored it, and its consumer may have
    /// handled it before this run looked: then only `DLQ` itself, read whole, can tell.
    pub ours: bool,
}

/// Waits for the verdict on `letter`, retried as `retry`.
pub async fn watch(
    bus: &Bus,
    letter: &Letter,
    retry: Retry<'_>,
    before: Before,
    timeout: Duration,
    stop: &CancellationToken,
) -> Verdict {
    let name = admin_name(letter);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut reached = false;
    let mut applied_sequence = None;
    loop {
        if let Some(again) = dead_lettered_again(bus, letter, retry, before).await {
            return again;
        }
        if let Ok(status) = crate::admin::status(bus, &name).await {
            applied_sequence = applied(&status, letter, retry.stream);
            let none_since = retry.ours && status.dead_letters == before.dead_letters;
            if reached && (none_since || status.outbox_depth == 0) {
                // Nothing dead-lettered since before the retry, or any letter of ours was
                // published before this status was read.
                return dead_lettered_again(bus, letter, retry, before)
                    .await
                    .unwrap_or(Verdict::Applied);
            }
            reached = applied_sequence.is_some_and(|applied| applied >= retry.sequence);
        }
        tokio::select! {
            () = stop.cancelled() => return Verdict::Stopped,
            () = tokio::time::sleep_until(deadline) => return Verdict::TimedOut { applied_sequence },
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// The applied sequence of the letter's consumer on `stream` (any of the component's
/// consumers on it, if none has the letter's consumer name).
fn applied(status: &StatusReport, letter: &Letter, stream: &str) -> Option<u64> {
    let on_stream = || status.consumers.iter().filter(|c| c.stream == stream);
    on_stream()
        .find(|c| c.consumer == letter.consumer)
        .or_else(|| on_stream().next())
        .map(|c| c.applied_sequence)
}

/// A letter in `DLQ` from the same component about the retry: its original is the retry's
/// stream and sequence, or (after `before`: the letter redriven has it too) its `ce-id`.
async fn dead_lettered_again(bus: &Bus, letter: &Letter, retry: Retry<'_>, before: Before) -> Option<Verdict> {
    let filter = Filter {
        component: Some(letter.component.clone()),
        ..Filter::default()
    };
    let from = if retry.ours { before.dlq_last + 1 } else { 1 };
    let letters = letters::read_from(bus, &filter, Start::Sequence(from)).await.ok()?;
    letters
        .into_iter()
        .find(|again| {
            let same_message = again.stream == retry.stream && again.original_sequence == Some(retry.sequence);
            let same_id = again.sequence > before.dlq_last && again.id.is_some() && again.id == letter.id;
            same_message || same_id
        })
        .map(|again| Verdict::DeadLetteredAgain {
            dlq_sequence: again.sequence,
            reason: again.reason,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(component: &str, consumer: &str) -> Letter {
        Letter {
            sequence: 1,
            time: String::new(),
            component: component.to_owned(),
            kind: String::new(),
            reason: String::new(),
            subject: String::new(),
            stream: String::new(),
            original_sequence: None,
            consumer: consumer.to_owned(),
            deliveries: None,
            ce_type: None,
            id: None,
            body_omitted: false,
        }
    }

    #[test]
    fn a_partitions_letter_is_watched_on_that_partitions_admin_service() {
        assert_eq!(admin_name(&letter("orders", "orders-p1of3")), "orders.p1of3");
        assert_eq!(admin_name(&letter("orders", "orders")), "orders");
        assert_eq!(admin_name(&letter("orders", "orders-pxofy")), "orders");
        assert_eq!(admin_name(&letter("orders", "")), "orders");
    }
}
