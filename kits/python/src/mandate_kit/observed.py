"""What is read, not counted: at each scrape and each readiness probe, from the store and the
consumers' progress — the outbox's depth and its oldest entry's age, set-aside entries,
rebuild progress, whether each consumer is seated and whether the connection is up (the Rust
kit's `observed.rs`). Reading these costs two counts and a look at the outbox's head per
scrape, nothing per message.

The listener answers on a thread of its own (`listener.py`), but the store is one SQLite
connection that belongs to the loop, and the consumers' progress is the loop's too: so a
`Snapshot` is always taken *on the loop* (`Observed.snapshot`, through
`asyncio.run_coroutine_threadsafe`), between two of its steps — never halfway through a
transaction — and the thread only formats it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Optional

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .shared import Shared

# How long a probe or a scrape waits for the loop. A loop that does not get to it within this
# time is stuck (or one transaction is taking that long): not ready.
LOOP_TIMEOUT = 2.0


@dataclass(frozen=True)
class ConsumerState:
    stream: str
    consumer: str
    applied: int
    replay_until: int
    seated: bool


@dataclass(frozen=True)
class Snapshot:
    connected: bool
    rebuilding: bool
    consumers: tuple[ConsumerState, ...]
    outbox_depth: int
    oldest_age_seconds: float
    set_aside: int


def readiness(snapshot: Snapshot, wedged_after_seconds: float) -> list[str]:
    """Every reason not to send the component work (empty: ready) — the Rust kit's rules, in its
    words: connected, every consumer seated, not rebuilding, the outbox not wedged."""
    not_ready = []
    if not snapshot.connected:
        not_ready.append("not connected to NATS")
    for consumer in snapshot.consumers:
        if not consumer.seated:
            not_ready.append(
                f"consumer {consumer.consumer} on {consumer.stream} is not seated "
                "(waiting for its stream, or seating again after a lost delivery)"
            )
    if snapshot.rebuilding:
        not_ready.append("rebuilding its state from the streams")
    if snapshot.oldest_age_seconds > wedged_after_seconds:
        not_ready.append(
            f"outbox wedged: its oldest entry has waited {int(snapshot.oldest_age_seconds)}s to be published "
            f"(more than {int(wedged_after_seconds)}s); {snapshot.outbox_depth} entries waiting"
        )
    return not_ready


class OldestEntry:
    """How long the entry at the head of the outbox has been there, as this process watched it:
    entries carry no time of their own (a rebuild must write the same bytes whatever the
    clock), so the head is sampled every second (`Observed.tick`) and at each scrape and probe;
    the age is the time since the head was first seen to be this entry."""

    def __init__(self) -> None:
        self._seen: Optional[tuple[int, float]] = None

    def age(self, head: Optional[int], now: Optional[float] = None) -> float:
        now = time.monotonic() if now is None else now
        if head is None:
            self._seen = None
            return 0.0
        if self._seen is not None and self._seen[0] == head:
            return now - self._seen[1]
        self._seen = (head, now)
        return 0.0


class Observed(Collector):
    """A running component as its probes and scrapes see it."""

    def __init__(self, shared: "Shared", loop: asyncio.AbstractEventLoop):
        self._shared = shared
        self._loop = loop
        self._oldest = OldestEntry()

    # On the loop.

    def tick(self) -> None:
        self._oldest.age(self._shared.store.outbox_head_id())

    async def snapshot(self) -> Snapshot:
        shared = self._shared
        store = shared.store
        return Snapshot(
            connected=shared.nc.is_connected,
            rebuilding=shared.rebuilding,
            consumers=tuple(
                ConsumerState(c.stream, c.name, c.applied, c.replay_until, c.seated) for c in shared.consumers
            ),
            outbox_depth=store.outbox_depth(),
            oldest_age_seconds=self._oldest.age(store.outbox_head_id()),
            set_aside=store.set_aside_count(),
        )

    # On the listener's thread.

    def snapshot_from_thread(self) -> Snapshot:
        """Takes the snapshot on the loop; `concurrent.futures.TimeoutError` when the loop does not get to it."""
        future = asyncio.run_coroutine_threadsafe(self.snapshot(), self._loop)
        try:
            return future.result(LOOP_TIMEOUT)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def readiness(self) -> list[str]:
        try:
            snapshot = self.snapshot_from_thread()
        except concurrent.futures.TimeoutError:
            return [f"its event loop did not answer within {LOOP_TIMEOUT:g}s (stuck, or one transaction is that slow)"]
        return readiness(snapshot, self._shared.config.outbox_wedged_after_seconds)

    def collect(self) -> Iterable[Metric]:
        s = self.snapshot_from_thread()
        yield _gauge("mandate_outbox_depth", "Events committed and not yet acknowledged by JetStream", s.outbox_depth)
        yield _gauge(
            "mandate_outbox_oldest_entry_age_seconds",
            "How long the entry at the head of the outbox has waited to be published (0: empty)",
            s.oldest_age_seconds,
            unit="seconds",
        )
        yield _gauge(
            "mandate_outbox_set_aside_entries",
            "Outbox entries the server refuses for good, set aside (mandate dlq set-aside)",
            s.set_aside,
        )
        yield _gauge(
            "mandate_rebuilding", "1 from a rebuild request until every consumer has re-applied its history", s.rebuilding
        )
        yield _gauge("mandate_connected", "1 while connected to NATS", s.connected)
        for name, help, value in (
            ("applied_sequence", "The last stream sequence whose effects are committed", lambda c: c.applied),
            (
                "replay_mark",
                "Up to this stream sequence a rebuild re-applies without publishing "
                "(rebuild progress: applied_sequence / replay_mark)",
                lambda c: c.replay_until,
            ),
            ("seated", "1 while the consumer is seated on its stream", lambda c: c.seated),
        ):
            family = GaugeMetricFamily(f"mandate_consumer_{name}", help, labels=("stream", "consumer"))
            for consumer in s.consumers:
                family.add_metric((consumer.stream, consumer.consumer), float(value(consumer)))
            yield family


def _gauge(name: str, help: str, value: float, unit: str = "") -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help, value=float(value), unit=unit)
