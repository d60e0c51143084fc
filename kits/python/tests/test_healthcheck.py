"""`python -m mandate_kit.healthcheck NAME`: healthy while the component answers its own
service's ping, not once it has stopped — against a real nats-server."""

from __future__ import annotations

import os
import unittest
from unittest import mock

import fixtures  # noqa: F401  (quiets the kit's log)
from mandate_kit import Component
from mandate_kit.healthcheck import check
from mandate_kit.testing import NatsServer, running

component = Component("kit-health", tables="", state_tables=[], publishes=[])


class Healthcheck(unittest.IsolatedAsyncioTestCase):
    async def test_healthy_while_it_answers_and_not_once_it_stopped(self):
        async with NatsServer() as server:
            with mock.patch.dict(os.environ, {"NATS_URL": server.url}):
                async with running(component, server):
                    self.assertIsNone(await check("kit-health"))
                failure = await check("kit-health")
                self.assertIsNotNone(failure)
                self.assertIn("does not answer $SRV.PING.kit-health", failure)


if __name__ == "__main__":
    unittest.main()
