"""The envelope of what a component publishes (docs/contract.md, "Headers"): the CloudEvents
attributes, `traceparent`, `correlation-id`, and `Nats-Msg-Id` = `ce-id`.

Every event a component publishes is a reaction to one it consumed, so its id is derived, not
drawn: the same UUIDv5 of `"<component>/<cause ce-id>/<emit index>"` the kit uses (namespace
`6e4c3f0a-2b1d-5e8f-9a7c-1d2e3f4a5b6c`). Re-running a handler — after a crash before the
ack, or in a rebuild — therefore emits the same id, and JetStream drops the repeat.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Optional

from mandate_client import envelope

from .store import OutMessage

NAMESPACE = uuid.UUID("6e4c3f0a-2b1d-5e8f-9a7c-1d2e3f4a5b6c")


@dataclass(frozen=True)
class Emit:
    """An event a handler decided to publish: its type (`<component>.<event>.v<N>`, one the
    component declares it publishes) and its body."""

    type: str
    body: dict[str, Any]


def derived_event_id(component: str, cause_id: str, index: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{component}/{cause_id}/{index}"))


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Cause:
    """What a reaction inherits from the event it answers."""

    id: str
    trace_id: str
    flags: str
    correlation_id: str

    @classmethod
    def of(cls, headers: Optional[Mapping[str, str]]) -> "Cause":
        """The cause in an envelope already checked (`envelope.check_envelope`): without a
        `traceparent` a new trace starts; without a `correlation-id` the event is the root."""
        id = envelope.header(headers, envelope.CE_ID) or ""
        traceparent = envelope.header(headers, envelope.TRACEPARENT)
        if traceparent:
            _, trace_id, _, flags = traceparent.split("-")
        else:
            trace_id, flags = secrets.token_hex(16), "01"
        return cls(id, trace_id, flags, envelope.header(headers, envelope.CORRELATION_ID) or id)


def reaction(component: str, cause: Cause, index: int, emit: Emit) -> OutMessage:
    """The `index`-th event `component` emitted in reaction to `cause`, ready for the outbox."""
    id = derived_event_id(component, cause.id, index)
    headers = [
        (envelope.CE_SPECVERSION, "1.0"),
        (envelope.CE_ID, id),
        (envelope.CE_SOURCE, component),
        (envelope.CE_TYPE, emit.type),
        (envelope.CE_TIME, now_rfc3339()),
        (envelope.CE_DATACONTENTTYPE, envelope.CONTENT_TYPE),
        # The cause's trace, one hop further.
        (envelope.TRACEPARENT, f"00-{cause.trace_id}-{secrets.token_hex(8)}-{cause.flags}"),
        (envelope.CORRELATION_ID, cause.correlation_id),
        (envelope.NATS_MSG_ID, id),
    ]
    return OutMessage(f"evt.{emit.type}", headers, envelope.encode(emit.body))
