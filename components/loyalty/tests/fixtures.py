"""What the tests share: a store in a temporary folder (a real SQLite file), right events as
their owners publish them, and the contract's schemas from the repository."""

from __future__ import annotations

import logging
import tempfile
import unittest
import uuid
from pathlib import Path
from typing import Any, Optional

from mandate_client import envelope
from mandate_client.strict import Contract

from mandate_kit import reading
from mandate_kit.apply import Delivered, Rules
from mandate_kit.reactions import now_rfc3339
from mandate_kit.store import Store

from loyalty import ledger
from loyalty.component import component

# What the code under test logs (dead letters, failures) is asserted, not shown.
logging.getLogger("mandate_kit").setLevel(logging.CRITICAL)

CONTRACT = Contract.find()
SCHEMAS = reading.schemas(CONTRACT, component.handlers)
COMPLETED = "evt.orders.completed.v1"
REFUNDED = "evt.payments.refunded.v1"


class StoreCase(unittest.TestCase):
    """A test with a fresh store in a temporary folder."""

    def setUp(self) -> None:
        self._dir = tempfile.TemporaryDirectory()
        self.dir = Path(self._dir.name) / "loyalty"
        self.store = self.open()

    def tearDown(self) -> None:
        self.store.close()
        self._dir.cleanup()

    def open(self) -> Store:
        return Store(self.dir, ledger.SCHEMA, ledger.STATE_TABLES)

    def reopen(self) -> None:
        self.store.close()
        self.store = self.open()


def headers(subject: str, id: Optional[str] = None, **changes: Optional[str]) -> dict[str, str]:
    """The envelope an owner puts on an event; `changes` replace (None removes) headers,
    named with `_` for `-`."""
    id = id or str(uuid.uuid4())
    kind = subject.removeprefix("evt.")
    found = {
        "ce-specversion": "1.0",
        "ce-id": id,
        "ce-source": kind.split(".")[0],
        "ce-type": kind,
        "ce-time": now_rfc3339(),
        "ce-datacontenttype": "application/msgpack",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "correlation-id": "corr-1",
        "Nats-Msg-Id": id,
    }
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            found.pop(name, None)
        else:
            found[name] = value
    return found


def completed(order: str = "o-1", customer: str = "alice", total: int = 1_250) -> dict[str, Any]:
    return {"order_id": order, "customer_id": customer, "total_minor": total, "currency": "EUR"}


def refunded(order: str = "o-1", customer: str = "alice", payment: str = "p-1") -> dict[str, Any]:
    return {"payment_id": payment, "order_id": order, "customer_id": customer, "amount_minor": 1_250, "currency": "EUR"}


def message(
    sequence: int,
    subject: str,
    body: Any,
    id: Optional[str] = None,
    payload: Optional[bytes] = None,
    **changes: Optional[str],
) -> Delivered:
    return Delivered(
        subject=subject,
        headers=headers(subject, id, **changes),
        data=payload if payload is not None else envelope.encode(body),
        sequence=sequence,
        deliveries=1,
    )


def rules(**changes: Any) -> Rules:
    values: dict[str, Any] = dict(
        component="loyalty",
        publishes=frozenset(component.publishes),
        handlers=component.handlers,
        schemas=SCHEMAS, max_attempts=3, max_payload=1024 * 1024, replay_until=0, rebuilding=False
    )
    values.update(changes)
    return Rules(**values)
