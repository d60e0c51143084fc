"""A component on the kit against a real nats-server (`mandate_kit.testing`): an event
published on its owner's stream is applied once and its reaction published with the
deterministic id; the operation answers from the store, refuses a malformed request with a
400 and an unknown key with the handler's own typed error; the admin status shows the
consumer; a malformed event is dead-lettered; a restart applies nothing twice."""

import tempfile
import unittest
from pathlib import Path

import fixtures  # noqa: F401  (quiets the kit's log)
from mandate_kit import Component, Emit, ServiceError
from mandate_kit.reactions import derived_event_id
from mandate_kit.testing import Bus, CallFailed, NatsServer, running

component = Component(
    "kit-tally",
    tables="CREATE TABLE IF NOT EXISTS tally (key TEXT PRIMARY KEY, count INTEGER NOT NULL);",
    state_tables=["tally"],
    publishes=["kit-tally.counted.v1"],
)


@component.on("orders.placed.v1")
def on_placed(tx, order):
    tx.execute(
        "INSERT INTO tally (key, count) VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET count = count + 1",
        (order["customer_id"],),
    )
    return [Emit("kit-tally.counted.v1", {"key": order["customer_id"]})]


@component.serves(
    "count.v1",
    request={"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]},
)
def count(db, request):
    row = db.execute("SELECT count FROM tally WHERE key = ?", (request["key"],)).fetchone()
    if row is None:
        raise ServiceError(404, f"nothing counted under {request['key']}")
    return {"key": request["key"], "count": row[0]}


def placed(customer: str, order: str) -> dict:
    return {"order_id": order, "customer_id": customer, "lines": [], "total_minor": 0, "currency": "EUR"}


class Runs(unittest.IsolatedAsyncioTestCase):
    async def test_events_are_applied_once_and_the_operation_answers(self):
        with tempfile.TemporaryDirectory() as data:
            async with NatsServer() as server:
                async with Bus(server) as bus:
                    counted = await bus.nc.subscribe("evt.kit-tally.>")
                    async with running(component, server, Path(data)):
                        first = await bus.publish("orders.placed.v1", placed("alice", "o-1"))
                        await bus.publish("orders.placed.v1", placed("alice", "o-2"))
                        await bus.nc.publish("evt.orders.placed.v1", b"\xc1")  # no envelope, not MessagePack
                        reply = await bus.eventually(lambda: self.count(bus, "alice", 2))
                        self.assertEqual(reply, {"key": "alice", "count": 2})
                        reaction = await counted.next_msg(timeout=5)
                        self.assertEqual(reaction.headers["ce-id"], derived_event_id("kit-tally", first, 0))
                        with self.assertRaises(CallFailed) as missing:
                            await bus.call("kit-tally.count.v1", {"key": "bob"})
                        self.assertEqual(missing.exception.code, 404)
                        with self.assertRaises(CallFailed) as malformed:
                            await bus.call("kit-tally.count.v1", {"key": 7})
                        self.assertEqual(malformed.exception.code, 400)
                        status = await bus.status("kit-tally")
                        self.assertEqual(status["serves"], ["kit-tally.count.v1"])
                        [consumer] = status["consumers"]
                        self.assertEqual((consumer["stream"], consumer["consumer"]), ("EVT_ORDERS", "kit-tally"))
                        lettered = await bus.eventually(lambda: self.dead_letters(bus))
                        self.assertEqual(lettered, 1, "the malformed event is dead-lettered")
                    # A restart: re-seated past the watermark, nothing applied twice.
                    async with running(component, server, Path(data)):
                        await bus.publish("orders.placed.v1", placed("alice", "o-3"))
                        self.assertTrue(await bus.eventually(lambda: self.applied(bus, 4)), "applied up to o-3")
                        reply = await bus.call("kit-tally.count.v1", {"key": "alice"})
                        self.assertEqual(reply, {"key": "alice", "count": 3})

    async def test_a_delivery_lost_on_the_way_is_delivered_again_before_anything_behind_it(self):
        # Lost in flight (a dropped connection, a cluster node gone with the consumer's
        # leader): applying what follows would acknowledge it unseen, for good.
        async with NatsServer() as server:
            async with Bus(server) as bus:
                async with running(component, server, lose_first_delivery=True):
                    for order in ("o-1", "o-2", "o-3"):
                        await bus.publish("orders.placed.v1", placed("carol", order))
                    self.assertTrue(await bus.eventually(lambda: self.applied(bus, 3)), "applied up to o-3")
                    reply = await bus.call("kit-tally.count.v1", {"key": "carol"})
                    self.assertEqual(reply, {"key": "carol", "count": 3}, "the lost one counted too")

    async def applied(self, bus, sequence):
        [consumer] = (await bus.status("kit-tally"))["consumers"]
        return consumer["applied_sequence"] >= sequence

    async def dead_letters(self, bus):
        return (await bus.status("kit-tally"))["dead_letters"]

    async def count(self, bus, key, want):
        try:
            reply = await bus.call("kit-tally.count.v1", {"key": key})
        except CallFailed:
            return None
        return reply if reply["count"] >= want else None


if __name__ == "__main__":
    unittest.main()
