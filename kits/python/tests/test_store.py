"""The store against a real SQLite file: durable settings, one process at a time, the
outbox in commit order, steps undone alone, and what a rebuild wipes and keeps."""

import unittest

from fixtures import StoreCase

from mandate_kit.store import DEAD_LETTERS, Discard, OutMessage, StoreLocked


def out(n: int) -> OutMessage:
    return OutMessage("evt.loyalty.x.v1", [("ce-id", f"id-{n}"), ("Nats-Msg-Id", f"id-{n}")], bytes([n]))


class Store(StoreCase):
    def test_it_is_durable_wal_with_full_sync(self):
        self.assertEqual(self.store.db.execute("PRAGMA journal_mode").fetchone()[0], "wal")
        # 2 = FULL: every commit is fsynced before it returns.
        self.assertEqual(self.store.db.execute("PRAGMA synchronous").fetchone()[0], 2)

    def test_a_second_process_cannot_open_it(self):
        with self.assertRaises(StoreLocked) as refused:
            self.open()
        self.assertIn("another process", str(refused.exception))

    def test_the_outbox_keeps_commit_order_and_survives_a_reopen(self):
        with self.store.transaction() as tx:
            for n in range(3):
                tx.stage(out(n))
        with self.store.transaction() as tx:
            tx.stage(out(3))
        self.reopen()
        head = self.store.outbox_head(10)
        self.assertEqual([e.message for e in head], [out(n) for n in range(4)])
        self.store.delete_outbox([head[0].id, head[1].id])
        with self.store.transaction() as tx:
            tx.stage(out(4))
        self.assertEqual([e.message.payload for e in self.store.outbox_head(10)], [b"\x02", b"\x03", b"\x04"])
        self.assertEqual(self.store.outbox_depth(), 3)

    def test_a_failed_transaction_leaves_nothing(self):
        with self.assertRaises(RuntimeError):
            with self.store.transaction() as tx:
                tx.stage(out(1))
                tx.set_watermark("EVT_ORDERS", 7)
                raise RuntimeError("crash before the commit")
        self.assertEqual((self.store.outbox_depth(), self.store.watermark("EVT_ORDERS")), (0, 0))

    def test_a_step_is_undone_alone(self):
        with self.store.transaction() as tx:
            with tx.step():
                tx.stage(out(1))
            with tx.step():
                tx.stage(out(2))
                raise Discard()
            with self.assertRaises(ValueError):
                with tx.step():
                    tx.stage(out(3))
                    raise ValueError("a handler's bug")
            tx.set_watermark("EVT_ORDERS", 3)
        self.assertEqual([e.message for e in self.store.outbox_head(10)], [out(1)])
        self.assertEqual(self.store.watermark("EVT_ORDERS"), 3)

    def test_a_rebuild_wipes_state_and_watermarks_and_keeps_marks_outbox_and_counters(self):
        with self.store.transaction() as tx:
            tx.execute("INSERT INTO tally (key, count) VALUES ('k', 3)")
            tx.set_watermark("EVT_ORDERS", 9)
            tx.set_watermark("EVT_PAYMENTS", 4)
            tx.stage(out(1))
            tx.count(DEAD_LETTERS, 2)
        with self.store.transaction() as tx:
            self.assertEqual(tx.mark_replay("EVT_ORDERS"), 9)
            wiped = self.store.wipe(tx)
        self.assertEqual(wiped, 3)
        self.assertEqual(self.store.db.execute("SELECT COUNT(*) FROM tally").fetchone()[0], 0)
        self.assertEqual((self.store.watermark("EVT_ORDERS"), self.store.replay_mark("EVT_ORDERS")), (0, 9))
        self.assertEqual((self.store.outbox_depth(), self.store.counter(DEAD_LETTERS)), (1, 2))
        # A mark never goes back: a second rebuild before the first re-applied everything.
        with self.store.transaction() as tx:
            tx.set_watermark("EVT_ORDERS", 5)
            self.assertEqual(tx.mark_replay("EVT_ORDERS"), 9)

    def test_set_aside_entries_leave_the_outbox_and_come_back_at_its_tail(self):
        with self.store.transaction() as tx:
            tx.stage(out(1))
            tx.stage(out(2))
        first = self.store.outbox_head(1)[0]
        self.store.set_aside(first, "too large", "2026-05-01T12:00:00Z")
        self.assertEqual([e.message for e in self.store.outbox_head(10)], [out(2)])
        [(entry, reason, at)] = self.store.set_aside_entries()
        self.assertEqual((entry.message, reason), (out(1), "too large"))
        self.assertEqual(self.store.retry_set_aside(), 1)
        self.assertEqual([e.message for e in self.store.outbox_head(10)], [out(2), out(1)])
        self.assertEqual(self.store.set_aside_entries(), [])


if __name__ == "__main__":
    unittest.main()
