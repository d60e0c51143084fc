"""A transaction over a batch against a real SQLite file: each event applied once with its
watermark, reactions staged with it under deterministic ids, malformed messages
dead-lettered in the same transaction, a rebuild's replay publishing nothing again."""

import sqlite3
import unittest
from unittest import mock

import msgpack
from fixtures import COMPLETED, REFUNDED, StoreCase, completed, message, refunded, rules

from mandate_kit import apply, deadletter
from mandate_kit.reactions import derived_event_id
from mandate_kit.store import DEAD_LETTERS

from loyalty import ledger
from loyalty.component import component


class Apply(StoreCase):
    def run_batch(self, stream, batch, **changes):
        return apply.run(self.store, stream, batch, 0, rules(**changes))

    def outbox(self):
        return [entry.message for entry in self.store.outbox_head(100)]

    def balance(self, customer="alice"):
        return ledger.balance(self.store.db, customer)

    def test_a_batch_commits_state_watermark_and_reactions_together(self):
        batch = [message(1, COMPLETED, completed("o-1"), id="c-1"), message(2, COMPLETED, completed("o-2"), id="c-2")]
        self.assertEqual(self.run_batch("EVT_ORDERS", batch), (1, 2, False))
        self.assertEqual(self.store.watermark("EVT_ORDERS"), 2)
        self.assertEqual(self.balance().points, 24)
        staged = self.outbox()
        self.assertEqual([m.subject for m in staged], ["evt.loyalty.points-awarded.v1"] * 2)
        headers = dict(staged[0].headers)
        self.assertEqual(headers["ce-id"], derived_event_id("loyalty", "c-1", 0))
        self.assertEqual(headers["Nats-Msg-Id"], headers["ce-id"])
        self.assertEqual((headers["ce-source"], headers["ce-type"]), ("loyalty", "loyalty.points-awarded.v1"))
        self.assertEqual(headers["correlation-id"], "corr-1")
        self.assertTrue(headers["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-"))
        self.assertEqual(msgpack.unpackb(staged[0].payload)["points"], 12)

    def test_a_redelivery_at_or_below_the_watermark_changes_nothing(self):
        batch = [message(1, COMPLETED, completed("o-1"))]
        self.run_batch("EVT_ORDERS", batch)
        self.reopen()  # a restart: the watermark is the position of record
        self.assertEqual(self.run_batch("EVT_ORDERS", batch), (0, 1, False))
        self.assertEqual((self.balance().points, len(self.outbox())), (12, 1))

    def test_a_crash_before_the_commit_applies_nothing(self):
        batch = [message(1, COMPLETED, completed("o-1")), message(2, COMPLETED, completed("o-2"))]
        # The store failing mid-batch (a full disk): the whole transaction goes, nothing is acked.
        with mock.patch.object(ledger, "points_for", side_effect=[12, sqlite3.OperationalError("disk I/O error")]):
            with self.assertRaises(sqlite3.OperationalError):
                self.run_batch("EVT_ORDERS", batch)
        self.assertEqual((self.store.watermark("EVT_ORDERS"), self.balance().points, len(self.outbox())), (0, 0, 0))

    def test_malformed_messages_are_dead_lettered_with_the_rule_they_broke(self):
        body = completed()
        cases = {
            "missing-header": message(1, COMPLETED, body, ce_time=None),
            "invalid-header": message(2, COMPLETED, body, ce_source="payments"),
            "unknown-type": message(3, COMPLETED, body, ce_type="orders.completed.v9"),
            "not-a-map": message(4, COMPLETED, None, payload=msgpack.packb(list(body.values()))),
            "binary-string": message(5, COMPLETED, None, payload=msgpack.packb({b"order_id": "o", **body})),
            "trailing-bytes": message(6, COMPLETED, None, payload=msgpack.packb(body) + b"\x00"),
            "undecodable": message(7, COMPLETED, None, payload=msgpack.packb(dict(body, total_minor="12"))),
        }
        batch = list(cases.values()) + [message(8, COMPLETED, completed("o-ok"))]
        self.run_batch("EVT_ORDERS", batch)
        letters = [m for m in self.outbox() if m.subject == "dlq.loyalty"]
        self.assertEqual([dict(m.headers)[deadletter.KIND] for m in letters], list(cases))
        first = dict(letters[0].headers)
        self.assertEqual(first["Nats-Msg-Id"], "dlq:loyalty:EVT_ORDERS:1")
        self.assertEqual((first[deadletter.STREAM], first[deadletter.SEQUENCE]), ("EVT_ORDERS", "1"))
        self.assertEqual((first[deadletter.SUBJECT], first[deadletter.CONSUMER]), (COMPLETED, "loyalty"))
        self.assertEqual(letters[0].payload, cases["missing-header"].data)
        self.assertNotIn("ce-time", first)
        self.assertEqual(self.store.counter(DEAD_LETTERS), 7)
        self.assertEqual((self.store.watermark("EVT_ORDERS"), self.balance().points), (8, 12))

    def test_a_reaction_over_max_payload_dead_letters_its_cause_at_once(self):
        huge = completed(customer="c" * 2_000)
        self.run_batch("EVT_ORDERS", [message(1, COMPLETED, huge)], max_payload=1_500)
        [letter] = self.outbox()
        self.assertEqual(dict(letter.headers)[deadletter.KIND], "handler-failed")
        self.assertIn("max payload", dict(letter.headers)[deadletter.REASON])
        self.assertEqual(self.balance("c" * 2_000).points, 0, "the step is undone")

    def test_a_failing_handler_is_retried_then_dead_lettered_and_the_batch_goes_on(self):
        calls = []

        def failing(tx, body):
            calls.append(body["order_id"])
            raise KeyError("a bug")

        handlers = dict(component.handlers, **{COMPLETED: failing})
        self.run_batch("EVT_ORDERS", [message(1, COMPLETED, completed("o-1"))], handlers=handlers)
        self.run_batch("EVT_ORDERS", [message(2, COMPLETED, completed("o-2"))])
        self.assertEqual(calls, ["o-1"] * 3)
        [letter, awarded] = self.outbox()
        self.assertEqual(dict(letter.headers)[deadletter.KIND], "handler-failed")
        self.assertIn("3 time(s)", dict(letter.headers)[deadletter.REASON])
        self.assertEqual(awarded.subject, "evt.loyalty.points-awarded.v1")

    def test_a_rebuild_re_applies_up_to_the_mark_without_publishing_and_holds_past_it(self):
        first = [message(1, COMPLETED, completed("o-1")), message(2, COMPLETED, None, payload=b"\xc1")]
        self.run_batch("EVT_ORDERS", first)
        self.store.delete_outbox([e.id for e in self.store.outbox_head(100)])  # published
        with self.store.transaction() as tx:
            mark = tx.mark_replay("EVT_ORDERS")
            self.store.wipe(tx)
        batch = first + [message(3, COMPLETED, completed("o-3"))]
        self.assertEqual(self.run_batch("EVT_ORDERS", batch, replay_until=mark, rebuilding=True), (1, 2, True))
        self.assertEqual((self.balance().points, self.outbox()), (12, []), "nothing published again")
        self.assertEqual(self.store.counter(DEAD_LETTERS), 1, "nothing dead-lettered again")
        # The rebuild is over: the new event is handled and published.
        done = apply.run(self.store, "EVT_ORDERS", batch, 2, rules(replay_until=mark))
        self.assertEqual(done, (2, 3, False))
        self.assertEqual([m.subject for m in self.outbox()], ["evt.loyalty.points-awarded.v1"])

    def test_a_refund_reverses_on_its_own_stream(self):
        self.run_batch("EVT_ORDERS", [message(1, COMPLETED, completed(), id="c-1")])
        self.run_batch("EVT_PAYMENTS", [message(1, REFUNDED, refunded(), id="r-1")])
        reversal = self.outbox()[-1]
        self.assertEqual(reversal.subject, "evt.loyalty.points-reversed.v1")
        self.assertEqual(dict(reversal.headers)["ce-id"], derived_event_id("loyalty", "r-1", 0))
        self.assertEqual((self.store.watermark("EVT_ORDERS"), self.store.watermark("EVT_PAYMENTS")), (1, 1))
        self.assertEqual(self.balance().points, 0)


if __name__ == "__main__":
    unittest.main()
