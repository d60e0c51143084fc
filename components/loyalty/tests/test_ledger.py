"""The points: one per whole currency unit, awarded once per completed order and taken back
once per refunded one, whatever the arrival order and however often a fact is told."""

import itertools
import unittest

from fixtures import StoreCase, completed, refunded

from loyalty import ledger


class Ledger(StoreCase):
    def apply(self, *events):
        emitted = []
        with self.store.transaction() as tx:
            for kind, body in events:
                handler = ledger.on_completed if kind == "completed" else ledger.on_refunded
                emitted += handler(tx, body)
        return emitted

    def balance(self, customer="alice"):
        return ledger.balance(self.store.db, customer)

    def test_points_are_whole_currency_units(self):
        self.assertEqual([ledger.points_for(t) for t in (0, 99, 100, 1_299, -500)], [0, 0, 1, 12, 0])

    def test_a_completed_order_earns_its_points_once(self):
        first = self.apply(("completed", completed(total=1_299)))
        self.assertEqual(
            first,
            [
                ledger.Emit(
                    ledger.AWARDED,
                    {"customer_id": "alice", "order_id": "o-1", "points": 12, "total_minor": 1_299, "currency": "EUR"},
                )
            ],
        )
        # The same fact again, under any id: nothing more.
        self.assertEqual(self.apply(("completed", completed(total=1_299))), [])
        self.assertEqual(
            self.balance().body(), {"customer_id": "alice", "points": 12, "awarded": 12, "reversed": 0, "orders": 1}
        )

    def test_a_refund_takes_the_points_back_once(self):
        self.apply(("completed", completed(total=1_000)), ("completed", completed("o-2", total=500)))
        emitted = self.apply(("refunded", refunded()), ("refunded", refunded(payment="p-again")))
        self.assertEqual(
            emitted,
            [
                ledger.Emit(
                    ledger.REVERSED, {"customer_id": "alice", "order_id": "o-1", "points": 10, "payment_id": "p-1"}
                )
            ],
        )
        self.assertEqual(
            self.balance().body(), {"customer_id": "alice", "points": 5, "awarded": 15, "reversed": 10, "orders": 2}
        )

    def test_any_arrival_order_gives_the_same_balance(self):
        events = [
            ("completed", completed("o-1", total=1_000)),
            ("refunded", refunded("o-1")),
            ("completed", completed("o-1", total=1_000)),
            ("completed", completed("o-2", total=700)),
            ("refunded", refunded("o-3", payment="p-3")),
        ]
        for order in itertools.permutations(events):
            self.store.db.execute("DELETE FROM loyalty_order")
            self.apply(*order)
            with self.subTest(order=order):
                self.assertEqual(self.balance().body()["points"], 7)
                self.assertEqual(self.balance().reversed, 10)

    def test_a_refund_before_the_completion_reverses_it_as_it_arrives(self):
        self.assertEqual(self.apply(("refunded", refunded())), [])
        kinds = [emit.type for emit in self.apply(("completed", completed()))]
        self.assertEqual(kinds, [ledger.AWARDED, ledger.REVERSED])
        self.assertEqual(self.balance().points, 0)

    def test_a_customer_without_orders_has_nothing(self):
        nothing = {"customer_id": "nobody", "points": 0, "awarded": 0, "reversed": 0, "orders": 0}
        self.assertEqual(self.balance("nobody").body(), nothing)


if __name__ == "__main__":
    unittest.main()
