"""Readiness as the Rust kit words it (`observed.readiness`): every reason listed, none when
ready; and the outbox head's age, measured by watching the head."""

import unittest

from mandate_kit.observed import ConsumerState, OldestEntry, Snapshot, readiness

READY = Snapshot(
    connected=True,
    rebuilding=False,
    consumers=(ConsumerState("EVT_ORDERS", "tally", 3, 0, True),),
    outbox_depth=0,
    oldest_age_seconds=0.0,
    set_aside=0,
)


class Readiness(unittest.TestCase):
    def test_ready_when_there_is_no_reason_not_to_be(self):
        self.assertEqual(readiness(READY, 60.0), [])

    def test_every_reason_is_listed(self):
        snapshot = Snapshot(
            connected=False,
            rebuilding=True,
            consumers=(ConsumerState("EVT_ORDERS", "tally", 3, 9, False), ConsumerState("EVT_X", "tally", 0, 0, True)),
            outbox_depth=4,
            oldest_age_seconds=61.5,
            set_aside=0,
        )
        self.assertEqual(
            readiness(snapshot, 60.0),
            [
                "not connected to NATS",
                "consumer tally on EVT_ORDERS is not seated (waiting for its stream, or seating again after a lost delivery)",
                "rebuilding its state from the streams",
                "outbox wedged: its oldest entry has waited 61s to be published (more than 60s); 4 entries waiting",
            ],
        )

    def test_the_heads_age_is_the_time_since_it_was_first_seen_at_the_head(self):
        oldest = OldestEntry()
        self.assertEqual(oldest.age(None, now=0.0), 0.0)
        self.assertEqual(oldest.age(7, now=10.0), 0.0)
        self.assertEqual(oldest.age(7, now=12.5), 2.5)
        self.assertEqual(oldest.age(8, now=13.0), 0.0, "a new head starts again")
        self.assertEqual(oldest.age(None, now=14.0), 0.0)


if __name__ == "__main__":
    unittest.main()
