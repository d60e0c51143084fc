"""The streams a component needs (docs/contract.md, "A component in another language", step
2): its own, `EVT_<NAME>` capturing `evt.<name>.>`, created when missing — file storage, a
2-minute duplicate window, no deleting single events — and never updated (an existing
stream's configuration is the operator's); and the dead-letter stream `DLQ`, best effort."""

from __future__ import annotations

import nats.errors
import nats.js.errors
from nats.js import api

from .component import stream_of
from .shared import log

DLQ_STREAM = "DLQ"
DUPLICATE_WINDOW = 120.0


class StreamMisconfigured(RuntimeError):
    pass


async def ensure_own(js, name: str, replicas: int) -> None:
    subjects = f"evt.{name}.>"
    own = stream_of(name)
    config = api.StreamConfig(
        name=own,
        description=f"events published by {name}",
        subjects=[subjects],
        storage=api.StorageType.FILE,
        retention=api.RetentionPolicy.LIMITS,
        duplicate_window=DUPLICATE_WINDOW,
        num_replicas=replicas,
        # History is what rebuilds replay: no deleting single events.
        deny_delete=True,
        allow_direct=True,
    )
    info = await _get_or_create(js, config)
    if subjects not in (info.config.subjects or []):
        raise StreamMisconfigured(
            f"stream {own} exists but does not capture {subjects} (it captures {info.config.subjects}): "
            f"fix it with `nats stream edit {own}`"
        )


async def ensure_dead_letters(js, replicas: int) -> None:
    """Not fatal: under strict permissions the operator creates it, and dead letters wait in
    the outbox until it exists."""
    config = api.StreamConfig(
        name=DLQ_STREAM,
        description="dead letters of every component",
        subjects=["dlq.>"],
        storage=api.StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW,
        num_replicas=replicas,
    )
    try:
        await _get_or_create(js, config)
    except nats.errors.Error as err:
        log.warning("cannot ensure the DLQ stream (%s); dead letters wait in the outbox until it exists", err)


async def _get_or_create(js, config: api.StreamConfig) -> api.StreamInfo:
    try:
        return await js.stream_info(config.name)
    except nats.js.errors.NotFoundError:
        pass
    try:
        return await js.add_stream(config)
    except nats.js.errors.BadRequestError:
        # Created meanwhile by another instance (or another component, for DLQ).
        return await js.stream_info(config.name)
