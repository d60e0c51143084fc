"""The envelope of the bus contract (docs/contract.md, "Headers"), for a client.

Requests carry ``traceparent`` and ``correlation-id`` so that every event the call causes
joins the caller's trace and correlation. Events carry the CloudEvents attributes
(``ce-*``), ``traceparent``, ``correlation-id`` and ``Nats-Msg-Id``. Bodies are MessagePack
maps with named fields.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import msgpack

# Header names, exactly as they travel (NATS header names are case-sensitive).
CE_SPECVERSION = "ce-specversion"
CE_ID = "ce-id"
CE_SOURCE = "ce-source"
CE_TYPE = "ce-type"
CE_TIME = "ce-time"
CE_DATACONTENTTYPE = "ce-datacontenttype"
TRACEPARENT = "traceparent"
CORRELATION_ID = "correlation-id"
NATS_MSG_ID = "Nats-Msg-Id"

# The typed error of a service reply (NATS services API, plus the kit's retry hint).
SERVICE_ERROR = "Nats-Service-Error"
SERVICE_ERROR_CODE = "Nats-Service-Error-Code"
RETRYABLE = "Mandate-Retryable"

CONTENT_TYPE = "application/msgpack"


def encode(body: Mapping[str, Any]) -> bytes:
    """A body as the contract wants it: a MessagePack map with named fields."""
    return msgpack.packb(dict(body), use_bin_type=True)


def decode(payload: bytes) -> Any:
    """A MessagePack body. Unknown fields are kept (and ignored by the caller)."""
    return msgpack.unpackb(payload, raw=False, strict_map_key=False)


def header(headers: Optional[Mapping[str, str]], name: str) -> Optional[str]:
    """A header's value, or None. Exact name first; any case as a fallback."""
    if not headers:
        return None
    if name in headers:
        return headers[name]
    lower = name.lower()
    for key, value in headers.items():
        if key.lower() == lower:
            return value
    return None


@dataclass
class Trace:
    """A W3C trace (``traceparent``) and a correlation id for one piece of client work.

    Each request gets a new span id in the same trace; the correlation id stays the same, so
    every event caused by any of the requests carries it.
    """

    trace_id: str = field(default_factory=lambda: secrets.token_hex(16))
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{secrets.token_hex(8)}-01"

    def request_headers(self) -> dict[str, str]:
        return {TRACEPARENT: self.traceparent(), CORRELATION_ID: self.correlation_id}


@dataclass
class Event:
    """One event as received from ``evt.>``."""

    subject: str
    type: str
    id: Optional[str]
    source: Optional[str]
    time: Optional[str]
    correlation_id: Optional[str]
    trace_id: Optional[str]
    body: Any

    @classmethod
    def from_message(cls, subject: str, headers: Optional[Mapping[str, str]], payload: bytes) -> "Event":
        kind = header(headers, CE_TYPE) or subject.removeprefix("evt.")
        traceparent = header(headers, TRACEPARENT) or ""
        parts = traceparent.split("-")
        return cls(
            subject=subject,
            type=kind,
            id=header(headers, CE_ID),
            source=header(headers, CE_SOURCE),
            time=header(headers, CE_TIME),
            correlation_id=header(headers, CORRELATION_ID),
            trace_id=parts[1] if len(parts) == 4 else None,
            body=decode(payload),
        )

    @property
    def name(self) -> str:
        """``<owner>.<event>`` without the major version: what it means, in every version."""
        owner_event, _, version = self.type.rpartition(".")
        return owner_event if version.startswith("v") else self.type

    @property
    def order_id(self) -> Optional[str]:
        if isinstance(self.body, dict):
            value = self.body.get("order_id")
            return value if isinstance(value, str) else None
        return None
