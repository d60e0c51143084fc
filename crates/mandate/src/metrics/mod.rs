//! What a component counts, for Prometheus (docs/operate.md lists every metric and what it
//! means). The families live here, one set per running component; each consumer and each
//! endpoint takes its own handles at start (`ConsumerMetrics`, `EndpointMetrics`), so that the
//! hot path only adds to atomics — no label lookup, no lock, no allocation per message. What
//! is cheaper to read than to count (outbox depth, set-aside entries, rebuild progress) is
//! read from the store and the consumers' progress at scrape time (`state.rs`); process RSS
//! and CPU from /proc (`process.rs`). The HTTP listener that serves them is `listener.rs`.

pub(crate) mod listener;
pub(crate) mod process;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use crate::deadletter::DeadLetterKind;

pub use crate::histogram::{Histogram, LATENCY_BUCKETS};
pub use crate::options::{MetricsAddr, parse_metrics_addr as parse_addr};
pub use listener::{Listening, serve};
pub use process::ProcessCollector;
/// The client library, for a program that registers figures of its own (the gateway).
pub use prometheus_client;

/// The registry a component's listener serves: the process's figures under their standard
/// names, the kit's under `mandate_`, every series labelled with the component.
/// `state` is what is read at each scrape rather than counted (`observed.rs`).
pub(crate) fn registry(
    component: &str,
    metrics: &Metrics,
    state: Box<dyn prometheus_client::collector::Collector>,
) -> Registry {
    let label = (Cow::Borrowed("component"), Cow::Owned(component.to_owned()));
    let mut root = Registry::with_labels(std::iter::once(label));
    root.register_collector(Box::new(ProcessCollector));
    let kit = root.sub_registry_with_prefix("mandate");
    metrics.register(kit);
    kit.register_collector(state);
    root
}

/// The labels of a consumer's figures (the component is a label of the whole registry).
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct ConsumerLabels {
    pub stream: Arc<str>,
    pub consumer: Arc<str>,
}

impl ConsumerLabels {
    pub(crate) fn new(stream: &str, consumer: &str) -> ConsumerLabels {
        ConsumerLabels {
            stream: stream.into(),
            consumer: consumer.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DeadLetterLabels {
    stream: Arc<str>,
    consumer: Arc<str>,
    reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: Arc<str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct EndpointErrorLabels {
    endpoint: Arc<str>,
    code: u16,
}

/// Every reason a consumer dead-letters for, so that each series exists (at 0) from the start
/// and `rate()` sees the first one.
const DEAD_LETTER_KINDS: [DeadLetterKind; 8] = DeadLetterKind::ALL;

/// The metric families of one component.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    applied: Family<ConsumerLabels, Counter>,
    batches: Family<ConsumerLabels, Counter>,
    redeliveries: Family<ConsumerLabels, Counter>,
    reseats: Family<ConsumerLabels, Counter>,
    crash_guard_set_asides: Family<ConsumerLabels, Counter>,
    dead_letters: Family<DeadLetterLabels, Counter>,
    pending: Family<ConsumerLabels, Gauge>,
    handler_seconds: Family<ConsumerLabels, Histogram>,
    commit_seconds: Family<ConsumerLabels, Histogram>,
    requests: Family<EndpointLabels, Counter>,
    errors: Family<EndpointErrorLabels, Counter>,
    request_seconds: Family<EndpointLabels, Histogram>,
    /// The store's syncs, timed by the store (`Store::sync_seconds`).
    store_sync_seconds: Histogram,
}

impl Metrics {
    /// The families of a component whose store times its syncs into `store_sync_seconds`.
    pub(crate) fn with_store_syncs(store_sync_seconds: Histogram) -> Metrics {
        Metrics {
            store_sync_seconds,
            ..Metrics::default()
        }
    }

    /// The handles of one consumer.
    pub(crate) fn consumer(&self, stream: &str, consumer: &str) -> ConsumerMetrics {
        let labels = ConsumerLabels {
            stream: stream.into(),
            consumer: consumer.into(),
        };
        let dead_letters = DEAD_LETTER_KINDS.map(|kind| {
            self.dead_letters.get_or_create_owned(&DeadLetterLabels {
                stream: Arc::clone(&labels.stream),
                consumer: Arc::clone(&labels.consumer),
                reason: kind.as_str(),
            })
        });
        ConsumerMetrics {
            applied: self.applied.get_or_create_owned(&labels),
            batches: self.batches.get_or_create_owned(&labels),
            redeliveries: self.redeliveries.get_or_create_owned(&labels),
            reseats: self.reseats.get_or_create_owned(&labels),
            crash_guard_set_asides: self.crash_guard_set_asides.get_or_create_owned(&labels),
            dead_letters,
            pending: self.pending.get_or_create_owned(&labels),
            handler_seconds: self.handler_seconds.get_or_create_owned(&labels),
            commit_seconds: self.commit_seconds.get_or_create_owned(&labels),
        }
    }

    /// The handles of one service endpoint, named by its operation (`orders.place.v1`).
    pub(crate) fn endpoint(self: &Arc<Self>, operation: &str) -> EndpointMetrics {
        let labels = EndpointLabels {
            endpoint: operation.into(),
        };
        EndpointMetrics {
            requests: self.requests.get_or_create_owned(&labels),
            seconds: self.request_seconds.get_or_create_owned(&labels),
            endpoint: labels.endpoint,
            families: Arc::clone(self),
        }
    }

    /// Registers every family in `registry` (names are given without the `mandate_` prefix
    /// and without `_total` or the unit, which the encoder adds).
    pub(crate) fn register(&self, registry: &mut Registry) {
        let consumer = registry.sub_registry_with_prefix("consumer");
        consumer.register(
            "applied_events",
            "Events the consumer has moved past in a committed transaction (handled, or dead-lettered)",
            self.applied.clone(),
        );
        consumer.register(
            "batches",
            "Transactions committed by the consumer",
            self.batches.clone(),
        );
        consumer.register(
            "redeliveries",
            "Deliveries JetStream made more than once (a lost ack, a restart before the ack)",
            self.redeliveries.clone(),
        );
        consumer.register(
            "reseats",
            "Times the consumer was seated again past the watermark because a delivery went missing",
            self.reseats.clone(),
        );
        consumer.register(
            "crash_guard_set_asides",
            "Messages dead-lettered without their handler because they stopped the process max-attempts times",
            self.crash_guard_set_asides.clone(),
        );
        consumer.register(
            "dead_letters",
            "Messages the consumer dead-lettered, by reason (the dead letter's kind)",
            self.dead_letters.clone(),
        );
        consumer.register(
            "pending",
            "Events in the stream not yet delivered to the consumer, as of its last delivery (its lag)",
            self.pending.clone(),
        );
        consumer.register_with_unit(
            "handler",
            "Time one handler took on one event",
            Unit::Seconds,
            self.handler_seconds.clone(),
        );
        consumer.register_with_unit(
            "commit",
            "Time one transaction's commit took: applied until durable (the group sync it shares)",
            Unit::Seconds,
            self.commit_seconds.clone(),
        );
        registry.sub_registry_with_prefix("store").register_with_unit(
            "sync",
            "Time one sync of the store took (flush and fdatasync): what every commit waiting on it waits for",
            Unit::Seconds,
            self.store_sync_seconds.clone(),
        );
        let service = registry.sub_registry_with_prefix("service");
        service.register("requests", "Requests answered, per endpoint", self.requests.clone());
        service.register(
            "errors",
            "Requests answered with an error, per endpoint and error code",
            self.errors.clone(),
        );
        service.register_with_unit(
            "request",
            "Time from receiving a request to sending its answer",
            Unit::Seconds,
            self.request_seconds.clone(),
        );
    }
}

/// One consumer's handles: clones of the family members, so counting is an atomic add.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerMetrics {
    pub applied: Counter,
    pub batches: Counter,
    pub redeliveries: Counter,
    pub reseats: Counter,
    pub crash_guard_set_asides: Counter,
    dead_letters: [Counter; 8],
    pub pending: Gauge,
    pub handler_seconds: Histogram,
    pub commit_seconds: Histogram,
}

impl ConsumerMetrics {
    /// Counts one dead letter for `kind`.
    pub(crate) fn dead_lettered(&self, kind: DeadLetterKind) {
        if let Some(i) = DEAD_LETTER_KINDS.iter().position(|k| *k == kind) {
            self.dead_letters[i].inc();
        }
    }
}

/// One endpoint's handles. An error's code is looked up in its family (a read lock): errors
/// are the exception, and their codes are not known in advance.
#[derive(Debug, Clone)]
pub(crate) struct EndpointMetrics {
    requests: Counter,
    seconds: Histogram,
    endpoint: Arc<str>,
    families: Arc<Metrics>,
}

impl EndpointMetrics {
    /// Counts one answered request, its error code if it failed, and how long it took.
    pub(crate) fn answered(&self, error_code: Option<u16>, elapsed: Duration) {
        self.requests.inc();
        self.seconds.observe(elapsed);
        if let Some(code) = error_code {
            self.families
                .errors
                .get_or_create(&EndpointErrorLabels {
                    endpoint: Arc::clone(&self.endpoint),
                    code,
                })
                .inc();
        }
    }
}
