"""What a component counts, for Prometheus: the same names, types and labels as the Rust kit
(docs/operate.md lists every metric and what it means), on the official client library
(`prometheus_client`).

Each consumer and each endpoint takes its own handles when it starts (`ConsumerMetrics`,
`EndpointMetrics`: the labelled children, looked up once), so that counting an event is an
add under the child's own uncontended lock — no label lookup per message. What is cheaper to
read than to count (outbox depth, set-aside entries, rebuild progress, seated, connected) is
read at scrape time (`observed.py`). Every series gets the `component` label at scrape time
(`Labelled`), the way the Rust kit labels its whole registry.
"""

from __future__ import annotations

import copy
from typing import Iterable

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from mandate_client import strict

from .deadletter import HANDLER_FAILED

# Upper bounds of the latency buckets, in seconds: the Rust kit's (`metrics/histogram.rs`),
# from 50 µs to 10 s; `+Inf` is implied.
LATENCY_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)

# Every reason a consumer dead-letters for (the dead letter's kind), so that each series
# exists at 0 from the start and `rate()` sees the first one.
DEAD_LETTER_REASONS = (
    strict.MISSING_HEADER,
    strict.INVALID_HEADER,
    strict.UNKNOWN_TYPE,
    strict.NOT_A_MAP,
    strict.BINARY_STRING,
    strict.TRAILING_BYTES,
    strict.UNDECODABLE,
    HANDLER_FAILED,
)

_CONSUMER = ("stream", "consumer")

# The Rust client writes no `_created` series; neither do we, so that both kits expose the
# same series (a setting of the library, for the whole process).
prometheus_client.disable_created_metrics()


class Metrics:
    """The metric families of one component, in a registry of their own (not the library's
    global one: tests run several components in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.applied = Counter(
            "mandate_consumer_applied_events",
            "Events the consumer has moved past in a committed transaction (handled, or dead-lettered)",
            _CONSUMER,
            registry=r,
        )
        self.batches = Counter("mandate_consumer_batches", "Transactions committed by the consumer", _CONSUMER, registry=r)
        self.redeliveries = Counter(
            "mandate_consumer_redeliveries",
            "Deliveries JetStream made more than once (a lost ack, a restart before the ack)",
            _CONSUMER,
            registry=r,
        )
        self.reseats = Counter(
            "mandate_consumer_reseats",
            "Times the consumer was seated again past the watermark because a delivery went missing",
            _CONSUMER,
            registry=r,
        )
        self.dead_letters = Counter(
            "mandate_consumer_dead_letters",
            "Messages the consumer dead-lettered, by reason (the dead letter's kind)",
            (*_CONSUMER, "reason"),
            registry=r,
        )
        self.pending = Gauge(
            "mandate_consumer_pending",
            "Events in the stream not yet delivered to the consumer, as of its last delivery (its lag)",
            _CONSUMER,
            registry=r,
        )
        self.handler_seconds = Histogram(
            "mandate_consumer_handler",
            "Time one handler took on one event",
            _CONSUMER,
            unit="seconds",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.commit_seconds = Histogram(
            "mandate_consumer_commit",
            "Time one transaction's commit took (SQLite COMMIT with synchronous=FULL)",
            _CONSUMER,
            unit="seconds",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.requests = Counter("mandate_service_requests", "Requests answered, per endpoint", ("endpoint",), registry=r)
        self.errors = Counter(
            "mandate_service_errors",
            "Requests answered with an error, per endpoint and error code",
            ("endpoint", "code"),
            registry=r,
        )
        self.request_seconds = Histogram(
            "mandate_service_request",
            "Time from receiving a request to sending its answer",
            ("endpoint",),
            unit="seconds",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def consumer(self, stream: str, consumer: str) -> "ConsumerMetrics":
        return ConsumerMetrics(self, stream, consumer)

    def endpoint(self, operation: str) -> "EndpointMetrics":
        return EndpointMetrics(self, operation)


class ConsumerMetrics:
    """One consumer's handles."""

    def __init__(self, families: Metrics, stream: str, consumer: str):
        self.applied = families.applied.labels(stream, consumer)
        self.batches = families.batches.labels(stream, consumer)
        self.redeliveries = families.redeliveries.labels(stream, consumer)
        self.reseats = families.reseats.labels(stream, consumer)
        self.pending = families.pending.labels(stream, consumer)
        self.handler_seconds = families.handler_seconds.labels(stream, consumer)
        self.commit_seconds = families.commit_seconds.labels(stream, consumer)
        self._dead_letters = {
            reason: families.dead_letters.labels(stream, consumer, reason) for reason in DEAD_LETTER_REASONS
        }
        self._families = families
        self._labels = (stream, consumer)

    def dead_lettered(self, reason: str) -> None:
        child = self._dead_letters.get(reason)
        if child is None:  # a rule the client names that this list lacks: counted all the same
            child = self._dead_letters[reason] = self._families.dead_letters.labels(*self._labels, reason)
        child.inc()


class EndpointMetrics:
    """One endpoint's handles. An error's code is looked up in its family: errors are the
    exception, and their codes are not known in advance."""

    def __init__(self, families: Metrics, operation: str):
        self._requests = families.requests.labels(operation)
        self._seconds = families.request_seconds.labels(operation)
        self._errors = families.errors
        self._operation = operation

    def answered(self, error_code: int | None, seconds: float) -> None:
        self._requests.inc()
        self._seconds.observe(seconds)
        if error_code is not None:
            self._errors.labels(self._operation, str(error_code)).inc()


class Labelled(Collector):
    """`collector`'s series with `component=<name>` added to each, at scrape time."""

    def __init__(self, component: str, collector: Collector):
        self._component = component
        self._collector = collector

    def collect(self) -> Iterable[Metric]:
        for metric in self._collector.collect():
            labelled = copy.copy(metric)
            labelled.samples = [
                sample._replace(labels={**sample.labels, "component": self._component}) for sample in metric.samples
            ]
            yield labelled
