"""loyalty as the kit sees it: the one place that says what it keeps, what it handles, what it
publishes and what it serves. The plumbing — store, consume loop, outbox relay, dead
letters, services, admin protocol — is the kit's (kits/python, `mandate_kit`)."""

from __future__ import annotations

from typing import Any, Mapping

from mandate_kit import Component

from . import ledger

component = Component(
    "loyalty",
    version="0.1.0",
    description="loyalty points for completed orders, taken back on refund (a component in Python)",
    tables=ledger.SCHEMA,
    state_tables=ledger.STATE_TABLES,
    publishes=[ledger.AWARDED, ledger.REVERSED],
)

component.on("orders.completed.v1")(ledger.on_completed)
component.on("payments.refunded.v1")(ledger.on_refunded)

BALANCE = "loyalty.balance.v1"


@component.serves(BALANCE)
def balance(db: Any, request: Mapping[str, Any]) -> dict[str, Any]:
    """`loyalty.balance.v1`: a customer's points (the contract's request and reply)."""
    return ledger.balance(db, request["customer_id"]).body()


def main() -> None:
    component.main()
