"""The metrics listener (`MANDATE_METRICS`) of a component on the kit, against a real
nats-server and over real HTTP: the series move when events are applied and requests served,
with the Rust kit's names and labels; `/readyz` answers 503 with every reason and then 200;
a bad address is refused at start (exit 2), a taken port too (exit 1)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import tempfile
import unittest
import urllib.error
import urllib.request

import fixtures  # noqa: F401  (quiets the kit's log)
from prometheus_client.parser import text_string_to_metric_families

from mandate_kit import Component, Emit, ServiceError, runtime
from mandate_kit.config import Config
from mandate_kit.metrics import DEAD_LETTER_REASONS
from mandate_kit.testing import Bus, CallFailed, NatsServer, running

NAME = "kit-metrics"
component = Component(
    NAME,
    tables="CREATE TABLE IF NOT EXISTS tally (key TEXT PRIMARY KEY, count INTEGER NOT NULL);",
    state_tables=["tally"],
    publishes=[f"{NAME}.counted.v1"],
)


@component.on("orders.placed.v1")
def on_placed(tx, order):
    tx.execute(
        "INSERT INTO tally (key, count) VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET count = count + 1",
        (order["customer_id"],),
    )
    return [Emit(f"{NAME}.counted.v1", {"key": order["customer_id"]})]


@component.serves(
    "count.v1",
    request={"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]},
)
def count(db, request):
    row = db.execute("SELECT count FROM tally WHERE key = ?", (request["key"],)).fetchone()
    if row is None:
        raise ServiceError(404, f"nothing counted under {request['key']}")
    return {"key": request["key"], "count": row[0]}


# A component whose source stream nobody has created yet: its consumer is not seated.
waiting = Component("kit-waiting", tables="", state_tables=[], publishes=[])
waiting.on("payments.refunded.v1")(lambda tx, body: None)

CONSUMER = {"component": NAME, "stream": "EVT_ORDERS", "consumer": NAME}
ENDPOINT = {"component": NAME, "endpoint": f"{NAME}.count.v1"}


def placed(customer: str, order: str) -> dict:
    return {"order_id": order, "customer_id": customer, "lines": [], "total_minor": 0, "currency": "EUR"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def get(port: int, path: str, accept: str = "") -> tuple[int, str, str]:
    """Status, content type and body of `GET path` — from a thread: the listener answers from
    the component's loop, which is this test's."""

    def ask() -> tuple[int, str, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Accept": accept} if accept else {})
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status, answer.headers["Content-Type"], answer.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.headers["Content-Type"], err.read().decode()

    return await asyncio.to_thread(ask)


async def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    """Every sample of `/metrics`: (name, labels) → value."""
    status, _, text = await get(port, "/metrics")
    assert status == 200, text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str):
    return samples.get((name, frozenset(labels.items())))


class Metrics(unittest.IsolatedAsyncioTestCase):
    async def test_the_series_move_when_events_are_applied_and_requests_are_served(self):
        port = free_port()
        async with NatsServer() as server, Bus(server) as bus:
            await bus.publish("orders.placed.v1", placed("ada", "o-0"))  # the stream exists
            async with running(component, server, metrics=("127.0.0.1", port)):
                # Before anything: every dead-letter reason present at 0, the process's figures
                # labelled with the component too.
                before = await bus.eventually(lambda: self.applied(port, 1))
                for reason in DEAD_LETTER_REASONS:
                    self.assertEqual(
                        value(before, "mandate_consumer_dead_letters_total", **CONSUMER, reason=reason), 0, reason
                    )
                self.assertGreater(value(before, "process_resident_memory_bytes", component=NAME), 0)
                self.assertIsNotNone(value(before, "process_cpu_seconds_total", component=NAME))

                await bus.publish("orders.placed.v1", placed("ada", "o-1"))
                await bus.nc.publish("evt.orders.placed.v1", b"\xc1")  # no envelope, not MessagePack
                after = await bus.eventually(lambda: self.applied(port, 3))
                self.assertEqual(value(after, "mandate_consumer_applied_events_total", **CONSUMER), 3)
                self.assertGreaterEqual(value(after, "mandate_consumer_batches_total", **CONSUMER), 1)
                self.assertEqual(value(after, "mandate_consumer_applied_sequence", **CONSUMER), 3)
                self.assertEqual(value(after, "mandate_consumer_seated", **CONSUMER), 1)
                self.assertEqual(value(after, "mandate_consumer_pending", **CONSUMER), 0)
                self.assertEqual(value(after, "mandate_consumer_redeliveries_total", **CONSUMER), 0)
                self.assertEqual(value(after, "mandate_consumer_reseats_total", **CONSUMER), 0)
                self.assertEqual(
                    value(after, "mandate_consumer_dead_letters_total", **CONSUMER, reason="missing-header"), 1
                )
                self.assertEqual(value(after, "mandate_consumer_handler_seconds_count", **CONSUMER), 2)
                self.assertGreaterEqual(value(after, "mandate_consumer_commit_seconds_count", **CONSUMER), 1)
                self.assertEqual(value(after, "mandate_connected", component=NAME), 1)
                self.assertEqual(value(after, "mandate_rebuilding", component=NAME), 0)
                self.assertEqual(value(after, "mandate_outbox_set_aside_entries", component=NAME), 0)
                self.assertIsNotNone(value(after, "mandate_outbox_depth", component=NAME))
                self.assertIsNotNone(value(after, "mandate_outbox_oldest_entry_age_seconds", component=NAME))

                await bus.call(f"{NAME}.count.v1", {"key": "ada"})
                for bad, code in (({"key": "bob"}, 404), ({"key": 7}, 400)):
                    with self.assertRaises(CallFailed) as refused:
                        await bus.call(f"{NAME}.count.v1", bad)
                    self.assertEqual(refused.exception.code, code)
                served = await scrape(port)
                self.assertEqual(value(served, "mandate_service_requests_total", **ENDPOINT), 3)
                self.assertEqual(value(served, "mandate_service_errors_total", **ENDPOINT, code="404"), 1)
                self.assertEqual(value(served, "mandate_service_errors_total", **ENDPOINT, code="400"), 1)
                self.assertEqual(value(served, "mandate_service_request_seconds_count", **ENDPOINT), 3)
                self.assertEqual(value(served, "mandate_service_request_seconds_bucket", **ENDPOINT, le="+Inf"), 3)

                # Prometheus asks for OpenMetrics, and gets it.
                status, kind, text = await get(port, "/metrics", accept="application/openmetrics-text; version=1.0.0")
                self.assertEqual(status, 200)
                self.assertIn("application/openmetrics-text", kind)
                self.assertIn("# UNIT mandate_consumer_handler_seconds seconds", text)
                self.assertNotIn("_created", text, "no _created series, as the Rust kit")

    async def applied(self, port: int, sequence: int):
        samples = await scrape(port)
        applied = value(samples, "mandate_consumer_applied_sequence", **CONSUMER)
        return samples if applied is not None and applied >= sequence else None

    async def test_readyz_says_every_reason_it_is_not_ready_then_200(self):
        port = free_port()
        async with NatsServer() as server, Bus(server) as bus:
            async with running(waiting, server, metrics=("127.0.0.1", port)):
                self.assertEqual(await get(port, "/livez"), (200, "application/json", '{"alive": true}'))
                status, kind, body = await get(port, "/readyz")
                self.assertEqual((status, kind), (503, "application/json"), body)
                self.assertEqual(
                    json.loads(body),
                    {
                        "ready": False,
                        "not_ready": [
                            "consumer kit-waiting on EVT_PAYMENTS is not seated "
                            "(waiting for its stream, or seating again after a lost delivery)"
                        ],
                    },
                )
                # Its stream appears: the consumer seats itself, and the component is ready.
                await bus.publish("payments.refunded.v1", {"payment_id": "p-1", "order_id": "o-1", "customer_id": "ada", "amount_minor": 1, "currency": "EUR"})
                ready = await bus.eventually(lambda: self.ready(port), timeout=15)
                self.assertEqual(ready, (200, {"ready": True}))
                self.assertEqual((await get(port, "/nope"))[0], 404)

    async def test_a_wedged_outbox_makes_it_not_ready_until_it_drains(self):
        port = free_port()
        async with NatsServer() as server, Bus(server) as bus:
            await bus.publish("orders.placed.v1", placed("ada", "o-0"))
            async with running(component, server, metrics=("127.0.0.1", port), outbox_wedged_after_seconds=1.0):
                self.assertEqual(await bus.eventually(lambda: self.ready(port)), (200, {"ready": True}))
                # Its own stream gone: what it decides cannot be published, and waits.
                js = bus.nc.jetstream()
                await js.delete_stream(f"EVT_{NAME.upper()}")
                await bus.publish("orders.placed.v1", placed("ada", "o-1"))
                wedged = await bus.eventually(lambda: self.not_ready_because(port, "outbox wedged"), timeout=15)
                self.assertTrue(wedged, "503: outbox wedged")
                samples = await scrape(port)
                self.assertGreater(value(samples, "mandate_outbox_oldest_entry_age_seconds", component=NAME), 1)
                self.assertGreaterEqual(value(samples, "mandate_outbox_depth", component=NAME), 1)
                # The stream back: the relay publishes, the head moves, ready again.
                await js.add_stream(name=f"EVT_{NAME.upper()}", subjects=[f"evt.{NAME}.>"])
                self.assertEqual(await bus.eventually(lambda: self.ready(port), timeout=15), (200, {"ready": True}))

    async def ready(self, port: int):
        status, _, body = await get(port, "/readyz")
        return (status, json.loads(body)) if status == 200 else None

    async def not_ready_because(self, port: int, reason: str) -> bool:
        status, _, body = await get(port, "/readyz")
        return status == 503 and any(why.startswith(reason) for why in json.loads(body)["not_ready"])


class Address(unittest.IsolatedAsyncioTestCase):
    def test_a_value_that_is_not_an_address_is_refused_at_start_with_what_to_write(self):
        # `main` sets up the process's logging: put it back for the tests that follow.
        handlers, level = logging.root.handlers[:], logging.root.level
        self.addCleanup(lambda: (setattr(logging.root, "handlers", handlers), logging.root.setLevel(level)))
        for bad in ("localhost:9464", "9464", "http://127.0.0.1:9464", "127.0.0.1", "127.0.0.1:99999", "[1.2.3.4]:1"):
            with self.subTest(bad=bad), self.assertRaises(SystemExit) as exited:
                with self.assertLogs("mandate_kit", "ERROR") as logged:
                    component.main({"MANDATE_METRICS": bad})
            self.assertEqual(exited.exception.code, 2)
            self.assertIn("write IP:PORT, e.g. 127.0.0.1:9464", logged.output[0])
        for good, parsed in (("127.0.0.1:9464", ("127.0.0.1", 9464)), ("[::1]:0", ("::1", 0))):
            self.assertEqual(Config.from_env(NAME, {"MANDATE_METRICS": good}).metrics, parsed)
        self.assertIsNone(Config.from_env(NAME, {}).metrics, "off by default")

    async def test_a_port_already_taken_stops_the_start_saying_so(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            async with NatsServer() as server:
                with tempfile.TemporaryDirectory() as data:
                    env = {"NATS_URL": server.url, "MANDATE_DATA_DIR": data, "MANDATE_METRICS": f"127.0.0.1:{port}"}
                    config = Config.from_env(NAME, env)
                    with self.assertLogs("mandate_kit", "ERROR") as logged:
                        code = await runtime.run(component, config, asyncio.Event())
        self.assertEqual(code, 1)
        self.assertIn(f"cannot listen for metrics on 127.0.0.1:{port}", logged.output[0])
        self.assertIn("change MANDATE_METRICS", logged.output[0])


if __name__ == "__main__":
    unittest.main()
