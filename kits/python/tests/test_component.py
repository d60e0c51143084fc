"""A component's declaration: names as the Rust kit derives them, what it may not declare,
and the manifest it implies."""

import unittest

from mandate_kit import Component
from mandate_kit.component import stream_of


def noop(tx, body):
    return []


class Declaration(unittest.TestCase):
    def test_streams_are_named_as_the_rust_kit_names_them(self):
        self.assertEqual(stream_of("orders"), "EVT_ORDERS")
        self.assertEqual(stream_of("order-history"), "EVT_ORDER-HISTORY")

    def test_the_manifest_groups_subscriptions_by_stream(self):
        component = Component("order-count", description="counts", publishes=["order-count.counted.v1"])
        component.on("orders.placed.v1")(noop)
        component.on("orders.cancelled.v1")(noop)
        component.on("catalog.product-upserted.v1")(noop)
        component.serves("count.v1")(noop)
        self.assertEqual(
            component.manifest(),
            {
                "name": "order-count",
                "version": "0.1.0",
                "description": "counts",
                "publishes": ["order-count.counted.v1"],
                "subscribes": {
                    "EVT_CATALOG": ["catalog.product-upserted.v1"],
                    "EVT_ORDERS": ["orders.cancelled.v1", "orders.placed.v1"],
                },
                "serves": ["order-count.count.v1"],
                "start": {"command": ["./run"]},
                "metrics": True,
            },
        )

    def test_what_a_component_may_not_declare_is_refused_at_once(self):
        with self.assertRaises(ValueError):
            Component("Bad_Name")
        with self.assertRaises(ValueError):
            Component("points", publishes=["orders.placed.v1"])
        component = Component("points")
        component.on("orders.placed.v1")(noop)
        for refused in (
            lambda: component.on("orders.placed.v1")(noop),
            lambda: component.on("orders.placed")(noop),
            lambda: component.serves("orders.get.v1")(noop),
            lambda: component.serves("admin.v1")(noop),
            lambda: component.serves("count")(noop),
        ):
            with self.assertRaises(ValueError):
                refused()


if __name__ == "__main__":
    unittest.main()
