"""`python -m mandate_kit.healthcheck NAME`, against a real nats-server: with the component's
listener on (`MANDATE_METRICS`) it asks `/readyz`, as the Rust kit's `--healthcheck` does —
healthy while ready, not while a consumer waits for its stream nor once it has stopped;
without it, it pings the component's own service."""

from __future__ import annotations

import asyncio
import os
import unittest
from unittest import mock

import fixtures  # noqa: F401  (quiets the kit's log)
from test_metrics import free_port, placed, waiting
from mandate_kit import Component
from mandate_kit.healthcheck import answers_ping, check
from mandate_kit.testing import Bus, NatsServer, running

component = Component("kit-health", tables="", state_tables=[], publishes=[])


class Healthcheck(unittest.IsolatedAsyncioTestCase):
    async def test_without_a_listener_healthy_while_it_answers_its_ping_and_not_once_it_stopped(self):
        async with NatsServer() as server:
            with mock.patch.dict(os.environ, {"NATS_URL": server.url}):
                async with running(component, server):
                    self.assertIsNone(await answers_ping("kit-health"))
                failure = await answers_ping("kit-health")
                self.assertIsNotNone(failure)
                self.assertIn("does not answer $SRV.PING.kit-health", failure)

    async def test_with_its_listener_on_it_asks_readyz(self):
        port = free_port()
        # Asked on the loopback, as a container's healthcheck asks 0.0.0.0.
        env = {"MANDATE_METRICS": f"0.0.0.0:{port}"}
        # From a thread: the listener answers from the component's loop, which is this test's.
        asked = lambda: asyncio.to_thread(check, "kit-waiting", env)  # noqa: E731
        async with NatsServer() as server, Bus(server) as bus:
            async with running(waiting, server, metrics=("127.0.0.1", port)):
                failure = await asked()
                self.assertIn(f"not ready (HTTP 503 from http://127.0.0.1:{port}/readyz)", failure)
                self.assertIn("consumer kit-waiting on EVT_PAYMENTS is not seated", failure)
                await bus.publish("payments.refunded.v1", {**placed("ada", "o-1"), "payment_id": "p-1", "amount_minor": 1})
                self.assertTrue(await bus.eventually(lambda: self.healthy(asked), timeout=15), "healthy once seated")
            failure = await asked()
            self.assertIn(f"cannot ask http://127.0.0.1:{port}/readyz", failure)
        self.assertIn("write IP:PORT", check("kit-waiting", {"MANDATE_METRICS": "localhost:1"}))

    async def healthy(self, asked) -> bool:
        return await asked() is None


if __name__ == "__main__":
    unittest.main()
