"""The points: what a completed order earns and what a refund takes back (the contract's
`schemas::loyalty`, `points_for`), kept per order so that each fact applies once.

One row per order. `orders.completed` awards the order's points once; `payments.refunded`
takes them back once. The two come from different streams, so either may arrive first: a
refund that comes before the completion is noted, and the completion then awards and takes
back at once. Whatever the arrival order, and whatever `ce-id` a repeat carries, an order ends
with the same row — the business key is the order, not the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from mandate_kit import Emit, Tx

AWARDED = "loyalty.points-awarded.v1"
REVERSED = "loyalty.points-reversed.v1"
# One point per whole currency unit (schemas::loyalty::MINOR_UNITS_PER_POINT).
MINOR_UNITS_PER_POINT = 100

SCHEMA = """
CREATE TABLE IF NOT EXISTS loyalty_order (
    order_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    -- NULL until the order completed; then the points it earned.
    awarded INTEGER,
    -- NULL until its payment was refunded; then the refund's payment id.
    refunded_by TEXT,
    -- NULL until the points were taken back; then how many.
    reversed INTEGER
);
CREATE INDEX IF NOT EXISTS loyalty_order_by_customer ON loyalty_order (customer_id);
"""
STATE_TABLES = ("loyalty_order",)


def points_for(total_minor: int) -> int:
    """Whole currency units of the total, rounded down; none below one unit or for a
    negative total."""
    return total_minor // MINOR_UNITS_PER_POINT if total_minor > 0 else 0


@dataclass(frozen=True)
class Balance:
    customer_id: str
    awarded: int
    reversed: int
    orders: int

    @property
    def points(self) -> int:
        return self.awarded - self.reversed

    def body(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "points": self.points,
            "awarded": self.awarded,
            "reversed": self.reversed,
            "orders": self.orders,
        }


def on_completed(tx: Tx, body: Mapping[str, Any]) -> list[Emit]:
    """`orders.completed.v1`: award the order's points, once."""
    order = _order(tx, body["order_id"])
    if order is not None and order["awarded"] is not None:
        return []
    points = points_for(body["total_minor"])
    customer = order["customer_id"] if order else body["customer_id"]
    tx.execute(
        "INSERT INTO loyalty_order (order_id, customer_id, awarded) VALUES (?, ?, ?) "
        "ON CONFLICT (order_id) DO UPDATE SET awarded = excluded.awarded",
        (body["order_id"], customer, points),
    )
    emits = [
        Emit(
            AWARDED,
            {
                "customer_id": customer,
                "order_id": body["order_id"],
                "points": points,
                "total_minor": body["total_minor"],
                "currency": body["currency"],
            },
        )
    ]
    if order is not None and order["refunded_by"] is not None:
        emits.append(_reverse(tx, body["order_id"], customer, points, order["refunded_by"]))
    return emits


def on_refunded(tx: Tx, body: Mapping[str, Any]) -> list[Emit]:
    """`payments.refunded.v1`: take back what the order earned, once — now if it has
    completed, when it completes otherwise."""
    order = _order(tx, body["order_id"])
    if order is not None and order["refunded_by"] is not None:
        return []
    if order is None:
        tx.execute(
            "INSERT INTO loyalty_order (order_id, customer_id, refunded_by) VALUES (?, ?, ?)",
            (body["order_id"], body["customer_id"], body["payment_id"]),
        )
        return []
    tx.execute(
        "UPDATE loyalty_order SET refunded_by = ? WHERE order_id = ?",
        (body["payment_id"], body["order_id"]),
    )
    if order["awarded"] is None:
        return []
    return [_reverse(tx, body["order_id"], order["customer_id"], order["awarded"], body["payment_id"])]


def balance(tx_or_db: Any, customer_id: str) -> Balance:
    awarded, reversed, orders = tx_or_db.execute(
        "SELECT COALESCE(SUM(awarded), 0), COALESCE(SUM(reversed), 0), COUNT(awarded) "
        "FROM loyalty_order WHERE customer_id = ?",
        (customer_id,),
    ).fetchone()
    return Balance(customer_id, awarded, reversed, orders)


def _reverse(tx: Tx, order_id: str, customer_id: str, points: int, payment_id: str) -> Emit:
    tx.execute("UPDATE loyalty_order SET reversed = ? WHERE order_id = ?", (points, order_id))
    return Emit(
        REVERSED,
        {"customer_id": customer_id, "order_id": order_id, "points": points, "payment_id": payment_id},
    )


def _order(tx: Tx, order_id: str) -> dict[str, Any] | None:
    row = tx.execute(
        "SELECT customer_id, awarded, refunded_by, reversed FROM loyalty_order WHERE order_id = ?",
        (order_id,),
    ).fetchone()
    if row is None:
        return None
    return dict(zip(("customer_id", "awarded", "refunded_by", "reversed"), row))
