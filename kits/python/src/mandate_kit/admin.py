"""The admin protocol every component serves (the kit's `crates/mandate/src/admin.rs`, the
same JSON shapes): `svc.<component>.admin.status`, `.rebuild` and `.retry-set-aside`. It is
what `mandate status`, `mandate replay` and the end-to-end tests' readiness and quiescence
checks ask; no tool ever opens a component's files.

A rebuild wipes the state and re-applies history without publishing anything again: before
wiping it stops the consumers, publishes what the outbox holds, and records each consumer's
applied sequence as its replay mark; up to the marks, reactions and dead letters are not
staged (they went out the first time — and their ids are deterministic besides).
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any, Optional

from mandate_client import envelope
from nats.micro.request import Request

from .consume import StartAt
from .deadletter import wire_size
from .reactions import now_rfc3339
from .service import ServiceError
from .shared import Shared, log
from .store import DEAD_LETTERS

# How many set-aside entries the status lists (the oldest first); the count covers them all.
LISTED = 20
# How long a rebuild waits for the outbox to be published before it wipes anything.
DRAIN_BEFORE_REBUILD = 30.0


class Admin:
    def __init__(self, shared: Shared):
        self.shared = shared
        self.name = shared.component.name
        self._started = time.monotonic()
        self._started_at = now_rfc3339()

    def handlers(self) -> dict[str, Any]:
        return {"status": self.status, "rebuild": self.rebuild, "retry-set-aside": self.retry_set_aside}

    async def status(self, _request: Request) -> bytes:
        # Before the rebuild flag: a report that says "rebuilding" then shows the consumers
        # as they were while it was.
        consumers = await self._consumer_statuses()
        store = self.shared.store
        return _json(
            {
                "component": self.name,
                "version": self.shared.component.version,
                "started_at": self._started_at,
                "uptime_seconds": int(time.monotonic() - self._started),
                "rebuilding": self.shared.rebuilding,
                "consumers": consumers,
                "outbox_depth": store.outbox_depth(),
                "dead_letters": store.counter(DEAD_LETTERS),
                "set_aside": self._set_aside(),
                "publishes": list(self.shared.component.publishes),
                "serves": self.shared.component.serves_list,
            }
        )

    async def retry_set_aside(self, _request: Request) -> bytes:
        retried = self.shared.store.retry_set_aside()
        log.info("%d set-aside outbox entries put back in the outbox", retried)
        self.shared.relay.wake()
        return _json({"component": self.name, "retried": retried})

    async def rebuild(self, request: Request) -> bytes:
        start = parse_rebuild(request.data)
        shared = self.shared
        if shared.rebuilding:
            raise ServiceError(409, f"{self.name} is already rebuilding")
        log.info("rebuild requested (%s): stopping consumers", start)
        for consumer in shared.consumers:
            await consumer.stop()
        shared.begin_rebuild()
        if not await shared.relay.drain(DRAIN_BEFORE_REBUILD):
            shared.end_rebuild()
            for consumer in shared.consumers:
                consumer.start()
            raise ServiceError(503, "cannot publish the outbox before the rebuild; nothing was wiped", True)
        with shared.store.transaction() as tx:
            for consumer in shared.consumers:
                consumer.replay_until = tx.mark_replay(consumer.stream)
            wiped = shared.store.wipe(tx)
        for consumer in shared.consumers:
            consumer.caught_up = False
            consumer.applied = 0
        log.info("store wiped (%d rows); re-consuming", wiped)
        for consumer in shared.consumers:
            consumer.start(start)
        # A component with nothing to re-consume is caught up at once.
        shared.note_caught_up()
        return _json(
            {"component": self.name, "started": True, "wiped": wiped, "consumers": await self._consumer_statuses()}
        )

    async def _consumer_statuses(self) -> list[dict[str, Any]]:
        return [
            {
                "stream": consumer.stream,
                "consumer": self.name,
                "subjects": consumer.subjects,
                "applied_sequence": self.shared.store.watermark(consumer.stream),
                "pending": await self._pending(consumer.stream),
                "replay_until": consumer.replay_until,
                "caught_up": consumer.caught_up,
            }
            for consumer in self.shared.consumers
        ]

    async def _pending(self, stream: str) -> Optional[int]:
        """Events not yet delivered or not yet acknowledged; None when the server does not say."""
        try:
            info = await self.shared.js.consumer_info(stream, self.name, timeout=2.0)
        except Exception:  # no consumer yet, no stream, no server: unknown
            return None
        return (info.num_pending or 0) + (info.num_ack_pending or 0)

    def _set_aside(self) -> dict[str, Any]:
        entries = self.shared.store.set_aside_entries()
        listed = []
        for entry, reason, at in entries[:LISTED]:
            headers = dict(entry.message.headers)
            listed.append(
                {
                    "id": entry.id,
                    "subject": entry.message.subject,
                    "size": wire_size(entry.message.headers, len(entry.message.payload)),
                    "ce_type": headers.get(envelope.CE_TYPE),
                    "ce_id": headers.get(envelope.CE_ID),
                    "reason": reason,
                    "set_aside_at": at,
                }
            )
        return {
            "count": len(entries),
            "oldest": entries[0][2] if entries else None,
            "newest": entries[-1][2] if entries else None,
            "entries": listed,
        }


def parse_rebuild(data: bytes) -> StartAt:
    """The rebuild request: empty (from the beginning), or a JSON object with `from_sequence`
    or `since` (RFC 3339) — not both, nothing else."""
    if not data.strip():
        return StartAt()
    try:
        body = json.loads(data)
    except ValueError as err:
        raise ServiceError(400, f"rebuild request is not valid JSON: {err}") from None
    if not isinstance(body, dict):
        raise ServiceError(400, "rebuild request is not valid JSON: expected an object")
    unknown = sorted(set(body) - {"from_sequence", "since"})
    if unknown:
        raise ServiceError(400, f"rebuild request is not valid JSON: unknown field `{unknown[0]}`")
    sequence, since = body.get("from_sequence"), body.get("since")
    if sequence is not None and (isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 0):
        raise ServiceError(400, f"rebuild request is not valid JSON: from_sequence {sequence!r} is not a sequence")
    if sequence is not None and since is not None:
        raise ServiceError(400, "give from_sequence or since, not both")
    if since is not None:
        if not isinstance(since, str) or not envelope.is_rfc3339(since):
            raise ServiceError(400, f"since {since!r} is not an RFC 3339 time")
        try:
            return StartAt(time=datetime.fromisoformat(since.replace("z", "Z").replace("Z", "+00:00")))
        except ValueError as err:  # a leap second: RFC 3339, but no datetime
            raise ServiceError(400, f"since {since!r} cannot be used: {err}") from None
    return StartAt(sequence=sequence)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()
