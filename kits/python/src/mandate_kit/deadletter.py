"""Dead letters (docs/contract.md, "Dead letters"): what a component cannot process goes to
`dlq.<component>` with the rule it broke and where the original is, as the kit writes them —
the same `Mandate-Dlq-*` headers, the same `Nats-Msg-Id` (one letter per original), and the
same rule when it would not fit: the body is left out (its size and SHA-256 said instead),
the original headers kept as far as they fit, each capped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Mapping, Optional

from .reactions import now_rfc3339
from .store import OutMessage

KIND = "Mandate-Dlq-Kind"
REASON = "Mandate-Dlq-Reason"
SUBJECT = "Mandate-Dlq-Subject"
STREAM = "Mandate-Dlq-Stream"
SEQUENCE = "Mandate-Dlq-Sequence"
CONSUMER = "Mandate-Dlq-Consumer"
DELIVERIES = "Mandate-Dlq-Deliveries"
TIME = "Mandate-Dlq-Time"
BODY = "Mandate-Dlq-Body"
BODY_SIZE = "Mandate-Dlq-Body-Size"
BODY_SHA256 = "Mandate-Dlq-Body-Sha256"
HEADERS_OMITTED = "Mandate-Dlq-Headers-Omitted"
BODY_OMITTED = "omitted"
NATS_MSG_ID = "Nats-Msg-Id"

# The kind of a message its handler refused (the strict reading's rules name the others).
HANDLER_FAILED = "handler-failed"

# In a letter without its body, the longest original header name or value (and reason) kept,
# in bytes: whoever published the original chose them.
HEADER_CAP = 1024
_ELLIPSIS = "…"


@dataclass(frozen=True)
class Origin:
    """Where the dead message came from."""

    subject: str
    stream: str
    sequence: int
    consumer: str
    deliveries: int
    headers: Optional[Mapping[str, str]]
    payload: bytes


def letter(component: str, origin: Origin, kind: str, reason: str, max_payload: int) -> OutMessage:
    """The dead letter of `origin`: its headers and body with the `Mandate-Dlq-*` headers, or —
    when that would exceed `max_payload` — without the body."""
    # JetStream would read `Nats-*` headers as instructions for the DLQ stream itself.
    original = [(n, v) for n, v in (origin.headers or {}).items() if not n.lower().startswith("nats-")]
    reason = one_line(reason)
    subject = f"dlq.{component}"
    about = _about(component, origin, kind, reason)
    if wire_size(original + about, len(origin.payload)) <= max_payload:
        return OutMessage(subject, original + about, origin.payload)
    about = _about(component, origin, kind, capped(reason))
    return OutMessage(subject, _without_body(original, about, origin.payload, max_payload), b"")


def wire_size(headers: list[tuple[str, str]], payload: int) -> int:
    """What NATS counts against max_payload: the body, plus — with headers — `NATS/1.0\\r\\n`,
    a `name: value\\r\\n` line each and a closing `\\r\\n`."""
    if not headers:
        return payload
    lines = sum(len(n.encode()) + len(v.encode()) + 4 for n, v in headers)
    return len("NATS/1.0\r\n") + lines + 2 + payload


def capped(text: str) -> str:
    """`text` cut to HEADER_CAP bytes (at a character boundary), marked with … when cut."""
    raw = text.encode()
    if len(raw) <= HEADER_CAP:
        return text
    return raw[:HEADER_CAP].decode(errors="ignore") + _ELLIPSIS


def one_line(text: str) -> str:
    """Header values cannot hold line breaks."""
    return " | ".join(line for line in text.replace("\r", "\n").split("\n") if line)


def _about(component: str, origin: Origin, kind: str, reason: str) -> list[tuple[str, str]]:
    return [
        (NATS_MSG_ID, f"dlq:{component}:{origin.stream}:{origin.sequence}"),
        (KIND, kind),
        (REASON, reason),
        (SUBJECT, origin.subject),
        (STREAM, origin.stream),
        (SEQUENCE, str(origin.sequence)),
        (CONSUMER, origin.consumer),
        (DELIVERIES, str(origin.deliveries)),
        (TIME, now_rfc3339()),
    ]


def _without_body(
    original: list[tuple[str, str]], about: list[tuple[str, str]], body: bytes, max_payload: int
) -> list[tuple[str, str]]:
    about = about + [
        (BODY, BODY_OMITTED),
        (BODY_SIZE, str(len(body))),
        (BODY_SHA256, hashlib.sha256(body).hexdigest()),
    ]
    # Room for the count of omitted headers, whether or not it is needed.
    size = wire_size(about, 0) + len(HEADERS_OMITTED) + len(str(2**64 - 1)) + 4
    kept: list[tuple[str, str]] = []
    omitted = 0
    for name, value in original:
        value = capped(value)
        line = len(name.encode()) + len(value.encode()) + 4
        if len(name.encode()) <= HEADER_CAP and size + line <= max_payload:
            size += line
            kept.append((name, value))
        else:
            omitted += 1
    headers = kept + about
    if omitted:
        headers.append((HEADERS_OMITTED, str(omitted)))
    return headers
