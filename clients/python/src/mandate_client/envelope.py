"""The envelope of the bus contract (docs/contract.md, "Headers"), for a client.

Requests carry ``traceparent`` and ``correlation-id`` so that every event the call causes
joins the caller's trace and correlation. Events carry the CloudEvents attributes
(``ce-*``), ``traceparent``, ``correlation-id`` and ``Nats-Msg-Id``; a received event's
envelope is checked as a kit component checks it (``check_envelope``). Bodies are MessagePack
maps with named fields (strict.py reads them).
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import datetime
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import msgpack

from . import strict

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


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))"
)
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def is_rfc3339(text: str) -> bool:
    """An RFC 3339 date-time (``2026-05-01T12:00:00Z``, ``…T12:00:00.5+02:00``)."""
    match = _RFC3339.fullmatch(text)
    if not match:
        return False
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if match.group(7) and (int(match.group(8)) > 23 or int(match.group(9)) > 59):
        return False
    try:
        # A leap second (60) is a valid RFC 3339 time; datetime stops at 59.
        datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return False
    return second <= 60


def is_traceparent(text: str) -> bool:
    """A W3C trace context: lower-case hex, version not ``ff``, ids not all zero."""
    match = _TRACEPARENT.fullmatch(text)
    if not match:
        return False
    version, trace, span, _ = match.groups()
    return version != "ff" and trace.strip("0") != "" and span.strip("0") != ""


def event_subject(subject: str) -> str:
    """The event's own subject, ``evt.<owner>.<event>.v<N>``: the first four tokens of a keyed
    event's ``evt.<owner>.<event>.v<N>[.<slot>].<key>`` (docs/design.md, "Partitions")."""
    return ".".join(subject.split(".")[:4])


def both_forms(subject: str) -> list[str]:
    """The subjects to subscribe to for ``subject``: a subject of one event's four tokens
    (``evt.orders.placed.v1``, wildcards allowed) also as its keyed form (``….>``), since a
    keyed event is published on ``evt.<owner>.<event>.v<N>.<key>``; others as they are."""
    tokens = subject.split(".")
    if len(tokens) == 4 and tokens[0] == "evt" and tokens[-1] != ">":
        return [subject, f"{subject}.>"]
    return [subject]


def check_envelope(subject: str, headers: Optional[Mapping[str, str]]) -> None:
    """The envelope of an event on ``subject`` (``evt.<owner>.<event>.v<N>``), checked as a kit
    component checks it; the first problem found is raised."""

    def required(name: str) -> str:
        value = header(headers, name)
        if not value:
            raise strict.ContractError(strict.MISSING_HEADER, "", f"missing required header {name}")
        return value

    def invalid(name: str, value: str, expected: str) -> strict.ContractError:
        return strict.ContractError(strict.INVALID_HEADER, "", f"header {name} is {value[:64]!r}, expected {expected}")

    spec = required(CE_SPECVERSION)
    if spec != "1.0":
        raise invalid(CE_SPECVERSION, spec, "1.0")
    required(CE_ID)
    source = required(CE_SOURCE)
    kind = required(CE_TYPE)
    time = required(CE_TIME)
    if not is_rfc3339(time):
        raise invalid(CE_TIME, time, "an RFC 3339 time such as 2026-05-01T12:00:00Z")
    content_type = header(headers, CE_DATACONTENTTYPE)
    if content_type and content_type != CONTENT_TYPE:
        raise invalid(CE_DATACONTENTTYPE, content_type, CONTENT_TYPE)
    traceparent = header(headers, TRACEPARENT)
    if traceparent and not is_traceparent(traceparent):
        raise invalid(TRACEPARENT, traceparent, "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>")
    expected_type = event_subject(subject).removeprefix("evt.")
    if kind != expected_type:
        raise strict.ContractError(strict.UNKNOWN_TYPE, "", f"ce-type {kind[:64]!r} on subject {subject}")
    owner = expected_type.split(".", 1)[0]
    if source != owner:
        raise strict.ContractError(
            strict.INVALID_HEADER, "", f"ce-source {source[:64]!r} on {subject}: only {owner} publishes there"
        )


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
    """One event as received from ``evt.>``: ``subject`` as published (a keyed event's
    ``evt.<owner>.<event>.v<N>.<key>``), ``type`` its first four tokens without ``evt.``."""

    subject: str
    type: str
    id: Optional[str]
    source: Optional[str]
    time: Optional[str]
    correlation_id: Optional[str]
    trace_id: Optional[str]
    body: Any

    @classmethod
    def from_message(
        cls,
        subject: str,
        headers: Optional[Mapping[str, str]],
        payload: bytes,
        contract: Optional["strict.Contract"] = None,
    ) -> "Event":
        """An event as received, read as strictly as a kit component reads it: its envelope
        (``check_envelope``), then its body against its type's schema when ``contract`` has
        it. Raises ``strict.ContractError`` naming the rule broken."""
        check_envelope(subject, headers)
        kind = event_subject(subject).removeprefix("evt.")
        body = strict.decode(payload, contract.event(kind) if contract else None)
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
            body=body,
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
