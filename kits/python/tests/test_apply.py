"""The kit's transaction over a batch, on a small domain of its own, against a real SQLite
file: a handler's reactions staged with the watermark under deterministic ids, and what it
emits but may never publish — an undeclared event type — dead-letters its cause at once,
without retries, while the rest of the batch commits."""

import uuid

from fixtures import StoreCase
from mandate_client import envelope
from mandate_client.strict import Contract
from mandate_kit import Emit, apply, deadletter, reading
from mandate_kit.apply import Delivered, Rules
from mandate_kit.reactions import derived_event_id, now_rfc3339

PLACED = "evt.orders.placed.v1"
SCHEMAS = reading.schemas(Contract.find(), [PLACED])


def placed(sequence: int, customer: str) -> Delivered:
    id = str(uuid.uuid4())
    headers = {
        "ce-specversion": "1.0",
        "ce-id": id,
        "ce-source": "orders",
        "ce-type": "orders.placed.v1",
        "ce-time": now_rfc3339(),
        "ce-datacontenttype": "application/msgpack",
    }
    body = {"order_id": f"o-{sequence}", "customer_id": customer, "lines": [], "total_minor": 0, "currency": "EUR"}
    return Delivered(PLACED, headers, envelope.encode(body), sequence, 1)


class Apply(StoreCase):
    def run_batch(self, handler, batch):
        rules = Rules(
            component="tally",
            publishes=frozenset({"tally.counted.v1"}),
            handlers={PLACED: handler},
            schemas=SCHEMAS,
            max_attempts=3,
            max_payload=1024 * 1024,
            replay_until=0,
            rebuilding=False,
        )
        return apply.run(self.store, "EVT_ORDERS", batch, 0, rules)

    def test_reactions_are_staged_with_the_watermark(self):
        def count(tx, order):
            tx.execute("INSERT INTO tally (key, count) VALUES (?, 1)", (order["customer_id"],))
            return [Emit("tally.counted.v1", {"key": order["customer_id"]})]

        first = placed(1, "ada")
        self.assertEqual(self.run_batch(count, [first]), (0, 1, False))
        [out] = [entry.message for entry in self.store.outbox_head(10)]
        self.assertEqual(out.subject, "evt.tally.counted.v1")
        self.assertEqual(dict(out.headers)["ce-id"], derived_event_id("tally", first.headers["ce-id"], 0))
        self.assertEqual(self.store.watermark("EVT_ORDERS"), 1)

    def test_an_undeclared_event_dead_letters_its_cause_at_once(self):
        calls = []

        def rogue(tx, order):
            calls.append(order["customer_id"])
            tx.execute("INSERT INTO tally (key, count) VALUES (?, 1)", (order["customer_id"],))
            if order["customer_id"] == "eve":
                return [Emit("orders.placed.v1", {})]
            return None

        self.run_batch(rogue, [placed(1, "eve"), placed(2, "ada")])
        self.assertEqual(calls, ["eve", "ada"], "no retry: it would emit the same")
        [letter] = [entry.message for entry in self.store.outbox_head(10)]
        headers = dict(letter.headers)
        self.assertEqual((letter.subject, headers[deadletter.KIND]), ("dlq.tally", "handler-failed"))
        self.assertIn("does not declare it publishes", headers[deadletter.REASON])
        rows = self.store.db.execute("SELECT key FROM tally ORDER BY key").fetchall()
        self.assertEqual(rows, [("ada",)], "eve's step is undone, ada's committed")
        self.assertEqual(self.store.watermark("EVT_ORDERS"), 2)
