"""The consumer sequence of each delivery must follow the last (`mandate_kit.deliveries`)."""

import unittest
from types import SimpleNamespace

import fixtures  # noqa: F401  (quiets the kit's log)
from mandate_kit.deliveries import Deliveries


def delivery(consumer_sequence: int):
    return SimpleNamespace(metadata=SimpleNamespace(sequence=SimpleNamespace(consumer=consumer_sequence)))


class Whole(unittest.TestCase):
    def test_deliveries_that_follow_are_kept(self):
        deliveries = Deliveries(4)
        batch = [delivery(5), delivery(6)]
        self.assertEqual(deliveries.whole(batch), batch)
        self.assertIsNone(deliveries.broken)

    def test_nothing_after_a_gap_is_kept(self):
        deliveries = Deliveries(0)
        batch = [delivery(1), delivery(3), delivery(4)]
        self.assertEqual(deliveries.whole(batch), batch[:1])
        self.assertIn("delivery 3 came where 2 was due", deliveries.broken)

    def test_a_consumer_sequence_that_goes_back_breaks_the_order_too(self):
        deliveries = Deliveries(10)
        self.assertEqual(deliveries.whole([delivery(7)]), [])
        self.assertIn("went back", deliveries.broken)


if __name__ == "__main__":
    unittest.main()
