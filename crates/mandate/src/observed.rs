//! What is read, not counted: at each scrape and each readiness probe, from the store and the
//! consumers' progress — the outbox's depth and its oldest entry's age, set-aside entries,
//! rebuild progress, whether each consumer is seated and whether the connection is up. Reading
//! these costs a scan of the outbox per scrape, nothing per message.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

use crate::health::{Probe, Readiness};
use crate::metrics::ConsumerLabels;
use crate::shared::{Progress, Shared};
use crate::store::{OUTBOX, SET_ASIDE};

/// A running component as its probes and scrapes see it.
#[derive(Debug)]
pub(crate) struct ComponentState {
    shared: Arc<Shared>,
    consumers: Vec<(ConsumerLabels, Arc<Progress>)>,
    oldest: OldestEntry,
}

impl ComponentState {
    pub(crate) fn new(shared: Arc<Shared>, consumers: Vec<(ConsumerLabels, Arc<Progress>)>) -> ComponentState {
        ComponentState {
            shared,
            consumers,
            oldest: OldestEntry::default(),
        }
    }

    fn outbox(&self) -> Outbox {
        let store = self.shared.store();
        let head = store.scan_raw(OUTBOX).next().and_then(Result::ok).map(|(key, _)| key);
        Outbox {
            depth: store.scan_raw(OUTBOX).count() as u64,
            oldest_age: self.oldest.age(head),
            set_aside: store.scan_raw(SET_ASIDE).count() as u64,
        }
    }

    fn connected(&self) -> bool {
        self.shared.client().connection_state() == async_nats::connection::State::Connected
    }
}

/// The outbox as a scrape sees it.
struct Outbox {
    depth: u64,
    oldest_age: Duration,
    set_aside: u64,
}

/// How long the entry at the head of the outbox has been there, as this process has watched
/// it: entries carry no time of their own (the bytes a rebuild writes must not depend on the
/// clock), so the listener samples the head every second (`Probe::tick`) and each scrape and
/// probe does too; the age is the time since the head was first seen to be this entry.
#[derive(Debug, Default)]
struct OldestEntry {
    seen: Mutex<Option<(sled::IVec, Instant)>>,
}

impl OldestEntry {
    fn age(&self, head: Option<sled::IVec>) -> Duration {
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match (head, seen.as_ref()) {
            (None, _) => {
                *seen = None;
                Duration::ZERO
            }
            (Some(head), Some((key, since))) if *key == head => since.elapsed(),
            (Some(head), _) => {
                *seen = Some((head, Instant::now()));
                Duration::ZERO
            }
        }
    }
}

impl Probe for ComponentState {
    /// Ready: connected, every consumer seated, not rebuilding, the outbox not wedged.
    fn readiness(&self) -> Readiness {
        let mut not_ready = Vec::new();
        if !self.connected() {
            not_ready.push("not connected to NATS".to_owned());
        }
        for (labels, progress) in &self.consumers {
            let done = progress.history_read.load(Ordering::Acquire);
            if !progress.seated.load(Ordering::Acquire) && !done {
                not_ready.push(format!(
                    "consumer {} on {} is not seated (waiting for its stream, or seating again after a lost delivery)",
                    labels.consumer, labels.stream
                ));
            }
        }
        if self.shared.is_rebuilding() {
            not_ready.push("rebuilding its state from the streams".to_owned());
        }
        let outbox = self.outbox();
        let wedged_after = self.shared.options().outbox_wedged_after;
        if outbox.oldest_age > wedged_after {
            not_ready.push(format!(
                "outbox wedged: its oldest entry has waited {}s to be published (more than {}s); {} entries waiting",
                outbox.oldest_age.as_secs(),
                wedged_after.as_secs(),
                outbox.depth
            ));
        }
        Readiness::from_reasons(not_ready)
    }

    fn tick(&self) {
        let head = self
            .shared
            .store()
            .scan_raw(OUTBOX)
            .next()
            .and_then(Result::ok)
            .map(|(key, _)| key);
        self.oldest.age(head);
    }
}

impl Collector for ComponentState {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let outbox = self.outbox();
        gauge(
            &mut encoder,
            "outbox_depth",
            "Events committed and not yet acknowledged by JetStream",
            None,
            outbox.depth as f64,
        )?;
        gauge(
            &mut encoder,
            "outbox_oldest_entry_age",
            "How long the entry at the head of the outbox has waited to be published (0: empty)",
            Some(&Unit::Seconds),
            outbox.oldest_age.as_secs_f64(),
        )?;
        gauge(
            &mut encoder,
            "outbox_set_aside_entries",
            "Outbox entries the server refuses for good, set aside (mandate dlq set-aside)",
            None,
            outbox.set_aside as f64,
        )?;
        gauge(
            &mut encoder,
            "rebuilding",
            "1 from a rebuild request until every consumer has re-applied its history",
            None,
            f64::from(u8::from(self.shared.is_rebuilding())),
        )?;
        gauge(
            &mut encoder,
            "connected",
            "1 while connected to NATS",
            None,
            f64::from(u8::from(self.connected())),
        )?;
        per_consumer(
            &mut encoder,
            &self.consumers,
            "consumer_applied_sequence",
            "The last stream sequence whose effects are committed",
            |p| p.applied.load(Ordering::Acquire) as f64,
        )?;
        per_consumer(
            &mut encoder,
            &self.consumers,
            "consumer_replay_mark",
            "Up to this stream sequence a rebuild re-applies without publishing (rebuild progress: applied_sequence / replay_mark)",
            |p| p.replay_until.load(Ordering::Acquire) as f64,
        )?;
        per_consumer(
            &mut encoder,
            &self.consumers,
            "consumer_seated",
            "1 while the consumer is seated on its stream",
            |p| f64::from(u8::from(p.seated.load(Ordering::Acquire))),
        )
    }
}

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: f64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, unit, MetricType::Gauge)?)
}

fn per_consumer(
    encoder: &mut DescriptorEncoder<'_>,
    consumers: &[(ConsumerLabels, Arc<Progress>)],
    name: &str,
    help: &str,
    value: impl Fn(&Progress) -> f64,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, progress) in consumers {
        ConstGauge::new(value(progress)).encode(family.encode_family(labels)?)?;
    }
    Ok(())
}
