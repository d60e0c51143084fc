"""What the consumers, the relay, the service and the admin endpoints share: the component's
declaration, the connection, the store, the contract's schemas, the metrics, and whether a rebuild
is under way.

Everything runs on one asyncio loop, and every transaction runs from its BEGIN to its COMMIT
without an `await`: no two transactions interleave, so the store needs no lock of its own."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nats.aio.client import Client
from nats.js import JetStreamContext

from .config import Config
from .metrics import Metrics
from .store import Store

if TYPE_CHECKING:
    from .component import Component
    from .consume import Consumer
    from .relay import Relay

log = logging.getLogger("mandate_kit")


@dataclass
class Shared:
    component: "Component"
    config: Config
    store: Store
    nc: Client
    js: JetStreamContext
    # Subject → the JSON Schema of its events (reading.schemas).
    schemas: dict[str, dict[str, Any]]
    relay: "Relay"
    consumers: list["Consumer"] = field(default_factory=list)
    # What the component counts (metrics.py); served when `MANDATE_METRICS` is set.
    metrics: Metrics = field(default_factory=Metrics)
    # Set while no rebuild is under way.
    _not_rebuilding: asyncio.Event = field(default_factory=asyncio.Event)
    # Set when a loop failed for good: the process stops (and its supervisor restarts it).
    failed: asyncio.Event = field(default_factory=asyncio.Event)
    failure: str = ""

    def __post_init__(self) -> None:
        self._not_rebuilding.set()

    def fail(self, reason: str) -> None:
        log.error("stopping: %s", reason)
        self.failure = self.failure or reason
        self.failed.set()

    @property
    def max_payload(self) -> int:
        """The server's limit, headers included (from its INFO, followed across reconnects)."""
        return self.nc.max_payload

    @property
    def rebuilding(self) -> bool:
        return not self._not_rebuilding.is_set()

    def begin_rebuild(self) -> None:
        self._not_rebuilding.clear()

    def end_rebuild(self) -> None:
        self._not_rebuilding.set()

    async def rebuilt(self) -> None:
        """Waits until no rebuild is under way."""
        await self._not_rebuilding.wait()

    def note_caught_up(self) -> None:
        """Ends a rebuild once every consumer has re-applied what it had applied before."""
        if self.rebuilding and all(c.caught_up for c in self.consumers):
            self.end_rebuild()
            log.info("rebuild complete: every consumer has caught up")
