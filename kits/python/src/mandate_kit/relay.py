"""The outbox relay: publishes what transactions staged, in commit order, through JetStream
(each with `Nats-Msg-Id` = `ce-id`, so a repeat after a crash is dropped by the stream), and
deletes an entry only once JetStream has acknowledged it. Nothing committed is lost; nothing
is published twice.

A failure a retry may get past (no server, a timeout, no stream yet) is retried in order with
a backoff. An entry the server refuses for good — JetStream answers with an error (too large
for it, refused by the stream), or the client knows it exceeds max payload — is set aside
(`store.set_aside`), logged as an error and listed by the admin status, so that it does not
hold up everything behind it; `svc.<component>.admin.retry-set-aside` puts it back.
"""

from __future__ import annotations

import asyncio
import time

import nats.errors
import nats.js.errors

from .reactions import now_rfc3339
from .shared import log
from .store import OutboxEntry, Store

BATCH = 256
PUBLISH_TIMEOUT = 5.0


class Relay:
    def __init__(self, store: Store, js) -> None:
        self._store = store
        self._js = js
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was committed to the outbox."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.1
        while not stop.is_set():
            entries = self._store.outbox_head(BATCH)
            if not entries:
                await self._sleep(stop, 1.0)
                continue
            if await self._publish(entries):
                backoff = 0.1
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        self._wake.clear()
        waits = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()

    async def _publish(self, entries: list[OutboxEntry]) -> bool:
        """Publishes `entries` in order until one fails; deletes those acknowledged. True when
        all went (published or set aside)."""
        published: list[int] = []
        try:
            for entry in entries:
                message = entry.message
                try:
                    await self._js.publish(
                        message.subject, message.payload, timeout=PUBLISH_TIMEOUT, headers=dict(message.headers)
                    )
                    published.append(entry.id)
                except (nats.js.errors.APIError, nats.errors.MaxPayloadError) as err:
                    if isinstance(err, (nats.js.errors.ServiceUnavailableError, nats.js.errors.ServerError)):
                        raise  # JetStream is busy or failing: not the entry's fault
                    # JetStream said no (or would): the same entry will never go.
                    self._set_aside(entry, published, f"{type(err).__name__}: {err}")
                    published = []
            return True
        except (nats.errors.Error, asyncio.TimeoutError) as err:
            log.warning("cannot publish the outbox (%s: %s); retrying", type(err).__name__, err)
            return False
        finally:
            if published:
                self._store.delete_outbox(published)

    def _set_aside(self, entry: OutboxEntry, published: list[int], reason: str) -> None:
        # What went before it is deleted first: the outbox stays in commit order.
        if published:
            self._store.delete_outbox(published)
        log.error(
            "the server refuses outbox entry %d (%s) for good; set aside: %s", entry.id, entry.message.subject, reason
        )
        self._store.set_aside(entry, reason, now_rfc3339())

    async def drain(self, timeout: float) -> bool:
        """Waits until the outbox is empty; False at the deadline."""
        deadline = time.monotonic() + timeout
        self.wake()
        while self._store.outbox_depth() > 0:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True
