"""The consume loop, one per source stream (docs/contract.md, "A component in another
language", steps 3 and 4): a durable pull consumer named after the component, filtered to exactly the
subjects handled; a batch applied in one SQLite transaction with the stream sequence it
reached (the watermark); committed; then acknowledged with one ack (ack policy `all`).

The watermark — not the server's ack floor — is the position of record: a message at or
below it is acknowledged and skipped. That holds only if messages arrive in stream order, so
at every start the consumer is re-seated just past the watermark (deleted and created again):
nothing a previous process left unacknowledged can then arrive late, behind newer ones. For the
same reason a delivery lost on the way (`deliveries.py`) ends the stretch, and the consumer is
re-seated past the watermark before anything behind the lost one is applied.

During a rebuild, events up to the replay mark are re-applied without publishing anything
(their reactions and dead letters went out the first time), and events past it wait until
every consumer has re-applied its history.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import api

from . import apply
from .apply import Delivered, Rules
from .deliveries import Deliveries
from .shared import Shared, log

# How long one pull waits for messages: also how long a stop waits for an idle consumer.
FETCH_WAIT = 1.0


@dataclass(frozen=True)
class StartAt:
    """Where a rebuild re-consumes from: the beginning, a stream sequence, or a time."""

    sequence: Optional[int] = None
    time: Optional[datetime] = None


class Consumer:
    def __init__(self, shared: Shared, stream: str):
        self.shared = shared
        self.stream = stream
        self.name = shared.component.name
        self.handlers = shared.component.sources[stream]
        self.subjects = sorted(self.handlers)
        # The last sequence applied (0 until known), for the admin status.
        self.applied = 0
        self.caught_up = False
        self.replay_until = shared.store.replay_mark(stream)
        # Seated past the watermark and consuming (readiness, `mandate_consumer_seated`).
        self.seated = False
        self.metrics = shared.metrics.consumer(stream, self.name)
        self._stop = asyncio.Event()
        self._task: Optional[asyncio.Task[None]] = None
        # The `lose_first_delivery` fault loses one delivery per process, not one per seating.
        self._fault_spent = False

    def start(self, start: Optional[StartAt] = None) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(start), name=f"consumer {self.stream}")

    async def stop(self) -> None:
        """Stops after the batch in hand and waits (a failure of the loop is raised here)."""
        self._stop.set()
        if self._task is not None:
            task, self._task = self._task, None
            await task

    def catch_up(self) -> None:
        if not self.caught_up:
            self.caught_up = True
            self.shared.note_caught_up()

    async def _run(self, start: Optional[StartAt]) -> None:
        try:
            await self._consume(start)
        except Exception as err:  # the store or the server failed for good: stop the process
            log.exception("the consumer on %s stopped", self.stream)
            self.shared.fail(f"the consumer on {self.stream} stopped: {type(err).__name__}: {err}")

    async def _consume(self, start: Optional[StartAt]) -> None:
        if not await self._wait_for_stream():
            return
        subscription, deliveries = await self._seat(start)
        while True:
            self.seated = True
            try:
                broken = await self._consume_seated(subscription, deliveries)
            finally:
                self.seated = False
                await subscription.unsubscribe()
            if broken is None:
                return
            log.warning("consumer on %s: %s; seating it again past the watermark", self.stream, broken)
            self.metrics.reseats.inc()
            # A rebuild's start stands until something is applied; then the watermark leads.
            if self.shared.store.watermark(self.stream) > 0:
                start = None
            seated = await self._seat_again(start)
            if seated is None:
                return
            subscription, deliveries = seated

    async def _consume_seated(self, subscription, deliveries: Deliveries) -> Optional[str]:
        """Consumes until stopped (None) or until a delivery went missing (why)."""
        while not self._stop.is_set():
            try:
                batch = await subscription.fetch(self.shared.config.batch_size, timeout=FETCH_WAIT)
            except (asyncio.TimeoutError, nats.errors.TimeoutError):
                continue
            except nats.errors.Error as err:  # the server is away or busy: try again shortly
                log.warning("cannot pull from %s (%s: %s); retrying", self.stream, type(err).__name__, err)
                await self._pause(1.0)
                continue
            await self._process(deliveries.whole(batch))
            if deliveries.broken is not None:
                return deliveries.broken
        return None

    async def _seat_again(self, start: Optional[StartAt]):
        """Seats the consumer again after a delivery went missing — when the cluster may be in
        turmoil and JetStream's API not answering for a while, so failures are waited out.
        None when stopped meanwhile."""
        backoff = 0.1
        while not self._stop.is_set():
            try:
                return await self._seat(start)
            except (nats.errors.Error, asyncio.TimeoutError) as err:
                log.warning("cannot seat the consumer on %s again yet (%s); retrying", self.stream, err)
            await self._pause(backoff)
            backoff = min(backoff * 2, 5.0)
        return None

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def _wait_for_stream(self) -> bool:
        """Its owner creates the stream; a subscriber that starts first waits for it."""
        backoff, warned = 0.1, False
        while not self._stop.is_set():
            try:
                await self.shared.js.stream_info(self.stream)
                return True
            except nats.js.errors.NotFoundError:
                if not warned:
                    log.warning("waiting for stream %s (has its owner started?)", self.stream)
                    warned = True
                    # No stream, nothing to re-apply: this consumer holds up no rebuild.
                    self.catch_up()
            except (nats.errors.Error, asyncio.TimeoutError) as err:
                log.warning("cannot read stream %s (%s); retrying", self.stream, err)
            await self._pause(backoff)
            backoff = min(backoff * 2, 5.0)
        return False

    async def _seat(self, start: Optional[StartAt]) -> tuple[object, Deliveries]:
        """(Re)creates the durable consumer just past the watermark, or where a rebuild starts."""
        store = self.shared.store
        applied, self.replay_until = store.watermark(self.stream), store.replay_mark(self.stream)
        self.applied = applied
        policy: dict[str, object] = {"deliver_policy": api.DeliverPolicy.ALL}
        if start is None and applied > 0:
            policy = {"deliver_policy": api.DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": applied + 1}
        elif start is not None and start.sequence is not None:
            policy = {"deliver_policy": api.DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": max(start.sequence, 1)}
        elif start is not None and start.time is not None:
            policy = {"deliver_policy": api.DeliverPolicy.BY_START_TIME, "opt_start_time": start.time}
        try:
            await self.shared.js.delete_consumer(self.stream, self.name)
        except nats.js.errors.NotFoundError:
            pass  # the first start
        # `name` and `durable_name` both: with `name`, nats-py creates through
        # $JS.API.CONSUMER.CREATE.<stream>.<name> — the form the component's bus user may use.
        config = api.ConsumerConfig(
            name=self.name,
            durable_name=self.name,
            description=f"{self.name} consuming {', '.join(self.subjects)}",
            ack_policy=api.AckPolicy.ALL,
            ack_wait=self.shared.config.ack_wait_seconds,
            max_deliver=-1,
            # Both forms: keyed events travel as <subject>.<slot>.<key> (docs/design.md, "Partitions").
            filter_subjects=[form for subject in self.subjects for form in (subject, f"{subject}.>")],
            max_ack_pending=20_000,
            **policy,
        )
        info = await self.shared.js.add_consumer(self.stream, config)
        self.metrics.pending.set(info.num_pending or 0)
        if info.num_pending == 0 or applied >= self.replay_until:
            self.catch_up()
        log.info("consumer on %s seated: applied %d, pending %d, %s", self.stream, applied, info.num_pending, policy)
        subscription = await self.shared.js.pull_subscribe_bind(durable=self.name, stream=self.stream)
        delivered = info.delivered.consumer_seq if info.delivered is not None else 0
        lose = self.shared.config.lose_first_delivery and not self._fault_spent
        self._fault_spent = self._fault_spent or lose
        return subscription, Deliveries(delivered or 0, lose_first=lose)

    async def _process(self, batch: list[Msg]) -> None:
        redelivered = sum(1 for message in batch if (message.metadata.num_delivered or 1) > 1)
        if redelivered:
            self.metrics.redeliveries.inc(redelivered)
        next = 0
        while next < len(batch):
            first = next
            last, next, hold = self._apply_run(batch, next)
            self.shared.relay.wake()
            if last is not None:
                # Moved past in a committed transaction: handled, skipped or dead-lettered.
                self.metrics.applied.inc(last - first + 1)
                self.metrics.batches.inc()
                await self._after_commit(batch[last])
            if hold and not await self._hold_at_mark():
                return

    def _apply_run(self, batch: list[Msg], next: int) -> tuple[Optional[int], int, bool]:
        return apply.run(
            self.shared.store,
            self.stream,
            [delivered(message) for message in batch],
            next,
            Rules(
                component=self.name,
                publishes=frozenset(self.shared.component.publishes),
                handlers=self.handlers,
                schemas=self.shared.schemas,
                max_attempts=self.shared.config.max_attempts,
                max_payload=self.shared.max_payload,
                replay_until=self.replay_until,
                rebuilding=self.shared.rebuilding,
                metrics=self.metrics,
            ),
        )

    async def _after_commit(self, last: Msg) -> None:
        """Acknowledges everything up to `last` (ack-all) and notes progress."""
        try:
            await last.ack()
        except nats.errors.Error as err:
            # Redelivered later, then skipped: the watermark says it is applied.
            log.warning("cannot acknowledge %s: %s", self.stream, err)
        sequence = last.metadata.sequence.stream
        self.applied = max(self.applied, sequence)
        self.metrics.pending.set(last.metadata.num_pending or 0)
        if last.metadata.num_pending == 0 or sequence >= self.replay_until:
            self.catch_up()

    async def _hold_at_mark(self) -> bool:
        """Holds this consumer at its replay mark until every consumer has reached its own,
        so that new events meet the whole rebuilt state. False when stopped meanwhile."""
        self.catch_up()
        stop = asyncio.create_task(self._stop.wait())
        rebuilt = asyncio.create_task(self.shared.rebuilt())
        await asyncio.wait({stop, rebuilt}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stop, rebuilt):
            task.cancel()
        return not self._stop.is_set()


def delivered(message: Msg) -> Delivered:
    metadata = message.metadata
    return Delivered(
        subject=message.subject,
        headers=message.headers,
        data=message.data,
        sequence=metadata.sequence.stream,
        deliveries=metadata.num_delivered or 1,
    )
