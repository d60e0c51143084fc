"""One transaction over a batch (docs/contract.md, "A component in another language", step 4):
each message at or below the watermark skipped; each new one read strictly and handled in its
own step — its state change and its reactions staged in the outbox, or its dead letter — and
the watermark moved to the last one, all committed together. Nothing here waits on the bus:
the consume loop (`consume.py`) acknowledges after this returns.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Optional

from mandate_client import envelope
from mandate_client.strict import ContractError

from . import deadletter, reading
from .deadletter import Origin
from .reactions import Cause, reaction
from .shared import log
from .store import DEAD_LETTERS, Store, Tx

if TYPE_CHECKING:
    from .component import Handler
    from .metrics import ConsumerMetrics


@dataclass(frozen=True)
class Delivered:
    """A message as the pull consumer delivered it."""

    subject: str
    headers: Optional[Mapping[str, str]]
    data: bytes
    sequence: int
    deliveries: int


@dataclass(frozen=True)
class Rules:
    """What a transaction needs to know besides the messages."""

    # The component: its name (the consumer's, the reactions' source) and what it publishes.
    component: str
    publishes: frozenset[str]
    # Subject → its handler.
    handlers: Mapping[str, "Handler"]
    # Subject → the JSON Schema of its events.
    schemas: Mapping[str, Mapping[str, Any]]
    # How often a failing handler runs before its message is dead-lettered.
    max_attempts: int
    # The server's limit (payload and headers): nothing staged may exceed it.
    max_payload: int
    # Up to here (a rebuild's replay mark) reactions and dead letters went out before.
    replay_until: int
    # During a rebuild, messages past the replay mark wait.
    rebuilding: bool
    # Where handler and commit times and dead letters are counted (None: nowhere).
    metrics: Optional["ConsumerMetrics"] = None


class Unpublishable(Exception):
    """An event a handler emits can never be published — it would exceed the server's max
    payload, or it is not one of the types the component declares it publishes (its bus user
    may not) — so its cause is dead-lettered at once."""


def run(store: Store, stream: str, batch: list[Delivered], next: int, rules: Rules) -> tuple[Optional[int], int, bool]:
    """Applies `batch` from `next` in one transaction, up to its end or — in a rebuild — the
    replay mark. Returns the last message applied (the one to acknowledge), where to go on,
    and whether it stopped at the mark."""
    last, hold = None, False
    committed = rules.metrics.commit_seconds.observe if rules.metrics is not None else None
    with store.transaction(committed) as tx:
        watermark = before = tx.watermark(stream)
        while next < len(batch):
            message = batch[next]
            if rules.rebuilding and message.sequence > rules.replay_until:
                hold = True
                break
            if message.sequence > watermark:
                _apply(tx, stream, message, rules)
                watermark = message.sequence
            last, next = next, next + 1
        # Once per transaction: the position of the last message applied.
        if watermark > before:
            tx.set_watermark(stream, watermark)
    return last, next, hold


def _apply(tx: Tx, stream: str, message: Delivered, rules: Rules) -> None:
    """One message: its handler's effects and reactions in a step of their own, or its dead
    letter."""
    origin = Origin(
        subject=message.subject,
        stream=stream,
        sequence=message.sequence,
        consumer=rules.component,
        deliveries=message.deliveries,
        headers=message.headers,
        payload=message.data,
    )
    try:
        body = reading.read(message.subject, message.headers, message.data, rules.schemas)
    except ContractError as err:
        _dead_letter(tx, origin, err.rule, str(err), rules)
        return
    replaying = message.sequence <= rules.replay_until
    cause = Cause.of(message.headers)
    # A keyed event's subject carries its slot and key after the type (evt.<owner>.<event>.v<N>.<slot>.<key>).
    handler = rules.handlers[envelope.event_subject(message.subject)]
    failure = ""
    for attempt in range(1, rules.max_attempts + 1):
        try:
            with tx.step():
                started = time.perf_counter()
                try:
                    emitted = handler(tx, body)
                finally:
                    if rules.metrics is not None:
                        rules.metrics.handler_seconds.observe(time.perf_counter() - started)
                for out in _reactions(cause, emitted, rules):
                    if not replaying:
                        tx.stage(out)
            return
        except Unpublishable as err:
            _dead_letter(tx, origin, deadletter.HANDLER_FAILED, str(err), rules)
            return
        except sqlite3.Error:
            raise  # the store itself: nothing is committed or acknowledged; the process stops
        except Exception as err:  # a handler's bug: its step undone, retried, then set aside
            failure = f"{type(err).__name__}: {err}"
            log.warning("handler failed on %s #%d (attempt %d): %s", stream, message.sequence, attempt, failure)
    _dead_letter(
        tx,
        origin,
        deadletter.HANDLER_FAILED,
        f"refused by its handler {rules.max_attempts} time(s): {failure}",
        rules,
    )


def _reactions(cause: Cause, emits: Any, rules: Rules) -> list:
    """The outbox messages of what a handler returned (None: nothing)."""
    found = []
    for index, emit in enumerate(emits or []):
        if emit.type not in rules.publishes:
            raise Unpublishable(
                f"it emits {emit.type}, which {rules.component} does not declare it publishes "
                f"(Component(publishes=...): {', '.join(sorted(rules.publishes)) or 'nothing'})"
            )
        out = reaction(rules.component, cause, index, emit)
        size = deadletter.wire_size(out.headers, len(out.payload))
        if size > rules.max_payload:
            raise Unpublishable(
                f"its {out.subject} would be {size} bytes, over the server's max payload of {rules.max_payload}"
            )
        found.append(out)
    return found


def _dead_letter(tx: Tx, origin: Origin, kind: str, reason: str, rules: Rules) -> None:
    """Stages a dead letter in the transaction that moves past the message — unless a rebuild
    is re-applying what was dead-lettered the first time."""
    if origin.sequence <= rules.replay_until:
        return
    log.warning("dead-lettering %s #%d from %s: %s", origin.subject, origin.sequence, origin.stream, reason)
    tx.stage(deadletter.letter(rules.component, origin, kind, reason, rules.max_payload))
    tx.count(DEAD_LETTERS)
    # Counted before the commit: a commit that fails stops the process, and its figures with it.
    if rules.metrics is not None:
        rules.metrics.dead_lettered(kind)
